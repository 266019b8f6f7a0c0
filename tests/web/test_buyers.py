"""The pool of buyer identities: the compliance page (list, add, edit, retire), its refusals,
the planner's inputs (`active_buyers`, `recent_buyers`), the migration that makes identities of
the old buyer account strings, and the demo pool."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime

import flask_migrate
import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select, text

from core.db import db
from core.models import AuditEntry
from qc.buyers import BuyerInput
from qc.models import BuyerIdentity, PlanningRun, SamplingSettings, TestOrder
from qc.services import buyers
from tests.conftest import post_form
from tests.factories import BuyerIdentityFactory, ListingFactory, SellerFactory
from vetting.models import Seller

REVISION = "5f1e0c0b7a05"
NOW = datetime(2026, 6, 10, 12, 0)
ADDRESS = "Lindenstraße 12\r\n\r\n  10115 Berlin  \r\nGermany"


@pytest.fixture
def officer(app: Flask, login: Callable[..., object]) -> object:
    app.config["CLOCK"] = lambda: NOW
    return login("compliance")


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def audit_entries(action: str) -> list[AuditEntry]:
    return list(db.session.execute(select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.seq)).scalars())


def fresh(identity: BuyerIdentity) -> BuyerIdentity:
    db.session.expire_all()
    found = db.session.get(BuyerIdentity, identity.id)
    assert found is not None
    return found


def order_for(seller: Seller, identity: BuyerIdentity | None, planned_at: datetime,
              status: str = "planned") -> TestOrder:
    """A test order of `seller` placed by `identity`, planned at `planned_at`."""
    run = db.session.execute(select(PlanningRun).where(PlanningRun.period == "2000-01")
                             ).scalar_one_or_none()
    if run is None:
        run = PlanningRun(period="2000-01", commitment="0" * 64, inputs_json="{}",
                          fingerprint="0" * 64, orders_planned=0, orders_dropped=0,
                          total_cost_cents=0, over_budget=False)
        db.session.add(run)
        db.session.flush()
    listing = ListingFactory(seller=seller)
    order = TestOrder(run_id=run.id, seller_id=seller.id, listing_id=listing.id,
                      planned_at=planned_at, buyer_identity_id=identity.id if identity else None,
                      buyer_account=identity.name if identity else "old-account@example.test",
                      sampling_state="normal", protected=False, cost_cents=45_000,
                      status=status)
    db.session.add(order)
    db.session.flush()
    return order


def add(client: FlaskClient, name: str, address: str = ADDRESS,
        payment: str = "card ****1234"):  # type: ignore[no-untyped-def]
    return post_form(client, "/compliance/buyers/new",
                     {"name": name, "address": address, "payment_reference": payment})


# ---------------------------------------------------------------- the page


def test_the_list_shows_active_identities_first_with_their_use(
        client: FlaskClient, officer: object) -> None:
    seller = SellerFactory(legal_name="Flagging Refurb GmbH", trading_name="")
    aaron = BuyerIdentityFactory(name="Aaron Abel", active=False, retired_at=NOW,
                                 retired_reason="Seller named him on the phone.",
                                 flagged_by_seller=seller)
    zoe = BuyerIdentityFactory(name="Zoë Zimmer")
    mia = BuyerIdentityFactory(name="mia Maier", address="", payment_reference="")
    order_for(seller, zoe, datetime(2026, 5, 4, 10))
    order_for(seller, zoe, datetime(2025, 3, 1, 10))  # more than 12 months ago
    db.session.commit()

    page = client.get("/compliance/buyers")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert body.index("mia Maier") < body.index("Zoë Zimmer") < body.index("Aaron Abel")
    assert "<strong>2</strong> active identities in the pool" in body
    row = body[body.index(f'data-testid="buyer-{zoe.id}"'):]
    assert "2026-05-04" in row[:row.index("</tr>")]
    assert '<td class="text-end">1</td>' in row[:row.index("</tr>")]
    assert "not recorded" in body[body.index(f'data-testid="buyer-{mia.id}"'):]
    retired = body[body.index(f'data-testid="buyer-{aaron.id}"'):]
    assert "retired" in retired
    assert "Flagging Refurb GmbH" in retired
    assert ">Buyer identities</a>" in client.get("/").get_data(as_text=True)  # navigation


def test_the_page_says_when_the_pool_is_empty(client: FlaskClient, officer: object) -> None:
    body = client.get("/compliance/buyers").get_data(as_text=True)
    assert "The pool is empty: no test order can be planned" in body


def test_adding_an_identity_stores_it_cleaned_and_audits_it(
        client: FlaskClient, officer: object) -> None:
    response = add(client, "  Anna Schneider ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/compliance/buyers")
    identity = db.session.execute(select(BuyerIdentity)).scalar_one()
    assert (identity.name, identity.address, identity.payment_reference, identity.active) == (
        "Anna Schneider", "Lindenstraße 12\n10115 Berlin\nGermany", "card ****1234", True)
    assert identity.created_at == NOW
    assert identity.created_by_id == officer.id  # type: ignore[attr-defined]
    [entry] = audit_entries("buyer.created")
    assert entry.actor == "compliance@example.test"
    assert json.loads(entry.payload) == {"name": "Anna Schneider",
                                         "address": "Lindenstraße 12\n10115 Berlin\nGermany",
                                         "payment_reference": "card ****1234"}
    assert "Anna Schneider is in the pool" in client.get("/compliance/buyers").get_data(
        as_text=True)


@pytest.mark.parametrize("other", ["Anna Schneider", "anna  SCHNEIDER", " Anna Schneider"])
def test_a_name_in_use_is_refused_with_a_message(client: FlaskClient, officer: object,
                                                 other: str) -> None:
    first = BuyerIdentityFactory(name="Anna Schneider")
    db.session.commit()
    audits = count(AuditEntry)
    response = add(client, other)
    assert response.status_code == 400
    assert (f"A buyer identity named &#34;Anna Schneider&#34; exists already (#{first.id})"
            in response.get_data(as_text=True))
    assert count(BuyerIdentity) == 1
    assert count(AuditEntry) == audits


def test_the_name_of_a_retired_identity_is_not_given_again(client: FlaskClient,
                                                          officer: object) -> None:
    old = BuyerIdentityFactory(name="Jonas Weber", active=False, retired_at=NOW,
                               retired_reason="Spotted.")
    db.session.commit()
    response = add(client, "Jonas Weber")
    assert response.status_code == 400
    assert f"(#{old.id}, retired); give this one another name" in response.get_data(
        as_text=True)


@pytest.mark.parametrize(("data", "message"), [
    ({"name": " "}, "Give the buyer&#39;s name."),
    ({"name": "x" * 121}, "Field cannot be longer than 120 characters."),
    ({"name": "Anna\tSchneider"}, "The name contains a control character (code 0x0009)"),
    ({"address": "Lindenstraße 12, 10115 Berlin"}, "Give the full shipping address"),
    ({"address": "\n".join(f"line {n}" for n in range(9))}, "at most 8 lines"),
    ({"payment_reference": ""}, "Give the payment reference."),
    ({"payment_reference": "card 4111 1111 1111 1111"}, "never a full card or account number"),
    ({"payment_reference": "IBAN DE89370400440532013000"}, "never a full card or account"),
])
def test_bad_input_is_refused_and_nothing_is_stored(client: FlaskClient, officer: object,
                                                    data: dict[str, str], message: str) -> None:
    form = {"name": "Anna Schneider", "address": ADDRESS, "payment_reference": "card ****1234",
            **data}
    response = post_form(client, "/compliance/buyers/new", form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(BuyerIdentity) == 0
    assert audit_entries("buyer.created") == []


def test_editing_changes_the_identity_and_audits_the_changes(
        client: FlaskClient, officer: object) -> None:
    identity = BuyerIdentityFactory(name="Lea Koch", payment_reference="card ****0001")
    seller = SellerFactory()
    order = order_for(seller, identity, datetime(2026, 6, 2, 9))
    db.session.commit()
    assert "Lea Koch" in client.get(f"/compliance/buyers/{identity.id}").get_data(as_text=True)

    response = post_form(client, f"/compliance/buyers/{identity.id}", {
        "name": "Lea Köhler", "address": "Goethestraße 3\n04109 Leipzig\nGermany",
        "payment_reference": "card ****0001", "version": identity.version})
    assert response.status_code == 302
    identity = fresh(identity)
    assert (identity.name, identity.address) == ("Lea Köhler",
                                                 "Goethestraße 3\n04109 Leipzig\nGermany")
    [entry] = audit_entries("buyer.updated")
    changes = json.loads(entry.payload)["changes"]
    assert changes["name"] == {"from": "Lea Koch", "to": "Lea Köhler"}
    assert set(changes) == {"name", "address"}
    # The order keeps the name it was planned with.
    assert db.session.get(TestOrder, order.id).buyer_account == "Lea Koch"  # type: ignore[union-attr]


def test_an_edit_from_a_stale_page_or_onto_another_name_is_refused(
        client: FlaskClient, officer: object) -> None:
    identity = BuyerIdentityFactory(name="Felix Wagner")
    BuyerIdentityFactory(name="Julia Richter")
    db.session.commit()
    form = {"name": "Felix W.", "address": ADDRESS, "payment_reference": "card ****9",
            "version": identity.version - 1}
    stale = post_form(client, f"/compliance/buyers/{identity.id}", form)
    assert stale.status_code == 400
    assert "Someone else changed this buyer identity" in stale.get_data(as_text=True)
    taken = post_form(client, f"/compliance/buyers/{identity.id}",
                      {**form, "name": "JULIA RICHTER", "version": identity.version})
    assert taken.status_code == 400
    assert "exists already" in taken.get_data(as_text=True)
    assert fresh(identity).name == "Felix Wagner"
    assert audit_entries("buyer.updated") == []


# ---------------------------------------------------------------- retiring


def test_retiring_asks_for_confirmation_and_records_the_reason_and_the_seller(
        client: FlaskClient, officer: object) -> None:
    identity = BuyerIdentityFactory(name="Katrin Hoffmann")
    other = BuyerIdentityFactory(name="Stefan Klein")
    served = SellerFactory(legal_name="Recognising Refurb GmbH", trading_name="")
    SellerFactory(legal_name="Unrelated Refurb GmbH", trading_name="")
    order_for(served, identity, datetime(2026, 6, 12, 9))  # planned, not placed yet
    db.session.commit()

    page = client.get(f"/compliance/buyers/{identity.id}/retire").get_data(as_text=True)
    assert "Retiring is for good" in page
    assert "1 planned order not placed yet uses this identity" in page
    assert f'<option value="{served.id}">Recognising Refurb GmbH (#{served.id})</option>' in page
    assert "Unrelated Refurb GmbH" not in page

    form = {"reason": "The seller's support wrote to her by name before the order shipped.",
            "flagged_by": str(served.id), "version": identity.version}
    unconfirmed = post_form(client, f"/compliance/buyers/{identity.id}/retire", form)
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm: retiring cannot be undone." in unconfirmed.get_data(
        as_text=True)
    assert fresh(identity).active

    done = post_form(client, f"/compliance/buyers/{identity.id}/retire",
                     {**form, "irreversible": "y"})
    assert done.status_code == 302
    identity = fresh(identity)
    assert not identity.active
    assert identity.retired_at == NOW
    assert identity.retired_by_id == officer.id  # type: ignore[attr-defined]
    assert identity.retired_reason == form["reason"]
    assert identity.flagged_by_seller_id == served.id
    [entry] = audit_entries("buyer.retired")
    assert json.loads(entry.payload) == {
        "name": "Katrin Hoffmann", "reason": form["reason"], "active_left": 1,
        "flagged_by_seller": {"id": served.id, "name": "Recognising Refurb GmbH"}}
    assert buyers.active_buyers() == [BuyerInput(other.id, "Stefan Klein")]

    # No way back: the page shows the record without a form, and posts are refused.
    shown = client.get(f"/compliance/buyers/{identity.id}").get_data(as_text=True)
    assert "cannot be reactivated" in shown
    assert 'name="name"' not in shown
    assert "Recognising Refurb GmbH" in shown
    audits = count(AuditEntry)
    for path, data in ((f"/compliance/buyers/{identity.id}",
                        {"name": "Katrin H.", "address": ADDRESS, "payment_reference": "card ****2",
                         "version": identity.version}),
                       (f"/compliance/buyers/{identity.id}/retire", {**form, "irreversible": "y",
                                                                     "flagged_by": "nobody",
                                                                     "version": identity.version})):
        refused = post_form(client, path, data)
        assert refused.status_code == 400
        assert "was retired on 2026-06-10" in refused.get_data(as_text=True)
    assert count(AuditEntry) == audits
    assert fresh(identity).name == "Katrin Hoffmann"


def test_the_flagging_seller_may_be_given_by_number_or_left_out(
        client: FlaskClient, officer: object) -> None:
    first, second, third = (BuyerIdentityFactory() for _ in range(3))
    seller = SellerFactory()
    db.session.commit()
    base = {"reason": "Routine rotation.", "irreversible": "y"}
    missing = post_form(client, f"/compliance/buyers/{first.id}/retire",
                        {**base, "flagged_by_number": "999999", "version": first.version})
    assert missing.status_code == 400
    assert "There is no seller number 999999." in missing.get_data(as_text=True)
    assert fresh(first).active
    assert post_form(client, f"/compliance/buyers/{first.id}/retire", {
        **base, "flagged_by_number": str(seller.id), "version": first.version}
        ).status_code == 302
    assert fresh(first).flagged_by_seller_id == seller.id
    assert post_form(client, f"/compliance/buyers/{second.id}/retire",
                     {**base, "version": second.version}).status_code == 302
    assert fresh(second).flagged_by_seller_id is None
    blank = post_form(client, f"/compliance/buyers/{third.id}/retire",
                      {**base, "reason": "  ", "version": third.version})
    assert blank.status_code == 400
    assert "Give the reason for retiring this identity" in blank.get_data(as_text=True)
    assert fresh(third).active


@pytest.mark.parametrize("role", ["vetting", "inspector", "admin"])
def test_other_roles_are_refused(client: FlaskClient, login: Callable[..., object],
                                 role: str) -> None:
    identity = BuyerIdentityFactory()
    db.session.commit()
    login(role)
    for path in ("/compliance/buyers", "/compliance/buyers/new",
                 f"/compliance/buyers/{identity.id}", f"/compliance/buyers/{identity.id}/retire"):
        assert client.get(path).status_code == 403
    refused = post_form(client, f"/compliance/buyers/{identity.id}/retire", {
        "reason": "x", "irreversible": "y", "version": identity.version})
    assert refused.status_code == 403
    assert fresh(identity).active
    assert ">Buyer identities</a>" not in client.get("/").get_data(as_text=True)


# ---------------------------------------------------------------- the planner's inputs


def test_recent_buyers_are_those_of_orders_planned_in_the_12_months_before(app: Flask) -> None:
    a, b, c, d = (BuyerIdentityFactory() for _ in range(4))
    one, two = SellerFactory(), SellerFactory()
    start = date(2026, 7, 1)
    order_for(one, a, datetime(2025, 7, 1, 0, 0))  # exactly 12 months before: counts
    order_for(one, b, datetime(2025, 6, 30, 23, 59))  # earlier: does not
    order_for(one, c, datetime(2026, 6, 30, 17, 0), status="cancelled")
    order_for(one, d, datetime(2026, 7, 1, 9, 0))  # in the period itself: does not
    order_for(one, None, datetime(2026, 3, 1, 9, 0))  # an old order without an identity
    order_for(two, a, datetime(2026, 1, 5, 9, 0))
    order_for(two, a, datetime(2026, 2, 5, 9, 0))
    db.session.commit()
    assert buyers.recent_buyers(start) == {one.id: frozenset({a.id, c.id}),
                                           two.id: frozenset({a.id})}
    assert buyers.recent_buyers(date(2024, 7, 1)) == {}
    assert buyers.year_before(date(2028, 2, 29)) == date(2027, 2, 28)


def test_active_buyers_are_the_active_identities_by_id(app: Flask) -> None:
    first = BuyerIdentityFactory(name="Zora")
    BuyerIdentityFactory(name="Retired", active=False, retired_at=NOW, retired_reason="x")
    last = BuyerIdentityFactory(name="Adam")
    db.session.commit()
    assert buyers.active_buyers() == [BuyerInput(first.id, "Zora"), BuyerInput(last.id, "Adam")]


# ---------------------------------------------------------------- the migration


def test_the_migration_makes_identities_of_the_old_accounts_and_links_the_orders(
        app: Flask) -> None:
    seller = SellerFactory()
    listing = ListingFactory(seller=seller)
    run = PlanningRun(period="2026-01", commitment="0" * 64, inputs_json="{}",
                      fingerprint="0" * 64, orders_planned=4, orders_dropped=0,
                      total_cost_cents=0, over_budget=False)
    db.session.add(run)
    db.session.flush()
    rates = {"rate_onboarding": 2, "rate_normal": 1, "rate_reduced": 0.5, "rate_tightened": 4,
             "budget_cents": 100}
    db.session.add_all([
        SamplingSettings(**rates, buyer_accounts="old-a@example.test\nold-b@example.test"),
        SamplingSettings(**rates, buyer_accounts="new-c@example.test\nOLD-B@example.test")])
    accounts = ["old-a@example.test", "old-b@example.test", "new-c@example.test",
                "typed-by-inspector@example.test", "old-b@example.test"]
    for n, account in enumerate(accounts):
        db.session.add(TestOrder(run_id=run.id, seller_id=seller.id, listing_id=listing.id,
                                 planned_at=datetime(2026, 1, 5 + n, 9), buyer_account=account,
                                 sampling_state="normal", protected=False, cost_cents=1,
                                 status="planned"))
    db.session.commit()
    config = app.extensions["migrate"].migrate.get_config()
    parent = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
    db.session.remove()
    flask_migrate.downgrade(revision=parent)
    try:
        assert "buyer_identities" not in inspect(db.engine).get_table_names()
    finally:
        flask_migrate.upgrade()
    identities = {b.name: b for b in db.session.execute(select(BuyerIdentity)).scalars()}
    # The settings in force spell old-b in capitals; that spelling names the one identity.
    assert sorted(identities) == ["OLD-B@example.test", "new-c@example.test",
                                  "old-a@example.test", "typed-by-inspector@example.test"]
    assert {n for n, b in identities.items() if b.active} == {"new-c@example.test",
                                                             "OLD-B@example.test"}
    retired = identities["old-a@example.test"]
    assert retired.retired_at is not None
    assert "not among the buyer accounts of the sampling settings in force" in \
        retired.retired_reason
    assert all(b.address == "" and b.payment_reference == "" for b in identities.values())
    links = db.session.execute(select(TestOrder.buyer_account, BuyerIdentity.name).join(
        BuyerIdentity, TestOrder.buyer_identity_id == BuyerIdentity.id)
        .order_by(TestOrder.planned_at)).all()
    assert [tuple(row) for row in links] == [
        ("old-a@example.test", "old-a@example.test"), ("old-b@example.test", "OLD-B@example.test"),
        ("new-c@example.test", "new-c@example.test"),
        ("typed-by-inspector@example.test", "typed-by-inspector@example.test"),
        ("old-b@example.test", "OLD-B@example.test")]
    # New identities get ids after the migrated ones (PostgreSQL's sequence moved on).
    assert BuyerIdentityFactory().id == max(b.id for b in identities.values()) + 1


def test_a_new_database_starts_with_an_empty_pool(app: Flask) -> None:
    assert count(BuyerIdentity) == 0
    assert db.session.execute(text("SELECT COUNT(*) FROM buyer_identities")).scalar() == 0


# ---------------------------------------------------------------- the demo pool


def test_the_demo_pool_has_40_plausible_identities_and_is_the_same_every_time(
        app: Flask) -> None:
    from demo.buyers import demo_buyer_identities, ensure_demo_buyers

    pool = demo_buyer_identities()
    assert pool == demo_buyer_identities()
    assert len(pool) == 40
    assert len({buyers.name_key(b.name) for b in pool}) == 40
    assert len({b.payment_reference[-4:] for b in pool}) == 40
    countries = {b.address.splitlines()[-1] for b in pool}
    assert len(countries) == 13
    assert all(b.payment_reference.split()[-1].startswith("****") for b in pool)
    assert ensure_demo_buyers() == 40
    assert ensure_demo_buyers() == 0
    stored = [(b.name, b.address, b.payment_reference) for b in db.session.execute(
        select(BuyerIdentity).order_by(BuyerIdentity.id)).scalars()]
    assert stored == [(b.name, b.address, b.payment_reference) for b in pool]
    assert len(audit_entries("buyer.created")) == 40


def test_the_planner_never_reuses_an_identity_for_a_seller_within_12_months(
        app: Flask) -> None:
    from qc.services import planning

    seller = SellerFactory(label_status="active", sampling_state="normal",
                           label_valid_from=date(2026, 1, 1), label_valid_until=date(2027, 1, 1))
    ListingFactory(seller=seller)
    BuyerIdentityFactory.create_batch(20)
    db.session.commit()
    by_month: dict[str, list[int | None]] = {}
    for period in ("2026-06", "2026-07", "2026-08"):
        run = planning.plan_period(period)
        db.session.commit()
        by_month[period] = list(db.session.execute(select(TestOrder.buyer_identity_id).where(
            TestOrder.run_id == run.id)).scalars())
        assert len(by_month[period]) >= 8  # the floor and a full block: 8 or 9 orders
    june, july, august = (set(by_month[p]) for p in ("2026-06", "2026-07", "2026-08"))
    assert None not in june | july | august
    assert all(len(set(ids)) == len(ids) for ids in by_month.values())  # none twice a month
    # 20 identities cover two months (at most 18 orders) without reuse; the third month
    # has at most 4 fresh ones for 8 orders, uses them all, reuses the rest and says so.
    assert not june & july
    assert len(august - june - july) == 20 - len(june | july)
    notes = planning.run_notes(planning.get_run("2026-08"))  # type: ignore[arg-type]
    assert any("fresh for 8 orders" in w and "used in the last 12 months" in w
               for w in notes["warnings"])
    assert not any("fresh" in w for w in planning.run_notes(
        planning.get_run("2026-07"))["warnings"])  # type: ignore[arg-type]
