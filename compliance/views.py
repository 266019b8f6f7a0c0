"""Compliance pages: the suspension review queue, appeals, reinstatement and revocation,
reports and exports, seller notices, and the pool of buyer identities."""

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
from compliance.cases import CASE_KINDS
from compliance.csvexport import csv_filename, stream_csv
from compliance.forms import (
    NO_SELLER,
    BuyerIdentityEditForm,
    BuyerIdentityForm,
    BuyerRetireForm,
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
from core.edges import flash_form_errors, run_service
from core.errors import ServiceError
from core.pagination import paginate
from core.roles import Role, roles_required, writes
from qc.models import BuyerIdentity
from qc.services import buyers as buyer_service
from qc.services import label_decisions, orders
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
    return {"orders": orders.seller_orders(seller, limit=30),
            "verdicts": orders.seller_verdicts(seller),
            **label_decisions.seller_summary(seller)}


@bp.route("/reviews/<int:review_id>", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE)
def review_detail(review_id: int) -> Page:
    review = db.get_or_404(SuspensionReview, review_id)
    form = ReviewForm(version=review.version)
    if form.validate_on_submit():
        decide = (services.confirm_suspension if form.decision.data == "confirm"
                  else services.overturn_suspension)
        done = run_service(
            lambda: decide(review, form.reason.data or "", current_user, form.version.data),
            form=form,
            success=lambda _: f"Suspension of {review.seller.display_name} {review.status}.",
            redirect_to=url_for("compliance.seller_file", seller_id=review.seller_id))
        if done:
            return done
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
    seller = db.get_or_404(Seller, seller_id)
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
    seller = db.get_or_404(Seller, seller_id)
    form = CaseForm()
    if form.validate_on_submit():
        done = run_service(lambda: services.record_case(
            seller, form.kind.data, form.summary.data, form.received_on.data, current_user),
            form=form, success="Recorded.",
            redirect_to=url_for("compliance.seller_file", seller_id=seller.id))
        if done:
            return done
    return _render_file(seller, case_form=form), 400


@bp.route("/cases/<int:case_id>", methods=["POST"])
@roles_required(Role.COMPLIANCE)
def case_decide(case_id: int) -> Response:
    case = db.get_or_404(SellerCase, case_id)
    form = CaseDecisionForm(prefix=f"case{case.id}")
    if form.validate_on_submit():
        run_service(lambda: services.decide_case(
            case, form.decision.data == "accept", form.reason.data or "", current_user,
            form.version.data),
            success=lambda _: f"The {CASE_KINDS[case.kind]} was {case.status}.")
    else:
        flash("Choose accept or reject.", "danger")
    return redirect(url_for("compliance.seller_file", seller_id=case.seller_id))


def _label_action(seller_id: int, action, outcome: str) -> Page:  # type: ignore[no-untyped-def]
    seller = db.get_or_404(Seller, seller_id)
    form = ReasonForm()
    if form.validate_on_submit():
        done = run_service(lambda: action(seller, form.reason.data or "", current_user),
                           form=form, success=lambda _: f"{seller.display_name} {outcome}.",
                           redirect_to=url_for("compliance.seller_file", seller_id=seller.id))
        if done:
            return done
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
    kind = request.args.get("kind", "")
    form = ReportForm(date_from=today.replace(day=1), date_to=today,
                      kind=kind if kind in reports.KINDS else None,
                      seller_id=request.args.get("seller_id", type=int))
    if form.validate_on_submit():
        report = run_service(lambda: _request_report(form), form=form)
        if report is not None:
            if report.status == "queued" and reports.renders_in_request(report):
                jobs.render_now(report)
                db.session.commit()
            return redirect(url_for("compliance.report_detail", document_id=report.document_id))
    page = render_template("compliance/reports.html", form=form,
                           page=paginate(reports.recent_reports()), kinds=reports.KINDS,
                           verify_form=VerifyForm(), busy=_busy_report(form),
                           sync_max_pages=reports.SYNC_DOSSIER_MAX_PAGES)
    return (page, 400) if form.is_submitted() else page


def _busy_report(form: ReportForm) -> Report | None:
    """The report of the form's kind and seller under way, which disables Generate."""
    kind = form.kind.data or "dossier"
    if kind not in reports.KINDS or (kind == "dossier" and form.seller_id.data is None):
        return None
    return reports.in_progress(kind, form.seller_id.data if kind == "dossier" else None)


def _request_report(form: ReportForm) -> Report:
    seller = (db.session.get(Seller, form.seller_id.data)
              if form.seller_id.data is not None else None)
    if form.kind.data == "dossier" and form.seller_id.data is not None and seller is None:
        raise ServiceError(f"There is no seller number {form.seller_id.data}.", "seller_id")
    return reports.request_report(form.kind.data, seller, form.date_from.data,
                                  form.date_to.data, current_user)


@bp.route("/reports/<document_id>")
@roles_required(Role.COMPLIANCE, Role.ADMIN)
def report_detail(document_id: str) -> str:
    report = _report(document_id)
    return render_template("compliance/report_detail.html", report=report, kinds=reports.KINDS)


DOCUMENT_ID = re.compile(r"[0-9A-Za-z]{1,32}")


def _report(document_id: str) -> Report:
    if not DOCUMENT_ID.fullmatch(document_id):  # e.g. a NUL byte, which PostgreSQL refuses
        abort(404)
    return db.one_or_404(db.select(Report).where(Report.document_id == document_id))


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
        result = run_service(lambda: reports.verify_upload(form.file.data.read(), current_user),
                             form=form)
    page = render_template("compliance/verify.html", form=form, result=result,
                           kinds=reports.KINDS)
    return (page, 400) if form.is_submitted() and result is None else page


@bp.route("/exports/<kind>.csv")
@roles_required(Role.COMPLIANCE, Role.ADMIN)
@writes
def export(kind: str) -> Response:
    filters = request.args.to_dict()
    data = run_service(lambda: _recorded_export(kind, filters))
    if data is None:
        return redirect(url_for("compliance.reports_page"))
    write_intent.set(False)  # stream in a read transaction: no write lock while it downloads
    name = csv_filename(kind, utcnow(), **{k: filters[k] for k in sorted(exports.FILTER_KEYS)
                                           if k in filters})
    return Response(stream_with_context(
        chunk.encode("utf-8") for chunk in stream_csv(data.header, data.rows)),
        mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _recorded_export(kind: str, filters: dict[str, str]) -> exports.Export:
    data = exports.build_export(kind, filters)
    audit.record("export.downloaded", "export", kind, {"filters": filters}, current_user)
    return data


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
    notice = db.get_or_404(Notice, notice_id)
    return render_template("compliance/notice_detail.html", notice=notice,
                           form=NoticeSendAgainForm())


@bp.route("/notices/<int:notice_id>/pdf")
@roles_required(Role.COMPLIANCE)
@writes
def notice_pdf(notice_id: int) -> Response:
    notice = db.get_or_404(Notice, notice_id)
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
    notice = db.get_or_404(Notice, notice_id)
    if NoticeSendAgainForm().validate_on_submit():
        run_service(lambda: notices.send_again(notice, current_user),
                    success=lambda _: f"Notice {notice.reference} to {notice.recipient} is "
                                      "queued again.")
    back = "compliance.notice_detail" if request.form.get("next") == "detail" else None
    return redirect(url_for(back, notice_id=notice_id) if back
                    else url_for("compliance.notices_outbox"))


# ---------------------------------------------------------------- buyer identities


@bp.route("/buyers")
@roles_required(Role.COMPLIANCE)
def buyers() -> str:
    page = paginate(buyer_service.identities_query())
    return render_template("compliance/buyers.html", page=page,
                           usage=buyer_service.usage(b.id for b in page.items),
                           active=buyer_service.count_active())


def _identity_input(form: BuyerIdentityForm) -> buyer_service.IdentityInput:
    return buyer_service.IdentityInput(form.name.data or "", form.address.data or "",
                                       form.payment_reference.data or "")


@bp.route("/buyers/new", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE)
def buyer_new() -> Page:
    form = BuyerIdentityForm()
    if form.validate_on_submit():
        done = run_service(
            lambda: buyer_service.create_identity(_identity_input(form), current_user),
            form=form, success=lambda b: f"{b.name} is in the pool of buyer identities.",
            redirect_to=url_for("compliance.buyers"))
        if done:
            return done
    page = render_template("compliance/buyer_form.html", form=form, identity=None)
    return (page, 400) if form.is_submitted() else page


@bp.route("/buyers/<int:buyer_id>", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE)
def buyer_edit(buyer_id: int) -> Page:
    identity = db.get_or_404(BuyerIdentity, buyer_id)
    form = BuyerIdentityEditForm(obj=identity)
    if form.is_submitted() and not identity.active:  # its page has no form: say why
        run_service(lambda: buyer_service.ensure_active(identity))
    elif form.validate_on_submit():
        done = run_service(lambda: buyer_service.update_identity(
            identity, _identity_input(form), form.version.data, current_user), form=form,
            success=lambda b: f"{b.name} saved.", redirect_to=url_for("compliance.buyers"))
        if done:
            return done
    page = render_template("compliance/buyer_form.html", form=form, identity=identity,
                           usage=buyer_service.usage([identity.id])[identity.id])
    return (page, 400) if form.is_submitted() else page


@bp.route("/buyers/<int:buyer_id>/retire", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE)
def buyer_retire(buyer_id: int) -> Page:
    identity = db.get_or_404(BuyerIdentity, buyer_id)
    form = BuyerRetireForm(version=identity.version)
    form.flagged_by.choices = [(NO_SELLER, "No seller / not known")] + [
        (str(s.id), f"{s.display_name} (#{s.id})")
        for s in buyer_service.sellers_served(identity)]
    if form.is_submitted() and not identity.active:
        run_service(lambda: buyer_service.ensure_active(identity))
    elif form.validate_on_submit():
        done = run_service(lambda: buyer_service.retire_identity(
            identity, form.reason.data or "", form.flagging_seller_id(), form.version.data,
            current_user), form=form,
            success=lambda b: f"{b.name} is retired and leaves the pool for good.",
            redirect_to=url_for("compliance.buyers"))
        if done:
            return done
    page = render_template("compliance/buyer_retire.html", form=form, identity=identity,
                           usage=buyer_service.usage([identity.id])[identity.id],
                           active=buyer_service.count_active())
    return (page, 400) if form.is_submitted() else page
