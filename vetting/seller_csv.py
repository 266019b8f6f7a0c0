"""Parse and validate a seller import file (CSV) without touching the database.

The file is UTF-8 text (a byte-order mark is fine) with a header row. Column order is free and
header names are matched case-insensitively after stripping spaces. The separator is a comma;
a header row with semicolons (or tabs) and no comma is read with that separator instead, as
spreadsheet programs in many European locales save it that way.

| column                  | required | rule                                                 |
|-------------------------|----------|------------------------------------------------------|
| legal_name              | yes      | at most 200 characters                               |
| trading_name            | no       | at most 200 characters                               |
| country                 | yes      | ISO 3166-1 alpha-2 (any case; stored in capitals)    |
| registration_number     | yes      | at most 64 characters                                |
| vat_id                  | yes      | VAT format of the country (see ``check_vat_id``)     |
| contact_email           | yes      | an e-mail address, at most 254 characters            |
| website                 | no       | an http:// or https:// address, at most 300          |
|                         |          | characters                                           |
| device_categories       | yes      | smartphone, tablet, laptop, smartwatch, console,     |
|                         |          | separated by ``;`` or ``|``                          |
| declared_monthly_volume | yes      | a whole number from 0 to 1,000,000                   |

Every row is validated and every problem is reported; ``SellerImport.rows`` holds the rows
that passed, ``SellerImport.errors`` the problems. An import is all or none: callers import
only when ``SellerImport.importable`` (no errors at all). Row numbers are the ones a
spreadsheet shows: the header is row 1, the first data row is row 2; problems with the file as
a whole are reported as row 0 with an empty column.

Reading the file (encoding, separator, header, blank rows, row limit) is ``core.csvtable``'s;
this module holds the seller columns and their rules. ``RowError`` is re-exported from there.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from core.csvtable import ParsedImport, RowChecker, RowError, merge_errors, read_table
from vetting.validation import (
    MAX_REGISTRATION_LENGTH,
    MAX_VOLUME,
    check_country,
    check_device_categories,
    check_email,
    check_url,
    check_vat_format,
    check_vat_id,
    normalise_country,
    normalise_registration,
    normalise_vat,
)

__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "REQUIRED_COLUMNS",
    "RowError",
    "SellerImport",
    "SellerRow",
    "parse_seller_csv",
]

COLUMNS: tuple[str, ...] = (
    "legal_name",
    "trading_name",
    "country",
    "registration_number",
    "vat_id",
    "contact_email",
    "website",
    "device_categories",
    "declared_monthly_volume",
)
REQUIRED_COLUMNS: frozenset[str] = frozenset(COLUMNS) - {"trading_name", "website"}
MAX_ROWS = 10_000
MAX_NAME_LENGTH = 200
MAX_WEBSITE_LENGTH = 300

_CATEGORY_SEPARATOR = re.compile(r"[;|]")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,7}", re.ASCII)


@dataclass(frozen=True, slots=True)
class SellerRow:
    """One valid seller from the file, with normalised values."""

    row: int
    legal_name: str
    trading_name: str | None
    country: str
    registration_number: str
    vat_id: str
    contact_email: str
    website: str | None
    device_categories: tuple[str, ...]
    declared_monthly_volume: int


class SellerImport(ParsedImport[SellerRow]):
    """The sellers of a file and every problem found in it."""


def _validate_row(row: int, values: Mapping[str, str]) -> tuple[SellerRow | None, list[RowError]]:
    """Check one data row; return the normalised row (None when it has errors) and errors.

    ``values`` has a key for each column the header names, so an empty required value is an
    error only when its column is there (a missing column is one error on the header row).
    """
    check = RowChecker(row, values)
    fail, required, errors = check.fail, check.required, check.errors

    legal_name = required("legal_name")
    if len(legal_name) > MAX_NAME_LENGTH:
        fail("legal_name", f"legal_name is longer than {MAX_NAME_LENGTH} characters")

    trading_name = values.get("trading_name", "")
    if len(trading_name) > MAX_NAME_LENGTH:
        fail("trading_name", f"trading_name is longer than {MAX_NAME_LENGTH} characters")

    country = normalise_country(required("country"))
    country_ok = bool(country) and check_country(country) is None
    if country and not country_ok:
        fail("country", check_country(country) or "")

    registration = required("registration_number")
    # The comparison key can be longer than the number ("ß" folds to "ss") and must fit too.
    if max(len(registration), len(normalise_registration(registration))) > (
        MAX_REGISTRATION_LENGTH
    ):
        fail(
            "registration_number",
            f"registration_number is longer than {MAX_REGISTRATION_LENGTH} characters",
        )

    vat = normalise_vat(required("vat_id"))
    if vat:
        vat_error = check_vat_id(vat, country) if country_ok else check_vat_format(vat)
        if vat_error:
            fail("vat_id", vat_error)

    email = required("contact_email")
    if email:
        local, _, domain = email.rpartition("@")
        email = f"{local}@{domain.lower()}" if local else email
        if (email_error := check_email(email)) is not None:
            fail("contact_email", email_error)

    website = values.get("website", "")
    if len(website) > MAX_WEBSITE_LENGTH:
        fail("website", f"website is longer than {MAX_WEBSITE_LENGTH} characters")
    elif website and (url_error := check_url(website)) is not None:
        fail("website", url_error)

    categories: tuple[str, ...] = ()
    raw_categories = required("device_categories")
    if raw_categories:
        given = [
            part.strip().lower()
            for part in _CATEGORY_SEPARATOR.split(raw_categories)
            if part.strip()
        ]
        if (category_error := check_device_categories(given)) is not None:
            fail("device_categories", category_error)
        categories = tuple(sorted(set(given)))

    volume = 0
    raw_volume = required("declared_monthly_volume")
    if raw_volume:
        if _WHOLE_NUMBER.fullmatch(raw_volume) and int(raw_volume) <= MAX_VOLUME:
            volume = int(raw_volume)
        else:
            fail(
                "declared_monthly_volume",
                f"declared_monthly_volume must be a whole number from 0 to {MAX_VOLUME} "
                f"without separators, not {raw_volume!r}",
            )

    if errors or not REQUIRED_COLUMNS <= values.keys():
        return None, errors
    return (
        SellerRow(
            row=row,
            legal_name=legal_name,
            trading_name=trading_name or None,
            country=country,
            registration_number=registration,
            vat_id=vat,
            contact_email=email,
            website=website or None,
            device_categories=categories,
            declared_monthly_volume=volume,
        ),
        errors,
    )


def _registration_key(country: str, registration: str) -> tuple[str, str]:
    return country, normalise_registration(registration)


def _check_duplicate(
    number: int, values: Mapping[str, str], seen: dict[tuple[str, str], int]
) -> RowError | None:
    """Return an error if this (registration number, country) came earlier; else remember it."""
    country = normalise_country(values.get("country", ""))
    registration = values.get("registration_number", "")
    if not registration or len(registration) > MAX_REGISTRATION_LENGTH:
        return None
    if not country or check_country(country) is not None:
        return None
    key = _registration_key(country, registration)
    first = seen.setdefault(key, number)
    if first == number:
        return None
    return RowError(
        number,
        "registration_number",
        f"Duplicate of row {first}: registration number {registration} in {country} "
        "appears twice in the file",
    )


def parse_seller_csv(data: bytes, max_rows: int = MAX_ROWS) -> SellerImport:
    """Parse and validate a seller CSV file; never raises on bad input, reports every error."""
    table = read_table(data, COLUMNS, REQUIRED_COLUMNS, "sellers", max_rows)
    rows: list[SellerRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for record in table.records:
        seller, row_errors = _validate_row(record.row, record.values)
        errors.extend(row_errors)
        duplicate = _check_duplicate(record.row, record.values, seen)
        if duplicate is not None:
            errors.append(duplicate)
        elif seller is not None:
            rows.append(seller)
    return SellerImport(
        rows=tuple(rows) if table.complete else (),
        errors=merge_errors(table, errors),
    )
