"""Label decisions from inspection results: statistics, sampling state, suspensions, renewal.

Called inside the transaction of the inspection (or label change) that triggers it, so a
decision and its cause commit together. Flushes; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from qc.chart import render_cusum_svg
from qc.decisions import (
    DEFECT_VERDICTS,
    Action,
    DecisionPlan,
    LabelYear,
    SellerStats,
    compute_amendment,
    compute_conditional_renewal,
    compute_decision,
    compute_reinstated,
    compute_renewal,
    compute_replay,
    compute_sampling_state,
)
from qc.events import InspectionRecorded, PlanChanged
from qc.models import Inspection, SamplingStateChange, SellerStatistics, TestOrder
from qc.orders import FailureSide, OrderStatus
from qc.services.marketplace_signals import seller_signals
from qc.services.plan_settings import current_plan
from qc.snapshots import (
    compute_snapshot,
    epoch_stats_from_json,
    epoch_stats_json,
    state_change_payload,
)
from qc.stats import clopper_pearson, cusum_step
from vetting.events import LabelChanged
from vetting.labels import (
    IN_FORCE,
    LabelEventKind,
    LabelStatus,
    compute_label_end,
    compute_label_event_kind,
)
from vetting.models import LabelEvent, Seller
from vetting.services.labels import change_label

STAT_FIELDS = ("s", "minor_s", "clean_run", "onboarding", "inspected", "defects", "minor",
               "critical")


def _label(seller: Seller) -> LabelStatus | None:
    return LabelStatus(seller.label_status) if seller.label_status else None


def to_stats(row: SellerStatistics) -> SellerStats:
    """The pure statistics held by a row."""
    return SellerStats(**{f: getattr(row, f) for f in STAT_FIELDS})


def _store(row: SellerStatistics, stats: SellerStats) -> None:
    for f in STAT_FIELDS:
        setattr(row, f, getattr(stats, f))
    row.updated_at = utcnow()


def epoch_start(row: SellerStatistics) -> SellerStats:
    """The statistics a replay starts from (the last grant, reinstatement or renewal)."""
    return epoch_stats_from_json(row.epoch_stats)


def statistics_row(seller_id: int) -> SellerStatistics:
    """The seller's statistics, created at their defaults on first use."""
    row = db.session.get(SellerStatistics, seller_id)
    if row is None:
        row = SellerStatistics(seller_id=seller_id, epoch_at=datetime(1970, 1, 1),
                               epoch_stats="{}")
        db.session.add(row)
        db.session.flush()
    return row


def restart(row: SellerStatistics, stats: SellerStats) -> None:
    """Start a new epoch from `stats` now (grant, reinstatement, conditional renewal)."""
    row.epoch_at = utcnow()
    row.epoch_stats = epoch_stats_json(stats)
    _store(row, stats)


def epoch_verdicts(seller_id: int, since: datetime) -> list[tuple[int, str]]:
    """(order id, verdict in force) of the seller's orders inspected since `since`, in order."""
    return [(o, v) for o, v in db.session.execute(
        select(TestOrder.id, Inspection.verdict)
        .join(Inspection, Inspection.order_id == TestOrder.id)
        .where(TestOrder.seller_id == seller_id, Inspection.is_current.is_(True),
               TestOrder.inspected_at > since)
        .order_by(TestOrder.inspected_at, TestOrder.id)).all()]


def snapshot(seller: Seller, row: SellerStatistics, plan: DecisionPlan,
             order_ref: str = "") -> dict[str, Any]:
    """The statistics behind a decision, for the label event and the audit trail."""
    return compute_snapshot(to_stats(row), epoch_path(seller.id, row, plan), plan, order_ref)


def _record_state_change(seller: Seller, new_state: str | None, snap: dict[str, Any],
                         why: str | None = None) -> None:
    """Set the sampling state, with its change row and audit entry."""
    before = seller.sampling_state
    seller.sampling_state = new_state
    db.session.add(SamplingStateChange(seller_id=seller.id, from_state=before,
                                       to_state=new_state, why=why, at=utcnow()))
    audit.record("sampling.state_changed", "seller", seller.id,
                 state_change_payload(before, new_state, snap, why))


def _apply(seller: Seller, row: SellerStatistics, action: Action, reason: str,
           state: Any, plan: DecisionPlan, order_ref: str) -> None:
    new_state = state.value if state is not None else None
    if action == Action.NONE and seller.sampling_state == new_state:
        return  # the common case: nothing to record, and no history to read for a snapshot
    snap = snapshot(seller, row, plan, order_ref)
    if action == Action.SUSPEND:
        change_label(seller, LabelStatus.SUSPENDED, reason, None, pending_review=True,
                     snapshot=snap)
    elif action == Action.END_PROBATION:
        change_label(seller, LabelStatus.ACTIVE, reason, None, snapshot=snap)
    if seller.sampling_state != new_state:
        _record_state_change(seller, new_state, snap)


def on_inspection(event: InspectionRecorded) -> None:
    """Update the seller's statistics after an inspection submission or amendment."""
    lock(f"seller-statistics:{event.seller_id}")
    seller = db.session.get(Seller, event.seller_id)
    if seller is None:  # the order references it; nothing to decide otherwise
        return
    row = statistics_row(seller.id)
    plan = current_plan()
    before = to_stats(row)
    ref = f"test order #{event.order_id}"
    if event.amended:
        history = epoch_verdicts(seller.id, row.epoch_at)
        decision = compute_amendment(
            _label(seller), before, compute_replay([v for _, v in history], plan,
                                                   epoch_start(row)),
            event.verdict, event.previous_verdict, plan, ref,
            in_epoch=any(order_id == event.order_id for order_id, _ in history))
    else:
        decision = compute_decision(_label(seller), before, event.verdict, plan, ref)
    _store(row, decision.stats)
    flush_or_conflict("seller statistics")
    _apply(seller, row, decision.action, decision.reason, decision.sampling_state, plan, ref)


def on_label_changed(event: LabelChanged) -> None:
    """Restart the statistics when a label is granted anew."""
    kind = compute_label_event_kind(
        LabelStatus(event.from_status) if event.from_status else None,
        LabelStatus(event.to_status), event.renewal)
    if kind == LabelEventKind.GRANT:
        restart(statistics_row(event.seller_id), SellerStats())
        db.session.flush()


def on_plan_changed(event: PlanChanged) -> None:
    """A new CUSUM plan applies from now on: every seller's replay starts at today's values,
    so past orders are never re-scored with parameters that were not in force."""
    for row in db.session.execute(select(SellerStatistics)).scalars():
        restart(row, to_stats(row))
    db.session.flush()


def reinstate(seller: Seller) -> SellerStatistics:
    """Restart statistics for probation: head start h/2, tightened sampling."""
    row = statistics_row(seller.id)
    plan = current_plan()
    restart(row, compute_reinstated(to_stats(row), plan))
    seller.sampling_state = compute_sampling_state(LabelStatus.PROBATION, to_stats(row),
                                                   plan).value  # type: ignore[union-attr]
    db.session.flush()
    return row


def refresh_sampling_state(seller: Seller, why: str = "label change") -> None:
    """Set the sampling state the statistics call for, recording a change in the audit."""
    row = statistics_row(seller.id)
    plan = current_plan()
    state = compute_sampling_state(_label(seller), to_stats(row), plan)
    new = state.value if state is not None else None
    if seller.sampling_state != new:
        _record_state_change(seller, new, snapshot(seller, row, plan), why)


# ---------------------------------------------------------------- fleet evaluation


@dataclass(frozen=True)
class Correction:
    """A seller whose stored statistics differed from the replay of its history."""

    seller_id: int
    differences: dict[str, tuple[Any, Any]]


def evaluate_fleet(fix: bool = True) -> tuple[int, list[Correction]]:
    """Replay every seller's history in one ordered scan and correct what differs."""
    plan = current_plan()
    rows = {r.seller_id: r for r in db.session.execute(select(SellerStatistics)).scalars()}
    history = db.session.execute(
        select(TestOrder.seller_id, TestOrder.inspected_at, Inspection.verdict)
        .join(Inspection, Inspection.order_id == TestOrder.id)
        .where(Inspection.is_current.is_(True))
        .order_by(TestOrder.seller_id, TestOrder.inspected_at, TestOrder.id))
    verdicts: dict[int, list[str]] = {}
    for seller_id, inspected_at, verdict in history:
        row = rows.get(seller_id)
        if row is not None and inspected_at > row.epoch_at:
            verdicts.setdefault(seller_id, []).append(verdict)
    corrections = []
    for seller_id, row in rows.items():
        replayed = compute_replay(verdicts.get(seller_id, ()), plan, epoch_start(row))
        stored = to_stats(row)
        diff = {f: (getattr(stored, f), getattr(replayed, f)) for f in STAT_FIELDS
                if not _same(getattr(stored, f), getattr(replayed, f))}
        if diff:
            corrections.append(Correction(seller_id, diff))
            if fix:
                _store(row, replayed)
                seller = db.session.get(Seller, seller_id)
                if seller is not None:
                    refresh_sampling_state(seller, "nightly replay")
                audit.record("statistics.corrected", "seller", seller_id, {
                    "reason": "the nightly replay of the inspection history differs from "
                              "the stored statistics",
                    "differences": {k: {"stored": a, "replayed": b} for k, (a, b) in diff.items()}})
    db.session.flush()
    return len(rows), corrections


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) < 1e-9
    return bool(a == b)


# ---------------------------------------------------------------- renewal


def label_year(seller_id: int, start: date, end: date) -> LabelYear:
    """What the anniversary decision counts for the label year from `start` to `end` (both
    days included): suspensions, orders planned, orders inspected, and the planned orders
    cancelled or lost on the seller's side."""
    def count(*where: Any) -> int:
        return int(db.session.execute(select(func.count()).select_from(TestOrder).where(
            TestOrder.seller_id == seller_id, *where)).scalar_one())

    def within(column: Any) -> tuple[Any, Any]:
        return func.date(column) >= start, func.date(column) <= end

    suspended = db.session.execute(select(func.count()).select_from(LabelEvent).where(
        LabelEvent.seller_id == seller_id, LabelEvent.to_status == LabelStatus.SUSPENDED,
        *within(LabelEvent.at))).scalar_one()
    return LabelYear(
        suspended=int(suspended), planned=count(*within(TestOrder.planned_at)),
        inspected=count(TestOrder.inspected_at.is_not(None), *within(TestOrder.inspected_at)),
        seller_side=count(*within(TestOrder.planned_at),
                          TestOrder.status.in_([OrderStatus.CANCELLED.value,
                                                OrderStatus.LOST.value]),
                          TestOrder.failure_side == FailureSide.SELLER.value))


def renew_labels(today: date) -> list[tuple[Seller, bool]]:
    """Renew labels at their anniversary: fully unless suspended in the year or short of six
    inspected orders through orders that failed on the seller's side (``compute_renewal``);
    otherwise conditionally (back to onboarding-rate sampling)."""
    due = list(db.session.execute(select(Seller).where(
        Seller.label_status.in_(IN_FORCE),
        Seller.label_valid_until <= today).order_by(Seller.id)).scalars())
    out = []
    for seller in due:
        start, end = seller.label_valid_from, seller.label_valid_until
        if start is None or end is None:  # labels in force always have dates
            continue
        renewal = compute_renewal(label_year(seller.id, start, end), start, end)
        full, reason = renewal.full, renewal.reason
        seller.label_valid_from = end
        seller.label_valid_until = compute_label_end(end)
        row = statistics_row(seller.id)
        if not full:
            restart(row, compute_conditional_renewal(to_stats(row)))
        change_label(seller, LabelStatus(seller.label_status), reason, None,
                     snapshot=snapshot(seller, row, current_plan()),
                     renewal="full" if full else "conditional")
        refresh_sampling_state(seller, "renewal")
        out.append((seller, full))
    db.session.flush()
    return out


def verdict_counts(seller_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Counts of verdicts in force per seller, over all time."""
    ids = list(seller_ids)
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    for seller_id, verdict, n in db.session.execute(
            select(TestOrder.seller_id, Inspection.verdict, func.count())
            .join(Inspection, Inspection.order_id == TestOrder.id)
            .where(Inspection.is_current.is_(True), TestOrder.seller_id.in_(ids))
            .group_by(TestOrder.seller_id, Inspection.verdict)):
        out[seller_id][verdict] = n
    return out


def epoch_path(seller_id: int, row: SellerStatistics, plan: DecisionPlan) -> list[float]:
    """S after each order inspected in the current epoch."""
    s, path = epoch_start(row).s, []
    for _, verdict in epoch_verdicts(seller_id, row.epoch_at):
        s = cusum_step(s, verdict in DEFECT_VERDICTS, plan.main)
        path.append(s)
    return path


def seller_summary(seller: Seller) -> dict[str, Any]:
    """The statistics shown on a seller's page: chart, counts, defect-rate bounds, signals."""
    row = db.session.get(SellerStatistics, seller.id)
    plan = current_plan()
    path = epoch_path(seller.id, row, plan) if row is not None else []
    start = epoch_start(row).s if row is not None else 0.0
    counts = verdict_counts([seller.id])[seller.id]
    inspected = sum(counts.values())
    defects = counts.get("major", 0) + counts.get("critical", 0)
    low, high = clopper_pearson(defects, inspected)
    return {"cusum_svg": Markup(render_cusum_svg(  # noqa: S704 - the SVG escapes its text
                path, plan.main.h, plan.tighten_at, title=f"CUSUM of {seller.display_name}",
                s0=start)),
            "statistics": row, "verdict_counts": counts, "inspected": inspected,
            "defects": defects, "bounds": (low, high), "h": plan.main.h,
            "signals": seller_signals(seller.id)}
