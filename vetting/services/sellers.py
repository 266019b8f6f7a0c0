"""Sellers: register, edit and import them, and the seller list's queries.

Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select

from core import audit
from core.db import db, flush_or_conflict, lock
from core.errors import ConflictError, ServiceError
from core.models import User
from vetting.models import (
    Seller,
)
from vetting.seller_csv import RowError, parse_seller_csv
from vetting.sellers import SellerInput, seller_columns, seller_created_payload
from vetting.validation import (
    MAX_REGISTRATION_LENGTH,
    MAX_VOLUME,
    check_country,
    check_device_categories,
    check_email,
    check_url,
    check_vat_id,
    normalise_country,
    normalise_registration,
    normalise_vat,
)


def _clean_seller(data: SellerInput) -> SellerInput:
    country = normalise_country(data.country)
    vat = normalise_vat(data.vat_id)
    checks = [
        ("country", check_country(country)),
        ("vat_id", check_vat_id(vat, country) if not check_country(country) else None),
        ("contact_email", check_email(data.contact_email.strip())),
        ("website", check_url(data.website.strip()) if data.website.strip() else None),
        ("device_categories", check_device_categories(data.device_categories)),
    ]
    for field, message in checks:
        if message:
            raise ServiceError(message, field)
    for field, label in (("legal_name", "Legal name"),
                         ("registration_number", "Registration number")):
        if not getattr(data, field).strip():
            raise ServiceError(f"{label} is required.", field)
    if not 0 <= data.declared_monthly_volume <= MAX_VOLUME:
        raise ServiceError(f"Declared monthly volume must be between 0 and {MAX_VOLUME:,}.",
                           "declared_monthly_volume")
    # Stored with its comparison key, which can be longer ("ß" folds to "ss").
    if len(normalise_registration(data.registration_number)) > MAX_REGISTRATION_LENGTH:
        raise ServiceError(f"The registration number is longer than {MAX_REGISTRATION_LENGTH} "
                           "characters.", "registration_number")
    return SellerInput(
        legal_name=data.legal_name.strip(), trading_name=data.trading_name.strip(),
        country=country, registration_number=data.registration_number.strip(), vat_id=vat,
        contact_email=data.contact_email.strip(), website=data.website.strip(),
        device_categories=tuple(sorted(set(data.device_categories))),
        declared_monthly_volume=data.declared_monthly_volume)


def find_seller(registration_number: str, country: str) -> Seller | None:
    """The seller with this registration number in this country, if any."""
    return db.session.execute(select(Seller).where(
        Seller.registration_key == normalise_registration(registration_number),
        Seller.country == normalise_country(country))).scalar_one_or_none()


def _duplicate_message(existing: Seller) -> str:
    return (f"{existing.legal_name} is already registered with registration number "
            f"{existing.registration_number} in {existing.country} (seller #{existing.id}).")


def create_seller(data: SellerInput, actor: User | None, source: str = "form") -> Seller:
    """Register a seller; refuse invalid data and duplicates (registration number + country)."""
    data = _clean_seller(data)
    lock("seller:" + data.country + normalise_registration(data.registration_number))
    existing = find_seller(data.registration_number, data.country)
    if existing is not None:
        raise ConflictError(_duplicate_message(existing), "registration_number")
    seller = Seller(**seller_columns(data))
    db.session.add(seller)
    _flush_seller()
    audit.record("seller.created", "seller", seller.id, seller_created_payload(data, source),
                 actor)
    return seller


def update_seller(seller: Seller, data: SellerInput, expected_version: int,
                  actor: User) -> Seller:
    """Change a seller's details, refusing duplicates and concurrent edits."""
    data = _clean_seller(data)
    if seller.version != expected_version:
        raise ConflictError("Someone else changed this seller while you were editing; "
                            "review the current values and save again.")
    existing = find_seller(data.registration_number, data.country)
    if existing is not None and existing.id != seller.id:
        raise ServiceError(_duplicate_message(existing), "registration_number")
    fields = seller_columns(data)
    before = {k: getattr(seller, k) for k in fields}
    for key, value in fields.items():
        setattr(seller, key, value)
    _flush_seller()
    changed = {k: {"from": before[k], "to": v} for k, v in fields.items() if before[k] != v}
    audit.record("seller.updated", "seller", seller.id, {"changes": changed}, actor)
    return seller


def _flush_seller() -> None:
    flush_or_conflict("seller", "A seller with this registration number and country was just "
                                "registered by someone else.")


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: created sellers, rows that matched existing ones, or errors."""

    created: list[Seller]
    existing: list[Seller]
    errors: tuple[RowError, ...]


def import_sellers(data: bytes, filename: str, actor: User) -> ImportOutcome:
    """Import sellers from CSV: all rows valid or nothing imported; known sellers are skipped."""
    parsed = parse_seller_csv(data)
    if not parsed.importable:
        errors = parsed.errors or (RowError(0, "", "The file has no seller rows."),)
        return ImportOutcome([], [], errors)
    created, existing = [], []
    for row in parsed.rows:
        found = find_seller(row.registration_number, row.country)
        if found is not None:
            existing.append(found)
            continue
        created.append(create_seller(SellerInput(
            legal_name=row.legal_name, trading_name=row.trading_name or "",
            country=row.country, registration_number=row.registration_number,
            vat_id=row.vat_id, contact_email=row.contact_email, website=row.website or "",
            device_categories=row.device_categories,
            declared_monthly_volume=row.declared_monthly_volume), actor, source="csv import"))
    audit.record("seller.imported", "seller_import", filename[:64],
                 {"filename": filename, "rows": len(parsed.rows), "created": len(created),
                  "already_present": len(existing)}, actor)
    return ImportOutcome(created, existing, ())


def seller_query(q: str = "", country: str = "", label_status: str = "",
                 sampling_state: str = "") -> Select[tuple[Seller]]:
    """Sellers matching a free-text search and filters, by name."""
    stmt = select(Seller).order_by(Seller.legal_name, Seller.id)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Seller.legal_name).like(like),
                              func.lower(Seller.trading_name).like(like),
                              Seller.registration_key.like(f"%{normalise_registration(q)}%"),
                              func.lower(Seller.vat_id).like(like),
                              func.lower(Seller.contact_email).like(like)))
    if country:
        stmt = stmt.where(Seller.country == country.upper())
    if label_status == "none":
        stmt = stmt.where(Seller.label_status.is_(None))
    elif label_status:
        stmt = stmt.where(Seller.label_status == label_status)
    if sampling_state == "none":
        stmt = stmt.where(Seller.sampling_state.is_(None))
    elif sampling_state:
        stmt = stmt.where(Seller.sampling_state == sampling_state)
    return stmt


def seller_countries() -> list[str]:
    """Countries that have sellers, for the filter."""
    return list(db.session.execute(
        select(Seller.country).distinct().order_by(Seller.country)).scalars())


def count_sellers() -> int:
    """How many sellers are registered."""
    return db.session.execute(select(func.count()).select_from(Seller)).scalar_one()
