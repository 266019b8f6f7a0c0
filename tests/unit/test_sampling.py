"""The budget-true monthly planner (qc/sampling.py): allocation, money cap, buyers, records."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter

import pytest

from qc.allocation import signal_weight
from qc.buyers import BuyerInput
from qc.plan_records import (
    compute_plan_differences,
    compute_shortfall,
    derive_plan,
    describe_shortfall,
    inputs_from_json,
    inputs_to_json,
    plan_fingerprint,
)
from qc.sampling import (
    INPUTS_FORMAT_VERSION,
    ListingInput,
    Period,
    PlanInputs,
    SellerInput,
    compute_plan,
)
from qc.sampling_v1 import DEFAULT_RATES
from vetting.labels import SamplingState

ST = SamplingState
JANUARY = Period(2027, 1)
SEEDS = [hashlib.sha256(f"plan-{i}".encode()).digest() for i in range(50)]
BUYERS = tuple(BuyerInput(i, f"buyer {i}") for i in range(1, 41))


def seller(i: int, p_bad: float = 0.1, *, state: ST = ST.NORMAL, probation: bool = False,
           percentile: float | None = None, waiting: bool = False, units: int = 20,
           price: int = 30_000, listings: int = 2) -> SellerInput:
    return SellerInput(
        seller_id=i, state=state, on_probation=probation, p_bad=p_bad,
        claim_percentile=percentile, awaiting_confirmation=waiting,
        listings=tuple(ListingInput(i * 100 + k, units + k, price + 1000 * k)
                       for k in range(listings)))


def inputs(sellers: list[SellerInput], budget: int = 200, money: int = 10**12,
           auc: float | None = None) -> PlanInputs:
    return PlanInputs(period=JANUARY, sellers=tuple(sellers), budget_orders=budget,
                      budget_cents=money, buyers=BUYERS, signal_auc=auc)


def fleet(n: int = 1500) -> list[SellerInput]:
    return [seller(i, 0.7 if i % 97 == 0 else 0.3 if i % 31 == 0 else 0.1,
                   percentile=(i % 50 + 0.5) / 50, units=5 + i % 40) for i in range(1, n + 1)]


def test_a_budget_bound_month_uses_exactly_the_budget_and_is_deterministic() -> None:
    data = inputs(fleet())
    plan = compute_plan(data, SEEDS[0])
    assert len(plan.orders) == 200
    assert plan.total_cost_cents == sum(o.cost_cents for o in plan.orders)
    assert compute_plan(data, SEEDS[0]) == plan
    assert plan_fingerprint(compute_plan(data, SEEDS[1])) != plan_fingerprint(plan)
    counts = Counter(o.seller_id for o in plan.orders)
    assert max(counts.values()) <= 9  # a block of 8 plus a share of the floor at most
    assert all(o.confirmation == (o.seller_id % 97 == 0) for o in plan.orders)
    assert plan.orders == tuple(sorted(plan.orders,
                                       key=lambda o: (o.planned_at, o.seller_id, o.listing_id)))
    for o in plan.orders:  # business days, 9:00 to 17:59, within the month
        assert o.planned_at.weekday() < 5
        assert 9 <= o.planned_at.hour <= 17
        assert (o.planned_at.year, o.planned_at.month) == (2027, 1)


def test_one_sellers_orders_do_not_depend_on_the_order_of_the_input() -> None:
    sellers = fleet(300)
    plan = compute_plan(inputs(sellers), SEEDS[2])
    shuffled = compute_plan(inputs(list(reversed(sellers))), SEEDS[2])
    assert plan == shuffled


def test_the_signal_counts_only_with_an_auc_in_use() -> None:
    sellers = fleet(600)
    without = compute_plan(inputs(sellers, auc=None), SEEDS[3])
    values = {row.seller_id: row.value for row in without.allocation}
    assert values[1] == pytest.approx(0.1 * (6 / 25) ** 0.25, rel=0.2)
    used = compute_plan(inputs(sellers, auc=0.6), SEEDS[3])
    weights = {row.seller_id: row.value for row in used.allocation}
    top = max(sellers, key=lambda s: s.claim_percentile or 0)
    assert weights[top.seller_id] > values[top.seller_id]
    assert signal_weight(0.1, top.claim_percentile, 0.6) > 0.1


def test_the_money_budget_cuts_the_least_valuable_orders_first() -> None:
    sellers = [seller(1, 0.7), seller(2, 0.1), seller(3, 0.1, units=200)]
    full = compute_plan(inputs(sellers, budget=30), SEEDS[4])
    assert len(full.orders) > 8
    money = 9 * 32_000
    cut = compute_plan(inputs(sellers, budget=30, money=money), SEEDS[4])
    assert cut.total_cost_cents <= money
    assert cut.dropped
    assert all(d.reason.startswith("over the money budget") for d in cut.dropped)
    assert all(d.seller_id != 1 for d in cut.dropped)  # the confirmation tier is cut last
    assert len(cut.orders) + len(cut.dropped) == len(full.orders)


def test_sellers_without_listings_are_skipped_and_probation_plans_as_tightened() -> None:
    sellers = [seller(1, listings=0), seller(2, 0.6, probation=True), seller(3)]
    plan = compute_plan(inputs(sellers, budget=20), SEEDS[5])
    assert plan.skipped == ((1, "no listings"),)
    assert {o.sampling_state for o in plan.orders if o.seller_id == 2} == {ST.TIGHTENED}
    assert {o.seller_id for o in plan.orders} <= {2, 3}


def test_buyers_come_from_the_pool_by_seeded_draw() -> None:
    plan = compute_plan(inputs(fleet(400)), SEEDS[6])
    names = {b.buyer_id: b.name for b in BUYERS}
    assert all(names[o.buyer_id] == o.buyer_account for o in plan.orders)
    assert len({o.buyer_id for o in plan.orders}) > 20


def test_a_floor_the_budget_cannot_cover_is_warned_about() -> None:
    plan = compute_plan(inputs(fleet(400), budget=2), SEEDS[7])
    assert plan.over_budget
    assert "does not cover the floor" in plan.warnings[0]
    assert len(plan.orders) == 2


def test_stored_inputs_round_trip_and_re_derive_the_plan() -> None:
    data = inputs(fleet(200), auc=0.61)
    text = inputs_to_json(data)
    assert json.loads(text)["version"] == INPUTS_FORMAT_VERSION == 2
    back = inputs_from_json(text)
    assert back == data
    assert derive_plan(back, SEEDS[8]) == compute_plan(data, SEEDS[8])


def test_a_changed_stored_order_is_reported() -> None:
    plan = compute_plan(inputs(fleet(200)), SEEDS[9])
    stored = list(plan.orders)
    stored[3] = dataclasses.replace(stored[3], buyer_id=stored[3].buyer_id % 40 + 1)
    diffs = compute_plan_differences(plan.orders, stored)
    assert len(diffs) == 1
    assert "buyer_id expected" in diffs[0]


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.update(version=9), "format 9"),
    (lambda d: d.pop("budget_orders"), "lack 'budget_orders'"),
    (lambda d: d["sellers"][0].update(p_bad="0.1"), "'p_bad' must be a number"),
    (lambda d: d["sellers"][0].update(recent_buyers=[True]), "list of integers"),
    (lambda d: d.update(signal_auc=1.5), "AUC"),
])
def test_corrupt_stored_inputs_are_refused(mutate: object, message: str) -> None:
    data = json.loads(inputs_to_json(inputs(fleet(5), auc=0.6)))
    assert callable(mutate)
    mutate(data)
    with pytest.raises(ValueError, match=message):
        inputs_from_json(json.dumps(data))


def test_shortfall_is_reported_against_the_reference_rates() -> None:
    sellers = [seller(i, 0.1, state=ST.ONBOARDING) for i in range(1, 41)]
    sellers += [seller(i, 0.1, state=ST.TIGHTENED) for i in range(41, 51)]
    data = inputs(sellers, budget=30)
    plan = compute_plan(data, SEEDS[10])
    rows = compute_shortfall(data, plan, DEFAULT_RATES)
    by_state = {row["state"]: row for row in rows}
    assert by_state["onboarding"]["wanted"] == 80
    assert by_state["tightened"]["wanted"] == 40
    assert by_state["onboarding"]["got"] + by_state["tightened"]["got"] == 30
    text = describe_shortfall(rows)
    assert any(line.startswith("tightened sellers (10) wanted 40 orders, got ") for line in text)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"budget_orders": -1}, "at least 0 orders"),
    ({"budget_cents": -1}, "money budget"),
    ({"floor": 2.0}, "floor"),
    ({"signal_auc": 0.4}, "AUC"),
    ({"sellers": (seller(1), seller(1))}, "distinct"),
])
def test_bad_plan_inputs_are_refused(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"period": JANUARY, "sellers": (seller(1),), "budget_orders": 5,
                               "budget_cents": 100, "buyers": BUYERS}
    with pytest.raises(ValueError, match=message):
        PlanInputs(**{**base, **kwargs})  # type: ignore[arg-type]


def test_an_empty_buyer_pool_is_refused_when_orders_need_buyers() -> None:
    data = dataclasses.replace(inputs([seller(1)], budget=3), buyers=())
    with pytest.raises(ValueError, match="buyer identity"):
        compute_plan(data, SEEDS[11])
