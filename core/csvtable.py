"""Read an uploaded CSV file into header-checked records, ready for a per-import validator.

This is the table-level half of every CSV import (sellers, listings, ...); the importer keeps
the column rules. ``read_table`` takes the raw bytes and:

* decodes UTF-8 (a byte-order mark is fine) and refuses, with one sentence a user can act on,
  an Excel workbook or other zip file, a file with NUL bytes (UTF-16 or binary), bytes that
  are not UTF-8 (naming the line) and control characters (naming the line);
* reads the separator from the first non-blank line: a comma, or, when that line has no
  comma, a semicolon or else a tab, as spreadsheet programs in many European locales save;
* takes the first non-blank record as the header: names are matched case-insensitively after
  stripping spaces, order is free; unknown, repeated and missing required columns are errors
  on the header row, as is a column without a name that has values further down;
* skips blank records, reports a record with more values than the header has columns, stops
  at ``max_rows`` data records and reports broken quoting instead of raising.

Row numbers are the ones a spreadsheet shows: the header is row 1, the first data row row 2,
and a quoted cell spanning several lines is still one row; problems with the file as a whole
are reported as row 0 with an empty column. Messages name the rows with ``noun`` (a plural
such as "sellers"), so each import speaks of what it imports.

The importer validates each ``Record`` and combines its own problems with the table's through
``merge_errors``, which keeps the order users see: by row, and within a row the table's
problems first.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

__all__ = ["ParsedImport", "Record", "RowChecker", "RowError", "Table", "merge_errors",
           "read_table"]

# C0 controls other than tab, line feed and carriage return, DEL and C1 controls: no
# spreadsheet writes them, so they mean the file is binary or damaged.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ZIP_MAGIC = b"PK\x03\x04"
_SAVE_AS_CSV = "save it as 'CSV UTF-8' and import that file"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: spreadsheet row (1 = header, 0 = whole file), column name and message."""

    row: int
    column: str
    message: str


@dataclass(frozen=True, slots=True)
class Record:
    """One non-blank data row: its spreadsheet row and its stripped values by column name.

    ``values`` holds exactly the known columns the header names (a missing optional or
    required column has no key), read-only.
    """

    row: int
    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Table:
    """The data records of a file and the table-level problems found while reading it.

    ``complete`` is False when broken CSV syntax stopped the reading: ``records`` then holds
    the rows before the break, whose problems are still worth reporting, but nothing from the
    file may be imported.
    """

    records: tuple[Record, ...]
    errors: tuple[RowError, ...]
    complete: bool = True


def _file_error(message: str) -> Table:
    return Table(records=(), errors=(RowError(0, "", message),))


def _decode(data: bytes) -> str | Table:
    """Return the text of ``data``, or a Table carrying the reason it is not text."""
    if data.startswith(_ZIP_MAGIC):
        return _file_error(
            f"This looks like an Excel workbook or another zip file, not CSV; {_SAVE_AS_CSV}"
        )
    if b"\x00" in data:
        return _file_error(
            "The file contains NUL bytes, so it is not CSV text (UTF-16 or a binary file?); "
            + _SAVE_AS_CSV
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return _file_error(
            f"The file is not UTF-8 text (line {line} has bytes that are not UTF-8); "
            + _SAVE_AS_CSV
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


def _read_header(
    row: int, record: list[str], columns: Sequence[str], required: frozenset[str]
) -> _Header:
    header = _Header(row=row, width=len(record), index={}, unnamed=[], errors=[])
    expected = ", ".join(columns)
    for position, raw in enumerate(record):
        name = raw.strip().lower()
        if not name:
            header.unnamed.append(position)
        elif name not in columns:
            header.errors.append(
                RowError(
                    row, raw.strip(), f"Unknown column {raw.strip()!r}; the columns are: {expected}"
                )
            )
        elif name in header.index:
            header.errors.append(RowError(row, name, f"Column {name!r} appears more than once"))
        else:
            header.index[name] = position
    for name in columns:
        if name in required and name not in header.index:
            header.errors.append(RowError(row, name, f"Required column {name!r} is missing"))
    return header


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


def _check_arguments(columns: Sequence[str], required: frozenset[str], max_rows: int) -> None:
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, not {max_rows}")
    if len(set(columns)) != len(columns) or any(c != c.strip().lower() or not c for c in columns):
        raise ValueError(f"columns must be distinct, non-empty and lower-case: {columns!r}")
    if not required <= set(columns):
        raise ValueError(f"required columns that are not columns: {sorted(required - {*columns})}")


def read_table(
    data: bytes, columns: Sequence[str], required: frozenset[str], noun: str, max_rows: int
) -> Table:
    """Read CSV bytes into records of the known ``columns``; never raises on bad input."""
    _check_arguments(columns, required, max_rows)
    decoded = _decode(data)
    if isinstance(decoded, Table):
        return decoded

    records: list[Record] = []
    errors: list[RowError] = []
    header: _Header | None = None
    unnamed_with_values: set[int] = set()
    reader = csv.reader(
        io.StringIO(decoded, newline=""), delimiter=_delimiter(decoded), strict=True
    )
    try:
        # A record is one spreadsheet row even when a quoted cell spans several lines.
        for number, record in enumerate(reader, start=1):
            if _is_blank(record):
                continue
            if header is None:
                header = _read_header(number, record, columns, required)
                errors.extend(header.errors)
                continue
            if len(records) >= max_rows:
                return _file_error(
                    f"The file has more than {max_rows} {noun}; "
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
            records.append(Record(row=number, values=MappingProxyType(values)))
    except csv.Error as exc:
        errors.append(
            RowError(0, "", f"The file is not valid CSV near line {reader.line_num}: {exc}")
        )
        return Table(records=tuple(records), errors=tuple(errors), complete=False)

    if header is None:
        return _file_error(
            "The file is empty; its first row must name the columns: " + ", ".join(columns)
        )
    for position in sorted(unnamed_with_values):
        errors.append(
            RowError(header.row, f"column {position + 1}", "This column has values but no name")
        )
    if not records:
        errors.append(RowError(0, "", f"The file has a header row but no {noun}"))
    return Table(records=tuple(records), errors=tuple(errors))


T = TypeVar("T")


@dataclass(frozen=True)  # no slots: a frozen slotted generic breaks ParsedImport[Row](...)
class ParsedImport(Generic[T]):
    """The outcome of parsing a file: the valid rows and every problem found."""

    rows: tuple[T, ...]
    errors: tuple[RowError, ...]

    @property
    def importable(self) -> bool:
        """Return True only when the file has rows and no problem at all (all or none)."""
        return bool(self.rows) and not self.errors


@dataclass
class RowChecker:
    """Collects the problems of one data row while an importer validates it."""

    row: int
    values: Mapping[str, str]
    errors: list[RowError] = field(default_factory=list)

    def fail(self, column: str, message: str) -> None:
        """Record a problem with `column` of this row."""
        self.errors.append(RowError(self.row, column, message))

    def required(self, column: str, max_length: int | None = None) -> str:
        """The value of `column`, recording a problem when it is empty or too long.

        A column missing from the header is one error on the header row (read_table), not
        one per row, so an empty value is an error only when its column is there.
        """
        value = self.values.get(column, "")
        if not value and column in self.values:
            self.fail(column, f"{column} is required")
        if max_length is not None and len(value) > max_length:
            self.fail(column, f"{column} is longer than {max_length} characters")
        return value


def merge_errors(table: Table, row_errors: Iterable[RowError]) -> tuple[RowError, ...]:
    """Return the table's problems and an importer's row problems in the order users read."""
    # Stable sort by row: within a row the table's problems (a too-wide row) come first, then
    # the importer's in its own order. A syntax error that stopped the reading goes last, after
    # the rows read before it.
    return tuple(
        sorted(
            [*table.errors, *row_errors],
            key=lambda error: (not table.complete and error.row == 0, error.row),
        )
    )
