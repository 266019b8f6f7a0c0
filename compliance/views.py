"""Compliance pages: the suspension review queue, appeals, reinstatement and revocation."""

from __future__ import annotations

import io
import json
import re

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from compliance import exports, jobs, notices, reports, services
from compliance.csvexport import csv_filename, stream_csv
from compliance.forms import (
    CaseDecisionForm,
    CaseForm,
    NoticeSendAgainForm,
    ReasonForm,
    ReportForm,
    ReviewForm,
    VerifyForm,
)
from compliance.models import Notice, Report, SellerCase, SuspensionReview
from core import audit, dashboard
from core.clock import utcnow
from core.db import db, write_intent
from core.errors import ServiceError
from core.forms import flash_form_errors, show_service_error
from core.pagination import paginate
from core.roles import Role, roles_required, writes
from qc import decision_service as decisions
from qc import services as qc_services
from vetting.models import Seller

bp = Blueprint("compliance", __name__, url_prefix="/compliance")
Page = str | Response | tuple[str, int]


@bp.route("/reviews")
@roles_required(Role.COMPLIANCE)
def reviews() -> str:
    return render_template("compliance/reviews.html", page=paginate(services.pending_reviews()),
                           now=utcnow())


def seller_evidence(seller: Seller) -> dict[str, object]:
    """What a reviewer needs to see about a seller's statistics and inspections."""
    return {"orders": qc_services.seller_orders(seller, limit=30),
            "verdicts": qc_services.seller_verdicts(seller),
            **decisions.seller_summary(seller)}


@bp.route("/reviews/<int:review_id>", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE)
def review_detail(review_id: int) -> Page:
    review = db.session.get(SuspensionReview, review_id) or abort(404)
    form = ReviewForm(version=review.version)
    if form.validate_on_submit():
        try:
            if form.decision.data == "confirm":
                services.confirm_suspension(review, form.reason.data or "", current_user,
                                            form.version.data)
            else:
                services.overturn_suspension(review, form.reason.data or "", current_user,
                                             form.version.data)
        except ServiceError as exc:
            db.session.rollback()
            show_service_error(form, exc)
        else:
            db.session.commit()
            flash(f"Suspension of {review.seller.display_name} {review.status}.", "success")
            return redirect(url_for("compliance.seller_file", seller_id=review.seller_id))
    elif form.is_submitted():
        flash_form_errors(form)
    snapshot = json.loads(review.label_event.snapshot or "{}")
    page = render_template("compliance/review_detail.html", review=review, form=form,
                           seller=review.seller, snapshot=snapshot,
                           **seller_evidence(review.seller))
    return (page, 400) if form.is_submitted() else page


@bp.route("/sellers/<int:seller_id>")
@roles_required(Role.COMPLIANCE)
def seller_file(seller_id: int) -> str:
    seller = db.session.get(Seller, seller_id) or abort(404)
    return _render_file(seller)


def _render_file(seller: Seller, **forms: object) -> str:
    return render_template(
        "compliance/seller_file.html", seller=seller, cases=services.seller_cases(seller),
        reviews=services.seller_reviews(seller), notices=notices.seller_notices(seller),
        case_form=forms.get("case_form") or CaseForm(received_on=utcnow().date()),
        reason_form=forms.get("reason_form") or ReasonForm(),
        decision_form_for=lambda case: CaseDecisionForm(prefix=f"case{case.id}",
                                                        version=case.version),
        **seller_evidence(seller))


@bp.route("/sellers/<int:seller_id>/cases", methods=["POST"])
@roles_required(Role.COMPLIANCE)
def case_new(seller_id: int) -> Page:
    seller = db.session.get(Seller, seller_id) or abort(404)
    form = CaseForm()
    if form.validate_on_submit():
        try:
            services.record_case(seller, form.kind.data, form.summary.data,
                                 form.received_on.data, current_user)
        except ServiceError as exc:
            db.session.rollback()
            show_service_error(form, exc)
        else:
            db.session.commit()
            flash("Recorded.", "success")
            return redirect(url_for("compliance.seller_file", seller_id=seller.id))
    return _render_file(seller, case_form=form), 400


@bp.route("/cases/<int:case_id>", methods=["POST"])
@roles_required(Role.COMPLIANCE)
def case_decide(case_id: int) -> Response:
    case = db.session.get(SellerCase, case_id) or abort(404)
    form = CaseDecisionForm(prefix=f"case{case.id}")
    if form.validate_on_submit():
        try:
            services.decide_case(case, form.decision.data == "accept", form.reason.data or "",
                                 current_user, form.version.data)
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(f"The {services.CASE_KINDS[case.kind]} was {case.status}.", "success")
    else:
        flash("Choose accept or reject.", "danger")
    return redirect(url_for("compliance.seller_file", seller_id=case.seller_id))


def _label_action(seller_id: int, action, done: str) -> Page:  # type: ignore[no-untyped-def]
    seller = db.session.get(Seller, seller_id) or abort(404)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            action(seller, form.reason.data or "", current_user)
        except ServiceError as exc:
            db.session.rollback()
            show_service_error(form, exc)
        else:
            db.session.commit()
            flash(f"{seller.display_name} {done}.", "success")
            return redirect(url_for("compliance.seller_file", seller_id=seller.id))
    return _render_file(seller, reason_form=form), 400


@bp.route("/sellers/<int:seller_id>/reinstate", methods=["POST"])
@roles_required(Role.COMPLIANCE)
def reinstate(seller_id: int) -> Page:
    return _label_action(seller_id, services.reinstate, "is reinstated on probation")


@bp.route("/sellers/<int:seller_id>/revoke", methods=["POST"])
@roles_required(Role.COMPLIANCE)
def revoke(seller_id: int) -> Page:
    return _label_action(seller_id, services.revoke, "has had the label revoked")


def register_panels(app: Flask) -> None:
    """The compliance panel of the home dashboard."""
    dashboard.register_panel(app, dashboard.Panel(
        "Suspensions to review", frozenset({Role.COMPLIANCE}), "compliance/_panel_reviews.html",
        lambda: {"page": db.paginate(services.pending_reviews(), page=1, per_page=5,
                                     error_out=False), "now": utcnow()}))


# ---------------------------------------------------------------- reports


@bp.route("/reports", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE, Role.ADMIN)
def reports_page() -> Page:
    today = utcnow().date()
    form = ReportForm(date_from=today.replace(day=1), date_to=today)
    if form.validate_on_submit():
        seller = (db.session.get(Seller, form.seller_id.data)
                  if form.seller_id.data is not None else None)
        try:
            if form.kind.data == "dossier" and form.seller_id.data is not None and seller is None:
                raise ServiceError(f"There is no seller number {form.seller_id.data}.",
                                   "seller_id")
            report = reports.request_report(form.kind.data, seller, form.date_from.data,
                                            form.date_to.data, current_user)
            db.session.commit()
            if report.status == "queued" and reports.renders_in_request(report):
                jobs.render_now(report)
                db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            show_service_error(form, exc)
        else:
            return redirect(url_for("compliance.report_detail", document_id=report.document_id))
    page = render_template("compliance/reports.html", form=form,
                           page=paginate(reports.recent_reports()), kinds=reports.KINDS,
                           verify_form=VerifyForm())
    return (page, 400) if form.is_submitted() else page


@bp.route("/reports/<document_id>")
@roles_required(Role.COMPLIANCE, Role.ADMIN)
def report_detail(document_id: str) -> str:
    report = _report(document_id)
    return render_template("compliance/report_detail.html", report=report, kinds=reports.KINDS)


DOCUMENT_ID = re.compile(r"[0-9A-Za-z]{1,32}")


def _report(document_id: str) -> Report:
    if not DOCUMENT_ID.fullmatch(document_id):  # e.g. a NUL byte, which PostgreSQL refuses
        abort(404)
    return db.session.execute(db.select(Report).where(
        Report.document_id == document_id)).scalar_one_or_none() or abort(404)


@bp.route("/reports/<document_id>/download")
@roles_required(Role.COMPLIANCE, Role.ADMIN)
@writes
def report_download(document_id: str) -> Response:
    report = _report(document_id)
    path = reports.report_path(report)
    if report.status != "done" or not path.is_file():
        abort(404)
    reports.record_download(report, current_user)
    db.session.commit()
    name = f"labelkeeper-{report.kind}-{report.document_id}.pdf"
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=name, etag=report.sha256)


@bp.route("/verify", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE, Role.ADMIN)
def verify() -> Page:
    form = VerifyForm()
    result = None
    if form.validate_on_submit():
        try:
            result = reports.verify_upload(form.file.data.read(), current_user)
        except ServiceError as exc:
            db.session.rollback()
            show_service_error(form, exc)
        else:
            db.session.commit()
    page = render_template("compliance/verify.html", form=form, result=result,
                           kinds=reports.KINDS)
    return (page, 400) if form.is_submitted() and result is None else page


@bp.route("/exports/<kind>.csv")
@roles_required(Role.COMPLIANCE, Role.ADMIN)
@writes
def export(kind: str) -> Response:
    filters = request.args.to_dict()
    try:
        data = exports.build_export(kind, filters)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("compliance.reports_page"))
    audit.record("export.downloaded", "export", kind, {"filters": filters}, current_user)
    db.session.commit()
    write_intent.set(False)  # stream in a read transaction: no write lock while it downloads
    name = csv_filename(kind, utcnow(), **{k: filters[k] for k in sorted(exports.FILTER_KEYS)
                                           if k in filters})
    return Response(stream_with_context(
        chunk.encode("utf-8") for chunk in stream_csv(data.header, data.rows)),
        mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------- seller notices


@bp.route("/notices")
@roles_required(Role.COMPLIANCE)
def notices_outbox() -> str:
    status = request.args.get("status") or None
    return render_template("compliance/notices.html", page=paginate(notices.outbox_query(status)),
                           status=status, counts=notices.status_counts(),
                           statuses=notices.STATUSES, form=NoticeSendAgainForm())


@bp.route("/notices/<int:notice_id>")
@roles_required(Role.COMPLIANCE)
def notice_detail(notice_id: int) -> str:
    notice = db.session.get(Notice, notice_id) or abort(404)
    return render_template("compliance/notice_detail.html", notice=notice,
                           form=NoticeSendAgainForm())


@bp.route("/notices/<int:notice_id>/pdf")
@roles_required(Role.COMPLIANCE)
@writes
def notice_pdf(notice_id: int) -> Response:
    notice = db.session.get(Notice, notice_id) or abort(404)
    if notice.pdf is None:  # not sent yet: lay it out now, with no write lock held meanwhile
        html = notice.document_html
        db.session.commit()
        notices.store_pdf(notice, notices.render_notice_pdf(html))
    data = notices.ensure_pdf(notice)
    notices.record_download(notice, current_user)
    db.session.commit()
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=notices.pdf_name(notice), etag=notice.pdf_sha256)


@bp.route("/notices/<int:notice_id>/send-again", methods=["POST"])
@roles_required(Role.COMPLIANCE)
def notice_send_again(notice_id: int) -> Response:
    notice = db.session.get(Notice, notice_id) or abort(404)
    if NoticeSendAgainForm().validate_on_submit():
        try:
            notices.send_again(notice, current_user)
        except ServiceError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(f"Notice {notice.reference} to {notice.recipient} is queued again.", "success")
    back = "compliance.notice_detail" if request.form.get("next") == "detail" else None
    return redirect(url_for(back, notice_id=notice_id) if back
                    else url_for("compliance.notices_outbox"))
