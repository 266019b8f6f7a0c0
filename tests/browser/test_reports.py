"""A compliance officer generates and downloads a seller's audit dossier."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect

from core.db import db
from demo.seed import DEMO_PASSWORD_SUFFIX
from tests.factories import ListingFactory, SellerFactory


def test_compliance_officer_downloads_a_dossier(page: Page, live_app: Flask, live_server: str,
                                                tmp_path: Path) -> None:
    with live_app.app_context():
        seller = SellerFactory(legal_name="Renewd Devices GmbH", label_status="active",
                               sampling_state="onboarding", label_valid_from=date(2026, 1, 1),
                               label_valid_until=date(2027, 1, 1))
        ListingFactory(seller=seller)
        db.session.commit()
        seller_id = seller.id

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("compliance@labelkeeper.example")
    page.get_by_label("Password").fill("compliance" + DEMO_PASSWORD_SUFFIX)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("main-nav").get_by_role("link", name="Reports").click()
    page.get_by_label("Report").select_option("dossier")
    page.get_by_label("Seller number (for a dossier)").fill(str(seller_id))
    page.get_by_label("From", exact=True).fill("2026-01-01")
    page.get_by_label("To", exact=True).fill("2026-12-31")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_test_id("report-status")).to_contain_text("ready")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    target = tmp_path / "dossier.pdf"
    info.value.save_as(target)
    assert target.read_bytes().startswith(b"%PDF-")
    assert info.value.suggested_filename.startswith("labelkeeper-dossier-")
