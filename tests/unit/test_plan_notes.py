"""What a planning run records beside its orders (qc/plan_records.py): the posterior P(bad)
it records for a seller, the shortfall against the reference rates, the signal sentence and
the run's notes."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from qc.allocation import AucEstimate, SellerAllocation, posterior_bad, prior
from qc.plan_records import (
    POSTERIOR_HORIZON_MONTHS,
    compute_p_bad,
    compute_shortfall,
    describe_shortfall,
    describe_signal,
    month_index,
    plan_notes,
    signal_record,
)
from qc.sampling import ListingInput, Plan, PlanInputs, PlannedOrder, SellerInput, parse_period
from vetting.labels import SamplingState

PERIOD = parse_period("2026-06")
RATES = {SamplingState.ONBOARDING: 2.0, SamplingState.NORMAL: 1.0,
         SamplingState.REDUCED: 0.5, SamplingState.TIGHTENED: 4.0}
LISTING = (ListingInput(listing_id=1, monthly_units=10, price_cents=45_000),)


def seller(seller_id: int, state: SamplingState, *, probation: bool = False,
           listings: tuple[ListingInput, ...] = LISTING) -> SellerInput:
    return SellerInput(seller_id=seller_id, state=state, on_probation=probation, p_bad=0.1,
                       claim_percentile=None, awaiting_confirmation=False, listings=listings)


def order(seller_id: int, state: SamplingState, minute: int = 0) -> PlannedOrder:
    return PlannedOrder(seller_id=seller_id, listing_id=1,
                        planned_at=datetime(2026, 6, 1, 9, minute), buyer_id=1,
                        buyer_account="buyer", sampling_state=state, confirmation=False,
                        cost_cents=45_000)


def make_plan(orders: list[PlannedOrder], allocation: tuple[SellerAllocation, ...] = (),
              warnings: tuple[str, ...] = ()) -> Plan:
    return Plan(period=PERIOD, orders=tuple(orders), dropped=(),
                total_cost_cents=sum(o.cost_cents for o in orders), over_budget=False,
                skipped=(), allocation=allocation, warnings=warnings)


def make_inputs(sellers: list[SellerInput], budget: int = 10,
                signal_auc: float | None = None) -> PlanInputs:
    return PlanInputs(period=PERIOD, sellers=tuple(sellers), budget_orders=budget,
                      budget_cents=10_000_000, buyers=(), signal_auc=signal_auc)


def test_shortfall_counts_sellers_wanted_and_got_per_state() -> None:
    sellers = [seller(1, SamplingState.TIGHTENED), seller(2, SamplingState.TIGHTENED),
               seller(3, SamplingState.NORMAL, probation=True),  # planned as tightened
               seller(4, SamplingState.REDUCED), seller(5, SamplingState.REDUCED),
               seller(6, SamplingState.REDUCED),
               seller(7, SamplingState.ONBOARDING, listings=())]  # skipped: no listings
    orders = [order(1, SamplingState.TIGHTENED, 0), order(1, SamplingState.TIGHTENED, 1),
              order(3, SamplingState.TIGHTENED, 2), order(4, SamplingState.REDUCED, 3),
              order(5, SamplingState.REDUCED, 4)]
    rows = compute_shortfall(make_inputs(sellers), make_plan(orders), RATES)
    # States in the order of SamplingState; a state without sellers has no row.
    assert rows == [
        {"state": "reduced", "sellers": 3, "wanted": 1.5, "got": 2},
        {"state": "tightened", "sellers": 3, "wanted": 12.0, "got": 3},
    ]
    assert describe_shortfall(rows) == ["tightened sellers (3) wanted 12 orders, got 3"]


def test_shortfall_sentences_name_only_states_below_their_reference_rate() -> None:
    rows = [{"state": "onboarding", "sellers": 15, "wanted": 30.0, "got": 30},
            {"state": "normal", "sellers": 3, "wanted": 3.0, "got": 5},
            {"state": "reduced", "sellers": 3, "wanted": 1.5, "got": 0},
            {"state": "tightened", "sellers": 15, "wanted": 60.0, "got": 40}]
    assert describe_shortfall(rows) == ["reduced sellers (3) wanted 1.5 orders, got 0",
                                        "tightened sellers (15) wanted 60 orders, got 40"]
    assert describe_shortfall([]) == []


def test_wanted_orders_are_rounded_to_two_decimals() -> None:
    rates = {**RATES, SamplingState.NORMAL: 1 / 3}
    rows = compute_shortfall(make_inputs([seller(1, SamplingState.NORMAL)]), make_plan([]),
                             rates)
    assert rows == [{"state": "normal", "sellers": 1, "wanted": 0.33, "got": 0}]
    assert describe_shortfall(rows) == ["normal sellers (1) wanted 0.33 orders, got 0"]


@pytest.mark.parametrize(("estimate", "min_auc", "used", "text"), [
    (AucEstimate(None, None, None, 3, 40), 0.55, False,
     "Not enough first orders yet (3 defective and 40 clean; 10 of each are needed): "
     "returns/claims are ignored for allocation."),
    (AucEstimate(0.52, 0.4, 0.64, 12, 80), 0.55, False,
     "Below 0.55: returns/claims are ignored for allocation."),
    (AucEstimate(0.7, 0.6, 0.8, 12, 80), 0.55, True,
     "At least 0.55: returns/claims sharpen the allocation (never a label decision)."),
    (AucEstimate(0.7, 0.6, 0.8, 12, 80), 0.75, False,
     "Below 0.75: returns/claims are ignored for allocation."),
    (AucEstimate(1.0, 1.0, 1.0, 10, 10), 0.55, False,
     "An AUC of 1 cannot be weighed (the model needs it below 1): returns/claims are "
     "ignored for allocation."),
])
def test_the_signal_sentence_says_whether_allocation_uses_it(
        estimate: AucEstimate, min_auc: float, used: bool, text: str) -> None:
    record = signal_record(estimate, min_auc, used)
    assert record == {"auc": estimate.auc, "low": estimate.low, "high": estimate.high,
                      "defective": estimate.defective, "clean": estimate.clean,
                      "min_auc": min_auc, "used": used, "text": text}
    assert describe_signal(record) == text


def test_plan_notes_record_budget_threshold_signal_shortfall_and_warnings() -> None:
    sellers = [seller(1, SamplingState.TIGHTENED), seller(2, SamplingState.NORMAL),
               seller(3, SamplingState.NORMAL)]
    orders = [order(1, SamplingState.TIGHTENED, 0), order(1, SamplingState.TIGHTENED, 1),
              order(2, SamplingState.NORMAL, 2)]
    allocation = (SellerAllocation(1, 20_100, True, 0.8, 2),
                  SellerAllocation(2, 10_100, False, 0.1, 1),
                  SellerAllocation(3, 100, False, 0.05, 0))
    warning = "The pool of buyer identities is smaller than the month needs."
    threshold = {"h": 4.5, "budget_h": 4.5, "design_h": 5.193, "orders_per_seller": 3.33,
                 "sellers": 3, "overridden": False, "reason": ""}
    notes = plan_notes(make_inputs(sellers, budget=4, signal_auc=0.7),
                       make_plan(orders, allocation, (warning,)), RATES, threshold,
                       AucEstimate(0.7, 0.6, 0.8, 12, 80), 0.55)
    assert notes == {
        "inputs_format": 2, "budget_orders": 4, "budget_cents": 10_000_000, "orders": 3,
        "dropped": 0, "unallocated": 1, "threshold": threshold,
        "signal": signal_record(AucEstimate(0.7, 0.6, 0.8, 12, 80), 0.55, True),
        "confirmation_tier": 1,
        "shortfall": [{"state": "normal", "sellers": 2, "wanted": 2.0, "got": 1},
                      {"state": "tightened", "sellers": 1, "wanted": 4.0, "got": 2}],
        "shortfall_text": ["normal sellers (2) wanted 2 orders, got 1",
                           "tightened sellers (1) wanted 4 orders, got 2"],
        "warnings": [warning],
    }
    assert json.loads(json.dumps(notes, allow_nan=False)) == notes  # stored as JSON


def test_plan_notes_say_the_signal_was_ignored_when_the_plan_did_not_use_it() -> None:
    notes = plan_notes(make_inputs([seller(1, SamplingState.NORMAL)], budget=1),
                       make_plan([order(1, SamplingState.NORMAL)],
                                 (SellerAllocation(1, 10_000, False, 0.1, 1),)),
                       RATES, {"h": 5.19}, AucEstimate(0.7, 0.6, 0.8, 12, 80), 0.55)
    assert notes["signal"]["used"] is False  # the inputs carry no AUC in use
    assert notes["signal"]["text"] == "Returns/claims were not used for this allocation."
    assert (notes["unallocated"], notes["shortfall_text"], notes["warnings"]) == (0, [], [])


# ---------------------------------------------------------------- the recorded posterior


def test_the_posterior_reads_the_months_from_the_grant_to_the_month_before_the_period() -> None:
    march, june = month_index(date(2026, 3, 9)), month_index(date(2026, 6, 2))
    by_month = {march: [1, 2], june: [3, 0]}  # June's orders come after the June plan
    p_bad = compute_p_bad(date(2026, 1, 15), PERIOD, by_month, drift=0.01)
    assert p_bad == posterior_bad([(0, 0), (0, 0), (1, 2), (0, 0), (0, 0)], 0.01)


def test_a_seller_granted_this_month_or_never_has_the_fleet_prior() -> None:
    prior_bad = sum(w for w, p in zip(prior(), [(k + 0.5) / 100 for k in range(50)],
                                      strict=True) if p >= 0.15)
    assert compute_p_bad(date(2026, 6, 1), PERIOD, {}) == pytest.approx(prior_bad)
    assert compute_p_bad(None, PERIOD, {}) == pytest.approx(0.10)


def test_orders_before_the_recorded_grant_still_count() -> None:
    december = month_index(date(2025, 12, 3))
    p_bad = compute_p_bad(date(2026, 2, 1), PERIOD, {december: [0, 4]})
    assert p_bad == posterior_bad([(0, 4), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0)])


def test_the_posterior_reads_at_most_ten_years() -> None:
    old = month_index(date(2010, 1, 1))
    recent = month_index(date(2026, 5, 1))
    assert POSTERIOR_HORIZON_MONTHS == 120
    p_bad = compute_p_bad(date(2010, 1, 1), PERIOD, {old: [5, 0], recent: [0, 1]})
    assert p_bad == posterior_bad([(0, 0)] * 119 + [(0, 1)])
