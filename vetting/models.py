"""Sellers, their Back Label and label history, checklist templates and applications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.db import db
from core.models import User
from vetting.labels import LabelStatus, compute_label_event_kind


class Seller(db.Model):  # type: ignore[name-defined,misc]
    """A refurbisher (legal entity) known to the marketplace, with its Back Label."""

    __tablename__ = "sellers"
    __table_args__ = (
        UniqueConstraint("registration_key", "country", name="uq_sellers_registration"),
        Index("ix_sellers_label", "label_status", "label_valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    trading_name: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2), index=True)
    registration_number: Mapped[str] = mapped_column(String(64))
    registration_key: Mapped[str] = mapped_column(String(64))
    vat_id: Mapped[str] = mapped_column(String(32), default="")
    contact_email: Mapped[str] = mapped_column(String(254))
    website: Mapped[str] = mapped_column(String(300), default="")
    device_categories: Mapped[str] = mapped_column(String(200), default="")
    declared_monthly_volume: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    label_status: Mapped[str | None] = mapped_column(String(16))
    label_valid_from: Mapped[date | None]
    label_valid_until: Mapped[date | None]
    sampling_state: Mapped[str | None] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def display_name(self) -> str:
        """The trading name when there is one, else the legal name."""
        return self.trading_name or self.legal_name

    @property
    def categories(self) -> list[str]:
        """Device categories sold, as a list."""
        return [c for c in self.device_categories.split(",") if c]


def _kind_of_statuses(context: Any) -> str:
    """The kind of a row added without one: what its statuses imply (same status: a full
    renewal). vetting.services.labels.change_label always writes the kind itself."""
    row = context.get_current_parameters()
    current = row.get("from_status")
    return compute_label_event_kind(LabelStatus(current) if current else None,
                                    LabelStatus(row["to_status"])).value


class LabelEvent(db.Model):  # type: ignore[name-defined,misc]
    """One change of a seller's Back Label status, with why and by whom."""

    __tablename__ = "label_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(24), default=_kind_of_statuses)  # LabelEventKind
    reason: Mapped[str] = mapped_column(Text)
    pending_review: Mapped[bool] = mapped_column(Boolean, default=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[date | None]
    snapshot: Mapped[str | None] = mapped_column(Text)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))


class ChecklistTemplate(db.Model):  # type: ignore[name-defined,misc]
    """One version of the certification checklist; versions are never edited."""

    __tablename__ = "checklist_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    items: Mapped[list[ChecklistTemplateItem]] = relationship(
        order_by="ChecklistTemplateItem.position", lazy="selectin",
        cascade="all, delete-orphan")
    created_by: Mapped[User | None] = relationship()


class ChecklistTemplateItem(db.Model):  # type: ignore[name-defined,misc]
    """An item of a checklist template version."""

    __tablename__ = "checklist_template_items"
    __table_args__ = (UniqueConstraint("template_id", "code", name="uq_checklist_item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"))
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    guidance: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool]
    evidence_required: Mapped[bool]


class Application(db.Model):  # type: ignore[name-defined,misc]
    """A seller's application for the Back Label, worked against one checklist version."""

    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_status_updated", "status", "status_changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    seller: Mapped[Seller] = relationship()
    template: Mapped[ChecklistTemplate] = relationship()
    items: Mapped[list[ApplicationItem]] = relationship(
        back_populates="application", lazy="selectin",
        order_by="ApplicationItem.position")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}


class ApplicationEvent(db.Model):  # type: ignore[name-defined,misc]
    """A status change of an application, with the message sent to the seller if any."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[str] = mapped_column(Text, default="")
    recipient: Mapped[str] = mapped_column(String(254), default="")

    actor: Mapped[User | None] = relationship()


class ApplicationItem(db.Model):  # type: ignore[name-defined,misc]
    """The answer to one checklist item of an application."""

    __tablename__ = "application_items"
    __table_args__ = (UniqueConstraint("application_id", "template_item_id",
                                       name="uq_application_items_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    template_item_id: Mapped[int] = mapped_column(ForeignKey("checklist_template_items.id"))
    position: Mapped[int]
    result: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    waiver_reason: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="items")
    spec: Mapped[ChecklistTemplateItem] = relationship(lazy="joined")
    recorded_by: Mapped[User | None] = relationship()
    evidence: Mapped[list[Evidence]] = relationship(
        lazy="selectin", order_by="Evidence.id")


class ApplicationReviewer(db.Model):  # type: ignore[name-defined,misc]
    """Someone who recorded checklist results or evidence on an application (four-eyes)."""

    __tablename__ = "application_reviewers"

    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"),
                                                primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Evidence(db.Model):  # type: ignore[name-defined,misc]
    """A file attached to a checklist answer, stored by its SHA-256."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_item_id: Mapped[int] = mapped_column(ForeignKey("application_items.id"),
                                                     index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by: Mapped[User | None] = relationship()
