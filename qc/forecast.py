"""Statistical suspensions forecast over calendar months, and what such figures cover (pure).

``qc.stats.oc_probability`` counts test orders from S = 0. A seller is tested a few times a
month from wherever its CUSUM stands today, so the plan page and the period report publish
instead the probability that a seller is suspended by the statistical rule (the CUSUM reaching
h) within the next M calendar months at a true defect rate p (p0: "if every seller were good"),
summed over the sellers in force: the expected number of wrongful suspensions.

The model, month by month:

- a seller planned r test orders a month gets floor(r) orders in a month, or floor(r) + 1 with
  probability frac(r), independently each month (what the planner's per-seller count draw and
  systematic sampling give in expectation);
- optionally a different rate applies in a month that begins with S >= ``tighten_at`` (the
  tightened sampling of DESIGN.md section 4, which sends more orders to a seller after a
  defect); otherwise the rate is the same every month;
- each order is defective with probability p, independently; S' = max(0, S + w) with the
  increments of ``qc.stats``; S >= h is absorbing (a seller already at or above h counts 1).

Rates are otherwise held fixed over the horizon: the move to reduced sampling after a clean run,
the end of probation and the minor-defect CUSUM are not modelled. The first two lower the rate,
so for a good seller the forecast errs towards more suspensions, not fewer.

The computation is exact (up to float rounding): dynamic programming over the finitely many S
values reachable, merged on ``round(S, 9)`` as in ``qc.stats``, absorbed mass summed directly so
that small probabilities stay precise. In each month the floor(r) single-order steps are shared
by both possible order counts and the (floor(r) + 1)-th step is taken once more with weight
frac(r). With an integer r and no tightening, M months are exactly ``oc_probability(p, M * r)``,
the same operations in the same order. The expected number of suspensions is linear in the
starting distribution, so a fleet is one dynamic program per distinct rate, started from the
number of sellers at each S: sellers with the same (round(S, 9), rate) cost nothing extra.

``FIGURES_SCOPE`` is the one wording, used by pages, PDFs and notices, of what every published
error rate covers and of the critical-defect rule beside it.

Pure module: no Flask, no SQLAlchemy; plain values in, plain values out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from qc.stats import Increments

__all__ = [
    "CRITICAL_RULE",
    "FIGURES_SCOPE",
    "MAX_MONTHS",
    "MAX_RATE",
    "STATISTICAL_ONLY",
    "MonthlyRate",
    "expected_suspensions",
    "suspension_probability",
]

STATISTICAL_ONLY = "These figures cover the statistical (CUSUM) rule only."
CRITICAL_RULE = ("A critical defect (e.g. activation lock, blacklisted IMEI), once confirmed by "
                 "a second inspector, suspends pending review regardless of these figures.")
FIGURES_SCOPE = f"{STATISTICAL_ONLY} {CRITICAL_RULE}"

MAX_RATE = 1000.0  # orders a month; the plan allows 31, this only keeps the loop bounded
MAX_MONTHS = 120

_KEY_DIGITS = 9  # states closer than 1e-9 are the same state (as in qc.stats)

_Live = dict[float, tuple[float, float]]  # round(S, 9) -> (representative S, mass)


def _is_real(value: object) -> bool:
    # bool is an int; a checkbox value must not pass for a number.
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_orders(value: float, what: str) -> None:
    if not (_is_real(value) and 0.0 <= value <= MAX_RATE):
        raise ValueError(f"The {what} must be a number of test orders a month from 0 to "
                         f"{MAX_RATE:,.0f}.")


@dataclass(frozen=True)
class MonthlyRate:
    """A seller's planned test orders a month: ``orders``, or ``tightened`` in a month that
    begins with S >= ``tighten_at`` (``tightened`` None: ``orders`` whatever S)."""

    orders: float
    tightened: float | None = None
    tighten_at: float = 1.0

    def __post_init__(self) -> None:
        _check_orders(self.orders, "planned rate")
        if self.tightened is not None:
            _check_orders(self.tightened, "tightened rate")
        if not (_is_real(self.tighten_at) and self.tighten_at > 0.0):
            raise ValueError("The level of S at which sampling tightens must be a positive "
                             "number.")


def _check(p: float, months: int) -> None:
    if not (_is_real(p) and 0.0 <= p <= 1.0):
        raise ValueError("The defect rate p must be between 0 and 1.")
    if not (isinstance(months, int) and not isinstance(months, bool)
            and 0 <= months <= MAX_MONTHS):
        raise ValueError(f"The number of months must be a whole number from 0 to {MAX_MONTHS}.")


def _check_s(s: float) -> None:
    if not (_is_real(s) and s >= 0.0):
        raise ValueError("The CUSUM S must be a non-negative number.")


def _as_rate(rate: float | MonthlyRate) -> MonthlyRate:
    return rate if isinstance(rate, MonthlyRate) else MonthlyRate(rate)


def _key(s: float) -> float:
    return round(s, _KEY_DIGITS)


def _add(into: _Live, key: float, s: float, mass: float) -> None:
    old = into.get(key)
    into[key] = (s, mass) if old is None else (old[0], old[1] + mass)


class _Chain:
    """The CUSUM's one-order step at rate p, summing the mass that reaches h."""

    def __init__(self, p: float, inc: Increments) -> None:
        self.steps = ((inc.w_defect, p), (inc.w_clean, 1.0 - p))
        self.h = inc.h
        self.signalled = 0.0

    def order(self, live: _Live, weight: float = 1.0) -> _Live:
        """One more order for every live state; signalled mass counts ``weight`` times."""
        nxt: _Live = {}
        for s, mass in live.values():
            for w, q in self.steps:
                m = mass * q
                if m == 0.0:
                    continue
                t = max(0.0, s + w)
                if t >= self.h:
                    self.signalled += m * weight
                    continue
                _add(nxt, _key(t), t, m)
        return nxt

    def month(self, live: _Live, orders: float) -> _Live:
        """A month of floor(orders) orders, or one more with probability frac(orders)."""
        whole = math.floor(orders)
        extra = orders - whole
        for _ in range(whole):
            live = self.order(live)
        if extra == 0.0:
            return live
        more = self.order(live, extra)
        mixed: _Live = {k: (s, m * (1.0 - extra)) for k, (s, m) in live.items()}
        for k, (s, m) in more.items():
            _add(mixed, k, s, m * extra)
        return mixed


def _forecast(start: _Live, rate: MonthlyRate, p: float, inc: Increments, months: int) -> float:
    # Expected number of signals within `months` from the (not necessarily unit) mass `start`.
    chain = _Chain(p, inc)
    live = start
    tightened = rate.tightened
    for _ in range(months):
        if not live:
            break
        if tightened is None or tightened == rate.orders:
            live = chain.month(live, rate.orders)
            continue
        low = {k: v for k, v in live.items() if v[0] < rate.tighten_at}
        high = {k: v for k, v in live.items() if v[0] >= rate.tighten_at}
        live = chain.month(low, rate.orders) if low else {}
        for k, (s, m) in (chain.month(high, tightened) if high else {}).items():
            _add(live, k, s, m)
    return chain.signalled


def suspension_probability(p: float, rate: float | MonthlyRate, inc: Increments,
                           s0: float = 0.0, months: int = 12) -> float:
    """Exact probability that a seller at true defect rate p, with CUSUM S = s0 now and
    planned ``rate`` test orders a month, is suspended by the statistical rule within
    ``months`` calendar months.

    The upper-sided CUSUM of ``qc.stats`` month by month (see the module docstring): s0 >= h
    gives 1.0; months = 0, a rate of 0 (and no tightening that applies) or p = 0 give 0.0.
    Bad inputs raise ValueError.
    """
    _check(p, months)
    _check_s(s0)
    plan = _as_rate(rate)
    if s0 >= inc.h:
        return 1.0
    return min(1.0, _forecast({_key(s0): (s0, 1.0)}, plan, p, inc, months))


def expected_suspensions(sellers: Iterable[tuple[float, float | MonthlyRate]], p: float,
                         inc: Increments, months: int = 12) -> float:
    """Expected number of statistical suspensions within ``months`` among ``sellers``, each
    given as (its CUSUM S now, its planned rate), all at true defect rate p.

    The sum of ``suspension_probability`` over the sellers, computed with one dynamic program
    per distinct rate (sellers at S >= h count 1 each); no sellers give 0.0. The cost grows
    with the number of distinct rates, not of sellers (bench/FORECAST.md).
    """
    _check(p, months)
    certain = 0
    starts: dict[MonthlyRate, _Live] = {}
    for s, rate in sellers:
        _check_s(s)
        plan = _as_rate(rate)
        if s >= inc.h:
            certain += 1
            continue
        _add(starts.setdefault(plan, {}), _key(s), s, 1.0)
    return certain + math.fsum(_forecast(start, plan, p, inc, months)
                               for plan, start in starts.items())
