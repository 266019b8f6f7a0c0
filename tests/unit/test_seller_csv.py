"""Seller CSV import parsing and validation (vetting/seller_csv.py)."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vetting.seller_csv import (
    COLUMNS,
    REQUIRED_COLUMNS,
    RowError,
    SellerImport,
    parse_seller_csv,
)

DATA = Path(__file__).resolve().parent.parent / "data"

GOOD: dict[str, str] = {
    "legal_name": "ReCell Technik GmbH",
    "trading_name": "ReCell",
    "country": "DE",
    "registration_number": "HRB 214587",
    "vat_id": "DE287461935",
    "contact_email": "vertrieb@recell-technik.de",
    "website": "https://www.recell-technik.de",
    "device_categories": "smartphone;tablet",
    "declared_monthly_volume": "1850",
}


def _csv(
    rows: Sequence[Mapping[str, str]],
    columns: Sequence[str] = COLUMNS,
    delimiter: str = ",",
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c.strip().lower(), "") for c in columns])
    return out.getvalue().encode("utf-8")


def _seller(n: int, **changes: str) -> dict[str, str]:
    """A valid German seller, distinct for each ``n``."""
    row = dict(
        GOOD,
        legal_name=f"Refurb {n} GmbH",
        registration_number=f"HRB {100000 + n}",
        vat_id=f"DE{100000000 + n}",
    )
    row.update(changes)
    return row


def _where(result: SellerImport) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in result.errors]


# --- the sample files ----------------------------------------------------------------------


def test_sample_file_parses_cleanly() -> None:
    result = parse_seller_csv((DATA / "sellers_sample.csv").read_bytes())
    assert result.errors == ()
    assert len(result.rows) == 8
    assert result.importable
    assert [r.row for r in result.rows] == list(range(2, 10))
    assert len({r.country for r in result.rows}) == 8


def test_sample_values_are_normalised() -> None:
    rows = {r.country: r for r in parse_seller_csv((DATA / "sellers_sample.csv").read_bytes()).rows}
    assert rows["DE"].vat_id == "DE287461935"  # written "DE 287 461 935"
    assert rows["BE"].vat_id == "BE0478312956"  # written "BE0478.312.956"
    assert rows["GR"].vat_id.startswith("EL")
    assert rows["FR"].legal_name == "Seconde Vie Électronique, SAS"
    assert rows["FR"].device_categories == ("laptop", "smartphone", "smartwatch")
    assert rows["NL"].device_categories == ("laptop", "smartphone", "tablet")  # '|' separated
    assert rows["ES"].trading_name is None
    assert rows["ES"].website is None
    assert rows["DE"].declared_monthly_volume == 1850


def test_bad_row_file_names_the_row_and_columns() -> None:
    result = parse_seller_csv((DATA / "sellers_bad_row.csv").read_bytes())
    assert _where(result) == [(6, "country"), (6, "vat_id")]
    country_error, vat_error = result.errors
    assert "UK" in country_error.message
    assert "GB" in country_error.message
    assert "GB12345" in vat_error.message


def test_bad_row_file_is_not_importable_even_though_other_rows_are_fine() -> None:
    result = parse_seller_csv((DATA / "sellers_bad_row.csv").read_bytes())
    assert [r.row for r in result.rows] == [2, 3, 4, 5, 7, 8, 9, 10]
    assert not result.importable


def test_bom_is_accepted() -> None:
    data = (DATA / "sellers_sample.csv").read_bytes()
    with_bom = parse_seller_csv(b"\xef\xbb\xbf" + data)
    assert with_bom == parse_seller_csv(data)
    assert with_bom.rows[0].legal_name == "ReCell Technik GmbH"


# --- header --------------------------------------------------------------------------------


def test_header_is_case_insensitive_stripped_and_in_any_order() -> None:
    columns = [f"  {c.upper()} " for c in reversed(COLUMNS)]
    result = parse_seller_csv(_csv([GOOD], columns))
    assert result.errors == ()
    assert result.rows[0].vat_id == "DE287461935"


def test_optional_columns_may_be_left_out() -> None:
    columns = [c for c in COLUMNS if c in REQUIRED_COLUMNS]
    result = parse_seller_csv(_csv([GOOD], columns))
    assert result.errors == ()
    assert result.rows[0].website is None
    assert result.rows[0].trading_name is None


def test_each_missing_required_column_is_one_error_on_row_1() -> None:
    columns = [c for c in COLUMNS if c not in ("vat_id", "contact_email")]
    result = parse_seller_csv(_csv([GOOD, _seller(2)], columns))
    assert _where(result) == [(1, "vat_id"), (1, "contact_email")]
    assert all("missing" in e.message for e in result.errors)
    assert result.rows == ()
    assert not result.importable


def test_unknown_column_is_refused() -> None:
    result = parse_seller_csv(_csv([GOOD], [*COLUMNS, "Notes"]))
    assert _where(result) == [(1, "Notes")]
    assert "Unknown column 'Notes'" in result.errors[0].message
    assert "legal_name" in result.errors[0].message


def test_repeated_column_is_refused() -> None:
    result = parse_seller_csv(_csv([GOOD], [*COLUMNS, "Country"]))
    assert _where(result) == [(1, "country")]
    assert "more than once" in result.errors[0].message


def test_values_under_a_column_without_a_name_are_refused() -> None:
    text = ",".join(COLUMNS) + ",\n" + ",".join(GOOD[c] for c in COLUMNS) + ",surprise\n"
    result = parse_seller_csv(text.encode())
    assert _where(result) == [(1, "column 10")]


def test_trailing_empty_columns_from_spreadsheets_are_ignored() -> None:
    text = ",".join(COLUMNS) + ",,\n" + ",".join(GOOD[c] for c in COLUMNS) + ",,\n"
    result = parse_seller_csv(text.encode())
    assert result.errors == ()
    assert len(result.rows) == 1


def test_row_with_more_values_than_the_header() -> None:
    text = ",".join(COLUMNS) + "\n" + ",".join(GOOD[c] for c in COLUMNS) + ",extra\n"
    result = parse_seller_csv(text.encode())
    assert _where(result) == [(2, "")]
    assert "10 values" in result.errors[0].message


def test_semicolon_separated_file_from_a_european_spreadsheet() -> None:
    result = parse_seller_csv(_csv([GOOD, _seller(2)], delimiter=";"))
    assert result.errors == ()
    assert result.rows[0].device_categories == ("smartphone", "tablet")


# --- rows ----------------------------------------------------------------------------------


def test_every_row_and_every_field_is_checked() -> None:
    rows = [
        _seller(1, country="ZZ"),
        _seller(2),
        _seller(3, vat_id="DE12", contact_email="not-an-email", declared_monthly_volume="-5"),
        _seller(4, device_categories="smartphone;toaster", website="www.example.com"),
    ]
    result = parse_seller_csv(_csv(rows))
    assert _where(result) == [
        (2, "country"),
        (4, "vat_id"),
        (4, "contact_email"),
        (4, "declared_monthly_volume"),
        (5, "website"),
        (5, "device_categories"),
    ]
    assert [r.row for r in result.rows] == [3]
    assert "'toaster'" in result.errors[-1].message


def test_required_values_are_reported_per_column() -> None:
    empty = dict.fromkeys(COLUMNS, "")
    empty["legal_name"] = "Only A Name Ltd"
    result = parse_seller_csv(_csv([empty]))
    assert sorted(c for _, c in _where(result)) == sorted(REQUIRED_COLUMNS - {"legal_name"})
    assert all(e.message.endswith("is required") for e in result.errors)


def test_values_are_normalised() -> None:
    row = _seller(
        1,
        country=" de ",
        vat_id="de 100.000-001",
        device_categories=" Tablet | smartphone;tablet;; ",
        contact_email="Sales@ReCell-Technik.DE",
        trading_name="",
        declared_monthly_volume="007",
    )
    (seller,) = parse_seller_csv(_csv([row])).rows
    assert seller.country == "DE"
    assert seller.vat_id == "DE100000001"
    assert seller.device_categories == ("smartphone", "tablet")
    assert seller.contact_email == "Sales@recell-technik.de"
    assert seller.trading_name is None
    assert seller.declared_monthly_volume == 7


@pytest.mark.parametrize("volume", ["0", "1000000"])
def test_volume_bounds_are_inclusive(volume: str) -> None:
    result = parse_seller_csv(_csv([_seller(1, declared_monthly_volume=volume)]))
    assert result.rows[0].declared_monthly_volume == int(volume)


@pytest.mark.parametrize(
    "volume", ["-1", "1000001", "1.200", "1,200", "12.5", "abc", "\u0663", "9" * 5000]
)
def test_bad_volumes(volume: str) -> None:
    result = parse_seller_csv(_csv([_seller(1, declared_monthly_volume=volume)]))
    assert _where(result) == [(2, "declared_monthly_volume")]
    assert "whole number from 0 to 1000000" in result.errors[0].message


@pytest.mark.parametrize(
    ("column", "limit"),
    [("legal_name", 200), ("trading_name", 200), ("registration_number", 64)],
)
def test_length_limits(column: str, limit: int) -> None:
    ok = parse_seller_csv(_csv([_seller(1, **{column: "x" * limit})]))
    too_long = parse_seller_csv(_csv([_seller(1, **{column: "x" * (limit + 1)})]))
    assert ok.errors == ()
    assert _where(too_long) == [(2, column)]
    assert f"longer than {limit}" in too_long.errors[0].message


def test_long_email_is_refused() -> None:
    email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"
    result = parse_seller_csv(_csv([_seller(1, contact_email=email)]))
    assert _where(result) == [(2, "contact_email")]


def test_vat_must_belong_to_the_sellers_country() -> None:
    result = parse_seller_csv(_csv([_seller(1, country="AT")]))
    assert _where(result) == [(2, "vat_id")]
    assert "AT" in result.errors[0].message


def test_duplicate_in_file_is_reported_on_the_later_row() -> None:
    rows = [
        _seller(1),
        _seller(2),
        _seller(3, registration_number="hrb100001", vat_id="DE999999999"),
    ]
    result = parse_seller_csv(_csv(rows))
    assert _where(result) == [(4, "registration_number")]
    assert "Duplicate of row 2" in result.errors[0].message
    assert [r.row for r in result.rows] == [2, 3]
    assert not result.importable


def test_same_registration_number_in_another_country_is_not_a_duplicate() -> None:
    rows = [
        _seller(1),
        _seller(2, registration_number="HRB 100001", country="AT", vat_id="ATU12345678"),
    ]
    result = parse_seller_csv(_csv(rows))
    assert result.errors == ()
    assert len(result.rows) == 2


def test_duplicate_counts_even_when_the_first_row_has_other_errors() -> None:
    rows = [_seller(1, vat_id="bad"), _seller(1)]
    result = parse_seller_csv(_csv(rows))
    assert _where(result) == [(2, "vat_id"), (3, "registration_number")]
    assert result.rows == ()


def test_blank_lines_are_skipped_and_row_numbers_stay_as_in_the_spreadsheet() -> None:
    lines = _csv([_seller(1), _seller(2, country="XX")]).decode().splitlines()
    text = "\n".join([lines[0], "", lines[1], " , , ", "", lines[2], "", ""]) + "\n"
    result = parse_seller_csv(text.encode())
    assert [r.row for r in result.rows] == [3]
    assert _where(result) == [(6, "country")]


def test_quoted_cell_over_two_lines_is_one_row() -> None:
    rows = [_seller(1, legal_name="Refurb\nTwo Lines GmbH"), _seller(2, country="XX")]
    result = parse_seller_csv(_csv(rows))
    assert result.rows[0].legal_name == "Refurb\nTwo Lines GmbH"
    assert result.errors[0].row == 3


# --- whole-file problems -------------------------------------------------------------------


def test_wrong_encoding_is_one_clear_error() -> None:
    rows = [_seller(1), _seller(2, legal_name="Seconde Vie Électronique SAS")]
    result = parse_seller_csv(_csv(rows).decode("utf-8").encode("latin-1"))
    assert result.rows == ()
    assert result.errors == (
        RowError(
            0,
            "",
            "The file is not UTF-8 text (line 3 has bytes that are not UTF-8); "
            "save it as 'CSV UTF-8' and import that file",
        ),
    )


def test_utf16_file_is_refused_as_not_text() -> None:
    result = parse_seller_csv(_csv([GOOD]).decode().encode("utf-16"))
    assert _where(result) == [(0, "")]
    assert "NUL bytes" in result.errors[0].message


def test_excel_workbook_is_recognised() -> None:
    result = parse_seller_csv(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)))
    assert _where(result) == [(0, "")]
    assert "Excel workbook" in result.errors[0].message


def test_control_characters_mean_garbage() -> None:
    result = parse_seller_csv(_csv([GOOD]) + b"\x1b[2J\x07\n")
    assert _where(result) == [(0, "")]
    assert "Line 3 contains a control character" in result.errors[0].message


def test_broken_quoting_is_reported() -> None:
    result = parse_seller_csv(_csv([GOOD]) + b'"Unclosed GmbH,DE\n')
    assert result.rows == ()
    assert result.errors[-1].row == 0
    assert "not valid CSV" in result.errors[-1].message


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf"])
def test_empty_file(data: bytes) -> None:
    result = parse_seller_csv(data)
    assert _where(result) == [(0, "")]
    assert "empty" in result.errors[0].message


def test_header_without_rows() -> None:
    result = parse_seller_csv(_csv([]))
    assert result.errors == (RowError(0, "", "The file has a header row but no sellers"),)
    assert not result.importable


def test_row_limit() -> None:
    rows = [_seller(n) for n in range(3)]
    assert len(parse_seller_csv(_csv(rows), max_rows=3).rows) == 3
    over = parse_seller_csv(_csv(rows), max_rows=2)
    assert over.rows == ()
    assert _where(over) == [(0, "")]
    assert "more than 2 sellers" in over.errors[0].message


def test_row_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        parse_seller_csv(_csv([GOOD]), max_rows=0)


def test_result_is_immutable() -> None:
    result = parse_seller_csv(_csv([GOOD]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.rows[0].country = "FR"  # type: ignore[misc]


# --- properties ----------------------------------------------------------------------------


def _check_invariants(result: SellerImport) -> None:
    assert isinstance(result, SellerImport)
    assert result.rows or result.errors
    assert result.importable is (not result.errors)
    assert all(e.row >= 0 and e.message for e in result.errors)
    assert all(r.row >= 2 for r in result.rows)


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check_invariants(parse_seller_csv(data))


_HEADER = ",".join(COLUMNS).encode() + b"\n"


@settings(max_examples=300)
@given(st.binary(max_size=1000))
def test_arbitrary_bytes_after_a_valid_header_never_raise(data: bytes) -> None:
    _check_invariants(parse_seller_csv(_HEADER + data))


_cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=200)
@given(st.lists(st.fixed_dictionaries({c: _cells for c in COLUMNS}), max_size=6))
def test_arbitrary_cells_never_raise_and_every_row_is_accounted_for(
    rows: list[dict[str, str]],
) -> None:
    result = parse_seller_csv(_csv(rows))
    _check_invariants(result)
    error_rows = {e.row for e in result.errors}
    assert not error_rows & {r.row for r in result.rows}
