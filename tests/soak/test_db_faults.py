"""Database faults: a SQLite file locked past the busy timeout, a PostgreSQL server that
drops every connection. The user gets a 503 page that says to try again (never a stack
trace), nothing is half-saved, and the app recovers by itself when the database is back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from core.db import db
from qc.models import Inspection
from qc.services import plan_settings
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.soak.harness import PG_URL, CuttableProxy, looks_like_traceback, parse_form
from tests.web.qc_helpers import labelled_seller, received_orders

pytestmark = pytest.mark.soak

RETRY_ADVICE = "Wait a few seconds and try again"


def _inspector_with_order(app: Flask) -> tuple[str, int]:
    with app.app_context():
        user = UserFactory(roles=["inspector"], email="fault-inspector@example.test")
        seller = labelled_seller()
        db.session.commit()
        order = received_orders(seller, 1)[0]
        plan_settings.stored_settings()  # saved before the test: a first save would be a write
        db.session.commit()
        result = user.email, order.id
        db.session.remove()
    return result


def _inspection(client: FlaskClient, order_id: int) -> dict[str, str]:
    page = client.get(f"/qc/orders/{order_id}/inspect")
    assert page.status_code == 200
    form = parse_form(page.get_data(as_text=True))
    return {**form.values, **{name: "pass" for name in form.radios}}


def _inspections(app: Flask, order_id: int) -> int:
    with app.app_context():
        n = db.session.execute(select(func.count()).select_from(Inspection)
                               .where(Inspection.order_id == order_id)).scalar_one()
        db.session.remove()
    return int(n)


def _assert_unavailable(response) -> None:  # type: ignore[no-untyped-def]
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:2000]
    assert RETRY_ADVICE in body
    assert response.headers.get("Retry-After") == "5"
    assert not looks_like_traceback(body), body[:2000]


@pytest.mark.skipif(bool(PG_URL), reason="SQLite only: the PostgreSQL leg cuts the server off")
def test_sqlite_locked_past_the_busy_timeout_answers_503_then_recovers(
        app_factory: Callable[..., Flask], db_uri: str) -> None:
    app = app_factory(SQLITE_BUSY_TIMEOUT_MS=300)
    email, order_id = _inspector_with_order(app)
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    data = _inspection(client, order_id)

    holder = sqlite3.connect(make_url(db_uri).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the timeout
    try:
        _assert_unavailable(client.post(f"/qc/orders/{order_id}/inspect", data=data))
        _assert_unavailable(sign_in(app.test_client(), email))
        # Reading still works while someone else writes (WAL).
        assert client.get(f"/qc/orders/{order_id}").status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert _inspections(app, order_id) == 0
    response = client.post(f"/qc/orders/{order_id}/inspect", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert _inspections(app, order_id) == 1


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set DATABASE_URL")
def test_postgresql_outage_answers_503_then_recovers_by_itself(
        app_factory: Callable[..., Flask], db_uri: str) -> None:
    url = make_url(db_uri)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        app = app_factory(SQLALCHEMY_DATABASE_URI=url.set(
            host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        email, order_id = _inspector_with_order(app)
        client = app.test_client()
        assert sign_in(client, email).status_code == 302
        data = _inspection(client, order_id)
        assert client.get("/qc/orders?queue=inspect").status_code == 200

        proxy.cut()  # every pooled connection dies; new ones are refused
        _assert_unavailable(client.get("/qc/orders?queue=inspect"))
        _assert_unavailable(client.post(f"/qc/orders/{order_id}/inspect", data=data))
        _assert_unavailable(client.get(f"/qc/orders/{order_id}"))
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json() == {"status": "error", "database": "unavailable"}

        proxy.restore()
        # No restart of the app: the very next requests work again.
        assert client.get("/qc/orders?queue=inspect").status_code == 200
        response = client.post(f"/qc/orders/{order_id}/inspect", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        assert client.get("/healthz").status_code == 200
        assert _inspections(app, order_id) == 1
    finally:
        proxy.close()
