"""Hostile CSV files on the seller and listing imports: wrong encodings, ragged rows, formula
injection, broken quoting, huge line counts. All or nothing, never a 5xx, and every imported
value stored as it was in the file."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from core.db import db
from qc.listing_csv import LISTING_COLUMNS
from qc.models import Listing
from tests.factories import SellerFactory
from tests.web.hostile import ODD_STRINGS, Poster, nasty_text, text_chars, web_settings
from vetting.models import Seller
from vetting.seller_csv import COLUMNS as SELLER_COLUMNS

ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32")
FORMULAS = ("=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "=cmd|'/C calc'!A0")
counter = itertools.count(1)


def valid_seller_row() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({
        "legal_name": st.one_of(st.text(text_chars, min_size=1, max_size=60),
                                st.sampled_from(FORMULAS)),
        "trading_name": st.one_of(st.just(""), st.sampled_from(FORMULAS)),
        "country": st.just("DE"), "registration_number": st.just("HRB"),
        "vat_id": st.integers(100_000_000, 999_999_999).map(lambda n: f"DE{n}"),
        "contact_email": st.just("a@b.example"), "website": st.just(""),
        "device_categories": st.sampled_from(["smartphone", "laptop;tablet", "console|tablet"]),
        "declared_monthly_volume": st.integers(0, 10**6).map(str)})


def cell() -> st.SearchStrategy[str]:
    return st.one_of(nasty_text((64, 200)), st.sampled_from(FORMULAS))


@st.composite
def csv_file(draw: st.DrawFn, columns: tuple[str, ...],
             valid_row: st.SearchStrategy[dict[str, str]] | None) -> bytes:
    """A CSV file: a (possibly damaged) header, valid or hostile rows, any encoding."""
    header = list(draw(st.permutations(columns)))
    damage = draw(st.sampled_from(["none", "none", "drop", "duplicate", "unknown", "blank"]))
    if damage == "drop":
        header.pop()
    elif damage == "duplicate":
        header.append(header[0])
    elif damage == "unknown":
        header.append(draw(nasty_text((20,))))
    elif damage == "blank":
        header.insert(0, "")
    rows: list[list[str]] = []
    for _ in range(draw(st.integers(0, 4))):
        if valid_row is not None and draw(st.booleans()):
            values = draw(valid_row)
            values = {**values, "registration_number": f"HRB {next(counter)}"} \
                if "registration_number" in values else values
            row = [values.get(name, "") for name in header]
        else:
            row = [draw(cell()) for _ in header]
        ragged = draw(st.sampled_from(["ok", "ok", "short", "long"]))
        if ragged == "short":
            row = row[:-1]
        elif ragged == "long":
            row = [*row, draw(cell())]
        rows.append(row)
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=draw(
        st.sampled_from(["\r\n", "\n", "\r"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    if draw(st.integers(0, 9)) == 0:  # broken quoting
        text = text.replace(delimiter, delimiter + '"', 1)
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace")


def rows_of(content: bytes, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of an accepted file, read with whichever of the generated delimiters gives
    the expected header (the import detects it the same way a spreadsheet user would)."""
    text = content.decode("utf-8-sig")
    for delimiter in (",", ";", "\t"):
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        if reader.fieldnames and set(columns) & {f.strip() for f in reader.fieldnames}:
            return [{k.strip(): v for k, v in row.items() if k is not None}
                    for row in reader]
    raise AssertionError("an accepted file without a readable header")


def import_post(poster: Poster, path: str, content: bytes, name: str = "file.csv"):  # type: ignore[no-untyped-def]
    return poster.post(path, {"file": (io.BytesIO(content), name)}, multipart=True)


def test_seller_import(client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    poster = Poster(client)

    @web_settings
    @given(content=csv_file(tuple(SELLER_COLUMNS), valid_seller_row()),
           name=st.one_of(st.just("sellers.csv"), nasty_text((200,))))
    def run(content: bytes, name: str) -> None:
        before = set(db.session.execute(select(Seller.id)).scalars())
        outcome = import_post(poster, "/vetting/sellers/import", content, name)
        if outcome.accepted:
            db.session.expire_all()
            rows = rows_of(content, tuple(SELLER_COLUMNS))
            new = db.session.execute(select(Seller).where(Seller.id.not_in(before))).scalars()
            stored = {(s.legal_name, s.trading_name) for s in new}
            assert stored <= {(r.get("legal_name", "").strip(),
                               (r.get("trading_name") or "").strip()) for r in rows}

    run()


def valid_listing_row(sellers: list[Seller]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({
        "seller_registration_number": st.sampled_from([s.registration_number for s in sellers]),
        "seller_country": st.just("de"),
        "sku": st.one_of(st.text(text_chars, min_size=1, max_size=64).filter(str.strip),
                         st.sampled_from(FORMULAS)),
        "device_model": st.one_of(st.text(text_chars, min_size=1, max_size=200)
                                  .filter(str.strip), st.sampled_from(FORMULAS)),
        "category": st.sampled_from(["smartphone", "Laptop"]),
        "promised_grade": st.sampled_from(["good", "FAIR"]),
        "price_eur": st.sampled_from(["0.01", "499,00", "100000", "12.5"]),
        "monthly_units": st.integers(0, 10**6).map(str)})


def test_listing_import(app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    sellers = [SellerFactory(), SellerFactory()]
    db.session.commit()
    poster = Poster(client)

    @web_settings
    @given(content=csv_file(LISTING_COLUMNS, valid_listing_row(sellers)))
    def run(content: bytes) -> None:
        outcome = import_post(poster, "/qc/listings/import", content)
        if outcome.accepted:
            db.session.expire_all()
            listings = {(item.sku, item.device_model) for item in
                        db.session.execute(select(Listing)).scalars()}
            for row in rows_of(content, LISTING_COLUMNS):
                assert (row["sku"].strip(), row["device_model"].strip()) in listings

    run()


def test_odd_strings_in_every_seller_column(client: FlaskClient,
                                            login: Callable[..., object]) -> None:
    """Each odd string in each column of an otherwise valid file: refused or stored as is."""
    login("vetting")
    poster = Poster(client)
    good = {"legal_name": "Alpha GmbH", "trading_name": "", "country": "DE",
            "registration_number": "HRB 1", "vat_id": "DE811907980",
            "contact_email": "a@b.example", "website": "", "device_categories": "tablet",
            "declared_monthly_volume": "5"}
    for column in SELLER_COLUMNS:
        for value in ODD_STRINGS:
            row = {**good, "registration_number": f"HRB {next(counter)}", column: value}
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=SELLER_COLUMNS)
            writer.writeheader()
            writer.writerow(row)
            outcome = import_post(poster, "/vetting/sellers/import",
                                  buffer.getvalue().encode("utf-8", "replace"))
            if outcome.accepted and column == "legal_name":
                db.session.expire_all()
                assert db.session.execute(select(Seller).where(
                    Seller.legal_name == value.strip())).scalars().first() is not None


def big_file(columns: tuple[str, ...], row: dict[str, str], count: int) -> bytes:
    lines = [",".join(columns)]
    lines += [",".join(row[c] for c in columns)] * count
    return ("\n".join(lines) + "\n").encode()


def test_huge_line_counts_are_refused_with_a_message(client: FlaskClient,
                                                     login: Callable[..., object]) -> None:
    login("vetting")
    poster = Poster(client)
    seller = {"legal_name": "A", "trading_name": "", "country": "DE",
              "registration_number": "HRB 1", "vat_id": "DE811907980",
              "contact_email": "a@b.example", "website": "", "device_categories": "tablet",
              "declared_monthly_volume": "5"}
    outcome = import_post(poster, "/vetting/sellers/import",
                          big_file(SELLER_COLUMNS, seller, 10_001))
    assert not outcome.accepted
    assert "more than 10000 sellers" in outcome.page
    listing: dict[str, Any] = {"seller_registration_number": "HRB 1", "seller_country": "DE",
                               "sku": "S", "device_model": "M", "category": "tablet",
                               "promised_grade": "good", "price_eur": "1",
                               "monthly_units": "1"}
    outcome = import_post(poster, "/qc/listings/import",
                          big_file(LISTING_COLUMNS, listing, 50_001))
    assert not outcome.accepted
    assert "more than 50000 listings" in outcome.page
    # Blank lines by the million cost nothing and import nothing.
    outcome = import_post(poster, "/vetting/sellers/import",
                          b",".join(c.encode() for c in SELLER_COLUMNS) + b"\n" * 2_000_000)
    assert not outcome.accepted
    assert "no sellers" in outcome.page


def test_an_upload_beyond_the_request_limit_is_a_413_page(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    poster = Poster(client)
    limit = app.config["MAX_CONTENT_LENGTH"]
    outcome = import_post(poster, "/vetting/sellers/import", b"x" * (limit + 1))
    assert outcome.status == 413
    assert "larger than the limit" in outcome.page
    # A multipart text field beyond the form memory limit (MAX_FORM_MEMORY_SIZE) likewise.
    outcome = poster.post("/vetting/sellers/new", {"legal_name": "x" * 600_000}, multipart=True)
    assert outcome.status == 413
    assert "larger than the limit" in outcome.page
