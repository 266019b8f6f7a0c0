"""What an inspected order means for a seller: statistics, sampling state, label action (pure).

The rules of DESIGN.md section 4. A *defect* is a major or critical verdict; a *clean* order is
any other (conforming or minor). The main CUSUM runs on defects; a second CUSUM runs on minor
verdicts and only tightens sampling. After every inspected order the seller's state is, in
order of precedence: none (label not in force), tightened (S >= 1.0, the minor CUSUM at or above
its threshold, or the label on probation), reduced (14 clean orders in a row), onboarding (a new
or conditionally renewed label whose run has not reached 14), normal. A critical verdict, or the
main CUSUM signalling, suspends the label pending review; a probation label becomes active
again after 14 clean orders in a row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
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
                           plan: DecisionPlan) -> SamplingState | None:
    """The sampling state the statistics and label call for (None: label not in force)."""
    if label not in IN_FORCE:
        return None
    if (stats.s >= plan.tighten_at or stats.minor_s >= plan.minor.h
            or label == LabelStatus.PROBATION):
        return SamplingState.TIGHTENED
    if stats.clean_run >= plan.main.acceptance_run:
        return SamplingState.REDUCED
    if stats.onboarding:
        return SamplingState.ONBOARDING
    return SamplingState.NORMAL


def _signals(before: SellerStats, after: SellerStats, defective: bool, h: float) -> bool:
    # On crossing h, and on each further defect above it: a suspension that a reviewer
    # overturned keeps S, and clean orders must not suspend again while S is still above h.
    return after.s >= h and (before.s < h or defective)


def compute_decision(label: LabelStatus | None, before: SellerStats, verdict: str,
                     plan: DecisionPlan, order_ref: str = "") -> Decision:
    """Apply one newly inspected order: new statistics, sampling state, label action."""
    after = compute_step(before, verdict, plan)
    on = f" on {order_ref}" if order_ref else ""
    action, reason = Action.NONE, ""
    if label in IN_FORCE:
        if verdict == "critical":
            action, reason = Action.SUSPEND, f"Critical verdict{on}: zero tolerance."
        elif _signals(before, after, verdict in DEFECT_VERDICTS, plan.main.h):
            action, reason = Action.SUSPEND, (
                f"CUSUM S = {after.s:.2f} reached h = {plan.main.h:.2f}{on} "
                f"({after.defects} major/critical of {after.inspected} inspected orders).")
        elif (label == LabelStatus.PROBATION
              and after.clean_run >= plan.main.acceptance_run):
            action, reason = Action.END_PROBATION, (
                f"{after.clean_run} clean orders in a row since reinstatement{on}: "
                "probation ends.")
    new_label = LabelStatus.SUSPENDED if action == Action.SUSPEND else (
        LabelStatus.ACTIVE if action == Action.END_PROBATION else label)
    return Decision(after, compute_sampling_state(new_label, after, plan), action, reason)


def compute_amendment(label: LabelStatus | None, before: SellerStats, replayed: SellerStats,
                      new_verdict: str, previous_verdict: str | None, plan: DecisionPlan,
                      order_ref: str = "", in_epoch: bool = True) -> Decision:
    """Apply an amendment: the replayed statistics, and a suspension only when the amendment
    turns the verdict critical (for an order since the last restart) or makes the replay newly
    cross h; a suspension already taken stays for the reviewer to decide."""
    on = f" on {order_ref}" if order_ref else ""
    action, reason = Action.NONE, ""
    if label in IN_FORCE:
        if new_verdict == "critical" and previous_verdict != "critical" and in_epoch:
            action, reason = Action.SUSPEND, f"Amended to a critical verdict{on}."
        elif replayed.s >= plan.main.h and before.s < plan.main.h:
            action, reason = Action.SUSPEND, (
                f"After the amendment{on} the replayed CUSUM S = {replayed.s:.2f} "
                f"reaches h = {plan.main.h:.2f}.")
    new_label = LabelStatus.SUSPENDED if action == Action.SUSPEND else label
    return Decision(replayed, compute_sampling_state(new_label, replayed, plan), action, reason)


def compute_reinstated(stats: SellerStats, plan: DecisionPlan) -> SellerStats:
    """Statistics restarted for probation: head start S0 = h/2 and a new clean run."""
    return replace(stats, s=plan.main.h / 2, clean_run=0, onboarding=False)


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
