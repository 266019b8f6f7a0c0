"""Seller statistics (pure): the Bernoulli LLR-CUSUM, its operating characteristic, rate bounds.

The rules of DESIGN.md section 4. A *defect* for the label decision is a ``major`` or
``critical`` verdict; every inspected order is one Bernoulli trial, so the statistics count
orders, never calendar time, and are recomputable from the ordered history at any time.

CUSUM (Page 1954; Reynolds & Stoumbos 1999): the Wald SPRT log-likelihood-ratio increments of
H0 "defect rate p0" against H1 "defect rate p1", restarted at zero::

    w_d = ln(p1 / p0)                 (a defective order, > 0)
    w_c = ln((1 - p1) / (1 - p0))     (a clean order, < 0)
    S_n = max(0, S_{n-1} + w_n),  S_0 = 0 (or a head start in [0, h))
    signal when S_n >= h = ln((1 - beta) / alpha)

The one-sided test is upper-sided: it only ever signals a rate *above* p0. ``acceptance_run``
is the number of clean orders in a row that take Wald's SPRT to acceptance of H0
(``ceil(ln(beta / (1 - alpha)) / w_c)``, 14 with the defaults). The same functions run the
minor-defect CUSUM with ``DEFAULT_MINOR_PLAN``; its signal only tightens sampling.

The operating characteristic (``oc_probability``) and the average run length
(``expected_run_length``) are computed exactly (up to float rounding and a 1e-13 relative
truncation for the run length) from the Markov chain of S: increments take two values, so the
states reachable in n orders are finite; they are merged on ``round(S, 9)`` to absorb float
noise, and S >= h is absorbing. Reported rates use one-sided Clopper-Pearson bounds, never a
bare k/n.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import binomtest  # type: ignore[import-untyped]

__all__ = [
    "DEFAULT_MINOR_PLAN",
    "DEFAULT_PLAN",
    "OC_NS",
    "OC_PS",
    "Increments",
    "PlanParams",
    "Replay",
    "Stats",
    "check_plan_params",
    "clopper_pearson",
    "compute_increments",
    "compute_stats",
    "cusum_step",
    "describe_plan",
    "expected_run_length",
    "oc_probability",
    "oc_table",
    "replay",
]

OC_PS: tuple[float, ...] = (0.02, 0.05, 0.10, 0.15, 0.20, 0.30)
OC_NS: tuple[int, ...] = (12, 24, 48)

_KEY_DIGITS = 9  # states closer than 1e-9 are the same state (float noise, not statistics)
_ARL_REL_TOL = 1e-13  # stop an excursion once its unresolved mass is this small vs. signals
_ARL_MAX_STEPS = 1_000_000  # excursions stay inside (0, h) and end geometrically fast


# --------------------------------------------------------------------------- plan parameters

def check_plan_params(p0: float, p1: float, alpha: float, beta: float) -> list[str]:
    """User-facing messages for a nonsensical CUSUM plan; an empty list means it is sound."""
    errors: list[str] = []
    p0_ok = _is_real(p0) and 0.0 < p0 < 1.0
    p1_ok = _is_real(p1) and 0.0 < p1 < 1.0
    if not p0_ok:
        errors.append("The acceptable rate p0 must be between 0 and 1 (exclusive).")
    if not p1_ok:
        errors.append("The rejectable rate p1 must be between 0 and 1 (exclusive).")
    if p0_ok and p1_ok and p1 <= p0:
        errors.append("The rejectable rate p1 must be above the acceptable rate p0.")
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not (_is_real(value) and 0.0 < value < 0.5):
            errors.append(f"{name} must be between 0 and 0.5 (exclusive).")
    return errors


def _is_real(value: object) -> bool:
    # bool is an int; a checkbox value must not pass for a rate.
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


@dataclass(frozen=True)
class PlanParams:
    """A CUSUM plan: acceptable rate p0, rejectable rate p1, error rates alpha and beta."""

    p0: float = 0.05
    p1: float = 0.20
    alpha: float = 0.005
    beta: float = 0.10

    def __post_init__(self) -> None:
        errors = check_plan_params(self.p0, self.p1, self.alpha, self.beta)
        if errors:
            raise ValueError(" ".join(errors))


DEFAULT_PLAN = PlanParams()
DEFAULT_MINOR_PLAN = PlanParams(p0=0.10, p1=0.30, alpha=0.005, beta=0.10)


@dataclass(frozen=True)
class Increments:
    """The CUSUM's per-order increments, its threshold h and the SPRT acceptance run."""

    w_defect: float
    w_clean: float
    h: float
    acceptance_run: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.w_defect) and self.w_defect > 0.0):
            raise ValueError("The defect increment must be a positive number.")
        if not (math.isfinite(self.w_clean) and self.w_clean < 0.0):
            raise ValueError("The clean increment must be a negative number.")
        if not (math.isfinite(self.h) and self.h > 0.0):
            raise ValueError("The threshold h must be a positive number.")
        if self.acceptance_run < 1:
            raise ValueError("The acceptance run must be at least one order.")


def compute_increments(params: PlanParams) -> Increments:
    """The LLR increments w_d = ln(p1/p0), w_c = ln((1-p1)/(1-p0)), h and acceptance run."""
    w_clean = math.log((1.0 - params.p1) / (1.0 - params.p0))
    return Increments(
        w_defect=math.log(params.p1 / params.p0),
        w_clean=w_clean,
        h=math.log((1.0 - params.beta) / params.alpha),
        acceptance_run=math.ceil(math.log(params.beta / (1.0 - params.alpha)) / w_clean),
    )


def describe_plan(params: PlanParams, subject: str = "major/critical verdicts",
                  action: str = "Suspend", h: float | None = None) -> str:
    """A plain-English sentence saying what the plan does and with which parameters (``h``
    replaces the threshold ln((1 - beta) / alpha), e.g. with the one the budget allows)."""
    inc = compute_increments(params)
    if h is not None:
        inc = Increments(inc.w_defect, inc.w_clean, h, inc.acceptance_run)
    return (f"{action} when the CUSUM of {subject} reaches h = {inc.h:.2f} "
            f"(p0 = {_percent(params.p0)}, p1 = {_percent(params.p1)}, "
            f"alpha = {_percent(params.alpha)}, beta = {_percent(params.beta)}); "
            f"a defect adds {inc.w_defect:.2f}, a clean order subtracts {-inc.w_clean:.2f}; "
            f"{inc.acceptance_run} clean orders in a row show acceptance.")


def _percent(rate: float) -> str:
    return f"{rate * 100:g}%"


# --------------------------------------------------------------------------- the CUSUM

def cusum_step(s: float, defective: bool, inc: Increments) -> float:
    """One-sided (upper) CUSUM step S' = max(0, S + w); S must be >= 0 and may exceed h."""
    if not (math.isfinite(s) and s >= 0.0):
        raise ValueError("The CUSUM S must be a non-negative number.")
    return max(0.0, s + (inc.w_defect if defective else inc.w_clean))


@dataclass(frozen=True)
class Replay:
    """S after each order, the 0-based indices of orders that signal, and the final S."""

    path: tuple[float, ...]
    signals: tuple[int, ...]
    final: float


def replay(defects: Sequence[bool], inc: Increments, s0: float = 0.0) -> Replay:
    """Replay an ordered history through the upper-sided CUSUM from head start s0 in [0, h).

    Order n signals when S_n >= h and either S_{n-1} < h (the crossing) or order n is itself
    defective. S can stay above h after a signal (a suspension only stops new orders; those
    already bought are still inspected), so a clean order that leaves S above h is not a new
    signal, while a further defect is. The first signal, which the operating characteristic
    counts, is the first crossing either way. With no orders (n = 0) the path and signals are
    empty and ``final`` is s0.
    """
    if not (math.isfinite(s0) and 0.0 <= s0 < inc.h):
        raise ValueError("The head start S0 must be at least 0 and below h.")
    path: list[float] = []
    signals: list[int] = []
    s = s0
    for index, defective in enumerate(defects):
        before, s = s, cusum_step(s, bool(defective), inc)
        path.append(s)
        if s >= inc.h and (before < inc.h or defective):
            signals.append(index)
    return Replay(path=tuple(path), signals=tuple(signals), final=s)


@dataclass(frozen=True)
class Stats:
    """A defect history summarised: counts, CUSUM, clean run, signals and rate bounds."""

    inspected: int
    defects: int
    s: float
    clean_run: int
    signals: tuple[int, ...]
    signalling: bool
    rate_lower: float
    rate_upper: float
    confidence: float


def compute_stats(defects: Sequence[bool], inc: Increments, s0: float = 0.0,
                  confidence: float = 0.95) -> Stats:
    """Summarise a history: the CUSUM replay plus one-sided Clopper-Pearson rate bounds.

    The bounds are each one-sided at ``confidence`` (see ``clopper_pearson``); with no orders
    (n = 0) S is s0, the run is 0 and the bounds are (0, 1).
    """
    result = replay(defects, inc, s0)
    k = sum(1 for d in defects if d)
    clean_run = 0
    for defective in reversed(defects):
        if defective:
            break
        clean_run += 1
    lower, upper = clopper_pearson(k, len(defects), confidence)
    return Stats(inspected=len(defects), defects=k, s=result.final, clean_run=clean_run,
                 signals=result.signals, signalling=result.final >= inc.h,
                 rate_lower=lower, rate_upper=upper, confidence=confidence)


# --------------------------------------------------------------------------- OC and ARL

def _check_rate(p: float) -> None:
    if not (_is_real(p) and 0.0 <= p <= 1.0):
        raise ValueError("The defect rate p must be between 0 and 1.")


def _check_start(s0: float) -> None:
    if not (math.isfinite(s0) and s0 >= 0.0):
        raise ValueError("The head start S0 must be a non-negative number.")


def _key(s: float) -> float:
    return round(s, _KEY_DIGITS)


def _oc_curve(p: float, n_max: int, inc: Increments, s0: float) -> list[float]:
    # P(S_k >= h for some k <= n) for n = 0..n_max; forward DP over live (not yet signalled)
    # states, each kept once per round(S, 9) with the first S value seen as its representative.
    # Absorbed mass is summed directly (not as 1 - live) so small probabilities stay precise.
    if s0 >= inc.h:
        return [1.0] * (n_max + 1)
    steps = ((inc.w_defect, p), (inc.w_clean, 1.0 - p))
    live: dict[float, tuple[float, float]] = {_key(s0): (s0, 1.0)}
    signalled = 0.0
    curve = [0.0]
    for _ in range(n_max):
        nxt: dict[float, tuple[float, float]] = {}
        for s, mass in live.values():
            for w, q in steps:
                m = mass * q
                if m == 0.0:
                    continue
                t = max(0.0, s + w)
                if t >= inc.h:
                    signalled += m
                    continue
                k = _key(t)
                old = nxt.get(k)
                nxt[k] = (t, m) if old is None else (old[0], old[1] + m)
        live = nxt
        curve.append(min(1.0, signalled))
    return curve


def oc_probability(p: float, n: int, inc: Increments, s0: float = 0.0) -> float:
    """Exact probability that a seller with true defect rate p signals within n orders.

    Upper-sided CUSUM from head start s0 (S >= h is absorbing, so s0 >= h gives 1.0); exact
    dynamic programming over the finitely many S values reachable in n orders. n = 0 gives 0.0
    (1.0 if s0 >= h).
    """
    _check_rate(p)
    _check_start(s0)
    if n < 0:
        raise ValueError("The number of orders n must be at least 0.")
    return _oc_curve(p, n, inc, s0)[n]


def oc_table(ps: Sequence[float], ns: Sequence[int], inc: Increments,
             s0: float = 0.0) -> tuple[tuple[float, ...], ...]:
    """The OC table: ``oc_probability(p, n)`` with rows by p and columns by n (one DP per p)."""
    for p in ps:
        _check_rate(p)
    _check_start(s0)
    if any(n < 0 for n in ns):
        raise ValueError("The number of orders n must be at least 0.")
    n_max = max(ns, default=0)
    rows: list[tuple[float, ...]] = []
    for p in ps:
        curve = _oc_curve(p, n_max, inc, s0)
        rows.append(tuple(curve[n] for n in ns))
    return tuple(rows)


@dataclass(frozen=True)
class _Excursion:
    steps: float  # expected orders until S returns to 0 or signals
    to_zero: float  # probability that S returns to 0 first
    to_signal: float  # probability that S reaches h first


def _excursion(s: float, p: float, inc: Increments) -> _Excursion:
    # Forward DP from S = s until S is clamped back to 0 or reaches h. Within an excursion the
    # reachable states keep growing with its length, but the mass still live decays
    # geometrically (S is confined to (0, h)), so the sums are truncated once it is negligible.
    steps = ((inc.w_defect, p), (inc.w_clean, 1.0 - p))
    live: dict[float, tuple[float, float]] = {_key(s): (s, 1.0)}
    expected = to_zero = to_signal = 0.0
    for _ in range(_ARL_MAX_STEPS):
        expected += math.fsum(m for _, m in live.values())
        nxt: dict[float, tuple[float, float]] = {}
        for state, mass in live.values():
            for w, q in steps:
                m = mass * q
                if m == 0.0:
                    continue
                t = state + w
                if t >= inc.h:
                    to_signal += m
                    continue
                k = _key(max(0.0, t))
                if k == 0.0:
                    to_zero += m
                    continue
                old = nxt.get(k)
                nxt[k] = (t, m) if old is None else (old[0], old[1] + m)
        live = nxt
        remaining = math.fsum(m for _, m in live.values())
        if remaining == 0.0 or (to_signal > 0.0 and remaining <= _ARL_REL_TOL * to_signal):
            break
    return _Excursion(steps=expected, to_zero=to_zero, to_signal=to_signal)


def expected_run_length(p: float, inc: Increments, s0: float = 0.0) -> float:
    """Average run length: expected orders until the upper-sided CUSUM signals at rate p.

    Starts from head start s0 (0.0 if s0 >= h; math.inf if p = 0, as S then never rises).
    Not a finite linear system: the reachable S values grow without bound with the number of
    orders (about 3.3 more per order with the defaults), so ``(I - Q) t = 1`` has no finite
    Q. The chain regenerates whenever S is clamped to 0, so with E and Z the expected length
    and the return-to-0 probability of one excursion, and q the signal probability of an
    excursion from 0: ARL(0) = E(0) / q and ARL(s0) = E(s0) + Z(s0) * ARL(0); each excursion
    is summed exactly by dynamic programming until its open mass is below 1e-13 of q.
    """
    _check_rate(p)
    _check_start(s0)
    if s0 >= inc.h:
        return 0.0
    if p == 0.0:
        return math.inf
    from_zero = _excursion(0.0, p, inc)
    if from_zero.to_signal == 0.0:  # p so small that a signal underflows
        return math.inf
    arl_zero = from_zero.steps / from_zero.to_signal
    if _key(s0) == 0.0:
        return arl_zero
    from_start = _excursion(s0, p, inc)
    return from_start.steps + from_start.to_zero * arl_zero


# --------------------------------------------------------------------------- reported rates

def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """One-sided Clopper-Pearson (exact binomial) bounds on a rate from k defects in n orders.

    ``lower`` is the one-sided lower bound and ``upper`` the one-sided upper bound, each at
    ``confidence`` (the two-sided exact interval at level 2 * confidence - 1). n = 0 gives
    (0.0, 1.0): no orders say nothing about the rate.
    """
    if isinstance(k, bool) or isinstance(n, bool) or not (0 <= k <= n):
        raise ValueError("The defect count k must be between 0 and the number of orders n.")
    if not (_is_real(confidence) and 0.5 < confidence < 1.0):
        raise ValueError("The confidence must be between 0.5 and 1 (exclusive).")
    if n == 0:
        return (0.0, 1.0)
    interval = binomtest(k, n).proportion_ci(confidence_level=2.0 * confidence - 1.0,
                                             method="exact")
    return (float(interval.low), float(interval.high))
