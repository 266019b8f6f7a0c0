"""The fixed-rate planner (qc/sampling_v1.py) that derived format-1 plans: auditability, budget."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import random
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from qc.plan_records import (
    compute_plan_differences,
    inputs_from_json,
    inputs_to_json,
    plan_fingerprint,
)
from qc.sampling import (
    ListingInput,
    Period,
    compute_commitment,
    new_seed,
    parse_period,
)
from qc.sampling_v1 import (
    DEFAULT_RATES,
    Plan,
    PlanInputs,
    PlannedOrder,
    SellerInput,
    compute_plan,
)
from vetting.labels import SamplingState

ST = SamplingState
JULY = Period(2026, 7)  # starts on a Wednesday; 23 business days
SEEDS = [hashlib.sha256(f"seed-{i}".encode()).digest() for i in range(400)]
BIG_BUDGET = 10**12


def listing(listing_id: int, units: int = 10, price: int = 10_000) -> ListingInput:
    return ListingInput(listing_id=listing_id, monthly_units=units, price_cents=price)


def seller(seller_id: int, state: SamplingState = ST.NORMAL, *, probation: bool = False,
           risk: float = 0.0, listings: tuple[ListingInput, ...] | None = None) -> SellerInput:
    if listings is None:
        listings = (listing(seller_id * 100 + 1),)
    return SellerInput(seller_id=seller_id, state=state, on_probation=probation, risk=risk,
                       listings=listings)


def inputs(sellers: tuple[SellerInput, ...], *, budget: int = BIG_BUDGET,
           rates: Mapping[SamplingState, float] | None = None,
           accounts: tuple[str, ...] = ("buyer-a", "buyer-b", "buyer-c"),
           period: Period = JULY) -> PlanInputs:
    return PlanInputs(period=period, sellers=sellers,
                      rates=dict(DEFAULT_RATES) if rates is None else rates,
                      budget_cents=budget, buyer_accounts=accounts)


def mixed_inputs() -> PlanInputs:
    return inputs((
        seller(1, ST.ONBOARDING, risk=0.1),
        seller(2, ST.NORMAL, risk=0.4, listings=(listing(21, 5), listing(22, 50, 2_000))),
        seller(3, ST.REDUCED, risk=0.0),
        seller(4, ST.TIGHTENED, risk=0.9),
        seller(5, ST.NORMAL, probation=True, risk=0.5),
        seller(6, ST.REDUCED, listings=()),
    ))


def orders_of(plan: Plan, seller_id: int) -> list[PlannedOrder]:
    return [o for o in plan.orders if o.seller_id == seller_id]


# --- periods, seed, commitment ---------------------------------------------------------------


def test_default_rates_follow_the_design() -> None:
    assert dict(DEFAULT_RATES) == {ST.ONBOARDING: 2, ST.NORMAL: 1, ST.REDUCED: 0.5,
                                   ST.TIGHTENED: 4}
    assert [s.value for s in SamplingState] == ["onboarding", "normal", "reduced", "tightened"]


def test_parse_period_and_its_dates() -> None:
    period = parse_period("2026-07")
    assert period == Period(2026, 7)
    assert period.key == str(period) == "2026-07"
    assert (period.start, period.end) == (date(2026, 7, 1), date(2026, 7, 31))
    assert period.next() == Period(2026, 8)
    assert parse_period("2026-12").next() == Period(2027, 1)
    assert parse_period("2028-02").end == date(2028, 2, 29)
    assert len(JULY.business_days()) == 23


@pytest.mark.parametrize("text", ["2026-7", "2026-13", "2026-00", "26-07", "2026/07",
                                  "2026-07-01", "July 2026", "", "0000-01"])
def test_parse_period_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="Period must look like 2026-07"):
        parse_period(text)


def test_commitment_is_the_sha256_of_the_seed() -> None:
    seed = new_seed()
    assert isinstance(seed, bytes)
    assert len(seed) == 32
    assert new_seed() != seed
    assert compute_commitment(seed) == hashlib.sha256(seed).hexdigest()


# --- determinism and auditability ------------------------------------------------------------


def test_same_seed_gives_the_same_plan_and_other_seeds_differ() -> None:
    data = mixed_inputs()
    plan = compute_plan(data, SEEDS[0])
    assert compute_plan(data, SEEDS[0]) == plan
    assert plan_fingerprint(compute_plan(data, SEEDS[0])) == plan_fingerprint(plan)
    others = {plan_fingerprint(compute_plan(data, s)) for s in SEEDS[1:20]}
    assert plan_fingerprint(plan) not in others
    assert len(others) == 19


def test_a_sellers_orders_do_not_depend_on_the_other_sellers() -> None:
    data = mixed_inputs()
    plan = compute_plan(data, SEEDS[3])
    shuffled = list(data.sellers)
    random.Random(7).shuffle(shuffled)
    assert compute_plan(dataclasses.replace(data, sellers=tuple(shuffled)), SEEDS[3]) == plan
    # Leaving a seller out (say it was suspended) leaves everyone else's orders where they were.
    without_4 = dataclasses.replace(data, sellers=tuple(s for s in data.sellers
                                                        if s.seller_id != 4))
    smaller = compute_plan(without_4, SEEDS[3])
    def key(o: PlannedOrder) -> tuple[int, int, datetime]:
        return (o.seller_id, o.listing_id, o.planned_at)

    assert sorted(map(key, smaller.orders)) == sorted(
        key(o) for o in plan.orders if o.seller_id != 4)


def _auditor_orders(seed: bytes, period: Period, s: SellerInput,
                    rates: dict[SamplingState, float]) -> list[tuple[int, datetime]]:
    """The derivation of the module docstring, written again from the text alone."""
    def x(label: str) -> int:
        mac = hmac.new(seed, label.encode("utf-8"), hashlib.sha256)
        return int.from_bytes(mac.digest()[:8], "big")

    p = f"{period.key}|{s.seller_id}"
    rate = rates[ST.TIGHTENED if s.on_probation else s.state]
    count = math.floor(rate) + (1 if x(f"{p}|count") / 2**64 < rate - math.floor(rate) else 0)
    days = [period.start + timedelta(days=k) for k in range(31)]
    days = [d for d in days if d.month == period.month and d.weekday() < 5]
    listings = sorted(s.listings, key=lambda item: item.listing_id)
    total = sum(item.monthly_units for item in listings)
    out = []
    for i in range(count):
        day = days[(x(f"{p}|{i}|day") * len(days)) >> 64]
        hour = 9 + ((x(f"{p}|{i}|hour") * 9) >> 64)
        minute = (x(f"{p}|{i}|minute") * 60) >> 64
        t = (x(f"{p}|{i}|listing") * total) >> 64
        cumulative = 0
        for item in listings:
            cumulative += item.monthly_units
            if cumulative > t:
                break
        out.append((item.listing_id, datetime(day.year, day.month, day.day, hour, minute)))
    return sorted(out, key=lambda pair: (pair[1], pair[0]))


@pytest.mark.parametrize("seed_index", range(10))
def test_an_auditor_can_re_derive_the_plan_from_the_documented_derivation(
        seed_index: int) -> None:
    rates = {ST.ONBOARDING: 2, ST.NORMAL: 1, ST.REDUCED: 0.5, ST.TIGHTENED: 3.7}
    sellers = (
        seller(10, ST.REDUCED, listings=(listing(3, 40), listing(1, 7), listing(2, 0))),
        seller(11, ST.NORMAL, probation=True, listings=(listing(5, 1), listing(6, 99))),
    )
    plan = compute_plan(inputs(sellers, rates=rates), SEEDS[seed_index])
    for s in sellers:
        got = [(o.listing_id, o.planned_at) for o in orders_of(plan, s.seller_id)]
        assert got == _auditor_orders(SEEDS[seed_index], JULY, s, rates)


def test_inputs_round_trip_through_canonical_json() -> None:
    data = dataclasses.replace(mixed_inputs(), rates={ST.ONBOARDING: 2.5, ST.NORMAL: 1,
                                                      ST.REDUCED: 0.1 + 0.2, ST.TIGHTENED: 4})
    text = inputs_to_json(data)
    back = inputs_from_json(text)
    assert back == data
    assert inputs_to_json(back) == text
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert back.rates[ST.REDUCED] == 0.1 + 0.2  # floats survive exactly
    assert compute_plan(back, SEEDS[1]) == compute_plan(data, SEEDS[1])


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.update(version=3), "format 3"),
    (lambda d: d.pop("sellers"), "lack 'sellers'"),
    (lambda d: d["sellers"][0].update(state="suspended"), "unknown sampling state"),
    (lambda d: d["sellers"][0].update(seller_id="1"), "'seller_id' must be an integer"),
    (lambda d: d.update(budget_cents=True), "'budget_cents' must be an integer"),
    (lambda d: d["rates"].pop("normal"), "lack 'normal'"),
    (lambda d: d.update(period="July"), "Period must look like 2026-07"),
])
def test_corrupt_stored_inputs_are_refused(mutate: object, message: str) -> None:
    data = json.loads(inputs_to_json(mixed_inputs()))
    assert callable(mutate)
    mutate(data)
    with pytest.raises(ValueError, match=message):
        inputs_from_json(json.dumps(data))


def test_planning_does_not_mutate_its_inputs() -> None:
    rates = dict(DEFAULT_RATES)
    data = inputs(mixed_inputs().sellers, rates=rates, budget=30_000)
    before = inputs_to_json(data)
    compute_plan(data, SEEDS[0])
    assert inputs_to_json(data) == before
    assert rates == dict(DEFAULT_RATES)


# --- statistical properties over many seeds --------------------------------------------------


def test_mean_orders_per_month_match_the_rates() -> None:
    rates = dict(DEFAULT_RATES) | {ST.NORMAL: 1.3}  # a fractional rate besides reduced's 0.5
    sellers = (seller(1, ST.ONBOARDING), seller(2, ST.NORMAL), seller(3, ST.REDUCED),
               seller(4, ST.TIGHTENED), seller(5, ST.REDUCED, probation=True))
    counts: Counter[int] = Counter()
    per_seed_reduced = []
    for seed in SEEDS:
        plan = compute_plan(inputs(sellers, rates=rates), seed)
        counts.update(o.seller_id for o in plan.orders)
        per_seed_reduced.append(len(orders_of(plan, 3)))
    n = len(SEEDS)
    assert counts[1] == 2 * n
    assert counts[4] == 4 * n
    assert counts[5] == 4 * n  # probation plans at the tightened rate whatever the state says
    # Random rounding: standard error sqrt(0.25 / 400) = 0.025 and sqrt(0.21 / 400) ~ 0.023.
    assert counts[3] / n == pytest.approx(0.5, abs=0.1)
    assert counts[2] / n == pytest.approx(1.3, abs=0.1)
    assert set(per_seed_reduced) == {0, 1}  # reduced: each month tested or not, never twice


def test_listing_choice_follows_units_sold() -> None:
    units = {1: 5, 2: 15, 3: 30, 4: 50, 5: 0}
    s = seller(1, ST.TIGHTENED, listings=tuple(listing(i, u) for i, u in units.items()))
    picks: Counter[int] = Counter()
    for seed in SEEDS:
        picks.update(o.listing_id for o in compute_plan(inputs((s,)), seed).orders)
    assert picks[5] == 0  # nothing sold, never tested
    total = sum(picks.values())
    assert total == 4 * len(SEEDS)
    observed = [picks[i] for i in (1, 2, 3, 4)]
    expected = [total * units[i] / 100 for i in (1, 2, 3, 4)]
    assert chisquare(observed, expected).pvalue > 0.001


def test_listings_without_any_sales_are_drawn_uniformly() -> None:
    s = seller(1, ST.TIGHTENED, listings=tuple(listing(i, 0) for i in range(1, 5)))
    picks = Counter(o.listing_id for seed in SEEDS for o in compute_plan(inputs((s,)), seed).orders)
    assert sorted(picks) == [1, 2, 3, 4]
    assert chisquare([picks[i] for i in range(1, 5)]).pvalue > 0.001


def test_orders_fall_on_business_days_and_hours_uniformly() -> None:
    sellers = tuple(seller(i, ST.TIGHTENED) for i in range(1, 11))
    times = [o.planned_at for seed in SEEDS
             for o in compute_plan(inputs(sellers), seed).orders]
    assert len(times) == 10 * 4 * len(SEEDS)
    assert all(JULY.start <= t.date() <= JULY.end for t in times)
    assert all(t.weekday() < 5 for t in times)  # never a weekend
    assert all(9 <= t.hour <= 17 and 0 <= t.minute <= 59 and t.second == 0 for t in times)
    assert all(t.tzinfo is None for t in times)
    days = Counter(t.date() for t in times)
    assert sorted(days) == list(JULY.business_days())
    assert chisquare([days[d] for d in JULY.business_days()]).pvalue > 0.001
    hours = Counter(t.hour for t in times)
    assert chisquare([hours[h] for h in range(9, 18)]).pvalue > 0.001
    minutes = Counter(t.minute for t in times)
    assert chisquare([minutes[m] for m in range(60)]).pvalue > 0.001


# --- budget ----------------------------------------------------------------------------------

# One order per seller whatever its state, so the budget tests need no luck.
FLAT: dict[SamplingState, float] = {ST.ONBOARDING: 1, ST.NORMAL: 1, ST.REDUCED: 1,
                                    ST.TIGHTENED: 1}


def budget_sellers() -> tuple[SellerInput, ...]:
    # Every order costs 100; risk x exposure (units 10 x price 100 = 1000) ranks them.
    def one(listing_id: int) -> tuple[ListingInput, ...]:
        return (listing(listing_id, 10, 100),)

    return (
        seller(1, ST.REDUCED, risk=0.5, listings=one(11)),     # score 500
        seller(2, ST.REDUCED, risk=0.1, listings=one(21)),     # score 100
        seller(3, ST.NORMAL, risk=0.0, listings=one(31)),      # score 0, yet after reduced
        seller(4, ST.ONBOARDING, risk=0.0, listings=one(41)),  # protected
        seller(5, ST.NORMAL, probation=True, listings=one(51)),  # protected (probation)
        seller(6, ST.TIGHTENED, risk=0.0, listings=one(61)),   # protected
    )


def test_nothing_is_dropped_within_budget() -> None:
    plan = compute_plan(inputs(budget_sellers(), budget=600, rates=FLAT), SEEDS[0])
    assert (len(plan.orders), plan.dropped, plan.total_cost_cents) == (6, (), 600)
    assert not plan.over_budget


@pytest.mark.parametrize(("budget", "dropped_sellers"), [
    (500, [2]),
    (400, [2, 1]),
    (350, [2, 1, 3]),
    (300, [2, 1, 3]),
])
def test_reduced_orders_go_first_then_normal_lowest_risk_times_exposure_first(
        budget: int, dropped_sellers: list[int]) -> None:
    plan = compute_plan(inputs(budget_sellers(), budget=budget, rates=FLAT), SEEDS[0])
    assert [d.seller_id for d in plan.dropped] == dropped_sellers
    assert all(d.reason.startswith("over budget") for d in plan.dropped)
    assert plan.total_cost_cents <= budget
    assert plan.total_cost_cents == sum(o.cost_cents for o in plan.orders)
    assert {4, 5, 6} <= {o.seller_id for o in plan.orders}
    assert not plan.over_budget


def test_risk_times_exposure_not_risk_alone_ranks_the_cut() -> None:
    sellers = (
        seller(1, ST.NORMAL, risk=1.0, listings=(listing(11, 10, 100),)),    # 1 x 1000
        seller(2, ST.NORMAL, risk=0.2, listings=(listing(21, 100, 100),)),   # 0.2 x 10000
        seller(3, ST.NORMAL, risk=0.2, listings=(listing(31, 100, 100),)),   # tie with 2
    )
    plan = compute_plan(inputs(sellers, budget=100, rates=FLAT), SEEDS[0])
    assert [d.seller_id for d in plan.dropped] == [1, 2]
    assert [o.seller_id for o in plan.orders] == [3]


def test_protected_orders_are_never_dropped_and_flag_over_budget() -> None:
    plan = compute_plan(inputs(budget_sellers(), budget=250, rates=FLAT), SEEDS[0])
    assert plan.over_budget
    assert [d.seller_id for d in plan.dropped] == [2, 1, 3]
    assert sorted(o.seller_id for o in plan.orders) == [4, 5, 6]
    assert all(o.protected for o in plan.orders)
    assert plan.total_cost_cents == 300
    probation = orders_of(plan, 5)[0]
    assert probation.sampling_state == ST.TIGHTENED


def test_a_zero_budget_keeps_only_protected_orders() -> None:
    plan = compute_plan(inputs(budget_sellers(), budget=0, rates=FLAT), SEEDS[0])
    assert plan.over_budget
    assert {d.sampling_state for d in plan.dropped} == {ST.REDUCED, ST.NORMAL}


# --- buyer accounts, skipped sellers, validation ---------------------------------------------


def test_buyer_accounts_rotate_over_the_orders_in_time_order() -> None:
    accounts = ("acct-1", "acct-2", "acct-3")
    plan = compute_plan(inputs(tuple(seller(i, ST.TIGHTENED) for i in (1, 2)),
                               accounts=accounts), SEEDS[5])
    assert len(plan.orders) == 8
    keys = [(o.planned_at, o.seller_id, o.listing_id) for o in plan.orders]
    assert keys == sorted(keys)
    assert [o.buyer_account for o in plan.orders] == [accounts[k % 3] for k in range(8)]


def test_sellers_without_listings_are_skipped() -> None:
    plan = compute_plan(mixed_inputs(), SEEDS[0])
    assert plan.skipped == ((6, "no listings"),)
    assert orders_of(plan, 6) == []


def test_suspended_sellers_are_left_out_by_the_caller() -> None:
    # There is no "suspended" sampling state: the caller passes only sellers in force.
    assert "suspended" not in {s.value for s in SamplingState}
    with pytest.raises(ValueError, match="leave out sellers whose label is not in force"):
        seller(1, "suspended")  # type: ignore[arg-type]


@pytest.mark.parametrize(("change", "message"), [
    ({"buyer_accounts": ()}, "At least one buyer account"),
    ({"buyer_accounts": ("a", "a")}, "distinct"),
    ({"buyer_accounts": (" ",)}, "blank"),
    ({"budget_cents": -1}, "budget must be >= 0"),
    ({"rates": dict(DEFAULT_RATES) | {ST.NORMAL: -0.5}}, "normal rate must be"),
    ({"rates": dict(DEFAULT_RATES) | {ST.REDUCED: math.nan}}, "reduced rate must be"),
    ({"rates": {ST.NORMAL: 1.0}}, "No rate given for the onboarding state"),
    ({"sellers": (seller(1), seller(1))}, "Seller ids must be distinct"),
])
def test_invalid_plan_inputs_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(mixed_inputs(), **change)


def test_invalid_sellers_listings_and_seeds_are_refused() -> None:
    with pytest.raises(ValueError, match="risk must be"):
        seller(1, risk=-0.1)
    with pytest.raises(ValueError, match="listing ids must be distinct"):
        seller(1, listings=(listing(1), listing(1)))
    with pytest.raises(ValueError, match="monthly units"):
        listing(1, units=-1)
    with pytest.raises(ValueError, match="price"):
        listing(1, price=-1)
    with pytest.raises(ValueError, match="seed"):
        compute_plan(mixed_inputs(), b"short")


# --- verification ----------------------------------------------------------------------------


def test_plan_differences_name_changed_listing_and_time() -> None:
    plan = compute_plan(mixed_inputs(), SEEDS[2])
    expected = list(plan.orders)
    assert compute_plan_differences(expected, expected) == []
    stored = list(expected)
    stored[0] = dataclasses.replace(stored[0], listing_id=999)
    stored[1] = dataclasses.replace(stored[1], planned_at=stored[1].planned_at
                                    + timedelta(hours=1))
    diffs = compute_plan_differences(expected, stored)
    assert len(diffs) == 2
    text = "\n".join(diffs)
    assert f"listing_id expected {expected[0].listing_id}, stored 999" in text
    assert f"planned_at expected {expected[1].planned_at}" in text
    stored_plan = dataclasses.replace(plan, orders=tuple(stored))
    assert plan_fingerprint(stored_plan) != plan_fingerprint(plan)


def test_plan_differences_name_missing_and_extra_orders() -> None:
    expected = list(compute_plan(mixed_inputs(), SEEDS[2]).orders)
    extra = dataclasses.replace(expected[0], seller_id=77)
    diffs = compute_plan_differences(expected, expected[1:] + [extra])
    assert any(d.startswith("missing from stored plan: seller " + str(expected[0].seller_id))
               for d in diffs)
    assert any(d.startswith("extra in stored plan: seller 77") for d in diffs)
    assert len(diffs) == 2


# --- property: any small input -------------------------------------------------------------

listings_st = st.lists(
    st.builds(ListingInput, listing_id=st.integers(1, 1000), monthly_units=st.integers(0, 50),
              price_cents=st.integers(0, 50_000)),
    max_size=3, unique_by=lambda item: item.listing_id).map(tuple)
sellers_st = st.lists(
    st.builds(SellerInput, seller_id=st.integers(1, 10_000), state=st.sampled_from(ST),
              on_probation=st.booleans(),
              risk=st.floats(0, 10, allow_nan=False, allow_infinity=False),
              listings=listings_st),
    max_size=6, unique_by=lambda s: s.seller_id).map(tuple)
rates_st = st.fixed_dictionaries({state: st.floats(0, 5) for state in ST}).map(MappingProxyType)


@settings(max_examples=200, deadline=None)
@given(sellers=sellers_st, rates=rates_st, budget=st.integers(0, 200_000),
       period=st.builds(Period, st.integers(2000, 2100), st.integers(1, 12)),
       accounts=st.lists(st.text(min_size=1).filter(str.strip), min_size=1, max_size=4,
                         unique=True).map(tuple),
       seed=st.binary(min_size=16, max_size=32))
def test_any_plan_fits_its_budget_unless_protected_orders_exceed_it(
        sellers: tuple[SellerInput, ...], rates: MappingProxyType[SamplingState, float],
        budget: int, period: Period, accounts: tuple[str, ...], seed: bytes) -> None:
    data = PlanInputs(period=period, sellers=sellers, rates=rates, budget_cents=budget,
                      buyer_accounts=accounts)
    plan = compute_plan(data, seed)
    assert plan.total_cost_cents == sum(o.cost_cents for o in plan.orders)
    if plan.over_budget:
        assert all(o.protected for o in plan.orders)
        assert plan.total_cost_cents > budget
    else:
        assert plan.total_cost_cents <= budget
    for order in plan.orders:
        assert period.start <= order.planned_at.date() <= period.end
        assert order.planned_at.weekday() < 5
        assert 9 <= order.planned_at.hour <= 17
    keys = [(o.planned_at, o.seller_id, o.listing_id) for o in plan.orders]
    assert keys == sorted(keys)
    assert {sid for sid, _ in plan.skipped} == {s.seller_id for s in sellers if not s.listings}
    assert inputs_from_json(inputs_to_json(data)) == data
    assert compute_plan(inputs_from_json(inputs_to_json(data)), seed) == plan
