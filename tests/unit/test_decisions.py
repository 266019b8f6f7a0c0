"""The label-decision rules (qc.decisions): confirmed critical verdicts, replays of the whole
history, and the head start after an overturned suspension."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from qc.decisions import (
    FINDING_TRANSITIONS,
    Action,
    Confirmation,
    FindingStatus,
    FindingTransitionError,
    HistoryOrder,
    SellerStats,
    compute_confirmation,
    compute_confirmation_due,
    compute_decision,
    compute_decision_plan,
    compute_effective_verdict,
    compute_history,
    compute_is_overdue,
    compute_overturned,
    compute_pending_critical,
    compute_reinstated,
    compute_replay,
    compute_replay_decision,
    ensure_finding_transition,
)
from vetting.labels import LabelStatus, SamplingState

PLAN = compute_decision_plan()
H = PLAN.main.h
ACTIVE = LabelStatus.ACTIVE
T0 = datetime(2026, 6, 10, 9, 0)


def history(*verdicts: str | None) -> list[HistoryOrder]:
    """Orders #1, #2, ... inspected an hour apart with these counted verdicts."""
    return [HistoryOrder(i, T0 + timedelta(hours=i), v) for i, v in enumerate(verdicts, 1)]


# ---------------------------------------------------------------- the effective verdict


@pytest.mark.parametrize(("verdict", "finding", "rescored", "counted"), [
    ("conforming", None, None, "conforming"),
    ("minor", None, None, "minor"),
    ("major", None, None, "major"),
    ("critical", None, None, "critical"),  # recorded before confirmations existed
    ("critical", "pending", None, None),  # not counted yet
    ("critical", "confirmed", None, "critical"),
    ("critical", "rejected", "major", "major"),
    ("critical", "rejected", "conforming", "conforming"),
    ("major", "withdrawn", None, "major"),  # the version in force is not critical
])
def test_the_verdict_an_order_counts_with(verdict: str, finding: str | None,
                                          rescored: str | None, counted: str | None) -> None:
    assert compute_effective_verdict(verdict, finding, rescored) == counted


def test_a_rejected_finding_needs_a_verdict_that_is_not_critical() -> None:
    for rescored in (None, "critical"):
        with pytest.raises(ValueError, match="other results"):
            compute_effective_verdict("critical", FindingStatus.REJECTED, rescored)
    with pytest.raises(ValueError, match="superseded"):
        compute_effective_verdict("critical", FindingStatus.WITHDRAWN)
    with pytest.raises(ValueError, match="not a valid FindingStatus"):
        compute_effective_verdict("critical", "lost")


def test_a_pending_critical_order_is_left_out_of_the_replay() -> None:
    rows = [("major", None, None), ("critical", "pending", None), ("conforming", None, None),
            ("critical", "rejected", "minor"), ("critical", "confirmed", None)]
    counted = [v for r in rows if (v := compute_effective_verdict(*r)) is not None]
    assert counted == ["major", "conforming", "minor", "critical"]
    stats = compute_replay(counted, PLAN)
    assert (stats.inspected, stats.defects, stats.minor, stats.critical) == (4, 2, 1, 1)


@pytest.mark.parametrize("current", list(FindingStatus))
@pytest.mark.parametrize("target", list(FindingStatus))
def test_only_a_pending_finding_is_decided_or_withdrawn_once(current: FindingStatus,
                                                             target: FindingStatus) -> None:
    allowed = current == FindingStatus.PENDING and target != FindingStatus.PENDING
    assert (target in FINDING_TRANSITIONS[current]) == allowed
    if allowed:
        ensure_finding_transition(current, target)
    else:
        with pytest.raises(FindingTransitionError, match="critical finding cannot become"):
            ensure_finding_transition(current, target)


# ---------------------------------------------------------------- the deadline


@pytest.mark.parametrize(("opened", "days", "due"), [
    (date(2026, 6, 10), 3, date(2026, 6, 15)),  # Wednesday -> Monday, over the weekend
    (date(2026, 6, 8), 3, date(2026, 6, 11)),  # Monday -> Thursday
    (date(2026, 6, 12), 1, date(2026, 6, 15)),  # Friday -> Monday
    (date(2026, 6, 13), 1, date(2026, 6, 15)),  # opened on a Saturday
    (date(2026, 6, 10), 10, date(2026, 6, 24)),
])
def test_the_deadline_counts_business_days(opened: date, days: int, due: date) -> None:
    assert compute_confirmation_due(opened, days) == due


def test_overdue_only_after_the_deadline_day_and_never_decided() -> None:
    due = date(2026, 6, 15)
    assert not compute_is_overdue(due, date(2026, 6, 15))
    assert compute_is_overdue(due, date(2026, 6, 16))
    with pytest.raises(ValueError, match="at least one business day"):
        compute_confirmation_due(date(2026, 6, 10), 0)


# ---------------------------------------------------------------- one order at a time


def test_a_new_critical_verdict_waits_tightened_and_uncounted() -> None:
    before = SellerStats(s=0.5, clean_run=20, onboarding=False, inspected=20)
    decision = compute_pending_critical(ACTIVE, before, PLAN, "test order #7")
    assert decision.stats == before
    assert decision.action == Action.NONE
    assert decision.sampling_state == SamplingState.TIGHTENED
    assert "test order #7 awaits confirmation by a second inspector" in decision.reason
    assert compute_pending_critical(LabelStatus.SUSPENDED, before, PLAN).sampling_state is None


def test_while_a_finding_waits_probation_does_not_end_and_sampling_stays_tightened() -> None:
    before = SellerStats(s=0.0, clean_run=13, onboarding=False, inspected=13)
    ends = compute_decision(LabelStatus.PROBATION, before, "conforming", PLAN)
    assert ends.action == Action.END_PROBATION
    assert ends.sampling_state == SamplingState.REDUCED
    waits = compute_decision(LabelStatus.PROBATION, before, "conforming", PLAN,
                             pending_critical=True)
    assert waits.action == Action.NONE
    assert waits.sampling_state == SamplingState.TIGHTENED
    normal = compute_decision(ACTIVE, SellerStats(onboarding=False), "conforming", PLAN,
                              pending_critical=True)
    assert normal.sampling_state == SamplingState.TIGHTENED


def test_a_counted_critical_verdict_suspends_at_once() -> None:
    decision = compute_decision(ACTIVE, SellerStats(), "critical", PLAN, "test order #3")
    assert decision.action == Action.SUSPEND
    assert decision.reason == "Critical verdict on test order #3: zero tolerance."
    assert decision.stats.critical == 1


def test_the_confirmation_names_the_order_the_checkpoints_and_both_inspectors() -> None:
    confirmation = Confirmation("test order #12", ("LOCK-1", "ID-2"), "Ann First",
                                "Bea Second", date(2026, 6, 11))
    replayed = compute_history(SellerStats(), history("conforming", "critical"), PLAN)
    decision = compute_confirmation(ACTIVE, replayed, PLAN, confirmation)
    assert decision.action == Action.SUSPEND
    assert decision.reason == (
        "Critical verdict on test order #12 (LOCK-1, ID-2 failed) recorded by Ann First and "
        "confirmed on the device by a second inspector, Bea Second, on 2026-06-11: "
        "zero tolerance.")
    assert decision.stats.critical == 1
    assert decision.sampling_state is None
    # a label already suspended (or revoked) is not suspended again
    later = compute_confirmation(LabelStatus.SUSPENDED, replayed, PLAN, confirmation)
    assert later.action == Action.NONE


# ---------------------------------------------------------------- replays of the whole history


def test_a_crossing_part_way_through_the_history_is_found() -> None:
    # D D D D C C C: S crosses h at the 4th order, then falls back below h by the end.
    orders = history("major", "major", "major", "major", "conforming", "conforming",
                     "conforming")
    replayed = compute_history(SellerStats(), orders, PLAN)
    assert replayed.stats.s < H  # the final S alone would not suspend
    assert [s.order_id for s in replayed.signals] == [4]
    assert replayed.unacted is not None
    assert replayed.unacted.order_id == 4
    assert replayed.unacted.stats.s == pytest.approx(5.5452, abs=1e-4)
    decision = compute_replay_decision(ACTIVE, replayed, PLAN,
                                       "After the amendment of test order #4")
    assert decision.action == Action.SUSPEND
    assert decision.reason == (
        "After the amendment of test order #4: the replayed CUSUM S = 5.55 reached h = 5.19 "
        "on test order #4 (4 major/critical of 4 inspected orders).")
    assert decision.stats == replayed.stats
    assert decision.sampling_state is None


def test_a_signal_followed_by_a_suspension_was_acted_on() -> None:
    orders = history("major", "major", "major", "major", "conforming")
    acted = compute_history(SellerStats(), orders, PLAN, [T0 + timedelta(hours=4)])
    assert len(acted.signals) == 1
    assert acted.unacted is None
    assert compute_replay_decision(ACTIVE, acted, PLAN, "Nightly").action == Action.NONE
    # a suspension before the signal did not act on it
    earlier = compute_history(SellerStats(), orders, PLAN, [T0])
    assert earlier.unacted is not None
    assert earlier.unacted.order_id == 4


def test_replays_skip_pending_findings_and_flag_uncounted_confirmed_criticals() -> None:
    pending = compute_history(SellerStats(), history("major", None, "major", None), PLAN)
    assert pending.stats.inspected == 2
    assert pending.signals == ()
    confirmed = compute_history(SellerStats(), history("conforming", "critical"), PLAN)
    assert confirmed.unacted is not None
    assert confirmed.unacted.critical
    decision = compute_replay_decision(ACTIVE, confirmed, PLAN, "Found by the nightly replay")
    assert decision.reason == ("Found by the nightly replay: the critical verdict on test "
                               "order #2 was not acted on: zero tolerance.")


def test_a_replay_never_suspends_a_label_not_in_force_and_keeps_a_pending_tightening() -> None:
    replayed = compute_history(SellerStats(), history(*["major"] * 4), PLAN)
    for label in (LabelStatus.SUSPENDED, LabelStatus.REVOKED, None):
        assert compute_replay_decision(label, replayed, PLAN, "x").action == Action.NONE
    quiet = compute_history(SellerStats(onboarding=False), history("conforming"), PLAN)
    decision = compute_replay_decision(ACTIVE, quiet, PLAN, "x", pending_critical=True)
    assert decision.action == Action.NONE
    assert decision.sampling_state == SamplingState.TIGHTENED


def test_an_empty_history_gives_the_start() -> None:
    start = SellerStats(s=2.0, inspected=5, defects=2)
    replayed = compute_history(start, [], PLAN)
    assert replayed.stats == start
    assert replayed.signals == ()
    assert replayed.unacted is None


def test_the_signals_of_a_replay_are_those_of_one_order_at_a_time() -> None:
    verdicts = ["major", "major", "conforming", "major", "major", "conforming", "major",
                "conforming", "major"]
    stats, at_once = SellerStats(), []
    for i, verdict in enumerate(verdicts, 1):
        decision = compute_decision(ACTIVE, stats, verdict, PLAN)
        stats = decision.stats
        if decision.action == Action.SUSPEND:
            at_once.append(i)
    replayed = compute_history(SellerStats(), history(*verdicts), PLAN)
    assert [s.order_id for s in replayed.signals] == at_once
    assert replayed.stats == stats


# ---------------------------------------------------------------- restarts


def test_an_overturn_restarts_at_half_h_so_one_defect_does_not_suspend() -> None:
    suspended = compute_replay(["major"] * 4, PLAN)
    assert suspended.s >= H
    restarted = compute_overturned(suspended, PLAN)
    assert restarted.s == pytest.approx(H / 2)
    assert restarted.clean_run == 0
    assert not restarted.onboarding
    assert (restarted.inspected, restarted.defects) == (4, 4)  # the counts are kept
    assert restarted == compute_reinstated(suspended, PLAN)  # the same head start
    one = compute_decision(ACTIVE, restarted, "major", PLAN)
    assert one.action == Action.NONE
    assert one.sampling_state == SamplingState.TIGHTENED
    two = compute_decision(ACTIVE, one.stats, "major", PLAN)
    assert two.action == Action.SUSPEND
    # where S was kept (the rule before), the very next defect suspended again
    assert compute_decision(ACTIVE, suspended, "major", PLAN).action == Action.SUSPEND


def test_the_overturn_head_start_is_a_fraction_of_h() -> None:
    stats = compute_replay(["major"] * 4, PLAN)
    assert compute_overturned(stats, PLAN, 0.25).s == pytest.approx(H / 4)
    assert compute_overturned(stats, PLAN, 0.0).s == 0.0
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="fraction of h"):
            compute_overturned(stats, PLAN, bad)
