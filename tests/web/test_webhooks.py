"""Webhooks: the outbox commits with the change, deliveries are signed, retried, ordered per
seller, dead-lettered and redelivered, and a receiver applies every event exactly once."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from compliance.models import SuspensionReview
from compliance.services import confirm_suspension
from core.db import db
from core.models import AuditEntry
from qc.services.label_decisions import renew_labels
from tests.conftest import post_form
from tests.factories import SellerFactory, UserFactory
from tests.web.qc_helpers import planned_orders
from tests.web.webhook_receiver import (
    APPLY_THEN_FAIL,
    APPLY_THEN_STALL,
    FAIL,
    Receiver,
    serve,
)
from vetting.labels import LabelStatus
from vetting.models import Seller
from vetting.services.labels import change_label
from webhooks import services
from webhooks.jobs import deliver_due
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.signing import compute_unix_seconds

NOW = datetime(2026, 6, 10, 12, 0)
SECRET_RE = re.compile(r'data-testid="secret">([^<]+)<')


class Clock:
    """The app's clock, moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock(NOW)
    app.config["CLOCK"] = clock
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.5
    return clock


@pytest.fixture
def receiver(clock: Clock) -> Iterator[Receiver]:
    receiver = Receiver(now=lambda: compute_unix_seconds(clock.now))
    server = serve(receiver)
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(receiver: Receiver) -> WebhookEndpoint:
    """An endpoint registered for the receiver, which knows its secret."""
    made = services.create_endpoint(receiver.url, "Marketplace", None)
    db.session.commit()
    receiver.secret = made.secret
    return made


def labelled(**kw: object) -> Seller:
    seller = SellerFactory(label_status="active", sampling_state="normal",
                           label_valid_from=date(2026, 1, 10),
                           label_valid_until=date(2027, 1, 10), **kw)
    db.session.commit()
    return seller


STEPS = [(LabelStatus.SUSPENDED, "Suspended: CUSUM signal"),
         (LabelStatus.PROBATION, "Corrective plan accepted"),
         (LabelStatus.ACTIVE, "Probation ended: 14 clean orders")]


def change(seller: Seller, step: int) -> None:
    target, reason = STEPS[step]
    change_label(seller, target, reason, None, pending_review=target == LabelStatus.SUSPENDED)
    db.session.commit()


def deliver_all(clock: Clock, rounds: int = 30) -> None:
    """Run the sender, moving the clock an hour between runs, until nothing is pending."""
    for _ in range(rounds):
        deliver_due()
        if not db.session.execute(select(WebhookDelivery.id).where(
                WebhookDelivery.status == "pending")).first():
            return
        clock.advance(hours=1)
    raise AssertionError("deliveries still pending")


def statuses() -> list[str]:
    db.session.expire_all()
    return list(db.session.execute(select(WebhookDelivery.status)
                                   .order_by(WebhookDelivery.event_id)).scalars())


def test_duplicates_retries_and_stalls_still_apply_each_event_once_in_order_per_seller(
        clock: Clock, receiver: Receiver, endpoint: WebhookEndpoint) -> None:
    first, second = labelled(), labelled()
    for step in range(3):
        change(first, step)
        change(second, step)
    receiver.plan(first.id, APPLY_THEN_FAIL, FAIL)  # event 1: applied, then 500; then 500
    receiver.plan(second.id, "ok", APPLY_THEN_STALL)  # event 2: applied, answer too late

    deliver_all(clock)

    assert statuses() == ["delivered"] * 6
    assert receiver.rejections == []
    assert len(receiver.applied) == 6
    for seller in (first, second):
        assert receiver.applied_order[seller.id] == [1, 2, 3]
        sent = receiver.sequences_sent(seller.id)
        assert sent == sorted(sent)  # a later event never overtook an earlier one
    assert receiver.sequences_sent(first.id) == [1, 1, 1, 2, 3]
    assert receiver.sequences_sent(second.id) == [1, 2, 2, 3]
    assert sum(a.duplicate for a in receiver.arrivals) == 3
    topics = {p["topic"] for p in receiver.applied.values()}
    assert topics == {"label.changed"}
    suspended = next(p for p in receiver.applied.values()
                     if p["seller"]["id"] == first.id and p["sequence"] == 1)
    assert suspended["change"] == {
        "from_status": "active", "to_status": "suspended", "pending_review": True,
        "renewal": None, "reason": "Suspended: CUSUM signal",
        "label_event_id": suspended["change"]["label_event_id"], "review_id": None}
    assert suspended["label"] == {"status": "suspended", "valid_until": "2027-01-10",
                                  "sampling_state": None}
    assert suspended["seller"]["legal_name"] == first.legal_name


def test_a_failed_delivery_waits_for_its_back_off_and_holds_back_that_sellers_later_events(
        clock: Clock, receiver: Receiver, endpoint: WebhookEndpoint) -> None:
    seller, other = labelled(), labelled()
    change(seller, 0)
    change(seller, 1)
    change(other, 0)
    receiver.plan(seller.id, FAIL)

    run = deliver_due()

    assert (run.delivered, run.retried) == (1, 1)  # the other seller is not held back
    assert receiver.sequences_sent(seller.id) == [1]
    failed = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalar()
    assert failed is not None
    assert (failed.status, failed.attempts, failed.last_status_code) == ("pending", 1, 500)
    assert failed.last_error.startswith("HTTP 500")
    assert NOW + timedelta(seconds=23) < failed.next_attempt_at <= NOW + timedelta(seconds=30)
    assert deliver_due().attempted == 0  # not due yet, and event 2 waits behind it
    clock.now = failed.next_attempt_at
    assert deliver_due().delivered == 1
    assert deliver_due().delivered == 1
    assert receiver.sequences_sent(seller.id) == [1, 1, 2]
    assert statuses() == ["delivered"] * 3


def test_dead_after_max_attempts_stops_blocking_and_redeliver_sends_it_again(
        app: Flask, clock: Clock, receiver: Receiver, endpoint: WebhookEndpoint,
        client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 3
    seller = labelled()
    change(seller, 0)
    change(seller, 1)
    receiver.plan(seller.id, FAIL, FAIL, FAIL)

    deliver_all(clock)

    assert statuses() == ["dead", "delivered"]
    assert receiver.sequences_sent(seller.id) == [1, 1, 1, 2]
    admin = login("admin")
    home = client.get("/").get_data(as_text=True)
    assert "dead webhook deliveries" in home
    assert "Review dead letters" in home
    page = client.get("/admin/webhooks/dead").get_data(as_text=True)
    assert "HTTP 500" in page
    assert "label.changed" in page
    assert receiver.url in page
    dead = db.session.execute(select(WebhookDelivery).where(
        WebhookDelivery.status == "dead")).scalar_one()

    response = post_form(client, f"/admin/webhooks/deliveries/{dead.id}/redeliver", {},
                         token_from="/admin/webhooks/dead")

    assert response.status_code == 302
    assert "queued again" in client.get("/admin/webhooks/dead").get_data(as_text=True)
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "webhook.redelivered")).scalar_one()
    assert entry.actor == admin.email  # type: ignore[attr-defined]
    assert '"attempts":3' in entry.payload.replace(" ", "")
    assert deliver_due().delivered == 1
    assert statuses() == ["delivered", "delivered"]
    assert receiver.applied_order[seller.id] == [2, 1]  # late; the sequence shows it is older
    again = post_form(client, f"/admin/webhooks/deliveries/{dead.id}/redeliver", {},
                      token_from="/admin/webhooks/dead", follow_redirects=True)
    assert "only dead ones are redelivered" in again.get_data(as_text=True)


def test_a_replayed_or_tampered_request_is_rejected_by_the_receiver(
        clock: Clock, receiver: Receiver, endpoint: WebhookEndpoint) -> None:
    change(labelled(), 0)
    deliver_due()
    headers, body = receiver.raw[0]
    sent = {k: v for k, v in headers.items() if k.startswith(("labelkeeper", "idempotency"))}
    sent["content-type"] = "application/json"

    def replay(data: bytes, **override: str) -> int:
        request = urllib.request.Request(receiver.url, data=data, method="POST",  # noqa: S310
                                         headers={**sent, **override})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert replay(body) == 200  # within the tolerance: a duplicate, acknowledged, no effect
    clock.advance(minutes=6)
    assert replay(body) == 401
    assert replay(body.replace(b"suspended", b"revoked")) == 401
    assert replay(body, **{"labelkeeper-signature": "t=1,v1=nothex"}) == 401
    assert receiver.rejections == [
        "timestamp is 360 s old; outside the 300 s tolerance (possible replay)",
        "signature does not match the body and secret",
        "malformed signature header: v1 must be 64 lowercase hex digits"]
    assert len(receiver.applied) == 1


def test_a_change_that_rolls_back_leaves_nothing_in_the_outbox_and_sends_nothing(
        clock: Clock, receiver: Receiver, endpoint: WebhookEndpoint) -> None:
    seller = labelled()
    change_label(seller, LabelStatus.SUSPENDED, "Suspended: CUSUM signal", None,
                 pending_review=True)
    assert db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar() == 1
    db.session.rollback()

    assert db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar() == 0
    assert db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar() == 0
    assert deliver_due().attempted == 0
    assert receiver.arrivals == []
    change(seller, 0)  # the same change, committed, is sent as the seller's first event
    deliver_due()
    assert [a.sequence for a in receiver.arrivals] == [1]


def test_renewal_and_confirmed_suspension_topics(
        app: Flask, clock: Clock, receiver: Receiver, endpoint: WebhookEndpoint) -> None:
    seller = labelled()
    # six orders planned, none inspected, all cancelled on the seller's side: conditional
    planned_orders(seller, 6, datetime(2026, 6, 10, 12), failed_on="seller")
    clock.now = datetime(2027, 1, 10, 0, 20)
    renew_labels(date(2027, 1, 10))
    db.session.commit()
    change(seller, 0)
    review = db.session.execute(select(SuspensionReview)).scalar_one()
    officer = UserFactory(roles=["compliance"])
    confirm_suspension(review, "Two critical defects confirmed", officer)
    db.session.commit()

    deliver_all(clock)

    by_topic = {p["topic"]: p for p in receiver.applied.values()}
    assert set(by_topic) == {"label.renewed", "label.changed", "suspension.confirmed"}
    renewed = by_topic["label.renewed"]
    assert renewed["change"]["renewal"] == "conditional"
    assert (renewed["change"]["from_status"], renewed["change"]["to_status"]) == (
        "active", "active")
    assert "only 0 test orders inspected of 6 planned, 6 cancelled or lost on the seller's " \
           "side" in renewed["change"]["reason"]
    # written before the renewal reset the sampling, sent with the state it left behind
    assert renewed["label"] == {"status": "active", "valid_until": "2028-01-10",
                                "sampling_state": "onboarding"}
    confirmed = by_topic["suspension.confirmed"]
    assert confirmed["change"]["reason"] == "Two critical defects confirmed"
    assert confirmed["change"]["review_id"] == review.id
    assert confirmed["change"]["label_event_id"] == review.label_event_id
    assert confirmed["change"]["to_status"] == "suspended"
    assert confirmed["label"]["status"] == "suspended"
    assert [p["sequence"] for p in sorted(receiver.applied.values(),
                                          key=lambda p: p["sequence"])] == [1, 2, 3]


def test_two_senders_at_once_send_each_event_once(
        app: Flask, clock: Clock, receiver: Receiver, endpoint: WebhookEndpoint) -> None:
    for _ in range(8):
        change(labelled(), 0)
    db.session.commit()

    def sender() -> None:
        with app.app_context():
            for _ in range(10):
                run = deliver_due(limit=3)
                if run.attempted == 0 and run.released == 0:
                    break
            db.session.remove()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses() == ["delivered"] * 8
    assert len(receiver.arrivals) == 8
    assert not any(a.duplicate for a in receiver.arrivals)


def test_a_sender_that_dies_mid_delivery_leaves_the_event_to_be_sent_again(
        clock: Clock, receiver: Receiver, endpoint: WebhookEndpoint) -> None:
    change(labelled(), 0)
    claims = services.claim_due(NOW, 10, timedelta(minutes=5))
    db.session.commit()
    assert len(claims) == 1
    # ... the process dies here, before or after the request ...
    assert deliver_due().attempted == 0  # still held by the dead sender's lease
    clock.advance(minutes=6)
    assert deliver_due().delivered == 1
    assert statuses() == ["delivered"]
    late = services.Outcome(False, 500, "HTTP 500")
    assert services.record_outcome(claims[0], late, clock.now) is None  # stale claim: ignored
    db.session.commit()
    assert statuses() == ["delivered"]


def test_an_unreachable_endpoint_is_retried_without_waiting_out_every_timeout(
        clock: Clock) -> None:
    services.create_endpoint("http://127.0.0.1:9/nothing-listens", "", None)
    db.session.commit()
    for _ in range(3):
        change(labelled(), 0)

    run = deliver_due()

    assert (run.retried, run.released) == (1, 2)
    rows = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars()
    assert [(d.attempts, d.last_error.split(":")[0]) for d in rows] == [
        (1, "connection failed"), (0, ""), (0, "")]


def test_admin_registers_an_endpoint_sees_the_secret_once_and_deactivates_it(
        clock: Clock, client: FlaskClient, login: Callable[..., object]) -> None:
    admin = login("admin")
    bad = post_form(client, "/admin/webhooks/new", {"url": "ftp://example.test/x"},
                    token_from="/admin/webhooks/new")
    assert "Give an absolute http:// or https:// URL." in bad.get_data(as_text=True)

    created = post_form(client, "/admin/webhooks/new",
                        {"url": " https://marketplace.example/hooks ", "description": "Prod"},
                        token_from="/admin/webhooks/new")

    match = SECRET_RE.search(created.get_data(as_text=True))
    assert match
    assert match.group(1).startswith("whsec_")
    secret = match.group(1)
    endpoint = db.session.execute(select(WebhookEndpoint)).scalar_one()
    assert endpoint.url == "https://marketplace.example/hooks"
    assert endpoint.created_by_id == admin.id  # type: ignore[attr-defined]
    listing = client.get("/admin/webhooks/").get_data(as_text=True)
    detail = client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "https://marketplace.example/hooks" in listing
    assert "Prod" in listing
    assert secret not in listing
    assert secret not in detail
    audit = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "webhook.endpoint_created")).scalar_one()
    assert "marketplace.example" in audit.payload
    assert secret not in audit.payload

    change(labelled(), 0)
    assert "label.changed" in client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    post_form(client, f"/admin/webhooks/{endpoint.id}/active", {},
              token_from=f"/admin/webhooks/{endpoint.id}")
    change(labelled(), 0)

    db.session.expire_all()
    assert not db.session.get(WebhookEndpoint, endpoint.id).active
    assert db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar() == 1
    assert db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar() == 2
    assert deliver_due().attempted == 0  # nothing goes to a deactivated endpoint
    assert db.session.execute(select(AuditEntry.actor).where(
        AuditEntry.action == "webhook.endpoint_deactivated")).scalar_one() == admin.email  # type: ignore[attr-defined]


def test_deliver_command_reports_what_it_sent(
        runner: FlaskCliRunner, clock: Clock, receiver: Receiver,
        endpoint: WebhookEndpoint) -> None:
    change(labelled(), 0)
    receiver.plan(db.session.execute(select(Seller.id)).scalar_one(), FAIL)
    change(labelled(), 0)

    result = runner.invoke(args=["webhooks", "deliver"])

    assert result.exit_code == 0, result.output
    assert "Delivered 1, failed and retried later 1, dead 0." in result.output
    assert "failed: HTTP 500" in result.output


def test_events_are_kept_in_the_outbox_even_without_endpoints(clock: Clock) -> None:
    seller = labelled()
    change(seller, 0)
    event = db.session.execute(select(WebhookEvent)).scalar_one()
    assert (event.topic, event.seller_id, event.sequence) == ("label.changed", seller.id, 1)
    assert len(event.idempotency_key) == 32
    assert db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar() == 0
