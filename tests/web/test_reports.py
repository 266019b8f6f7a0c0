"""PDF reports, their verification, and CSV exports."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from compliance import jobs, reports
from compliance.models import Report
from compliance.pdf import StaticOnlyFetcher
from core import audit
from core.db import db
from core.models import AuditEntry
from qc.forecast import FIGURES_SCOPE
from tests.conftest import csrf_token, post_form
from tests.factories import ListingFactory, SellerFactory
from tests.web.qc_helpers import NOW, inspect, inspected_orders, received_orders

HOSTILE = "<script>alert(1)</script> \u05e9\u05dc\u05d5\u05dd Refurb"


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def request_report(client: FlaskClient, **form: object):  # type: ignore[no-untyped-def]
    return post_form(client, "/compliance/reports", form, token_from="/compliance/reports")


def latest_report() -> Report:
    db.session.expire_all()
    return db.session.execute(select(Report).order_by(Report.id.desc())).scalars().first()


def download(client: FlaskClient, report: Report) -> bytes:
    response = client.get(f"/compliance/reports/{report.document_id}/download")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    return response.data


@pytest.fixture
def seller_with_history(app: Flask, client: FlaskClient, login: Callable[..., object]):  # type: ignore[no-untyped-def]
    app.config["CLOCK"] = lambda: NOW
    seller = SellerFactory(legal_name=HOSTILE, trading_name="", label_status="active",
                           sampling_state="onboarding", label_valid_from=date(2026, 1, 10),
                           label_valid_until=date(2027, 1, 10))
    ListingFactory(seller=seller)
    db.session.commit()
    login("inspector", "compliance")
    for order in received_orders(seller, 30):
        assert inspect(client, order, failed=("PACK-1",)).status_code == 302
    for order in received_orders(seller, 4, NOW.replace(hour=13)):
        inspect(client, order, failed=("DISP-1",), notes=f"Cracked. {HOSTILE}")
    return db.session.get(type(seller), seller.id)


def test_dossier_renders_every_section_with_footer_and_escaped_names(
        client: FlaskClient, seller_with_history) -> None:  # type: ignore[no-untyped-def]
    seller = seller_with_history
    response = request_report(client, kind="dossier", seller_id=seller.id,
                              date_from="2026-01-01", date_to="2026-12-31")
    assert response.status_code == 302
    report = latest_report()
    assert report.status == "done"  # small dossiers render in the request
    pages = pdf_pages(download(client, report))
    assert len(pages) == report.pages
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in text
    text = " ".join("\n".join(pages).split())  # table cells wrap; compare words
    assert "<script>alert(1)</script>" in text  # shown as text, not markup
    assert "\u05e9\u05dc\u05d5\u05dd" in text  # right-to-left text survives
    assert "active → suspended" in text
    assert "(pending review)" in text
    assert "S = 5.55 against h = 5.19" in text
    for heading in ("1. Application", "2. Label history", "3. Test orders", "4. CUSUM",
                    "5. Sampling plan in force", "6. Randomness", "7. Audit trail"):
        assert heading in text
    generated = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "report.generated")).scalar_one()
    head = generated.prev_hash  # the chain head when the dossier was laid out
    compact = re.sub(r"\s+", "", text)
    assert head[:48] in compact  # the chain head hash (possibly wrapped across lines)
    assert report.document_id in text
    # The audit trail: 12-character hashes, details as key-value lines, markup as text.
    assert "Hashes below are shortened to their first 12 characters" in text
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "inspection.submitted").order_by(AuditEntry.seq)).scalars().first()
    assert entry.hash[:12] in compact
    assert entry.hash[12:40] not in compact  # the rest of it is not printed
    assert "verdict: major" in text
    assert "failed: DISP-1" in text
    assert "notes: Cracked. <script>alert(1)</script>" in text  # escaped, shown as text
    assert '"verdict":' not in text  # no raw JSON
    assert "0.4073" in text  # the OC table of the plan in force
    assert "suspended by the statistical (CUSUM) rule within n inspected orders, from S = 0" \
        in text
    assert FIGURES_SCOPE in text
    actions = list(db.session.execute(select(AuditEntry.action)).scalars())
    assert "report.generated" in actions
    assert "report.downloaded" in actions


def test_period_report_renders_in_the_background_once(app: Flask, client: FlaskClient,
                                                     seller_with_history) -> None:  # type: ignore[no-untyped-def]
    form = {"kind": "period", "date_from": "2026-06-01", "date_to": "2026-06-30"}
    first = request_report(client, **form)
    second = request_report(client, **form)
    assert first.headers["Location"] == second.headers["Location"]  # not queued twice
    report = latest_report()
    assert report.status == "queued"
    waiting = client.get(f"/compliance/reports/{report.document_id}").get_data(as_text=True)
    assert "Waiting to start" in waiting
    assert 'http-equiv="refresh"' in waiting
    assert jobs.run_pending_reports() == [report.document_id]
    assert jobs.run_pending_reports() == []
    report = latest_report()
    assert report.status == "done"
    text = " ".join("\n".join(pdf_pages(download(client, report))).split())
    assert "Period compliance report" in text
    assert "suspended (pending review)" in text
    assert "smartphone" in text
    assert "DE" in text
    assert "Expected wrongful suspensions" in text
    assert "of them by the statistical rule in the 12 months after this report was generated" \
        in text
    assert FIGURES_SCOPE in text


def test_period_without_data_says_so(app: Flask, client: FlaskClient,
                                     login: Callable[..., object]) -> None:
    login("compliance")
    request_report(client, kind="period", date_from="2020-01-01", date_to="2020-01-31")
    jobs.run_pending_reports()
    text = " ".join("\n".join(pdf_pages(download(client, latest_report()))).split())
    assert "No label decisions, test orders or inspections fall in this period." in text


def test_report_requests_with_bad_input_get_messages(client: FlaskClient,
                                                     login: Callable[..., object]) -> None:
    login("compliance")
    backwards = request_report(client, kind="period", date_from="2026-06-30",
                               date_to="2026-06-01")
    assert "The range ends before it starts." in backwards.get_data(as_text=True)
    missing = request_report(client, kind="dossier", seller_id="99999",
                             date_from="2026-06-01", date_to="2026-06-30")
    assert "There is no seller number 99999." in missing.get_data(as_text=True)
    no_seller = request_report(client, kind="dossier", date_from="2026-06-01",
                               date_to="2026-06-30")
    assert "Choose the seller of the dossier." in no_seller.get_data(as_text=True)
    assert latest_report() is None


def test_verify_accepts_a_genuine_report_and_rejects_a_changed_byte(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("compliance")
    request_report(client, kind="period", date_from="2026-01-01", date_to="2026-01-31")
    jobs.run_pending_reports()
    report = latest_report()
    data = download(client, report)

    def check(content: bytes, name: str = "report.pdf") -> str:
        return client.post("/compliance/verify", data={
            "csrf_token": csrf_token(client, "/compliance/verify"),
            "file": (io.BytesIO(content), name)},
            content_type="multipart/form-data").get_data(as_text=True)

    genuine = check(data)
    assert "Genuine and unaltered." in genuine
    assert report.document_id in genuine
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    assert "Not a Labelkeeper report, or altered." in check(bytes(changed))
    assert "This file is not a PDF" in check(b"GIF89a not a pdf", "x.pdf")


def test_url_fetcher_serves_only_static_files(app: Flask, tmp_path: Path) -> None:
    static = Path(app.static_folder or "static")
    fetcher = StaticOnlyFetcher(static)
    css = fetcher.fetch((static / "css" / "print.css").resolve().as_uri())
    assert b"@page" in css.read()
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    for url in (outside.as_uri(), "https://example.com/x.css",
                (static / ".." / "app.py").resolve().as_uri()):
        with pytest.raises(ValueError, match="static folder"):
            fetcher.fetch(url)


def test_csv_export_is_filtered_neutralised_and_audited(client: FlaskClient,
                                                        login: Callable[..., object]) -> None:
    SellerFactory(legal_name='=HYPERLINK("http://evil.example","x")', country="DE")
    SellerFactory(legal_name="Plain GmbH", country="FR", vat_id="FR40852379114")
    db.session.commit()
    login("compliance")
    response = client.get("/compliance/exports/sellers.csv?country=DE")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "legal_name", "trading_name"]
    assert len(rows) == 2
    assert rows[1][1] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "export.downloaded")).scalar_one()
    assert json.loads(entry.payload)["filters"] == {"country": "DE"}


def test_export_of_test_orders_and_bad_filters(app: Flask, client: FlaskClient,
                                               seller_with_history) -> None:  # type: ignore[no-untyped-def]
    orders = client.get(f"/compliance/exports/test-orders.csv?seller={seller_with_history.id}")
    lines = orders.get_data(as_text=True).strip().splitlines()
    assert len(lines) == 1 + 34
    inspections = client.get("/compliance/exports/inspections.csv?current=1")
    assert len(inspections.get_data(as_text=True).strip().splitlines()) == 1 + 34
    bad = client.get("/compliance/exports/test-orders.csv?from=2026-13-01",
                     follow_redirects=True)
    assert "Dates must look like 2026-07-31." in bad.get_data(as_text=True)
    unknown = client.get("/compliance/exports/passwords.csv", follow_redirects=True)
    assert "There is no &#39;passwords&#39; export." in unknown.get_data(as_text=True)


def test_render_times_are_recorded(client: FlaskClient, seller_with_history) -> None:  # type: ignore[no-untyped-def]
    request_report(client, kind="dossier", seller_id=seller_with_history.id,
                   date_from="2026-01-01", date_to="2026-12-31")
    report = latest_report()
    assert report.render_ms is not None
    assert report.render_ms > 0
    page = client.get(f"/compliance/reports/{report.document_id}").get_data(as_text=True)
    assert f"{report.pages} pages" in page
    assert report.sha256 in page
    assert isinstance(report.finished_at, datetime)


def seller_with_audit_history(app: Flask, entries: int) -> int:
    """A seller with three inspected orders and `entries` further audit entries about it."""
    app.config["CLOCK"] = lambda: NOW
    seller = SellerFactory(label_status="active")
    ListingFactory(seller=seller)
    db.session.commit()
    inspected_orders(seller, ["conforming", "minor", "conforming"], NOW.replace(hour=9))
    for n in range(entries):
        audit.record("seller.updated", "seller", seller.id,
                     {"changes": {"contact_email": [f"old{n}@example.test",
                                                    f"new{n}@example.test"]}})
    db.session.commit()
    return seller.id


def test_a_dossier_with_few_orders_but_a_long_audit_history_renders_in_the_background(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    login("compliance")
    entries = (reports.SYNC_DOSSIER_MAX_PAGES - reports.DOSSIER_FIXED_PAGES) \
        * reports.DOSSIER_AUDIT_ENTRIES_PER_PAGE  # one page more than the limit, with the orders
    seller_id = seller_with_audit_history(app, entries)
    form = {"kind": "dossier", "seller_id": seller_id, "date_from": "2026-01-01",
            "date_to": "2026-12-31"}

    assert request_report(client, **form).status_code == 302
    report = latest_report()
    assert report.status == "queued"  # not rendered inside the request
    waiting = client.get(f"/compliance/reports/{report.document_id}").get_data(as_text=True)
    assert "Waiting to start" in waiting
    assert 'aria-valuenow="0"' in waiting  # the progress bar
    # While it is under way, Generate is disabled for this seller's dossier ...
    busy = client.get(f"/compliance/reports?kind=dossier&seller_id={seller_id}")
    html = busy.get_data(as_text=True)
    assert re.search(r'<button class="btn btn-primary" type="submit" disabled', html)
    assert f"/compliance/reports/{report.document_id}" in html
    # ... and a second one for another range is refused, not queued.
    other = request_report(client, **{**form, "date_from": "2026-06-01"})
    assert other.status_code == 400
    assert "is being rendered; ask again when it is ready." in other.get_data(as_text=True)
    assert latest_report().document_id == report.document_id
    # Other sellers are not held up.
    free = client.get("/compliance/reports?kind=dossier&seller_id=99999").get_data(as_text=True)
    assert re.search(r'<button class="btn btn-primary" type="submit">', free)

    assert jobs.run_pending_reports() == [report.document_id]
    report = latest_report()
    assert report.status == "done"
    assert len(pdf_pages(download(client, report))) == report.pages
    again = client.get(f"/compliance/reports?kind=dossier&seller_id={seller_id}")
    assert re.search(r'<button class="btn btn-primary" type="submit">',
                     again.get_data(as_text=True))


def test_a_short_dossier_still_renders_in_the_request(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    login("compliance")
    seller_id = seller_with_audit_history(app, 10)
    assert request_report(client, kind="dossier", seller_id=seller_id,
                          date_from="2026-01-01", date_to="2026-12-31").status_code == 302
    report = latest_report()
    assert report.status == "done"
    assert report.pages <= reports.SYNC_DOSSIER_MAX_PAGES


def test_expected_pages_count_orders_and_audit_entries() -> None:
    base = reports.DOSSIER_FIXED_PAGES
    assert reports.expected_dossier_pages(0, 0) == base
    assert reports.expected_dossier_pages(1, 1) == base + 2
    assert reports.expected_dossier_pages(reports.DOSSIER_ORDERS_PER_PAGE,
                                          reports.DOSSIER_AUDIT_ENTRIES_PER_PAGE + 1) == base + 3
