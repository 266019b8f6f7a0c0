"""A seller's registrable details as data (pure): what a user may set, the columns stored
from it and the audit payload of a registration.

Pure module: no Flask, no SQLAlchemy; plain values in, plain dicts out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vetting.validation import normalise_registration

__all__ = ["SellerInput", "seller_columns", "seller_created_payload"]


@dataclass(frozen=True)
class SellerInput:
    """What a user may set on a seller."""

    legal_name: str
    trading_name: str
    country: str
    registration_number: str
    vat_id: str
    contact_email: str
    website: str
    device_categories: tuple[str, ...]
    declared_monthly_volume: int


def seller_columns(data: SellerInput) -> dict[str, Any]:
    """The seller row's columns for checked details, with the registration number's
    comparison key."""
    return {
        "legal_name": data.legal_name, "trading_name": data.trading_name,
        "country": data.country, "registration_number": data.registration_number,
        "registration_key": normalise_registration(data.registration_number),
        "vat_id": data.vat_id, "contact_email": data.contact_email, "website": data.website,
        "device_categories": ",".join(data.device_categories),
        "declared_monthly_volume": data.declared_monthly_volume,
    }


def seller_created_payload(data: SellerInput, source: str) -> dict[str, Any]:
    """The audit payload of ``seller.created``: the stored details and where they came from."""
    return {**seller_columns(data), "source": source}
