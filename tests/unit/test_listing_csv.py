"""Listing CSV import parsing and validation (qc/listing_csv.py)."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qc.listing_csv import LISTING_COLUMNS, ListingImport, RowError, parse_listing_csv

DATA = Path(__file__).resolve().parent.parent / "data"

GOOD: dict[str, str] = {
    "seller_registration_number": "HRB 214587",
    "seller_country": "DE",
    "sku": "RCT-IP13-128-MID",
    "device_model": "iPhone 13 128GB Midnight",
    "category": "smartphone",
    "promised_grade": "excellent",
    "price_eur": "489.00",
    "monthly_units": "220",
}


def _csv(
    rows: Sequence[Mapping[str, str]],
    columns: Sequence[str] = LISTING_COLUMNS,
    delimiter: str = ",",
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c.strip().lower(), "") for c in columns])
    return out.getvalue().encode("utf-8")


def _listing(n: int, **changes: str) -> dict[str, str]:
    """A valid listing of the German sample seller, with a distinct SKU for each ``n``."""
    row = dict(GOOD, sku=f"RCT-{n:04d}")
    row.update(changes)
    return row


def _parse(**changes: str) -> ListingImport:
    return parse_listing_csv(_csv([_listing(1, **changes)]))


def _where(result: ListingImport) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in result.errors]


# --- the sample files ----------------------------------------------------------------------


def test_sample_file_parses_cleanly() -> None:
    result = parse_listing_csv((DATA / "listings_sample.csv").read_bytes())
    assert result.errors == ()
    assert result.importable
    assert [r.row for r in result.rows] == list(range(2, 18))
    assert {r.seller_country for r in result.rows} == set("DE FR NL ES IT PL BE GR".split())
    assert sum(r.price_cents for r in result.rows) == 668_540


def test_sample_values_are_normalised() -> None:
    rows = {r.sku: r for r in parse_listing_csv((DATA / "listings_sample.csv").read_bytes()).rows}
    ipad = rows["RCT-IPADAIR4-64-GRY"]
    assert (ipad.price_cents, ipad.category, ipad.promised_grade) == (37_900, "tablet", "excellent")
    assert rows["SVE-S22-128-BLK"].price_cents == 52_990
    assert rows["RL-A52S-128"].price_cents == 21_950  # written "219,50"
    assert rows["GA-IP12-64-WHT"].promised_grade == "excellent"  # written "Excellent"
    assert rows["SVE-MBA-M1-256"].seller_registration_number == "812 345 679 R.C.S. Lyon"
    assert rows["RCT-IP13-128-MID"].monthly_units == 220


def test_sample_sellers_are_those_of_the_seller_sample() -> None:
    with (DATA / "sellers_sample.csv").open(encoding="utf-8", newline="") as f:
        sellers = {(s["country"], s["registration_number"]) for s in csv.DictReader(f)}
    rows = parse_listing_csv((DATA / "listings_sample.csv").read_bytes()).rows
    assert {(r.seller_country, r.seller_registration_number) for r in rows} == sellers


def test_bad_row_file_names_the_row_and_columns() -> None:
    result = parse_listing_csv((DATA / "listings_bad_row.csv").read_bytes())
    assert _where(result) == [(10, "promised_grade"), (10, "price_eur")]
    grade_error, price_error = result.errors
    assert "'mint'" in grade_error.message
    assert "premium, excellent, good, fair" in grade_error.message
    assert price_error.message == "price_eur must be more than 0, not '-3'"


def test_bad_row_file_is_not_importable_even_though_other_rows_are_fine() -> None:
    result = parse_listing_csv((DATA / "listings_bad_row.csv").read_bytes())
    assert [r.row for r in result.rows] == [*range(2, 10), *range(11, 19)]
    assert not result.importable


# --- header --------------------------------------------------------------------------------


def test_header_is_case_insensitive_and_in_any_order() -> None:
    columns = [f" {c.upper()}" for c in reversed(LISTING_COLUMNS)]
    result = parse_listing_csv(_csv([GOOD], columns))
    assert result.errors == ()
    assert result.rows[0].price_cents == 48_900


def test_every_column_is_required() -> None:
    columns = [c for c in LISTING_COLUMNS if c != "monthly_units"]
    result = parse_listing_csv(_csv([GOOD], columns))
    assert _where(result) == [(1, "monthly_units")]
    assert result.rows == ()
    assert not result.importable


def test_empty_values_are_reported_per_column() -> None:
    result = parse_listing_csv(_csv([{"sku": "RCT-1"}]))
    assert sorted(c for _, c in _where(result)) == sorted(set(LISTING_COLUMNS) - {"sku"})
    assert all(e.message.endswith("is required") for e in result.errors)


# --- field rules ---------------------------------------------------------------------------


def test_values_are_normalised() -> None:
    result = _parse(
        seller_country=" de ",
        category="Smartphone",
        promised_grade="GOOD",
        price_eur="0499.5",
        monthly_units="007",
    )
    (listing,) = result.rows
    assert listing == dataclasses.replace(
        listing,
        seller_country="DE",
        category="smartphone",
        promised_grade="good",
        price_cents=49_950,
        monthly_units=7,
    )


@pytest.mark.parametrize(
    ("column", "limit"),
    [("seller_registration_number", 64), ("sku", 64), ("device_model", 200)],
)
def test_length_limits(column: str, limit: int) -> None:
    assert _parse(**{column: "x" * limit}).errors == ()
    too_long = _parse(**{column: "x" * (limit + 1)})
    assert _where(too_long) == [(2, column)]
    assert f"longer than {limit}" in too_long.errors[0].message


@pytest.mark.parametrize(
    ("country", "hint"), [("UK", "use GB"), ("ZZ", "alpha-2"), ("DEU", "alpha-2")]
)
def test_seller_country_must_be_iso_alpha_2(country: str, hint: str) -> None:
    result = _parse(seller_country=country)
    assert _where(result) == [(2, "seller_country")]
    assert hint in result.errors[0].message


@pytest.mark.parametrize("category", ["smartphone", "tablet", "laptop", "smartwatch", "console"])
def test_each_category_is_accepted(category: str) -> None:
    assert _parse(category=category.upper()).rows[0].category == category


@pytest.mark.parametrize("category", ["Phone", "smartphone;tablet", "e-reader"])
def test_unknown_category_is_quoted_as_written(category: str) -> None:
    result = _parse(category=category)
    assert _where(result) == [(2, "category")]
    assert repr(category) in result.errors[0].message
    assert "allowed: console, laptop, smartphone, smartwatch, tablet" in result.errors[0].message


@pytest.mark.parametrize("grade", ["premium", "Excellent", "GOOD", "fair"])
def test_each_grade_is_accepted_in_any_case(grade: str) -> None:
    assert _parse(promised_grade=grade).rows[0].promised_grade == grade.lower()


@pytest.mark.parametrize("grade", ["mint", "A", "very good"])
def test_unknown_grade_is_quoted_as_written(grade: str) -> None:
    result = _parse(promised_grade=grade)
    assert _where(result) == [(2, "promised_grade")]
    assert repr(grade) in result.errors[0].message


@pytest.mark.parametrize(
    ("price", "cents"),
    [
        ("499.00", 49_900),
        ("499,00", 49_900),
        ("499", 49_900),
        ("19.9", 1_990),
        ("19,99", 1_999),
        ("0.01", 1),
        ("100000", 10_000_000),
        ("100000.00", 10_000_000),
    ],
)
def test_good_prices_are_stored_in_cents(price: str, cents: int) -> None:
    assert _parse(price_eur=price).rows[0].price_cents == cents


@pytest.mark.parametrize(
    ("price", "says"),
    [
        ("0", "more than 0"),
        ("0,00", "more than 0"),
        ("-3", "more than 0"),
        ("-0.01", "more than 0"),
        ("100000.01", "at most 100000"),
        ("9" * 5000, "at most 100000"),
        ("12.345", "at most 2 decimals"),
        ("1.299", "at most 2 decimals"),
        ("abc", "such as 499.00 or 499,00"),
        ("NaN", "such as 499.00 or 499,00"),
        ("inf", "such as 499.00 or 499,00"),
        ("-inf", "such as 499.00 or 499,00"),
        ("1e3", "such as 499.00 or 499,00"),
        ("1.299,00", "such as 499.00 or 499,00"),
        ("1,299.00", "such as 499.00 or 499,00"),
        ("€499", "such as 499.00 or 499,00"),
        ("499 EUR", "such as 499.00 or 499,00"),
        ("499.", "such as 499.00 or 499,00"),
        (".50", "such as 499.00 or 499,00"),
        ("+5", "such as 499.00 or 499,00"),
        ("1_000", "such as 499.00 or 499,00"),
        ("\u0664\u0669\u0669", "such as 499.00 or 499,00"),  # Arabic-Indic digits
    ],
)
def test_bad_prices(price: str, says: str) -> None:
    result = _parse(price_eur=price)
    assert _where(result) == [(2, "price_eur")]
    assert says in result.errors[0].message
    assert result.rows == ()


def test_comma_decimal_in_a_semicolon_separated_file() -> None:
    text = ";".join(LISTING_COLUMNS) + "\n"
    text += "HRB 214587;DE;RCT-1;iPhone 13 128GB;smartphone;good;449,90;12\n"
    result = parse_listing_csv(text.encode())
    assert result.errors == ()
    assert result.rows[0].price_cents == 44_990


@pytest.mark.parametrize("units", ["0", "1000000"])
def test_units_bounds_are_inclusive(units: str) -> None:
    assert _parse(monthly_units=units).rows[0].monthly_units == int(units)


@pytest.mark.parametrize("units", ["-1", "1000001", "1.200", "1,200", "12.5", "abc", "9" * 5000])
def test_bad_units(units: str) -> None:
    result = _parse(monthly_units=units)
    assert _where(result) == [(2, "monthly_units")]
    assert "whole number from 0 to 1000000" in result.errors[0].message


def test_every_row_and_every_field_is_checked() -> None:
    rows = [
        _listing(1, seller_country="XX"),
        _listing(2),
        _listing(3, category="toaster", promised_grade="new", price_eur="abc"),
        _listing(4, monthly_units="lots"),
    ]
    result = parse_listing_csv(_csv(rows))
    assert _where(result) == [
        (2, "seller_country"),
        (4, "category"),
        (4, "promised_grade"),
        (4, "price_eur"),
        (5, "monthly_units"),
    ]
    assert [r.row for r in result.rows] == [3]


# --- duplicates ----------------------------------------------------------------------------


def test_same_sku_of_the_same_seller_is_reported_on_the_later_row() -> None:
    rows = [
        _listing(1),
        _listing(2),
        _listing(3, sku="rct-0001", seller_registration_number="hrb214587", seller_country="de"),
    ]
    result = parse_listing_csv(_csv(rows))
    assert _where(result) == [(4, "sku")]
    assert result.errors[0].message.startswith("Duplicate of row 2: SKU rct-0001")
    assert [r.row for r in result.rows] == [2, 3]
    assert not result.importable


@pytest.mark.parametrize(
    "other_seller",
    [
        {"seller_registration_number": "HRB 999999"},
        {"seller_country": "AT"},
    ],
)
def test_same_sku_of_another_seller_is_fine(other_seller: dict[str, str]) -> None:
    result = parse_listing_csv(_csv([_listing(1), _listing(1, **other_seller)]))
    assert result.errors == ()
    assert len(result.rows) == 2


def test_duplicate_counts_even_when_the_first_row_has_other_errors() -> None:
    result = parse_listing_csv(_csv([_listing(1, price_eur="-1"), _listing(1)]))
    assert _where(result) == [(2, "price_eur"), (3, "sku")]
    assert result.rows == ()


# --- whole file and importable -------------------------------------------------------------


def test_header_without_rows_is_not_importable() -> None:
    result = parse_listing_csv(_csv([]))
    assert result.errors == (RowError(0, "", "The file has a header row but no listings"),)
    assert not result.importable


def test_clean_file_is_importable_and_any_error_makes_it_not() -> None:
    assert parse_listing_csv(_csv([_listing(1), _listing(2)])).importable
    result = parse_listing_csv(_csv([_listing(1), _listing(2, sku="")]))
    assert len(result.rows) == 1
    assert not result.importable


def test_whole_file_problems_come_from_the_shared_reader() -> None:
    assert "Excel workbook" in parse_listing_csv(b"PK\x03\x04rest").errors[0].message
    broken = parse_listing_csv(_csv([GOOD]) + b'"unclosed,DE\n')
    assert broken.rows == ()
    assert "not valid CSV" in broken.errors[-1].message


def test_row_limit() -> None:
    rows = [_listing(n) for n in range(3)]
    assert len(parse_listing_csv(_csv(rows), max_rows=3).rows) == 3
    over = parse_listing_csv(_csv(rows), max_rows=2)
    assert over.rows == ()
    assert "more than 2 listings" in over.errors[0].message


def test_result_is_immutable() -> None:
    result = parse_listing_csv(_csv([GOOD]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.rows[0].price_cents = 1  # type: ignore[misc]


# --- properties and purity -----------------------------------------------------------------


def _check_invariants(result: ListingImport) -> None:
    assert isinstance(result, ListingImport)
    assert result.rows or result.errors
    assert result.importable is (not result.errors)
    assert all(e.row >= 0 and e.message for e in result.errors)
    assert not {e.row for e in result.errors} & {r.row for r in result.rows}
    assert all(0 < r.price_cents <= 10_000_000 for r in result.rows)


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check_invariants(parse_listing_csv(data))


_cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=200)
@given(st.lists(st.fixed_dictionaries({c: _cells for c in LISTING_COLUMNS}), max_size=6))
def test_arbitrary_cells_never_raise(rows: list[dict[str, str]]) -> None:
    _check_invariants(parse_listing_csv(_csv(rows)))
