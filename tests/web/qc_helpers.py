"""Helpers for quality-control tests: labelled sellers with listings and planned orders."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from core.db import db
from qc.forms import checkpoint_field
from qc.models import PlanningRun, TestOrder
from qc.services import critical_findings, inspections, planning
from tests.conftest import csrf_token, post_form, sign_in
from tests.factories import ListingFactory, SellerFactory, UserFactory
from vetting.models import Seller

NOW = datetime(2026, 6, 10, 12, 0)
# The allocation fields of the sampling plan form at their defaults (no threshold override).
ALLOCATION = {"budget_orders": "200", "floor_rate": "0.01", "block_max": "8",
              "min_auc": "0.55", "h_override": "", "h_reason": ""}


def labelled_seller(state: str = "onboarding", status: str = "active", **kw: Any) -> Seller:
    seller = SellerFactory(label_status=status, sampling_state=state,
                           label_valid_from=date(2026, 1, 1), label_valid_until=date(2027, 1, 1),
                           **kw)
    ListingFactory(seller=seller)
    return seller


def buyer_pool(size: int = 12) -> None:
    """Active buyer identities for planning (the planner refuses an empty pool), committed."""
    from qc.models import BuyerIdentity
    from tests.factories import BuyerIdentityFactory

    if db.session.execute(db.select(BuyerIdentity.id).where(BuyerIdentity.active.is_(True))
                          ).first() is None:
        BuyerIdentityFactory.create_batch(size)
        db.session.commit()


def plan(app: Flask, period: str = "2026-06") -> PlanningRun:
    run = planning.plan_period(period)
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
    for c in inspections.checkpoints_for(order.listing.category):
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


def _unplanned_run() -> PlanningRun:
    """A stand-in planning run (period 2000-01) for orders a test makes without planning."""
    run = db.session.execute(db.select(PlanningRun).where(PlanningRun.period == "2000-01")
                             ).scalar_one_or_none()
    if run is None:
        run = PlanningRun(period="2000-01", commitment="0" * 64, inputs_json="{}",
                          fingerprint="0" * 64, orders_planned=0, orders_dropped=0,
                          total_cost_cents=0, over_budget=False)
        db.session.add(run)
        db.session.flush()
    return run


def inspected_orders(seller: Seller, verdicts: Sequence[str], at: datetime,
                     claim_percentile: float | None = None) -> list[TestOrder]:
    """Inspected test orders of a seller with these verdicts, a minute apart from ``at`` (no
    planning needed); each records ``claim_percentile`` as the seller's claim rank when
    planned, as the planner does."""
    from datetime import timedelta

    from qc.models import Inspection, Listing
    from tests.factories import UserFactory

    run = _unplanned_run()
    listing = db.session.execute(db.select(Listing).where(Listing.seller_id == seller.id)
                                 ).scalars().first() or ListingFactory(seller=seller)
    inspector = UserFactory(roles=["inspector"])
    orders = []
    for i, verdict in enumerate(verdicts):
        when = at + timedelta(minutes=i)
        order = TestOrder(run_id=run.id, seller_id=seller.id, listing_id=listing.id,
                          planned_at=when - timedelta(days=6), buyer_account="b@example.test",
                          sampling_state="onboarding", protected=False, cost_cents=45_000,
                          claim_percentile=claim_percentile, status="inspected",
                          marketplace_ref=f"MP-{seller.id}-{secrets.token_hex(6)}",
                          price_paid_cents=45_000, placed_at=when - timedelta(days=5),
                          received_on=(when - timedelta(days=1)).date(), inspected_at=when)
        db.session.add(order)
        db.session.flush()
        db.session.add(Inspection(order_id=order.id, version=1, inspector_id=inspector.id,
                                  submitted_at=when, observed_grade=listing.promised_grade,
                                  verdict=verdict, score=100 if verdict == "conforming" else 40))
        orders.append(order)
    db.session.flush()
    return orders


def received_orders(seller: Seller, count: int, start: datetime = NOW) -> list[TestOrder]:
    """Orders for a seller that have arrived and wait for inspection (no planning needed)."""
    return _orders(seller, count, start, "received")


def planned_orders(seller: Seller, count: int, start: datetime = NOW,
                   failed_on: str | None = None) -> list[TestOrder]:
    """Orders for a seller planned five days before `start` and not placed yet; with
    `failed_on` ("seller" or "ours") cancelled instead, on that side."""
    return _orders(seller, count, start, "planned", failed_on)


def _orders(seller: Seller, count: int, start: datetime, status: str,
            failed_on: str | None = None) -> list[TestOrder]:
    from datetime import timedelta

    from qc.models import Listing

    run = _unplanned_run()
    listing = db.session.execute(db.select(Listing).where(Listing.seller_id == seller.id)
                                 ).scalars().first() or ListingFactory(seller=seller)
    placed = status != "planned"
    orders = [TestOrder(run_id=run.id, seller_id=seller.id, listing_id=listing.id,
                        planned_at=start - timedelta(days=5), buyer_account="b@example.test",
                        sampling_state="normal", protected=False, cost_cents=45_000,
                        status="cancelled" if failed_on else status,
                        failure_side=failed_on,
                        cancel_reason="Listing withdrawn." if failed_on else "",
                        marketplace_ref=f"MP-{seller.id}-{secrets.token_hex(6)}" if placed
                        else None,
                        price_paid_cents=45_000 if placed else None,
                        placed_at=start - timedelta(days=4) if placed else None,
                        received_on=start.date() if placed else None)
              for i in range(count)]
    db.session.add_all(orders)
    db.session.commit()
    return orders


def second_inspector(app: Flask, email: str = "second.inspector@example.test",
                     name: str = "Second Inspector") -> FlaskClient:
    """A client signed in as another inspector (the one who confirms or rejects)."""
    UserFactory(email=email, display_name=name, roles=["inspector"])
    db.session.commit()
    other = app.test_client()
    assert sign_in(other, email).status_code == 302
    return other


def decide_critical(client: FlaskClient, order: TestOrder, decision: str, reason: str):  # type: ignore[no-untyped-def]
    """Confirm or reject the order's pending critical finding through the order page."""
    db.session.expire_all()
    finding = critical_findings.pending_finding(order)
    assert finding is not None, f"test order #{order.id} has no pending critical finding"
    return post_form(client, f"/qc/orders/{order.id}/critical",
                     {"decision": decision, "reason": reason, "version": finding.version})
