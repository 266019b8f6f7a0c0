"""core.outbox on a real table (reports): claiming, leases, back-off, dead letters, tokens."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from compliance.models import Report
from core import outbox
from core.backoff import RetryPolicy, compute_retry_delay
from core.db import db

NOW = datetime(2026, 6, 10, 12, 0)
LEASE = timedelta(minutes=5)
POLICY = RetryPolicy(base_seconds=60, cap_seconds=3600, max_attempts=3)


def row(name: str, due_in: timedelta = timedelta(0)) -> Report:
    report = Report(document_id=name, kind="period", date_from=date(2026, 5, 1),
                    date_to=date(2026, 5, 31), requested_at=NOW, next_attempt_at=NOW + due_in)
    db.session.add(report)
    db.session.commit()
    return report


def fresh(report: Report) -> Report:
    db.session.expire_all()
    return db.session.execute(select(Report).where(Report.id == report.id)).scalar_one()


def due_ids(at: datetime) -> list[int]:
    return list(db.session.execute(outbox.due(Report, at).with_only_columns(Report.id))
                .scalars())


def claim_all(at: datetime = NOW, limit: int | None = None) -> list[outbox.Claim]:
    claims = outbox.claim(outbox.due(Report, at), Report, at, LEASE, limit)
    db.session.commit()
    return claims


def test_claim_takes_due_rows_oldest_first_with_a_token_and_a_lease_and_only_once(
        app: Flask) -> None:
    later, first, not_yet = (row("B", -timedelta(minutes=1)), row("A", -timedelta(minutes=2)),
                             row("C", timedelta(hours=1)))

    claims = claim_all()

    assert [c.row_id for c in claims] == [first.id, later.id]
    assert len({c.token for c in claims}) == 2
    for claim in claims:
        claimed = db.session.get_one(Report, claim.row_id)
        assert claimed.status == "rendering"
        assert (claimed.claim_token, claimed.claimed_at, claimed.claimed_until) == (
            claim.token, NOW, NOW + LEASE)
        assert claimed.attempts == 0  # counted when the outcome is known
    assert claim_all() == []  # a second worker finds nothing to take
    assert claim_all(NOW + timedelta(hours=2)) != []  # the last one once it is due
    assert fresh(not_yet).status == "rendering"


def test_claim_respects_the_limit(app: Flask) -> None:
    for name in "ABC":
        row(name)
    assert len(claim_all(limit=2)) == 2
    assert len(claim_all(limit=2)) == 1


def test_a_lease_that_runs_out_counts_a_failed_attempt_and_the_row_is_due_at_once(
        app: Flask) -> None:
    report = row("A")
    [claim] = claim_all()

    assert outbox.requeue_expired(Report, "stopped", POLICY, NOW + LEASE - timedelta(
        seconds=1)) == []
    [stale] = outbox.requeue_expired(Report, "stopped", POLICY, NOW + LEASE)
    db.session.commit()

    report = fresh(report)
    assert stale.id == report.id
    assert (report.status, report.attempts, report.last_error) == ("queued", 1, "stopped")
    assert (report.claim_token, report.claimed_until) == (None, None)
    assert report.claimed_at == NOW  # when the lost attempt started
    assert due_ids(NOW + LEASE) == [report.id]
    assert outbox.is_stalled(report, NOW + LEASE)


def test_a_failure_waits_for_the_back_off_which_grows(app: Flask) -> None:
    report = row("A")
    [claim] = claim_all()
    assert outbox.record_failure(Report, claim, "disk full", POLICY, NOW) is not None
    db.session.commit()

    first = compute_retry_delay(1, "A", POLICY)
    report = fresh(report)
    assert (report.status, report.attempts, report.last_error) == ("queued", 1, "disk full")
    assert report.next_attempt_at == NOW + timedelta(seconds=first)
    assert 48 <= first <= 60  # 60 s less up to 20% jitter
    assert due_ids(report.next_attempt_at - timedelta(seconds=1)) == []
    assert due_ids(report.next_attempt_at) == [report.id]

    again = report.next_attempt_at
    [claim] = claim_all(again)
    outbox.record_failure(Report, claim, "disk full", POLICY, again)
    db.session.commit()
    second = compute_retry_delay(2, "A", POLICY)
    assert 96 <= second <= 120
    assert fresh(report).next_attempt_at == again + timedelta(seconds=second)


def test_dead_after_the_last_attempt_and_never_claimed_again(app: Flask) -> None:
    report = row("A")
    at = NOW
    for _ in range(POLICY.max_attempts):
        [claim] = claim_all(at)
        outbox.record_failure(Report, claim, "still failing", POLICY, at)
        db.session.commit()
        at = fresh(report).next_attempt_at

    report = fresh(report)
    assert (report.status, report.attempts) == ("failed", 3)
    assert outbox.is_dead(report)
    assert claim_all(NOW + timedelta(days=1)) == []
    assert outbox.requeue_expired(Report, "stopped", POLICY, NOW + timedelta(days=1)) == []


def test_a_lease_that_runs_out_on_the_last_attempt_is_dead(app: Flask) -> None:
    report = row("A")
    at = NOW
    for _ in range(POLICY.max_attempts):
        claim_all(at)
        at += LEASE
        outbox.requeue_expired(Report, "stopped", POLICY, at)
        db.session.commit()
    assert (fresh(report).status, fresh(report).attempts) == ("failed", 3)


def test_after_a_requeue_the_old_token_records_nothing(app: Flask) -> None:
    report = row("A")
    [lost] = claim_all()
    outbox.requeue_expired(Report, "stopped", POLICY, NOW + LEASE)
    db.session.commit()
    [current] = claim_all(NOW + LEASE)
    assert current.token != lost.token

    assert outbox.record_success(Report, lost) is None  # the late worker changes nothing
    assert outbox.record_failure(Report, lost, "late", POLICY, NOW + LEASE) is None
    assert not outbox.release(Report, lost)
    db.session.commit()
    report = fresh(report)
    assert (report.status, report.claim_token, report.attempts) == (
        "rendering", current.token, 1)

    done = outbox.record_success(Report, current)
    db.session.commit()
    assert done is not None
    report = fresh(report)
    assert (report.status, report.attempts, report.claim_token, report.claimed_until) == (
        "done", 2, None, None)
    assert outbox.record_success(Report, current) is None  # a claim records once


def test_a_released_claim_is_queued_again_without_counting_an_attempt(app: Flask) -> None:
    report = row("A")
    [claim] = claim_all()
    assert outbox.release(Report, claim)
    db.session.commit()
    report = fresh(report)
    assert (report.status, report.attempts, report.claim_token) == ("queued", 0, None)
    assert due_ids(NOW) == [report.id]
    assert not outbox.is_stalled(report, NOW)


def test_claim_one_takes_a_queued_row_whether_due_or_not(app: Flask) -> None:
    report = row("A", timedelta(hours=1))
    claim = outbox.claim_one(Report, report.id, NOW, LEASE)
    db.session.commit()
    assert claim is not None
    assert outbox.claim_one(Report, report.id, NOW, LEASE) is None  # claimed already


def test_restart_and_give_up(app: Flask) -> None:
    report = row("A")
    outbox.give_up(report, "replaced")
    db.session.commit()
    assert (fresh(report).status, fresh(report).last_error) == ("failed", "replaced")
    assert not outbox.restart(Report, report.id, "done", NOW)  # it is not done
    assert outbox.restart(Report, report.id, "failed", NOW + LEASE, progress=0)
    db.session.commit()
    report = fresh(report)
    assert (report.status, report.attempts, report.next_attempt_at) == (
        "queued", 0, NOW + LEASE)


def test_retry_policy_reads_the_prefixed_settings(app: Flask) -> None:
    policy = outbox.retry_policy({"X_RETRY_BASE_SECONDS": 5, "X_RETRY_CAP_SECONDS": 600,
                                  "X_MAX_ATTEMPTS": "4"}, "X")
    assert policy == RetryPolicy(base_seconds=5.0, cap_seconds=600.0, max_attempts=4)
    assert outbox.retry_policy(app.config, "REPORT") == RetryPolicy(
        base_seconds=60.0, cap_seconds=3600.0, max_attempts=5)


def test_concurrent_claims_skip_locked_rows_on_postgresql(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; SKIP LOCKED is PostgreSQL's")
    first, second = row("A"), row("B", timedelta(seconds=1))
    mine = outbox.claim(outbox.due(Report, NOW + LEASE), Report, NOW, LEASE, 1)  # not committed
    theirs: list[outbox.Claim] = []

    def other_worker() -> None:
        with app.app_context():
            theirs.extend(outbox.claim(outbox.due(Report, NOW + LEASE), Report, NOW, LEASE, 1))
            db.session.commit()

    thread = threading.Thread(target=other_worker)
    thread.start()
    thread.join(timeout=30)
    db.session.commit()
    assert [c.row_id for c in mine] == [first.id]
    assert [c.row_id for c in theirs] == [second.id]  # skipped the locked row, did not wait
