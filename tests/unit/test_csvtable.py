"""Reading CSV uploads into header-checked records (core/csvtable.py)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.csvtable import Record, RowError, Table, merge_errors, read_table

COLUMNS = ("name", "colour", "size")
REQUIRED = frozenset({"name", "size"})


def _read(text: str | bytes, max_rows: int = 100) -> Table:
    data = text.encode() if isinstance(text, str) else text
    return read_table(data, COLUMNS, REQUIRED, "widgets", max_rows)


def _where(table: Table) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in table.errors]


def _values(table: Table) -> list[dict[str, str]]:
    return [dict(r.values) for r in table.records]


# --- decoding ------------------------------------------------------------------------------


def test_plain_file_gives_records_numbered_like_a_spreadsheet() -> None:
    table = _read("name,colour,size\nbolt,grey,M4\nnut,,M5\n")
    assert table.errors == ()
    assert table.complete
    assert [r.row for r in table.records] == [2, 3]
    assert _values(table) == [
        {"name": "bolt", "colour": "grey", "size": "M4"},
        {"name": "nut", "colour": "", "size": "M5"},
    ]


def test_byte_order_mark_is_accepted() -> None:
    plain = _read("name,size\nbolt,M4\n")
    assert _read(b"\xef\xbb\xbf" + b"name,size\nbolt,M4\n") == plain


def test_zip_file_is_recognised_as_a_workbook() -> None:
    table = _read(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)))
    assert table.records == ()
    assert _where(table) == [(0, "")]
    assert "Excel workbook" in table.errors[0].message


def test_nul_bytes_mean_utf16_or_binary() -> None:
    table = _read("name,size\nbolt,M4\n".encode("utf-16"))
    assert _where(table) == [(0, "")]
    assert "NUL bytes" in table.errors[0].message


def test_text_that_is_not_utf8_names_the_line() -> None:
    table = _read("name,size\nbolt,M4\nÉcrou,M5\n".encode("latin-1"))
    assert table.errors == (
        RowError(
            0,
            "",
            "The file is not UTF-8 text (line 3 has bytes that are not UTF-8); "
            "save it as 'CSV UTF-8' and import that file",
        ),
    )


@pytest.mark.parametrize("char", ["\x07", "\x1b", "\x7f", "\x85"])
def test_control_characters_name_the_line(char: str) -> None:
    table = _read(f"name,size\nbolt,M4\nnut{char},M5\n")
    assert _where(table) == [(0, "")]
    assert table.errors[0].message.startswith("Line 3 contains a control character")


# --- separator -----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_separator_is_read_from_the_header(delimiter: str) -> None:
    table = _read(f"name{delimiter}size\nbolt steel{delimiter}M4\n")
    assert table.errors == ()
    assert _values(table) == [{"name": "bolt steel", "size": "M4"}]


def test_semicolon_file_keeps_decimal_commas_in_cells() -> None:
    table = _read("name;size\n\nbolt;4,5\n")
    assert _values(table) == [{"name": "bolt", "size": "4,5"}]


def test_comma_in_the_header_wins_over_semicolons() -> None:
    table = _read("name,size\nbolt;steel,M4\n")
    assert _values(table) == [{"name": "bolt;steel", "size": "M4"}]


# --- header --------------------------------------------------------------------------------


def test_header_names_are_case_insensitive_stripped_and_in_any_order() -> None:
    table = _read("  SIZE , Name,colour\nM4,bolt,grey\n")
    assert table.errors == ()
    assert _values(table) == [{"size": "M4", "name": "bolt", "colour": "grey"}]


def test_optional_column_may_be_left_out_and_then_has_no_value() -> None:
    table = _read("name,size\nbolt,M4\n")
    assert table.errors == ()
    assert "colour" not in table.records[0].values


def test_each_missing_required_column_is_one_error_on_the_header_row() -> None:
    table = _read("colour\ngrey\nblack\n")
    assert _where(table) == [(1, "name"), (1, "size")]
    assert table.errors[0].message == "Required column 'name' is missing"
    assert _values(table) == [{"colour": "grey"}, {"colour": "black"}]


def test_unknown_column_lists_the_known_ones() -> None:
    table = _read("name,size,Notes\nbolt,M4,x\n")
    assert table.errors == (
        RowError(1, "Notes", "Unknown column 'Notes'; the columns are: name, colour, size"),
    )
    assert _values(table) == [{"name": "bolt", "size": "M4"}]


def test_repeated_column_is_refused_and_the_first_one_is_read() -> None:
    table = _read("name,size,NAME\nbolt,M4,nut\n")
    assert table.errors == (RowError(1, "name", "Column 'name' appears more than once"),)
    assert _values(table) == [{"name": "bolt", "size": "M4"}]


def test_unnamed_column_with_values_is_refused_once_on_the_header_row() -> None:
    table = _read("name,,size\nbolt,x,M4\nnut,y,M5\n")
    assert table.errors == (RowError(1, "column 2", "This column has values but no name"),)


def test_trailing_empty_columns_from_spreadsheets_are_ignored() -> None:
    table = _read("name,size,,\nbolt,M4,,\n")
    assert table.errors == ()
    assert _values(table) == [{"name": "bolt", "size": "M4"}]


def test_header_after_blank_lines_keeps_its_spreadsheet_row() -> None:
    table = _read("\n , \nname,size,Notes\nbolt,M4\n")
    assert _where(table) == [(3, "Notes")]
    assert [r.row for r in table.records] == [4]


# --- records -------------------------------------------------------------------------------


def test_values_are_stripped_and_short_rows_padded() -> None:
    table = _read("name,colour,size\n  bolt  ,\n")
    assert table.errors == ()
    assert _values(table) == [{"name": "bolt", "colour": "", "size": ""}]


def test_blank_records_are_skipped_and_row_numbers_stay() -> None:
    table = _read("name,size\n\nbolt,M4\n , \n\nnut,M5\n\n")
    assert [r.row for r in table.records] == [3, 6]


def test_quoted_cell_over_two_lines_is_one_row() -> None:
    table = _read('name,size\n"bolt\nlong",M4\nnut,M5\n')
    assert [r.row for r in table.records] == [2, 3]
    assert table.records[0].values["name"] == "bolt\nlong"


def test_row_wider_than_the_header_is_reported_but_still_read() -> None:
    table = _read("name,size\nbolt,M4,extra\nnut,M5,,\n")
    assert table.errors == (
        RowError(2, "", "This row has 3 values but the header row has 2 columns"),
    )
    assert [r.row for r in table.records] == [2, 3]


def test_record_values_are_read_only_and_records_frozen() -> None:
    record = _read("name,size\nbolt,M4\n").records[0]
    with pytest.raises(TypeError):
        record.values["name"] = "nut"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.row = 3  # type: ignore[misc]


# --- limits and whole-file problems --------------------------------------------------------


def test_row_limit_counts_data_rows_and_names_the_noun() -> None:
    text = "name,size\na,1\n\nb,2\nc,3\n"
    assert len(_read(text, max_rows=3).records) == 3
    over = _read(text, max_rows=2)
    assert over.records == ()
    assert over.errors == (
        RowError(0, "", "The file has more than 2 widgets; split it into files of at most 2 rows"),
    )


def test_broken_quoting_stops_reading_but_keeps_what_came_before() -> None:
    table = _read('name,size,Notes\nbolt,M4\n"unclosed,M5\n')
    assert not table.complete
    assert [r.row for r in table.records] == [2]
    assert _where(table) == [(1, "Notes"), (0, "")]
    assert "not valid CSV near line" in table.errors[-1].message


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", b" , ,\n", b"\xef\xbb\xbf"])
def test_empty_file_names_the_columns(data: bytes) -> None:
    table = _read(data)
    assert table.errors == (
        RowError(
            0, "", "The file is empty; its first row must name the columns: name, colour, size"
        ),
    )


def test_header_without_rows_names_the_noun() -> None:
    table = _read("name,size\n\n")
    assert table.records == ()
    assert table.errors == (RowError(0, "", "The file has a header row but no widgets"),)


@pytest.mark.parametrize(
    ("columns", "required", "max_rows", "match"),
    [
        (COLUMNS, REQUIRED, 0, "max_rows"),
        (COLUMNS, frozenset({"weight"}), 10, "required"),
        (("name", "Size"), frozenset(), 10, "lower-case"),
        (("name", "name"), frozenset(), 10, "distinct"),
    ],
)
def test_programming_mistakes_raise(
    columns: tuple[str, ...], required: frozenset[str], max_rows: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        read_table(b"name\nx\n", columns, required, "widgets", max_rows)


# --- merging with an importer's errors -----------------------------------------------------


def test_merge_orders_by_row_with_the_tables_problems_first_within_a_row() -> None:
    table = _read("name,size,Notes\nbolt,M4\nnut,M5,x,extra\n")
    mine = [RowError(3, "size", "size is odd"), RowError(2, "name", "name is odd")]
    assert [(e.row, e.column) for e in merge_errors(table, mine)] == [
        (1, "Notes"),
        (2, "name"),
        (3, ""),
        (3, "size"),
    ]


def test_merge_keeps_a_stopping_syntax_error_last() -> None:
    table = _read('name,size\nbolt,M4\n"unclosed,M5\n')
    merged = merge_errors(table, [RowError(2, "size", "size is odd")])
    assert [(e.row, e.column) for e in merged] == [(2, "size"), (0, "")]


def test_merge_puts_a_whole_file_problem_first_in_a_complete_file() -> None:
    table = _read("name,Notes\n")
    assert [(e.row, e.column) for e in merge_errors(table, [])] == [
        (0, ""),
        (1, "Notes"),
        (1, "size"),
    ]


# --- properties and purity -----------------------------------------------------------------


def _check_invariants(table: Table) -> None:
    assert isinstance(table, Table)
    assert table.records or table.errors
    assert all(e.row >= 0 and e.message for e in table.errors)
    rows = [r.row for r in table.records]
    assert rows == sorted(set(rows))
    assert all(r >= 2 for r in rows)
    assert all(isinstance(r, Record) and set(r.values) <= set(COLUMNS) for r in table.records)


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check_invariants(_read(data, max_rows=5))


@settings(max_examples=300)
@given(st.binary(max_size=1000))
def test_arbitrary_bytes_after_a_header_never_raise(data: bytes) -> None:
    _check_invariants(_read(b"name,colour,size\n" + data, max_rows=5))

def test_seller_import_still_exports_the_shared_row_error() -> None:
    from vetting.seller_csv import RowError as SellerRowError

    assert SellerRowError is RowError
