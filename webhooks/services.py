"""Webhooks: the transactional outbox, endpoint administration and the delivery queue.

Writing: listeners of the label events add an outbox row (and one delivery per active
endpoint) in the transaction of the change, so a change that rolls back sends nothing.
The label facts in the body (status, valid-until, sampling state) are filled in just before
that transaction commits, so they show the label as the change left it, including work
done after the event (e.g. the sampling state a renewal sets).

Sending (see webhooks/jobs.py) runs through the delivery rows as an outbox (core.outbox):
`claim_due` marks due deliveries as being sent for a lease period and returns plain values;
the HTTP request runs outside any transaction; then `record_outcome` stores the result. A
sender that dies leaves its claims to expire, which counts as a failed attempt, and be sent
again (at least once; receivers dedupe by the idempotency key).

Order: per endpoint and seller, a delivery is not sent while an earlier event for the same
seller is still pending there (head-of-line). A dead delivery no longer blocks; redelivering
it makes it pending again, and it then goes before any later pending event of that seller.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import Select, event, exists, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from core import audit, outbox
from core.backoff import RetryPolicy
from core.clock import utcnow
from core.db import db, lock
from core.errors import ServiceError
from core.models import User
from vetting import events as label_events
from vetting.events import LabelChanged, SuspensionConfirmed
from vetting.models import LabelEvent, Seller
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.payloads import (
    SUSPENSION_CONFIRMED,
    SellerFacts,
    compute_body,
    compute_payload,
    compute_topic,
)

_UNFINISHED = "labelkeeper_webhook_events"


# ---------------------------------------------------------------- writing the outbox


@dataclass(frozen=True)
class _Unfinished:
    row: WebhookEvent
    occurred_at: datetime
    change: dict[str, Any]


def _facts(seller: Seller) -> SellerFacts:
    return SellerFacts(seller.id, seller.legal_name, seller.trading_name, seller.country,
                       seller.label_status, seller.label_valid_until, seller.sampling_state)


def _body(row: WebhookEvent, seller: Seller, occurred_at: datetime,
          change: dict[str, Any]) -> str:
    return compute_body(compute_payload(
        event_id=row.idempotency_key, topic=row.topic, occurred_at=occurred_at,
        sequence=row.sequence, facts=_facts(seller), change=change))


def enqueue_event(seller_id: int, topic: str, change: dict[str, Any]) -> WebhookEvent:
    """Add one event to the outbox, with a pending delivery for every active endpoint."""
    session = db.session
    lock(f"webhooks:seller:{seller_id}")  # sequence numbers and ids follow commit order
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise ServiceError(f"No seller with id {seller_id}.")
    sequence = (session.execute(select(func.max(WebhookEvent.sequence))
                                .where(WebhookEvent.seller_id == seller_id)).scalar() or 0) + 1
    now = utcnow()
    row = WebhookEvent(idempotency_key=uuid.uuid4().hex, topic=topic, seller_id=seller_id,
                       sequence=sequence, label_event_id=change.get("label_event_id"),
                       created_at=now, body="")
    row.body = _body(row, seller, now, change)
    session.add(row)
    session.flush()
    endpoints = session.execute(select(WebhookEndpoint.id)
                                .where(WebhookEndpoint.active.is_(True))).scalars()
    session.add_all(WebhookDelivery(event_id=row.id, endpoint_id=endpoint_id,
                                    seller_id=seller_id, status="pending",
                                    next_attempt_at=now) for endpoint_id in endpoints)
    session.flush()
    session.info.setdefault(_UNFINISHED, []).append(_Unfinished(row, now, change))
    return row


def on_label_changed(change: LabelChanged) -> None:
    """Queue `label.changed` for a status change and `label.renewed` for a renewal."""
    topic = compute_topic(change.from_status, change.to_status, change.renewal)
    if topic is None:
        return
    label_event = db.session.get(LabelEvent, change.label_event_id)
    enqueue_event(change.seller_id, topic, {
        "from_status": change.from_status, "to_status": change.to_status,
        "pending_review": change.pending_review, "renewal": change.renewal,
        "reason": label_event.reason if label_event is not None else "",
        "label_event_id": change.label_event_id})


def on_suspension_confirmed(confirmed: SuspensionConfirmed) -> None:
    """Queue `suspension.confirmed`."""
    label_event = db.session.get(LabelEvent, confirmed.label_event_id)
    enqueue_event(confirmed.seller_id, SUSPENSION_CONFIRMED, {
        "from_status": label_event.from_status if label_event is not None else None,
        "to_status": label_event.to_status if label_event is not None else "suspended",
        "pending_review": False, "renewal": None, "reason": confirmed.reason,
        "label_event_id": confirmed.label_event_id, "review_id": confirmed.review_id})


def _finish_bodies(session: Session) -> None:
    """Before commit: write the label facts as the transaction leaves them into the bodies."""
    for item in session.info.pop(_UNFINISHED, []):
        seller = session.get(Seller, item.row.seller_id)
        if seller is not None and item.row in session:
            item.row.body = _body(item.row, seller, item.occurred_at, item.change)


def _forget_unfinished(session: Session, *_args: object) -> None:
    session.info.pop(_UNFINISHED, None)


def subscribe(app: Flask) -> None:
    """Listen to label changes and confirmed suspensions (after the other listeners)."""
    label_events.subscribe(app, on_label_changed)
    label_events.subscribe_confirmed(app, on_suspension_confirmed)
    if not event.contains(Session, "before_commit", _finish_bodies):
        event.listen(Session, "before_commit", _finish_bodies)
        event.listen(Session, "after_rollback", _forget_unfinished)


# ---------------------------------------------------------------- endpoints


def check_url(url: str) -> str:
    """The URL stripped, or ServiceError when it is not an absolute http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServiceError("Give an absolute http:// or https:// URL.", "url")
    if parts.username or parts.password:
        raise ServiceError("Leave credentials out of the URL; requests are signed instead.",
                           "url")
    return url


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return "whsec_" + secrets.token_urlsafe(32)


def create_endpoint(url: str, description: str, actor: User | None) -> WebhookEndpoint:
    """Register an endpoint with a new secret; it receives events from now on."""
    endpoint = WebhookEndpoint(url=check_url(url), description=description.strip(),
                               secret=new_secret(), active=True,
                               created_by_id=actor.id if actor else None, created_at=utcnow())
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook.endpoint_created", "webhook_endpoint", endpoint.id,
                 {"url": endpoint.url, "description": endpoint.description}, actor)
    return endpoint


def set_endpoint_active(endpoint: WebhookEndpoint, active: bool,
                        actor: User | None) -> WebhookEndpoint:
    """Deactivate (nothing more is sent or queued) or reactivate an endpoint."""
    if endpoint.active == active:
        return endpoint
    endpoint.active = active
    db.session.flush()
    pending = count_deliveries(endpoint.id).get("pending", 0)
    audit.record("webhook.endpoint_activated" if active else "webhook.endpoint_deactivated",
                 "webhook_endpoint", endpoint.id,
                 {"url": endpoint.url, "pending_deliveries": pending}, actor)
    return endpoint


def redeliver(delivery: WebhookDelivery, actor: User | None) -> WebhookDelivery:
    """Put a dead delivery back in the queue, to be sent at once with fresh attempts."""
    if delivery.status != "dead":
        raise ServiceError(f"This delivery is {delivery.status}; only dead ones are redelivered.")
    if not delivery.endpoint.active:
        raise ServiceError("The endpoint is deactivated; reactivate it first.")
    previous = {"attempts": delivery.attempts, "last_error": delivery.last_error,
                "last_status_code": delivery.last_status_code}
    if not outbox.restart(WebhookDelivery, delivery.id, "dead", utcnow(), died_at=None):
        raise ServiceError("This delivery changed meanwhile; reload the page.")
    db.session.refresh(delivery)
    audit.record("webhook.redelivered", "webhook_delivery", delivery.id,
                 {"event": delivery.event.idempotency_key, "topic": delivery.event.topic,
                  "endpoint_id": delivery.endpoint_id, "seller_id": delivery.seller_id,
                  **previous}, actor)
    return delivery


# ---------------------------------------------------------------- queries for the pages


def endpoints() -> Select[tuple[WebhookEndpoint]]:
    """Every endpoint, active ones first, newest first."""
    return select(WebhookEndpoint).order_by(WebhookEndpoint.active.desc(),
                                            WebhookEndpoint.id.desc())


def count_active_endpoints() -> int:
    """How many endpoints receive events."""
    return db.session.execute(select(func.count()).select_from(WebhookEndpoint)
                              .where(WebhookEndpoint.active.is_(True))).scalar_one()


def count_deliveries(endpoint_id: int | None = None) -> dict[str, int]:
    """Deliveries by status, for one endpoint or all."""
    stmt = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    return {status: n for status, n in db.session.execute(stmt)}


def counts_by_endpoint() -> dict[int, dict[str, int]]:
    """Deliveries by endpoint and status."""
    out: dict[int, dict[str, int]] = {}
    rows = db.session.execute(select(WebhookDelivery.endpoint_id, WebhookDelivery.status,
                                     func.count())
                              .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status))
    for endpoint_id, status, n in rows:
        out.setdefault(endpoint_id, {})[status] = n
    return out


def deliveries(endpoint_id: int | None = None,
               status: str | None = None) -> Select[tuple[WebhookDelivery]]:
    """Deliveries, newest event first, with their event and endpoint loaded."""
    stmt = (select(WebhookDelivery)
            .options(selectinload(WebhookDelivery.event).selectinload(WebhookEvent.seller),
                     selectinload(WebhookDelivery.endpoint))
            .order_by(WebhookDelivery.event_id.desc(), WebhookDelivery.id.desc()))
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    return stmt


# ---------------------------------------------------------------- the delivery queue


@dataclass(frozen=True)
class Claim(outbox.Claim):
    """A delivery claimed for sending: everything the request needs, as plain values."""

    endpoint_id: int
    url: str
    secret: str = field(repr=False)
    event_key: str
    topic: str
    body: str

    @property
    def delivery_id(self) -> int:
        """The claimed delivery's id."""
        return self.row_id


@dataclass(frozen=True)
class Outcome:
    """What came of one request: a status code and/or an error text."""

    ok: bool
    status_code: int | None = None
    error: str = ""


def timeout_seconds() -> float:
    """How long one request may take (config WEBHOOK_TIMEOUT_SECONDS)."""
    return float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])


def retry_policy() -> RetryPolicy:
    """The retry schedule, from config WEBHOOK_RETRY_BASE_SECONDS, _CAP_SECONDS, MAX_ATTEMPTS."""
    return outbox.retry_policy(current_app.config, "WEBHOOK")


def due_deliveries(now: datetime) -> Select[tuple[WebhookDelivery]]:
    """Due, unclaimed deliveries to active endpoints that are first in their queue."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(earlier.endpoint_id == WebhookDelivery.endpoint_id,
                             earlier.seller_id == WebhookDelivery.seller_id,
                             earlier.status == "pending",
                             earlier.event_id < WebhookDelivery.event_id)
    return (outbox.due(WebhookDelivery, now)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookEndpoint.active.is_(True), ~blocked))


def has_work(now: datetime) -> bool:
    """Whether a delivery is due or a sender's lease has run out (a read, no lock taken)."""
    return any(db.session.execute(stmt.limit(1)).first() is not None for stmt in (
        due_deliveries(now), outbox.expired(WebhookDelivery, now)))


def requeue_stale(now: datetime) -> int:
    """Count the attempt of a sender that stopped mid-request as failed and queue the
    delivery again at once, or give it up as dead after the last attempt."""
    stale = outbox.requeue_expired(
        WebhookDelivery, "The sender stopped during the request; the event is sent again.",
        retry_policy(), now)
    for delivery in stale:
        if outbox.is_dead(delivery):
            delivery.died_at = now
    db.session.flush()
    return len(stale)


def claim_due(now: datetime, limit: int, lease: timedelta) -> list[Claim]:
    """Claim up to `limit` due deliveries for `lease`; rows another sender holds are skipped."""
    claims = []
    for claimed in outbox.claim(due_deliveries(now), WebhookDelivery, now, lease, limit):
        delivery = db.session.get_one(WebhookDelivery, claimed.row_id)
        claims.append(Claim(claimed.row_id, claimed.token, delivery.endpoint_id,
                            delivery.endpoint.url, delivery.endpoint.secret,
                            delivery.event.idempotency_key, delivery.event.topic,
                            delivery.event.body))
    return claims


def record_outcome(claim: Claim, outcome: Outcome, now: datetime) -> WebhookDelivery | None:
    """Store a request's result: delivered, retried later, or dead after the last attempt."""
    delivery = outbox.held(WebhookDelivery, claim)
    if delivery is None:
        return None  # the lease ran out and another sender took it over
    delivery.last_status_code = outcome.status_code
    if outcome.ok:
        delivery.delivered_at = now
        delivery.last_error = ""
        outbox.succeed(delivery)
    else:
        outbox.fail(delivery, outcome.error, retry_policy(), now)
        if outbox.is_dead(delivery):
            delivery.died_at = now
    db.session.flush()
    return delivery


def release(claim: Claim) -> None:
    """Give a claim back untried (its endpoint just failed); the attempt does not count."""
    outbox.release(WebhookDelivery, claim)
