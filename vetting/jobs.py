"""Scheduled vetting work; each job commits once and is also a CLI command."""

from __future__ import annotations

from datetime import date

from core.db import db
from vetting import services
from vetting.models import Seller


def run_label_expiry(on: date | None = None) -> list[Seller]:
    """Expire labels past their end date (idempotent: an expired label is not touched again)."""
    expired = services.expire_labels(on)
    db.session.commit()
    return expired
