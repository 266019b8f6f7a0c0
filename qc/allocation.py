"""Risk-based allocation of scarce test orders, and the threshold the budget allows (pure).

The marketplace buys about 150-200 test orders a month for 1,000-1,700 sellers (DESIGN.md
section 4), so orders are allocated by risk and the budget is never exceeded.

Posterior. Each seller has a posterior on its true defect rate p, held on a grid of rates
``GRID`` (0.5%, 1.5%, ..., 49.5%). The prior is the fleet mixture ``FLEET_MIXTURE`` (85% of
sellers uniform in 2-5%, 5% in 5-15%, 10% in 15-30%), spread evenly over the grid points
inside each range. Month by month from the start of the seller's label, the posterior first
*drifts*: a share ``drift`` of it (default 0.25% a month) moves to the bad component (uniform
15-30%), because a seller can turn bad at any time and one that has not been tested for long
must become worth testing again; then it is multiplied by the likelihood of that month's
inspected orders (p for each defective one, 1 - p for each clean one) and normalised.
``P(bad)`` is the posterior mass at p >= 15% (``BAD_RATE``). Only test-order verdicts enter
the posterior; decisions never use anything else.

Signal (allocation only). The seller's returns and warranty claims per unit sold over the
last 6 months are ranked across the fleet; the rank becomes a percentile q in (0, 1) and a
normal score z = Phi^-1(q). Its predictive power is measured without the bias of targeted
testing: the AUC between defective and clean *first* inspected orders of sellers, against
the percentile the seller had when that order was planned (``measure_auc``). When the AUC
is at least ``min_auc`` (default 0.55) the signal sharpens P(bad) for allocation. Most
defective first orders are good sellers' unlucky ones, so that AUC understates how well the
signal tells bad sellers from the others; ``seller_auc`` undoes the dilution with the prior
mixture. With that seller AUC A, the equal-variance binormal model gives
d = sqrt(2) Phi^-1(A) and the likelihood ratio bad : not bad exp(d z - d^2 / 2) (z clipped
to [-3, 3]). Below ``min_auc`` the signal is ignored.

Value and allocation (``allocate``). The value of testing a seller is
``P(bad) x (units / median units) ^ 0.25`` (units sold a month over its listings; the median
over the sellers planned, 1 if that is 0). Sellers with P(bad) >= 0.5, or with a critical
finding awaiting confirmation, form the *confirmation tier* and come first. All amounts are
integers in ten-thousandths of an order (``SCALE``) so every language derives the same plan.
Every seller gets the floor (default 0.01 orders a month); the rest of the budget goes in
decreasing (tier, value), ties broken by a seeded draw, in blocks of
``max(1, min(block_max, round(block_max * min(1, P(bad) / 0.5)^2)))`` orders (block_max 8:
one order screens a low-risk seller; the confirmation tier gets ``block_max``), pass after
pass in the same order, until the budget is spent (the last block may be a fraction) or every
seller has ``block_max`` orders beyond the floor. Counts then come by systematic sampling over a
seeded random order of the sellers, so each seller gets the floor or the ceiling of its
expected orders and the month's total is exactly the budget whenever the sellers can take it
(``systematic_counts``).

Threshold. ``choose_h`` picks the threshold from the orders per seller per month the budget
allows (r = budget / sellers): the smallest h on a 0.01 grid whose in-control average run
length at p0, in years at r orders a month, is at least ``target_years`` (default 500), never
below three defects' worth (h > 2 w_d, so two defects alone never suspend) and never above the
design's own h = ln((1 - beta) / alpha). Fewer orders a seller mean a
seller at p0 is tested less often, so a lower h keeps the same expected time between
wrongful signals while detecting bad sellers in fewer orders.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from qc.stats import Increments, expected_run_length

__all__ = [
    "BAD_RATE",
    "DEFAULT_BLOCK_MAX",
    "DEFAULT_DRIFT",
    "DEFAULT_FLOOR",
    "DEFAULT_MIN_AUC",
    "DEFAULT_TARGET_YEARS",
    "FLEET_MIXTURE",
    "GRID",
    "SCALE",
    "AllocationInput",
    "Allocation",
    "AucEstimate",
    "SellerAllocation",
    "allocate",
    "bad_mass",
    "choose_h",
    "claim_percentiles",
    "drifted",
    "measure_auc",
    "posterior_bad",
    "prior",
    "seller_auc",
    "signal_weight",
    "systematic_counts",
    "updated",
]

# (share of sellers, low, high): p uniform in [low, high) (DESIGN.md section 4).
FLEET_MIXTURE: tuple[tuple[float, float, float], ...] = (
    (0.85, 0.02, 0.05),
    (0.05, 0.05, 0.15),
    (0.10, 0.15, 0.30),
)
BAD_RATE = 0.15
GRID: tuple[float, ...] = tuple((k + 0.5) / 100 for k in range(50))
DEFAULT_DRIFT = 0.0025
DEFAULT_FLOOR = 0.01
DEFAULT_BLOCK_MAX = 8
DEFAULT_MIN_AUC = 0.55
DEFAULT_TARGET_YEARS = 500.0
CONFIRMATION_AT = 0.5
EXPOSURE_POWER = 0.25
SCALE = 10_000  # allocation amounts are integers in 1/10,000 of an order
MIN_AUC_ORDERS = 10  # defective and clean first orders each, before an AUC is measured
Z_CLIP = 3.0
SELLER_AUC_MAX = 0.99
H_STEP = 0.01
MIN_DEFECTS_BEFORE = 2  # h is above this many defects' worth of S
_NORMAL = statistics.NormalDist()


# --- the posterior ---------------------------------------------------------------------------


def _component(low: float, high: float) -> list[float]:
    inside = [1.0 if low <= p < high else 0.0 for p in GRID]
    total = sum(inside)
    return [x / total for x in inside]


def prior() -> tuple[float, ...]:
    """The fleet mixture on ``GRID`` (sums to 1)."""
    weights = [0.0] * len(GRID)
    for share, low, high in FLEET_MIXTURE:
        for k, x in enumerate(_component(low, high)):
            weights[k] += share * x
    return tuple(weights)


_BAD = tuple(_component(BAD_RATE, 0.30))
_PRIOR = prior()
_IS_BAD = tuple(p >= BAD_RATE for p in GRID)


def _normalise(weights: list[float]) -> list[float]:
    total = math.fsum(weights)
    if not (total > 0.0 and math.isfinite(total)):
        raise ValueError("The posterior vanished; the verdict history is impossible on the grid")
    return [w / total for w in weights]


def drifted(weights: Sequence[float], months: int, drift: float = DEFAULT_DRIFT
            ) -> tuple[float, ...]:
    """The posterior after ``months`` months of drift with no orders: a share
    1 - (1 - drift)^months of it moved to the bad component."""
    if not (math.isfinite(drift) and 0.0 <= drift < 1.0):
        raise ValueError("The drift must be at least 0 and below 1")
    if months < 0:
        raise ValueError("The number of months must not be negative")
    kept = (1.0 - drift) ** months
    return tuple(kept * w + (1.0 - kept) * b for w, b in zip(weights, _BAD, strict=True))


def updated(weights: Sequence[float], defects: int, clean: int) -> tuple[float, ...]:
    """The posterior after ``defects`` defective and ``clean`` clean inspected orders."""
    if defects < 0 or clean < 0:
        raise ValueError("Order counts must not be negative")
    if not defects and not clean:
        return tuple(weights)
    return tuple(_normalise([w * p**defects * (1.0 - p)**clean
                             for w, p in zip(weights, GRID, strict=True)]))


def bad_mass(weights: Sequence[float]) -> float:
    """P(p >= 15%) of a posterior on ``GRID``."""
    return math.fsum(w for w, bad in zip(weights, _IS_BAD, strict=True) if bad)


def posterior_bad(months: Sequence[tuple[int, int]], drift: float = DEFAULT_DRIFT) -> float:
    """P(p >= 15%) after the months of a seller's label, oldest first, each given as
    (defective orders, clean orders) inspected that month: each month drifts, then takes
    its orders."""
    weights: tuple[float, ...] = _PRIOR
    idle = 0
    for defects, clean in months:
        idle += 1
        if defects or clean:
            weights = updated(drifted(weights, idle, drift), defects, clean)
            idle = 0
    return bad_mass(drifted(weights, idle, drift))


# --- the returns/claims signal ---------------------------------------------------------------


def claim_percentiles(rates: Mapping[int, float]) -> dict[int, float]:
    """Each seller's percentile (rank - 1/2) / n of its claim rate, ties sharing the mean rank."""
    for seller_id, rate in rates.items():
        if not (math.isfinite(rate) and rate >= 0.0):
            raise ValueError(f"Seller {seller_id}: the claim rate must be a number >= 0")
    ordered = sorted(rates.items(), key=lambda item: item[1])
    n = len(ordered)
    result: dict[int, float] = {}
    i = 0
    while i < n:
        j = i
        while j + 1 < n and ordered[j + 1][1] == ordered[i][1]:
            j += 1
        mean_rank = (i + j) / 2 + 1  # 1-based
        for k in range(i, j + 1):
            result[ordered[k][0]] = (mean_rank - 0.5) / n
        i = j + 1
    return result


@dataclass(frozen=True)
class AucEstimate:
    """The AUC of claim percentiles between defective and clean first orders, with its
    95% interval (Hanley & McNeil 1982) and the numbers of orders behind it."""

    auc: float | None  # None: too few orders of one kind
    low: float | None
    high: float | None
    defective: int
    clean: int


def measure_auc(first_orders: Sequence[tuple[bool, float]]) -> AucEstimate:
    """AUC from (defective, claim percentile when planned) of sellers' first inspected orders:
    the probability that a defective first order's seller ranked above a clean one's (ties
    count one half). Needs ``MIN_AUC_ORDERS`` of each kind."""
    bad = [q for defective, q in first_orders if defective]
    good = [q for defective, q in first_orders if not defective]
    for q in bad + good:
        if not (math.isfinite(q) and 0.0 <= q <= 1.0):
            raise ValueError("Claim percentiles must be between 0 and 1")
    m, n = len(bad), len(good)
    if m < MIN_AUC_ORDERS or n < MIN_AUC_ORDERS:
        return AucEstimate(None, None, None, m, n)
    good_sorted = sorted(good)
    wins = 0.0
    for q in bad:
        below = _count_below(good_sorted, q)
        equal = _count_below(good_sorted, math.nextafter(q, 2.0)) - below
        wins += below + equal / 2
    auc = wins / (m * n)
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (m - 1) * (q1 - auc * auc)
                + (n - 1) * (q2 - auc * auc)) / (m * n)
    half = 1.959963984540054 * math.sqrt(max(variance, 0.0))
    return AucEstimate(auc, max(0.0, auc - half), min(1.0, auc + half), m, n)


def _count_below(values: Sequence[float], x: float) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _mixture_rates() -> tuple[float, float, float]:
    """(share of bad sellers, mean rate of bad sellers, mean rate of the others) in the prior."""
    bad = math.fsum(w for w, is_bad in zip(_PRIOR, _IS_BAD, strict=True) if is_bad)
    q_bad = math.fsum(w * p for w, p, is_bad in zip(_PRIOR, GRID, _IS_BAD, strict=True)
                      if is_bad) / bad
    q_good = math.fsum(w * p for w, p, is_bad in zip(_PRIOR, GRID, _IS_BAD, strict=True)
                       if not is_bad) / (1.0 - bad)
    return bad, q_bad, q_good


_MIXTURE = _mixture_rates()


def seller_auc(first_order_auc: float) -> float:
    """The AUC between bad and other *sellers* that a first-order AUC implies.

    Most defective first orders come from good sellers (a good seller's unlucky order), so the
    first-order AUC is diluted: with pi the prior share of bad sellers and q_b, q_g the mean
    rates of bad and other sellers, a defective first order is a bad seller's with
    w_d = pi q_b / (pi q_b + (1 - pi) q_g) and a clean one with
    w_c = pi (1 - q_b) / (pi (1 - q_b) + (1 - pi)(1 - q_g)); then
    AUC_first = a A + b (1 - A) + (1 - a - b) / 2 with a = w_d (1 - w_c), b = (1 - w_d) w_c,
    solved for the seller AUC A (clipped to [0.5, 0.99])."""
    pi, q_bad, q_good = _MIXTURE
    w_d = pi * q_bad / (pi * q_bad + (1.0 - pi) * q_good)
    w_c = pi * (1.0 - q_bad) / (pi * (1.0 - q_bad) + (1.0 - pi) * (1.0 - q_good))
    a, b = w_d * (1.0 - w_c), (1.0 - w_d) * w_c
    value = (first_order_auc - b - (1.0 - a - b) / 2) / (a - b)
    return min(SELLER_AUC_MAX, max(0.5, value))


def signal_weight(p_bad: float, percentile: float | None, auc: float | None) -> float:
    """P(bad) sharpened by the claim percentile through the binormal model of the seller AUC
    that the first-order AUC ``auc`` implies (``seller_auc``); unchanged without a percentile
    or an AUC in use."""
    _check_probability(p_bad, "P(bad)")
    if percentile is None or auc is None or auc <= 0.5:
        return p_bad
    if not 0.0 < percentile < 1.0:
        raise ValueError("The claim percentile must be strictly between 0 and 1")
    if not auc < 1.0:
        raise ValueError("The AUC must be below 1")
    if p_bad in (0.0, 1.0):
        return p_bad
    d = math.sqrt(2.0) * _NORMAL.inv_cdf(seller_auc(auc))
    z = min(Z_CLIP, max(-Z_CLIP, _NORMAL.inv_cdf(percentile)))
    odds = p_bad / (1.0 - p_bad) * math.exp(d * z - d * d / 2)
    return odds / (1.0 + odds)


def _check_probability(value: float, name: str) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be between 0 and 1")


# --- allocation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationInput:
    """One seller as the allocation sees it."""

    seller_id: int
    p_bad: float  # after the signal, if one is in use
    units: int  # units sold a month over its listings
    awaiting_confirmation: bool = False  # a critical finding waits for a second inspector

    def __post_init__(self) -> None:
        _check_probability(self.p_bad, f"Seller {self.seller_id}: P(bad)")
        if self.units < 0:
            raise ValueError(f"Seller {self.seller_id}: units must be >= 0")


@dataclass(frozen=True)
class SellerAllocation:
    """A seller's share of the month: expected orders (in 1/SCALE), tier, value and count."""

    seller_id: int
    expected: int  # floor + blocks, in 1/SCALE of an order
    confirmation: bool
    value: float
    count: int


@dataclass(frozen=True)
class Allocation:
    """The month's allocation, one row per seller in the order the budget was given out."""

    sellers: tuple[SellerAllocation, ...]
    budget_orders: int
    floor_short: bool  # the budget did not cover every seller's floor


def allocate(period_key: str, sellers: Sequence[AllocationInput], budget_orders: int,
             draw_below: Callable[[str, int], int], floor: float = DEFAULT_FLOOR,
             block_max: int = DEFAULT_BLOCK_MAX) -> Allocation:
    """Allocate ``budget_orders`` test orders among the sellers (see the module docstring).

    ``draw_below(label, n)`` is the plan's seeded draw (a uniform integer below n); labels are
    ``"P|S|tie"``, ``"P|S|order"`` and ``"P|systematic"``.
    """
    if budget_orders < 0:
        raise ValueError("The budget must be at least 0 orders")
    if not (math.isfinite(floor) and 0.0 <= floor <= 1.0):
        raise ValueError("The floor must be between 0 and 1 order a month")
    if block_max < 1:
        raise ValueError("A block must be at least one order")
    ids = [s.seller_id for s in sellers]
    if len(set(ids)) != len(ids):
        raise ValueError("Seller ids must be distinct")
    if not sellers:
        return Allocation((), budget_orders, False)
    median_units = statistics.median(s.units for s in sellers) or 1
    total = budget_orders * SCALE
    floor_units = round(floor * SCALE)
    floor_short = floor_units * len(sellers) > total
    each = min(floor_units, total // len(sellers))
    left = total - each * len(sellers)

    def rank(s: AllocationInput) -> tuple[int, float, int]:
        value = s.p_bad * (s.units / median_units) ** EXPOSURE_POWER
        confirmation = s.awaiting_confirmation or s.p_bad >= CONFIRMATION_AT
        return (0 if confirmation else 1, -value,
                draw_below(f"{period_key}|{s.seller_id}|tie", 2**32))

    ranked = sorted(sellers, key=rank)
    ranks = {s.seller_id: rank(s) for s in ranked}
    amounts = {s.seller_id: each for s in ranked}
    cap = each + block_max * SCALE
    while left > 0:  # passes in the same order until the budget is spent or all are full
        given = 0
        for s in ranked:
            block = block_max if ranks[s.seller_id][0] == 0 else _block(s.p_bad, block_max)
            extra = min(block * SCALE, cap - amounts[s.seller_id], left)
            amounts[s.seller_id] += extra
            left -= extra
            given += extra
        if not given:
            break
    rows = [(s.seller_id, amounts[s.seller_id], ranks[s.seller_id][0] == 0,
             -ranks[s.seller_id][1]) for s in ranked]
    counts = systematic_counts(period_key, [(sid, amount) for sid, amount, _, _ in rows],
                               draw_below)
    return Allocation(
        tuple(SellerAllocation(sid, amount, confirmation, value, counts[sid])
              for sid, amount, confirmation, value in rows),
        budget_orders, floor_short)


def _block(p_bad: float, block_max: int) -> int:
    """Orders a seller gets when its turn comes: one to screen it while P(bad) is low, rising
    with (P(bad) / 0.5)^2 to ``block_max`` in the confirmation tier."""
    return max(1, min(block_max, round(block_max * min(1.0, p_bad / CONFIRMATION_AT) ** 2)))


def systematic_counts(period_key: str, amounts: Sequence[tuple[int, int]],
                      draw_below: Callable[[str, int], int]) -> dict[int, int]:
    """Whole orders from expected amounts (seller id, amount in 1/SCALE) by systematic
    sampling: sellers in increasing ``draw_below("P|S|order", 2**32)`` (then id), a start
    ``t = draw_below("P|systematic", SCALE)`` and a point at t + k * SCALE for k = 0, 1, ...;
    a seller gets the points inside its stretch [C_before, C_after) of the running sum. The
    total is the number of whole orders in the sum (exactly the budget when it is spent)."""
    order = sorted(amounts, key=lambda item: (draw_below(f"{period_key}|{item[0]}|order", 2**32),
                                              item[0]))
    start = draw_below(f"{period_key}|systematic", SCALE)
    counts: dict[int, int] = {}
    before = 0
    for seller_id, amount in order:
        if amount < 0:
            raise ValueError(f"Seller {seller_id}: the expected orders must be >= 0")
        after = before + amount
        # points t + k*SCALE in [before, after): ceil((after - t)/SCALE) - ceil((before - t)/SCALE)
        counts[seller_id] = -((start - after) // SCALE) + ((start - before) // SCALE)
        before = after
    return counts


# --- the threshold ---------------------------------------------------------------------------


def choose_h(orders_per_seller_month: float, inc: Increments, p0: float,
             target_years: float = DEFAULT_TARGET_YEARS) -> float:
    """The smallest h (on a 0.01 grid, at most ``inc.h``) whose average run length at p0 is at
    least ``target_years`` years at the given orders per seller per month."""
    r = orders_per_seller_month
    if not (math.isfinite(r) and r >= 0.0):
        raise ValueError("The orders per seller per month must be a number >= 0")
    if not (math.isfinite(target_years) and target_years > 0.0):
        raise ValueError("The target must be a positive number of years")
    if r == 0.0:
        return inc.h
    needed = target_years * 12.0 * r  # orders
    # A suspension needs at least three defects: two can be a good seller's bad week.
    lowest = math.floor(MIN_DEFECTS_BEFORE * inc.w_defect / H_STEP) * H_STEP + H_STEP

    def arl(h: float) -> float:
        return expected_run_length(p0, Increments(inc.w_defect, inc.w_clean, h,
                                                  inc.acceptance_run))

    if lowest >= inc.h or arl(inc.h) < needed:
        return inc.h
    lo, hi = math.ceil(lowest / H_STEP), math.floor(inc.h / H_STEP)  # grid indices
    if arl(hi * H_STEP) < needed:
        return inc.h
    if arl(lo * H_STEP) >= needed:
        return round(lo * H_STEP, 2)
    while hi - lo > 1:  # arl(lo) < needed <= arl(hi) (or hi is the design h)
        mid = (lo + hi) // 2
        if arl(mid * H_STEP) >= needed:
            hi = mid
        else:
            lo = mid
    return round(hi * H_STEP, 2)
