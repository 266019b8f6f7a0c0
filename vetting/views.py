"""Vetting pages: sellers, imports, applications, the checklist, the Back Label."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from core import dashboard
from core.db import db
from core.edges import flash_form_errors, run_csv_import, run_service
from core.errors import ServiceError
from core.pagination import paginate
from core.roles import Role, roles_required
from vetting.applications import (
    APPLICATION_TRANSITIONS,
    EDITABLE_STATUSES,
    EVIDENCE_STATUSES,
    STATUS_LABELS,
    ApplicationStatus,
)
from vetting.checklist import ChecklistCategory, ChecklistItemSpec, ItemResult
from vetting.forms import (
    ApplicationStatusForm,
    ChecklistEditForm,
    DecisionForm,
    EvidenceForm,
    ItemResultForm,
    SellerEditForm,
    SellerForm,
    SellerImportForm,
)
from vetting.labels import LabelStatus, SamplingState
from vetting.models import Application, ApplicationItem, Evidence, Seller
from vetting.seller_csv import COLUMNS, REQUIRED_COLUMNS
from vetting.seller_page import render_seller_sections
from vetting.sellers import SellerInput
from vetting.services import applications as application_service
from vetting.services import checklists
from vetting.services import labels as label_service
from vetting.services import sellers as seller_service

bp = Blueprint("vetting", __name__, url_prefix="/vetting")
Page = str | Response | tuple[str, int]

VIEW = (Role.VETTING, Role.COMPLIANCE)
EDIT = (Role.VETTING,)
ACTIONS = {  # URL word -> target status, for the workflow buttons
    "submit": ApplicationStatus.SUBMITTED,
    "review": ApplicationStatus.IN_REVIEW,
    "request-changes": ApplicationStatus.CHANGES_REQUESTED,
    "withdraw": ApplicationStatus.WITHDRAWN,
}


def _item(application: Application, item_id: int) -> ApplicationItem:
    """The application's checklist item, or a 404 (also for another application's item)."""
    try:
        return application_service.get_item(application, item_id)
    except ServiceError:
        abort(404)


def _seller_input(form: SellerForm) -> SellerInput:
    return SellerInput(
        legal_name=form.legal_name.data, trading_name=form.trading_name.data or "",
        country=form.country.data, registration_number=form.registration_number.data,
        vat_id=form.vat_id.data, contact_email=form.contact_email.data,
        website=form.website.data or "", device_categories=tuple(form.device_categories.data),
        declared_monthly_volume=form.declared_monthly_volume.data)


# ---------------------------------------------------------------- sellers


@bp.route("/sellers")
@roles_required(*VIEW)
def sellers() -> str:
    args = {k: request.args.get(k, "").strip()[:100]
            for k in ("q", "country", "label_status", "sampling_state")}
    return render_template(
        "vetting/sellers.html", page=paginate(seller_service.seller_query(**args)), args=args,
        countries=seller_service.seller_countries(), label_statuses=list(LabelStatus),
        sampling_states=list(SamplingState))


@bp.route("/sellers/new", methods=["GET", "POST"])
@roles_required(*EDIT)
def seller_new() -> str | Response:
    form = SellerForm()
    if form.validate_on_submit():
        done = run_service(
            lambda: seller_service.create_seller(_seller_input(form), current_user), form=form,
            success=lambda seller: f"{seller.display_name} registered.",
            redirect_to=lambda seller: url_for("vetting.seller_detail", seller_id=seller.id))
        if done:
            return done
    return render_template("vetting/seller_form.html", form=form, seller=None)


@bp.route("/sellers/<int:seller_id>/edit", methods=["GET", "POST"])
@roles_required(*EDIT)
def seller_edit(seller_id: int) -> str | Response:
    seller = db.get_or_404(Seller, seller_id)
    form = SellerEditForm(obj=seller, device_categories=seller.categories)
    if form.validate_on_submit():
        done = run_service(lambda: seller_service.update_seller(
            seller, _seller_input(form), form.version.data, current_user), form=form,
            success="Seller details saved.",
            redirect_to=url_for("vetting.seller_detail", seller_id=seller.id))
        if done:
            return done
    return render_template("vetting/seller_form.html", form=form, seller=seller)


@bp.route("/sellers/<int:seller_id>")
@roles_required(*VIEW)
def seller_detail(seller_id: int) -> str:
    seller = db.get_or_404(Seller, seller_id)
    return render_template(
        "vetting/seller_detail.html", seller=seller,
        applications=application_service.seller_applications(seller),
        label_events=label_service.seller_label_history(seller),
        open_application=application_service.open_application(seller), status_labels=STATUS_LABELS,
        sections=render_seller_sections(seller))


@bp.route("/sellers/import", methods=["GET", "POST"])
@roles_required(*EDIT)
def seller_import() -> str | Response:
    form = SellerImportForm()
    outcome = run_csv_import(form, seller_service.import_sellers, "upload.csv", lambda o: (
        f"Imported {len(o.created)} new sellers; {len(o.existing)} were already registered."))
    return render_template("vetting/seller_import.html", form=form, outcome=outcome,
                           columns=COLUMNS, required=REQUIRED_COLUMNS)


# ---------------------------------------------------------------- applications


@bp.route("/applications")
@roles_required(*VIEW)
def applications() -> str:
    status = request.args.get("status", "open")[:20]
    return render_template("vetting/applications.html",
                           page=paginate(application_service.application_query(status)),
                           status=status, status_labels=STATUS_LABELS,
                           waiting=application_service.applications_waiting())


@bp.route("/sellers/<int:seller_id>/applications", methods=["POST"])
@roles_required(*EDIT)
def application_new(seller_id: int) -> Response:
    seller = db.get_or_404(Seller, seller_id)
    return run_service(
        lambda: application_service.create_application(seller, current_user),
        success=lambda application: f"Draft application #{application.id} started.",
        redirect_to=lambda application: url_for("vetting.application_detail",
                                                application_id=application.id),
    ) or redirect(url_for("vetting.seller_detail", seller_id=seller.id))


@bp.route("/applications/<int:application_id>")
@roles_required(*VIEW)
def application_detail(application_id: int) -> str:
    application = db.get_or_404(Application, application_id)
    return _render_application(application)


def _render_application(application: Application, **forms: object) -> str:
    reviewers = application_service.reviewer_ids(application)
    people = application_service.users_by_id(
        [*reviewers, *(i.recorded_by_id for i in application.items),
         *(e.uploaded_by_id for i in application.items for e in i.evidence)])
    return render_template(
        "vetting/application_detail.html", application=application,
        seller=application.seller, status=ApplicationStatus(application.status),
        status_labels=STATUS_LABELS, events=application_service.application_events(application),
        blockers=application_service.approval_blockers(application), reviewers=reviewers,
        people=people,
        status_form=forms.get("status_form") or ApplicationStatusForm(obj=application),
        decision_form=forms.get("decision_form") or DecisionForm(obj=application),
        item_forms=forms.get("item_forms", {}), evidence_forms=forms.get("evidence_forms", {}),
        item_form_for=lambda item: ItemResultForm(prefix=f"item{item.id}", obj=item),
        evidence_form_for=lambda item: EvidenceForm(prefix=f"ev{item.id}"),
        actions=[(word, target) for word, target in ACTIONS.items()
                 if target in APPLICATION_TRANSITIONS[ApplicationStatus(application.status)]],
        editable=ApplicationStatus(application.status) in EDITABLE_STATUSES,
        evidence_open=ApplicationStatus(application.status) in EVIDENCE_STATUSES)


@bp.route("/applications/<int:application_id>/<any(submit, review, 'request-changes', "
          "withdraw):action>", methods=["POST"])
@roles_required(*EDIT)
def application_transition(application_id: int, action: str) -> str | Response:
    application = db.get_or_404(Application, application_id)
    form = ApplicationStatusForm()
    if form.validate_on_submit():
        run_service(lambda: application_service.transition_application(
            application, ACTIONS[action], current_user, message=form.message.data or "",
            expected_version=form.version.data),
            success=lambda _: "Application is now "
                              f"{STATUS_LABELS[ApplicationStatus(application.status)]}.")
    else:
        flash("The form was incomplete; nothing changed.", "danger")
    return redirect(url_for("vetting.application_detail", application_id=application.id))


@bp.route("/applications/<int:application_id>/items/<int:item_id>", methods=["POST"])
@roles_required(*EDIT)
def application_item(application_id: int, item_id: int) -> Page:
    application = db.get_or_404(Application, application_id)
    item = _item(application, item_id)
    form = ItemResultForm(prefix=f"item{item_id}")
    if form.validate_on_submit():
        done = run_service(lambda: application_service.record_item_result(
            application, item, ItemResult(form.result.data), form.note.data or "",
            form.waiver_reason.data or "", current_user), form=form,
            success=lambda _: f"{item.spec.code} recorded as {item.result}.",
            redirect_to=url_for("vetting.application_detail", application_id=application.id,
                                _anchor=f"item-{item_id}"))
        if done:
            return done
    else:
        flash_form_errors(form)
    return _render_application(application, item_forms={item_id: form}), 400


@bp.route("/applications/<int:application_id>/items/<int:item_id>/evidence",
          methods=["POST"])
@roles_required(*EDIT)
def application_evidence(application_id: int, item_id: int) -> Page:
    application = db.get_or_404(Application, application_id)
    item = _item(application, item_id)
    form = EvidenceForm(prefix=f"ev{item_id}")
    if form.validate_on_submit():
        upload = form.file.data
        done = run_service(lambda: application_service.add_evidence(
            application, item, upload.stream, upload.filename, current_user), form=form,
            success=lambda evidence: f"{evidence.filename} attached to {item.spec.code} "
                                     f"(SHA-256 {evidence.sha256}).",
            redirect_to=url_for("vetting.application_detail", application_id=application.id,
                                _anchor=f"item-{item_id}"))
        if done:
            return done
    return _render_application(application, evidence_forms={item_id: form}), 400


@bp.route("/applications/<int:application_id>/decision", methods=["POST"])
@roles_required(*EDIT)
def application_decision(application_id: int) -> Page:
    application = db.get_or_404(Application, application_id)
    form = DecisionForm()
    if form.validate_on_submit():
        done = run_service(lambda: application_service.decide_application(
            application, form.decision.data == "approve", form.reason.data or "",
            current_user, expected_version=form.version.data), form=form,
            success=lambda _: f"Application #{application.id} "
                              f"{STATUS_LABELS[ApplicationStatus(application.status)]}.",
            redirect_to=url_for("vetting.application_detail", application_id=application.id))
        if done:
            return done
    else:
        flash_form_errors(form)
    return _render_application(application, decision_form=form), 400


@bp.route("/evidence/<int:evidence_id>")
@roles_required(Role.VETTING, Role.COMPLIANCE)
def evidence_download(evidence_id: int) -> Response:
    evidence = db.get_or_404(Evidence, evidence_id)
    path = application_service.evidence_file(evidence)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=evidence.content_type, as_attachment=True,
                     download_name=evidence.filename, etag=evidence.sha256)


# ---------------------------------------------------------------- checklist


@bp.route("/checklist")
@roles_required(*VIEW)
def checklist() -> str:
    template = checklists.current_template()
    return render_template("vetting/checklist.html", template=template)


@bp.route("/checklist/edit", methods=["GET", "POST"])
@roles_required(*EDIT)
def checklist_edit() -> str | Response:
    template = checklists.current_template()
    form = ChecklistEditForm()
    if not form.is_submitted():
        form = ChecklistEditForm(data={"items": [
            {"code": i.code, "title": i.title, "guidance": i.guidance, "category": i.category,
             "required": i.required, "evidence_required": i.evidence_required}
            for i in template.items] + [{}]})
    elif form.validate():
        specs = [ChecklistItemSpec(code=(e.code.data or "").strip().upper(),
                                   title=(e.title.data or "").strip(),
                                   guidance=(e.guidance.data or "").strip(),
                                   category=ChecklistCategory(e.category.data),
                                   required=e.required.data,
                                   evidence_required=e.evidence_required.data)
                 for e in form.items if not e.remove.data and (e.code.data or e.title.data)]
        done = run_service(
            lambda: checklists.create_template_version(specs, form.note.data, current_user),
            success=lambda new: f"Checklist version {new.version} saved; applications already "
                                "started keep their version.",
            redirect_to=url_for("vetting.checklist"))
        if done:
            return done
    return render_template("vetting/checklist_edit.html", form=form, template=template)


# ---------------------------------------------------------------- dashboard


def register_panels(app: Flask) -> None:
    """The vetting panels of the home dashboard."""
    dashboard.register_panel(app, dashboard.Panel(
        "Sellers", frozenset({Role.VETTING, Role.COMPLIANCE}), "vetting/_panel_sellers.html",
        lambda: {"sellers": seller_service.count_sellers()}))
    dashboard.register_panel(app, dashboard.Panel(
        "Applications waiting", frozenset({Role.VETTING}), "vetting/_panel_applications.html",
        lambda: {"waiting": application_service.applications_waiting(), "labels": STATUS_LABELS,
                 "now": application_service.utcnow()}))
    dashboard.register_panel(app, dashboard.Panel(
        "Labels due for renewal", frozenset({Role.VETTING, Role.COMPLIANCE}),
        "vetting/_panel_renewals.html",
        lambda: {"due": label_service.labels_due_for_renewal()[:10],
                 "today": label_service.today()}))
