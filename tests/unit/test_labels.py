"""Back Label state machine and label dates (vetting/labels.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vetting.labels import (
    TRANSITIONS,
    LabelChange,
    LabelEventKind,
    LabelStatus,
    LabelTransitionError,
    allowed_targets,
    compute_due_for_renewal,
    compute_is_expired,
    compute_label_change,
    compute_label_end,
    compute_label_event_kind,
    compute_label_record,
    ensure_transition,
    is_allowed,
    label_changed_payload,
    label_event_columns,
)

S = LabelStatus

# The edges the product allows, written out independently of the module's table.
EXPECTED_EDGES: frozenset[tuple[LabelStatus | None, LabelStatus]] = frozenset(
    {
        (None, S.ACTIVE),
        (S.ACTIVE, S.ACTIVE),
        (S.ACTIVE, S.SUSPENDED),
        (S.ACTIVE, S.REVOKED),
        (S.ACTIVE, S.EXPIRED),
        (S.PROBATION, S.ACTIVE),
        (S.PROBATION, S.PROBATION),
        (S.PROBATION, S.SUSPENDED),
        (S.PROBATION, S.REVOKED),
        (S.PROBATION, S.EXPIRED),
        (S.SUSPENDED, S.ACTIVE),
        (S.SUSPENDED, S.PROBATION),
        (S.SUSPENDED, S.REVOKED),
        (S.EXPIRED, S.ACTIVE),
    }
)
ALL_PAIRS = [(current, target) for current in [None, *S] for target in S]


def _pair_id(pair: tuple[LabelStatus | None, LabelStatus]) -> str:
    current, target = pair
    return f"{current.value if current else 'none'}->{target.value}"


def test_table_has_a_row_for_no_label_and_every_status() -> None:
    assert set(TRANSITIONS) == {None, *S}


def test_walk_covers_every_pair() -> None:
    assert len(ALL_PAIRS) == (len(S) + 1) * len(S) == 30


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=[_pair_id(p) for p in ALL_PAIRS])
def test_every_pair_is_allowed_or_refused(pair: tuple[LabelStatus | None, LabelStatus]) -> None:
    current, target = pair
    if pair in EXPECTED_EDGES:
        ensure_transition(current, target)
        assert is_allowed(current, target)
        assert target in allowed_targets(current)
    else:
        with pytest.raises(LabelTransitionError) as info:
            ensure_transition(current, target)
        assert not is_allowed(current, target)
        assert info.value.current == current
        assert info.value.target == target


def test_refusal_message_names_both_states() -> None:
    with pytest.raises(LabelTransitionError, match="from 'revoked' to 'active'"):
        ensure_transition(S.REVOKED, S.ACTIVE)
    with pytest.raises(LabelTransitionError, match="from no label to 'suspended'"):
        ensure_transition(None, S.SUSPENDED)


def test_refusal_message_lists_what_is_allowed() -> None:
    with pytest.raises(LabelTransitionError, match="allowed from 'expired': 'active'"):
        ensure_transition(S.EXPIRED, S.PROBATION)
    with pytest.raises(LabelTransitionError, match=r"nothing \(final status\)"):
        ensure_transition(S.REVOKED, S.REVOKED)


def test_transition_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="cannot go"):
        ensure_transition(S.EXPIRED, S.SUSPENDED)


def test_revoked_is_final() -> None:
    assert allowed_targets(S.REVOKED) == frozenset()


def test_statuses_are_stored_as_plain_strings() -> None:
    assert [s.value for s in S] == ["active", "probation", "suspended", "revoked", "expired"]
    assert S("suspended") is S.SUSPENDED
    assert is_allowed(S("active"), S("suspended"))


def test_table_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[S.REVOKED] = frozenset({S.ACTIVE})  # type: ignore[index]


def test_automatic_suspension_is_suspended_and_pending_review() -> None:
    change = compute_label_change(S.ACTIVE, S.SUSPENDED, " CUSUM signal ", pending_review=True)
    assert change == LabelChange(S.ACTIVE, S.SUSPENDED, "CUSUM signal", pending_review=True)
    assert change.to_status is S.SUSPENDED


def test_only_a_suspension_can_be_pending_review() -> None:
    with pytest.raises(ValueError, match="Only a suspension can be pending review"):
        compute_label_change(S.SUSPENDED, S.PROBATION, "appeal granted", pending_review=True)


def test_label_change_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        compute_label_change(S.ACTIVE, S.REVOKED, "   ")


def test_label_change_refuses_a_forbidden_transition() -> None:
    with pytest.raises(LabelTransitionError):
        compute_label_change(S.REVOKED, S.ACTIVE, "changed our mind")


def test_grant_on_approval() -> None:
    change = compute_label_change(None, S.ACTIVE, "application approved")
    assert change.from_status is None
    assert change.pending_review is False


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2025, 3, 14), date(2026, 3, 14)),
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2023, 2, 28), date(2024, 2, 28)),
        (date(2024, 12, 31), date(2025, 12, 31)),
        (date(2025, 1, 1), date(2026, 1, 1)),
    ],
)
def test_label_runs_to_the_same_day_next_year(start: date, end: date) -> None:
    assert compute_label_end(start) == end


def test_label_end_with_other_lengths_clamps_to_month_end() -> None:
    assert compute_label_end(date(2025, 1, 31), months=1) == date(2025, 2, 28)
    assert compute_label_end(date(2024, 1, 31), months=1) == date(2024, 2, 29)
    assert compute_label_end(date(2025, 8, 31), months=6) == date(2026, 2, 28)
    assert compute_label_end(date(2024, 2, 29), months=48) == date(2028, 2, 29)


def test_label_end_refuses_zero_months() -> None:
    with pytest.raises(ValueError, match="at least one month"):
        compute_label_end(date(2025, 1, 1), months=0)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(9000, 12, 31)))
def test_label_end_is_about_a_year_later(start: date) -> None:
    end = compute_label_end(start)
    assert end.year == start.year + 1
    assert end.month == start.month
    assert 365 <= (end - start).days <= 366


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2025, 5, 1), False),  # 31 days before
        (date(2025, 5, 2), True),  # exactly 30 days before
        (date(2025, 5, 20), True),
        (date(2025, 6, 1), True),  # the last valid day
        (date(2025, 6, 2), False),  # expired, no longer "due"
    ],
)
def test_due_for_renewal_within_thirty_days(today: date, due: bool) -> None:
    assert compute_due_for_renewal(date(2025, 6, 1), today) is due


def test_due_for_renewal_with_a_custom_window() -> None:
    assert compute_due_for_renewal(date(2025, 6, 1), date(2025, 5, 25), window_days=7)
    assert not compute_due_for_renewal(date(2025, 6, 1), date(2025, 5, 24), window_days=7)
    assert compute_due_for_renewal(date(2025, 6, 1), date(2025, 6, 1), window_days=0)


def test_due_for_renewal_refuses_a_negative_window() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        compute_due_for_renewal(date(2025, 6, 1), date(2025, 5, 1), window_days=-1)


def test_last_valid_day_is_not_expired() -> None:
    valid_until = date(2025, 2, 28)
    assert not compute_is_expired(valid_until, valid_until)
    assert not compute_is_expired(valid_until, valid_until - timedelta(days=1))
    assert compute_is_expired(valid_until, valid_until + timedelta(days=1))


def test_a_leap_day_label_expires_after_feb_28() -> None:
    valid_until = compute_label_end(date(2024, 2, 29))
    assert not compute_is_expired(valid_until, date(2025, 2, 28))
    assert compute_is_expired(valid_until, date(2025, 3, 1))


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    st.integers(min_value=-400, max_value=400),
)
def test_due_and_expired_never_both_true(valid_until: date, offset: int) -> None:
    today = valid_until + timedelta(days=offset)
    due = compute_due_for_renewal(valid_until, today)
    expired = compute_is_expired(valid_until, today)
    assert not (due and expired)
    assert expired is (offset > 0)


# The kind of every allowed edge, written out independently of the module.
K = LabelEventKind
EXPECTED_KINDS: dict[tuple[LabelStatus | None, LabelStatus], LabelEventKind] = {
    (None, S.ACTIVE): K.GRANT,
    (S.EXPIRED, S.ACTIVE): K.GRANT,
    (S.ACTIVE, S.ACTIVE): K.RENEWAL_FULL,
    (S.PROBATION, S.PROBATION): K.RENEWAL_FULL,
    (S.ACTIVE, S.SUSPENDED): K.SUSPENSION,
    (S.PROBATION, S.SUSPENDED): K.SUSPENSION,
    (S.SUSPENDED, S.PROBATION): K.REINSTATEMENT,
    (S.SUSPENDED, S.ACTIVE): K.RESTORATION,
    (S.PROBATION, S.ACTIVE): K.PROBATION_END,
    (S.ACTIVE, S.REVOKED): K.REVOCATION,
    (S.PROBATION, S.REVOKED): K.REVOCATION,
    (S.SUSPENDED, S.REVOKED): K.REVOCATION,
    (S.ACTIVE, S.EXPIRED): K.EXPIRY,
    (S.PROBATION, S.EXPIRED): K.EXPIRY,
}


def test_every_allowed_edge_has_its_kind() -> None:
    assert set(EXPECTED_KINDS) == EXPECTED_EDGES
    for (current, target), kind in EXPECTED_KINDS.items():
        assert compute_label_event_kind(current, target) == kind


@pytest.mark.parametrize("status", [S.ACTIVE, S.PROBATION])
def test_a_renewal_is_full_or_conditional(status: LabelStatus) -> None:
    assert compute_label_event_kind(status, status, "full") == K.RENEWAL_FULL
    assert compute_label_event_kind(status, status, "conditional") == K.RENEWAL_CONDITIONAL
    with pytest.raises(ValueError, match="'full' or 'conditional'"):
        compute_label_event_kind(status, status, "partial")


def test_a_grant_starts_a_year_of_validity_and_onboarding() -> None:
    record = compute_label_record(S.EXPIRED, S.ACTIVE, " approved ", today=date(2026, 3, 2),
                                  valid_from=date(2024, 1, 1), valid_until=date(2025, 1, 1),
                                  sampling_state=None)
    assert record.kind == K.GRANT
    assert (record.valid_from, record.valid_until) == (date(2026, 3, 2), date(2027, 3, 2))
    assert record.sampling_state == "onboarding"
    assert record.change == LabelChange(S.EXPIRED, S.ACTIVE, "approved")


def test_a_suspension_stops_sampling_and_keeps_the_dates() -> None:
    record = compute_label_record(S.ACTIVE, S.SUSPENDED, "CUSUM", today=date(2026, 3, 2),
                                  valid_from=date(2026, 1, 1), valid_until=date(2027, 1, 1),
                                  sampling_state="normal", pending_review=True)
    assert (record.kind, record.sampling_state) == (K.SUSPENSION, None)
    assert (record.valid_from, record.valid_until) == (date(2026, 1, 1), date(2027, 1, 1))
    assert label_event_columns(record, {"S": 5.3}) == {
        "from_status": "active", "to_status": "suspended", "kind": "suspension",
        "reason": "CUSUM", "pending_review": True, "valid_until": date(2027, 1, 1),
        "snapshot": '{"S": 5.3}'}
    assert label_changed_payload(record, {"S": 5.3}, None) == {
        "from": "active", "to": "suspended", "reason": "CUSUM", "pending_review": True,
        "valid_until": "2027-01-01", "sampling_state": None, "snapshot": {"S": 5.3},
        "application_id": None}


def test_a_reinstatement_keeps_the_sampling_state_it_is_given() -> None:
    record = compute_label_record(S.SUSPENDED, S.PROBATION, "plan accepted",
                                  today=date(2026, 3, 2), valid_from=date(2026, 1, 1),
                                  valid_until=date(2027, 1, 1), sampling_state="tightened")
    assert (record.kind, record.sampling_state) == (K.REINSTATEMENT, "tightened")
    assert label_event_columns(record)["snapshot"] is None


def test_a_label_record_refuses_what_the_table_refuses() -> None:
    with pytest.raises(LabelTransitionError):
        compute_label_record(S.REVOKED, S.ACTIVE, "again", today=date(2026, 3, 2),
                             valid_from=None, valid_until=None, sampling_state=None)
