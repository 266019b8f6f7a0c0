"""Fleet simulation at the real budget, through the app's planners and decision rules (pure).

One *world* is drawn per run from its seed and then lived through under each set of rules:

- ``old``: the rules as built before risk-based allocation (``qc.sampling_v1``: fixed orders
  a month per sampling state, cut to the budget except onboarding and tightened orders, which
  are never cut, so it spends more than the budget; one inspector's critical verdict
  suspends; a seller with fewer than 6 inspected orders in its label year returns to
  onboarding; h = ln((1 - beta) / alpha));
- ``old-capped``: the same, but never more orders than the budget (tightened orders kept
  first, then onboarding, normal, reduced; higher S first) - the old rules at the same spend;
- ``new``: ``qc.sampling`` (risk-based allocation within the budget, h chosen from the budget
  by ``qc.allocation.choose_h`` for the launch fleet); a critical verdict suspends only once
  a second inspector confirms it; renewal never penalises the sampling the plan chose.

All see the same sellers, the same true defect rates month by month, the same returns and
claims and the same verdict draws (common random numbers), so their differences are the
rules'. Launch sellers are established (past onboarding, label anniversaries spread over
the year); arrivals start in onboarding.

The world (``WorldConfig``)
---------------------------
- ``sellers`` launch sellers at month 0 and ``arrivals`` new sellers at the start of every
  month; each seller's true defect rate is drawn from the fleet mixture (85% uniform 2-5%,
  5% 5-15%, 10% 15-30%); its units sold a month are lognormal (median 30, sigma 1).
- ``drift``: that share of sellers turns bad at a month drawn uniformly over the simulation
  (their rate becomes uniform 15-30% from then on; sellers already at >= 15% stay as they are).
- Returns and claims: a seller's monthly count is Poisson with mean
  units x (b x exp(0.4 e) + k x p), b = 0.05 and e standard normal per seller (sellers differ
  in how often their buyers return things whatever the quality), k set by ``signal``:
  none 0, weak 0.05, medium 0.12, strong 0.30. The planner ranks the last 6 months.
- Verdicts: a unit is defective with probability p and then critical with probability
  ``critical_share``; the first inspector errs with probability ``inspector_error`` (a clean
  unit reported defective - critical with the same share - or a defective one reported
  clean); under the new rules a second inspector, erring independently with the same
  probability, confirms or rejects each critical finding (rejected: the unit counts as major
  if it is defective, else clean). Each order takes three uniform draws from the seller's
  own stream whatever the rules, so the k-th order of a seller sees the same unit.
- Every order costs the same; the budget is ``budget`` orders a month. A suspension is
  final (the reviewer confirms it); the seller's remaining orders that month are cancelled.

Measures (``RunResult``; the report gives means over runs with their standard errors)
-------------------------------------------------------------------------------------
- good sellers (never above 5%) wrongly suspended by months 12 and 36, in % of them: by the
  statistical rule, or by a false critical finding (both inspectors wrong, or the first alone
  under the old rules);
- sellers at >= 20% still selling 12 months after they start or turn bad (those with 12
  months of follow-up), and launch sellers at >= 20% still selling at the end;
- median months from starting or turning bad (>= 20%) to suspension (never suspended counts
  as longer than any follow-up; "> months" when fewer than half are suspended), and the
  median among those suspended;
- good sellers suspended for a true (confirmed) critical defect, apart: the zero-tolerance
  rule working as meant, not an error;
- defective units sold by sellers while they are bad (>= 15%): units x p summed over the
  months they sell; each total relative to the first rules' in the table;
- orders used a month (mean and maximum) and the h in force.

Pure module: no Flask, no SQLAlchemy; deterministic for a given configuration.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from qc import allocation, decisions, sampling, sampling_v1
from qc.buyers import BuyerInput
from qc.decisions import Action, SellerStats
from vetting.labels import LabelStatus, SamplingState

__all__ = [
    "SIGNAL_STRENGTHS",
    "Comparison",
    "RunResult",
    "WorldConfig",
    "draw_defect_rate",
    "format_comparison",
    "run_comparison",
    "simulate_run",
]

START_PERIOD = "2027-01"
GOOD_MAX = 0.05
BAD_MIN = 0.15
WORSE_MIN = 0.20
UNITS_MEDIAN = 30.0
UNITS_SIGMA = 1.0
CLAIM_BASE = 0.05
CLAIM_SPREAD = 0.4
SIGNAL_MONTHS = 6
RENEWAL_MONTHS = 12
SIGNAL_STRENGTHS = MappingProxyType({"none": 0.0, "weak": 0.05, "medium": 0.12, "strong": 0.30})
RULES = ("old", "old-capped", "new")
WRONG = frozenset({"statistical", "false critical"})
# Old rules capped at the budget: tightened orders kept first, then onboarding, normal, reduced.
CAP_RANK = MappingProxyType({SamplingState.TIGHTENED: 0, SamplingState.ONBOARDING: 1,
                             SamplingState.NORMAL: 2, SamplingState.REDUCED: 3})
BUYERS = tuple(BuyerInput(i, f"simulated buyer {i}") for i in range(1, 41))


@dataclass(frozen=True)
class WorldConfig:
    """The simulated marketplace and how many runs of it."""

    sellers: int = 1500
    arrivals: int = 25
    months: int = 36
    budget: int = 200
    signal: str = "medium"
    drift: float = 0.10
    critical_share: float = 0.05
    inspector_error: float = 0.01
    seed: int = 1
    runs: int = 1

    def __post_init__(self) -> None:
        if self.sellers < 1:
            raise ValueError("The fleet needs at least one seller.")
        if self.arrivals < 0:
            raise ValueError("Arrivals must be at least 0 a month.")
        if self.months < 1:
            raise ValueError("The simulation needs at least one month.")
        if self.budget < 0:
            raise ValueError("The budget must be at least 0 orders a month.")
        if self.signal not in SIGNAL_STRENGTHS:
            raise ValueError(f"The signal must be one of {', '.join(SIGNAL_STRENGTHS)}.")
        for name in ("drift", "critical_share", "inspector_error"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"The {name.replace('_', ' ')} must be between 0 and 1.")
        if self.runs < 1:
            raise ValueError("At least one run is needed.")


# --------------------------------------------------------------------------- the world

@dataclass(frozen=True)
class _Seller:
    start: int  # month it starts selling (0 for launch sellers; months are 0-based)
    rate: float  # true defect rate before any turn
    turn: int | None  # month it turns bad (from then on its rate is `bad_rate`)
    bad_rate: float
    units: int
    claim_base: float
    stream_seed: int
    label_age: int  # months into its label year at month 0 (launch sellers)

    def p(self, month: int) -> float:
        return self.bad_rate if self.turn is not None and month >= self.turn else self.rate

    def bad_from(self, threshold: float) -> int | None:
        """The first month it sells at or above the threshold, if it ever does."""
        if self.rate >= threshold:
            return self.start
        if self.turn is not None and self.bad_rate >= threshold:
            return self.turn
        return None


@dataclass(frozen=True)
class _World:
    sellers: tuple[_Seller, ...]
    claims: tuple[tuple[int, ...], ...]  # per seller, returns + claims per month


def draw_defect_rate(rng: random.Random) -> float:
    """A true defect rate from the fleet mixture (two draws from `rng`)."""
    u = rng.random()
    cumulative = 0.0
    for share, low, high in allocation.FLEET_MIXTURE:
        cumulative += share
        if u < cumulative:
            return rng.uniform(low, high)
    _, low, high = allocation.FLEET_MIXTURE[-1]
    return rng.uniform(low, high)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0.0:
        return 0
    if mean > 60.0:  # normal approximation, rounded, for large means
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _world(config: WorldConfig, seed: int) -> _World:
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    strength = SIGNAL_STRENGTHS[config.signal]
    sellers = []
    total = config.sellers + config.arrivals * config.months
    for i in range(total):
        start = 0 if i < config.sellers else 1 + (i - config.sellers) // config.arrivals
        rate = draw_defect_rate(rng)
        turns = rng.random() < config.drift
        turn_month = rng.randrange(config.months)
        bad_rate = rng.uniform(BAD_MIN, 0.30)
        units = max(1, round(UNITS_MEDIAN * math.exp(UNITS_SIGMA * rng.gauss(0.0, 1.0))))
        claim_base = CLAIM_BASE * math.exp(CLAIM_SPREAD * rng.gauss(0.0, 1.0))
        turn = turn_month if turns and rate < BAD_MIN and turn_month > start else None
        label_age = rng.randrange(RENEWAL_MONTHS) if start == 0 else 0
        sellers.append(_Seller(start, rate, turn, bad_rate if turn is not None else rate, units,
                               claim_base, rng.getrandbits(64), label_age))
    claims_rng = random.Random(rng.getrandbits(64))  # noqa: S311
    claims = tuple(
        tuple(_poisson(claims_rng, s.units * (s.claim_base + strength * s.p(m)))
              for m in range(config.months))
        for s in sellers)
    return _World(tuple(sellers), claims)


# --------------------------------------------------------------------------- one life

@dataclass
class _Live:
    """A seller's state under one set of rules."""

    stats: SellerStats = field(default_factory=SellerStats)
    state: SamplingState | None = SamplingState.ONBOARDING
    suspended: int | None = None  # month of suspension
    cause: str = ""  # "statistical", "critical" (a true critical defect) or "false critical"
    orders: int = 0  # verdict draws used
    year_inspected: int = 0
    weights: tuple[float, ...] = allocation.prior()
    idle: int = 0  # months of drift not yet applied to the weights
    month_defects: int = 0
    month_clean: int = 0
    first_planned_percentile: float | None = None
    first_defective: bool | None = None


@dataclass(frozen=True)
class RunResult:
    """What one run measured under one set of rules."""

    rules: str
    seed: int
    h: float
    orders_by_month: tuple[int, ...]
    good_suspended_12: float | None  # % of good sellers present by month 12
    good_suspended_36: float | None  # % of good sellers, at the end
    good_critical_36: float | None  # % of good sellers suspended for a true critical defect
    worse_selling_after_12: float | None  # % of >= 20% sellers still selling 12 months on
    launch_worse_selling_end: float | None  # % of launch sellers at >= 20% still selling
    median_months_to_suspend: float | None  # None: fewer than half suspended
    median_months_suspended: float | None  # among those suspended only
    defective_units: float  # units x p summed over months sold while at >= 15%
    measured_auc: float | None  # the AUC the planner measured by the end (new rules)


def _verdict(rng: random.Random, p: float, config: WorldConfig, second: bool
             ) -> tuple[str, bool]:
    """The verdict that counts and whether the unit truly has a critical defect, from three
    draws: truth, first inspector, second inspector."""
    u_truth, u_first, u_second = rng.random(), rng.random(), rng.random()
    defective = u_truth < p
    critical = defective and u_truth < p * config.critical_share
    wrong = u_first < config.inspector_error
    if wrong:  # the report flips; a false defect is critical with the same share
        reported = "conforming" if defective else (
            "critical" if u_first < config.inspector_error * config.critical_share else "major")
    else:
        reported = "critical" if critical else ("major" if defective else "conforming")
    if reported != "critical" or not second:
        return reported, critical
    second_wrong = u_second < config.inspector_error
    confirmed = critical != second_wrong
    if confirmed:
        return "critical", critical
    return ("major" if defective else "conforming"), critical


def _plan_seed(seed: int, rules: str, month: int) -> bytes:
    return hashlib.sha256(f"{seed}:{rules}:{month}".encode()).digest()


def _p_bad(live: _Live, drift: float) -> float:
    # Drift moves mass to the bad component, all of it at >= 15%.
    kept = (1.0 - drift) ** live.idle
    return min(1.0, max(0.0, 1.0 - kept * (1.0 - allocation.bad_mass(live.weights))))


def _claim_percentiles(world: _World, present: Sequence[int], month: int
                       ) -> dict[int, float]:
    first = max(0, month - SIGNAL_MONTHS)
    rates = {}
    for i in present:
        seller = world.sellers[i]
        months = [m for m in range(max(first, seller.start), month)]
        if months:
            events = sum(world.claims[i][m] for m in months)
            rates[i + 1] = events / (seller.units * len(months))
    return allocation.claim_percentiles(rates)


def simulate_run(config: WorldConfig, seed: int, rules: str,
                 world: _World | None = None) -> RunResult:
    """Live one world (drawn from `seed`) through the old or the new rules."""
    if rules not in RULES:
        raise ValueError(f"The rules must be one of {', '.join(RULES)}.")
    world = world or _world(config, seed)
    new = rules == "new"  # "old" and "old-capped" run the fixed-rate planner
    plan = decisions.compute_decision_plan()
    if new:
        h = allocation.choose_h(config.budget / config.sellers, plan.main, plan.params.p0)
        plan = decisions.compute_decision_plan(h=h)
    # Launch sellers are established (past onboarding) with label anniversaries spread over
    # the year; arrivals start in onboarding.
    lives = [_Live(stats=SellerStats(onboarding=False), state=SamplingState.NORMAL)
             if s.start == 0 else _Live() for s in world.sellers]
    streams = [random.Random(s.stream_seed) for s in world.sellers]  # noqa: S311
    drift_model = allocation.DEFAULT_DRIFT
    period = sampling.parse_period(START_PERIOD)
    orders_by_month: list[int] = []
    auc_in_use: float | None = None
    measured: float | None = None
    for month in range(config.months):
        present = [i for i, s in enumerate(world.sellers)
                   if s.start <= month and lives[i].suspended is None]
        if new:
            percentiles = (_claim_percentiles(world, present, month)
                           if config.signal != "none" else {})
            estimate = allocation.measure_auc([
                (bool(lv.first_defective), lv.first_planned_percentile) for lv in lives
                if lv.first_defective is not None and lv.first_planned_percentile is not None])
            measured = estimate.auc
            auc_in_use = (estimate.auc if estimate.auc is not None
                          and allocation.DEFAULT_MIN_AUC <= estimate.auc < 1.0 else None)
            inputs = sampling.PlanInputs(
                period=period, budget_orders=config.budget, budget_cents=10**12, buyers=BUYERS,
                signal_auc=auc_in_use,
                sellers=tuple(sampling.SellerInput(
                    seller_id=i + 1, state=lives[i].state or SamplingState.NORMAL,
                    on_probation=False, p_bad=_p_bad(lives[i], drift_model),
                    claim_percentile=percentiles.get(i + 1), awaiting_confirmation=False,
                    listings=(sampling.ListingInput(i + 1, world.sellers[i].units, 1),))
                    for i in present))
            month_plan = sampling.compute_plan(inputs, _plan_seed(seed, rules, month))
            order_sellers = [o.seller_id - 1 for o in month_plan.orders]
            for i in present:
                if lives[i].orders == 0:
                    lives[i].first_planned_percentile = percentiles.get(i + 1)
        else:
            old_inputs = sampling_v1.PlanInputs(
                period=period, rates=sampling_v1.DEFAULT_RATES, budget_cents=config.budget,
                buyer_accounts=("simulation",),
                sellers=tuple(sampling_v1.SellerInput(
                    seller_id=i + 1, state=lives[i].state or SamplingState.NORMAL,
                    on_probation=False, risk=lives[i].stats.s / plan.main.h,
                    listings=(sampling.ListingInput(i + 1, world.sellers[i].units, 1),))
                    for i in present))
            old_plan = sampling_v1.compute_plan(old_inputs, _plan_seed(seed, rules, month))
            kept = list(old_plan.orders)
            if rules == "old-capped" and len(kept) > config.budget:
                risk = {s.seller_id: s.risk for s in old_inputs.sellers}
                kept.sort(key=lambda o: (CAP_RANK[o.sampling_state], -risk[o.seller_id],
                                         o.planned_at, o.seller_id))
                kept = sorted(kept[:config.budget], key=lambda o: (o.planned_at, o.seller_id))
            order_sellers = [o.seller_id - 1 for o in kept]
        used = 0
        for i in order_sellers:
            live = lives[i]
            if live.suspended is not None:
                continue  # suspended earlier this month: the order is cancelled
            verdict, truly_critical = _verdict(streams[i], world.sellers[i].p(month), config,
                                               second=new)
            live.orders += 1
            used += 1
            defective = verdict in decisions.DEFECT_VERDICTS
            if live.first_defective is None:
                live.first_defective = defective
            live.month_defects += defective
            live.month_clean += not defective
            live.year_inspected += 1
            decision = decisions.compute_decision(LabelStatus.ACTIVE, live.stats, verdict, plan)
            live.stats, live.state = decision.stats, decision.sampling_state
            if verdict == "critical":
                live.suspended = month
                live.cause = "critical" if truly_critical else "false critical"
            elif decision.action == Action.SUSPEND:
                live.suspended = month
                live.cause = "statistical"
        orders_by_month.append(used)
        for i in present:
            live = lives[i]
            live.idle += 1
            if live.month_defects or live.month_clean:
                live.weights = allocation.updated(
                    allocation.drifted(live.weights, live.idle, drift_model),
                    live.month_defects, live.month_clean)
                live.idle, live.month_defects, live.month_clean = 0, 0, 0
            age = month + 1 - world.sellers[i].start + world.sellers[i].label_age
            if age % RENEWAL_MONTHS == 0 and live.suspended is None:
                if not new and live.year_inspected < decisions.RENEWAL_MIN_INSPECTED:
                    live.stats = decisions.compute_conditional_renewal(live.stats)
                    live.state = decisions.compute_sampling_state(
                        LabelStatus.ACTIVE, live.stats, plan)
                live.year_inspected = 0
        period = period.next()
    return _measure(config, world, lives, rules, seed, plan.main.h, orders_by_month, measured)


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _measure(config: WorldConfig, world: _World, lives: Sequence[_Live], rules: str, seed: int,
             h: float, orders_by_month: Sequence[int], auc: float | None) -> RunResult:
    months = config.months
    good = [i for i, s in enumerate(world.sellers) if s.bad_from(GOOD_MAX + 1e-12) is None]

    def good_suspended_by(month: int, causes: frozenset[str] = WRONG) -> float | None:
        present = [i for i in good if world.sellers[i].start < month]
        return _pct(sum(1 for i in present if (m := lives[i].suspended) is not None
                        and m < month and lives[i].cause in causes), len(present))

    followed = []  # (months from bad to suspension or None) for >= 20% with 12 months ahead
    waits: list[float] = []
    units = 0.0
    for i, seller in enumerate(world.sellers):
        suspended = lives[i].suspended
        end = months if suspended is None else suspended  # months it sells: [start, end)
        for m in range(seller.start, end):
            if seller.p(m) >= BAD_MIN:
                units += seller.units * seller.p(m)
        since = seller.bad_from(WORSE_MIN)
        if since is None or since >= months:
            continue
        if since + 12 <= months:
            followed.append(suspended is None or suspended >= since + 12)
        waits.append(math.inf if suspended is None else suspended + 1 - since)
    launch_worse = [i for i, s in enumerate(world.sellers)
                    if s.start == 0 and s.rate >= WORSE_MIN]
    waits.sort()
    median = None
    if waits and math.isfinite(waits[(len(waits) - 1) // 2]):
        median = float(statistics.median(waits))
    return RunResult(
        rules=rules, seed=seed, h=h, orders_by_month=tuple(orders_by_month),
        good_suspended_12=good_suspended_by(min(12, months)),
        good_suspended_36=good_suspended_by(months),
        good_critical_36=good_suspended_by(months, frozenset({"critical"})),
        worse_selling_after_12=_pct(sum(followed), len(followed)),
        launch_worse_selling_end=_pct(sum(1 for i in launch_worse if lives[i].suspended is None),
                                      len(launch_worse)),
        median_months_to_suspend=median,
        median_months_suspended=(float(statistics.median(finite)) if (finite := [
            w for w in waits if math.isfinite(w)]) else None),
        defective_units=units, measured_auc=auc)


# --------------------------------------------------------------------------- comparison

@dataclass(frozen=True)
class Comparison:
    """Runs of the same worlds under the rules compared."""

    config: WorldConfig
    runs: Mapping[str, tuple[RunResult, ...]]


def run_comparison(config: WorldConfig, rules: Sequence[str] = RULES) -> Comparison:
    """Simulate `config.runs` worlds (seeds seed, seed + 1, ...) under each of the rules."""
    results: dict[str, list[RunResult]] = {r: [] for r in rules}
    for k in range(config.runs):
        seed = config.seed + k
        world = _world(config, seed)
        for r in rules:
            results[r].append(simulate_run(config, seed, r, world))
    return Comparison(config, MappingProxyType({r: tuple(v) for r, v in results.items()}))


def _mean_se(values: Sequence[float | None]) -> tuple[float, float] | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    mean = statistics.fmean(present)
    se = statistics.stdev(present) / math.sqrt(len(present)) if len(present) > 1 else 0.0
    return mean, se


def _cell(values: Sequence[float | None], digits: int = 2, suffix: str = "") -> str:
    stat = _mean_se(values)
    if stat is None:
        return "n/a"
    return f"{stat[0]:.{digits}f}{suffix} ± {stat[1]:.{digits}f}"


def _median_cell(runs: Sequence[RunResult], months: int) -> str:
    values = [r.median_months_to_suspend for r in runs]
    if any(v is None for v in values):
        share = sum(v is None for v in values)
        finite = [v for v in values if v is not None]
        return (f"> {months} in {share} of {len(values)} runs"
                + (f" (others {_cell(finite, 1)})" if finite else ""))
    return _cell(values, 1)


def format_comparison(result: Comparison) -> str:
    """The comparison table (means over runs ± standard error)."""
    config = result.config
    rules = list(result.runs)
    seeds = (f"seed {config.seed}" if config.runs == 1
             else f"seeds {config.seed}..{config.seed + config.runs - 1}")
    lines = [
        f"{config.sellers} sellers + {config.arrivals} a month, {config.months} months, budget "
        f"{config.budget} orders a month, signal {config.signal}, drift {config.drift:g}, "
        f"critical share {config.critical_share:g}, inspector error {config.inspector_error:g}; "
        f"{config.runs} run{'s' if config.runs != 1 else ''} ({seeds}); mean ± standard error",
        "",
        "| measure | " + " | ".join(f"{r} rules" for r in rules) + " |",
        "|---|" + "---|" * len(rules),
    ]

    def row(name: str, cells: Sequence[str]) -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    runs = [result.runs[r] for r in rules]
    row("h in force", [_cell([x.h for x in rs]) for rs in runs])
    row("good sellers wrongly suspended, 12 months",
        [_cell([x.good_suspended_12 for x in rs], 2, "%") for rs in runs])
    row(f"good sellers wrongly suspended, {config.months} months",
        [_cell([x.good_suspended_36 for x in rs], 2, "%") for rs in runs])
    row(f"good sellers suspended for a true critical defect, {config.months} months",
        [_cell([x.good_critical_36 for x in rs], 2, "%") for rs in runs])
    row(">= 20% sellers still selling 12 months after they start or turn bad",
        [_cell([x.worse_selling_after_12 for x in rs], 1, "%") for rs in runs])
    row(f"launch sellers at >= 20% still selling at {config.months} months",
        [_cell([x.launch_worse_selling_end for x in rs], 1, "%") for rs in runs])
    row("median months to suspension (>= 20%)",
        [_median_cell(rs, config.months) for rs in runs])
    row("  among those suspended",
        [_cell([x.median_months_suspended for x in rs], 1) for rs in runs])
    row("defective units sold while bad (>= 15%)",
        [_cell([x.defective_units for x in rs], 0) for rs in runs])
    for reference in rules[:-1]:  # each against the same worlds under an earlier rule set
        base = [x.defective_units for x in result.runs[reference]]
        row(f"  relative to the {reference} rules",
            [_cell([100.0 * x.defective_units / b for x, b in zip(rs, base, strict=True)], 1,
                   "%") for rs in runs])
    row("orders used a month, mean",
        [_cell([statistics.fmean(x.orders_by_month) for x in rs], 1) for rs in runs])
    row("orders used a month, max over runs",
        [f"{max(max(x.orders_by_month) for x in rs)}" for rs in runs])
    if "new" in result.runs:
        row("signal AUC measured on first orders (new rules)",
            [_cell([x.measured_auc for x in rs], 3) if r == "new" else "-"
             for r, rs in zip(rules, runs, strict=True)])
    return "\n".join(lines)
