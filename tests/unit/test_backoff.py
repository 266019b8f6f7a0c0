"""Retry schedule for webhooks and notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.backoff import RetryPolicy, compute_retry, compute_retry_delay

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_delays_double_until_the_cap_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(base_seconds=30, cap_seconds=3600, jitter_fraction=0.2)
    delays = [compute_retry_delay(n, "msg-1", policy) for n in range(1, 11)]
    for n, delay in enumerate(delays, start=1):
        nominal = min(3600, 30 * 2 ** (n - 1))
        assert 0.8 * nominal <= delay <= nominal
    assert delays[-1] <= 3600
    assert delays[1] > delays[0]


def test_jitter_is_deterministic_per_key_and_differs_between_keys() -> None:
    assert compute_retry_delay(3, "a") == compute_retry_delay(3, "a")
    assert len({compute_retry_delay(3, f"key-{i}") for i in range(20)}) > 1


def test_retries_cover_more_than_an_hour_before_the_message_is_dead() -> None:
    policy = RetryPolicy()
    waited = sum(compute_retry_delay(n, "x", policy) for n in range(1, policy.max_attempts))
    assert waited > 3600
    last = compute_retry(policy.max_attempts - 1, "x", NOW, policy)
    assert not last.dead
    assert last.next_attempt_at is not None
    assert last.next_attempt_at > NOW
    assert compute_retry(policy.max_attempts, "x", NOW, policy).dead


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        compute_retry_delay(0, "x")
    assert compute_retry(1, "x", NOW).next_attempt_at == NOW + timedelta(
        seconds=compute_retry_delay(1, "x"))
