"""Seller statistics (qc/stats.py): CUSUM numbers of DESIGN.md section 4, OC, ARL, bounds."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qc.stats import (
    DEFAULT_MINOR_PLAN,
    DEFAULT_PLAN,
    OC_NS,
    OC_PS,
    Increments,
    PlanParams,
    Replay,
    check_plan_params,
    clopper_pearson,
    compute_increments,
    compute_stats,
    cusum_step,
    describe_plan,
    expected_run_length,
    oc_probability,
    oc_table,
    replay,
)

INC = compute_increments(DEFAULT_PLAN)
MINOR = compute_increments(DEFAULT_MINOR_PLAN)
D, C = True, False

# --------------------------------------------------------------------------- plan parameters

def test_default_plan_is_the_design_plan() -> None:
    assert (DEFAULT_PLAN.p0, DEFAULT_PLAN.p1, DEFAULT_PLAN.alpha, DEFAULT_PLAN.beta) == (
        0.05, 0.20, 0.005, 0.10)
    assert (DEFAULT_MINOR_PLAN.p0, DEFAULT_MINOR_PLAN.p1, DEFAULT_MINOR_PLAN.alpha,
            DEFAULT_MINOR_PLAN.beta) == (0.10, 0.30, 0.005, 0.10)


def test_default_increments_match_design() -> None:
    assert INC.w_defect == pytest.approx(1.3863, abs=5e-5)
    assert INC.w_clean == pytest.approx(-0.1719, abs=5e-5)
    assert INC.h == pytest.approx(5.1930, abs=5e-5)
    assert INC.acceptance_run == 14


def test_increments_are_the_log_likelihood_ratios() -> None:
    assert INC.w_defect == math.log(0.20 / 0.05)
    assert INC.w_clean == math.log(0.80 / 0.95)
    assert INC.h == math.log(0.90 / 0.005)
    # 13 clean orders are not yet Wald's acceptance, 14 are.
    lower = math.log(0.10 / 0.995)
    assert 13 * INC.w_clean > lower >= 14 * INC.w_clean


def test_minor_increments() -> None:
    assert MINOR.w_defect == pytest.approx(math.log(3.0))
    assert MINOR.w_clean == pytest.approx(math.log(0.7 / 0.9))
    assert MINOR.h == INC.h
    assert MINOR.acceptance_run == 10


def test_sound_plan_has_no_messages() -> None:
    assert check_plan_params(0.05, 0.20, 0.005, 0.10) == []


@pytest.mark.parametrize(("args", "message"), [
    ((0.20, 0.05, 0.005, 0.10), "The rejectable rate p1 must be above the acceptable rate p0."),
    ((0.10, 0.10, 0.005, 0.10), "The rejectable rate p1 must be above the acceptable rate p0."),
    ((0.0, 0.20, 0.005, 0.10), "The acceptable rate p0 must be between 0 and 1 (exclusive)."),
    ((0.05, 1.0, 0.005, 0.10), "The rejectable rate p1 must be between 0 and 1 (exclusive)."),
    ((0.05, 0.20, 0.0, 0.10), "alpha must be between 0 and 0.5 (exclusive)."),
    ((0.05, 0.20, 0.5, 0.10), "alpha must be between 0 and 0.5 (exclusive)."),
    ((0.05, 0.20, 0.005, 0.7), "beta must be between 0 and 0.5 (exclusive)."),
    ((0.05, 0.20, 0.005, math.nan), "beta must be between 0 and 0.5 (exclusive)."),
])
def test_bad_plan_messages(args: tuple[float, float, float, float], message: str) -> None:
    assert check_plan_params(*args) == [message]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PlanParams(*args)


def test_all_bad_plan_messages_are_joined() -> None:
    assert len(check_plan_params(-1.0, 2.0, 0.9, -0.1)) == 4
    with pytest.raises(ValueError, match="p0 .* p1 .* alpha .* beta"):
        PlanParams(-1.0, 2.0, 0.9, -0.1)


def test_increments_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="defect increment"):
        Increments(w_defect=-1.0, w_clean=-0.1, h=5.0, acceptance_run=14)
    with pytest.raises(ValueError, match="clean increment"):
        Increments(w_defect=1.0, w_clean=0.1, h=5.0, acceptance_run=14)
    with pytest.raises(ValueError, match="threshold h"):
        Increments(w_defect=1.0, w_clean=-0.1, h=0.0, acceptance_run=14)


def test_plan_and_results_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_PLAN.p0 = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        INC.h = 1.0  # type: ignore[misc]


def test_describe_plan() -> None:
    assert describe_plan(DEFAULT_PLAN) == (
        "Suspend when the CUSUM of major/critical verdicts reaches h = 5.19 (p0 = 5%, "
        "p1 = 20%, alpha = 0.5%, beta = 10%); a defect adds 1.39, a clean order subtracts "
        "0.17; 14 clean orders in a row show acceptance.")
    assert describe_plan(DEFAULT_MINOR_PLAN, "minor verdicts", "Tighten sampling").startswith(
        "Tighten sampling when the CUSUM of minor verdicts reaches h = 5.19 (p0 = 10%, p1 = 30%")


# --------------------------------------------------------------------------- the CUSUM

def test_step_adds_and_clamps_at_zero() -> None:
    assert cusum_step(0.0, D, INC) == INC.w_defect
    assert cusum_step(0.0, C, INC) == 0.0
    assert cusum_step(1.0, C, INC) == pytest.approx(1.0 - 0.171850, abs=1e-6)
    assert cusum_step(0.1, C, INC) == 0.0
    # S above h (a lowered h, or orders inspected after a signal) keeps moving.
    assert cusum_step(6.0, C, INC) == pytest.approx(6.0 + INC.w_clean)
    with pytest.raises(ValueError, match="non-negative"):
        cusum_step(-0.1, D, INC)


def test_four_defects_in_a_row_signal_on_the_fourth() -> None:
    result = replay([D, D, D, D], INC)
    assert result.path == pytest.approx((1.386294, 2.772589, 4.158883, 5.545177), abs=1e-6)
    assert result.final == pytest.approx(5.545, abs=5e-4)
    assert result.signals == (3,)


def test_three_defects_do_not_signal() -> None:
    assert replay([D, D, D], INC).signals == ()


def test_empty_history() -> None:
    assert replay([], INC) == Replay(path=(), signals=(), final=0.0)
    assert replay([], INC, s0=2.0).final == 2.0


def test_clean_orders_decay_s_by_hand() -> None:
    result = replay([D, C, C, C, C, C, C, C, C, C], INC)
    # 1.3863 - 8 * 0.1719 = 0.0115 > 0; the ninth clean order clamps to 0.
    assert result.path[8] == pytest.approx(1.386294 - 8 * 0.171850, abs=1e-5)
    assert result.path[9] == 0.0
    assert result.signals == ()


def test_signal_on_crossing_then_only_on_further_defects() -> None:
    # Cross with the 4th defect, stay above h with clean orders (no new signal), then a
    # further defect signals again; falling below h and climbing back is a new crossing.
    history = [D, D, D, D, C, C, D, C, C, C, C, C, C, C, C, C, C, C, D]
    result = replay(history, INC)
    s = result.path
    assert min(s[3], s[4], s[5]) >= INC.h
    assert result.signals[:2] == (3, 6)
    below = next(i for i in range(7, len(s)) if result.path[i] < INC.h)
    assert all(result.path[i] < INC.h for i in range(below, 18))
    assert result.path[18] >= INC.h
    assert result.signals == (3, 6, 18)


def test_clean_orders_above_h_stay_silent() -> None:
    # Orders inspected after a signal (bought before the suspension) keep folding in; clean
    # ones that leave S above h are not a new signal.
    result = replay([D, D, D, D, C, C], INC)
    assert all(s >= INC.h for s in result.path[3:])
    assert result.signals == (3,)


def test_head_start_half_h() -> None:
    s0 = INC.h / 2
    result = replay([D, D], INC, s0=s0)
    assert result.path[0] == pytest.approx(s0 + INC.w_defect)
    assert result.path[0] < INC.h <= result.path[1]
    assert result.signals == (1,)
    # From zero the same two defects are far from h.
    assert replay([D, D], INC).signals == ()


@pytest.mark.parametrize("s0", [-0.1, INC.h, INC.h + 1, math.nan])
def test_head_start_must_be_below_h(s0: float) -> None:
    with pytest.raises(ValueError, match="head start"):
        replay([D], INC, s0=s0)


def test_replay_does_not_mutate_input() -> None:
    history = [D, C, D]
    replay(history, INC)
    assert history == [D, C, D]


def test_minor_cusum_uses_the_same_functions() -> None:
    result = replay([D] * 5, MINOR)
    # 4 * ln 3 = 4.39 < 5.19 <= 5 * ln 3 = 5.49
    assert result.signals == (4,)


def test_compute_stats_summary() -> None:
    stats = compute_stats([D, C, C, D, C, C, C], INC)
    assert (stats.inspected, stats.defects, stats.clean_run) == (7, 2, 3)
    assert stats.s == replay([D, C, C, D, C, C, C], INC).final
    assert not stats.signalling
    assert (stats.rate_lower, stats.rate_upper) == clopper_pearson(2, 7)
    empty = compute_stats([], INC)
    assert (empty.inspected, empty.s, empty.clean_run) == (0, 0.0, 0)
    assert (empty.rate_lower, empty.rate_upper) == (0.0, 1.0)
    assert compute_stats([D] * 4, INC).signalling


@given(st.lists(st.booleans(), max_size=200),
       st.floats(min_value=0.0, max_value=5.19, allow_nan=False))
def test_s_is_never_negative_and_replay_folds_the_step(history: list[bool], s0: float) -> None:
    result = replay(history, INC, s0=s0)
    s = s0
    for i, defective in enumerate(history):
        s = cusum_step(s, defective, INC)
        assert result.path[i] == s
        assert s >= 0.0
    assert result.final == s
    assert len(result.path) == len(history)


@given(st.lists(st.booleans(), max_size=120))
def test_signals_are_exactly_crossings_and_defects_above_h(history: list[bool]) -> None:
    result = replay(history, INC)
    previous = (0.0, *result.path)
    expected = tuple(i for i, s in enumerate(result.path)
                     if s >= INC.h and (previous[i] < INC.h or history[i]))
    assert result.signals == expected
    first = next((i for i, s in enumerate(result.path) if s >= INC.h), None)
    assert (result.signals[0] if result.signals else None) == first


# --------------------------------------------------------------------------- OC

@pytest.mark.parametrize(("p", "n", "expected"), [
    (0.05, 24, 0.0029),
    (0.20, 24, 0.4073),
    (0.05, 48, 0.0099),
])
def test_design_oc_values(p: float, n: int, expected: float) -> None:
    assert oc_probability(p, n, INC) == pytest.approx(expected, abs=5e-5)


def test_oc_table_layout_and_values() -> None:
    table = oc_table(OC_PS, OC_NS, INC)
    assert len(table) == len(OC_PS)
    assert all(len(row) == len(OC_NS) for row in table)
    for i, p in enumerate(OC_PS):
        for j, n in enumerate(OC_NS):
            assert table[i][j] == oc_probability(p, n, INC)
    assert table[OC_PS.index(0.05)] == pytest.approx((0.0005, 0.0029, 0.0099), abs=5e-5)
    assert table[OC_PS.index(0.20)][OC_NS.index(24)] == pytest.approx(0.4073, abs=5e-5)


def test_oc_at_zero_orders() -> None:
    assert oc_probability(0.2, 0, INC) == 0.0
    assert oc_probability(0.2, 0, INC, s0=INC.h) == 1.0
    assert oc_probability(0.2, 10, INC, s0=INC.h + 1) == 1.0


def test_oc_edges() -> None:
    assert oc_probability(0.0, 48, INC) == 0.0
    assert oc_probability(1.0, 3, INC) == 0.0
    assert oc_probability(1.0, 4, INC) == 1.0
    with pytest.raises(ValueError, match="defect rate"):
        oc_probability(1.5, 4, INC)
    with pytest.raises(ValueError, match="orders n"):
        oc_probability(0.1, -1, INC)


def _brute_force_oc(p: float, n: int, inc: Increments, s0: float = 0.0) -> float:
    total = 0.0
    for history in itertools.product((False, True), repeat=n):
        if replay(history, inc, s0).signals:
            k = sum(history)
            total += p**k * (1 - p) ** (n - k)
    return total


@pytest.mark.parametrize("n", [1, 4, 7, 10, 12])
@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_oc_equals_enumeration_of_all_histories(p: float, n: int) -> None:
    assert oc_probability(p, n, INC) == pytest.approx(_brute_force_oc(p, n, INC), abs=1e-12)


@pytest.mark.parametrize("inc", [INC, MINOR], ids=["main", "minor"])
def test_oc_with_head_start_equals_enumeration(inc: Increments) -> None:
    s0 = inc.h / 2
    assert oc_probability(0.1, 11, inc, s0) == pytest.approx(
        _brute_force_oc(0.1, 11, inc, s0), abs=1e-12)
    assert oc_probability(0.1, 11, inc, s0) > oc_probability(0.1, 11, inc)


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1.0),
       st.integers(min_value=0, max_value=40))
def test_oc_is_monotone_in_p(a: float, b: float, n: int) -> None:
    lo, hi = sorted((a, b))
    assert oc_probability(lo, n, INC) <= oc_probability(hi, n, INC) + 1e-12


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0), st.integers(min_value=0, max_value=40),
       st.integers(min_value=0, max_value=20))
def test_oc_is_monotone_in_n(p: float, n: int, more: int) -> None:
    value = oc_probability(p, n, INC)
    assert 0.0 <= value <= 1.0
    assert value <= oc_probability(p, n + more, INC)


# --------------------------------------------------------------------------- ARL

def test_arl_defaults() -> None:
    arl0 = expected_run_length(0.05, INC)
    arl1 = expected_run_length(0.20, INC)
    assert arl0 == pytest.approx(3117.27, abs=0.01)
    assert arl1 == pytest.approx(34.0913, abs=1e-4)
    assert arl0 > 50 * arl1


def test_arl_deterministic_cases() -> None:
    assert expected_run_length(1.0, INC) == 4.0
    assert expected_run_length(1.0, INC, s0=INC.h / 2) == 2.0
    assert expected_run_length(0.0, INC) == math.inf
    assert expected_run_length(0.3, INC, s0=INC.h) == 0.0


@pytest.mark.parametrize(("p", "s0_fraction", "n_max"), [(0.2, 0.0, 700), (0.5, 0.5, 200)])
def test_arl_equals_sum_of_survival(p: float, s0_fraction: float, n_max: int) -> None:
    s0 = INC.h * s0_fraction
    # ARL = sum over n >= 0 of P(no signal within n orders); the tail beyond n_max is < 1e-9.
    curve = oc_table([p], range(n_max + 1), INC, s0)[0]
    assert 1 - curve[-1] < 1e-9
    assert expected_run_length(p, INC, s0) == pytest.approx(math.fsum(1 - c for c in curve),
                                                            rel=1e-8)


def test_arl_at_p0_agrees_with_monte_carlo() -> None:
    rng = np.random.default_rng(20240501)
    sellers = 4000
    s = np.zeros(sellers)
    run = np.zeros(sellers)
    alive = np.ones(sellers, dtype=bool)
    step = 0
    while alive.any():
        step += 1
        idx = np.flatnonzero(alive)
        defect = rng.random(idx.size) < 0.05
        s[idx] = np.maximum(0.0, s[idx] + np.where(defect, INC.w_defect, INC.w_clean))
        hit = idx[s[idx] >= INC.h]
        run[hit] = step
        alive[hit] = False
    standard_error = run.std() / math.sqrt(sellers)
    assert abs(run.mean() - expected_run_length(0.05, INC)) < 4 * standard_error


def test_head_start_shortens_the_run_length() -> None:
    for p in (0.05, 0.2):
        assert expected_run_length(p, INC, s0=INC.h / 2) < expected_run_length(p, INC)


@settings(max_examples=25, deadline=None)
@given(st.floats(min_value=0.01, max_value=1.0), st.floats(min_value=0.01, max_value=1.0))
def test_arl_decreases_with_p(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert expected_run_length(hi, INC) <= expected_run_length(lo, INC) * (1 + 1e-9)


# --------------------------------------------------------------------------- reported rates

def test_clopper_pearson_zero_defects() -> None:
    lower, upper = clopper_pearson(0, 10)
    assert lower == 0.0
    assert upper == pytest.approx(0.2589, abs=5e-5)
    assert upper == pytest.approx(1 - 0.05 ** (1 / 10))


def test_clopper_pearson_all_defects() -> None:
    lower, upper = clopper_pearson(10, 10)
    assert upper == 1.0
    assert lower == pytest.approx(0.05 ** (1 / 10))


def test_clopper_pearson_bounds_are_one_sided() -> None:
    from scipy.stats import binom  # type: ignore[import-untyped]

    lower, upper = clopper_pearson(3, 24, confidence=0.95)
    # One-sided 95%: P(X >= 3 | lower) = 5% and P(X <= 3 | upper) = 5%.
    assert binom.sf(2, 24, lower) == pytest.approx(0.05, abs=1e-9)
    assert binom.cdf(3, 24, upper) == pytest.approx(0.05, abs=1e-9)
    assert lower < 3 / 24 < upper


def test_clopper_pearson_no_orders_and_bad_input() -> None:
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="between 0 and the number of orders"):
        clopper_pearson(5, 4)
    with pytest.raises(ValueError, match="between 0 and the number of orders"):
        clopper_pearson(-1, 4)
    with pytest.raises(ValueError, match="confidence"):
        clopper_pearson(1, 4, confidence=0.4)
