"""Webhook endpoints, the outbox of events and one delivery per event and endpoint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.db import db
from core.models import User
from core.outbox import OutboxMixin, OutboxStatuses
from vetting.models import Seller

DELIVERY_STATUSES = ("pending", "delivered", "dead")


class WebhookEndpoint(db.Model):  # type: ignore[name-defined,misc]
    """A URL of the marketplace that receives signed events."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    # Kept readable because the sender signs with it; shown to the admin once, at creation.
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()


class WebhookEvent(db.Model):  # type: ignore[name-defined,misc]
    """One event in the outbox, written in the transaction of the change it reports."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("seller_id", "sequence", name="uq_webhook_events_seller_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(32), unique=True)
    topic: Mapped[str] = mapped_column(String(40))
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    sequence: Mapped[int]  # 1, 2, 3 ... per seller, in commit order
    label_event_id: Mapped[int | None]
    body: Mapped[str] = mapped_column(Text)  # the exact JSON text that is sent and signed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    seller: Mapped[Seller] = relationship()


class WebhookDelivery(OutboxMixin, db.Model):  # type: ignore[name-defined,misc]
    """The sending of one event to one endpoint: pending until delivered or dead.

    An outbox row (core.outbox); a delivery being sent stays "pending" to its readers, with a
    claim token and a lease (`claimed_until`): after that (the sender died) it is requeued.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="known_status"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_queue", "endpoint_id", "seller_id", "status", "event_id"),
    )
    outbox_statuses = OutboxStatuses(queued="pending", claimed="pending", done="delivered",
                                      dead="dead")

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    seller_id: Mapped[int]  # copied from the event: the ordering queue is per endpoint and seller
    last_status_code: Mapped[int | None]
    delivered_at: Mapped[datetime | None]
    died_at: Mapped[datetime | None]

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()

    def retry_key(self) -> str:
        """Retries of a delivery are spread by its event and endpoint."""
        return f"{self.event.idempotency_key}:{self.endpoint_id}"
