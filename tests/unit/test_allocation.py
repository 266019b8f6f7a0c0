"""Risk-based allocation (qc/allocation.py): posterior, signal, floor and blocks, threshold."""

from __future__ import annotations

import hashlib
import math
import random
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qc.allocation import (
    GRID,
    SCALE,
    AllocationInput,
    allocate,
    bad_mass,
    choose_h,
    claim_percentiles,
    drifted,
    measure_auc,
    posterior_bad,
    prior,
    seller_auc,
    signal_weight,
    systematic_counts,
    updated,
)
from qc.sampling import below
from qc.stats import Increments, PlanParams, compute_increments, expected_run_length

SEED = hashlib.sha256(b"allocation").digest()
DRAW = partial(below, SEED)
INC = compute_increments(PlanParams())


def seeded(k: int) -> partial[int]:
    return partial(below, hashlib.sha256(f"allocation-{k}".encode()).digest())


# --- posterior -------------------------------------------------------------------------------

def test_prior_is_the_fleet_mixture() -> None:
    weights = prior()
    assert math.isclose(sum(weights), 1.0)
    assert math.isclose(bad_mass(weights), 0.10)
    assert math.isclose(sum(w for w, p in zip(weights, GRID, strict=True) if p < 0.05), 0.85)


def test_one_defect_raises_p_bad_as_bayes_rule_says() -> None:
    weights = prior()
    joint = [w * p for w, p in zip(weights, GRID, strict=True)]
    expected = sum(j for j, p in zip(joint, GRID, strict=True) if p >= 0.15) / sum(joint)
    assert math.isclose(posterior_bad([(1, 0)], drift=0.0), expected)
    assert 0.35 < expected < 0.45
    assert posterior_bad([(0, 8)], drift=0.0) < 0.03  # eight clean orders clear a seller


def test_drift_moves_an_untested_seller_toward_bad() -> None:
    # The bad component is entirely at p >= 15%, so P(bad) = 1 - (1 - d)^k (1 - P0).
    for months in (1, 12, 36):
        assert math.isclose(posterior_bad([(0, 0)] * months, drift=0.0025),
                            1 - (1 - 0.0025) ** months * 0.9)


def test_posterior_from_history_equals_stepwise_updates() -> None:
    history = [(0, 0), (0, 1), (0, 0), (1, 2), (0, 0), (0, 0)]
    weights = prior()
    for defects, clean in history:
        weights = updated(drifted(weights, 1, 0.0025), defects, clean)
    assert math.isclose(posterior_bad(history, 0.0025), bad_mass(weights))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: posterior_bad([(-1, 0)]), "negative"),
    (lambda: posterior_bad([], drift=1.0), "drift"),
    (lambda: drifted(prior(), -1), "months"),
])
def test_bad_posterior_inputs_are_refused(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=message):
        call()


# --- signal ----------------------------------------------------------------------------------

def test_claim_percentiles_rank_with_ties_sharing_the_mean_rank() -> None:
    result = claim_percentiles({1: 0.1, 2: 0.3, 3: 0.1, 4: 0.2})
    assert result == {1: 0.25, 3: 0.25, 4: 0.625, 2: 0.875}
    assert claim_percentiles({}) == {}
    with pytest.raises(ValueError, match="claim rate"):
        claim_percentiles({1: math.nan})


def test_auc_of_perfect_reversed_and_tied_separation() -> None:
    bad = [(True, 0.9 + i / 1000) for i in range(10)]
    good = [(False, 0.1 + i / 1000) for i in range(10)]
    assert measure_auc(bad + good).auc == 1.0
    flipped = [(not d, q) for d, q in bad + good]
    assert measure_auc(flipped).auc == 0.0
    tied = [(i % 2 == 0, 0.5) for i in range(40)]
    estimate = measure_auc(tied)
    assert estimate.auc == 0.5
    assert estimate.low is not None
    assert estimate.high is not None
    assert estimate.low < 0.5 < estimate.high


def test_auc_matches_the_pairwise_definition() -> None:
    rng = random.Random(4)
    data = [(rng.random() < 0.3, rng.random()) for _ in range(200)]
    bad = [q for d, q in data if d]
    good = [q for d, q in data if not d]
    pairs = sum((b > g) + 0.5 * (b == g) for b in bad for g in good) / (len(bad) * len(good))
    assert math.isclose(measure_auc(data).auc or -1, pairs)


def test_auc_needs_ten_orders_of_each_kind() -> None:
    estimate = measure_auc([(True, 0.9)] * 9 + [(False, 0.1)] * 50)
    assert (estimate.auc, estimate.defective, estimate.clean) == (None, 9, 50)


def test_seller_auc_undoes_the_dilution_of_first_orders() -> None:
    assert seller_auc(0.5) == 0.5
    assert seller_auc(0.4) == 0.5
    values = [seller_auc(a) for a in (0.55, 0.58, 0.6, 0.62)]
    assert values == sorted(values)
    assert all(v > a for v, a in zip(values, (0.55, 0.58, 0.6, 0.62), strict=True))
    assert seller_auc(0.9) == 0.99


def test_signal_weight_sharpens_only_with_an_auc() -> None:
    assert signal_weight(0.1, 0.99, None) == 0.1
    assert signal_weight(0.1, None, 0.6) == 0.1
    high, low = signal_weight(0.1, 0.95, 0.6), signal_weight(0.1, 0.05, 0.6)
    assert low < 0.1 < high
    d = math.sqrt(2) * 1.0  # check the binormal likelihood ratio at the median (z = 0)
    from scipy.stats import norm
    d = math.sqrt(2) * norm.ppf(seller_auc(0.6))
    odds = (0.1 / 0.9) * math.exp(-d * d / 2)
    assert math.isclose(signal_weight(0.1, 0.5, 0.6), odds / (1 + odds))
    with pytest.raises(ValueError, match="percentile"):
        signal_weight(0.1, 1.0, 0.6)


# --- allocation ------------------------------------------------------------------------------

def fleet(n: int, rng: random.Random) -> list[AllocationInput]:
    return [AllocationInput(i + 1, rng.choice([0.02, 0.08, 0.1, 0.3, 0.45, 0.7]),
                            rng.randint(0, 300), rng.random() < 0.02) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 400), budget=st.integers(0, 300), k=st.integers(0, 10**6))
def test_the_month_total_is_exactly_the_budget(n: int, budget: int, k: int) -> None:
    rng = random.Random(k)
    result = allocate("2027-01", fleet(n, rng), budget, seeded(k))
    counts = [row.count for row in result.sellers]
    room = sum(min(100, budget * SCALE // n) + 8 * SCALE for _ in range(n))  # floor + 8 each
    assert sum(row.expected for row in result.sellers) == min(budget * SCALE, room)
    spent = min(budget * SCALE, room)
    if spent == budget * SCALE:
        assert sum(counts) == budget  # the budget binds: exactly the budget
    else:  # every seller is full: the whole orders of the sum
        assert spent // SCALE <= sum(counts) <= -(-spent // SCALE)
    for row in result.sellers:  # each count is the floor or the ceiling of the expectation
        assert row.expected // SCALE <= row.count <= -(-row.expected // SCALE)


def test_every_seller_keeps_the_floor_and_the_rest_goes_by_tier_then_value() -> None:
    sellers = [AllocationInput(i, 0.7 if i % 100 == 0 else 0.3 if i % 100 == 50 else 0.1, 40,
                               i == 7) for i in range(1, 1501)]
    result = allocate("2027-01", sellers, 200, DRAW)
    assert all(row.expected >= 100 for row in result.sellers)  # 0.01 orders = 100 / SCALE
    keys = [(not row.confirmation, -row.value) for row in result.sellers]
    assert keys == sorted(keys)
    confirmation = [row for row in result.sellers if row.confirmation]
    assert confirmation
    assert all(row.expected == 100 + 8 * SCALE for row in confirmation[:5])
    by_id = {s.seller_id: s for s in sellers}
    assert all(by_id[row.seller_id].p_bad >= 0.5 or by_id[row.seller_id].awaiting_confirmation
               for row in confirmation)
    # Blocks: 8 orders at P(bad) >= 0.5, fewer below, one to screen a low-risk seller.
    extra = {row.seller_id: row.expected - 100 for row in result.sellers}
    assert {extra[sid] for sid in by_id if by_id[sid].p_bad == 0.3} == {3 * SCALE}
    screened = [sid for sid, e in extra.items() if e == SCALE and by_id[sid].p_bad == 0.1]
    assert len(screened) == 185 - 16 * 8 - 15 * 3
    assert extra[7] == 8 * SCALE  # awaiting confirmation: first tier whatever its P(bad)


def test_a_small_fleet_gets_up_to_one_full_block_each() -> None:
    sellers = [AllocationInput(1, 0.05, 10), AllocationInput(2, 0.6, 10)]
    result = allocate("2027-01", sellers, 200, DRAW)
    assert [row.expected for row in result.sellers] == [100 + 8 * SCALE] * 2
    assert sum(row.count for row in result.sellers) == 16


def test_value_weighs_sales_exposure_to_the_power_a_quarter() -> None:
    sellers = [AllocationInput(1, 0.1, 10), AllocationInput(2, 0.1, 160),
               AllocationInput(3, 0.1, 40)]
    result = allocate("2027-01", sellers, 1, DRAW)
    values = {row.seller_id: row.value for row in result.sellers}
    assert math.isclose(values[2], 0.1 * (160 / 40) ** 0.25)
    assert [row.seller_id for row in result.sellers] == [2, 3, 1]


def test_ties_are_broken_by_the_seed_not_by_seller_id() -> None:
    sellers = [AllocationInput(i, 0.1, 50) for i in range(1, 41)]
    firsts = {allocate("2027-01", sellers, 1, seeded(k)).sellers[0].seller_id
              for k in range(30)}
    assert len(firsts) > 5


def test_a_budget_below_the_floor_cost_shares_it_equally_and_says_so() -> None:
    sellers = [AllocationInput(i, 0.1, 10) for i in range(1, 301)]
    result = allocate("2027-01", sellers, 2, DRAW)
    assert result.floor_short
    assert min(row.expected for row in result.sellers) == 2 * SCALE // 300  # 66 each
    assert sum(row.expected for row in result.sellers) == 2 * SCALE  # the rest in a block
    assert sum(row.count for row in result.sellers) == 2
    nothing = allocate("2027-01", sellers, 0, DRAW)
    assert nothing.floor_short
    assert sum(row.count for row in nothing.sellers) == 0


def test_systematic_sampling_gives_each_seller_its_expectation() -> None:
    amounts = [(1, 2500), (2, 7500), (3, 12_500), (4, 7500)]  # 0.25, 0.75, 1.25, 0.75
    totals = {1: 0, 2: 0, 3: 0, 4: 0}
    runs = 4000
    for k in range(runs):
        counts = systematic_counts("2027-01", amounts, seeded(k))
        assert sum(counts.values()) == 3
        for sid, c in counts.items():
            totals[sid] += c
    for sid, amount in amounts:
        expected = amount / SCALE
        assert abs(totals[sid] / runs - expected) < 4 * math.sqrt(0.25 / runs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"budget_orders": -1}, "budget"),
    ({"floor": 1.5}, "floor"),
    ({"block_max": 0}, "block"),
])
def test_bad_allocation_inputs_are_refused(kwargs: dict[str, float], message: str) -> None:
    args: dict[str, object] = {"budget_orders": 10, "floor": 0.01, "block_max": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        allocate("2027-01", [AllocationInput(1, 0.1, 1)], draw_below=DRAW, **args)  # type: ignore[arg-type]


def test_duplicate_sellers_and_bad_probabilities_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        allocate("2027-01", [AllocationInput(1, 0.1, 1)] * 2, 5, DRAW)
    with pytest.raises(ValueError, match="P\\(bad\\)"):
        AllocationInput(1, 1.5, 1)


# --- threshold -------------------------------------------------------------------------------

def arl(h: float) -> float:
    return expected_run_length(0.05, Increments(INC.w_defect, INC.w_clean, h,
                                                INC.acceptance_run))


@pytest.mark.parametrize("rate", [0.1, 0.15, 0.27, 0.4, 0.5])
def test_the_threshold_is_the_smallest_with_the_target_run_length(rate: float) -> None:
    h = choose_h(rate, INC, 0.05)
    needed = 500 * 12 * rate
    assert arl(h) >= needed
    assert arl(round(h - 0.01, 2)) < needed


def test_the_threshold_grows_with_the_orders_a_seller_gets_up_to_the_design_h() -> None:
    hs = [choose_h(r, INC, 0.05) for r in (0.05, 0.1, 0.15, 0.27, 0.5, 1.0, 4.0)]
    assert hs == sorted(hs)
    assert 3.7 <= choose_h(0.15, INC, 0.05) <= 4.1
    assert 4.3 <= choose_h(0.27, INC, 0.05) <= 4.7
    assert choose_h(1.0, INC, 0.05) == INC.h
    assert choose_h(0.0, INC, 0.05) == INC.h
    # However few the orders, two defects alone never suspend.
    assert 2 * INC.w_defect < choose_h(0.01, INC, 0.05) <= 2 * INC.w_defect + 0.01
    with pytest.raises(ValueError, match="orders per seller"):
        choose_h(-1.0, INC, 0.05)
