"""Parse and validate a listing import file (CSV) without touching the database.

The file is read by ``core.csvtable``: UTF-8 text (a byte-order mark is fine) with a header
row, column order free, header names matched case-insensitively, separated by commas or, as
spreadsheets in many European locales save it, by semicolons or tabs. Every column is required.

| column                     | rule                                                         |
|----------------------------|--------------------------------------------------------------|
| seller_registration_number | the seller's registration number, at most 64 characters      |
| seller_country             | the seller's ISO 3166-1 alpha-2 country (any case)           |
| sku                        | the seller's stock-keeping unit, at most 64 characters       |
| device_model               | at most 200 characters                                       |
| category                   | smartphone, tablet, laptop, smartwatch or console (any case) |
| promised_grade             | premium, excellent, good or fair (any case)                  |
| price_eur                  | more than 0 and at most 100000, at most 2 decimals, with a   |
|                            | point or a comma (499.00 or 499,00); stored in cents         |
| monthly_units              | a whole number from 0 to 1,000,000                           |

A listing belongs to the seller with that registration number in that country. Whether such
a seller exists is the service's question (it has the database); here a seller is only a key:
the country and the registration number compared as ``normalise_registration`` does. The same
SKU (ignoring case) twice for one seller is reported on the later row, naming the earlier one.

Every row is validated and every problem is reported; ``ListingImport.rows`` holds the rows
that passed, ``ListingImport.errors`` the problems. An import is all or none: callers import
only when ``ListingImport.importable``. Row numbers are the ones a spreadsheet shows (header
row 1, first data row 2); problems with the file as a whole are row 0 with an empty column.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.csvtable import ParsedImport, RowChecker, RowError, merge_errors, read_table
from vetting.validation import (
    DEVICE_CATEGORIES,
    MAX_REGISTRATION_LENGTH,
    check_country,
    normalise_country,
    normalise_registration,
)

__all__ = [
    "LISTING_COLUMNS",
    "MAX_PRICE_EUR",
    "MAX_ROWS",
    "MAX_UNITS",
    "PROMISED_GRADES",
    "ListingImport",
    "ListingRow",
    "RowError",
    "listing_import_payload",
    "parse_listing_csv",
]

LISTING_COLUMNS: tuple[str, ...] = (
    "seller_registration_number",
    "seller_country",
    "sku",
    "device_model",
    "category",
    "promised_grade",
    "price_eur",
    "monthly_units",
)
_REQUIRED: frozenset[str] = frozenset(LISTING_COLUMNS)
# Best first; the same values as the cosmetic grades inspections score against.
PROMISED_GRADES: tuple[str, ...] = ("premium", "excellent", "good", "fair")
MAX_ROWS = 50_000
MAX_SKU_LENGTH = 64
MAX_MODEL_LENGTH = 200
MAX_PRICE_EUR = 100_000
MAX_UNITS = 1_000_000

_WHOLE_NUMBER = re.compile(r"[0-9]{1,7}", re.ASCII)
# ASCII digits only: Decimal alone would also take "NaN", "1e3", "1_000" and Arabic digits.
_AMOUNT = re.compile(r"(?P<minus>-?)(?P<units>[0-9]+)(?:[.,](?P<decimals>[0-9]+))?", re.ASCII)


@dataclass(frozen=True, slots=True)
class ListingRow:
    """One valid listing from the file, with normalised values and the price in cents."""

    row: int
    seller_registration_number: str
    seller_country: str
    sku: str
    device_model: str
    category: str
    promised_grade: str
    price_cents: int
    monthly_units: int


class ListingImport(ParsedImport[ListingRow]):
    """The listings of a file and every problem found in it."""


def _parse_price(raw: str) -> int | str:
    """Return the price ``raw`` in cents, or the sentence saying what is wrong with it."""
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        return (
            "price_eur must be an amount in euros such as 499.00 or 499,00, without currency "
            f"sign or thousands separator, not {raw!r}"
        )
    decimals = match["decimals"] or ""
    if len(decimals) > 2:
        return (
            f"price_eur may have at most 2 decimals (whole cents) and no thousands separator, "
            f"not {raw!r}"
        )
    euros = Decimal(f"{match['units']}.{decimals or '0'}")
    if match["minus"] or euros == 0:
        return f"price_eur must be more than 0, not {raw!r}"
    if euros > MAX_PRICE_EUR:
        return f"price_eur must be at most {MAX_PRICE_EUR}, not {raw!r}"
    return int(euros * 100)


def _validate_row(row: int, values: Mapping[str, str]) -> tuple[ListingRow | None, list[RowError]]:
    """Check one data row; return the normalised row (None when it has errors) and errors."""
    check = RowChecker(row, values)
    fail, required, errors = check.fail, check.required, check.errors

    registration = required("seller_registration_number", MAX_REGISTRATION_LENGTH)

    country = normalise_country(required("seller_country"))
    if country and (country_error := check_country(country)) is not None:
        fail("seller_country", country_error)

    sku = required("sku", MAX_SKU_LENGTH)
    device_model = required("device_model", MAX_MODEL_LENGTH)

    raw_category = required("category")
    category = raw_category.lower()
    if category and category not in DEVICE_CATEGORIES:
        fail(
            "category",
            f"Unknown device category {raw_category!r} "
            f"(allowed: {', '.join(sorted(DEVICE_CATEGORIES))})",
        )

    raw_grade = required("promised_grade")
    grade = raw_grade.lower()
    if grade and grade not in PROMISED_GRADES:
        fail(
            "promised_grade",
            f"Unknown promised grade {raw_grade!r} (allowed: {', '.join(PROMISED_GRADES)})",
        )

    price_cents = 0
    raw_price = required("price_eur")
    if raw_price:
        price = _parse_price(raw_price)
        if isinstance(price, str):
            fail("price_eur", price)
        else:
            price_cents = price

    units = 0
    raw_units = required("monthly_units")
    if raw_units:
        if _WHOLE_NUMBER.fullmatch(raw_units) and int(raw_units) <= MAX_UNITS:
            units = int(raw_units)
        else:
            fail(
                "monthly_units",
                f"monthly_units must be a whole number from 0 to {MAX_UNITS} "
                f"without separators, not {raw_units!r}",
            )

    if errors or not _REQUIRED <= values.keys():
        return None, errors
    return (
        ListingRow(
            row=row,
            seller_registration_number=registration,
            seller_country=country,
            sku=sku,
            device_model=device_model,
            category=category,
            promised_grade=grade,
            price_cents=price_cents,
            monthly_units=units,
        ),
        errors,
    )


def _check_duplicate(
    number: int, values: Mapping[str, str], seen: dict[tuple[str, str, str], int]
) -> RowError | None:
    """Return an error if this seller's SKU came earlier in the file; else remember it."""
    country = normalise_country(values.get("seller_country", ""))
    registration = values.get("seller_registration_number", "")
    sku = values.get("sku", "")
    if not registration or len(registration) > MAX_REGISTRATION_LENGTH:
        return None
    if not sku or len(sku) > MAX_SKU_LENGTH:
        return None
    if not country or check_country(country) is not None:
        return None
    key = (country, normalise_registration(registration), sku.casefold())
    first = seen.setdefault(key, number)
    if first == number:
        return None
    return RowError(
        number,
        "sku",
        f"Duplicate of row {first}: SKU {sku} of seller {registration} in {country} "
        "appears twice in the file",
    )


def parse_listing_csv(data: bytes, max_rows: int = MAX_ROWS) -> ListingImport:
    """Parse and validate a listing CSV file; never raises on bad input, reports every error."""
    table = read_table(data, LISTING_COLUMNS, _REQUIRED, "listings", max_rows)
    rows: list[ListingRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str, str], int] = {}
    for record in table.records:
        listing, row_errors = _validate_row(record.row, record.values)
        errors.extend(row_errors)
        duplicate = _check_duplicate(record.row, record.values, seen)
        if duplicate is not None:
            errors.append(duplicate)
        elif listing is not None:
            rows.append(listing)
    return ListingImport(
        rows=tuple(rows) if table.complete else (),
        errors=merge_errors(table, errors),
    )


def listing_import_payload(filename: str, rows: int, created: int,
                           updated: int) -> dict[str, Any]:
    """The audit payload of ``listing.imported``: the file, its rows, what was new or changed."""
    return {"filename": filename, "rows": rows, "created": created, "updated": updated}
