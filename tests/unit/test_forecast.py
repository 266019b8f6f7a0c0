"""Statistical suspensions over calendar months (qc/forecast.py): exact against the OC of
qc/stats.py, against simulation, and the edges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qc.forecast import (
    CRITICAL_RULE,
    FIGURES_SCOPE,
    STATISTICAL_ONLY,
    MonthlyRate,
    expected_suspensions,
    suspension_probability,
)
from qc.stats import DEFAULT_PLAN, Increments, compute_increments, oc_probability

INC = compute_increments(DEFAULT_PLAN)
P0 = DEFAULT_PLAN.p0


@pytest.mark.parametrize("rate", [1, 2, 3, 4])
@pytest.mark.parametrize("p", [0.02, P0, 0.20])
def test_a_whole_rate_from_zero_is_the_oc_of_twelve_months_of_orders(rate: int, p: float) -> None:
    # the same dynamic program in the same order: equal to the last bit, not just close
    assert suspension_probability(p, rate, INC) == oc_probability(p, 12 * rate, INC)
    assert suspension_probability(p, float(rate), INC, months=5) == oc_probability(
        p, 5 * rate, INC)


def test_a_whole_rate_with_a_head_start_is_the_oc_from_that_head_start() -> None:
    for s0 in (0.5, INC.h / 2, 4.9):
        assert suspension_probability(P0, 2, INC, s0=s0) == oc_probability(P0, 24, INC, s0)


def test_the_design_figures_of_the_issue() -> None:
    # a new seller at p0, 2 orders a month: the OC of 24 orders, 0.29%
    assert suspension_probability(P0, 2, INC) == pytest.approx(0.0029, abs=5e-5)
    # a seller on probation: head start h/2, the tightened 4 orders a month: 4.7%, not 0.99%
    assert suspension_probability(P0, 4, INC, s0=INC.h / 2) == pytest.approx(0.0472, abs=5e-5)
    # tightened sampling after a defect makes a normal seller's year five times riskier
    normal = suspension_probability(P0, 1, INC)
    tightening = suspension_probability(P0, MonthlyRate(1, tightened=4, tighten_at=1.0), INC)
    assert normal == pytest.approx(0.00049, abs=5e-6)
    assert tightening == pytest.approx(0.00274, abs=5e-6)


def _simulate(p: float, rate: MonthlyRate, inc: Increments, s0: float, months: int,
              paths: int, seed: int) -> float:
    """Share of simulated sellers whose CUSUM reaches h within `months` (independent of the
    dynamic program: every path is drawn order by order)."""
    rng = np.random.default_rng(seed)
    s = np.full(paths, s0)
    alive = np.ones(paths, dtype=bool)
    for _ in range(months):
        r = np.where(s >= rate.tighten_at, rate.tightened, rate.orders) \
            if rate.tightened is not None else np.full(paths, rate.orders)
        whole = np.floor(r)
        counts = whole + (rng.random(paths) < r - whole)
        for k in range(int(counts.max())):
            step = alive & (counts > k)
            defect = rng.random(paths) < p
            moved = np.maximum(0.0, s + np.where(defect, inc.w_defect, inc.w_clean))
            s = np.where(step, moved, s)
            alive &= ~(step & (s >= inc.h))
    return float(1.0 - alive.mean())


@pytest.mark.parametrize(("s0", "rate", "p", "seed"), [
    (1.3863, MonthlyRate(1.5), P0, 1),
    (INC.h / 2, MonthlyRate(0.5), P0, 2),
    (3.9, MonthlyRate(2.25), P0, 3),
    (0.7, MonthlyRate(0.3, tightened=4.0, tighten_at=1.0), P0, 4),
    (0.0, MonthlyRate(1.75, tightened=3.5, tighten_at=1.0), 0.15, 5),
])
def test_agrees_with_simulation_for_sellers_with_a_head_start_and_a_fractional_rate(
        s0: float, rate: MonthlyRate, p: float, seed: int) -> None:
    paths = 200_000
    exact = suspension_probability(p, rate, INC, s0=s0)
    simulated = _simulate(p, rate, INC, s0, 12, paths, seed)
    standard_error = math.sqrt(exact * (1.0 - exact) / paths)
    assert 0.0 < exact < 1.0
    assert abs(simulated - exact) <= 4 * standard_error, (exact, simulated, standard_error)


def test_a_fractional_rate_lies_between_its_whole_neighbours() -> None:
    low, high = (suspension_probability(0.10, r, INC, s0=1.0) for r in (2, 3))
    middle = suspension_probability(0.10, 2.5, INC, s0=1.0)
    assert low < middle < high


def test_at_or_above_h_the_seller_is_already_suspended() -> None:
    assert suspension_probability(P0, 1, INC, s0=INC.h) == 1.0
    assert suspension_probability(P0, 0, INC, s0=INC.h + 2.0, months=0) == 1.0


def test_no_orders_no_time_or_no_defects_suspend_nobody() -> None:
    assert suspension_probability(P0, 0, INC) == 0.0
    assert suspension_probability(P0, 0.0, INC, s0=4.9) == 0.0
    assert suspension_probability(P0, 4, INC, s0=4.9, months=0) == 0.0
    assert suspension_probability(0.0, 4, INC, s0=4.9) == 0.0
    # a rate of 0 is no protection once S has reached the tightening level
    assert suspension_probability(P0, MonthlyRate(0, tightened=4), INC, s0=4.9) > 0.3
    assert suspension_probability(P0, MonthlyRate(0, tightened=4), INC, s0=0.5) == 0.0


def test_every_order_defective_suspends_after_four_orders() -> None:
    assert suspension_probability(1.0, 1, INC, months=3) == 0.0
    assert suspension_probability(1.0, 1, INC, months=4) == 1.0


def test_the_fleet_sum_is_the_sum_of_its_sellers() -> None:
    sellers: list[tuple[float, float | MonthlyRate]] = [
        (0.0, 2.0), (0.0, 2.0), (0.0, 1), (1.3863, MonthlyRate(1, 4)), (2.6, 4.0),
        (2.6 + 1e-12, 4.0), (INC.h, 0.5), (7.0, 1.0), (0.5, 0.25), (3.1, MonthlyRate(0.5, 4))]
    each = [suspension_probability(P0, rate, INC, s0=s) for s, rate in sellers]
    assert expected_suspensions(sellers, P0, INC) == pytest.approx(math.fsum(each), rel=1e-12)
    assert expected_suspensions(iter(sellers), P0, INC, months=0) == 2.0  # the two at >= h
    assert expected_suspensions([], P0, INC) == 0.0


@pytest.mark.parametrize(("call", "message"), [
    (lambda: suspension_probability(-0.1, 1, INC), "defect rate p must be between 0 and 1"),
    (lambda: suspension_probability(math.nan, 1, INC), "defect rate p must be between 0 and 1"),
    (lambda: suspension_probability(True, 1, INC), "defect rate p must be between 0 and 1"),
    (lambda: suspension_probability(P0, -1, INC), "planned rate must be a number of test "
                                                  "orders a month from 0 to 1,000"),
    (lambda: suspension_probability(P0, math.inf, INC), "planned rate must be"),
    (lambda: suspension_probability(P0, 1001, INC), "planned rate must be"),
    (lambda: suspension_probability(P0, 1, INC, s0=-0.5), "CUSUM S must be a non-negative"),
    (lambda: suspension_probability(P0, 1, INC, s0=math.nan), "CUSUM S must be a non-negative"),
    (lambda: suspension_probability(P0, 1, INC, months=-1), "months must be a whole number "
                                                            "from 0 to 120"),
    (lambda: suspension_probability(P0, 1, INC, months=1.5), "months must be a whole number"),  # type: ignore[arg-type]
    (lambda: suspension_probability(P0, 1, INC, months=121), "months must be a whole number"),
    (lambda: MonthlyRate(1, tightened=-4), "tightened rate must be a number"),
    (lambda: MonthlyRate(1, tightened=4, tighten_at=0), "level of S at which sampling "
                                                        "tightens must be a positive number"),
    (lambda: expected_suspensions([(0.0, -2.0)], P0, INC), "planned rate must be"),
    (lambda: expected_suspensions([(-1.0, 2.0)], P0, INC), "CUSUM S must be"),
])
def test_bad_inputs_are_refused_with_a_clear_message(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_the_published_scope_names_both_rules() -> None:
    assert STATISTICAL_ONLY == "These figures cover the statistical (CUSUM) rule only."
    assert CRITICAL_RULE == ("A critical defect (e.g. activation lock, blacklisted IMEI), once "
                             "confirmed by a second inspector, suspends pending review "
                             "regardless of these figures.")
    assert FIGURES_SCOPE == f"{STATISTICAL_ONLY} {CRITICAL_RULE}"
