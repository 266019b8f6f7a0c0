"""The test-order lifecycle as data: statuses, transitions and the overdue rule (pure).

planned -> placed -> received -> inspected -> closed; a planned or placed order may be
cancelled (with a reason); a placed order that never arrives is lost, which counts as a
delivery failure. A cancelled or lost order records whose side it failed on
(``FailureSide``): only the seller's side counts against the seller at renewal. Each move is
recorded in the audit trail as ``order.<status>`` with the payload ``compute_order_move``
builds from the move's details (the ``*_details`` functions).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class OrderStatus(StrEnum):
    """Where a test order stands."""

    PLANNED = "planned"
    PLACED = "placed"
    RECEIVED = "received"
    INSPECTED = "inspected"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    LOST = "lost"


class PackageCondition(StrEnum):
    """The state of the parcel on arrival."""

    INTACT = "intact"
    DAMAGED = "damaged"
    OPENED = "opened"


class Disposition(StrEnum):
    """What happened to the device after inspection."""

    RETURNED = "returned"
    REFUNDED = "refunded"
    KEPT_AS_EVIDENCE = "kept_as_evidence"


class FailureSide(StrEnum):
    """Whose side a cancelled or lost order failed on."""

    SELLER = "seller"  # not shipped, sale cancelled or listing withdrawn by the seller
    OURS = "ours"  # our side (budget, buyer account, plan), the marketplace or the carrier


FAILURE_SIDE_LABELS: Mapping[FailureSide, str] = MappingProxyType({
    FailureSide.SELLER: "The seller's side: not shipped, sale cancelled or listing withdrawn "
                        "by the seller",
    FailureSide.OURS: "Not the seller's doing: our side (budget, buyer account, plan), the "
                      "marketplace or the carrier",
})


_O = OrderStatus

ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType({
    _O.PLANNED: frozenset({_O.PLACED, _O.CANCELLED}),
    _O.PLACED: frozenset({_O.RECEIVED, _O.LOST, _O.CANCELLED}),
    _O.RECEIVED: frozenset({_O.INSPECTED}),
    _O.INSPECTED: frozenset({_O.CLOSED}),
    _O.CLOSED: frozenset(),
    _O.CANCELLED: frozenset(),
    _O.LOST: frozenset(),
})

OVERDUE_AFTER = timedelta(days=2)


class OrderTransitionError(ValueError):
    """A requested order status change is not allowed from the current status."""

    def __init__(self, current: OrderStatus, target: OrderStatus) -> None:
        self.current = current
        self.target = target
        super().__init__(f"This order is {current.value}; it cannot become {target.value}.")


def ensure_order_transition(current: OrderStatus, target: OrderStatus) -> None:
    """Raise OrderTransitionError unless current -> target is allowed."""
    if target not in ORDER_TRANSITIONS[current]:
        raise OrderTransitionError(current, target)


def compute_order_move(current: OrderStatus, target: OrderStatus,
                       details: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Check current -> target and return the move's audit action and payload."""
    ensure_order_transition(current, target)
    return f"order.{target.value}", {"from": current.value, "to": target.value, **details}


def placement_details(marketplace_ref: str, price_paid_cents: int,
                      buyer_account: str) -> dict[str, Any]:
    """What a placed order records: the marketplace reference, the price, the buyer."""
    return {"marketplace_ref": marketplace_ref, "price_paid_cents": price_paid_cents,
            "buyer_account": buyer_account}


def arrival_details(received_on: date, condition: PackageCondition) -> dict[str, Any]:
    """What a received order records: the day and the parcel's condition."""
    return {"received_on": received_on.isoformat(), "package_condition": condition.value}


def reason_details(reason: str, side: FailureSide | None = None) -> dict[str, Any]:
    """What a cancelled or lost order records: why, and on whose side when that is known."""
    return {"reason": reason} if side is None else {"reason": reason, "side": side.value}


def inspection_details() -> dict[str, Any]:
    """What an order records on inspection (the inspection has its own audit entry)."""
    return {"inspection": "submitted"}


def closing_details(disposition: Disposition) -> dict[str, Any]:
    """What a closed order records: what became of the device."""
    return {"disposition": disposition.value}


def compute_is_overdue(status: OrderStatus, planned_at: datetime, now: datetime) -> bool:
    """A planned order is overdue once its planned time is more than two days past."""
    return status == OrderStatus.PLANNED and now - planned_at > OVERDUE_AFTER
