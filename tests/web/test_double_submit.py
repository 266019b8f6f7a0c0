"""A double post of an inspection: the second request read the order before the first one
committed (PostgreSQL, read committed) and must be told the order is inspected now, not
fail with a server error. Found by the concurrency soak (tests/soak)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from core.db import db
from core.errors import ConflictError
from core.roles import public
from qc.models import Inspection, TestOrder
from qc.services import inspections
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.web.qc_helpers import inspect, labelled_seller, received_orders


def _data(order: TestOrder) -> inspections.InspectionInput:
    return inspections.InspectionInput(
        observed_grade=order.listing.promised_grade, battery_percent=90, battery_cycles=100,
        battery_swollen=False, cable_missing=False, notes="",
        outcomes={c.code: (True, "") for c in inspections.checkpoints_for(order.listing.category)})


def test_a_stale_second_submission_is_a_conflict(app: Flask, client: FlaskClient,
                                                 login: Callable[..., object]) -> None:
    user = login("inspector")
    order = received_orders(labelled_seller(), 1)[0]
    read_version = order.version
    assert inspect(client, order).status_code == 302

    stale = db.session.get(TestOrder, order.id)
    # What the second request had read before the first one committed.
    set_committed_value(stale, "status", "received")
    set_committed_value(stale, "version", read_version)
    with pytest.raises(ConflictError, match="changed since you opened it .it is now inspected"):
        inspections.submit_inspection(stale, _data(stale), user, read_version)  # type: ignore[arg-type]
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Inspection)).scalar_one() == 1


def test_an_error_after_a_failed_flush_still_gets_the_error_page(
        app_factory: Callable[..., Flask]) -> None:
    app = app_factory(PROPAGATE_EXCEPTIONS=False)

    @app.route("/duplicate-row")
    @public
    def duplicate_row() -> str:
        from core.models import User

        first = db.session.execute(select(User)).scalars().first()
        db.session.add(User(email=first.email, display_name="x", password_hash="x"))
        try:
            db.session.flush()
        except IntegrityError:
            pass  # a careless caller: the session is left in a failed transaction
        raise RuntimeError("then something else goes wrong")

    with app.app_context():
        email = UserFactory(roles=["inspector"]).email
        db.session.commit()
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    response = client.get("/duplicate-row")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "Staff Member" in body  # the signed-in navigation, rendered after a rollback
