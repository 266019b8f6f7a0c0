"""Sellers: registration, validation, import, list, and the label dates."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from core.db import db
from core.models import AuditEntry
from tests.conftest import csrf_token, post_form
from tests.factories import SellerFactory
from tests.web.vetting_helpers import SELLER, create_seller
from vetting.models import LabelEvent, Seller

DATA = Path(__file__).parent.parent / "data"


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def import_file(client: FlaskClient, content: bytes, name: str = "sellers.csv"):  # type: ignore[no-untyped-def]
    return client.post("/vetting/sellers/import", data={
        "csrf_token": csrf_token(client, "/vetting/sellers/import"),
        "file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_duplicate_seller_is_refused_even_with_other_spacing(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    first = create_seller(client)
    response = post_form(client, "/vetting/sellers/new",
                         {**SELLER, "registration_number": "kvk81234567", "country": "nl"})
    assert response.status_code == 200
    assert (f"already registered with registration number KvK 81234567 in NL "
            f"(seller #{first.id})") in response.get_data(as_text=True)
    assert count(Seller) == 1


def test_invalid_country_vat_and_email_get_field_messages(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    cases = [
        ({"country": "XX"}, "country"),
        ({"country": "UK"}, "GB"),
        ({"vat_id": "DE123"}, "VAT"),
        ({"vat_id": "DE811907980"}, "NL"),
        ({"contact_email": "not-an-email"}, "email"),
        ({"website": "ftp://x"}, "http"),
        ({"declared_monthly_volume": "-5"}, "between 0 and 1000000"),
        ({"declared_monthly_volume": "NaN"}, "Not a valid integer value."),
        ({"legal_name": "x" * 201}, "cannot be longer than 200"),
        ({"device_categories": ["toaster"]}, "is not a valid choice"),
    ]
    for change, needle in cases:
        response = post_form(client, "/vetting/sellers/new", {**SELLER, **change})
        assert response.status_code == 200, change
        assert needle in response.get_data(as_text=True), (change, needle)
    assert count(Seller) == 0
    assert count(AuditEntry) == 1  # only the sign-in


def test_edit_seller_and_stale_edit_is_refused(client: FlaskClient,
                                               login: Callable[..., object]) -> None:
    login("vetting")
    seller = create_seller(client)
    form = {**SELLER, "version": seller.version}
    assert post_form(client, f"/vetting/sellers/{seller.id}/edit",
                     {**form, "trading_name": "Phoenix NL"}).status_code == 302
    stale = post_form(client, f"/vetting/sellers/{seller.id}/edit",
                      {**form, "trading_name": "Phoenix Other"})
    assert "Someone else changed this seller" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Seller, seller.id).trading_name == "Phoenix NL"
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "seller.updated")).scalar_one()
    assert '"trading_name":{"from":"Phoenix","to":"Phoenix NL"}' in entry.payload


def test_csv_import_is_all_or_nothing_and_idempotent(client: FlaskClient,
                                                     login: Callable[..., object]) -> None:
    login("vetting")
    bad = import_file(client, (DATA / "sellers_bad_row.csv").read_bytes())
    page = bad.get_data(as_text=True)
    assert "Nothing was imported: 2 problems" in page
    assert "<td>6</td><td>country</td>" in page
    assert "<td>6</td><td>vat_id</td>" in page
    assert count(Seller) == 0

    good = import_file(client, (DATA / "sellers_sample.csv").read_bytes())
    assert "Imported 8 new sellers; 0 were already registered." in good.get_data(as_text=True)
    assert count(Seller) == 8
    again = import_file(client, (DATA / "sellers_sample.csv").read_bytes())
    assert "Imported 0 new sellers; 8 were already registered." in again.get_data(as_text=True)
    assert count(Seller) == 8
    greek = db.session.execute(select(Seller).where(Seller.country == "GR")).scalar_one()
    assert greek.trading_name == "ReDevice Hellas"


def test_csv_import_reports_file_level_problems(client: FlaskClient,
                                                login: Callable[..., object]) -> None:
    login("vetting")
    for content, needle in [
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b"legal_name,country\nX,DE\n", "registration_number"),
        (b"", "empty"),
    ]:
        page = import_file(client, content).get_data(as_text=True)
        assert "Nothing was imported" in page
        assert needle in page, needle
    assert count(Seller) == 0


def test_csv_import_without_a_file_says_so(client: FlaskClient,
                                           login: Callable[..., object]) -> None:
    login("vetting")
    response = post_form(client, "/vetting/sellers/import", {},
                         token_from="/vetting/sellers/import")
    assert "Choose a CSV file." in response.get_data(as_text=True)


def test_seller_list_search_filters_and_pagination(client: FlaskClient,
                                                   login: Callable[..., object]) -> None:
    login("compliance")
    for i in range(30):
        SellerFactory(legal_name=f"Alpha {i:02d} GmbH", country="DE")
    SellerFactory(legal_name="Beta Refurb SAS", country="FR", label_status="active",
                  sampling_state="onboarding", vat_id="FR40852379114")
    db.session.commit()
    first = client.get("/vetting/sellers").get_data(as_text=True)
    assert "1–25 of 31" in first
    fr = client.get("/vetting/sellers?country=FR").get_data(as_text=True)
    assert "Beta Refurb SAS" in fr
    assert "Alpha 00" not in fr
    active = client.get("/vetting/sellers?label_status=active").get_data(as_text=True)
    assert "Beta Refurb SAS" in active
    assert "Alpha" not in active
    none = client.get("/vetting/sellers?label_status=none&q=alpha 07").get_data(as_text=True)
    assert "Alpha 07 GmbH" in none
    assert "Alpha 08" not in none
    state = client.get("/vetting/sellers?sampling_state=onboarding").get_data(as_text=True)
    assert "Beta Refurb SAS" in state
    assert "Alpha" not in state
    vat = client.get("/vetting/sellers?q=fr40852379114").get_data(as_text=True)
    assert "Beta Refurb SAS" in vat
    nothing = client.get("/vetting/sellers?q=zzz").get_data(as_text=True)
    assert "No sellers match." in nothing


def test_label_expiry_job_and_due_list(app: Flask, client: FlaskClient,
                                       runner: FlaskCliRunner,
                                       login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: datetime(2027, 3, 1, 6, 0)
    due = SellerFactory(legal_name="Due Soon GmbH", trading_name="", label_status="active",
                        label_valid_from=date(2026, 3, 20), label_valid_until=date(2027, 3, 20),
                        sampling_state="normal")
    lapsed = SellerFactory(legal_name="Lapsed GmbH", trading_name="", label_status="active",
                           label_valid_from=date(2026, 2, 27),
                           label_valid_until=date(2027, 2, 27), sampling_state="reduced")
    later = SellerFactory(legal_name="Later GmbH", trading_name="", label_status="active",
                          label_valid_from=date(2026, 9, 1), label_valid_until=date(2027, 9, 1))
    db.session.commit()
    listed = runner.invoke(args=["labels", "due"])
    assert "Due Soon GmbH" in listed.output
    assert "Later GmbH" not in listed.output
    login("vetting")
    home = client.get("/").get_data(as_text=True)
    assert "Due Soon GmbH</a> — ends 2027-03-20 (19 days)" in home

    result = runner.invoke(args=["labels", "expire"])
    assert result.exit_code == 0, result.output
    assert "1 label(s) expired." in result.output
    db.session.expire_all()
    lapsed = db.session.get(Seller, lapsed.id)
    assert (lapsed.label_status, lapsed.sampling_state) == ("expired", None)
    assert db.session.get(Seller, due.id).label_status == "active"
    assert db.session.get(Seller, later.id).label_status == "active"
    event = db.session.execute(select(LabelEvent)).scalar_one()
    assert (event.from_status, event.to_status, event.actor) == ("active", "expired", "system")
    assert "2027-02-27" in event.reason
    again = runner.invoke(args=["labels", "expire"])
    assert "0 label(s) expired." in again.output
    assert count(LabelEvent) == 1


def test_labels_cli_rejects_a_bad_date(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["labels", "expire", "--on", "31/12/2026"])
    assert result.exit_code == 2
    assert "use the form YYYY-MM-DD" in result.output


def test_demo_sellers_pass_validation(app: Flask, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert count(Seller) == 3


def test_vetting_dashboard_lists_waiting_applications(client: FlaskClient,
                                                      login: Callable[..., object]) -> None:
    login("vetting")
    seller = create_seller(client)
    post_form(client, f"/vetting/sellers/{seller.id}/applications", {})
    home = client.get("/").get_data(as_text=True)
    assert "Applications waiting" in home
    assert ">draft</a></td><td>1</td><td>0 days</td>" in home
