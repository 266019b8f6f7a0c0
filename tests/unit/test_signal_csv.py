"""Marketplace-signal CSV parsing and validation (qc/signal_csv.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qc.signal_csv import (
    MAX_COUNT,
    SIGNAL_COLUMNS,
    RowError,
    SignalRow,
    parse_month,
    parse_signal_csv,
)

GOOD: dict[str, str] = {
    "seller_registration_number": "HRB 204871",
    "seller_country": "DE",
    "month": "2026-03",
    "orders": "265",
    "returns": "9",
    "warranty_claims": "2",
}


def _csv(rows: Sequence[Mapping[str, str]], columns: Sequence[str] = SIGNAL_COLUMNS,
         delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c.strip().lower(), "") for c in columns])
    return out.getvalue().encode("utf-8")


def _row(**changes: str) -> dict[str, str]:
    return {**GOOD, **changes}


def _problems(data: bytes) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in parse_signal_csv(data).errors]


def test_a_good_file_gives_normalised_rows() -> None:
    parsed = parse_signal_csv(_csv([
        GOOD,
        _row(seller_country=" fr ", seller_registration_number="852 379 114",
             month="2026-02-01", orders="", returns="0", warranty_claims="0"),
    ]))
    assert parsed.errors == ()
    assert parsed.importable
    assert parsed.rows == (
        SignalRow(2, "HRB 204871", "DE", date(2026, 3, 1), 265, 9, 2),
        SignalRow(3, "852 379 114", "FR", date(2026, 2, 1), None, 0, 0),
    )


def test_orders_column_may_be_left_out_and_columns_come_in_any_order() -> None:
    columns = ["Warranty_Claims", "month", "RETURNS", "seller_country",
               "seller_registration_number"]
    parsed = parse_signal_csv(_csv([GOOD], columns=columns, delimiter=";"))
    assert parsed.errors == ()
    assert parsed.rows[0].orders is None
    assert (parsed.rows[0].returns, parsed.rows[0].warranty_claims) == (9, 2)


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-3", "03/2026", "2026-03-15",
                                   "Mar-26", "1999-12", "26-03", "２０２６-03", ""])
def test_a_bad_month_is_reported_on_its_row(month: str) -> None:
    parsed = parse_signal_csv(_csv([GOOD, _row(month=month, seller_registration_number="X1")]))
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "month")]
    assert not parsed.importable
    expected = "month is required" if not month else "YYYY-MM"
    assert expected in parsed.errors[0].message


@pytest.mark.parametrize("column", ["orders", "returns", "warranty_claims"])
@pytest.mark.parametrize("value", ["-1", "NaN", "nan", "inf", "1e3", "1.5", "1,000", "1 000",
                                   "٣", str(MAX_COUNT + 1), "99999999999999999999", "+3"])
def test_counts_must_be_whole_numbers_in_range(column: str, value: str) -> None:
    parsed = parse_signal_csv(_csv([_row(**{column: value})]))
    assert [(e.row, e.column) for e in parsed.errors] == [(2, column)]
    assert f"{column} must be a whole number from 0 to {MAX_COUNT}" in parsed.errors[0].message
    assert repr(value) in parsed.errors[0].message
    assert parsed.rows == ()


def test_the_largest_count_is_accepted() -> None:
    parsed = parse_signal_csv(_csv([_row(orders=str(MAX_COUNT), returns=str(MAX_COUNT))]))
    assert parsed.errors == ()
    assert parsed.rows[0].orders == MAX_COUNT


def test_returns_and_claims_are_required_but_orders_is_not() -> None:
    parsed = parse_signal_csv(_csv([_row(returns="", warranty_claims="", orders="")]))
    assert [(e.column, e.message) for e in parsed.errors] == [
        ("returns", "returns is required"), ("warranty_claims", "warranty_claims is required")]


def test_an_unknown_country_and_a_too_long_registration_are_reported() -> None:
    assert _problems(_csv([_row(seller_country="XX", seller_registration_number="R" * 65)])) \
        == [(2, "seller_registration_number"), (2, "seller_country")]


def test_the_same_seller_and_month_twice_is_reported_on_the_later_row() -> None:
    parsed = parse_signal_csv(_csv([
        GOOD,
        _row(month="2026-04"),
        _row(seller_registration_number="hrb204871", seller_country="de", returns="3"),
    ]))
    assert parsed.errors == (RowError(
        4, "month", "Duplicate of row 2: seller hrb204871 in DE for 2026-03 appears twice "
        "in the file"),)
    assert not parsed.importable


def test_the_same_month_for_two_sellers_is_fine() -> None:
    parsed = parse_signal_csv(_csv([GOOD, _row(seller_registration_number="HRB 1")]))
    assert parsed.importable


@pytest.mark.parametrize(("header", "problem"), [
    ("seller_registration_number,seller_country,month,returns,claims",
     "Unknown column 'claims'"),
    ("seller_registration_number,seller_country,month,returns",
     "Required column 'warranty_claims' is missing"),
    ("seller,country,month,orders,returns,warranty_claims", "Unknown column 'seller'"),
])
def test_a_wrong_header_is_reported_on_the_header_row(header: str, problem: str) -> None:
    parsed = parse_signal_csv(f"{header}\nHRB 1,DE,2026-03,1,1\n".encode())
    assert any(e.row == 1 and problem in e.message for e in parsed.errors), parsed.errors
    assert not parsed.importable


def test_a_file_without_rows_or_not_text_is_not_importable() -> None:
    assert not parse_signal_csv(_csv([])).importable
    assert "no rows of figures" in parse_signal_csv(_csv([])).errors[0].message
    assert parse_signal_csv(b"PK\x03\x04rest").errors[0].row == 0
    assert not parse_signal_csv(b"").importable


def test_every_problem_of_the_file_is_reported_in_row_order() -> None:
    data = _csv([_row(returns="-2"), GOOD, _row(month="2026-14", orders="x")])
    assert _problems(data) == [(2, "returns"), (4, "month"), (4, "orders")]


def test_parse_month() -> None:
    assert parse_month(" 2026-12 ") == date(2026, 12, 1)
    assert parse_month("2026-01-01") == date(2026, 1, 1)
    assert isinstance(parse_month("2026-01-02"), str)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(SIGNAL_COLUMNS), st.text(max_size=12)),
                max_size=6))
def test_any_content_gives_rows_or_errors_never_an_exception(
        rows: list[dict[str, str]]) -> None:
    parsed = parse_signal_csv(_csv(rows))
    assert parsed.importable == (bool(parsed.rows) and not parsed.errors)
    assert all(row.returns >= 0 and row.warranty_claims >= 0 for row in parsed.rows)


def test_the_sample_file_in_the_readme_is_valid() -> None:
    sample = Path(__file__).resolve().parent.parent / "data" / "signals_sample.csv"
    parsed = parse_signal_csv(sample.read_bytes())
    assert parsed.errors == ()
    assert len(parsed.rows) == 6
