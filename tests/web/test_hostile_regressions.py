"""The failing examples the hostile-input properties found, kept as plain regression tests."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import db
from core.models import AuditEntry
from qc.models import Inspection, TestOrder
from tests.conftest import csrf_token, post_form
from tests.web.hostile import fingerprint
from tests.web.qc_helpers import NOW, inspect
from tests.web.test_hostile_forms import application_in_review
from tests.web.test_hostile_qc_compliance import make_order
from tests.web.test_hostile_uploads import HTML, png
from tests.web.vetting_helpers import SELLER, record
from vetting.models import Seller
from vetting.seller_csv import COLUMNS


def audits() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def test_signalling_nan_and_infinity_are_not_numbers(app: Flask, client: FlaskClient,
                                                     login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector")
    order = make_order("planned")
    for amount in ("sNaN", "-sNaN", "Infinity"):  # sNaN was a 500 (NumberRange cannot compare)
        response = post_form(client, f"/qc/orders/{order.id}/place", {
            "marketplace_ref": "MP-1", "price_paid": amount, "buyer_account": "b@x.example",
            "version": order.version})
        assert response.status_code == 400
        assert "Not a valid" in page(response)
    assert db.session.get(TestOrder, order.id).status == "planned"


def test_more_decimals_than_cents_are_refused_not_cut_off(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector")
    order = make_order("planned")
    response = post_form(client, f"/qc/orders/{order.id}/place", {
        "marketplace_ref": "MP-1", "price_paid": "450.999", "buyer_account": "b@x.example",
        "version": order.version})
    assert response.status_code == 400
    assert "at most 2 decimals" in page(response)
    response = post_form(client, f"/qc/orders/{order.id}/place", {
        "marketplace_ref": "MP-1", "price_paid": "450.9900", "buyer_account": "b@x.example",
        "version": order.version})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(TestOrder, order.id).price_paid_cents == 45_099


def test_a_checklist_row_index_that_is_not_an_ascii_number_is_ignored(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    client.get("/vetting/checklist")
    response = post_form(client, "/vetting/checklist/edit", {
        "note": "x", "items-²-code": "A", "items-²-title": "B", "items-²-category": "legal"})
    assert response.status_code == 200  # was a 500: int("²") after "²".isdigit()


def test_nul_characters_are_refused_before_they_reach_the_database(
        client: FlaskClient, login: Callable[..., object]) -> None:
    before = fingerprint(frozenset({"login_attempts"}))
    response = client.post("/login", data={"email": "a\x00@b.example", "password": "x",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 400  # was a 500 on PostgreSQL
    assert "NUL character" in page(response)
    login("vetting")
    response = client.get("/vetting/sellers", query_string={"q": "a\x00"})
    assert response.status_code == 400
    response = post_form(client, "/vetting/sellers/new", {**SELLER, "legal_name": "A\x00B"})
    assert response.status_code == 400
    assert "NUL character" in page(response)
    assert client.get("/compliance/reports/%00").status_code in (400, 403)
    assert fingerprint(frozenset({"login_attempts"}))["sellers"] == before["sellers"]


def test_a_registration_number_whose_key_grows_beyond_64_is_refused(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    response = post_form(client, "/vetting/sellers/new",
                         {**SELLER, "registration_number": "ß" * 64})
    assert response.status_code == 200  # was a 500 on PostgreSQL: the key "ss" * 64
    assert "longer than 64 characters" in page(response)
    row = {**dict.fromkeys(COLUMNS, ""), "legal_name": "A", "country": "DE",
           "registration_number": "ß" * 40, "vat_id": "DE811907980",
           "contact_email": "a@b.example", "device_categories": "tablet",
           "declared_monthly_volume": "1"}
    csv = (",".join(COLUMNS) + "\n" + ",".join(row[c] for c in COLUMNS) + "\n").encode()
    response = client.post("/vetting/sellers/import", data={
        "csrf_token": csrf_token(client, "/vetting/sellers/import"),
        "file": (io.BytesIO(csv), "s.csv")}, content_type="multipart/form-data")
    assert "registration_number is longer than 64" in page(response)
    assert db.session.execute(select(func.count()).select_from(Seller)).scalar_one() == 0


def test_an_imported_website_longer_than_the_column_is_refused(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    row = {**dict.fromkeys(COLUMNS, ""), "legal_name": "A", "country": "DE",
           "registration_number": "HRB 1", "vat_id": "DE811907980",
           "contact_email": "a@b.example", "device_categories": "tablet",
           "declared_monthly_volume": "1", "website": "https://a.example/" + "p" * 290}
    csv = (",".join(COLUMNS) + "\n" + ",".join(row[c] for c in COLUMNS) + "\n").encode()
    response = client.post("/vetting/sellers/import", data={
        "csrf_token": csrf_token(client, "/vetting/sellers/import"),
        "file": (io.BytesIO(csv), "s.csv")}, content_type="multipart/form-data")
    assert "website is longer than 300 characters" in page(response)


def test_a_checklist_code_that_grows_in_capitals_is_refused(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    client.get("/vetting/checklist")
    before = audits()
    response = post_form(client, "/vetting/checklist/edit", {
        "note": "x", "items-0-code": "ß" * 20, "items-0-title": "T",
        "items-0-category": "legal"})
    assert "longer than 20 characters" in page(response)  # "SS" * 20 was a 500 on PostgreSQL
    assert audits() == before


def test_throttling_a_long_email_is_recorded(app: Flask, client: FlaskClient) -> None:
    app.config["LOGIN_MAX_FAILURES"] = 2
    email = "a" * 60 + "@" + "b" * 180 + ".example"
    for _ in range(3):
        response = client.post("/login", data={"email": email, "password": "wrong",
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 200  # the audit entity id was > 64: a 500 on PostgreSQL
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "auth.throttled")).scalar_one()
    assert entry.entity_id == email[:64]


def test_a_refused_photo_leaves_no_file_of_the_others(app: Flask, client: FlaskClient,
                                                      login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector")
    order = make_order("received")
    response = inspect(client, order, files=[(io.BytesIO(png(3, 3)), "good.png"),
                                             (io.BytesIO(HTML), "bad.png")])
    assert response.status_code == 400
    assert "not a PDF, PNG or JPEG" in page(response)
    folder = Path(app.config["EVIDENCE_DIR"])
    assert not [p for p in folder.rglob("*") if p.is_file()]
    assert db.session.execute(select(func.count()).select_from(Inspection)).scalar_one() == 0


def test_a_refused_form_that_the_page_does_not_show_is_explained(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector")
    order = make_order("placed")  # the page shows no "place" form any more
    response = post_form(client, f"/qc/orders/{order.id}/place", {"marketplace_ref": "MP-9"})
    assert response.status_code == 400
    assert "Nothing was saved." in page(response)
    assert "reload it and try again" in page(response)


def test_a_decision_refused_for_a_reviewer_is_explained(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    application = application_in_review(client)
    assert record(client, application, application.items[0].id, "pass").status_code == 302
    response = post_form(client, f"/vetting/applications/{application.id}/decision",
                         {"reason": "x", "version": "11"})
    assert response.status_code == 400
    assert "Choose approve or reject." in page(response)


def test_a_report_ending_on_the_last_representable_day_is_refused(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    from tests.factories import SellerFactory

    app.config["CLOCK"] = lambda: NOW
    login("compliance")
    seller = SellerFactory()
    db.session.commit()
    response = post_form(client, "/compliance/reports", {
        "kind": "dossier", "seller_id": seller.id, "date_from": "9999-12-30",
        "date_to": "9999-12-31"}, token_from="/compliance/reports")
    assert response.status_code == 400  # rendering it in the request was an OverflowError
    assert "more than ten years from now" in page(response)


def test_a_checklist_row_with_a_code_and_no_title_field_is_explained(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    client.get("/vetting/checklist")
    before = audits()
    response = post_form(client, "/vetting/checklist/edit", {
        "note": "x", "items-0-code": "A1", "items-0-category": "legal"})  # no title field
    assert response.status_code == 200  # was a 500: None.strip()
    assert "needs both a code and a title" in page(response)
    assert audits() == before
