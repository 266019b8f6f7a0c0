"""Pages issue a fixed number of queries, whatever the amount of data behind them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from compliance.models import SuspensionReview
from core.db import db
from qc.models import CriticalFinding, Inspection, MarketplaceSignal, SellerStatistics
from tests.factories import BuyerIdentityFactory, ListingFactory, SellerFactory, UserFactory
from tests.web.qc_helpers import NOW, received_orders
from vetting.models import Application, LabelEvent
from vetting.services.applications import create_application


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def build(app: Flask, sellers: int, orders_each: int) -> int:
    """Sellers with labels, listings, inspected and waiting orders, applications, reviews."""
    app.config["CLOCK"] = lambda: NOW
    staff = UserFactory(email=f"builder{sellers}@example.test", roles=["vetting", "inspector"])
    first = None
    for i in range(sellers):
        seller = SellerFactory(country="DE" if i % 2 else "FR")
        create_application(seller, staff)
        seller.label_status, seller.sampling_state = "active", "normal"
        seller.label_valid_from = date(2026, 1, 1)
        seller.label_valid_until = date(2026, 6, 30) + timedelta(days=i % 20)
        ListingFactory(seller=seller)
        db.session.add(SellerStatistics(seller_id=seller.id, s=0.5, inspected=orders_each))
        db.session.add_all(MarketplaceSignal(seller_id=seller.id, month=date(2026, m, 1),
                                             orders=100, customer_returns=3, warranty_claims=1)
                           for m in range(1, 1 + min(orders_each, 6)))
        first = first or seller
        orders = received_orders(seller, orders_each)
        # Each seller brings an identity, retired every third time (flagged by the seller).
        retired = {"active": False, "retired_at": NOW, "retired_reason": "Spotted.",
                   "retired_by": staff, "flagged_by_seller": seller} if i % 3 == 0 else {}
        identity = BuyerIdentityFactory(**retired)
        for n, order in enumerate(orders):
            order.buyer_identity_id = identity.id
            if n % 2:
                order.status = "inspected"
                order.inspected_at = NOW
                inspection = Inspection(order_id=order.id, version=1, is_current=True,
                                        inspector_id=staff.id, observed_grade="good",
                                        verdict="critical" if n == 1 else "conforming",
                                        score=0 if n == 1 else 100)
                db.session.add(inspection)
                if n == 1:  # one critical finding per seller waits for a second inspector
                    db.session.flush()
                    db.session.add(CriticalFinding(
                        order_id=order.id, seller_id=seller.id, inspection_id=inspection.id,
                        checkpoints='["LOCK-1"]', found_by_id=staff.id, opened_at=NOW,
                        due_on=NOW.date()))
        event_row = LabelEvent(seller_id=seller.id, from_status="active", to_status="suspended",
                               reason="test", actor="system", pending_review=True)
        db.session.add(event_row)
        db.session.flush()
        db.session.add(SuspensionReview(seller_id=seller.id, label_event_id=event_row.id))
    db.session.commit()
    assert first is not None
    return first.id


PAGES = {
    "seller list": "/vetting/sellers?country=DE&page=1",
    "applications": "/vetting/applications",
    "inspector queue (receive)": "/qc/orders?queue=receive",
    "inspector queue (all)": "/qc/orders?queue=all",
    "critical findings queue": "/qc/critical",
    "review queue": "/compliance/reviews",
    "home dashboards": "/",
    "listings": "/qc/listings",
    "reports": "/compliance/reports",
    "buyer identities": "/compliance/buyers",
}


def query_counts(app: Flask, client: FlaskClient, seller_id: int) -> dict[str, int]:
    counts = {}
    for name, url in {**PAGES, "seller page": f"/vetting/sellers/{seller_id}",
                      "compliance file": f"/compliance/sellers/{seller_id}"}.items():
        client.get(url)  # warm up (first-use rows such as default settings)
        with counting(app) as statements:
            assert client.get(url).status_code == 200, url
        counts[name] = len(statements)
    return counts


def test_query_count_does_not_grow_with_data(app_factory: Callable[..., Flask]) -> None:
    small_app = app_factory()
    with small_app.app_context():
        seller_id = build(small_app, sellers=2, orders_each=2)
        client = small_app.test_client()
        from tests.conftest import sign_in
        UserFactory(email="all@example.test", roles=["vetting", "inspector", "compliance",
                                                      "admin"])
        db.session.commit()
        sign_in(client, "all@example.test")
        small = query_counts(small_app, client, seller_id)
        build(small_app, sellers=30, orders_each=12)  # now many more rows everywhere
        large = query_counts(small_app, client, seller_id)
    assert large == small
    assert max(small.values()) <= 30
    assert Application  # the applications page lists rows built above
