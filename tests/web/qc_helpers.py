"""Helpers for quality-control tests: labelled sellers with listings and planned orders."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from core.db import db
from qc import services
from qc.forms import checkpoint_field
from qc.models import PlanningRun, TestOrder
from tests.conftest import csrf_token, post_form
from tests.factories import ListingFactory, SellerFactory
from vetting.models import Seller

NOW = datetime(2026, 6, 10, 12, 0)


def labelled_seller(state: str = "onboarding", status: str = "active", **kw: Any) -> Seller:
    seller = SellerFactory(label_status=status, sampling_state=state,
                           label_valid_from=date(2026, 1, 1), label_valid_until=date(2027, 1, 1),
                           **kw)
    ListingFactory(seller=seller)
    return seller


def plan(app: Flask, period: str = "2026-06") -> PlanningRun:
    run = services.plan_period(period)
    db.session.commit()
    return run


def one_order(app: Flask, category: str = "smartphone", grade: str = "excellent") -> TestOrder:
    """A labelled seller, one listing, June planned; return its first order."""
    app.config["CLOCK"] = lambda: NOW
    seller = SellerFactory(label_status="active", sampling_state="onboarding",
                           label_valid_from=date(2026, 1, 1), label_valid_until=date(2027, 1, 1))
    ListingFactory(seller=seller, category=category, promised_grade=grade)
    db.session.commit()
    plan(app)
    return db.session.execute(db.select(TestOrder).order_by(TestOrder.planned_at)).scalars().first()


def place(client: FlaskClient, order: TestOrder, ref: str = "MP-1001", version: int | None = None):  # type: ignore[no-untyped-def]
    db.session.refresh(order)
    return post_form(client, f"/qc/orders/{order.id}/place", {
        "marketplace_ref": ref, "price_paid": "450.00", "buyer_account": order.buyer_account,
        "version": order.version if version is None else version})


def receive(client: FlaskClient, order: TestOrder, on: str = "2026-06-10"):  # type: ignore[no-untyped-def]
    db.session.refresh(order)
    return post_form(client, f"/qc/orders/{order.id}/receive", {
        "received_on": on, "package_condition": "intact", "version": order.version})


def inspection_data(order: TestOrder, failed: tuple[str, ...] = (), skip: tuple[str, ...] = (),
                    **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"observed_grade": order.listing.promised_grade,
                            "battery_percent": "91", "battery_cycles": "200", "notes": "",
                            "version": order.version}
    for c in services.checkpoints_for(order.listing.category):
        if c.code not in skip:
            data[checkpoint_field(c.code)] = "fail" if c.code in failed else "pass"
    data.update(over)
    return data


def inspect(client: FlaskClient, order: TestOrder, amend: bool = False, files=None,  # type: ignore[no-untyped-def]
            **kw: Any):
    db.session.refresh(order)
    data = inspection_data(order, **kw)
    data["csrf_token"] = csrf_token(client, "/")
    if files:
        data["photos"] = files
    return client.post(f"/qc/orders/{order.id}/{'amend' if amend else 'inspect'}", data=data,
                       content_type="multipart/form-data")
