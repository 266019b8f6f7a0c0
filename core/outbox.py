"""The outbox: background work kept as table rows, claimed with a token and a lease, retried
with back-off and dead after the last attempt. Report rendering, seller notices and webhook
deliveries all go through it.

A row is written in the same transaction as the change that calls for it, so work exists
exactly when its cause does. A worker then, in short transactions of its own:

1. `requeue_expired`: rows whose lease ran out go back in the queue (see "Leases");
2. `claim`: takes due rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers take
   different rows; SQLite: the writer's BEGIN IMMEDIATE already serialises claims), giving
   each a new claim token and a lease, and commits;
3. does the slow work with no transaction open;
4. `record_success` or `record_failure` (or `release`, to hand the row back untried); each
   first checks that the row still carries the claim's token, so a worker whose lease ran
   out and whose row someone else took over changes nothing.

States, in the columns of `OutboxMixin` (each table names them in its own words through
`OutboxStatuses`; a delivery being sent may keep its queued name, as webhooks do):
- queued: `status` is the queued name and `claimed_until` is NULL; due once
  `next_attempt_at` has come;
- claimed: `claimed_until` is set (`status` is the claimed name);
- done, or dead: `status` is that name; a dead row stays until someone queues it again.

Attempts: `attempts` counts the attempts whose outcome is known. It goes up by one when a
success or a failure is recorded, and when a lease runs out (the worker may have died on
this very row, so that counts as a failed attempt). A claim handed back untried does not
count. After a failure the row is due again after `core.backoff.compute_retry`'s delay, or
dead once `attempts` reaches the policy's `max_attempts`.

Leases: a claim holds its row until `claimed_until` (claim time + lease). Until then no
other worker takes it; once it has passed, `requeue_expired` counts the failed attempt and
makes the row due at once (the lease was the wait), or dead after the last attempt.
`claimed_at` keeps the start of the latest attempt.

Services flush; the jobs that call these functions commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import Select, String, Text, select, update
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.backoff import RetryPolicy, compute_retry
from core.clock import utcnow
from core.db import db

LAST_ERROR_CHARS = 2000


@dataclass(frozen=True)
class OutboxStatuses:
    """What a table calls the four states of its rows (claimed may equal queued)."""

    queued: str
    claimed: str
    done: str
    dead: str


class OutboxMixin:
    """The columns every outbox table has; a model sets `outbox_statuses` and `retry_key`."""

    outbox_statuses: ClassVar[OutboxStatuses]

    if TYPE_CHECKING:  # declared by each model (the mixin must not add a second id)
        id: Mapped[int]

    @declared_attr
    def status(cls) -> Mapped[str]:
        return mapped_column(String(12), default=cls.outbox_statuses.queued)

    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")

    def retry_key(self) -> str:
        """The stable text the retry jitter is derived from."""
        raise NotImplementedError


Row = TypeVar("Row", bound=OutboxMixin)


@dataclass(frozen=True)
class Claim:
    """A row claimed by one worker: its id and the token that proves the claim."""

    row_id: int
    token: str


def retry_policy(config: Mapping[str, Any], prefix: str) -> RetryPolicy:
    """The retry schedule from config `<prefix>_RETRY_BASE_SECONDS`, `_RETRY_CAP_SECONDS` and
    `_MAX_ATTEMPTS`."""
    return RetryPolicy(base_seconds=float(config[f"{prefix}_RETRY_BASE_SECONDS"]),
                       cap_seconds=float(config[f"{prefix}_RETRY_CAP_SECONDS"]),
                       max_attempts=int(config[f"{prefix}_MAX_ATTEMPTS"]))


# ---------------------------------------------------------------- queries


def queued(model: type[Row]) -> Select[tuple[Row]]:
    """Rows waiting in the queue, due or not, unclaimed."""
    return select(model).where(model.status == model.outbox_statuses.queued,
                               model.claimed_until.is_(None))


def due(model: type[Row], now: datetime) -> Select[tuple[Row]]:
    """Queued rows whose next attempt has come, longest waiting first."""
    return (queued(model).where(model.next_attempt_at <= now)
            .order_by(model.next_attempt_at, model.id))


def expired(model: type[Row], now: datetime) -> Select[tuple[Row]]:
    """Claimed rows whose lease has run out."""
    return select(model).where(model.status == model.outbox_statuses.claimed,
                               model.claimed_until.is_not(None), model.claimed_until <= now)


def is_stalled(row: OutboxMixin, now: datetime) -> bool:
    """Whether a row that is not finished has stopped making progress: queued again after a
    failed attempt, or claimed by a worker whose lease has run out."""
    if row.claimed_until is not None:
        return row.claimed_until <= now
    return row.status == row.outbox_statuses.queued and row.attempts > 0


# ---------------------------------------------------------------- claiming


def claim(stmt: Select[tuple[Row]], model: type[Row], now: datetime, lease: timedelta,
          limit: int | None = None) -> list[Claim]:
    """Claim the rows `stmt` selects (at most `limit`) for `lease`; rows another worker is
    claiming at the same moment are skipped."""
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = db.session.execute(stmt.with_for_update(of=model, skip_locked=True)
                              .execution_options(populate_existing=True)).scalars().all()
    claims = []
    for row in rows:
        row.status = model.outbox_statuses.claimed
        row.claim_token = secrets.token_hex(16)
        row.claimed_at, row.claimed_until = now, now + lease
        claims.append(Claim(row.id, row.claim_token))
    db.session.flush()
    return claims


def claim_one(model: type[Row], row_id: int, now: datetime, lease: timedelta) -> Claim | None:
    """Claim one queued row now, due or not; None when it is not waiting in the queue."""
    claims = claim(queued(model).where(model.id == row_id), model, now, lease)
    return claims[0] if claims else None


def held(model: type[Row], claim: Claim) -> Row | None:
    """The claimed row, locked, if it still carries the claim's token (else None: the lease
    ran out and the row was requeued or taken over)."""
    row = db.session.execute(select(model).where(model.id == claim.row_id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None or row.claim_token is None or row.claim_token != claim.token:
        return None
    return row


def release(model: type[Row], claim: Claim) -> bool:
    """Hand a claimed row back untried: queued as before, the attempt not counted."""
    result = db.session.execute(update(model).where(
        model.id == claim.row_id, model.claim_token == claim.token).values(
        status=model.outbox_statuses.queued, claim_token=None, claimed_until=None))
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- outcomes


def _unclaim(row: OutboxMixin) -> None:
    row.claim_token = None
    row.claimed_until = None


def succeed(row: OutboxMixin) -> None:
    """Count a held row's attempt as its success: the row is done."""
    row.attempts += 1
    row.status = row.outbox_statuses.done
    _unclaim(row)
    db.session.flush()


def fail(row: OutboxMixin, error: str, policy: RetryPolicy, now: datetime,
         retry_now: bool = False) -> None:
    """Count a held row's attempt as failed: due again after the back-off (at once with
    `retry_now`), or dead if that was the last attempt."""
    row.attempts += 1
    row.last_error = error[:LAST_ERROR_CHARS]
    _unclaim(row)
    decision = compute_retry(row.attempts, row.retry_key(), now, policy)
    if decision.dead or decision.next_attempt_at is None:
        row.status = row.outbox_statuses.dead
    else:
        row.status = row.outbox_statuses.queued
        row.next_attempt_at = now if retry_now else decision.next_attempt_at
    db.session.flush()


def is_dead(row: OutboxMixin) -> bool:
    """Whether the row has used up its attempts (or was given up)."""
    return row.status == row.outbox_statuses.dead


def record_success(model: type[Row], claim: Claim) -> Row | None:
    """Mark a claimed row done; None (and nothing changed) if the claim was lost meanwhile."""
    row = held(model, claim)
    if row is not None:
        succeed(row)
    return row


def record_failure(model: type[Row], claim: Claim, error: str, policy: RetryPolicy,
                   now: datetime) -> Row | None:
    """Count a claimed row's failed attempt; None (and nothing changed) if the claim was lost."""
    row = held(model, claim)
    if row is not None:
        fail(row, error, policy, now)
    return row


def requeue_expired(model: type[Row], error: str, policy: RetryPolicy,
                    now: datetime) -> list[Row]:
    """Count the attempt of every claim whose lease ran out as failed (`error` says why) and
    queue the row again at once, or give it up as dead after the last attempt."""
    rows = list(db.session.execute(expired(model, now).with_for_update(skip_locked=True)
                                   .execution_options(populate_existing=True)).scalars())
    for row in rows:
        fail(row, error, policy, now, retry_now=True)
    return rows


def give_up(row: OutboxMixin, reason: str) -> None:
    """End a row that is not finished as dead without counting an attempt (a claim on it can
    no longer record anything)."""
    row.status = row.outbox_statuses.dead
    row.last_error = reason[:LAST_ERROR_CHARS]
    _unclaim(row)
    db.session.flush()


def restart(model: type[Row], row_id: int, from_status: str, now: datetime,
            **values: Any) -> bool:
    """Queue a finished row once more, due now with fresh attempts, if its status is still
    `from_status` (False when someone changed it meanwhile); `values` set other columns."""
    result = db.session.execute(update(model).where(
        model.id == row_id, model.status == from_status).values(
        status=model.outbox_statuses.queued, attempts=0, next_attempt_at=now, claim_token=None,
        claimed_until=None, **values))
    return bool(result.rowcount)  # type: ignore[attr-defined]
