"""Listing import: all or nothing, sellers resolved, re-import updates."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import db
from qc.models import Listing
from tests.conftest import csrf_token
from tests.web.test_sellers import import_file

DATA = Path(__file__).parent.parent / "data"


def import_listings(client: FlaskClient, content: bytes):  # type: ignore[no-untyped-def]
    return client.post("/qc/listings/import", data={
        "csrf_token": csrf_token(client, "/qc/listings/import"),
        "file": (io.BytesIO(content), "listings.csv")}, content_type="multipart/form-data")


def count() -> int:
    return db.session.execute(select(func.count()).select_from(Listing)).scalar_one()


def test_listing_import_needs_known_sellers_and_is_all_or_nothing(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    sample = (DATA / "listings_sample.csv").read_bytes()
    unknown = import_listings(client, sample).get_data(as_text=True)
    assert "Nothing was imported" in unknown
    assert "register the seller first" in unknown
    assert count() == 0

    import_file(client, (DATA / "sellers_sample.csv").read_bytes())
    bad = import_listings(client, (DATA / "listings_bad_row.csv").read_bytes())
    page = bad.get_data(as_text=True)
    assert "Nothing was imported: 2 problems" in page
    assert "<td>10</td><td>promised_grade</td>" in page
    assert "<td>10</td><td>price_eur</td>" in page
    assert count() == 0

    good = import_listings(client, sample)
    assert "Imported listings: 16 new, 0 updated." in good.get_data(as_text=True)
    assert count() == 16
    changed = sample.replace(b"379,00", b"374,50")
    again = import_listings(client, changed)
    assert "Imported listings: 0 new, 1 updated." in again.get_data(as_text=True)
    assert count() == 16
    assert db.session.execute(select(Listing).where(
        Listing.price_cents == 37_450)).scalar_one().sku == "RCT-IPADAIR4-64-GRY"
    listing_page = client.get("/qc/listings?q=iphone").get_data(as_text=True)
    assert "iPhone" in listing_page
