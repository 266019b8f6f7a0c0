"""Signing in and out in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from demo.seed import DEMO_PASSWORD_SUFFIX

NAV = {
    "vetting": ["Home", "Sellers", "Applications", "Listings"],
    "inspector": ["Home", "Test orders", "Critical findings", "Listings"],
    "compliance": ["Home", "Sellers", "Applications", "Test orders", "Critical findings",
                   "Listings",
                   "Sampling plan", "Suspension reviews", "Reports", "Seller notices",
                   "Buyer identities", "Audit trail"],
    "admin": ["Home", "Reports", "Audit trail", "Staff accounts", "Webhooks", "API tokens"],
}


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("role", list(NAV))
def test_each_demo_role_sees_its_navigation_and_can_sign_out(page: Page, live_server: str,
                                                             role: str) -> None:
    sign_in(page, live_server, f"{role}@labelkeeper.example", role + DEMO_PASSWORD_SUFFIX)
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    nav = page.get_by_test_id("main-nav").get_by_role("link")
    expect(nav).to_have_text(NAV[role])
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_wrong_password_shows_an_error(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "admin@labelkeeper.example", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")
    page.goto(f"{live_server}/admin/users")
    expect(page).to_have_url(re.compile("/login"))


def test_wrong_role_sees_the_not_allowed_page(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "inspector@labelkeeper.example",
            "inspector" + DEMO_PASSWORD_SUFFIX)
    response = page.goto(f"{live_server}/admin/users")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name=re.compile("Not allowed"))).to_be_visible()
