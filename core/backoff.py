"""Retry schedule for outgoing deliveries (webhooks, seller notices) (pure).

A delivery that fails is retried after an exponentially growing delay, capped, with a
deterministic jitter derived from the message key so that many messages failing together
do not retry in lock-step. After `max_attempts` failed attempts the message is dead: it
stays in the dead-letter list until someone redelivers it by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Delays grow as base * 2**(attempt-1), capped; dead after max_attempts failures."""

    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    max_attempts: int = 12
    jitter_fraction: float = 0.2


@dataclass(frozen=True)
class RetryDecision:
    """What to do after a failed attempt: retry at `next_attempt_at`, or give up."""

    dead: bool
    next_attempt_at: datetime | None


def compute_retry_delay(attempts: int, key: str, policy: RetryPolicy = RetryPolicy()) -> float:
    """Seconds to wait after the `attempts`-th failure (attempts >= 1), jitter included."""
    if attempts < 1:
        raise ValueError("attempts counts failures and starts at 1")
    exponent = min(attempts - 1, 32)
    delay = min(policy.cap_seconds, policy.base_seconds * 2.0**exponent)
    digest = hashlib.sha256(f"{key}:{attempts}".encode()).digest()
    unit = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF  # in [0, 1]
    return delay * (1.0 - policy.jitter_fraction * unit)


def compute_retry(attempts: int, key: str, now: datetime,
                  policy: RetryPolicy = RetryPolicy()) -> RetryDecision:
    """After `attempts` failures: dead at max_attempts, otherwise the time of the next try."""
    if attempts >= policy.max_attempts:
        return RetryDecision(dead=True, next_attempt_at=None)
    delay = compute_retry_delay(attempts, key, policy)
    return RetryDecision(dead=False, next_attempt_at=now + timedelta(seconds=delay))
