"""CSV exports of sellers, label events, test orders and inspections, streamed row by row.

Each export is a header and a lazy query; the web edge streams it through
`compliance.csvexport.stream_csv`, so memory stays flat however many rows there are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import lazyload

from core.db import db
from core.errors import ServiceError
from core.models import User
from qc.models import Inspection, Listing, PlanningRun, TestOrder
from vetting.models import LabelEvent, Seller
from vetting.services.sellers import seller_query

BATCH = 1000
FILTER_KEYS = frozenset({"q", "country", "label_status", "sampling_state", "seller", "status",
                         "from", "to", "current"})


@dataclass(frozen=True)
class Export:
    """What an export holds: its header and the rows, fetched lazily."""

    kind: str
    header: Sequence[str]
    rows: Iterator[Sequence[object]]


def _dates(filters: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    try:
        start = date.fromisoformat(filters["from"]) if filters.get("from") else None
        end = date.fromisoformat(filters["to"]) if filters.get("to") else None
    except ValueError:
        raise ServiceError("Dates must look like 2026-07-31.") from None
    if start and end and end < start:
        raise ServiceError("The range ends before it starts.")
    return (datetime.combine(start, datetime.min.time()) if start else None,
            datetime.combine(end + timedelta(days=1), datetime.min.time()) if end else None)


def _seller_id(filters: Mapping[str, str]) -> int | None:
    value = filters.get("seller", "")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise ServiceError("seller must be a seller number.")
    return int(value)


def _stream(stmt: Select[Any]) -> Iterator[Any]:
    # No relationship loading: the columns an export needs are all in its own SELECT, and an
    # eager loader would fetch every checkpoint result with the inspections.
    yield from db.session.execute(stmt.options(lazyload("*")).execution_options(
        yield_per=BATCH))


def _sellers(filters: Mapping[str, str]) -> Export:
    stmt = seller_query(filters.get("q", ""), filters.get("country", ""),
                        filters.get("label_status", ""), filters.get("sampling_state", ""))
    header = ["id", "legal_name", "trading_name", "country", "registration_number", "vat_id",
              "contact_email", "website", "device_categories", "declared_monthly_volume",
              "label_status", "label_valid_from", "label_valid_until", "sampling_state",
              "registered_at"]
    rows = ((s.id, s.legal_name, s.trading_name, s.country, s.registration_number, s.vat_id,
             s.contact_email, s.website, s.device_categories, s.declared_monthly_volume,
             s.label_status, s.label_valid_from, s.label_valid_until, s.sampling_state,
             s.created_at) for (s,) in _stream(stmt))
    return Export("sellers", header, rows)


def _label_events(filters: Mapping[str, str]) -> Export:
    start, end = _dates(filters)
    stmt = (select(LabelEvent, Seller.legal_name).join(Seller, LabelEvent.seller_id == Seller.id)
            .order_by(LabelEvent.at, LabelEvent.id))
    if (seller_id := _seller_id(filters)) is not None:
        stmt = stmt.where(LabelEvent.seller_id == seller_id)
    if start:
        stmt = stmt.where(LabelEvent.at >= start)
    if end:
        stmt = stmt.where(LabelEvent.at < end)
    header = ["id", "seller_id", "seller", "at_utc", "from_status", "to_status",
              "pending_review", "reason", "actor", "valid_until", "statistics_snapshot"]
    rows = ((e.id, e.seller_id, name, e.at, e.from_status, e.to_status, e.pending_review,
             e.reason, e.actor, e.valid_until, e.snapshot) for e, name in _stream(stmt))
    return Export("label-events", header, rows)


def _test_orders(filters: Mapping[str, str]) -> Export:
    start, end = _dates(filters)
    o = TestOrder
    stmt = (select(o.id, PlanningRun.period, o.seller_id, Seller.legal_name, Listing.sku,
                   Listing.device_model, Listing.category, Listing.promised_grade, o.planned_at,
                   o.sampling_state, o.buyer_account, o.status, o.marketplace_ref,
                   o.price_paid_cents, o.placed_at, o.received_on, o.package_condition,
                   o.inspected_at, o.closed_at, o.disposition, o.cancel_reason)
            .join(PlanningRun, o.run_id == PlanningRun.id)
            .join(Seller, o.seller_id == Seller.id)
            .join(Listing, o.listing_id == Listing.id)
            .order_by(o.planned_at, o.id))
    if (seller_id := _seller_id(filters)) is not None:
        stmt = stmt.where(o.seller_id == seller_id)
    if filters.get("status"):
        stmt = stmt.where(o.status == filters["status"])
    if start:
        stmt = stmt.where(o.planned_at >= start)
    if end:
        stmt = stmt.where(o.planned_at < end)
    header = ["id", "period", "seller_id", "seller", "sku", "device_model", "category",
              "promised_grade", "planned_at_utc", "sampling_state", "buyer_account", "status",
              "marketplace_ref", "price_paid_eur", "placed_at_utc", "received_on",
              "package_condition", "inspected_at_utc", "closed_at_utc", "disposition",
              "cancel_reason"]
    price = header.index("price_paid_eur")
    rows = ((*row[:price], f"{row[price] / 100:.2f}" if row[price] is not None else None,
             *row[price + 1:]) for row in _stream(stmt))
    return Export("test-orders", header, rows)


def _inspections(filters: Mapping[str, str]) -> Export:
    start, end = _dates(filters)
    i = Inspection
    stmt = (select(i.id, i.order_id, i.version, i.is_current, TestOrder.seller_id,
                   Listing.category, Listing.promised_grade, i.observed_grade,
                   i.battery_percent, i.battery_cycles, i.battery_swollen, i.cable_missing,
                   i.verdict, i.score, User.email, i.submitted_at, i.amend_reason, i.notes)
            .join(TestOrder, i.order_id == TestOrder.id)
            .join(Listing, TestOrder.listing_id == Listing.id)
            .join(User, i.inspector_id == User.id)
            .order_by(i.submitted_at, i.id))
    if (seller_id := _seller_id(filters)) is not None:
        stmt = stmt.where(TestOrder.seller_id == seller_id)
    if filters.get("current") == "1":
        stmt = stmt.where(i.is_current.is_(True))
    if start:
        stmt = stmt.where(i.submitted_at >= start)
    if end:
        stmt = stmt.where(i.submitted_at < end)
    header = ["id", "order_id", "version", "in_force", "seller_id", "category",
              "promised_grade", "observed_grade", "battery_percent", "battery_cycles",
              "battery_swollen", "cable_missing", "verdict", "score", "inspector",
              "submitted_at_utc", "amend_reason", "notes"]
    return Export("inspections", header, (tuple(row) for row in _stream(stmt)))


EXPORTS = {"sellers": _sellers, "label-events": _label_events, "test-orders": _test_orders,
           "inspections": _inspections}


def build_export(kind: str, filters: Mapping[str, str]) -> Export:
    """The export of `kind` with the list page's filters; refuses unknown kinds and filters."""
    if kind not in EXPORTS:
        raise ServiceError(f"There is no {kind!r} export.")
    return EXPORTS[kind]({k: v.strip()[:100] for k, v in filters.items() if k in FILTER_KEYS})
