"""The Back Label: every status change (with its event row, audit entry and event), the
renewal window and expiry, and a seller's label history.

Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from core import audit
from core.clock import utcnow
from core.db import db
from core.errors import ServiceError
from core.models import User
from vetting import events as label_events
from vetting.labels import (
    IN_FORCE,
    RENEWAL_WINDOW_DAYS,
    LabelStatus,
    LabelTransitionError,
    compute_label_record,
    label_changed_payload,
    label_event_columns,
)
from vetting.models import (
    Application,
    LabelEvent,
    Seller,
)


def today() -> date:
    """Today's date in UTC by the application clock."""
    return utcnow().date()


def change_label(seller: Seller, target: LabelStatus, reason: str, actor: User | None, *,
                 pending_review: bool = False, snapshot: Mapping[str, Any] | None = None,
                 application: Application | None = None,
                 renewal: str | None = None) -> LabelEvent:
    """Move a seller's label along the transition table and record the event.

    `renewal` ("full" or "conditional") marks a renewal in place (same status, new validity).
    """
    current = LabelStatus(seller.label_status) if seller.label_status else None
    try:
        record = compute_label_record(
            current, target, reason, today=today(), valid_from=seller.label_valid_from,
            valid_until=seller.label_valid_until, sampling_state=seller.sampling_state,
            pending_review=pending_review, renewal=renewal)
    except LabelTransitionError as exc:
        raise ServiceError(str(exc)) from None
    seller.label_valid_from = record.valid_from
    seller.label_valid_until = record.valid_until
    seller.sampling_state = record.sampling_state
    seller.label_status = target.value
    application_id = application.id if application else None
    event = LabelEvent(
        seller_id=seller.id, actor_id=actor.id if actor else None,
        actor=actor.email if actor else audit.SYSTEM_ACTOR, at=utcnow(),
        application_id=application_id, **label_event_columns(record, snapshot))
    db.session.add(event)
    db.session.flush()
    audit.record("label.changed", "seller", seller.id,
                 label_changed_payload(record, snapshot, application_id), actor)
    label_events.emit(label_events.LabelChanged(seller.id, event.from_status, event.to_status,
                                                event.id, event.pending_review, renewal))
    return event


def labels_due_for_renewal(on: date | None = None,
                           window_days: int = RENEWAL_WINDOW_DAYS) -> list[Seller]:
    """Labels in force that end within the renewal window, soonest first."""
    day = on or today()
    return list(db.session.execute(
        select(Seller).where(
            Seller.label_status.in_(IN_FORCE),
            Seller.label_valid_until >= day,
            Seller.label_valid_until <= day + timedelta(days=window_days))
        .order_by(Seller.label_valid_until, Seller.id)).scalars())


def expire_labels(on: date | None = None) -> list[Seller]:
    """Expire every label in force whose end date has passed; return the sellers expired."""
    day = on or today()
    lapsed = list(db.session.execute(
        select(Seller).where(
            Seller.label_status.in_(IN_FORCE),
            Seller.label_valid_until < day)
        .order_by(Seller.id).with_for_update()).scalars())
    for seller in lapsed:
        change_label(seller, LabelStatus.EXPIRED,
                     f"Label ended on {seller.label_valid_until} and was not renewed.", None)
    return lapsed




def seller_label_history(seller: Seller) -> list[LabelEvent]:
    """The seller's label events, newest first."""
    return list(db.session.execute(select(LabelEvent).where(LabelEvent.seller_id == seller.id)
                                   .order_by(LabelEvent.at.desc(), LabelEvent.id.desc()))
                .scalars())
