"""Marketplace signals: CSV import (page and command), seller page, compliance file, dossier."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from core.db import db
from core.models import AuditEntry
from qc.models import MarketplaceSignal
from qc.services.marketplace_signals import import_signal_rows
from qc.signal_csv import SignalRow
from tests.conftest import csrf_token
from tests.factories import SellerFactory
from tests.web.qc_helpers import NOW
from tests.web.test_reports import download, latest_report, pdf_pages, request_report
from vetting.models import Seller

HEADER = "seller_registration_number,seller_country,month,orders,returns,warranty_claims\n"


def import_signals(client: FlaskClient, content: str | bytes, name: str = "signals.csv"):  # type: ignore[no-untyped-def]
    data = content.encode() if isinstance(content, str) else content
    return client.post("/qc/signals/import", data={
        "csrf_token": csrf_token(client, "/qc/signals/import"),
        "file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def stored() -> dict[tuple[int, str], tuple[int | None, int, int]]:
    db.session.expire_all()
    return {(s.seller_id, f"{s.month:%Y-%m}"): (s.orders, s.customer_returns, s.warranty_claims)
            for s in db.session.execute(select(MarketplaceSignal)).scalars()}


def audit_entries() -> list[AuditEntry]:
    return list(db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "signals.imported").order_by(AuditEntry.seq)).scalars())


@pytest.fixture
def sellers(app: Flask) -> tuple[Seller, Seller]:
    app.config["CLOCK"] = lambda: NOW  # June 2026
    first = SellerFactory(registration_number="HRB 204871", country="DE")
    second = SellerFactory(registration_number="852 379 114", country="FR",
                           legal_name="Seconde Vie SAS")
    db.session.commit()
    return first, second


GOOD = (HEADER
        + "HRB 204871,DE,2026-05,265,9,2\n"
        + "hrb204871,de,2026-04,250,25,5\n"
        + "852 379 114,FR,2026-05,,3,1\n")


def test_import_is_all_or_nothing_and_a_reimport_replaces_the_month(
        client: FlaskClient, login: Callable[..., object], sellers: tuple[Seller, Seller]) -> None:
    first, second = sellers
    login("compliance")
    bad = import_signals(client, GOOD + "HRB 999,DE,2026-05,1,1,1\n"
                         + "HRB 204871,DE,2026-13,-4,NaN,1\n"
                         + "852 379 114,FR,2026-07,1,0,0\n"
                         + "852 379 114,FR,2026-05,1,0,0\n")
    page = bad.get_data(as_text=True)
    assert "Nothing was imported: 6 problems" in page
    assert "<td>5</td><td>seller_registration_number</td>" in page
    assert "No seller with registration number HRB 999 in DE" in page
    assert "<td>6</td><td>month</td>" in page
    assert "<td>6</td><td>orders</td>" in page
    assert "<td>6</td><td>returns</td>" in page
    assert "2026-07 has not begun yet" in page
    assert "Duplicate of row 4" in page
    assert stored() == {}
    assert audit_entries() == []

    good = import_signals(client, GOOD, name="may.csv")
    assert "Imported marketplace figures: 3 new, 0 replaced, 0 unchanged." in \
        good.get_data(as_text=True)
    assert stored() == {(first.id, "2026-05"): (265, 9, 2), (first.id, "2026-04"): (250, 25, 5),
                        (second.id, "2026-05"): (None, 3, 1)}

    again = import_signals(client, HEADER + "HRB 204871,DE,2026-05,270,12,2\n"
                           + "852 379 114,FR,2026-05,,3,1\n", name="may-corrected.csv")
    assert "Imported marketplace figures: 0 new, 1 replaced, 1 unchanged." in \
        again.get_data(as_text=True)
    assert stored()[(first.id, "2026-05")] == (270, 12, 2)
    assert len(stored()) == 3

    entries = audit_entries()
    assert [e.actor for e in entries] == ["compliance@example.test"] * 2
    payload = json.loads(entries[-1].payload)
    assert payload["source"] == "may-corrected.csv"
    assert (payload["created"], payload["updated"], payload["unchanged"]) == (0, 1, 1)
    assert payload["replaced"] == [{
        "seller_id": first.id, "month": "2026-05",
        "old": {"orders": 265, "returns": 9, "warranty_claims": 2},
        "new": {"orders": 270, "returns": 12, "warranty_claims": 2}}]
    row = db.session.execute(select(MarketplaceSignal).where(
        MarketplaceSignal.seller_id == first.id, MarketplaceSignal.month == date(2026, 5, 1))
    ).scalar_one()
    assert row.source == "may-corrected.csv"
    assert row.imported_by is not None
    assert row.imported_by.email == "compliance@example.test"


def test_a_wrong_header_imports_nothing(client: FlaskClient, login: Callable[..., object],
                                        sellers: tuple[Seller, Seller]) -> None:
    login("admin")
    page = import_signals(client, "seller,month,claims\nHRB 204871,2026-05,1\n") \
        .get_data(as_text=True)
    assert "Nothing was imported" in page
    assert "Unknown column &#39;seller&#39;" in page
    assert "Required column &#39;returns&#39; is missing" in page
    assert stored() == {}


@pytest.mark.parametrize("roles", [("inspector",), ("vetting",)])
def test_only_compliance_and_admin_may_import(
        client: FlaskClient, login: Callable[..., object], sellers: tuple[Seller, Seller],
        roles: tuple[str, ...]) -> None:
    login(*roles)
    assert client.get("/qc/signals/import").status_code == 403
    response = client.post("/qc/signals/import", data={
        "file": (io.BytesIO(GOOD.encode()), "signals.csv")}, content_type="multipart/form-data")
    assert response.status_code == 403
    assert stored() == {}


def test_seller_page_and_compliance_file_show_the_figures_as_information(
        client: FlaskClient, login: Callable[..., object], sellers: tuple[Seller, Seller]) -> None:
    first, second = sellers
    login("vetting", "compliance")
    page = client.get(f"/vetting/sellers/{first.id}").get_data(as_text=True)
    assert "No marketplace figures for these months." in page
    assert import_signals(client, GOOD + "HRB 204871,DE,2025-06,999,99,99\n").status_code == 200
    page = client.get(f"/vetting/sellers/{first.id}").get_data(as_text=True)
    section = page[page.index('data-testid="marketplace-signals"'):]
    section = section[:section.index("</section>")]
    assert "2025-07 to 2026-06" in section
    assert "the label decision rests on the test orders alone" in section
    assert "2026-05</td>" in section
    assert "3.4 %" in section  # 9 returns of 265 orders
    assert "10.0 %" in section  # 25 of 250
    assert "Total" in section
    assert "6.6 %" in section  # 34 of 515 over both months
    assert "2025-06" not in section.replace("2025-06-", "")  # a 13th month back is left out
    assert "999" not in section
    file_page = client.get(f"/compliance/sellers/{second.id}").get_data(as_text=True)
    assert 'data-testid="marketplace-signals"' in file_page
    assert "1 month without reported orders" in file_page


def test_dossier_has_a_marketplace_signals_section(
        client: FlaskClient, login: Callable[..., object], sellers: tuple[Seller, Seller]) -> None:
    first, _ = sellers
    login("compliance")
    import_signals(client, GOOD + "HRB 204871,DE,2025-11,300,30,6\n")
    assert request_report(client, kind="dossier", seller_id=first.id, date_from="2026-01-01",
                          date_to="2026-06-30").status_code == 302
    text = " ".join(" ".join(pdf_pages(download(client, latest_report()))).split())
    assert "3a. Marketplace signals" in text
    assert "2026-01 to 2026-06" in text
    assert "2026-05 265 9 3.4 % 2 0.8 %" in text
    assert "2026-04 250 25 10.0 % 5 2.0 %" in text
    assert "2025-11" not in text  # before the dossier's range
    assert "label decisions rest on the test orders" in text


def test_cli_import_reports_problems_and_imports(app: Flask, runner: FlaskCliRunner,
                                                 sellers: tuple[Seller, Seller],
                                                 tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "HRB 204871,DE,2026/05,1,1,1\n")
    result = runner.invoke(args=["qc", "signals", "import", str(bad)])
    assert result.exit_code == 1
    assert "row 2 [month]: month must be a calendar month written YYYY-MM" in result.output
    assert "nothing imported: 1 problem(s)" in result.output
    assert stored() == {}
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    result = runner.invoke(args=["qc", "signals", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "imported good.csv: 3 new, 0 replaced, 0 unchanged" in result.output
    assert len(stored()) == 3
    assert audit_entries()[-1].actor == "system"
    unknown = runner.invoke(args=["qc", "signals", "import", str(good), "--as", "x@y.test"])
    assert unknown.exit_code == 1
    assert "No account x@y.test" in unknown.output


def test_rows_from_another_source_are_checked_and_stored_the_same_way(
        app: Flask, sellers: tuple[Seller, Seller]) -> None:
    first, _ = sellers
    row = SignalRow(1, "HRB 204871", "DE", date(2026, 6, 1), 10, 1, 0)
    twice = import_signal_rows([row, SignalRow(2, "HRB204871", "DE", date(2026, 6, 1), 11, 1,
                                               0)], "api", None)
    assert [(e.row, e.column) for e in twice.errors] == [(2, "month")]
    assert import_signal_rows([], "api", None).errors
    negative = import_signal_rows([SignalRow(3, "HRB 204871", "DE", date(2026, 5, 1), None, -1,
                                             0)], "api", None)
    assert [(e.row, e.column) for e in negative.errors] == [(3, "returns")]
    outcome = import_signal_rows([row], "api", None)
    db.session.commit()
    assert (outcome.created, outcome.errors) == (1, ())
    assert stored() == {(first.id, "2026-06"): (10, 1, 0)}
    assert db.session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "signals.imported")).scalar_one() == 1


def test_demo_seed_gives_the_demo_sellers_some_months(
        app: Flask, runner: FlaskCliRunner, client: FlaskClient,
        login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    first = runner.invoke(args=["demo", "seed"])
    assert "Marketplace signals: 12 seller-months created." in first.output
    again = runner.invoke(args=["demo", "seed"])
    assert "Marketplace signals: 0 seller-months created." in again.output
    renewd = db.session.execute(select(Seller).where(
        Seller.registration_number == "HRB 204871")).scalar_one()
    login("vetting")
    page = client.get(f"/vetting/sellers/{renewd.id}").get_data(as_text=True)
    assert "2026-05</td>" in page  # the month before the clock's
    assert "3.4 %" in page  # 9 returns of 265 orders
