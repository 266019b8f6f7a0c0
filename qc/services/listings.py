"""Listings: search and the all-or-none CSV import.

Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager

from core import audit
from core.db import db
from core.models import User
from qc.listing_csv import listing_import_payload, parse_listing_csv
from qc.models import (
    Listing,
)
from vetting.models import Seller
from vetting.seller_csv import RowError
from vetting.validation import normalise_country, normalise_registration


def listing_query(seller_id: int | None = None, q: str = "") -> Select[tuple[Listing]]:
    """Listings, optionally of one seller or matching a search, by seller and SKU."""
    stmt = (select(Listing).join(Seller).options(contains_eager(Listing.seller))
            .order_by(Seller.legal_name, Listing.sku))
    if seller_id is not None:
        stmt = stmt.where(Listing.seller_id == seller_id)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(func.lower(Listing.sku).like(like)
                          | func.lower(Listing.device_model).like(like))
    return stmt


@dataclass(frozen=True)
class ListingImportOutcome:
    """What a listing import did, or why it did nothing."""

    created: int
    updated: int
    errors: tuple[RowError, ...]


def import_listings(data: bytes, filename: str, actor: User) -> ListingImportOutcome:
    """Import listings from CSV, all or none; a known (seller, SKU) is updated in place."""
    parsed = parse_listing_csv(data)
    errors = list(parsed.errors)
    if not parsed.rows and not errors:
        errors.append(RowError(0, "", "The file has no listing rows."))
    sellers = {(s.country, s.registration_key): s for s in db.session.execute(select(Seller))
               .scalars()}
    resolved = []
    for row in parsed.rows:
        seller = sellers.get((normalise_country(row.seller_country),
                              normalise_registration(row.seller_registration_number)))
        if seller is None:
            errors.append(RowError(row.row, "seller_registration_number",
                                   f"No seller with registration number "
                                   f"{row.seller_registration_number} in {row.seller_country}; "
                                   "register the seller first"))
        else:
            resolved.append((seller, row))
    if errors:
        return ListingImportOutcome(0, 0, tuple(sorted(errors, key=lambda e: e.row)))
    existing = {(item.seller_id, item.sku.lower()): item
                for item in db.session.execute(select(Listing)).scalars()}
    created = updated = 0
    for seller, row in resolved:
        values = {"device_model": row.device_model, "category": row.category,
                  "promised_grade": row.promised_grade, "price_cents": row.price_cents,
                  "monthly_units": row.monthly_units, "active": True}
        listing = existing.get((seller.id, row.sku.lower()))
        if listing is None:
            db.session.add(Listing(seller_id=seller.id, sku=row.sku, **values))
            created += 1
        elif any(getattr(listing, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(listing, key, value)
            updated += 1
    db.session.flush()
    audit.record("listing.imported", "listing_import", filename[:64],
                 listing_import_payload(filename, len(resolved), created, updated), actor)
    return ListingImportOutcome(created, updated, ())
