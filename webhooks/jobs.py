"""Sending due webhooks; runs every few seconds in the scheduler and as a CLI command.

Each run claims a batch in one short transaction, sends the requests with no transaction
open, and records each result in its own short transaction. When an endpoint times out or
refuses connections, the rest of that run's claims for it are handed back untried instead of
waiting out the timeout once per delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app

from core.clock import utcnow
from core.db import db, read_only
from webhooks import services, transport
from webhooks.signing import compute_unix_seconds

DEFAULT_BATCH = 20


@dataclass
class DeliveryRun:
    """What one run did: counts of deliveries delivered, retried later, dead and handed back."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        """Requests sent in this run."""
        return self.delivered + self.retried + self.dead


def deliver_due(now: datetime | None = None, limit: int = DEFAULT_BATCH) -> DeliveryRun:
    """Send up to `limit` due deliveries and record each result (commits per step)."""
    timeout = services.timeout_seconds()
    start = now or utcnow()
    lease = timedelta(seconds=(timeout + 5) * max(limit, 1) + 60)
    with read_only():  # an idle run takes no write lock
        if not services.has_work(start):
            return DeliveryRun()
    services.requeue_stale(start)
    claims = services.claim_due(start, limit, lease)
    db.session.commit()
    run = DeliveryRun()
    unreachable: set[int] = set()
    for claim in claims:
        if claim.endpoint_id in unreachable:
            services.release(claim)
            db.session.commit()
            run.released += 1
            continue
        sent_at = now or utcnow()
        outcome = transport.post(claim.url, claim.secret, claim.event_key, claim.topic,
                                 claim.body.encode("utf-8"), compute_unix_seconds(sent_at),
                                 timeout)
        if outcome.status_code is None and not outcome.ok:
            unreachable.add(claim.endpoint_id)
        delivery = services.record_outcome(claim, outcome, now or utcnow())
        db.session.commit()
        if delivery is None:
            continue
        if delivery.status == "delivered":
            run.delivered += 1
        elif delivery.status == "dead":
            run.dead += 1
            run.errors.append(f"delivery {delivery.id} to endpoint {claim.endpoint_id} is dead: "
                              f"{outcome.error}")
        else:
            run.retried += 1
            run.errors.append(f"delivery {delivery.id} to endpoint {claim.endpoint_id} failed: "
                              f"{outcome.error}")
    for line in run.errors:
        current_app.logger.warning("webhook %s", line)
    return run


def run_deliveries() -> int:
    """The scheduler job: one batch of due webhooks; returns how many requests were sent."""
    return deliver_due().attempted
