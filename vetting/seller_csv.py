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
| website                 | no       | an http:// or https:// address                       |
| device_categories       | yes      | smartphone, tablet, laptop, smartwatch, console,     |
|                         |          | separated by ``;`` or ``|``                          |
| declared_monthly_volume | yes      | a whole number from 0 to 1,000,000                   |

Every row is validated and every problem is reported; ``SellerImport.rows`` holds the rows
that passed, ``SellerImport.errors`` the problems. An import is all or none: callers import
only when ``SellerImport.importable`` (no errors at all). Row numbers are the ones a
spreadsheet shows: the header is row 1, the first data row is row 2; problems with the file as
a whole are reported as row 0 with an empty column.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

from vetting.validation import (
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
MAX_REGISTRATION_LENGTH = 64
MAX_VOLUME = 1_000_000

_CATEGORY_SEPARATOR = re.compile(r"[;|]")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,7}", re.ASCII)
# C0 controls other than tab, line feed and carriage return, DEL and C1 controls: no
# spreadsheet writes them, so they mean the file is binary or damaged.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ZIP_MAGIC = b"PK\x03\x04"


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


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: spreadsheet row (1 = header, 0 = whole file), column name and message."""

    row: int
    column: str
    message: str


@dataclass(frozen=True, slots=True)
class SellerImport:
    """The outcome of parsing a file: the valid rows and every problem found."""

    rows: tuple[SellerRow, ...]
    errors: tuple[RowError, ...]

    @property
    def importable(self) -> bool:
        """Return True only when the file has sellers and no problem at all (all or none)."""
        return bool(self.rows) and not self.errors


def _file_error(message: str) -> SellerImport:
    return SellerImport(rows=(), errors=(RowError(0, "", message),))


def _decode(data: bytes) -> str | SellerImport:
    """Return the text of ``data``, or a SellerImport carrying the reason it is not text."""
    if data.startswith(_ZIP_MAGIC):
        return _file_error(
            "This looks like an Excel workbook or another zip file, not CSV; "
            "save it as 'CSV UTF-8' and import that file"
        )
    if b"\x00" in data:
        return _file_error(
            "The file contains NUL bytes, so it is not CSV text (UTF-16 or a binary file?); "
            "save it as 'CSV UTF-8' and import that file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return _file_error(
            f"The file is not UTF-8 text (line {line} has bytes that are not UTF-8); "
            "save it as 'CSV UTF-8' and import that file"
        )
    if (bad := _CONTROL_CHARS.search(text)) is not None:
        line = text.count("\n", 0, bad.start()) + 1
        return _file_error(
            f"Line {line} contains a control character (code {ord(bad.group()):#04x}), "
            "so this does not look like a CSV text file"
        )
    return text


def _delimiter(text: str) -> str:
    header = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in header:
        if ";" in header:
            return ";"
        if "\t" in header:
            return "\t"
    return ","


def _is_blank(record: list[str]) -> bool:
    return all(not cell.strip() for cell in record)


@dataclass(slots=True)
class _Header:
    row: int
    width: int
    index: dict[str, int]
    unnamed: list[int]
    errors: list[RowError]


def _read_header(row: int, record: list[str]) -> _Header:
    header = _Header(row=row, width=len(record), index={}, unnamed=[], errors=[])
    expected = ", ".join(COLUMNS)
    for position, raw in enumerate(record):
        name = raw.strip().lower()
        if not name:
            header.unnamed.append(position)
        elif name not in COLUMNS:
            header.errors.append(
                RowError(
                    row, raw.strip(), f"Unknown column {raw.strip()!r}; the columns are: {expected}"
                )
            )
        elif name in header.index:
            header.errors.append(RowError(row, name, f"Column {name!r} appears more than once"))
        else:
            header.index[name] = position
    for name in COLUMNS:
        if name in REQUIRED_COLUMNS and name not in header.index:
            header.errors.append(RowError(row, name, f"Required column {name!r} is missing"))
    return header


def _validate_row(
    row: int, values: Mapping[str, str], present: Mapping[str, int]
) -> tuple[SellerRow | None, list[RowError]]:
    """Check one data row; return the normalised row (None when it has errors) and errors."""
    errors: list[RowError] = []

    def fail(column: str, message: str) -> None:
        errors.append(RowError(row, column, message))

    def required(column: str) -> str:
        value = values.get(column, "")
        if not value and column in present:
            fail(column, f"{column} is required")
        return value

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
    if len(registration) > MAX_REGISTRATION_LENGTH:
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
    if website and (url_error := check_url(website)) is not None:
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
                f"declared_monthly_volume must be a whole number from 0 to 1000000 "
                f"without separators, not {raw_volume!r}",
            )

    if errors or len(present.keys() & REQUIRED_COLUMNS) < len(REQUIRED_COLUMNS):
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


def _check_width(number: int, record: list[str], header: _Header) -> list[RowError]:
    extra = record[header.width :]
    if any(cell.strip() for cell in extra):
        return [
            RowError(
                number,
                "",
                f"This row has {len(record)} values but the header row has {header.width} columns",
            )
        ]
    return []


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
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, not {max_rows}")
    decoded = _decode(data)
    if isinstance(decoded, SellerImport):
        return decoded

    rows: list[SellerRow] = []
    errors: list[RowError] = []
    header: _Header | None = None
    unnamed_with_values: set[int] = set()
    seen: dict[tuple[str, str], int] = {}
    data_rows = 0
    reader = csv.reader(
        io.StringIO(decoded, newline=""), delimiter=_delimiter(decoded), strict=True
    )
    try:
        # A record is one spreadsheet row even when a quoted cell spans several lines.
        for number, record in enumerate(reader, start=1):
            if _is_blank(record):
                continue
            if header is None:
                header = _read_header(number, record)
                errors.extend(header.errors)
                continue
            data_rows += 1
            if data_rows > max_rows:
                return _file_error(
                    f"The file has more than {max_rows} sellers; "
                    f"split it into files of at most {max_rows} rows"
                )
            errors.extend(_check_width(number, record, header))
            unnamed_with_values.update(
                p for p in header.unnamed if p < len(record) and record[p].strip()
            )
            values = {
                name: (record[position].strip() if position < len(record) else "")
                for name, position in header.index.items()
            }
            seller, row_errors = _validate_row(number, values, header.index)
            errors.extend(row_errors)
            duplicate = _check_duplicate(number, values, seen)
            if duplicate is not None:
                errors.append(duplicate)
            elif seller is not None:
                rows.append(seller)
    except csv.Error as exc:
        errors.append(
            RowError(0, "", f"The file is not valid CSV near line {reader.line_num}: {exc}")
        )
        return SellerImport(rows=(), errors=tuple(errors))

    if header is None:
        return _file_error(
            "The file is empty; its first row must name the columns: " + ", ".join(COLUMNS)
        )
    for position in sorted(unnamed_with_values):
        errors.append(
            RowError(header.row, f"column {position + 1}", "This column has values but no name")
        )
    if data_rows == 0:
        errors.append(RowError(0, "", "The file has a header row but no sellers"))
    errors.sort(key=lambda error: error.row)
    return SellerImport(rows=tuple(rows), errors=tuple(errors))
