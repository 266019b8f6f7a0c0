"""Audit dossiers and period reports: plain-value contexts, rendering, storage, verification.

Services flush; the job and the views commit. A report's SHA-256 and a row describing it are
kept so that a downloaded copy can be checked later.
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
from sqlalchemy import Select, and_, func, or_, select, update

from compliance.models import Report, SuspensionReview
from compliance.pdf import render_pdf
from core import audit
from core.clock import utcnow
from core.db import db, lock, read_only
from core.errors import ServiceError
from core.models import AuditEntry, User
from qc import decision_service as decisions
from qc import services as qc_services
from qc.chart import render_cusum_svg
from qc.decisions import DEFECT_VERDICTS
from qc.models import Inspection, Listing, PlanningRun, SamplingStateChange, TestOrder
from qc.orders import OVERDUE_AFTER, OrderStatus
from qc.sampling import SamplingState
from qc.stats import OC_NS, OC_PS, clopper_pearson, cusum_step, oc_table
from vetting.applications import OPEN_STATUSES, STATUS_LABELS, ApplicationStatus
from vetting.labels import LabelEventKind, LabelStatus
from vetting.models import Application, LabelEvent, Seller

KINDS = {"dossier": "Seller audit dossier", "period": "Period compliance report"}
MAX_RANGE_DAYS = 5 * 366
MAX_FUTURE_DAYS = 10 * 366
SYNC_DOSSIER_MAX_ORDERS = 150  # smaller dossiers render in the request (a few seconds at most)
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
    """Queue a report, or return the identical one already queued or rendering."""
    if kind not in KINDS:
        raise ServiceError("Choose a dossier or a period report.", "kind")
    if kind == "dossier" and seller is None:
        raise ServiceError("Choose the seller of the dossier.", "seller_id")
    check_range(date_from, date_to)
    seller_id = seller.id if kind == "dossier" and seller is not None else None
    lock(f"report:{kind}:{seller_id}:{date_from}:{date_to}")
    same = db.session.execute(select(Report).where(
        Report.kind == kind, Report.seller_id.is_(None) if seller_id is None
        else Report.seller_id == seller_id, Report.date_from == date_from,
        Report.date_to == date_to, Report.status.in_(["queued", "rendering"]))).scalars().first()
    if same is not None:
        return same
    report = Report(document_id=secrets.token_hex(8).upper(), kind=kind, seller_id=seller_id,
                    date_from=date_from, date_to=date_to, status="queued",
                    requested_by_id=actor.id, requested_at=utcnow())
    db.session.add(report)
    db.session.flush()
    audit.record("report.requested", "report", report.document_id,
                 {"kind": kind, "seller_id": seller_id, "from": date_from.isoformat(),
                  "to": date_to.isoformat()}, actor)
    return report


def renders_in_request(report: Report) -> bool:
    """Small dossiers render at once; period reports and large dossiers in the background."""
    if report.kind != "dossier" or report.seller_id is None:
        return False
    orders = db.session.execute(select(func.count()).select_from(TestOrder).where(
        TestOrder.seller_id == report.seller_id)).scalar_one()
    return orders <= SYNC_DOSSIER_MAX_ORDERS


def claim(report_id: int) -> bool:
    """Mark a queued report as rendering; False if another worker claimed it first."""
    result = db.session.execute(update(Report).where(
        Report.id == report_id, Report.status == "queued").values(
        status="rendering", started_at=utcnow(), progress=5))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def queued_reports() -> list[int]:
    """Ids of queued reports, oldest first."""
    return list(db.session.execute(select(Report.id).where(Report.status == "queued")
                                   .order_by(Report.requested_at, Report.id)).scalars())


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


def layout(report: Report) -> str:
    """Build a report's HTML inside a read transaction (no write lock while it is built)."""
    with read_only():
        html = render_html(build_context(report))
    report.progress = 60
    db.session.commit()
    return html


def store(report: Report, html: str, started: float) -> Report:
    """Render the PDF (outside any transaction), keep the file, record hash, size, pages."""
    path = report_path(report)
    db.session.commit()
    pdf = render_pdf(html, Path(current_app.static_folder or "static"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pdf.data)
    tmp.replace(path)
    report.sha256 = hashlib.sha256(pdf.data).hexdigest()
    report.size = len(pdf.data)
    report.pages = pdf.pages
    report.status = "done"
    report.progress = 100
    report.finished_at = utcnow()
    report.render_ms = int((time.perf_counter() - started) * 1000)
    db.session.flush()
    audit.record("report.generated", "report", report.document_id, {
        "kind": report.kind, "seller_id": report.seller_id,
        "from": report.date_from.isoformat(), "to": report.date_to.isoformat(),
        "sha256": report.sha256, "pages": report.pages, "size": report.size})
    return report


def fail(report: Report, message: str) -> None:
    """Record that rendering failed, with the reason shown on the report page."""
    report.status = "failed"
    report.message = message[:2000]
    report.finished_at = utcnow()
    db.session.flush()


def render_now(report: Report) -> Report:
    """Render a report in one go (small dossiers, the CLI); commits as it goes."""
    started = time.perf_counter()
    report.status, report.started_at = "rendering", utcnow()
    return store(report, layout(report), started)


def requeue_stale(older_than: timedelta = timedelta(minutes=15)) -> int:
    """Put reports left "rendering" by a stopped worker back in the queue."""
    result = db.session.execute(update(Report).where(
        Report.status == "rendering", Report.started_at < utcnow() - older_than).values(
        status="queued", progress=0))
    return int(result.rowcount)  # type: ignore[attr-defined]


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
    plan = decisions.current_plan()
    path: list[float] = []
    s = 0.0
    for o in sorted((o for o in orders if o.id in inspections),
                    key=lambda o: (o.inspected_at or o.planned_at, o.id)):
        s = cusum_step(s, inspections[o.id].verdict in DEFECT_VERDICTS, plan.main)
        path.append(s)
    settings = qc_services.current_settings()
    runs = list(db.session.execute(select(PlanningRun).where(
        PlanningRun.period >= f"{date_from:%Y-%m}", PlanningRun.period <= f"{date_to:%Y-%m}")
        .order_by(PlanningRun.period)).scalars())
    app_ids = [str(a.id) for a in applications]
    order_ids = [str(i) for i in db.session.execute(
        select(TestOrder.id).where(TestOrder.seller_id == seller.id)).scalars()]
    about_seller = or_(
        and_(AuditEntry.entity_type == "seller", AuditEntry.entity_id == str(seller.id)),
        and_(AuditEntry.entity_type == "application", AuditEntry.entity_id.in_(app_ids)),
        and_(AuditEntry.entity_type == "test_order", AuditEntry.entity_id.in_(order_ids)))
    trail = list(db.session.execute(
        select(AuditEntry).where(AuditEntry.at >= start, AuditEntry.at < end, about_seller)
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
                 "rates": qc_services.settings_rates(settings), "ps": OC_PS, "ns": OC_NS,
                 "oc": oc_table(OC_PS, OC_NS, plan.main)},
        "runs": [_run_summary(r) for r in runs],
        "signals": asdict(qc_services.signals_between(seller.id, date_from, date_to)),
        "trail": [{"seq": t.seq, "at": t.at, "actor": t.actor, "action": t.action,
                   "entity": f"{t.entity_type} {t.entity_id}", "hash": t.hash}
                  for t in trail],
        "chain_head": audit.head_hash(), "chain_entries": audit.count_entries(),
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
    settings = qc_services.current_settings()
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
    preview = qc_services.plan_preview(decisions.plan_params(settings),
                                       qc_services.settings_rates(settings))
    overdue_orders = count(TestOrder.status == OrderStatus.PLANNED.value,
                           TestOrder.planned_at < now - OVERDUE_AFTER)
    stale_applications = db.session.execute(select(func.count()).select_from(Application).where(
        Application.status.in_([s.value for s in OPEN_STATUSES]),
        Application.status_changed_at < now - timedelta(days=30))).scalar_one()
    labels_past_end = db.session.execute(select(func.count()).select_from(Seller).where(
        Seller.label_status.in_([LabelStatus.ACTIVE.value, LabelStatus.PROBATION.value]),
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
        "expected_wrongful": preview["expected_wrongful"], "labelled": preview["sellers"],
        "review_ages": {"pending": len(ages), "oldest": ages[-1] if ages else None,
                        "median": statistics.median(ages) if ages else None},
        "overdue": {"planned orders more than 2 days late": overdue_orders,
                    "applications unchanged for 30 days": stale_applications,
                    "labels past their end date": labels_past_end},
        "chain_head": audit.head_hash(),
    }
