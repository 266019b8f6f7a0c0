"""What the services record: snapshots, order moves, plan runs and cases as plain values."""

from __future__ import annotations

from datetime import date

import pytest

from compliance.cases import case_decided_entry, case_recorded_entry
from qc.decisions import SellerStats, compute_decision_plan
from qc.orders import (
    Disposition,
    OrderStatus,
    OrderTransitionError,
    PackageCondition,
    arrival_details,
    closing_details,
    compute_order_move,
)
from qc.plan_records import compute_verify_result
from qc.snapshots import (
    compute_snapshot,
    epoch_stats_from_json,
    epoch_stats_json,
    state_change_payload,
)
from qc.stats import clopper_pearson

PLAN = compute_decision_plan()


def test_a_snapshot_shows_the_last_ten_values_of_s_and_exact_bounds() -> None:
    stats = SellerStats(s=2.345678, minor_s=0.5, clean_run=3, onboarding=False, inspected=12,
                        defects=2, minor=1, critical=0)
    path = [i / 3 for i in range(15)]
    snap = compute_snapshot(stats, path, PLAN, "test order #7")
    assert snap["order"] == "test order #7"
    assert snap["S"] == 2.3457
    assert snap["S_path_tail"] == [round(x, 4) for x in path[-10:]]
    low, high = clopper_pearson(2, 12)
    assert snap["defect_rate_bounds_95"] == [round(low, 4), round(high, 4)]
    assert snap["plan"]["acceptance_run"] == PLAN.main.acceptance_run
    assert compute_snapshot(SellerStats(), (), PLAN)["defect_rate_bounds_95"] == [0.0, 1.0]


def test_a_state_change_names_why_only_when_given() -> None:
    assert state_change_payload("normal", "tightened", {"S": 1.2}) == {
        "from": "normal", "to": "tightened", "snapshot": {"S": 1.2}}
    assert state_change_payload("tightened", "normal", {}, "renewal")["why"] == "renewal"


def test_epoch_statistics_read_back_as_stored() -> None:
    stats = SellerStats(s=2.6, clean_run=0, onboarding=False, inspected=30, defects=4)
    assert epoch_stats_from_json(epoch_stats_json(stats)) == stats
    assert epoch_stats_from_json("{}") == SellerStats()


def test_an_order_move_is_checked_and_recorded_with_its_details() -> None:
    action, payload = compute_order_move(OrderStatus.PLACED, OrderStatus.RECEIVED,
                                         arrival_details(date(2026, 5, 4),
                                                         PackageCondition.DAMAGED))
    assert action == "order.received"
    assert payload == {"from": "placed", "to": "received", "received_on": "2026-05-04",
                       "package_condition": "damaged"}
    with pytest.raises(OrderTransitionError):
        compute_order_move(OrderStatus.PLANNED, OrderStatus.CLOSED,
                           closing_details(Disposition.RETURNED))


def test_a_verification_result_keeps_the_first_twenty_differences() -> None:
    assert compute_verify_result(True, []) == "match"
    assert compute_verify_result(False, []) == "MISMATCH: "
    result = compute_verify_result(True, [f"d{i}" for i in range(25)])
    assert result.startswith("MISMATCH: d0; d1")
    assert result.endswith("d19")


def test_cases_are_recorded_under_their_kind_and_decision() -> None:
    assert case_recorded_entry(3, "appeal", "Our tests", date(2026, 2, 1)) == (
        "case.appeal_recorded",
        {"case_id": 3, "summary": "Our tests", "received_on": "2026-02-01"})
    assert case_decided_entry(3, "appeal", "accepted", "Checked") == (
        "case.accepted", {"case_id": 3, "kind": "appeal", "reason": "Checked"})
