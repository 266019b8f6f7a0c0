"""Streamed CSV exports that compliance officers can open in a spreadsheet without danger.

Spreadsheet programs treat a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return) as a formula, so a seller name such as ``=HYPERLINK(...)`` would run
when an officer opens the export (OWASP "CSV Injection"; ASVS 1.2.10). ``neutralise`` renders
every cell as text and puts a single quote ``'`` in front of such text, which makes the
spreadsheet show it as text. The rule is deliberately blunt: it also applies when the trigger
comes after leading whitespace or invisible format characters, or is a full-width or other
compatibility form (``＝``, ``﹢``), and it also applies to text that merely looks like a
number or a phone number (``"-3"``, ``"+49 30 1234"``): telling those apart from a formula
is exactly what an attacker would exploit, and the officer can still read the value. Values
that are numbers in Python (``int``, ``float``) are written as numbers, minus sign included:
their text is only digits, a sign, a point and an exponent, so they cannot carry a formula.

``stream_csv`` yields the file as text chunks (header line first, then up to ``chunk_rows``
rows per chunk, lines ending in CRLF, cells quoted only when they need it) from a reusable
buffer, so memory stays flat for any number of rows and the rows may come lazily from a
database cursor. The chunks carry no byte-order mark; a caller that wants Excel to detect
UTF-8 sends ``UTF8_BOM`` before them.

Not covered here: a comma-separated file opened by a spreadsheet set to another list
separator (``;`` in many European locales) splits cells at that separator, so a text such as
``a;=1+1`` could still put a formula at the start of a cell there. Minimal quoting does not
protect against that and neither would quoting every cell reliably.

``csv_filename`` builds a download name that is safe in a Content-Disposition header and on
every file system.

Pure module: no Flask, no SQLAlchemy; plain values in, text out.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime

__all__ = ["UTF8_BOM", "csv_filename", "neutralise", "stream_csv"]

UTF8_BOM = "\ufeff"

# First characters a spreadsheet reads as the start of a formula (OWASP's list).
_TRIGGERS = frozenset("=+-@\t\r")
# Characters skipped when looking for a trigger: a spreadsheet may trim them, and they are
# invisible to the officer either way.
_IGNORABLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
# Lone surrogates cannot be encoded as UTF-8; they would break the response half-way.
_SURROGATES = re.compile("[\ud800-\udfff]")
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_FILENAME_PREFIX = "labelkeeper"
_FILENAME_MAX = 150
_EXTENSION = ".csv"


def neutralise(value: object) -> str:
    """Render one cell as text, with a leading quote when a spreadsheet would see a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _as_naive_utc(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format(value, ".10g")
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\x00", "")
    text = _SURROGATES.sub("\ufffd", text)
    return "'" + text if _looks_like_formula(text) else text


def stream_csv(
    header: Sequence[str], rows: Iterable[Sequence[object]], chunk_rows: int = 500
) -> Iterator[str]:
    """Yield the CSV text in chunks: the header line, then up to ``chunk_rows`` rows each."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    width = len(header)
    if width == 0:
        raise ValueError("the header must name at least one column")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise(name) for name in header])
    yield _drain(buffer)
    pending = 0
    # Row numbers are the ones a spreadsheet shows: the header is row 1.
    for number, row in enumerate(rows, start=2):
        if isinstance(row, str | bytes):
            raise TypeError(f"row {number} is a string, not a sequence of cells")
        if len(row) != width:
            raise ValueError(
                f"row {number} has {len(row)} cells but the header has {width} columns"
            )
        writer.writerow([neutralise(cell) for cell in row])
        pending += 1
        if pending == chunk_rows:
            yield _drain(buffer)
            pending = 0
    if pending:
        yield _drain(buffer)


def csv_filename(kind: str, generated_at: datetime, **filters: str) -> str:
    """Build a safe download name such as labelkeeper-sellers-2026-11-26T0305Z-country-DE.csv."""
    stamp = _as_naive_utc(generated_at).strftime("%Y-%m-%dT%H%MZ")
    parts = [_FILENAME_PREFIX, kind, stamp]
    for key, value in filters.items():
        if value:
            parts += [key, value]
    stem = _UNSAFE_FILENAME_CHARS.sub("_", "-".join(parts))
    return stem[: _FILENAME_MAX - len(_EXTENSION)] + _EXTENSION


def _looks_like_formula(text: str) -> bool:
    """Tell whether a spreadsheet could read the text as a formula."""
    for char in text:
        if char in _TRIGGERS:
            return True
        if unicodedata.category(char) in _IGNORABLE_CATEGORIES:
            continue
        # Full-width and other compatibility forms (＝, ﹢, ⁼) fold to the ASCII trigger.
        return unicodedata.normalize("NFKC", char)[:1] in _TRIGGERS
    return False


def _as_naive_utc(moment: datetime) -> datetime:
    """Convert an aware datetime to naive UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _drain(buffer: io.StringIO) -> str:
    """Return the buffer's text and empty it for the next chunk."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate(0)
    return text
