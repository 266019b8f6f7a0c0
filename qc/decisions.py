"""What an inspected order means for a seller: statistics, sampling state, label action (pure).

The rules of DESIGN.md section 4. A *defect* is a major or critical verdict; a *clean* order is
any other (conforming or minor). The main CUSUM runs on defects; a second CUSUM runs on minor
verdicts and only tightens sampling. After every inspected order the seller's state is, in
order of precedence: none (label not in force), tightened (S >= 1.0, the minor CUSUM at or above
its threshold, the label on probation, or a critical finding awaiting confirmation), reduced
(14 clean orders in a row), onboarding (a new or conditionally renewed label whose run has not
reached 14), normal. A confirmed critical verdict, or the main CUSUM signalling, suspends the
label pending review; a probation label becomes active again after 14 clean orders in a row
(not while a critical finding awaits confirmation).

Critical verdicts count only once confirmed ("Restarts" in DESIGN.md section 4). A critical
verdict opens a *finding* that a second inspector, not the one who recorded the inspection,
confirms or rejects on the same device within a deadline of business days
(``compute_confirmation_due``). Until then the order is left out of both CUSUMs
(``compute_effective_verdict`` gives None) and the seller's sampling is tightened. Confirmed,
the order counts as critical and the label is suspended pending review at once (zero
tolerance, ``compute_confirmation``). Rejected, the order counts with the verdict its other
results give, re-scored without the critical failures (``qc.scoring``). Nothing decides a
finding by itself: past its deadline it is marked overdue and still waits for an inspector,
since a finding confirmed or rejected by the calendar would be neither evidence nor its
absence. A critical verdict recorded before confirmations existed has no finding and counts
as critical, as it did when it was decided.

A signal is an order at which S reaches h from below, or a further defect while S is at or
above h (S can stand there with the label in force when a plan change lowered h); a clean
order never signals. Replays (an amendment, a decided finding, the nightly check) fold the
effective verdicts of the epoch and act on the first signal anywhere in it that no suspension
followed (``compute_history``), not only on the final S. An overturned suspension restarts the
statistics with a head start (``compute_overturned``), like reinstatement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from qc.stats import (
    DEFAULT_MINOR_PLAN,
    DEFAULT_PLAN,
    Increments,
    PlanParams,
    compute_increments,
    cusum_step,
)
from vetting.labels import IN_FORCE, LabelStatus, SamplingState

DEFECT_VERDICTS = frozenset({"major", "critical"})
TIGHTEN_AT = 1.0
OVERTURN_HEAD_START = 0.5  # S0 = h/2 after an overturned suspension (core.config's default)
CONFIRMATION_BUSINESS_DAYS = 3  # a critical finding's deadline (core.config's default)


@dataclass(frozen=True)
class DecisionPlan:
    """The increments and thresholds decisions are taken with."""

    main: Increments
    minor: Increments
    params: PlanParams
    minor_params: PlanParams
    tighten_at: float = TIGHTEN_AT


def compute_decision_plan(params: PlanParams = DEFAULT_PLAN,
                          minor_params: PlanParams = DEFAULT_MINOR_PLAN,
                          h: float | None = None) -> DecisionPlan:
    """The decision plan for the given CUSUM parameters; ``h`` replaces the main CUSUM's
    threshold (the one the budget allows, qc.allocation.choose_h), the increments stay."""
    main = compute_increments(params)
    if h is not None:
        main = replace(main, h=h)
    return DecisionPlan(main, compute_increments(minor_params), params, minor_params)


@dataclass(frozen=True)
class SellerStats:
    """A seller's running statistics since the last restart (grant or reinstatement)."""

    s: float = 0.0
    minor_s: float = 0.0
    clean_run: int = 0
    onboarding: bool = True
    inspected: int = 0
    defects: int = 0
    minor: int = 0
    critical: int = 0


class Action(StrEnum):
    """What the label should do after an order."""

    NONE = "none"
    SUSPEND = "suspend"
    END_PROBATION = "end_probation"


@dataclass(frozen=True)
class Decision:
    """The statistics after an order, the sampling state, and any label action with why."""

    stats: SellerStats
    sampling_state: SamplingState | None
    action: Action
    reason: str


def order_ref(order_id: int) -> str:
    """How decisions and snapshots name a test order."""
    return f"test order #{order_id}"


# ---------------------------------------------------------------- critical findings


class FindingStatus(StrEnum):
    """Where a critical finding stands (stored as its string value)."""

    PENDING = "pending"  # waits for a second inspector; the order is not counted yet
    CONFIRMED = "confirmed"  # the order counts as critical
    REJECTED = "rejected"  # the order counts with its re-scored verdict
    WITHDRAWN = "withdrawn"  # an amendment removed the critical verdict before a decision


# The finding's state machine: only a pending finding is decided (or withdrawn), once.
FINDING_TRANSITIONS: dict[FindingStatus, frozenset[FindingStatus]] = {
    FindingStatus.PENDING: frozenset({FindingStatus.CONFIRMED, FindingStatus.REJECTED,
                                      FindingStatus.WITHDRAWN}),
    FindingStatus.CONFIRMED: frozenset(),
    FindingStatus.REJECTED: frozenset(),
    FindingStatus.WITHDRAWN: frozenset(),
}


class FindingTransitionError(ValueError):
    """A critical finding cannot move from its status to the one asked for."""


def ensure_finding_transition(current: FindingStatus, target: FindingStatus) -> None:
    """Raise FindingTransitionError unless ``current -> target`` is in FINDING_TRANSITIONS."""
    if target not in FINDING_TRANSITIONS[current]:
        raise FindingTransitionError(f"A {current.value} critical finding cannot become "
                                     f"{target.value}.")


def compute_effective_verdict(verdict: str, finding: str | None = None,
                              rescored: str | None = None) -> str | None:
    """The verdict an inspected order counts with in the statistics, or None while its
    critical finding awaits confirmation.

    ``verdict`` is the verdict of the inspection version in force, ``finding`` the status of
    the critical finding on that version (None: there is none; a critical verdict without one
    was recorded before confirmations existed and counts as critical), ``rescored`` the
    verdict of the other results of a rejected finding.
    """
    if verdict != "critical" or finding is None:
        return verdict
    status = FindingStatus(finding)
    if status == FindingStatus.PENDING:
        return None
    if status == FindingStatus.CONFIRMED:
        return "critical"
    if status == FindingStatus.REJECTED:
        if rescored is None or rescored == "critical":
            raise ValueError("A rejected critical finding counts with the verdict of the "
                             "order's other results, which cannot be critical.")
        return rescored
    raise ValueError("A withdrawn critical finding belongs to a superseded inspection version.")


def compute_confirmation_due(opened_on: date, business_days: int) -> date:
    """The last day a critical finding opened on ``opened_on`` should be decided: that many
    business days later (Monday to Friday; holidays are not excluded)."""
    if business_days < 1:
        raise ValueError("The confirmation deadline is at least one business day.")
    day, left = opened_on, business_days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def compute_is_overdue(due_on: date, today: date) -> bool:
    """True once the deadline day of a pending finding has passed (it still waits)."""
    return today > due_on


@dataclass(frozen=True)
class Confirmation:
    """A critical finding a second inspector confirmed on the device."""

    order_ref: str
    checkpoints: tuple[str, ...]  # the critical checkpoints that failed
    found_by: str  # the inspector who recorded the critical verdict
    confirmed_by: str
    confirmed_on: date

    def sentence(self) -> str:
        """The confirmation in words, for suspension reasons and snapshots."""
        failed = ", ".join(self.checkpoints) or "a critical checkpoint"
        return (f"Critical verdict on {self.order_ref} ({failed} failed) recorded by "
                f"{self.found_by} and confirmed on the device by a second inspector, "
                f"{self.confirmed_by}, on {self.confirmed_on}")


# ---------------------------------------------------------------- one order at a time


def compute_step(stats: SellerStats, verdict: str, plan: DecisionPlan) -> SellerStats:
    """Fold one inspected order's verdict into the statistics."""
    defective = verdict in DEFECT_VERDICTS
    clean_run = 0 if defective else stats.clean_run + 1
    return SellerStats(
        s=cusum_step(stats.s, defective, plan.main),
        minor_s=cusum_step(stats.minor_s, verdict == "minor", plan.minor),
        clean_run=clean_run,
        onboarding=stats.onboarding and clean_run < plan.main.acceptance_run,
        inspected=stats.inspected + 1,
        defects=stats.defects + defective,
        minor=stats.minor + (verdict == "minor"),
        critical=stats.critical + (verdict == "critical"))


def compute_replay(verdicts: Iterable[str], plan: DecisionPlan,
                   start: SellerStats | None = None) -> SellerStats:
    """The statistics after folding an ordered verdict history into `start`."""
    stats = start or SellerStats()
    for verdict in verdicts:
        stats = compute_step(stats, verdict, plan)
    return stats


def compute_sampling_state(label: LabelStatus | None, stats: SellerStats,
                           plan: DecisionPlan,
                           pending_critical: bool = False) -> SamplingState | None:
    """The sampling state the statistics and label call for (None: label not in force);
    a critical finding awaiting confirmation tightens it."""
    if label not in IN_FORCE:
        return None
    if (stats.s >= plan.tighten_at or stats.minor_s >= plan.minor.h
            or label == LabelStatus.PROBATION or pending_critical):
        return SamplingState.TIGHTENED
    if stats.clean_run >= plan.main.acceptance_run:
        return SamplingState.REDUCED
    if stats.onboarding:
        return SamplingState.ONBOARDING
    return SamplingState.NORMAL


def _signals(before: SellerStats, after: SellerStats, defective: bool, h: float) -> bool:
    # On crossing h, and on each further defect at or above it: S can stand above h with the
    # label in force when a plan change lowered h (or when an overturn kept S, before
    # overturns restarted the statistics); clean orders that leave it there do not suspend.
    return after.s >= h and (before.s < h or defective)


def _cusum_reason(stats: SellerStats, h: float, on: str) -> str:
    return (f"CUSUM S = {stats.s:.2f} reached h = {h:.2f}{on} "
            f"({stats.defects} major/critical of {stats.inspected} inspected orders).")


def compute_decision(label: LabelStatus | None, before: SellerStats, verdict: str,
                     plan: DecisionPlan, order_ref: str = "",
                     pending_critical: bool = False) -> Decision:
    """Apply one newly inspected order: new statistics, sampling state, label action.

    ``verdict`` is the verdict the order counts with (``compute_effective_verdict``), so a
    critical one here is confirmed and suspends at once; ``pending_critical`` says another
    order's critical finding still awaits confirmation (sampling stays tightened and
    probation does not end meanwhile).
    """
    after = compute_step(before, verdict, plan)
    on = f" on {order_ref}" if order_ref else ""
    action, reason = Action.NONE, ""
    if label in IN_FORCE:
        if verdict == "critical":
            action, reason = Action.SUSPEND, f"Critical verdict{on}: zero tolerance."
        elif _signals(before, after, verdict in DEFECT_VERDICTS, plan.main.h):
            action, reason = Action.SUSPEND, _cusum_reason(after, plan.main.h, on)
        elif (label == LabelStatus.PROBATION and not pending_critical
              and after.clean_run >= plan.main.acceptance_run):
            action, reason = Action.END_PROBATION, (
                f"{after.clean_run} clean orders in a row since reinstatement{on}: "
                "probation ends.")
    new_label = LabelStatus.SUSPENDED if action == Action.SUSPEND else (
        LabelStatus.ACTIVE if action == Action.END_PROBATION else label)
    return Decision(after, compute_sampling_state(new_label, after, plan, pending_critical),
                    action, reason)


def compute_pending_critical(label: LabelStatus | None, stats: SellerStats, plan: DecisionPlan,
                             order_ref: str = "") -> Decision:
    """A critical verdict just recorded: not counted until a second inspector confirms it,
    the statistics stay as they are and sampling is tightened meanwhile."""
    on = f" on {order_ref}" if order_ref else ""
    return Decision(stats, compute_sampling_state(label, stats, plan, pending_critical=True),
                    Action.NONE, f"Critical finding{on} awaits confirmation by a second "
                                 "inspector; not counted until then.")


# ---------------------------------------------------------------- replays


@dataclass(frozen=True)
class HistoryOrder:
    """An inspected order of an epoch, with the verdict it counts with (None: a critical
    finding awaiting confirmation, not counted yet)."""

    order_id: int
    inspected_at: datetime
    verdict: str | None

    @property
    def ref(self) -> str:
        """The order as decisions name it."""
        return order_ref(self.order_id)


@dataclass(frozen=True)
class Signal:
    """An order at which the replayed statistics called for a suspension."""

    order_id: int
    inspected_at: datetime
    critical: bool  # a (confirmed) critical verdict; otherwise the CUSUM signalled
    stats: SellerStats  # the statistics after that order

    @property
    def ref(self) -> str:
        """The order as decisions name it."""
        return order_ref(self.order_id)


@dataclass(frozen=True)
class Replayed:
    """An epoch replayed: the statistics after it, every signal in it, and the first signal
    that no suspension followed (None: every signal was acted on, or there was none)."""

    stats: SellerStats
    signals: tuple[Signal, ...]
    unacted: Signal | None


def compute_history(start: SellerStats, history: Iterable[HistoryOrder], plan: DecisionPlan,
                    suspended_at: Iterable[datetime] = ()) -> Replayed:
    """Replay an epoch's ordered history from ``start`` and find every signal in it.

    A signal is a counted critical verdict, or an order at which the CUSUM signals (S reaches
    h from below, or a further defect while S >= h; see ``_signals``). A signal was acted on
    when the label was suspended (``suspended_at``: the times of the seller's suspensions) at
    or after that order's inspection. Orders whose verdict is None are skipped. An empty
    history gives ``start`` and no signals.
    """
    last_suspension = max(suspended_at, default=None)
    stats, signals = start, []
    for order in history:
        if order.verdict is None:
            continue
        before, stats = stats, compute_step(stats, order.verdict, plan)
        critical = order.verdict == "critical"
        if critical or _signals(before, stats, order.verdict in DEFECT_VERDICTS, plan.main.h):
            signals.append(Signal(order.order_id, order.inspected_at, critical, stats))
    unacted = next((s for s in signals
                    if last_suspension is None or last_suspension < s.inspected_at), None)
    return Replayed(stats, tuple(signals), unacted)


def compute_replay_decision(label: LabelStatus | None, replayed: Replayed, plan: DecisionPlan,
                            cause: str, pending_critical: bool = False) -> Decision:
    """The decision after a replay of the epoch (an amendment, a rejected critical finding,
    the nightly check): the replayed statistics and, when the label is in force and a signal
    in the history was never acted on, a suspension pending review naming that order.
    ``cause`` says what led to the replay ("After the amendment of test order #12")."""
    action, reason = Action.NONE, ""
    signal = replayed.unacted
    if label in IN_FORCE and signal is not None:
        action = Action.SUSPEND
        if signal.critical:
            reason = f"{cause}: the critical verdict on {signal.ref} was not acted on: " \
                     "zero tolerance."
        else:
            reason = f"{cause}: the replayed " + _cusum_reason(
                signal.stats, plan.main.h, f" on {signal.ref}")
    new_label = LabelStatus.SUSPENDED if action == Action.SUSPEND else label
    return Decision(replayed.stats,
                    compute_sampling_state(new_label, replayed.stats, plan, pending_critical),
                    action, reason)


def compute_confirmation(label: LabelStatus | None, replayed: Replayed, plan: DecisionPlan,
                         confirmation: Confirmation,
                         pending_critical: bool = False) -> Decision:
    """A second inspector confirmed a critical finding: the replayed statistics (the order now
    counts as critical) and, when the label is in force, a suspension pending review at once
    (zero tolerance) whose reason names the order, the checkpoints and both inspectors.

    It suspends whichever epoch the order belongs to: a plan change or a reinstatement while
    the finding waited must not cancel zero tolerance (an order from before the last restart
    is then not in the replayed statistics, which start after it)."""
    action, reason = Action.NONE, ""
    if label in IN_FORCE:
        action, reason = Action.SUSPEND, confirmation.sentence() + ": zero tolerance."
    new_label = LabelStatus.SUSPENDED if action == Action.SUSPEND else label
    return Decision(replayed.stats,
                    compute_sampling_state(new_label, replayed.stats, plan, pending_critical),
                    action, reason)


# ---------------------------------------------------------------- restarts


def compute_reinstated(stats: SellerStats, plan: DecisionPlan) -> SellerStats:
    """Statistics restarted for probation: head start S0 = h/2 and a new clean run."""
    return replace(stats, s=plan.main.h / 2, clean_run=0, onboarding=False)


def compute_overturned(stats: SellerStats, plan: DecisionPlan,
                       head_start: float = OVERTURN_HEAD_START) -> SellerStats:
    """Statistics restarted after a reviewer overturned a suspension: S0 = head_start x h
    (h/2 by default), a new clean run, no longer onboarding; the counts are kept.

    Why a head start (Lucas & Crosier 1982, "fast initial response" CUSUM): keeping S, which
    stood at or above h, let the very next defect suspend the seller again, although a person
    had just cleared it; restarting at 0 would treat it as a stranger, with the longest way
    to a signal of all. Half of h is the classic compromise: from h/2 one defect cannot reach
    h (w_d = 1.39 < h/2 = 2.60 with the defaults), two in a row suspend, and clean orders
    bring S down to 0 as for any seller; a seller really at p1 is caught about as fast as on
    probation. ``head_start`` must be in [0, 1).
    """
    if not (math.isfinite(head_start) and 0.0 <= head_start < 1.0):
        raise ValueError("The head start after an overturn is a fraction of h in [0, 1).")
    return replace(stats, s=plan.main.h * head_start, clean_run=0, onboarding=False)


def compute_conditional_renewal(stats: SellerStats) -> SellerStats:
    """A conditional renewal sends the seller back to onboarding-rate sampling."""
    return replace(stats, onboarding=True, clean_run=0)


RENEWAL_MIN_INSPECTED = 6


@dataclass(frozen=True)
class LabelYear:
    """What the anniversary decision counts in a label year: suspensions, test orders planned
    in the year, test orders inspected in it, and the planned ones cancelled or lost for a
    reason on the seller's side (not shipped, sale cancelled, listing withdrawn)."""

    suspended: int
    planned: int
    inspected: int
    seller_side: int

    def __post_init__(self) -> None:
        for name in ("suspended", "planned", "inspected", "seller_side"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"The count {name} must be a whole number, at least 0.")
        if self.seller_side > self.planned:
            raise ValueError("More orders failed on the seller's side than were planned.")


@dataclass(frozen=True)
class Renewal:
    """The anniversary decision: full or conditional renewal, and why."""

    full: bool
    reason: str


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _orders(n: int) -> str:
    return f"{n} test order{'' if n == 1 else 's'}"


def compute_short_on_seller_side(year: LabelYear) -> bool:
    """Whether too few inspected orders count against the seller: at least six were planned,
    fewer than six inspected, and the orders that failed on the seller's side made the
    difference (without them six would have been inspected)."""
    need = RENEWAL_MIN_INSPECTED
    return (year.inspected < need <= year.planned
            and year.inspected + year.seller_side >= need)


def compute_renewal(year: LabelYear, start: date, end: date) -> Renewal:
    """Renew fully unless the label was suspended in its year, or fewer than six orders were
    inspected because of the seller (``compute_short_on_seller_side``); then conditionally
    (back to onboarding-rate sampling). Fewer than six inspected because the plan chose fewer,
    or because orders failed on our side or in transit, does not count against the seller."""
    need = RENEWAL_MIN_INSPECTED
    short = compute_short_on_seller_side(year)
    if not year.suspended and not short:
        if year.inspected >= need:
            why = f"{_orders(year.inspected)} inspected (at least {need} needed)"
        elif year.planned < need:
            why = (f"{_orders(year.inspected)} inspected — fewer than {need} because the plan "
                   f"chose fewer ({year.planned} planned), which does not count against the "
                   "seller")
        else:
            why = (f"{_orders(year.inspected)} inspected of {year.planned} planned — fewer "
                   f"than {need}, but not because of the seller ({year.seller_side} cancelled "
                   "or lost on the seller's side), which does not count against the seller")
        return Renewal(True, f"Renewed: not suspended from {start} to {end}; {why}.")
    reasons = [f"suspended {_times(year.suspended)} from {start} to {end}"] \
        if year.suspended else []
    if short:
        reasons.append(f"only {_orders(year.inspected)} inspected of {year.planned} planned, "
                       f"{year.seller_side} cancelled or lost on the seller's side ({need} "
                       "needed)")
    return Renewal(False, "Renewed conditionally (" + "; ".join(reasons)
                   + "): the seller returns to onboarding-rate sampling.")
