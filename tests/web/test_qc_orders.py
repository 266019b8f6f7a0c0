"""Test orders through the web client: lifecycle, inspection, amendment and bad input."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import db
from core.models import AuditEntry
from qc import events
from qc.catalog import CATALOG
from qc.models import Checkpoint, Inspection, InspectionPhoto, TestOrder
from tests.conftest import post_form, sign_in
from tests.factories import UserFactory
from tests.web.qc_helpers import buyer_pool, inspect, one_order, place, receive
from tests.web.vetting_helpers import PDF


@pytest.fixture(autouse=True)
def _buyer_pool(app: Flask) -> None:
    """The planner needs buyer identities to place orders under."""
    buyer_pool()


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def test_checkpoint_table_is_seeded_from_the_catalog(app: Flask) -> None:
    rows = {c.code: c for c in db.session.execute(select(Checkpoint)).scalars()}
    assert set(rows) == {c.code for c in CATALOG}
    for spec in CATALOG:
        assert rows[spec.code].severity == spec.severity.value
        assert set(rows[spec.code].categories.split(",")) == {c.value for c in spec.categories}


def test_order_lifecycle_from_planned_to_closed(app: Flask, client: FlaskClient,
                                                login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector")
    received: list[events.InspectionRecorded] = []
    events.subscribe(app, received.append)
    assert place(client, order).status_code == 302
    db.session.refresh(order)
    assert (order.status, order.marketplace_ref, order.price_paid_cents) == (
        "placed", "MP-1001", 45_000)
    assert "MP-1001" not in client.get("/qc/orders?queue=inspect").get_data(as_text=True)
    assert f"#{order.id}" in client.get("/qc/orders?queue=receive").get_data(as_text=True)
    assert receive(client, order).status_code == 302
    assert f"#{order.id}" in client.get("/qc/orders?queue=inspect").get_data(as_text=True)
    response = inspect(client, order, failed=("DISP-1",))
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.refresh(order)
    inspection = db.session.execute(select(Inspection)).scalar_one()
    assert order.status == "inspected"
    assert inspection.verdict == "major"
    assert "DISP-1 failed (major)" in json.loads(inspection.reasons)
    assert [(e.order_id, e.version, e.verdict, e.amended) for e in received] == [
        (order.id, 1, "major", False)]
    seller_page = client.get(f"/vetting/sellers/{order.seller_id}")
    assert seller_page.status_code == 403  # inspectors do not see seller files
    detail = client.get(f"/qc/orders/{order.id}").get_data(as_text=True)
    assert "sampling tightened" in detail  # one major verdict: S = 1.39 >= 1.0
    assert "Version 1 (in force)" in detail
    assert "DISP-1" in detail
    db.session.refresh(order)
    assert post_form(client, f"/qc/orders/{order.id}/close",
                     {"disposition": "refunded", "version": order.version}).status_code == 302
    db.session.refresh(order)
    assert (order.status, order.disposition) == ("closed", "refunded")
    actions = list(db.session.execute(select(AuditEntry.action)).scalars())
    for expected in ("plan.created", "order.placed", "order.received", "inspection.submitted",
                     "order.inspected", "order.closed"):
        assert expected in actions


def test_placing_twice_is_refused(app: Flask, client: FlaskClient,
                                  login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector")
    db.session.refresh(order)
    version = order.version
    assert place(client, order, version=version).status_code == 302
    again = place(client, order, "MP-2002", version=version)
    assert again.status_code == 400
    assert "changed since you opened it" in again.get_data(as_text=True)
    fresh = place(client, order, "MP-2002")
    assert "This order is placed; it cannot become placed." in fresh.get_data(as_text=True)
    db.session.refresh(order)
    assert order.marketplace_ref == "MP-1001"


def test_inspecting_an_order_never_received_is_refused(app: Flask, client: FlaskClient,
                                                      login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector")
    place(client, order)
    response = inspect(client, order)
    assert response.status_code == 400
    assert "only a received device can be inspected" in response.get_data(as_text=True)
    assert count(Inspection) == 0


def test_bad_inspection_inputs_save_nothing(app: Flask, client: FlaskClient,
                                            login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector")
    place(client, order)
    receive(client, order)
    cases = [
        ({"battery_percent": "140"}, "Battery health is between 0 and 100%."),
        ({"battery_percent": "-3"}, "Battery health is between 0 and 100%."),
        ({"battery_percent": "NaN"}, "Not a valid integer value."),
        ({"skip": ("LOCK-1",)}, "LOCK-1: choose pass or fail."),
        ({"observed_grade": "mint"}, "Not a valid choice"),
    ]
    for change, message in cases:
        response = inspect(client, order, **change)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True), message
    db.session.refresh(order)
    assert order.status == "received"
    assert count(Inspection) == 0


def test_photo_must_be_an_image(app: Flask, client: FlaskClient,
                                login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector")
    place(client, order)
    receive(client, order)
    pdf = inspect(client, order, files=[(io.BytesIO(PDF), "photo.jpg")])
    assert "is not an image" in pdf.get_data(as_text=True)
    text = inspect(client, order, files=[(io.BytesIO(b"hello"), "photo.png")])
    assert "not a PDF, PNG or JPEG" in text.get_data(as_text=True)
    assert count(Inspection) == 0
    ok = inspect(client, order, files=[(io.BytesIO(png()), "front.png")])
    assert ok.status_code == 302
    photo = db.session.execute(select(InspectionPhoto)).scalar_one()
    assert photo.filename == "front.png"
    assert client.get(f"/qc/photos/{photo.id}").data == png()


def test_two_inspectors_on_the_same_order_one_wins(app: Flask, client: FlaskClient,
                                                   login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector", email="first@example.test")
    place(client, order)
    receive(client, order)
    UserFactory(email="second@example.test", roles=["inspector"])
    db.session.commit()
    second = app.test_client()
    sign_in(second, "second@example.test")
    db.session.refresh(order)
    loaded_version = order.version  # both opened the form at this version
    assert inspect(client, order, version=loaded_version).status_code == 302
    late = inspect(second, order, version=loaded_version)
    assert late.status_code == 400
    assert "changed since you opened it" in late.get_data(as_text=True)
    retry = inspect(second, order)
    assert "has already been inspected" in retry.get_data(as_text=True)
    assert count(Inspection) == 1


def test_amendment_keeps_both_versions_and_rescores(app: Flask, client: FlaskClient,
                                                    login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector")
    received: list[events.InspectionRecorded] = []
    events.subscribe(app, received.append)
    place(client, order)
    receive(client, order)
    inspect(client, order)
    no_reason = inspect(client, order, amend=True, failed=("LOCK-1",))
    assert "Say why the inspection is amended." in no_reason.get_data(as_text=True)
    response = inspect(client, order, amend=True, failed=("LOCK-1",),
                       amend_reason="Activation lock found on second boot")
    assert response.status_code == 302
    versions = db.session.execute(select(Inspection).order_by(Inspection.version)).scalars().all()
    assert [(v.version, v.is_current, v.verdict) for v in versions] == [
        (1, False, "conforming"), (2, True, "critical")]
    assert versions[1].amend_reason == "Activation lock found on second boot"
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "inspection.amended")).scalar_one()
    payload = json.loads(entry.payload)
    assert payload["before"]["verdict"] == "conforming"
    assert payload["after"]["verdict"] == "critical"
    assert [(e.version, e.amended) for e in received] == [(1, False), (2, True)]


def test_submitted_inspection_is_immutable_except_by_amendment(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector")
    place(client, order)
    receive(client, order)
    inspect(client, order)
    again = inspect(client, order, failed=("DISP-1",))
    assert "change it through an amendment" in again.get_data(as_text=True)
    assert count(Inspection) == 1


def test_cancel_needs_a_reason_and_lost_is_recorded(app: Flask, client: FlaskClient,
                                                    login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector")
    page = client.get(f"/qc/orders/{order.id}").get_data(as_text=True)
    assert "The seller&#39;s side: not shipped, sale cancelled or listing withdrawn" in page
    response = post_form(client, f"/qc/orders/{order.id}/cancel",
                         {"reason": "", "side": "seller", "version": order.version})
    assert "Give the reason for cancelling." in response.get_data(as_text=True)
    response = post_form(client, f"/qc/orders/{order.id}/cancel",
                         {"reason": "Listing withdrawn", "version": order.version})
    assert response.status_code == 400
    assert "Say whose side the order failed on" in response.get_data(as_text=True)
    db.session.refresh(order)
    assert order.status == "planned"
    place(client, order)
    db.session.refresh(order)
    post_form(client, f"/qc/orders/{order.id}/lost",
              {"reason": "Tracking stopped at depot", "side": "ours", "version": order.version})
    db.session.refresh(order)
    assert (order.status, order.cancel_reason, order.failure_side) == (
        "lost", "Tracking stopped at depot", "ours")
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "order.lost")
                               ).scalar_one()
    assert json.loads(entry.payload)["side"] == "ours"
    page = client.get(f"/qc/orders/{order.id}").get_data(as_text=True)
    assert "Tracking stopped at depot · not the seller&#39;s doing" in page


def test_overdue_planned_orders_are_flagged(app: Flask, client: FlaskClient,
                                            login: Callable[..., object]) -> None:
    from datetime import timedelta

    order = one_order(app)
    login("inspector")
    app.config["CLOCK"] = lambda: order.planned_at + timedelta(days=3)
    page = client.get("/qc/orders?queue=place").get_data(as_text=True)
    assert f"#{order.id}" in page
    assert "overdue 3 d" in page
    home = client.get("/").get_data(as_text=True)
    assert "overdue</span>" in home


def test_order_queues_are_oldest_first(app: Flask, client: FlaskClient,
                                       login: Callable[..., object]) -> None:
    one_order(app)
    login("inspector")
    app.config["CLOCK"] = lambda: __import__("datetime").datetime(2026, 7, 1)
    orders = db.session.execute(select(TestOrder).order_by(TestOrder.planned_at)).scalars().all()
    page = client.get("/qc/orders?queue=place").get_data(as_text=True)
    positions = [page.index(f">#{o.id}<") for o in orders]
    assert positions == sorted(positions)


def test_seller_page_lists_test_orders_with_verdicts(app: Flask, client: FlaskClient,
                                                     login: Callable[..., object]) -> None:
    order = one_order(app)
    login("inspector", "compliance")
    place(client, order)
    receive(client, order)
    inspect(client, order, failed=("PACK-1",))
    page = client.get(f"/vetting/sellers/{order.seller_id}").get_data(as_text=True)
    assert 'data-testid="seller-orders"' in page
    assert "<td>inspected</td>" in page
    assert "<td>minor</td>" in page
