"""Streamed, formula-safe CSV exports (compliance/csvexport.py)."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.csvexport import UTF8_BOM, csv_filename, neutralise, stream_csv


def _parse(chunks: Iterator[str]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(chunks), newline="")))


# --- neutralise: formula injection ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\tplain", "'\tplain"),
        ("   =HYPERLINK(\"http://evil\")", "'   =HYPERLINK(\"http://evil\")"),
        ("\n-2+3", "'\n-2+3"),
        ("\u00a0@x", "'\u00a0@x"),
        ("\u3000=1", "'\u3000=1"),
        ("＝1+1", "'＝1+1"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠x", "'＠x"),
        ("\ufe66cmd", "'\ufe66cmd"),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ],
)
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(raw: str, expected: str) -> None:
    assert neutralise(raw) == expected


@pytest.mark.parametrize("raw", ["-3", "+49 30 1234", "-0.5", "@handle"])
def test_number_like_text_is_quoted_too_on_purpose(raw: str) -> None:
    assert neutralise(raw) == "'" + raw


@pytest.mark.parametrize(
    "raw",
    ["", "Acme GmbH", "a=b", "x-1", "e-mail@example.com", "100%", "'already quoted",
     "  spaced", "O'Brien, \"Bob\"", "line one\nline two"],
)
def test_ordinary_text_is_untouched(raw: str) -> None:
    assert neutralise(raw) == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ελληνικά προϊόντα", "Ελληνικά προϊόντα"),
        ("\u202eevil", "\u202eevil"),
        ("\u202e=evil", "'\u202e=evil"),
        ("\u200b=1+1", "'\u200b=1+1"),
        ("\ufeff-1", "'\ufeff-1"),
        ("=Ελληνικά", "'=Ελληνικά"),
        ("שלום", "שלום"),
    ],
)
def test_unicode_is_preserved_and_still_neutralised(raw: str, expected: str) -> None:
    assert neutralise(raw) == expected


def test_nul_characters_are_stripped_before_the_check() -> None:
    assert neutralise("a\x00b") == "ab"
    assert neutralise("\x00=1+1") == "'=1+1"


def test_lone_surrogates_are_replaced_so_the_text_encodes_as_utf8() -> None:
    assert neutralise("a\ud800b").encode("utf-8") == "a\ufffdb".encode()


# --- neutralise: other types ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (42, "42"),
        (-7, "-7"),
        (0.1 + 0.2, "0.3"),
        (2.5, "2.5"),
        (-1.25, "-1.25"),
        (1234567.0, "1234567"),
        (date(2026, 11, 26), "2026-11-26"),
        (datetime(2026, 11, 26, 3, 5, 9, 123456), "2026-11-26 03:05:09"),
        (datetime(2026, 11, 26, 4, 5, 9, tzinfo=timezone(timedelta(hours=1))),
         "2026-11-26 03:05:09"),
    ],
)
def test_values_are_formatted_for_a_spreadsheet(value: object, expected: str) -> None:
    assert neutralise(value) == expected


def test_other_objects_go_through_str_and_the_text_rules() -> None:
    class Weird:
        def __str__(self) -> str:
            return "=EVIL()"

    assert neutralise(Weird()) == "'=EVIL()"


# --- stream_csv ----------------------------------------------------------------------------


def test_header_comes_first_alone_without_a_byte_order_mark() -> None:
    chunks = list(stream_csv(["name", "country"], [["Acme", "DE"]]))
    assert chunks == ["name,country\r\n", "Acme,DE\r\n"]
    assert not chunks[0].startswith(UTF8_BOM)


def test_rows_are_grouped_into_chunks_of_at_most_chunk_rows() -> None:
    rows = [[str(i)] for i in range(7)]
    chunks = list(stream_csv(["n"], rows, chunk_rows=3))
    assert chunks == ["n\r\n", "0\r\n1\r\n2\r\n", "3\r\n4\r\n5\r\n", "6\r\n"]


def test_an_empty_export_is_just_the_header() -> None:
    assert list(stream_csv(["a", "b"], [])) == ["a,b\r\n"]


def test_round_trip_gives_back_the_neutralised_cells() -> None:
    header = ["name", "note", "when", "score", "ok"]
    rows: list[Sequence[object]] = [
        ["Acme, Inc.", "said \"hi\"\r\nthen left", datetime(2026, 1, 2, 3, 4, 5), 9.5, True],
        ["=HYPERLINK(\"x\")", "  -2+3", date(2026, 1, 2), -1, None],
        ["Ελληνικά", "\u202e=evil", None, 0.1 + 0.2, False],
        ["", "a\x00b", "＝1", 10**20, "+49 30 1234"],
    ]
    parsed = _parse(stream_csv(header, rows, chunk_rows=2))
    assert parsed[0] == header
    assert parsed[1:] == [[neutralise(cell) for cell in row] for row in rows]
    assert parsed[2][0] == "'=HYPERLINK(\"x\")"


def test_header_cells_are_neutralised_too() -> None:
    assert _parse(stream_csv(["=cmd", "ok"], [])) == [["'=cmd", "ok"]]


def test_a_lazy_source_of_100000_rows_is_pulled_one_chunk_at_a_time() -> None:
    pulled = 0

    def source() -> Iterator[list[object]]:
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield [i, f"seller {i}"]

    chunks = stream_csv(["id", "name"], source(), chunk_rows=500)
    assert next(chunks) == "id,name\r\n"
    assert pulled == 0
    first = next(chunks)
    assert pulled <= 500 + 1
    assert first.count("\r\n") == 500
    rest = sum(1 for _ in chunks)
    assert rest == 100_000 // 500 - 1
    assert pulled == 100_000


def test_a_row_of_the_wrong_width_names_its_row_number() -> None:
    rows = [["a", "b"], ["c", "d"], ["e"]]
    with pytest.raises(ValueError, match=r"row 4 has 1 cells but the header has 2 columns"):
        list(stream_csv(["x", "y"], rows))


def test_rows_before_a_bad_row_in_earlier_chunks_were_already_sent() -> None:
    chunks = stream_csv(["x"], [["a"], ["b", "extra"]], chunk_rows=1)
    assert next(chunks) == "x\r\n"
    assert next(chunks) == "a\r\n"
    with pytest.raises(ValueError, match="row 3"):
        next(chunks)


def test_a_string_row_is_refused_rather_than_split_into_letters() -> None:
    with pytest.raises(TypeError, match="row 2"):
        list(stream_csv(["a", "b"], ["ab"]))


@pytest.mark.parametrize("chunk_rows", [0, -1])
def test_chunk_rows_must_be_positive(chunk_rows: int) -> None:
    with pytest.raises(ValueError, match="chunk_rows"):
        list(stream_csv(["a"], [], chunk_rows=chunk_rows))


def test_an_empty_header_is_refused() -> None:
    with pytest.raises(ValueError, match="header"):
        list(stream_csv([], []))


_TRIGGER_PREFIXES = ["=", "+", "-", "@", "\t", "\r", " =", "\u3000＋", "\u202e-", "﹫", "\x00="]


def _first_visible(text: str) -> str:
    for char in text:
        if char.isspace() or unicodedata.category(char) in {"Cc", "Cf"}:
            continue
        return unicodedata.normalize("NFKC", char)[:1]
    return ""


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(),
            st.builds(str.__add__, st.sampled_from(_TRIGGER_PREFIXES), st.text()),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_parsed_text_never_starts_a_formula(cells: list[str]) -> None:
    header = [f"c{i}" for i in range(len(cells))]
    parsed = _parse(stream_csv(header, [cells]))
    assert parsed == [header, [neutralise(cell) for cell in cells]]
    for cell in parsed[1]:
        if not cell.startswith("'"):
            assert cell[:1] not in {"=", "+", "-", "@", "\t", "\r"}
            assert _first_visible(cell) not in {"=", "+", "-", "@"}
            assert "\x00" not in cell


# --- csv_filename --------------------------------------------------------------------------


def test_filename_follows_the_documented_pattern() -> None:
    moment = datetime(2026, 11, 26, 3, 5, 59, tzinfo=UTC)
    assert csv_filename("sellers", moment, country="DE") == (
        "labelkeeper-sellers-2026-11-26T0305Z-country-DE.csv"
    )


def test_filename_time_is_utc() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 26, 4, 5, tzinfo=berlin_winter)
    assert csv_filename("inspections", moment) == "labelkeeper-inspections-2026-11-26T0305Z.csv"
    assert csv_filename("inspections", moment.replace(tzinfo=None)) == (
        "labelkeeper-inspections-2026-11-26T0405Z.csv"
    )


def test_filename_keeps_only_safe_characters() -> None:
    moment = datetime(2026, 11, 26, 3, 5)
    name = csv_filename("sellers/../etc", moment, seller="Müller & Co \"x\"", status="")
    assert name == "labelkeeper-sellers_.._etc-2026-11-26T0305Z-seller-M_ller___Co__x_.csv"
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def test_filename_is_capped_at_150_characters_and_keeps_its_extension() -> None:
    name = csv_filename("sellers", datetime(2026, 11, 26), q="x" * 500)
    assert len(name) == 150
    assert name.endswith("x.csv")


# --- purity --------------------------------------------------------------------------------
