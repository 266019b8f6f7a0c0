"""Hostile input on the quality-control and compliance forms: the sampling plan, test orders,
inspections, reviews, appeals, reinstatement, revocation, report requests and buyer
identities."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from compliance import reports
from compliance.models import Report, SellerCase, SuspensionReview
from core.db import db
from qc.forms import checkpoint_field
from qc.models import BuyerIdentity, CriticalFinding, Listing, PlanningRun, TestOrder
from qc.services import critical_findings, inspections, plan_settings
from tests.factories import BuyerIdentityFactory, ListingFactory, SellerFactory, UserFactory
from tests.web.hostile import (
    Current,
    Poster,
    encode,
    first,
    hostile,
    nasty_text,
    odd,
    shows_a_problem,
    web_settings,
)
from tests.web.qc_helpers import NOW
from vetting.labels import LabelStatus
from vetting.models import Seller
from vetting.services.labels import change_label

words = st.text(st.characters(whitelist_categories=("L", "Nd", "Zs")), min_size=1,
                max_size=60).filter(str.strip)
dates = st.one_of(st.dates(date(2000, 1, 1), NOW.date()).map(date.isoformat),
                  st.sampled_from(["9999-12-31", "0001-01-01", "2026-02-30", "2026-6-1",
                                   "10/06/2026", "2026-06-10T00:00", "+2026-06-10"]),
                  odd)


def fresh(model: type, ident: int) -> Any:
    db.session.expire_all()
    return db.session.get(model, ident)


def money(value: Any) -> Decimal | None:
    try:
        return Decimal(first(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


# ---------------------------------------------------------------- sampling plan


def test_sampling_plan_form(client: FlaskClient, login: Callable[..., object]) -> None:
    login("compliance")
    client.get("/qc/plan")  # stores the default settings
    poster = Poster(client)
    rate = hostile(st.decimals(0, 31, places=2).map(str), numeric=True)
    probability = hostile(st.sampled_from(["0.02", "0.2", "0.005", "0.1"]), numeric=True)
    override = st.one_of(st.just(""), hostile(st.decimals(0, 25, places=2).map(str),
                                              numeric=True))

    @web_settings
    @given(st.fixed_dictionaries({
        "rate_onboarding": rate, "rate_normal": rate, "rate_reduced": rate,
        "rate_tightened": rate,
        "budget_eur": hostile(st.decimals(0, 100_000_000, places=2).map(str), numeric=True),
        "budget_orders": hostile(st.integers(0, 1000).map(str), numeric=True),
        "floor_rate": hostile(st.decimals(0, 2, places=4).map(str), numeric=True),
        "block_max": hostile(st.integers(0, 40).map(str), numeric=True),
        "min_auc": hostile(st.decimals("0.4", "1.1", places=3).map(str), numeric=True),
        "h_override": override,
        "h_reason": st.one_of(st.just(""), hostile(words, (2000, 2001))),
        "p0": probability, "p1": probability, "alpha": probability, "beta": probability}),
        st.sampled_from(["submit", "preview"]))
    def run(data: dict[str, Any], button: str) -> None:
        outcome = poster.post("/qc/plan", {**encode(data), button: "1"},
                              noop_ok=button == "preview")
        if outcome.accepted:
            db.session.expire_all()
            settings = plan_settings.current_settings()
            assert settings.budget_cents == money(data["budget_eur"]) * 100
            assert settings.rate_normal == float(money(data["rate_normal"]))
            assert settings.budget_orders == int(first(data["budget_orders"])) >= 1
            assert 0 <= settings.floor_rate <= 1
            assert settings.floor_rate == float(money(data["floor_rate"]))
            override = first(data["h_override"])  # missing: the form keeps the one in force
            if override is not None and money(override) is not None:
                assert settings.h == float(money(override))
                assert settings.h_override_reason.strip()
            elif override == "":
                assert settings.h_override_reason == ""

    run()


# ---------------------------------------------------------------- test orders


def make_order(status: str) -> TestOrder:
    """A test order in ``status`` for a labelled seller (no planning needed)."""
    run = db.session.execute(db.select(PlanningRun)).scalars().first()
    if run is None:
        run = PlanningRun(period="2000-01", commitment="0" * 64, inputs_json="{}",
                          fingerprint="0" * 64, orders_planned=0, orders_dropped=0,
                          total_cost_cents=0, over_budget=False)
        db.session.add(run)
        db.session.flush()
    listing = db.session.execute(db.select(Listing)).scalars().first() or ListingFactory(
        seller=SellerFactory(label_status="active", sampling_state="normal"))
    placed = status != "planned"
    order = TestOrder(run_id=run.id, seller_id=listing.seller_id, listing_id=listing.id,
                      planned_at=NOW - timedelta(days=5), buyer_account="b@example.test",
                      sampling_state="normal", protected=False, cost_cents=45_000,
                      status=status,
                      marketplace_ref=f"MP-{secrets.token_hex(6)}" if placed else None,
                      price_paid_cents=45_000 if placed else None,
                      placed_at=NOW - timedelta(days=4) if placed else None,
                      received_on=NOW.date() if status in ("received", "inspected") else None)
    db.session.add(order)
    db.session.commit()
    return order


ORDER_ACTIONS = {  # action -> the status it starts from
    "place": "placed", "receive": "placed", "cancel": "planned", "lost": "placed",
    "close": "inspected",
}


def test_order_forms(app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector")
    poster = Poster(client)

    @web_settings
    @given(action=st.sampled_from(sorted(ORDER_ACTIONS)), stale=st.booleans(),
           data=st.fixed_dictionaries({
               "marketplace_ref": hostile(words, (64,)),
               "price_paid": hostile(st.decimals("0.01", 100_000, places=2).map(str),
                                     numeric=True),
               "buyer_account": hostile(words, (120,)),
               "received_on": hostile(dates),
               "package_condition": hostile(st.sampled_from(["intact", "damaged", "opened"])),
               "reason": hostile(words, (2000,)),
               "side": hostile(st.sampled_from(["seller", "ours"])),
               "disposition": hostile(st.sampled_from(["returned", "refunded",
                                                       "kept_as_evidence"]))}),
           version=hostile(st.just("current"), numeric=True))
    def run(action: str, stale: bool, data: dict[str, Any], version: Any) -> None:
        start = "planned" if action == "place" and not stale else ORDER_ACTIONS[action]
        order = make_order(start)
        if first(version) == "current":
            version = Current(lambda: fresh(TestOrder, order.id).version)
        outcome = poster.post(f"/qc/orders/{order.id}/{action}",
                              encode({**data, "version": version}))
        if outcome.accepted and action == "place":
            stored = fresh(TestOrder, order.id)
            assert stored.marketplace_ref == first(data["marketplace_ref"]).strip()
            assert stored.price_paid_cents == money(data["price_paid"]) * 100
        if outcome.accepted and action == "cancel":
            assert fresh(TestOrder, order.id).cancel_reason == first(data["reason"]).strip()
        if outcome.accepted and action in ("cancel", "lost"):
            assert fresh(TestOrder, order.id).failure_side == first(data["side"])

    run()


def test_inspection_form(app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector")
    poster = Poster(client)
    make_order("received")
    codes = [c.code for c in inspections.checkpoints_for("smartphone")]

    @web_settings
    @given(fields=st.fixed_dictionaries({
        "observed_grade": hostile(st.sampled_from(["premium", "excellent", "good", "fair"])),
        "battery_percent": hostile(st.integers(0, 100).map(str), numeric=True),
        "battery_cycles": hostile(st.integers(0, 100_000).map(str), numeric=True),
        "battery_swollen": hostile(st.sampled_from(["y", ""])),
        "notes": hostile(words, (5000,)), "amend_reason": hostile(words, (2000,))}),
        outcomes=st.dictionaries(st.sampled_from(codes), hostile(st.sampled_from(
            ["pass", "fail"])), min_size=len(codes) - 1),
        note=hostile(words, (500,)), amend=st.booleans())
    def run(fields: dict[str, Any], outcomes: dict[str, Any], note: Any, amend: bool) -> None:
        order = make_order("received") if not amend else db.session.execute(
            db.select(TestOrder).where(TestOrder.status == "inspected")).scalars().first()
        if order is None:
            return
        data = {**fields, "version": Current(lambda: fresh(TestOrder, order.id).version)}
        for code, value in outcomes.items():
            data[checkpoint_field(code)] = value
        data[checkpoint_field(codes[0]) + "_note"] = note
        outcome = poster.post(f"/qc/orders/{order.id}/{'amend' if amend else 'inspect'}",
                              encode(data))
        if outcome.accepted:
            inspection = inspections.current_inspection(fresh(TestOrder, order.id))
            assert inspection.notes == (first(fields["notes"]) or "").strip()
            assert inspection.battery_cycles == (None if not first(fields["battery_cycles"])
                                                 else int(first(fields["battery_cycles"])))

    run()


def test_critical_decision_form(app: Flask, client: FlaskClient,
                                login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector")
    poster = Poster(client)
    finder = UserFactory(email="finder@example.test", roles=["inspector"])
    db.session.commit()
    codes = [c.code for c in inspections.checkpoints_for("smartphone")]

    @web_settings
    @given(decision=hostile(st.sampled_from(["confirm", "reject"])),
           reason=hostile(words, (2000,)), version=hostile(st.just("current"), numeric=True))
    def run(decision: Any, reason: Any, version: Any) -> None:
        order = make_order("received")
        inspections.submit_inspection(order, inspections.InspectionInput(
            observed_grade="excellent", battery_percent=90, battery_cycles=10,
            battery_swollen=False, cable_missing=False, notes="",
            outcomes={c: (c != "LOCK-1", "") for c in codes}), finder)
        db.session.commit()
        finding = critical_findings.pending_finding(order)
        assert finding is not None
        if first(version) == "current":
            version = Current(lambda: fresh(CriticalFinding, finding.id).version)
        outcome = poster.post(f"/qc/orders/{order.id}/critical", encode(
            {"decision": decision, "reason": reason, "version": version}))
        if outcome.accepted:
            stored = fresh(CriticalFinding, finding.id)
            assert stored.status == {"confirm": "confirmed", "reject": "rejected"}[
                first(decision)]
            assert stored.reason == first(reason).strip()

    run()


# ---------------------------------------------------------------- compliance


def suspended_seller() -> Seller:
    seller = SellerFactory(label_status="active", sampling_state="normal",
                           label_valid_from=date(2026, 1, 1), label_valid_until=date(2027, 1, 1))
    db.session.flush()
    change_label(seller, LabelStatus.SUSPENDED, "CUSUM crossed h", None, pending_review=True)
    db.session.commit()
    return seller


def test_compliance_forms(app: Flask, client: FlaskClient,
                          login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("compliance")
    poster = Poster(client)

    @web_settings
    @given(which=st.sampled_from(["review", "case", "decide", "reinstate", "revoke"]),
           decision=hostile(st.sampled_from(["confirm", "overturn", "accept", "reject"])),
           kind=hostile(st.sampled_from(["appeal", "corrective_action"])),
           received=hostile(dates), text=hostile(words, (5000,)),
           version=hostile(st.just("current"), numeric=True))
    def run(which: str, decision: Any, kind: Any, received: Any, text: Any,
            version: Any) -> None:
        seller = suspended_seller()
        review = db.session.execute(db.select(SuspensionReview).where(
            SuspensionReview.seller_id == seller.id)).scalar_one()
        if which == "review":
            if first(version) == "current":
                version = Current(lambda: fresh(SuspensionReview, review.id).version)
            outcome = poster.post(f"/compliance/reviews/{review.id}", encode(
                {"decision": decision, "reason": text, "version": version}))
            if outcome.accepted:
                assert fresh(SuspensionReview, review.id).reason == first(text).strip()
        elif which == "case":
            outcome = poster.post(f"/compliance/sellers/{seller.id}/cases", encode(
                {"kind": kind, "received_on": received, "summary": text}))
            if outcome.accepted:
                case = db.session.execute(db.select(SellerCase).order_by(
                    SellerCase.id.desc())).scalars().first()
                assert case.summary == first(text).strip()
                assert case.received_on.isoformat() == first(received).strip()
        elif which == "decide":
            case = SellerCase(seller_id=seller.id, kind="appeal", summary="Appeal",
                              received_on=NOW.date(), created_at=NOW)
            db.session.add(case)
            db.session.commit()
            if first(version) == "current":
                version = Current(lambda: fresh(SellerCase, case.id).version)
            outcome = poster.post(f"/compliance/cases/{case.id}", encode(
                {"decision": decision, "reason": text, "version": version},
                prefix=f"case{case.id}-"), csrf_prefix=f"case{case.id}-")
        else:
            if which == "reinstate" and first(version) == "current":
                review.status = "confirmed"
                db.session.commit()
            outcome = poster.post(f"/compliance/sellers/{seller.id}/{which}",
                                  encode({"reason": text}))
            if outcome.accepted:
                assert fresh(Seller, seller.id).label_status in ("probation", "revoked")

    run()


def test_buyer_identity_forms(app: Flask, client: FlaskClient,
                              login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("compliance")
    seller = SellerFactory()
    db.session.commit()
    poster = Poster(client)
    lines = st.lists(words, min_size=2, max_size=4).map("\n".join)
    payments = st.sampled_from(["card ****1234", "Visa ****0042", "PayPal ref 77-31"])

    @web_settings
    @given(which=st.sampled_from(["new", "edit", "retire"]),
           name=hostile(words, (120,)), address=hostile(lines, (120, 1000)),
           payment=hostile(payments, (64,)), reason=hostile(words, (5000,)),
           flagged_by=hostile(st.sampled_from(["", "12345"])),
           number=hostile(st.sampled_from(["", str(seller.id), "999999"]), numeric=True),
           confirm=hostile(st.just("y")), version=hostile(st.just("current"), numeric=True))
    def run(which: str, name: Any, address: Any, payment: Any, reason: Any, flagged_by: Any,
            number: Any, confirm: Any, version: Any) -> None:
        identity = BuyerIdentityFactory()
        db.session.commit()
        if first(version) == "current":
            version = Current(lambda: fresh(BuyerIdentity, identity.id).version)
        if which == "retire":
            outcome = poster.post(f"/compliance/buyers/{identity.id}/retire", encode({
                "reason": reason, "flagged_by": flagged_by, "flagged_by_number": number,
                "irreversible": confirm, "version": version}))
            if outcome.accepted:
                stored = fresh(BuyerIdentity, identity.id)
                assert not stored.active
                assert stored.retired_reason == first(reason).strip()
            return
        data = {"name": name, "address": address, "payment_reference": payment}
        path = "/compliance/buyers/new"
        if which == "edit":
            data["version"] = version
            path = f"/compliance/buyers/{identity.id}"
        outcome = poster.post(path, encode(data))
        if outcome.accepted:
            stored = db.session.execute(db.select(BuyerIdentity).order_by(
                BuyerIdentity.id.desc())).scalars().first()
            assert stored.name == first(name).strip()
            sent = first(address).replace("\r\n", "\n").replace("\r", "\n").split("\n")
            assert stored.address == "\n".join(ln.strip() for ln in sent if ln.strip())
            assert stored.payment_reference == first(payment).strip()

    run()


@pytest.fixture
def no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports queue instead of rendering in the request (rendering is tested elsewhere)."""
    monkeypatch.setattr(reports, "renders_in_request", lambda report: False)


@pytest.mark.usefixtures("no_rendering")
def test_report_form(app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("compliance")
    seller = SellerFactory()
    db.session.commit()
    poster = Poster(client)

    @web_settings
    @given(kind=hostile(st.sampled_from(["dossier", "period"])),
           seller_id=hostile(st.sampled_from([str(seller.id), "", "999"]), numeric=True),
           date_from=hostile(dates), date_to=hostile(dates))
    def run(kind: Any, seller_id: Any, date_from: Any, date_to: Any) -> None:
        queued = {r.document_id for r in db.session.execute(select(Report).where(
            Report.status == "queued")).scalars()}
        outcome = poster.post("/compliance/reports", encode(
            {"kind": kind, "seller_id": seller_id, "date_from": date_from,
             "date_to": date_to}), noop_ok=True)
        if not outcome.accepted and outcome.status == 302:
            # an identical request while one is queued returns that report (DESIGN 2.6)
            assert outcome.location.rsplit("/", 1)[-1] in queued, outcome.location
        elif not outcome.accepted:
            assert shows_a_problem(outcome.page), outcome.status

    run()


def test_text_fields_take_any_unicode_on_a_seller_case(app: Flask, client: FlaskClient,
                                                      login: Callable[..., object]) -> None:
    """Arbitrary text that is accepted comes back exactly (stripped) on the seller's file."""
    app.config["CLOCK"] = lambda: NOW
    login("compliance")
    seller = SellerFactory()
    db.session.commit()
    poster = Poster(client)

    @web_settings
    @given(summary=nasty_text((5000,)))
    def run(summary: str) -> None:
        outcome = poster.post(f"/compliance/sellers/{seller.id}/cases", {
            "kind": "appeal", "received_on": "2026-06-01", "summary": summary})
        if outcome.accepted:
            case = db.session.execute(db.select(SellerCase).order_by(
                SellerCase.id.desc())).scalars().first()
            assert case.summary == summary.strip()

    run()
