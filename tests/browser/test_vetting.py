"""An application walked from draft to approved by two vetting users in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from demo.seed import DEMO_PASSWORD_SUFFIX
from tests.web.vetting_helpers import PDF


def sign_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(f"{name}@labelkeeper.example")
    page.get_by_label("Password").fill(name + DEMO_PASSWORD_SUFFIX)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def test_application_draft_to_approved_by_two_users(page: Page, live_server: str,
                                                    tmp_path) -> None:  # type: ignore[no-untyped-def]
    evidence = tmp_path / "evidence.pdf"
    evidence.write_bytes(PDF)

    sign_in(page, live_server, "vetting")
    page.get_by_test_id("main-nav").get_by_role("link", name="Sellers").click()
    page.get_by_role("link", name="New seller").click()
    page.get_by_label("Legal name").fill("Phoenix Refurb B.V.")
    page.get_by_label("Country (ISO code, e.g. DE)").fill("NL")
    page.get_by_label("Company registration number").fill("KvK 81234567")
    page.get_by_label("VAT id").fill("NL123456789B01")
    page.get_by_label("Contact email").fill("qa@phoenix-refurb.example")
    page.get_by_label("smartphone").check()
    page.get_by_label("Declared monthly volume (units)").fill("350")
    page.get_by_role("button", name="Save seller").click()
    expect(page.get_by_text("Phoenix Refurb B.V. registered.")).to_be_visible()

    page.get_by_role("button", name="Start application").click()
    expect(page.get_by_test_id("application-status")).to_contain_text("draft")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_test_id("application-status")).to_contain_text("submitted")
    page.get_by_role("button", name="Start review").click()
    expect(page.get_by_test_id("application-status")).to_contain_text("in review")

    items = page.locator("[data-testid^=item-]")
    codes = [t.removeprefix("item-") for t in
             (items.nth(i).get_attribute("data-testid") or "" for i in range(items.count()))]
    assert len(codes) == 15
    for code in codes:
        item = page.get_by_test_id(f"item-{code}")
        if "evidence required" in item.inner_text():
            item.get_by_label(f"Evidence file for {code}").set_input_files(str(evidence))
            item.get_by_role("button", name=f"Attach to {code}").click()
            expect(page.get_by_text(re.compile(f"attached to {code}"))).to_be_visible()
            item = page.get_by_test_id(f"item-{code}")
        item.get_by_label("pass").check()
        item.get_by_role("button", name=f"Record {code}").click()
        expect(page.get_by_text(f"{code} recorded as pass.")).to_be_visible()

    expect(page.get_by_text("Every required item has passed")).to_be_visible()
    expect(page.get_by_text("another vetting user decides it")).to_be_visible()
    sign_out(page)

    sign_in(page, live_server, "approver")
    page.get_by_test_id("main-nav").get_by_role("link", name="Applications").click()
    page.get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
    page.get_by_label("Approve").check()
    page.get_by_label("Reason (required to reject)").fill("Checklist verified.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_test_id("application-status")).to_contain_text("approved")
    page.get_by_role("link", name="Phoenix Refurb B.V.").click()
    expect(page.get_by_text("active", exact=True).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"no label → active"))).to_be_visible()
