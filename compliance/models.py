"""Suspension reviews, appeals and corrective-action plans."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from core.clock import utcnow
from core.db import db
from core.models import User
from core.outbox import OutboxMixin, OutboxStatuses
from vetting.models import LabelEvent, Seller


class SuspensionReview(db.Model):  # type: ignore[name-defined,misc]
    """A compliance officer's review of an automatic suspension."""

    __tablename__ = "suspension_reviews"
    __table_args__ = (Index("ix_suspension_reviews_status", "status", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    label_event_id: Mapped[int] = mapped_column(ForeignKey("label_events.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    seller: Mapped[Seller] = relationship()
    label_event: Mapped[LabelEvent] = relationship()
    decided_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class SellerCase(db.Model):  # type: ignore[name-defined,misc]
    """An appeal or a corrective-action plan a seller submitted, and its outcome."""

    __tablename__ = "seller_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # appeal | corrective_action
    summary: Mapped[str] = mapped_column(Text)
    received_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}


class Report(OutboxMixin, db.Model):  # type: ignore[name-defined,misc]
    """A generated PDF report: what, for whom, by whom, and the SHA-256 of the file.

    Rendering runs through this row as an outbox (core.outbox): queued -> rendering (claimed)
    -> done, or back to queued after a failed attempt, or failed after the last one.
    """

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_request", "kind", "seller_id", "date_from", "date_to",
                            "status"),)
    outbox_statuses = OutboxStatuses(queued="queued", claimed="rendering", done="done",
                                      dead="failed")

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # dossier | period
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"))
    date_from: Mapped[date]
    date_to: Mapped[date]
    progress: Mapped[int] = mapped_column(default=0)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None]
    pages: Mapped[int | None]
    render_ms: Mapped[int | None]

    seller: Mapped[Seller | None] = relationship()
    requested_by: Mapped[User | None] = relationship()

    started_at = synonym("claimed_at")  # when the latest rendering attempt started

    def retry_key(self) -> str:
        """Retries of a report are spread by its document id."""
        return self.document_id


class Notice(OutboxMixin, db.Model):  # type: ignore[name-defined,misc]
    """A notice with a statement of reasons sent to a seller, and its delivery state.

    The content is fixed when the decision is taken (same transaction); the PDF is rendered
    from `document_html` by the sender and kept in `pdf`. Delivery runs through this row as
    an outbox (core.outbox): queued -> sending (claimed) -> sent, or back to queued after a
    failed attempt, or dead after the last one. `message_id` never changes, so a re-send is
    the same message.
    """

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("label_event_id", "kind", name="uq_notices_event_kind"),
        Index("ix_notices_due", "status", "next_attempt_at"),
    )
    outbox_statuses = OutboxStatuses(queued="queued", claimed="sending", done="sent",
                                      dead="dead")

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    label_event_id: Mapped[int] = mapped_column(ForeignKey("label_events.id"))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("suspension_reviews.id"))
    kind: Mapped[str] = mapped_column(String(24))
    decided_on: Mapped[date]
    appeal_by: Mapped[date]
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    document_html: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    seller: Mapped[Seller] = relationship()

    def retry_key(self) -> str:
        """Retries of a notice are spread by its Message-ID."""
        return self.message_id
