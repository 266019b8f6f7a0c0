"""Scheduled vetting work; each job commits once and is also a CLI command."""

from __future__ import annotations

from datetime import date

from core.db import db
from vetting.models import Seller
from vetting.services import labels as label_service


def run_label_expiry(on: date | None = None) -> list[Seller]:
    """Expire labels past their end date (idempotent: an expired label is not touched again)."""
    expired = label_service.expire_labels(on)
    db.session.commit()
    return expired
