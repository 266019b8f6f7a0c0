"""An inspector receives and inspects a test order on a tablet-sized screen."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask import Flask
from playwright.sync_api import Browser, expect

from core.db import db
from core.services import get_user_by_email
from demo.seed import DEMO_PASSWORD_SUFFIX
from qc.models import TestOrder
from qc.services import orders, planning
from tests.factories import ListingFactory, SellerFactory
from tests.web.qc_helpers import buyer_pool


def prepare_placed_order(app: Flask) -> int:
    with app.app_context():
        seller = SellerFactory(legal_name="Renewd Devices GmbH", trading_name="Renewd",
                               label_status="active", sampling_state="onboarding",
                               label_valid_from=date(2026, 1, 1),
                               label_valid_until=date(2028, 1, 1))
        ListingFactory(seller=seller, device_model="iPhone 13 128 GB", promised_grade="good")
        db.session.commit()
        buyer_pool()
        today = datetime.now()
        planning.plan_period(f"{today.year:04d}-{today.month:02d}")
        order = db.session.execute(db.select(TestOrder).order_by(TestOrder.id)).scalars().first()
        inspector = get_user_by_email("inspector@labelkeeper.example")
        orders.place_order(order, "MP-77001", order.cost_cents, order.buyer_account, inspector)
        db.session.commit()
        return order.id


def test_inspector_receives_and_inspects_on_a_tablet(browser: Browser, live_app: Flask,
                                                     live_server: str) -> None:
    order_id = prepare_placed_order(live_app)
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("inspector@labelkeeper.example")
    page.get_by_label("Password").fill("inspector" + DEMO_PASSWORD_SUFFIX)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name=re.compile("to receive")).click()
    page.get_by_role("link", name=f"#{order_id}").click()
    page.get_by_label("Package condition").select_option("intact")
    page.get_by_role("button", name="Record arrival").click()
    expect(page.get_by_test_id("order-status")).to_contain_text("received")

    page.get_by_role("link", name="Inspect the device").click()
    page.get_by_label("Battery health (%)").fill("88")
    page.get_by_label("Battery cycles").fill("310")
    checkpoints = page.locator("[data-testid^=cp-]")
    assert checkpoints.count() >= 25
    for i in range(checkpoints.count()):
        row = checkpoints.nth(i)
        code = (row.get_attribute("data-testid") or "").removeprefix("cp-")
        row.get_by_label("fail" if code == "COS-3" else "pass", exact=True).check()
    page.get_by_test_id("cp-COS-3").get_by_label("Note for COS-3").fill("Hairline crack")
    submit = page.get_by_role("button", name="Submit inspection")
    submit.scroll_into_view_if_needed()
    expect(submit).to_be_in_viewport()
    submit.click()
    done = re.compile(r"Inspection of order #\d+ submitted: major")
    expect(page.get_by_text(done)).to_be_visible()
    expect(page.get_by_test_id("inspection-v1")).to_contain_text("COS-3")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024  # nothing runs off a tablet screen sideways
    context.close()
    assert [e for e in errors if "status of 403" not in e and "net::ERR_" not in e] == []
