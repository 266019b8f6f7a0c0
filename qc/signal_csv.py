"""Parse and validate a marketplace-signal import file (CSV) without touching the database.

The marketplace reports, per seller and calendar month, how many units were sold, how many
customers sent a device back and how many warranty claims were made. Reviewers see these
figures beside the test-order statistics; the label decision does not use them.

The file is read by ``core.csvtable``: UTF-8 text (a byte-order mark is fine) with a header
row, column order free, header names matched case-insensitively, separated by commas or, as
spreadsheets in many European locales save it, by semicolons or tabs.

| column                     | required | rule                                                 |
|----------------------------|----------|------------------------------------------------------|
| seller_registration_number | yes      | the seller's registration number, at most 64 chars   |
| seller_country             | yes      | the seller's ISO 3166-1 alpha-2 country (any case)   |
| month                      | yes      | the calendar month, ``YYYY-MM`` (``YYYY-MM-01`` too) |
| orders                     | no       | units sold in the month; empty when not known        |
| returns                    | yes      | customer returns received in the month               |
| warranty_claims            | yes      | warranty claims received in the month                |

Counts are whole numbers from 0 to ``MAX_COUNT`` without separators. Returns and claims may
exceed the month's orders (a return often concerns a unit sold in an earlier month), so they
are not compared with it. The same seller and month twice in one file is reported on the later
row, naming the earlier one. Whether the seller exists and whether the month has begun are the
service's questions (it has the database and the clock).

Every row is validated and every problem is reported; ``SignalImport.rows`` holds the rows
that passed, ``SignalImport.errors`` the problems. An import is all or none: callers import
only when ``SignalImport.importable``. Row numbers are the ones a spreadsheet shows (header
row 1, first data row 2); problems with the file as a whole are row 0 with an empty column.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from core.csvtable import ParsedImport, RowChecker, RowError, merge_errors, read_table
from vetting.validation import (
    MAX_REGISTRATION_LENGTH,
    check_country,
    normalise_country,
    normalise_registration,
)

__all__ = [
    "MAX_COUNT",
    "MAX_ROWS",
    "SIGNAL_COLUMNS",
    "SIGNAL_REQUIRED",
    "RowError",
    "SignalImport",
    "SignalRow",
    "parse_month",
    "parse_signal_csv",
    "signal_key",
]

SIGNAL_COLUMNS: tuple[str, ...] = (
    "seller_registration_number",
    "seller_country",
    "month",
    "orders",
    "returns",
    "warranty_claims",
)
SIGNAL_REQUIRED: frozenset[str] = frozenset(SIGNAL_COLUMNS) - {"orders"}
MAX_ROWS = 50_000
MAX_COUNT = 10_000_000
FIRST_YEAR = 2000

_WHOLE_NUMBER = re.compile(r"[0-9]{1,8}", re.ASCII)
_MONTH = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})(?:-01)?", re.ASCII)


@dataclass(frozen=True, slots=True)
class SignalRow:
    """One seller's figures for one month, normalised; ``month`` is the month's first day."""

    row: int
    seller_registration_number: str
    seller_country: str
    month: date
    orders: int | None
    returns: int
    warranty_claims: int


class SignalImport(ParsedImport[SignalRow]):
    """The marketplace figures of a file and every problem found in it."""


def parse_month(raw: str) -> date | str:
    """Return the first day of the month ``raw`` (YYYY-MM), or what is wrong with it."""
    match = _MONTH.fullmatch(raw.strip())
    if match is not None:
        year, month = int(match["year"]), int(match["month"])
        if FIRST_YEAR <= year <= 2999 and 1 <= month <= 12:
            return date(year, month, 1)
    return (
        f"month must be a calendar month written YYYY-MM (such as 2026-03) from {FIRST_YEAR} "
        f"on, not {raw!r}; if a spreadsheet changed it into a date, format the column as text"
    )


def parse_count(column: str, raw: str) -> int | str:
    """Return the whole number ``raw`` of ``column``, or the sentence saying what is wrong."""
    if _WHOLE_NUMBER.fullmatch(raw) and int(raw) <= MAX_COUNT:
        return int(raw)
    return (
        f"{column} must be a whole number from 0 to {MAX_COUNT} without separators, "
        f"not {raw!r}"
    )


def signal_key(country: str, registration: str, month: date) -> tuple[str, str, date]:
    """The identity of a row: seller (country, normalised registration number) and month."""
    return normalise_country(country), normalise_registration(registration), month


def _validate_row(row: int, values: Mapping[str, str]) -> tuple[SignalRow | None, list[RowError]]:
    """Check one data row; return the normalised row (None when it has errors) and errors."""
    check = RowChecker(row, values)
    fail, required, errors = check.fail, check.required, check.errors

    registration = required("seller_registration_number")
    if len(registration) > MAX_REGISTRATION_LENGTH:
        fail(
            "seller_registration_number",
            f"seller_registration_number is longer than {MAX_REGISTRATION_LENGTH} characters",
        )

    country = normalise_country(required("seller_country"))
    if country and (country_error := check_country(country)) is not None:
        fail("seller_country", country_error)

    month = date.min
    raw_month = required("month")
    if raw_month:
        parsed = parse_month(raw_month)
        if isinstance(parsed, str):
            fail("month", parsed)
        else:
            month = parsed

    counts: dict[str, int | None] = {"orders": None}
    for column in ("orders", "returns", "warranty_claims"):
        raw = values.get(column, "") if column == "orders" else required(column)
        if raw:
            count = parse_count(column, raw)
            if isinstance(count, str):
                fail(column, count)
            else:
                counts[column] = count

    if errors or not SIGNAL_REQUIRED <= values.keys():
        return None, errors
    return (
        SignalRow(
            row=row,
            seller_registration_number=registration,
            seller_country=country,
            month=month,
            orders=counts["orders"],
            returns=counts["returns"] or 0,
            warranty_claims=counts["warranty_claims"] or 0,
        ),
        errors,
    )


def _check_duplicate(
    signal: SignalRow, seen: dict[tuple[str, str, date], int]
) -> RowError | None:
    """Return an error if this seller and month came earlier in the file; else remember it."""
    key = signal_key(signal.seller_country, signal.seller_registration_number, signal.month)
    first = seen.setdefault(key, signal.row)
    if first == signal.row:
        return None
    return RowError(
        signal.row,
        "month",
        f"Duplicate of row {first}: seller {signal.seller_registration_number} in "
        f"{signal.seller_country} for {signal.month:%Y-%m} appears twice in the file",
    )


def parse_signal_csv(data: bytes, max_rows: int = MAX_ROWS) -> SignalImport:
    """Parse and validate a signal CSV file; never raises on bad input, reports every error."""
    table = read_table(data, SIGNAL_COLUMNS, SIGNAL_REQUIRED, "rows of figures", max_rows)
    rows: list[SignalRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str, date], int] = {}
    for record in table.records:
        signal, row_errors = _validate_row(record.row, record.values)
        errors.extend(row_errors)
        if signal is None:
            continue
        duplicate = _check_duplicate(signal, seen)
        if duplicate is not None:
            errors.append(duplicate)
        else:
            rows.append(signal)
    return SignalImport(
        rows=tuple(rows) if table.complete else (),
        errors=merge_errors(table, errors),
    )
