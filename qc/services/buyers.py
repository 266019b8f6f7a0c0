"""Buyer identities: the pool the planner draws test orders' buyers from, each identity's
use, and adding, editing and retiring identities (compliance officers).

The pool is the active identities. A retired identity (a seller may have recognised it) never
comes back; its test orders keep it. The rule that picks an order's identity is the pure
`qc.buyers.assign_buyers`; `active_buyers` and `recent_buyers` are its inputs.

Services flush; the caller commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import joinedload

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ConflictError, ServiceError
from core.models import User
from qc.buyers import BuyerInput
from qc.models import BuyerIdentity, TestOrder
from qc.orders import OrderStatus
from vetting.models import Seller

MAX_NAME_LENGTH = 120  # the length of TestOrder.buyer_account, which copies the name
MAX_ADDRESS_LINES = 8
MAX_ADDRESS_LINE_LENGTH = 120
MAX_PAYMENT_REFERENCE_LENGTH = 64
MAX_REASON_LENGTH = 5000
# A run of this many digits (spaces and hyphens allowed between them) is a card or account
# number, which must never be stored here.
_FULL_NUMBER = re.compile(r"\d(?:[ -]?\d){11,}")


@dataclass(frozen=True)
class IdentityInput:
    """What a compliance officer types for a buyer identity."""

    name: str
    address: str
    payment_reference: str


@dataclass(frozen=True)
class Usage:
    """How much an identity has been used for test orders."""

    orders: int  # in all
    last_12_months: int  # planned in the 12 months up to now
    last_planned_at: datetime | None
    not_placed: int  # planned, not placed yet


# ---------------------------------------------------------------- the planner's inputs


def active_buyers() -> list[BuyerInput]:
    """The pool: every active identity, by id."""
    return [BuyerInput(buyer_id, name) for buyer_id, name in db.session.execute(
        select(BuyerIdentity.id, BuyerIdentity.name).where(BuyerIdentity.active.is_(True))
        .order_by(BuyerIdentity.id))]


def year_before(day: date) -> date:
    """The same day a year earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def recent_buyers(period_start: date) -> dict[int, frozenset[int]]:
    """Per seller, the identities of its test orders planned in the 12 months before
    `period_start` (from the same day a year earlier, up to the day before)."""
    start = datetime.combine(year_before(period_start), time())
    end = datetime.combine(period_start, time())
    found: dict[int, set[int]] = {}
    for seller_id, buyer_id in db.session.execute(
            select(TestOrder.seller_id, TestOrder.buyer_identity_id).distinct()
            .where(TestOrder.buyer_identity_id.is_not(None), TestOrder.planned_at >= start,
                   TestOrder.planned_at < end)):
        found.setdefault(seller_id, set()).add(buyer_id)
    return {seller_id: frozenset(ids) for seller_id, ids in found.items()}


# ---------------------------------------------------------------- the page's queries


def identities_query() -> Select[Any]:
    """Every identity, active ones first, then by name."""
    return (select(BuyerIdentity)
            .options(joinedload(BuyerIdentity.retired_by),
                     joinedload(BuyerIdentity.flagged_by_seller))
            .order_by(BuyerIdentity.active.desc(), BuyerIdentity.name_key, BuyerIdentity.id))


def count_active() -> int:
    """How many identities the pool holds."""
    return db.session.execute(select(func.count()).select_from(BuyerIdentity)
                              .where(BuyerIdentity.active.is_(True))).scalar_one()


def usage(identity_ids: Iterable[int]) -> dict[int, Usage]:
    """The use of each of these identities (one query, whatever their number)."""
    ids = list(identity_ids)
    if not ids:
        return {}
    since = datetime.combine(year_before(utcnow().date()), time())
    rows = db.session.execute(
        select(TestOrder.buyer_identity_id, func.count(),
               func.sum(case((TestOrder.planned_at >= since, 1), else_=0)),
               func.max(TestOrder.planned_at),
               func.sum(case((TestOrder.status == OrderStatus.PLANNED.value, 1), else_=0)))
        .where(TestOrder.buyer_identity_id.in_(ids)).group_by(TestOrder.buyer_identity_id))
    found = {row[0]: Usage(row[1], row[2] or 0, row[3], row[4] or 0) for row in rows}
    empty = Usage(0, 0, None, 0)
    return {i: found.get(i, empty) for i in ids}


def sellers_served(identity: BuyerIdentity) -> list[Seller]:
    """The sellers that received test orders placed by this identity, by name."""
    return list(db.session.execute(
        select(Seller).where(Seller.id.in_(
            select(TestOrder.seller_id).where(TestOrder.buyer_identity_id == identity.id)))
        .order_by(Seller.legal_name, Seller.id)).scalars())


# ---------------------------------------------------------------- checking input


def name_key(name: str) -> str:
    """The form of a name that two identities may not share: case and spacing ignored."""
    return " ".join(name.split()).casefold()


def _control_character(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return char
    return None


def _refuse_control(text: str, label: str, field: str) -> None:
    char = _control_character(text)
    if char is not None:
        raise ServiceError(f"{label} contains a control character (code {ord(char):#06x}); "
                           "remove it.", field)


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ServiceError("Give the buyer's name.", "name")
    _refuse_control(name, "The name", "name")
    if len(name) > MAX_NAME_LENGTH:
        raise ServiceError(f"A name may have at most {MAX_NAME_LENGTH} characters (each test "
                           "order records it).", "name")
    return name


def _clean_address(address: str) -> str:
    lines = [line.strip() for line in address.replace("\r\n", "\n").replace("\r", "\n")
             .split("\n")]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise ServiceError("Give the full shipping address: at least a street line and a "
                           "postcode and town line, one per line.", "address")
    if len(lines) > MAX_ADDRESS_LINES:
        raise ServiceError(f"An address may have at most {MAX_ADDRESS_LINES} lines.", "address")
    for line in lines:
        _refuse_control(line, "The address", "address")
        if len(line) > MAX_ADDRESS_LINE_LENGTH:
            raise ServiceError(f"Each address line may have at most {MAX_ADDRESS_LINE_LENGTH} "
                               "characters.", "address")
    return "\n".join(lines)


def _clean_payment_reference(reference: str) -> str:
    reference = reference.strip()
    if not reference:
        raise ServiceError('Give the payment reference, masked, such as "card ****1234".',
                           "payment_reference")
    _refuse_control(reference, "The payment reference", "payment_reference")
    if len(reference) > MAX_PAYMENT_REFERENCE_LENGTH:
        raise ServiceError(f"A payment reference may have at most "
                           f"{MAX_PAYMENT_REFERENCE_LENGTH} characters.", "payment_reference")
    if _FULL_NUMBER.search(reference):
        raise ServiceError('Give only a masked payment reference such as "card ****1234", never '
                           "a full card or account number.", "payment_reference")
    return reference


def _clean(data: IdentityInput) -> IdentityInput:
    return IdentityInput(_clean_name(data.name), _clean_address(data.address),
                         _clean_payment_reference(data.payment_reference))


def _refuse_duplicate(name: str, identity: BuyerIdentity | None = None) -> None:
    lock("buyer_identity:" + name_key(name))
    existing = db.session.execute(select(BuyerIdentity).where(
        BuyerIdentity.name_key == name_key(name))).scalar_one_or_none()
    if existing is not None and existing is not identity:
        state = "" if existing.active else ", retired"
        raise ConflictError(f'A buyer identity named "{existing.name}" exists already '
                            f"(#{existing.id}{state}); give this one another name.", "name")


def _flush() -> None:
    flush_or_conflict("buyer identity", "A buyer identity with this name was added by someone "
                                        "else a moment ago; give this one another name.")


def _columns(data: IdentityInput) -> dict[str, str]:
    return {"name": data.name, "name_key": name_key(data.name), "address": data.address,
            "payment_reference": data.payment_reference}


def _payload(identity: BuyerIdentity) -> dict[str, Any]:
    return {"name": identity.name, "address": identity.address,
            "payment_reference": identity.payment_reference}


# ---------------------------------------------------------------- changes


def create_identity(data: IdentityInput, actor: User | None) -> BuyerIdentity:
    """Add an identity to the pool; refuse invalid data and a name in use (retired ones
    included, since test orders record names)."""
    data = _clean(data)
    _refuse_duplicate(data.name)
    now = utcnow()
    identity = BuyerIdentity(**_columns(data), active=True, created_at=now, updated_at=now,
                             created_by_id=actor.id if actor is not None else None)
    db.session.add(identity)
    _flush()
    audit.record("buyer.created", "buyer_identity", identity.id, _payload(identity), actor)
    return identity


def _check_version(identity: BuyerIdentity, expected_version: int) -> None:
    if identity.version != expected_version:
        raise ConflictError("Someone else changed this buyer identity while you were working "
                            "on it; review the current values and try again.")


def ensure_active(identity: BuyerIdentity) -> None:
    """Refuse any change to a retired identity."""
    if not identity.active:
        when = identity.retired_at.strftime("%Y-%m-%d") if identity.retired_at else "earlier"
        raise ServiceError(f"{identity.name} was retired on {when}; a retired identity stays "
                           "as it was, with its test orders.")


def update_identity(identity: BuyerIdentity, data: IdentityInput, expected_version: int,
                    actor: User) -> BuyerIdentity:
    """Change an active identity's name, address or payment reference (orders already
    planned keep the name they were planned with)."""
    ensure_active(identity)
    data = _clean(data)
    _check_version(identity, expected_version)
    _refuse_duplicate(data.name, identity)
    fields = _columns(data)
    before = {k: getattr(identity, k) for k in fields}
    changes = {k: {"from": before[k], "to": v} for k, v in fields.items()
               if before[k] != v and k != "name_key"}
    for key, value in fields.items():
        setattr(identity, key, value)
    if before != fields:
        identity.updated_at = utcnow()
    _flush()
    audit.record("buyer.updated", "buyer_identity", identity.id, {"changes": changes}, actor)
    return identity


def retire_identity(identity: BuyerIdentity, reason: str, flagged_by_seller_id: int | None,
                    expected_version: int, actor: User) -> BuyerIdentity:
    """Take an identity out of the pool for good, with the reason and, when known, the seller
    that flagged it."""
    ensure_active(identity)
    _check_version(identity, expected_version)
    reason = reason.strip()
    if not reason:
        raise ServiceError("Give the reason for retiring this identity (for example how a "
                           "seller showed that it recognised the buyer).", "reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ServiceError(f"The reason may have at most {MAX_REASON_LENGTH:,} characters.",
                           "reason")
    seller = None
    if flagged_by_seller_id is not None:
        seller = db.session.get(Seller, flagged_by_seller_id)
        if seller is None:
            raise ServiceError(f"There is no seller number {flagged_by_seller_id}.",
                               "flagged_by_number")
    now = utcnow()
    identity.active = False
    identity.retired_at = now
    identity.retired_by_id = actor.id
    identity.retired_reason = reason
    identity.flagged_by_seller_id = seller.id if seller is not None else None
    identity.updated_at = now
    _flush()
    audit.record("buyer.retired", "buyer_identity", identity.id, {
        "name": identity.name, "reason": reason,
        "flagged_by_seller": ({"id": seller.id, "name": seller.display_name}
                              if seller is not None else None),
        "active_left": count_active()}, actor)
    return identity
