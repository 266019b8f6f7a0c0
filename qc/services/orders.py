"""Test orders through their life: place, receive, cancel, lose, close; the inspectors'
queues and a seller's orders.

Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict
from core.errors import ConflictError, ServiceError
from core.models import User
from qc.decisions import FindingStatus
from qc.models import (
    CriticalFinding,
    Inspection,
    TestOrder,
)
from qc.orders import (
    OVERDUE_AFTER,
    Disposition,
    FailureSide,
    OrderStatus,
    OrderTransitionError,
    PackageCondition,
    arrival_details,
    closing_details,
    compute_is_overdue,
    compute_order_move,
    placement_details,
    reason_details,
)
from vetting.models import Seller


def check_order_version(order: TestOrder, expected_version: int | None) -> None:
    """Refuse a change to an order that changed since the user opened it."""
    if expected_version is not None and order.version != expected_version:
        raise ConflictError(f"Test order #{order.id} changed since you opened it (it is now "
                            f"{order.status}). Review it and try again.")


def move_order(order: TestOrder, target: OrderStatus, actor: User,
               payload: Mapping[str, Any], expected_version: int | None) -> None:
    """Move an order along the transition table, with its audit entry."""
    check_order_version(order, expected_version)
    try:
        action, entry = compute_order_move(OrderStatus(order.status), target, payload)
    except OrderTransitionError as exc:
        raise ServiceError(str(exc)) from None
    order.status = target.value
    order.updated_at = utcnow()
    flush_or_conflict("test order")
    audit.record(action, "test_order", order.id, entry, actor)


def place_order(order: TestOrder, marketplace_ref: str, price_paid_cents: int,
                buyer_account: str, actor: User, expected_version: int | None = None) -> None:
    """Record that the order was placed on the marketplace."""
    check_order_version(order, expected_version)
    marketplace_ref = marketplace_ref.strip()
    if not marketplace_ref:
        raise ServiceError("Give the marketplace order reference.", "marketplace_ref")
    if not 0 < price_paid_cents <= 100_000_00:
        raise ServiceError("The price paid must be more than 0 and at most 100,000 euros.",
                           "price_paid")
    taken = db.session.execute(select(TestOrder.id).where(
        TestOrder.marketplace_ref == marketplace_ref, TestOrder.id != order.id)).scalar()
    if taken is not None:
        raise ServiceError(f"Marketplace order {marketplace_ref} is already recorded on test "
                           f"order #{taken}.", "marketplace_ref")
    order.marketplace_ref = marketplace_ref
    order.price_paid_cents = price_paid_cents
    order.buyer_account = buyer_account.strip() or order.buyer_account
    order.placed_at = utcnow()
    order.placed_by_id = actor.id
    flush_or_conflict("test order", f"Marketplace order {marketplace_ref} was just recorded on "
                                    "another test order.")
    move_order(order, OrderStatus.PLACED, actor,
               placement_details(marketplace_ref, price_paid_cents, order.buyer_account), None)


def receive_order(order: TestOrder, received_on: date, condition: PackageCondition,
                  actor: User, expected_version: int | None = None) -> None:
    """Record the parcel's arrival and its condition."""
    today = utcnow().date()
    if received_on > today:
        raise ServiceError("The arrival date cannot be in the future.", "received_on")
    if order.placed_at is not None and received_on < order.placed_at.date():
        raise ServiceError(f"The arrival date is before the order was placed "
                           f"({order.placed_at.date()}).", "received_on")
    order.received_on = received_on
    order.package_condition = condition.value
    order.received_by_id = actor.id
    move_order(order, OrderStatus.RECEIVED, actor, arrival_details(received_on, condition),
               expected_version)


def cancel_order(order: TestOrder, reason: str, actor: User,
                 expected_version: int | None = None, *, side: FailureSide) -> None:
    """Cancel a planned or placed order, with a reason and whose side it failed on."""
    reason = reason.strip()
    if not reason:
        raise ServiceError("Give the reason for cancelling.", "reason")
    order.cancel_reason = reason
    order.failure_side = side.value
    move_order(order, OrderStatus.CANCELLED, actor, reason_details(reason, side),
               expected_version)


def mark_lost(order: TestOrder, reason: str, actor: User,
              expected_version: int | None = None, *, side: FailureSide) -> None:
    """Record that a placed order never arrived (a delivery failure), and on whose side."""
    order.cancel_reason = reason.strip() or "Never arrived."
    order.failure_side = side.value
    move_order(order, OrderStatus.LOST, actor, reason_details(order.cancel_reason, side),
               expected_version)


def close_order(order: TestOrder, disposition: Disposition, actor: User,
                expected_version: int | None = None) -> None:
    """Close an inspected order: device returned, refunded or kept as evidence; not while a
    critical finding on the device waits for a second inspector."""
    waiting = db.session.execute(select(CriticalFinding.id).where(
        CriticalFinding.order_id == order.id,
        CriticalFinding.status == FindingStatus.PENDING.value).limit(1)).first()
    if waiting is not None:
        raise ServiceError(f"A critical finding on the device of test order #{order.id} waits "
                           "for a second inspector; keep the device until it is confirmed or "
                           "rejected.")
    order.disposition = disposition.value
    order.closed_at = utcnow()
    move_order(order, OrderStatus.CLOSED, actor, closing_details(disposition), expected_version)


def order_queue(kind: str) -> Select[tuple[TestOrder]]:
    """Orders an inspector works on, oldest first: to place, to receive, to inspect."""
    now = utcnow()
    stmt = select(TestOrder).options(selectinload(TestOrder.seller))
    if kind == "place":
        stmt = stmt.where(TestOrder.status == OrderStatus.PLANNED.value,
                          TestOrder.planned_at <= now).order_by(TestOrder.planned_at)
    elif kind == "receive":
        stmt = stmt.where(TestOrder.status == OrderStatus.PLACED.value).order_by(
            TestOrder.placed_at)
    elif kind == "inspect":
        stmt = stmt.where(TestOrder.status == OrderStatus.RECEIVED.value).order_by(
            TestOrder.received_on, TestOrder.id)
    elif kind == "upcoming":
        stmt = stmt.where(TestOrder.status == OrderStatus.PLANNED.value,
                          TestOrder.planned_at > now).order_by(TestOrder.planned_at)
    else:
        stmt = stmt.order_by(TestOrder.planned_at.desc())
    return stmt.order_by(TestOrder.id)


def queue_counts() -> dict[str, int]:
    """How many orders wait in each queue, and how many planned orders are overdue."""
    now = utcnow()
    rows = dict(db.session.execute(
        select(TestOrder.status, func.count()).where(TestOrder.status.in_(
            [OrderStatus.PLACED.value, OrderStatus.RECEIVED.value]))
        .group_by(TestOrder.status)).all())
    due = db.session.execute(select(func.count()).select_from(TestOrder).where(
        TestOrder.status == OrderStatus.PLANNED.value, TestOrder.planned_at <= now)).scalar_one()
    overdue = db.session.execute(select(func.count()).select_from(TestOrder).where(
        TestOrder.status == OrderStatus.PLANNED.value,
        TestOrder.planned_at < now - OVERDUE_AFTER)).scalar_one()
    return {"place": due, "overdue": overdue,
            "receive": rows.get(OrderStatus.PLACED.value, 0),
            "inspect": rows.get(OrderStatus.RECEIVED.value, 0)}


def seller_orders(seller: Seller, limit: int = 50) -> list[TestOrder]:
    """A seller's latest test orders, newest planned first (the CSV export has them all)."""
    return list(db.session.execute(select(TestOrder).where(TestOrder.seller_id == seller.id)
                                   .order_by(TestOrder.planned_at.desc()).limit(limit))
                .scalars())


def seller_verdicts(seller: Seller) -> dict[int, str]:
    """The verdict in force of each inspected order of a seller, by order id; a critical one
    says where its finding stands ("critical, awaiting confirmation")."""
    out = {}
    for order_id, verdict, finding, rescored in db.session.execute(
            select(Inspection.order_id, Inspection.verdict, CriticalFinding.status,
                   CriticalFinding.rescored_verdict)
            .join(TestOrder, TestOrder.id == Inspection.order_id)
            .outerjoin(CriticalFinding, CriticalFinding.inspection_id == Inspection.id)
            .where(TestOrder.seller_id == seller.id, Inspection.is_current.is_(True))):
        if verdict == "critical" and finding == FindingStatus.PENDING.value:
            verdict = "critical, awaiting confirmation"
        elif verdict == "critical" and finding == FindingStatus.REJECTED.value:
            verdict = f"critical rejected: counts as {rescored}"
        out[order_id] = verdict
    return out




def overdue_since(order: TestOrder, now: datetime | None = None) -> timedelta | None:
    """How long a planned order is past its planned time beyond the grace, if overdue."""
    now = now or utcnow()
    overdue = compute_is_overdue(OrderStatus(order.status), order.planned_at, now)
    return now - order.planned_at if overdue else None
