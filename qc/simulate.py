"""Fleet simulation of the label decisions through the real planner and decision rules (pure).

Every seller is new at month 0: an active label, ``SellerStats()`` and the sampling state
``compute_sampling_state`` gives a new label (onboarding). Each seller's true defect rate p is
drawn once with ``random.Random(seed)`` from the mixture of the issue: 85% uniform in 2-5%,
5% uniform in 5-15%, 10% uniform in 15-30%. Each month:

1. the sellers whose label is in force (active or probation) go to the real planner,
   ``qc.sampling.compute_plan``, with their current sampling state, risk S/h and one listing,
   the default rates, a budget large enough that nothing is cut, and a plan seed
   ``sha256(f"{seed}:{month}")`` (32 bytes), so the number of test orders each seller gets
   is exactly what production would plan for that state;
2. the planned orders are inspected in plan order (time, then seller). Each seller has its own
   verdict stream, a ``random.Random`` seeded from the fleet's generator after the rates are
   drawn, and each order takes one uniform u from it: defective if u < p, and then
   ``critical`` if u < p * critical_share (0 by default, see below), else ``major``; clean
   orders are ``conforming`` (minor verdicts are not modelled). As the planner's draws are
   labelled by period and seller too, a seller's history never depends on the other sellers;
3. each verdict goes through the real ``qc.decisions.compute_decision``; its statistics and
   sampling state are kept for the seller. ``SUSPEND`` suspends the label for the rest of the
   simulation (the reviewer confirms; nobody is reinstated) and the seller's remaining orders
   of that month are treated as cancelled (not inspected, not counted).

``critical_share`` defaults to 0: a critical verdict suspends at once whatever the CUSUM says,
so any non-zero share adds a suspension chance of critical_share * p to every order,
which would swamp the CUSUM error rates this simulation is meant to measure. Set it to study
the zero-tolerance rule; the report then splits suspensions of good sellers by cause.
``fixed_rate`` gives every seller the same true rate instead of the mixture (for tests and
what-if runs). ``runs`` repeats the simulation with seeds seed, seed + 1, ... and the report
gives the means across runs.

The real functions are looked up on their modules at call time (``decisions.compute_decision``,
``sampling.compute_plan``), so the simulation always runs the production code, never a copy.

Pure module: no Flask, no SQLAlchemy; deterministic for a given configuration.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qc import decisions, sampling
from qc.decisions import Action, DecisionPlan, SellerStats
from vetting.labels import IN_FORCE, LabelStatus, SamplingState

__all__ = [
    "BUDGET_CENTS",
    "GOOD_MAX",
    "RATE_MIXTURE",
    "RunResult",
    "SimulationConfig",
    "SimulationResult",
    "Snapshot",
    "draw_defect_rate",
    "format_report",
    "run_simulation",
]

START_PERIOD = "2027-01"
BUDGET_CENTS = 10**12  # far above any plan's cost: the budget cut never drops an order
BUYER_ACCOUNTS = ("simulation",)
GOOD_MAX = 0.05  # a good seller: true defect rate p <= 5% (the plan's p0)
BAD_MIN = 0.15  # a bad seller: p >= 15%
WORSE_MIN = 0.20  # p >= 20% (the plan's p1)
# The mixture of true defect rates: (share of sellers, low, high), p uniform in [low, high).
RATE_MIXTURE: tuple[tuple[float, float, float], ...] = (
    (0.85, 0.02, 0.05),
    (0.05, 0.05, 0.15),
    (0.10, 0.15, 0.30),
)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: fleet size, months, seed, report months, runs and critical share."""

    sellers: int
    months: int
    seed: int
    report_months: tuple[int, ...] = (12, 36)
    runs: int = 1
    critical_share: float = 0.0
    fixed_rate: float | None = None  # every seller's true defect rate, instead of the mixture

    def __post_init__(self) -> None:
        if self.sellers < 1:
            raise ValueError("The fleet needs at least one seller.")
        if self.months < 1:
            raise ValueError("The simulation needs at least one month.")
        if self.runs < 1:
            raise ValueError("At least one run is needed.")
        if any(m < 1 for m in self.report_months):
            raise ValueError("Report months must be at least 1.")
        if not (math.isfinite(self.critical_share) and 0.0 <= self.critical_share <= 1.0):
            raise ValueError("The critical share must be between 0 and 1.")
        if self.fixed_rate is not None and not (
                math.isfinite(self.fixed_rate) and 0.0 <= self.fixed_rate <= 1.0):
            raise ValueError("The fixed defect rate must be between 0 and 1.")

    @property
    def snapshot_months(self) -> tuple[int, ...]:
        """The report months within the simulation, plus its last month."""
        return tuple(sorted({m for m in self.report_months if m <= self.months} | {self.months}))


@dataclass(frozen=True)
class Snapshot:
    """The fleet after `month` months: suspensions by group and orders inspected so far."""

    month: int
    sellers: int
    good: int  # sellers with p <= 5%
    good_suspended: int
    good_suspended_critical: int  # of those, suspended by a critical verdict
    bad: int  # sellers with p >= 15%
    bad_active: int  # of those, not yet suspended
    worse: int  # sellers with p >= 20%
    worse_active: int
    bad_suspended_months: tuple[int, ...]  # months to suspension of suspended bad sellers
    orders: int  # inspected orders in months 1..month
    orders_last_year: int  # inspected orders in the last 12 months (or fewer) up to month

    @property
    def good_suspended_pct(self) -> float | None:
        """Good sellers suspended, in percent of good sellers."""
        return _pct(self.good_suspended, self.good)

    @property
    def bad_active_pct(self) -> float | None:
        """Sellers with p >= 15% not yet suspended, in percent of them."""
        return _pct(self.bad_active, self.bad)

    @property
    def worse_active_pct(self) -> float | None:
        """Sellers with p >= 20% not yet suspended, in percent of them."""
        return _pct(self.worse_active, self.worse)

    @property
    def median_months_to_suspend(self) -> float | None:
        """Median months to suspension among the suspended bad sellers."""
        months = self.bad_suspended_months
        return float(statistics.median(months)) if months else None

    @property
    def orders_per_seller_year(self) -> float:
        """Inspected orders per seller per year over months 1..month."""
        return self.orders / self.sellers / (self.month / 12)

    @property
    def orders_per_seller_last_year(self) -> float:
        """Inspected orders per seller per year over the last 12 months up to month."""
        span = min(12, self.month)
        return self.orders_last_year / self.sellers / (span / 12)


@dataclass(frozen=True)
class RunResult:
    """One run: its seed, the per-seller outcome and the snapshots at the report months."""

    seed: int
    rates: tuple[float, ...]  # true defect rate per seller
    suspended_month: tuple[int | None, ...]  # month of suspension per seller (None: never)
    orders_by_month: tuple[int, ...]  # inspected orders in month 1, 2, ...
    snapshots: tuple[Snapshot, ...]


@dataclass(frozen=True)
class SimulationResult:
    """The configuration, the decision plan used and every run."""

    config: SimulationConfig
    plan: DecisionPlan
    runs: tuple[RunResult, ...]


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def draw_defect_rate(rng: random.Random) -> float:
    """A true defect rate from the issue's mixture (two draws from `rng`)."""
    u = rng.random()
    cumulative = 0.0
    for share, low, high in RATE_MIXTURE:
        cumulative += share
        if u < cumulative:
            return rng.uniform(low, high)
    _, low, high = RATE_MIXTURE[-1]  # u just below 1.0 with float rounding of the shares
    return rng.uniform(low, high)


def _plan_seed(seed: int, month: int) -> bytes:
    """The planner's seed for a month: SHA-256 of "seed:month" (32 bytes)."""
    return hashlib.sha256(f"{seed}:{month}".encode()).digest()


def _verdict(rng: random.Random, p: float, critical_share: float) -> str:
    """One inspected order's verdict: one uniform draw whatever the critical share."""
    u = rng.random()
    if u >= p:
        return "conforming"
    return "critical" if u < p * critical_share else "major"


def _run(config: SimulationConfig, seed: int, plan: DecisionPlan) -> RunResult:
    """Simulate one fleet with `seed` through the real planner and decision rules."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    n = config.sellers
    rates = [draw_defect_rate(rng) if config.fixed_rate is None else config.fixed_rate
             for _ in range(n)]
    # One verdict stream per seller, so a seller's k-th inspected order gets the same draw
    # whatever happens to the others (common random numbers across configurations).
    streams = [random.Random(rng.getrandbits(64)) for _ in range(n)]  # noqa: S311
    labels: list[LabelStatus] = [LabelStatus.ACTIVE] * n
    stats: list[SellerStats] = [SellerStats()] * n
    first = decisions.compute_sampling_state(LabelStatus.ACTIVE, SellerStats(), plan)
    states: list[SamplingState | None] = [first] * n
    suspended: list[int | None] = [None] * n
    by_critical = [False] * n
    listings = [(sampling.ListingInput(listing_id=i + 1, monthly_units=1, price_cents=1),)
                for i in range(n)]
    orders_by_month: list[int] = []
    snapshots: list[Snapshot] = []
    wanted = set(config.snapshot_months)
    period = sampling.parse_period(START_PERIOD)
    h = plan.main.h
    for month in range(1, config.months + 1):
        sellers = []
        for i in range(n):
            state = states[i]
            if labels[i] not in IN_FORCE or state is None:
                continue
            sellers.append(sampling.SellerInput(
                seller_id=i + 1, state=state, on_probation=labels[i] == LabelStatus.PROBATION,
                risk=stats[i].s / h, listings=listings[i]))
        inputs = sampling.PlanInputs(period=period, sellers=tuple(sellers),
                                     rates=sampling.DEFAULT_RATES, budget_cents=BUDGET_CENTS,
                                     buyer_accounts=BUYER_ACCOUNTS)
        month_plan = sampling.compute_plan(inputs, _plan_seed(seed, month))
        inspected = 0
        for order in month_plan.orders:
            i = order.seller_id - 1
            if labels[i] not in IN_FORCE:
                continue  # suspended earlier this month: the order is cancelled
            verdict = _verdict(streams[i], rates[i], config.critical_share)
            decision = decisions.compute_decision(labels[i], stats[i], verdict, plan)
            inspected += 1
            stats[i] = decision.stats
            states[i] = decision.sampling_state
            if decision.action == Action.SUSPEND:
                labels[i] = LabelStatus.SUSPENDED
                suspended[i] = month
                by_critical[i] = verdict == "critical"
            elif decision.action == Action.END_PROBATION:
                labels[i] = LabelStatus.ACTIVE
        orders_by_month.append(inspected)
        if month in wanted:
            snapshots.append(_snapshot(month, rates, suspended, by_critical, orders_by_month))
        period = period.next()
    return RunResult(seed=seed, rates=tuple(rates), suspended_month=tuple(suspended),
                     orders_by_month=tuple(orders_by_month), snapshots=tuple(snapshots))


def _snapshot(month: int, rates: Sequence[float], suspended: Sequence[int | None],
              by_critical: Sequence[bool], orders_by_month: Sequence[int]) -> Snapshot:
    """Count the fleet's outcome after `month` months."""
    good = [i for i, p in enumerate(rates) if p <= GOOD_MAX]
    bad = [i for i, p in enumerate(rates) if p >= BAD_MIN]
    worse = [i for i, p in enumerate(rates) if p >= WORSE_MIN]
    good_suspended = [i for i in good if suspended[i] is not None]
    bad_months = sorted(m for i in bad if (m := suspended[i]) is not None)
    return Snapshot(
        month=month, sellers=len(rates), good=len(good), good_suspended=len(good_suspended),
        good_suspended_critical=sum(1 for i in good_suspended if by_critical[i]),
        bad=len(bad), bad_active=sum(1 for i in bad if suspended[i] is None),
        worse=len(worse), worse_active=sum(1 for i in worse if suspended[i] is None),
        bad_suspended_months=tuple(bad_months), orders=sum(orders_by_month[:month]),
        orders_last_year=sum(orders_by_month[max(0, month - 12):month]))


def run_simulation(config: SimulationConfig) -> SimulationResult:
    """Run the simulation `config.runs` times with seeds seed, seed + 1, ..."""
    plan = decisions.compute_decision_plan()
    runs = tuple(_run(config, config.seed + r, plan) for r in range(config.runs))
    return SimulationResult(config=config, plan=plan, runs=runs)


# --------------------------------------------------------------------------- the report

def _fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}%"


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _fmt_num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _header(result: SimulationResult) -> list[str]:
    config, plan = result.config, result.plan
    params, rates = plan.params, sampling.DEFAULT_RATES
    seeds = (f"seed {config.seed}" if config.runs == 1
             else f"seeds {config.seed}..{config.seed + config.runs - 1}")
    mixture = (", ".join(f"{share:.0%} uniform {low:.0%}-{high:.0%}"
                         for share, low, high in RATE_MIXTURE)
               if config.fixed_rate is None else f"all sellers at p = {config.fixed_rate:g}")
    rate_text = ", ".join(f"{state} {rates[state]:g}" for state in SamplingState)
    lines = [
        f"Fleet simulation: {config.sellers} sellers, {config.months} months, {seeds} "
        f"({config.runs} run{'s' if config.runs != 1 else ''})",
        f"Plan: p0 = {params.p0:g}, p1 = {params.p1:g}, alpha = {params.alpha:g}, "
        f"beta = {params.beta:g}; h = {plan.main.h:.3f}; tighten at S >= {plan.tighten_at:g}; "
        f"acceptance run {plan.main.acceptance_run}",
        f"Test orders per month: {rate_text}",
        f"True defect rates: {mixture}; "
        f"share of defects that are critical: {config.critical_share:.0%}",
    ]
    snaps = [run.snapshots[-1] for run in result.runs]
    lines.append(
        f"Fleet drawn{' (mean of runs)' if config.runs != 1 else ''}: "
        f"{_fmt_count(s.good for s in snaps)} good (p <= 5%), "
        f"{_fmt_count(s.bad for s in snaps)} with p >= 15%, "
        f"{_fmt_count(s.worse for s in snaps)} with p >= 20%")
    return lines


def _fmt_count(values: Iterable[int]) -> str:
    present = list(values)
    mean = statistics.fmean(present)
    return f"{mean:.0f}" if len(present) == 1 else f"{mean:.1f}"


def _single(snap: Snapshot) -> list[str]:
    by_critical = (f"; {snap.good_suspended_critical} by a critical verdict"
                   if snap.good_suspended_critical else "")
    return [
        f"After {snap.month} months:",
        f"  good sellers (p <= 5%) wrongly suspended: {snap.good_suspended} of {snap.good} "
        f"({_fmt_pct(snap.good_suspended_pct)}{by_critical})",
        f"  sellers with p >= 15% not yet suspended: {_fmt_pct(snap.bad_active_pct)} "
        f"({snap.bad_active} of {snap.bad})",
        f"  sellers with p >= 20% not yet suspended: {_fmt_pct(snap.worse_active_pct)} "
        f"({snap.worse_active} of {snap.worse})",
        f"  median months to suspend a bad seller (p >= 15%): "
        f"{_fmt_num(snap.median_months_to_suspend)} "
        f"({len(snap.bad_suspended_months)} suspended)",
        f"  inspected orders per seller per year: {snap.orders_per_seller_year:.2f} "
        f"(last 12 months: {snap.orders_per_seller_last_year:.2f})",
    ]


def _means(snaps: Sequence[Snapshot], runs: int) -> list[str]:
    good_pcts = [s.good_suspended_pct for s in snaps]
    present = [v for v in good_pcts if v is not None]
    spread = f", range {min(present):.2f}-{max(present):.2f}%" if present else ""
    critical = statistics.fmean(s.good_suspended_critical for s in snaps)
    by_critical = f"; {critical:.1f} by a critical verdict" if critical else ""
    return [
        f"After {snaps[0].month} months (means of {runs} runs):",
        f"  good sellers (p <= 5%) wrongly suspended: "
        f"{statistics.fmean(s.good_suspended for s in snaps):.1f} of "
        f"{statistics.fmean(s.good for s in snaps):.1f} "
        f"({_fmt_pct(_mean(good_pcts))}{spread}{by_critical})",
        f"  sellers with p >= 15% not yet suspended: "
        f"{_fmt_pct(_mean([s.bad_active_pct for s in snaps]))}",
        f"  sellers with p >= 20% not yet suspended: "
        f"{_fmt_pct(_mean([s.worse_active_pct for s in snaps]))}",
        f"  median months to suspend a bad seller (p >= 15%): "
        f"{_fmt_num(_mean([s.median_months_to_suspend for s in snaps]))}",
        f"  inspected orders per seller per year: "
        f"{statistics.fmean(s.orders_per_seller_year for s in snaps):.2f} (last 12 months: "
        f"{statistics.fmean(s.orders_per_seller_last_year for s in snaps):.2f})",
    ]


def format_report(result: SimulationResult) -> str:
    """The printed report: one block per report month (means across runs when several)."""
    lines = _header(result)
    count = len(result.runs)
    for k in range(len(result.config.snapshot_months)):
        snaps = [run.snapshots[k] for run in result.runs]
        lines.append("")
        lines.extend(_single(snaps[0]) if count == 1 else _means(snaps, count))
    return "\n".join(lines)
