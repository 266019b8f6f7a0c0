"""Sellers (refurbishers) who apply for and hold the Back Label."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import db


class Seller(db.Model):  # type: ignore[name-defined,misc]
    """A refurbisher (legal entity) known to the marketplace."""

    __tablename__ = "sellers"
    __table_args__ = (UniqueConstraint("registration_number", "country",
                                       name="uq_sellers_registration"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    trading_name: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2), index=True)
    registration_number: Mapped[str] = mapped_column(String(64))
    vat_id: Mapped[str] = mapped_column(String(32), default="")
    contact_email: Mapped[str] = mapped_column(String(254))
    website: Mapped[str] = mapped_column(String(300), default="")
    device_categories: Mapped[str] = mapped_column(String(200), default="")
    declared_monthly_volume: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def display_name(self) -> str:
        """The trading name when there is one, else the legal name."""
        return self.trading_name or self.legal_name
