"""Audit dossiers and period reports: plain-value contexts, rendering, storage, verification.

A report is rendered through its row as an outbox (core.outbox): claimed with a token and a
lease, retried with back-off after a failed attempt (a full disk, say), failed after the last
one with no partial file left. Services flush; the jobs, the CLI and the views commit. A
report's SHA-256 and a row describing it are kept so that a downloaded copy can be checked
later.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from sqlalchemy import Select, and_, func, or_, select

from compliance.audit_details import SHORT_HASH, compute_detail_lines
from compliance.models import Report, SuspensionReview
from compliance.pdf import RenderedPdf, render_pdf
from core import audit, outbox
from core.backoff import RetryPolicy
from core.clock import utcnow
from core.db import db, lock
from core.errors import ServiceError
from core.models import AuditEntry, User
from qc.chart import render_cusum_svg
from qc.decisions import DEFECT_VERDICTS
from qc.models import Inspection, Listing, PlanningRun, SamplingStateChange, TestOrder
from qc.orders import OVERDUE_AFTER, OrderStatus
from qc.services import marketplace_signals, plan_settings
from qc.stats import OC_NS, OC_PS, clopper_pearson, cusum_step, oc_table
from vetting.applications import OPEN_STATUSES, STATUS_LABELS, ApplicationStatus
from vetting.labels import IN_FORCE, LabelEventKind, SamplingState
from vetting.models import Application, LabelEvent, Seller

KINDS = {"dossier": "Seller audit dossier", "period": "Period compliance report"}
MAX_RANGE_DAYS = 5 * 366
MAX_FUTURE_DAYS = 10 * 366
# A dossier renders inside the web request only when its expected length is at most
# SYNC_DOSSIER_MAX_PAGES; anything longer renders in the background with progress (DESIGN.md
# section 5: long PDFs never render inside a request that can time out). The length is
# estimated from what fills the pages: test orders and audit entries. Capacities measured on
# the 60-order dossier with its full audit history (bench/bench_reports.py --full-audit, see
# bench/RESULTS.md): the cover, label history, CUSUM chart, plan and OC table take
# DOSSIER_FIXED_PAGES; a page of the order table holds DOSSIER_ORDERS_PER_PAGE orders and a
# page of the audit trail DOSSIER_AUDIT_ENTRIES_PER_PAGE entries.
DOSSIER_FIXED_PAGES = 4  # measured: 24 pages = 4 + 60 orders / 18 + 285 entries / 18
DOSSIER_ORDERS_PER_PAGE = 18  # measured: 18 order rows on each full page
DOSSIER_AUDIT_ENTRIES_PER_PAGE = 18  # measured: 17-19 entries on each full page
SYNC_DOSSIER_MAX_PAGES = 12  # at about 0.22 s a page (5.3 s for 24), under 3 s in the request
# The period report's line for each kind of label event.
KIND_LINES = {
    LabelEventKind.GRANT: "granted",
    LabelEventKind.RENEWAL_FULL: "renewed",
    LabelEventKind.RENEWAL_CONDITIONAL: "renewed conditionally",
    LabelEventKind.SUSPENSION: "suspended",
    LabelEventKind.REINSTATEMENT: "reinstated on probation",
    LabelEventKind.RESTORATION: "restored after review",
    LabelEventKind.PROBATION_END: "probation ended",
    LabelEventKind.REVOCATION: "revoked",
    LabelEventKind.EXPIRY: "expired",
}
PENDING_SUSPENSION_LINE = "suspended (pending review)"


# ---------------------------------------------------------------- requests


def check_range(date_from: date, date_to: date) -> None:
    """Refuse ranges that end before they start, span more than five years or end more
    than ten years from now."""
    if date_to < date_from:
        raise ServiceError("The range ends before it starts.", "date_to")
    if (date_to - date_from).days > MAX_RANGE_DAYS:
        raise ServiceError("A report covers at most five years.", "date_to")
    # Beyond that the range is a typing mistake (and 31 December 9999 has no day after it).
    if date_to > utcnow().date() + timedelta(days=MAX_FUTURE_DAYS):
        raise ServiceError("A report cannot end more than ten years from now.", "date_to")


def request_report(kind: str, seller: Seller | None, date_from: date, date_to: date,
                   actor: User) -> Report:
    """Queue a report, or return the identical one already queued or rendering; one that has
    stalled (a failed attempt, or a renderer that stopped) is given up for a new one. While
    another report of the same kind for the same seller is under way, refuse."""
    if kind not in KINDS:
        raise ServiceError("Choose a dossier or a period report.", "kind")
    if kind == "dossier" and seller is None:
        raise ServiceError("Choose the seller of the dossier.", "seller_id")
    check_range(date_from, date_to)
    seller_id = seller.id if kind == "dossier" and seller is not None else None
    lock(f"report:{kind}:{seller_id}:{date_from}:{date_to}")
    now = utcnow()
    same = db.session.execute(select(Report).where(
        Report.kind == kind, Report.seller_id.is_(None) if seller_id is None
        else Report.seller_id == seller_id, Report.date_from == date_from,
        Report.date_to == date_to, Report.status.in_(["queued", "rendering"]))).scalars().first()
    if same is not None and not outbox.is_stalled(same, now):
        return same
    busy = in_progress(kind, seller_id)
    if busy is not None:  # one rendering at a time per kind and seller
        what = "A dossier of this seller" if seller_id is not None else "A period report"
        raise ServiceError(f"{what} ({busy.date_from} to {busy.date_to}, report "
                           f"{busy.document_id}) is being rendered; ask again when it is "
                           "ready.", "seller_id" if seller_id is not None else "kind")
    report = Report(document_id=secrets.token_hex(8).upper(), kind=kind, seller_id=seller_id,
                    date_from=date_from, date_to=date_to, status="queued",
                    requested_by_id=actor.id, requested_at=now, next_attempt_at=now)
    db.session.add(report)
    db.session.flush()
    payload: dict[str, Any] = {"kind": kind, "seller_id": seller_id,
                               "from": date_from.isoformat(), "to": date_to.isoformat()}
    if same is not None:
        _fail_for_good(same, f"Asked for again; replaced by report {report.document_id}.")
        payload["replaces"] = same.document_id
    audit.record("report.requested", "report", report.document_id, payload, actor)
    return report


def expected_dossier_pages(orders: int, audit_entries: int) -> int:
    """The expected length of a dossier with this many test orders and audit entries."""
    return (DOSSIER_FIXED_PAGES + -(-orders // DOSSIER_ORDERS_PER_PAGE)
            + -(-audit_entries // DOSSIER_AUDIT_ENTRIES_PER_PAGE))


def renders_in_request(report: Report) -> bool:
    """Short dossiers render at once; period reports and dossiers expected to be longer than
    SYNC_DOSSIER_MAX_PAGES in the background."""
    if report.kind != "dossier" or report.seller_id is None:
        return False
    start, end = _day_range(report.date_from, report.date_to)
    orders = db.session.execute(select(func.count()).select_from(TestOrder).where(
        TestOrder.seller_id == report.seller_id, TestOrder.planned_at >= start,
        TestOrder.planned_at < end)).scalar_one()
    entries = db.session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.at >= start, AuditEntry.at < end,
        _about_seller(report.seller_id, end))).scalar_one()
    return expected_dossier_pages(orders, entries) <= SYNC_DOSSIER_MAX_PAGES


def in_progress(kind: str, seller_id: int | None) -> Report | None:
    """The report of this kind (for this seller) being rendered or waiting to be, if any;
    one that has stalled does not count (asking again replaces it)."""
    now = utcnow()
    waiting = db.session.execute(select(Report).where(
        Report.kind == kind, Report.seller_id.is_(None) if seller_id is None
        else Report.seller_id == seller_id, Report.status.in_(["queued", "rendering"]))
        .order_by(Report.id.desc())).scalars()
    return next((r for r in waiting if not outbox.is_stalled(r, now)), None)


def report_path(report: Report) -> Path:
    """Where a finished report's file is kept."""
    return Path(current_app.config["REPORT_DIR"]) / f"{report.document_id}.pdf"


def build_context(report: Report) -> dict[str, Any]:
    """The plain values a report's template needs."""
    who = report.requested_by.display_name if report.requested_by else "system"
    base = {"document_id": report.document_id, "kind": report.kind, "title": KINDS[report.kind],
            "date_from": report.date_from, "date_to": report.date_to,
            "generated_by": who, "generated_at": utcnow()}
    if report.kind == "dossier":
        seller = report.seller
        assert seller is not None  # noqa: S101 - dossiers always name a seller
        return {**base, **dossier_context(seller, report.date_from, report.date_to)}
    return {**base, **period_context(report.date_from, report.date_to)}


def render_html(context: Mapping[str, Any]) -> str:
    """The report's HTML from its template."""
    return render_template(f"reports/{context['kind']}.html", **context)


def render_document(html: str) -> RenderedPdf:
    """Lay a report's HTML out as a PDF (no database access: call it with no transaction
    open)."""
    return render_pdf(html, Path(current_app.static_folder or "static"))


# ---------------------------------------------------------------- rendering through the outbox


def _policy() -> RetryPolicy:
    return outbox.retry_policy(current_app.config, "REPORT")


def _lease() -> timedelta:
    return timedelta(seconds=float(current_app.config["REPORT_CLAIM_TIMEOUT_SECONDS"]))


def _partial_path(report: Report) -> Path:
    return report_path(report).with_suffix(".tmp")


def _started(claims: list[outbox.Claim]) -> list[outbox.Claim]:
    for claim in claims:
        report = db.session.get(Report, claim.row_id)
        if report is not None:
            report.progress = 5
    db.session.flush()
    return claims


def claim_due(limit: int = 1) -> list[outbox.Claim]:
    """Claim up to `limit` due reports for this renderer; concurrent renderers skip them."""
    now = utcnow()
    return _started(outbox.claim(outbox.due(Report, now), Report, now, _lease(), limit))


def claim_now(report: Report) -> outbox.Claim | None:
    """Claim a queued report to render it in this process at once (small dossiers, the CLI);
    None when it is not waiting in the queue."""
    claim = outbox.claim_one(Report, report.id, utcnow(), _lease())
    return _started([claim])[0] if claim is not None else None


def record_progress(report: Report, percent: int) -> None:
    """Show how far a rendering has come on the report's page."""
    report.progress = percent
    db.session.flush()


def store(claim: outbox.Claim, pdf: RenderedPdf, started: float) -> Report | None:
    """Keep a rendered report's file and record hash, size and pages; None (nothing kept)
    when the claim was lost meanwhile. A failed write leaves no partial file."""
    report = outbox.held(Report, claim)
    if report is None:
        return None
    path, partial = report_path(report), _partial_path(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        partial.write_bytes(pdf.data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    report.sha256 = hashlib.sha256(pdf.data).hexdigest()
    report.size = len(pdf.data)
    report.pages = pdf.pages
    report.progress = 100
    report.finished_at = utcnow()
    report.render_ms = int((time.perf_counter() - started) * 1000)
    outbox.succeed(report)
    audit.record("report.generated", "report", report.document_id, {
        "kind": report.kind, "seller_id": report.seller_id,
        "from": report.date_from.isoformat(), "to": report.date_to.isoformat(),
        "sha256": report.sha256, "pages": report.pages, "size": report.size})
    return report


def _after_failure(report: Report) -> None:
    """Remove what a failed attempt left on disk; note a report that has failed for good."""
    _partial_path(report).unlink(missing_ok=True)
    report.progress = 0
    if outbox.is_dead(report):
        report_path(report).unlink(missing_ok=True)
        report.finished_at = utcnow()
        audit.record("report.failed", "report", report.document_id, {
            "kind": report.kind, "attempts": report.attempts, "error": report.last_error})
    db.session.flush()


def _fail_for_good(report: Report, reason: str) -> None:
    outbox.give_up(report, reason)
    _after_failure(report)


def record_failure(claim: outbox.Claim, error: str) -> Report | None:
    """Count a failed rendering: retried after the back-off, or failed after the last
    attempt; None when the claim was lost meanwhile."""
    report = outbox.record_failure(Report, claim, error, _policy(), utcnow())
    if report is not None:
        _after_failure(report)
    return report


def requeue_stale() -> int:
    """Count the attempt of a renderer that stopped mid-render (it may have crashed on this
    very report) and queue the report again, or mark it failed after the last attempt."""
    stale = outbox.requeue_expired(Report, "The renderer stopped during the attempt.",
                                   _policy(), utcnow())
    for report in stale:
        _after_failure(report)
    return len(stale)


def record_download(report: Report, actor: User) -> None:
    """Note a download of a report in the audit trail."""
    audit.record("report.downloaded", "report", report.document_id,
                 {"sha256": report.sha256, "kind": report.kind}, actor)


@dataclass(frozen=True)
class Verification:
    """Whether an uploaded file is an unaltered Labelkeeper report, and which."""

    sha256: str
    report: Report | None


def verify_upload(data: bytes, actor: User) -> Verification:
    """Look an uploaded file's SHA-256 up among generated reports."""
    if not data:
        raise ServiceError("The file is empty.", "file")
    if not data.startswith(b"%PDF-"):
        raise ServiceError("This file is not a PDF, so it cannot be a Labelkeeper report.",
                           "file")
    digest = hashlib.sha256(data).hexdigest()
    report = db.session.execute(select(Report).where(Report.sha256 == digest)).scalars().first()
    audit.record("report.verified", "report", report.document_id if report else "unknown",
                 {"sha256": digest, "genuine": report is not None}, actor)
    return Verification(digest, report)


def recent_reports() -> Select[tuple[Report]]:
    """Reports, newest request first."""
    return select(Report).order_by(Report.requested_at.desc(), Report.id.desc())


# ---------------------------------------------------------------- dossier


def _day_range(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    return (datetime.combine(date_from, datetime.min.time()),
            datetime.combine(date_to + timedelta(days=1), datetime.min.time()))


def describe_snapshot(raw: str | None) -> str:
    """A label event's statistics snapshot in plain words."""
    if not raw:
        return ""
    snap = json.loads(raw)
    plan = snap.get("plan", {})
    parts = [f"S = {snap['S']:.2f} against h = {snap['h']:.2f}"
             + (f" after {snap['order']}" if snap.get("order") else "")]
    parts.append(f"{snap['defects']} major/critical and {snap['minor']} minor verdicts in "
                 f"{snap['inspected']} inspected orders, {snap['clean_run']} clean in a row")
    low, high = snap.get("defect_rate_bounds_95", [0, 1])
    parts.append(f"defect rate between {low:.1%} and {high:.1%} "
                 "(one-sided 95% Clopper-Pearson bounds)")
    if plan:
        parts.append(f"plan p0 {plan['p0']:.1%}, p1 {plan['p1']:.1%}, alpha {plan['alpha']:.2%}, "
                     f"beta {plan['beta']:.0%}")
    return "; ".join(parts) + "."


def _users(ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.id, User.display_name).where(
        User.id.in_(wanted))).all())


def _about_seller(seller_id: int, end: datetime) -> Any:
    """The audit entries about a seller: its own, its applications' (those started before
    `end`) and its test orders'."""
    app_ids = [str(i) for i in db.session.execute(select(Application.id).where(
        Application.seller_id == seller_id, Application.created_at < end)).scalars()]
    order_ids = [str(i) for i in db.session.execute(
        select(TestOrder.id).where(TestOrder.seller_id == seller_id)).scalars()]
    return or_(
        and_(AuditEntry.entity_type == "seller", AuditEntry.entity_id == str(seller_id)),
        and_(AuditEntry.entity_type == "application", AuditEntry.entity_id.in_(app_ids)),
        and_(AuditEntry.entity_type == "test_order", AuditEntry.entity_id.in_(order_ids)))


def dossier_context(seller: Seller, date_from: date, date_to: date) -> dict[str, Any]:
    """Everything decided about one seller in a date range, as plain values."""
    start, end = _day_range(date_from, date_to)
    applications = list(db.session.execute(select(Application).where(
        Application.seller_id == seller.id, Application.created_at < end)
        .order_by(Application.id)).scalars())
    orders = list(db.session.execute(select(TestOrder).where(
        TestOrder.seller_id == seller.id, TestOrder.planned_at >= start,
        TestOrder.planned_at < end).order_by(TestOrder.planned_at, TestOrder.id)).scalars())
    inspections = {i.order_id: i for i in db.session.execute(select(Inspection).where(
        Inspection.order_id.in_([o.id for o in orders]), Inspection.is_current.is_(True)))
        .scalars()} if orders else {}
    users = _users({i.recorded_by_id for a in applications for i in a.items}
                   | {e.uploaded_by_id for a in applications for i in a.items for e in i.evidence}
                   | {i.inspector_id for i in inspections.values()}
                   | {a.decided_by_id for a in applications})
    events = list(db.session.execute(select(LabelEvent).where(
        LabelEvent.seller_id == seller.id, LabelEvent.at >= start, LabelEvent.at < end)
        .order_by(LabelEvent.at, LabelEvent.id)).scalars())
    verdicts = Counter(inspections[o.id].verdict for o in orders if o.id in inspections)
    inspected = sum(verdicts.values())
    defects = sum(n for v, n in verdicts.items() if v in DEFECT_VERDICTS)
    plan = plan_settings.current_plan()
    path: list[float] = []
    s = 0.0
    for o in sorted((o for o in orders if o.id in inspections),
                    key=lambda o: (o.inspected_at or o.planned_at, o.id)):
        s = cusum_step(s, inspections[o.id].verdict in DEFECT_VERDICTS, plan.main)
        path.append(s)
    settings = plan_settings.current_settings()
    runs = list(db.session.execute(select(PlanningRun).where(
        PlanningRun.period >= f"{date_from:%Y-%m}", PlanningRun.period <= f"{date_to:%Y-%m}")
        .order_by(PlanningRun.period)).scalars())
    trail = list(db.session.execute(
        select(AuditEntry).where(AuditEntry.at >= start, AuditEntry.at < end,
                                 _about_seller(seller.id, end))
        .order_by(AuditEntry.seq)).scalars())
    low, high = clopper_pearson(defects, inspected)
    return {
        "seller": seller,
        "applications": [{
            "id": a.id, "status": STATUS_LABELS[ApplicationStatus(a.status)],
            "version": a.template.version, "created_at": a.created_at,
            "decided_by": users.get(a.decided_by_id or 0, ""), "reason": a.decision_reason,
            "items": [{"code": i.spec.code, "title": i.spec.title, "required": i.spec.required,
                       "result": i.result or "not recorded", "note": i.note,
                       "waiver_reason": i.waiver_reason,
                       "recorded_by": users.get(i.recorded_by_id or 0, ""),
                       "recorded_at": i.recorded_at,
                       "evidence": [(e.filename, e.sha256) for e in i.evidence]}
                      for i in a.items]} for a in applications],
        "events": [{"at": e.at, "from": e.from_status or "no label", "to": e.to_status,
                    "pending_review": e.pending_review, "reason": e.reason, "actor": e.actor,
                    "snapshot": describe_snapshot(e.snapshot)} for e in events],
        "orders": [{"id": o.id, "planned_at": o.planned_at, "listing": o.listing.device_model,
                    "sku": o.listing.sku, "placed_at": o.placed_at, "received_on": o.received_on,
                    "status": o.status,
                    "verdict": inspections[o.id].verdict if o.id in inspections else "",
                    "score": inspections[o.id].score if o.id in inspections else "",
                    "inspector": users.get(inspections[o.id].inspector_id, "")
                    if o.id in inspections else ""} for o in orders],
        "verdicts": [(v, verdicts.get(v, 0)) for v in ("conforming", "minor", "major",
                                                       "critical")],
        "inspected": inspected, "defects": defects, "bounds": (low, high),
        "chart": render_cusum_svg(
            path, plan.main.h, plan.tighten_at,
            title=f"CUSUM of {seller.display_name}, recomputed over the range from S = 0"),
        "plan": {"params": plan.params, "increments": plan.main,
                 "rates": plan_settings.settings_rates(settings), "ps": OC_PS, "ns": OC_NS,
                 "oc": oc_table(OC_PS, OC_NS, plan.main)},
        "runs": [_run_summary(r) for r in runs],
        "signals": asdict(marketplace_signals.signals_between(seller.id, date_from, date_to)),
        "trail": [{"seq": t.seq, "at": t.at, "actor": t.actor, "action": t.action,
                   "entity": f"{t.entity_type} {t.entity_id}", "hash": t.hash,
                   "details": compute_detail_lines(t.payload)}
                  for t in trail],
        "chain_head": audit.head_hash(), "chain_entries": audit.count_entries(),
        "short_hash": SHORT_HASH,
    }


def _run_summary(run: PlanningRun) -> dict[str, Any]:
    # The re-derivation is done once, when the period closes, and stored with the run.
    return {"period": run.period, "commitment": run.commitment, "seed": run.seed_hex,
            "orders": run.orders_planned, "verified": run.verify_result}


# ---------------------------------------------------------------- period report


def period_context(date_from: date, date_to: date) -> dict[str, Any]:
    """The fleet's label decisions, test orders, defect rates and open work in a range."""
    start, end = _day_range(date_from, date_to)
    now = utcnow()
    events = db.session.execute(
        select(LabelEvent.kind, LabelEvent.pending_review, func.count())
        .where(LabelEvent.at >= start, LabelEvent.at < end)
        .group_by(LabelEvent.kind, LabelEvent.pending_review)).all()
    labels = Counter()
    for kind, pending, n in events:
        labels[PENDING_SUSPENSION_LINE if kind == LabelEventKind.SUSPENSION and pending
               else KIND_LINES[LabelEventKind(kind)]] += n
    reviews = Counter(dict(db.session.execute(select(SuspensionReview.status, func.count()).where(
        SuspensionReview.decided_at >= start, SuspensionReview.decided_at < end)
        .group_by(SuspensionReview.status)).all()))
    labels["suspensions confirmed"] = reviews.get("confirmed", 0)
    labels["suspensions overturned"] = reviews.get("overturned", 0)
    labels["tightened"] = db.session.execute(
        select(func.count()).select_from(SamplingStateChange).where(
            SamplingStateChange.to_state == SamplingState.TIGHTENED.value,
            SamplingStateChange.at >= start, SamplingStateChange.at < end)).scalar_one()

    def count(*conditions: Any) -> int:
        return db.session.execute(select(func.count()).select_from(TestOrder).where(
            *conditions)).scalar_one()

    orders = {
        "planned": count(TestOrder.planned_at >= start, TestOrder.planned_at < end),
        "placed": count(TestOrder.placed_at >= start, TestOrder.placed_at < end),
        "inspected": count(TestOrder.inspected_at >= start, TestOrder.inspected_at < end),
        "lost": count(TestOrder.status == OrderStatus.LOST.value,
                      TestOrder.updated_at >= start, TestOrder.updated_at < end),
        "cancelled": count(TestOrder.status == OrderStatus.CANCELLED.value,
                           TestOrder.updated_at >= start, TestOrder.updated_at < end),
    }
    spend = db.session.execute(select(func.coalesce(func.sum(TestOrder.price_paid_cents), 0))
                               .where(TestOrder.placed_at >= start, TestOrder.placed_at < end)
                               ).scalar_one()
    settings = plan_settings.current_settings()
    months = max(1, round((date_to - date_from).days / 30.44))
    rows = db.session.execute(
        select(Listing.category, Seller.country, Inspection.verdict, func.count())
        .select_from(Inspection).join(TestOrder, Inspection.order_id == TestOrder.id)
        .join(Listing, TestOrder.listing_id == Listing.id)
        .join(Seller, TestOrder.seller_id == Seller.id)
        .where(Inspection.is_current.is_(True), TestOrder.inspected_at >= start,
               TestOrder.inspected_at < end)
        .group_by(Listing.category, Seller.country, Inspection.verdict)).all()
    by_category: dict[str, list[int]] = {}
    by_country: dict[str, list[int]] = {}
    for category, country, verdict, n in rows:
        for table, key in ((by_category, category), (by_country, country)):
            cell = table.setdefault(key, [0, 0])
            cell[0] += n
            cell[1] += n if verdict in DEFECT_VERDICTS else 0

    def rates(table: dict[str, list[int]]) -> list[dict[str, Any]]:
        out = []
        for key in sorted(table):
            n, k = table[key]
            low, high = clopper_pearson(k, n)
            out.append({"key": key, "inspected": n, "defects": k, "low": low, "high": high})
        return out

    pending = list(db.session.execute(select(SuspensionReview.opened_at).where(
        SuspensionReview.status == "pending")).scalars())
    ages = sorted((now - t).days for t in pending)
    preview = plan_settings.plan_preview(plan_settings.plan_params(settings),
                                       plan_settings.settings_rates(settings))
    overdue_orders = count(TestOrder.status == OrderStatus.PLANNED.value,
                           TestOrder.planned_at < now - OVERDUE_AFTER)
    stale_applications = db.session.execute(select(func.count()).select_from(Application).where(
        Application.status.in_([s.value for s in OPEN_STATUSES]),
        Application.status_changed_at < now - timedelta(days=30))).scalar_one()
    labels_past_end = db.session.execute(select(func.count()).select_from(Seller).where(
        Seller.label_status.in_(IN_FORCE),
        Seller.label_valid_until < now.date())).scalar_one()
    fleet = dict(db.session.execute(select(Seller.label_status, func.count())
                                    .group_by(Seller.label_status)).all())
    has_data = bool(events) or any(orders.values()) or bool(rows)
    return {
        "has_data": has_data,
        "fleet": sorted(((k or "no label", v) for k, v in fleet.items())),
        "labels": sorted(labels.items()),
        "orders": orders, "spend_cents": spend, "budget_cents": settings.budget_cents * months,
        "months": months,
        "by_category": rates(by_category), "by_country": rates(by_country),
        "forecast": {k: preview[k] for k in ("expected_wrongful", "sellers", "months", "p0",
                                             "by_allocation", "tighten_at")},
        "review_ages": {"pending": len(ages), "oldest": ages[-1] if ages else None,
                        "median": statistics.median(ages) if ages else None},
        "overdue": {"planned orders more than 2 days late": overdue_orders,
                    "applications unchanged for 30 days": stale_applications,
                    "labels past their end date": labels_past_end},
        "chain_head": audit.head_hash(),
    }
