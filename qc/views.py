"""Quality-control pages: listings, the sampling plan, test orders, inspections and the
confirmation of critical findings by a second inspector."""

from __future__ import annotations

import math
import re
from decimal import Decimal

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
from core.clock import utcnow
from core.db import db
from core.edges import flash_form_errors, run_csv_import, run_service
from core.pagination import paginate
from core.roles import Role, roles_required
from qc.decisions import compute_is_overdue
from qc.forecast import FIGURES_SCOPE
from qc.forms import (
    CloseOrderForm,
    CriticalDecisionForm,
    ListingImportForm,
    PlaceOrderForm,
    ReasonForm,
    ReceiveOrderForm,
    SamplingSettingsForm,
    SignalImportForm,
    checkpoint_field,
    inspection_form,
)
from qc.listing_csv import LISTING_COLUMNS
from qc.models import InspectionPhoto, SamplingSettings, TestOrder
from qc.orders import Disposition, FailureSide, OrderStatus, PackageCondition
from qc.sampling import Period
from qc.services import (
    critical_findings,
    inspections,
    label_decisions,
    marketplace_signals,
    plan_settings,
    planning,
)
from qc.services import listings as listing_service
from qc.services import orders as order_service
from qc.services.buyers import active_buyers
from qc.services.plan_settings import MAX_H
from qc.signal_csv import SIGNAL_COLUMNS, SIGNAL_REQUIRED
from qc.stats import PlanParams, check_plan_params, compute_increments
from vetting.labels import SamplingState
from vetting.models import Seller
from vetting.seller_page import SellerSection, register_seller_section

bp = Blueprint("qc", __name__, url_prefix="/qc")
Page = str | Response | tuple[str, int]
PERIOD = re.compile(r"[0-9]{4}-[0-9]{2}")
QUEUES = {"place": "To place", "receive": "To receive", "inspect": "To inspect",
          "upcoming": "Upcoming", "all": "All"}


def _cents(amount: Decimal | None) -> int:
    return int((amount or Decimal(0)) * 100)


@bp.app_template_global()
def figures_scope_text() -> str:
    """What published error rates cover, for the `figures_scope` macro of _macros.html."""
    return FIGURES_SCOPE


# ---------------------------------------------------------------- test orders


@bp.route("/orders")
@roles_required(Role.INSPECTOR, Role.COMPLIANCE)
def orders() -> str:
    queue = request.args.get("queue", "place")
    if queue not in QUEUES:
        queue = "place"
    return render_template("qc/orders.html", page=paginate(order_service.order_queue(queue)),
                           queue=queue, queues=QUEUES, counts=order_service.queue_counts(),
                           now=utcnow(), overdue_since=order_service.overdue_since)


@bp.route("/orders/<int:order_id>")
@roles_required(Role.INSPECTOR, Role.COMPLIANCE)
def order_detail(order_id: int) -> str:
    return _render_order(db.get_or_404(TestOrder, order_id))


def _render_order(order: TestOrder, **forms: object) -> str:
    versions = inspections.inspection_versions(order)
    findings = critical_findings.order_findings(order)
    pending = critical_findings.pending_finding(order)
    return render_template(
        "qc/order_detail.html", order=order, status=OrderStatus(order.status),
        inspections=versions, findings=findings, pending=pending,
        recorded_by={i.inspector_id for i in versions}, today=utcnow().date(),
        is_overdue=compute_is_overdue,
        critical_form=forms.get("critical_form") or CriticalDecisionForm(
            version=pending.version if pending else None),
        overdue=order_service.overdue_since(order),
        place_form=forms.get("place_form") or PlaceOrderForm(
            obj=order, price_paid=Decimal(order.cost_cents) / 100),
        receive_form=forms.get("receive_form") or ReceiveOrderForm(
            version=order.version, received_on=utcnow().date()),
        reason_form=forms.get("reason_form") or ReasonForm(obj=order),
        close_form=forms.get("close_form") or CloseOrderForm(obj=order),
        accounts=[buyer.name for buyer in active_buyers()])


def _order_action(order_id: int, form_cls: type, action, form_key: str) -> Page:  # type: ignore[no-untyped-def]
    order = db.get_or_404(TestOrder, order_id)
    form = form_cls()
    if form.validate_on_submit():
        done = run_service(lambda: action(order, form), form=form,
                           success=lambda _: f"Test order #{order.id} is now {order.status}.",
                           redirect_to=url_for("qc.order_detail", order_id=order.id))
        if done:
            return done
    else:
        flash_form_errors(form)
    return _render_order(order, **{form_key: form}), 400


@bp.route("/orders/<int:order_id>/place", methods=["POST"])
@roles_required(Role.INSPECTOR)
def order_place(order_id: int) -> Page:
    return _order_action(order_id, PlaceOrderForm, lambda o, f: order_service.place_order(
        o, f.marketplace_ref.data, _cents(f.price_paid.data), f.buyer_account.data,
        current_user, f.version.data), "place_form")


@bp.route("/orders/<int:order_id>/receive", methods=["POST"])
@roles_required(Role.INSPECTOR)
def order_receive(order_id: int) -> Page:
    return _order_action(order_id, ReceiveOrderForm, lambda o, f: order_service.receive_order(
        o, f.received_on.data, PackageCondition(f.package_condition.data), current_user,
        f.version.data), "receive_form")


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@roles_required(Role.INSPECTOR)
def order_cancel(order_id: int) -> Page:
    return _order_action(order_id, ReasonForm, lambda o, f: order_service.cancel_order(
        o, f.reason.data or "", current_user, f.version.data, side=FailureSide(f.side.data)),
        "reason_form")


@bp.route("/orders/<int:order_id>/lost", methods=["POST"])
@roles_required(Role.INSPECTOR)
def order_lost(order_id: int) -> Page:
    return _order_action(order_id, ReasonForm, lambda o, f: order_service.mark_lost(
        o, f.reason.data or "", current_user, f.version.data, side=FailureSide(f.side.data)),
        "reason_form")


@bp.route("/orders/<int:order_id>/close", methods=["POST"])
@roles_required(Role.INSPECTOR)
def order_close(order_id: int) -> Page:
    return _order_action(order_id, CloseOrderForm, lambda o, f: order_service.close_order(
        o, Disposition(f.disposition.data), current_user, f.version.data), "close_form")


@bp.route("/orders/<int:order_id>/critical", methods=["POST"])
@roles_required(Role.INSPECTOR)
def order_critical(order_id: int) -> Page:
    order = db.get_or_404(TestOrder, order_id)
    finding = critical_findings.pending_finding(order)
    if finding is None:
        flash(f"Test order #{order.id} has no critical finding waiting for a decision.",
              "warning")
        return redirect(url_for("qc.order_detail", order_id=order.id))
    form = CriticalDecisionForm()
    if form.validate_on_submit():
        done = run_service(lambda: critical_findings.decide_finding(
            finding, form.decision.data == "confirm", form.reason.data or "", current_user,
            form.version.data), form=form,
            success=lambda f: f"Critical finding on test order #{order.id} {f.status}.",
            redirect_to=url_for("qc.order_detail", order_id=order.id))
        if done:
            return done
    else:
        flash_form_errors(form)
    return _render_order(order, critical_form=form), 400


@bp.route("/critical")
@roles_required(Role.INSPECTOR, Role.COMPLIANCE)
def critical_queue() -> str:
    return render_template("qc/critical_queue.html",
                           page=paginate(critical_findings.confirmation_queue()),
                           today=utcnow().date(), is_overdue=compute_is_overdue)


def _inspection_input(form, checkpoints) -> inspections.InspectionInput:  # type: ignore[no-untyped-def]
    return inspections.InspectionInput(
        observed_grade=form.observed_grade.data, battery_percent=form.battery_percent.data,
        battery_cycles=form.battery_cycles.data, battery_swollen=form.battery_swollen.data,
        cable_missing=form.cable_missing.data, notes=form.notes.data or "",
        outcomes={c.code: (form[checkpoint_field(c.code)].data == "pass",
                           form[checkpoint_field(c.code) + "_note"].data or "")
                  for c in checkpoints},
        photos=[(f.stream, f.filename) for f in form.photos.data or [] if f and f.filename])


@bp.route("/orders/<int:order_id>/inspect", methods=["GET", "POST"])
@roles_required(Role.INSPECTOR)
def order_inspect(order_id: int) -> Page:
    return _inspection_page(db.get_or_404(TestOrder, order_id), amend=False)


@bp.route("/orders/<int:order_id>/amend", methods=["GET", "POST"])
@roles_required(Role.INSPECTOR)
def order_amend(order_id: int) -> Page:
    return _inspection_page(db.get_or_404(TestOrder, order_id), amend=True)


def _inspection_page(order: TestOrder, amend: bool) -> Page:
    checkpoints = inspections.checkpoints_for(order.listing.category)
    previous = inspections.current_inspection(order)
    if amend and previous is None:
        flash("This order has no inspection to amend yet.", "warning")
        return redirect(url_for("qc.order_detail", order_id=order.id))
    prefill: dict[str, object] = {"version": order.version}
    if amend and previous is not None and request.method == "GET":
        prefill.update(observed_grade=previous.observed_grade,
                       battery_percent=previous.battery_percent,
                       battery_cycles=previous.battery_cycles,
                       battery_swollen=previous.battery_swollen,
                       cable_missing=previous.cable_missing, notes=previous.notes)
        for r in previous.results:
            prefill[checkpoint_field(r.code)] = "pass" if r.passed else "fail"
            prefill[checkpoint_field(r.code) + "_note"] = r.note
    elif request.method == "GET":
        prefill["observed_grade"] = order.listing.promised_grade
    form = inspection_form(checkpoints, data=prefill if request.method == "GET" else None)
    if form.validate_on_submit():
        data = _inspection_input(form, checkpoints)
        done = run_service(
            lambda: inspections.amend_inspection(order, data, form.amend_reason.data or "",
                                                 current_user, form.version.data) if amend
            else inspections.submit_inspection(order, data, current_user, form.version.data),
            form=form, success=lambda inspection: (
                f"Inspection of order #{order.id} {'amended' if amend else 'submitted'}: "
                f"{inspection.verdict} (score {inspection.score})."),
            redirect_to=url_for("qc.order_detail", order_id=order.id))
        if done:
            return done
    elif form.is_submitted():
        flash("The inspection was not saved; see the messages below.", "danger")
    page = render_template("qc/inspect.html", order=order, form=form, checkpoints=checkpoints,
                           field=checkpoint_field, amend=amend, previous=previous)
    return (page, 400) if form.is_submitted() else page


@bp.route("/photos/<int:photo_id>")
@roles_required(Role.INSPECTOR, Role.COMPLIANCE)
def photo(photo_id: int) -> Response:
    item = db.get_or_404(InspectionPhoto, photo_id)
    path = inspections.photo_path(item)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=item.content_type, download_name=item.filename,
                     etag=item.sha256)


# ---------------------------------------------------------------- listings


@bp.route("/listings")
@roles_required(Role.VETTING, Role.INSPECTOR, Role.COMPLIANCE)
def listings() -> str:
    q = request.args.get("q", "").strip()[:100]
    seller_id = request.args.get("seller", type=int)
    page = paginate(listing_service.listing_query(seller_id, q))
    return render_template("qc/listings.html", page=page, q=q)


@bp.route("/listings/import", methods=["GET", "POST"])
@roles_required(Role.VETTING, Role.COMPLIANCE)
def listing_import() -> Page:
    form = ListingImportForm()
    outcome = run_csv_import(form, listing_service.import_listings, "listings.csv", lambda o: (
        f"Imported listings: {o.created} new, {o.updated} updated."))
    return render_template("qc/listing_import.html", form=form, outcome=outcome,
                           columns=LISTING_COLUMNS)


# ---------------------------------------------------------------- marketplace signals


@bp.route("/signals/import", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE, Role.ADMIN)
def signal_import() -> Page:
    form = SignalImportForm()
    outcome = run_csv_import(form, marketplace_signals.import_signals, "signals.csv", lambda o: (
        f"Imported marketplace figures: {o.created} new, {o.updated} replaced, "
        f"{o.unchanged} unchanged."))
    return render_template("qc/signal_import.html", form=form, outcome=outcome,
                           columns=SIGNAL_COLUMNS, required=SIGNAL_REQUIRED)


# ---------------------------------------------------------------- sampling plan


def _settings_form(settings: SamplingSettings) -> SamplingSettingsForm:
    """The settings form, filled with the version in force (its override, if any, too)."""
    return SamplingSettingsForm(
        obj=settings, budget_eur=Decimal(settings.budget_cents) / 100,
        h_override=Decimal(str(settings.h)) if settings.h_override_reason else None,
        h_reason=settings.h_override_reason)


def _form_rates(form: SamplingSettingsForm) -> dict[SamplingState, float]:
    return {SamplingState.ONBOARDING: float(form.rate_onboarding.data),
            SamplingState.NORMAL: float(form.rate_normal.data),
            SamplingState.REDUCED: float(form.rate_reduced.data),
            SamplingState.TIGHTENED: float(form.rate_tightened.data)}


def _form_allocation(form: SamplingSettingsForm) -> plan_settings.Allocation:
    override = form.h_override.data
    return plan_settings.Allocation(
        budget_orders=form.budget_orders.data, floor_rate=float(form.floor_rate.data),
        block_max=form.block_max.data, min_auc=float(form.min_auc.data),
        h_override=None if override is None else float(override),
        h_reason=form.h_reason.data or "")


@bp.route("/plan", methods=["GET", "POST"])
@roles_required(Role.COMPLIANCE)
def plan() -> Page:
    settings = plan_settings.current_settings()
    form = _settings_form(settings)
    params: PlanParams | None = PlanParams(settings.p0, settings.p1, settings.alpha,
                                           settings.beta)
    rates = plan_settings.settings_rates(settings)
    budget_orders = None  # the budget a preview asks about
    refused = form.is_submitted()  # until the form and the service accept it
    if form.validate_on_submit():
        rates = _form_rates(form)
        values = [float(f.data) for f in (form.p0, form.p1, form.alpha, form.beta)]
        problems = check_plan_params(*values)
        params = None if problems else PlanParams(*values)
        for message in problems:
            flash(message, "danger")
        budget_orders = form.budget_orders.data
        refused = params is None
        if params is not None and form.submit.data and not form.preview.data:
            done = run_service(lambda: plan_settings.update_settings(
                rates, _cents(form.budget_eur.data), current_user, params,
                _form_allocation(form)), form=form,
                success="Sampling plan saved; it applies from now on and does not change past "
                        "decisions.", redirect_to=url_for("qc.plan"))
            if done:
                return done
            refused = True
    preview = None
    if params is not None:
        # The forecast at each seller's expected orders under the allocation (the budget being
        # previewed, if any) and the threshold that budget or the override would give.
        threshold_now = plan_settings.threshold(settings, budget_orders=budget_orders)
        override = form.h_override.data if form.is_submitted() else None
        usable = (override is not None and math.isfinite(override)
                  and compute_increments(params).w_defect < override <= MAX_H)
        h = (float(override) if usable and override is not None
             else threshold_now.budget_h if budget_orders is not None else threshold_now.h)
        today = utcnow().date()
        preview = plan_settings.plan_preview(
            params, rates, h=h,
            rates_by_seller=planning.expected_orders(Period(today.year, today.month),
                                                     budget_orders))
    page = render_template(
        "qc/plan.html", form=form, settings=settings, preview=preview,
        threshold=plan_settings.threshold(settings),
        asked=plan_settings.threshold(settings, budget_orders=budget_orders)
        if budget_orders and budget_orders != settings.budget_orders else None,
        signal=planning.signal_summary(settings.min_auc),
        runs=[(run, planning.run_notes(run)) for run in planning.planning_runs()])
    return (page, 400) if refused else page


@bp.route("/plan/<period>")
@roles_required(Role.COMPLIANCE)
def plan_run(period: str) -> str:
    if not PERIOD.fullmatch(period):  # e.g. a NUL byte, which PostgreSQL refuses
        abort(404)
    run = planning.get_run(period) or abort(404)
    check = planning.verify_plan(run.period) if run.seed_hex else None
    orders = db.session.execute(
        db.select(TestOrder).where(TestOrder.run_id == run.id)
        .order_by(TestOrder.planned_at)).scalars().all()
    return render_template("qc/plan_run.html", run=run, check=check, orders=orders,
                           notes=planning.run_notes(run))


# ---------------------------------------------------------------- dashboard


def register_panels(app: Flask) -> None:
    """The inspector panel of the home dashboard and the quality section of the seller page."""
    dashboard.register_panel(app, dashboard.Panel(
        "Test orders", frozenset({Role.INSPECTOR}), "qc/_panel_orders.html",
        lambda: {"counts": order_service.queue_counts()}))
    dashboard.register_panel(app, dashboard.Panel(
        "Critical findings to confirm", frozenset({Role.INSPECTOR, Role.COMPLIANCE}),
        "qc/_panel_critical.html", lambda: {"counts": critical_findings.queue_counts()}))
    register_seller_section(app, SellerSection("qc/_seller_quality.html", _seller_quality))


def _seller_quality(seller: Seller) -> dict[str, object]:
    return {"orders": order_service.seller_orders(seller),
            "verdicts": order_service.seller_verdicts(seller),
            **label_decisions.seller_summary(seller)}
