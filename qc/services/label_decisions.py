"""Label decisions from inspection results: statistics, sampling state, suspensions, renewal.

Called inside the transaction of the inspection (or label change, or decided critical
finding) that triggers it, so a decision and its cause commit together. Every replay folds
the verdicts orders count with (`qc.decisions.compute_effective_verdict`: a critical finding
awaiting confirmation is left out, a rejected one counts with its re-scored verdict).

The nightly replay (`evaluate_fleet`, `qc evaluate`) has authority over labels in one way
only: when the replay of a label in force holds a signal (S reaching h, or a counted critical
verdict) that no suspension followed, it suspends the label pending review, saying it was
found by the nightly replay, and a compliance officer decides as for any automatic
suspension. Statistics that differ from the replay are corrected with an audit entry, as
before, and never suspend by themselves; the replay never lifts a suspension, ends probation
or decides a critical finding. A signal no suspension followed should not exist (every
decision replays what it changes), so this catches history written around these rules: an
amendment recorded before amendments replayed the whole epoch, or a lost write.

Flushes; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from markupsafe import Markup
from sqlalchemy import func, select

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from qc.chart import render_cusum_svg
from qc.decisions import (
    DEFECT_VERDICTS,
    Action,
    Confirmation,
    Decision,
    DecisionPlan,
    FindingStatus,
    HistoryOrder,
    LabelYear,
    Replayed,
    SellerStats,
    compute_conditional_renewal,
    compute_confirmation,
    compute_decision,
    compute_effective_verdict,
    compute_history,
    compute_overturned,
    compute_pending_critical,
    compute_reinstated,
    compute_renewal,
    compute_replay_decision,
    compute_sampling_state,
    order_ref,
)
from qc.events import InspectionRecorded, PlanChanged
from qc.models import (
    CriticalFinding,
    Inspection,
    SamplingStateChange,
    SellerStatistics,
    TestOrder,
)
from qc.orders import FailureSide, OrderStatus
from qc.services.marketplace_signals import seller_signals
from qc.services.plan_settings import current_plan
from qc.snapshots import (
    compute_snapshot,
    confirmation_snapshot,
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


def _counted(verdict: str, finding: str | None, rescored: str | None) -> str | None:
    return compute_effective_verdict(verdict, finding, rescored)


def epoch_history(seller_id: int, since: datetime) -> list[HistoryOrder]:
    """The seller's orders inspected since `since`, in order, each with the verdict it counts
    with (None: a critical finding awaiting confirmation)."""
    return [HistoryOrder(o, at, _counted(v, status, rescored)) for o, at, v, status, rescored
            in db.session.execute(
                select(TestOrder.id, TestOrder.inspected_at, Inspection.verdict,
                       CriticalFinding.status, CriticalFinding.rescored_verdict)
                .join(Inspection, Inspection.order_id == TestOrder.id)
                .outerjoin(CriticalFinding, CriticalFinding.inspection_id == Inspection.id)
                .where(TestOrder.seller_id == seller_id, Inspection.is_current.is_(True),
                       TestOrder.inspected_at > since)
                .order_by(TestOrder.inspected_at, TestOrder.id))]


def epoch_verdicts(seller_id: int, since: datetime) -> list[tuple[int, str]]:
    """(order id, verdict it counts with) of the seller's orders inspected since `since`, in
    order; an order whose critical finding awaits confirmation is not counted yet."""
    return [(o.order_id, o.verdict) for o in epoch_history(seller_id, since)
            if o.verdict is not None]


def has_pending_critical(seller_id: int) -> bool:
    """True while a critical finding of the seller waits for a second inspector."""
    return db.session.execute(select(CriticalFinding.id).where(
        CriticalFinding.seller_id == seller_id,
        CriticalFinding.status == FindingStatus.PENDING.value).limit(1)).first() is not None


def suspension_times(seller_id: int, since: datetime) -> list[datetime]:
    """When the seller's label was suspended since `since` (signals before these were acted
    on)."""
    return list(db.session.execute(select(LabelEvent.at).where(
        LabelEvent.seller_id == seller_id, LabelEvent.to_status == LabelStatus.SUSPENDED,
        LabelEvent.at >= since)).scalars())


def replay_epoch(seller_id: int, row: SellerStatistics, plan: DecisionPlan) -> Replayed:
    """The seller's current epoch replayed with the verdicts its orders count with."""
    return compute_history(epoch_start(row), epoch_history(seller_id, row.epoch_at), plan,
                           suspension_times(seller_id, row.epoch_at))


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


def _apply(seller: Seller, row: SellerStatistics, decision: Decision, plan: DecisionPlan,
           order: str, extra: Mapping[str, Any] | None = None, why: str | None = None) -> None:
    """Store the decision's statistics and take its label action and sampling state, with the
    statistics snapshot (plus `extra`) on the label event and the audit entries."""
    _store(row, decision.stats)
    flush_or_conflict("seller statistics")
    state = decision.sampling_state
    new_state = state.value if state is not None else None
    if decision.action == Action.NONE and seller.sampling_state == new_state:
        return  # the common case: nothing to record, and no history to read for a snapshot
    snap = {**snapshot(seller, row, plan, order), **(extra or {})}
    if decision.action == Action.SUSPEND:
        change_label(seller, LabelStatus.SUSPENDED, decision.reason, None, pending_review=True,
                     snapshot=snap)
    elif decision.action == Action.END_PROBATION:
        change_label(seller, LabelStatus.ACTIVE, decision.reason, None, snapshot=snap)
    if seller.sampling_state != new_state:
        _record_state_change(seller, new_state, snap, why)


def _counted_now(inspection_id: int, verdict: str) -> str | None:
    finding = db.session.execute(select(CriticalFinding.status, CriticalFinding.rescored_verdict)
                                 .where(CriticalFinding.inspection_id == inspection_id)).first()
    return _counted(verdict, *finding) if finding is not None else verdict


def on_inspection(event: InspectionRecorded) -> None:
    """Update the seller's statistics after an inspection submission or amendment.

    A new critical verdict awaits confirmation (not counted; sampling tightened); an amendment
    replays the epoch and suspends on any signal in it that was never acted on.
    """
    lock(f"seller-statistics:{event.seller_id}")
    seller = db.session.get(Seller, event.seller_id)
    if seller is None:  # the order references it; nothing to decide otherwise
        return
    row = statistics_row(seller.id)
    plan = current_plan()
    ref = order_ref(event.order_id)
    pending = has_pending_critical(seller.id)
    why = None
    if event.amended:
        decision = compute_replay_decision(_label(seller), replay_epoch(seller.id, row, plan),
                                           plan, f"After the amendment of {ref}", pending)
    else:
        counted = _counted_now(event.inspection_id, event.verdict)
        if counted is None:
            decision = compute_pending_critical(_label(seller), to_stats(row), plan, ref)
            why = "critical finding awaits confirmation"
        else:
            decision = compute_decision(_label(seller), to_stats(row), counted, plan, ref,
                                        pending)
    _apply(seller, row, decision, plan, ref, why=why)


def on_finding_decided(finding: CriticalFinding, found_by: str, decided_by: str) -> None:
    """A second inspector decided a critical finding: replay the epoch with the order counted
    as critical (confirmed: suspend pending review at once, when the label is in force) or
    with its re-scored verdict (rejected: suspend only on a signal never acted on)."""
    seller = db.session.get(Seller, finding.seller_id)
    if seller is None:
        return
    row = statistics_row(seller.id)
    plan = current_plan()
    ref = order_ref(finding.order_id)
    replayed = replay_epoch(seller.id, row, plan)
    pending = has_pending_critical(seller.id)
    decided_on = (finding.decided_at or utcnow()).date()
    if finding.status == FindingStatus.CONFIRMED.value:
        confirmation = Confirmation(ref, tuple(finding.checkpoint_codes), found_by,
                                    decided_by, decided_on)
        decision = compute_confirmation(_label(seller), replayed, plan, confirmation, pending)
        _apply(seller, row, decision, plan, ref, confirmation_snapshot(confirmation,
                                                                       finding.reason),
               "critical finding confirmed")
    else:
        decision = compute_replay_decision(
            _label(seller), replayed, plan,
            f"After the critical finding on {ref} was rejected by a second inspector (the "
            f"order counts as {finding.rescored_verdict})", pending)
        _apply(seller, row, decision, plan, ref, why="critical finding rejected")


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


def restart_after_overturn(seller: Seller) -> SellerStatistics:
    """Restart the statistics of a seller whose suspension a reviewer overturned, with the
    head start OVERTURN_HEAD_START x h (see `qc.decisions.compute_overturned`)."""
    row = statistics_row(seller.id)
    restart(row, compute_overturned(to_stats(row), current_plan(),
                                    float(current_app.config["OVERTURN_HEAD_START"])))
    db.session.flush()
    return row


def refresh_sampling_state(seller: Seller, why: str = "label change") -> None:
    """Set the sampling state the statistics call for, recording a change in the audit."""
    row = statistics_row(seller.id)
    plan = current_plan()
    state = compute_sampling_state(_label(seller), to_stats(row), plan,
                                   has_pending_critical(seller.id))
    new = state.value if state is not None else None
    if seller.sampling_state != new:
        _record_state_change(seller, new, snapshot(seller, row, plan), why)


# ---------------------------------------------------------------- fleet evaluation


@dataclass(frozen=True)
class Correction:
    """A seller whose stored statistics differed from the replay of its history, or whose
    replay holds a signal that was never acted on (`suspension`: the reason of the suspension
    pending review the nightly replay took, or would take on a dry run; empty otherwise)."""

    seller_id: int
    differences: dict[str, tuple[Any, Any]]
    suspension: str = ""


NIGHTLY_CAUSE = "Found by the nightly replay of the inspection history, never acted on"


def evaluate_fleet(fix: bool = True) -> tuple[int, list[Correction]]:
    """Replay every seller's history in one ordered scan, correct statistics that differ, and
    suspend (pending review) a label in force whose replay holds a signal no suspension
    followed; see the module docstring of `qc.decisions` and README, "Label decisions"."""
    plan = current_plan()
    rows = {r.seller_id: r for r in db.session.execute(select(SellerStatistics)).scalars()}
    history = db.session.execute(
        select(TestOrder.seller_id, TestOrder.id, TestOrder.inspected_at, Inspection.verdict,
               CriticalFinding.status, CriticalFinding.rescored_verdict)
        .join(Inspection, Inspection.order_id == TestOrder.id)
        .outerjoin(CriticalFinding, CriticalFinding.inspection_id == Inspection.id)
        .where(Inspection.is_current.is_(True))
        .order_by(TestOrder.seller_id, TestOrder.inspected_at, TestOrder.id))
    orders: dict[int, list[HistoryOrder]] = {}
    for seller_id, order_id, inspected_at, verdict, status, rescored in history:
        row = rows.get(seller_id)
        if row is not None and inspected_at > row.epoch_at:
            orders.setdefault(seller_id, []).append(
                HistoryOrder(order_id, inspected_at, _counted(verdict, status, rescored)))
    in_force = set(db.session.execute(select(Seller.id).where(
        Seller.label_status.in_(IN_FORCE))).scalars())
    corrections = []
    for seller_id, row in rows.items():
        replayed = compute_history(epoch_start(row), orders.get(seller_id, ()), plan)
        suspend = replayed.unacted is not None and seller_id in in_force
        if suspend:  # rare: read when the label was suspended since the epoch began
            replayed = compute_history(epoch_start(row), orders[seller_id], plan,
                                       suspension_times(seller_id, row.epoch_at))
            suspend = replayed.unacted is not None
        stored = to_stats(row)
        diff = {f: (getattr(stored, f), getattr(replayed.stats, f)) for f in STAT_FIELDS
                if not _same(getattr(stored, f), getattr(replayed.stats, f))}
        if not diff and not suspend:
            continue
        seller = db.session.get(Seller, seller_id)
        decision = compute_replay_decision(
            _label(seller), replayed, plan, NIGHTLY_CAUSE, has_pending_critical(seller_id)
        ) if suspend and seller is not None else None
        corrections.append(Correction(seller_id, diff, decision.reason if decision else ""))
        if not fix:
            continue
        if diff:
            _store(row, replayed.stats)
            if seller is not None:
                refresh_sampling_state(seller, "nightly replay")
            audit.record("statistics.corrected", "seller", seller_id, {
                "reason": "the nightly replay of the inspection history differs from "
                          "the stored statistics",
                "differences": {k: {"stored": a, "replayed": b} for k, (a, b) in diff.items()}})
        if seller is not None and decision is not None and replayed.unacted is not None:
            _apply(seller, row, decision, plan, replayed.unacted.ref, why="nightly replay")
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
    """Counts of the verdicts orders count with per seller, over all time; critical findings
    awaiting confirmation are counted apart, as "pending_critical"."""
    ids = list(seller_ids)
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    for seller_id, verdict, finding, rescored, n in db.session.execute(
            select(TestOrder.seller_id, Inspection.verdict, CriticalFinding.status,
                   CriticalFinding.rescored_verdict, func.count())
            .join(Inspection, Inspection.order_id == TestOrder.id)
            .outerjoin(CriticalFinding, CriticalFinding.inspection_id == Inspection.id)
            .where(Inspection.is_current.is_(True), TestOrder.seller_id.in_(ids))
            .group_by(TestOrder.seller_id, Inspection.verdict, CriticalFinding.status,
                      CriticalFinding.rescored_verdict)):
        counted = _counted(verdict, finding, rescored) or "pending_critical"
        out[seller_id][counted] = out[seller_id].get(counted, 0) + n
    return out


def epoch_path(seller_id: int, row: SellerStatistics, plan: DecisionPlan) -> list[float]:
    """S after each order counted in the current epoch."""
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
    pending = counts.pop("pending_critical", 0)
    inspected = sum(counts.values())
    defects = counts.get("major", 0) + counts.get("critical", 0)
    low, high = clopper_pearson(defects, inspected)
    return {"cusum_svg": Markup(render_cusum_svg(  # noqa: S704 - the SVG escapes its text
                path, plan.main.h, plan.tighten_at, title=f"CUSUM of {seller.display_name}",
                s0=start)),
            "statistics": row, "verdict_counts": counts, "inspected": inspected,
            "defects": defects, "bounds": (low, high), "h": plan.main.h,
            "pending_critical": pending,
            "signals": seller_signals(seller.id)}
