"""Critical verdicts confirmed by a second inspector, the head start after an overturned
suspension, and replays that act on the whole history (amendments, the nightly replay)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from compliance.models import Notice, SuspensionReview
from core import audit
from core.db import db
from core.models import AuditEntry
from qc.models import CriticalFinding, Inspection, SellerStatistics, TestOrder
from tests.conftest import post_form
from tests.factories import ListingFactory, SellerFactory, UserFactory
from tests.web.qc_helpers import (
    NOW,
    decide_critical,
    inspect,
    received_orders,
    second_inspector,
)
from vetting.models import LabelEvent, Seller

H = 5.193
W_DEFECT, W_CLEAN = 1.386294, -0.171850


def active_seller() -> Seller:
    seller = SellerFactory(label_status="active", sampling_state="onboarding",
                           label_valid_from=date(2026, 1, 10),
                           label_valid_until=date(2027, 1, 10))
    ListingFactory(seller=seller)
    db.session.commit()
    return seller


def reload(seller: Seller) -> Seller:
    db.session.expire_all()
    return db.session.get(Seller, seller.id)


def stats(seller: Seller) -> SellerStatistics:
    db.session.expire_all()
    row = db.session.get(SellerStatistics, seller.id)
    assert row is not None
    return row


def inspect_all(client: FlaskClient, orders: list[TestOrder],
                failed: tuple[str, ...] = ()) -> None:
    for order in orders:
        response = inspect(client, order, failed=failed)
        assert response.status_code == 302, response.get_data(as_text=True)


def finding_of(order: TestOrder) -> CriticalFinding:
    db.session.expire_all()
    return db.session.execute(select(CriticalFinding).where(
        CriticalFinding.order_id == order.id).order_by(CriticalFinding.id.desc())
        .limit(1)).scalar_one()


def entries(action: str) -> list[AuditEntry]:
    return list(db.session.execute(select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.seq)).scalars())


def count(model: type, *where: object) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)
                              ).scalar_one()


@pytest.fixture
def first(app: Flask, login: Callable[..., object]) -> object:
    """The signed-in client's user: the inspector who records the critical verdict."""
    app.config["CLOCK"] = lambda: NOW
    user = login("inspector", email="ann.first@example.test")
    user.display_name = "Ann First"  # type: ignore[attr-defined]
    db.session.commit()
    return user


# ---------------------------------------------------------------- confirmation


def test_a_second_inspector_confirms_and_the_label_is_suspended_pending_review(
        app: Flask, client: FlaskClient, first: object) -> None:
    seller = active_seller()
    inspect_all(client, received_orders(seller, 2))
    order = received_orders(seller, 1)[0]
    response = inspect(client, order, failed=("LOCK-1",))
    assert response.status_code == 302

    # one inspector's critical verdict: tightened, not counted, not suspended, in the queue
    seller = reload(seller)
    assert (seller.label_status, seller.sampling_state) == ("active", "tightened")
    assert (stats(seller).inspected, stats(seller).critical, stats(seller).s) == (2, 0, 0.0)
    finding = finding_of(order)
    assert (finding.status, finding.checkpoint_codes) == ("pending", ["LOCK-1"])
    assert finding.due_on == date(2026, 6, 15)  # Wednesday + 3 business days
    queue = client.get("/qc/critical").get_data(as_text=True)
    assert f"#{order.id}" in queue
    assert "LOCK-1" in queue
    assert "2026-06-15" in queue
    assert ">overdue</span>" not in queue
    page = client.get(f"/qc/orders/{order.id}").get_data(as_text=True)
    assert "You recorded this inspection" in page
    assert "Examine the device and decide" not in page

    # the inspector who recorded it is refused, with a clear message
    refused = decide_critical(client, order, "confirm", "I am sure.")
    assert refused.status_code == 400
    assert (f"You recorded the inspection of test order #{order.id}; a second inspector must "
            "examine the device") in refused.get_data(as_text=True)
    assert finding_of(order).status == "pending"
    assert entries("critical_finding.confirmed") == []

    # a second inspector confirms; a reason is required
    second = second_inspector(app, name="Bea Second")
    assert "Examine the device and decide" in second.get(
        f"/qc/orders/{order.id}").get_data(as_text=True)
    no_reason = decide_critical(second, order, "confirm", "  ")
    assert no_reason.status_code == 400
    assert "Say what you found on the device" in no_reason.get_data(as_text=True)
    assert reload(seller).label_status == "active"
    app.config["CLOCK"] = lambda: datetime(2026, 6, 11, 9, 30)
    assert decide_critical(second, order, "confirm",
                           "Activation lock still on after a reset.").status_code == 302

    seller = reload(seller)
    assert (seller.label_status, seller.sampling_state) == ("suspended", None)
    event = db.session.execute(select(LabelEvent).where(
        LabelEvent.to_status == "suspended")).scalar_one()
    assert event.pending_review
    assert event.reason == (
        f"Critical verdict on test order #{order.id} (LOCK-1 failed) recorded by Ann First and "
        "confirmed on the device by a second inspector, Bea Second, on 2026-06-11: "
        "zero tolerance.")
    snapshot = json.loads(event.snapshot)
    assert snapshot["order"] == f"test order #{order.id}"
    assert snapshot["critical_confirmation"] == {
        "order": f"test order #{order.id}", "checkpoints": ["LOCK-1"], "found_by": "Ann First",
        "confirmed_by": "Bea Second", "confirmed_on": "2026-06-11",
        "reason": "Activation lock still on after a reset."}
    assert db.session.execute(select(SuspensionReview)).scalar_one().status == "pending"
    row = stats(seller)
    assert (row.inspected, row.defects, row.critical) == (3, 1, 1)
    assert row.s == pytest.approx(W_DEFECT, abs=1e-4)

    # who, when and why are in the audit trail
    [entry] = entries("critical_finding.confirmed")
    payload = json.loads(entry.payload)
    assert entry.actor == "second.inspector@example.test"
    assert entry.at == datetime(2026, 6, 11, 9, 30)
    assert (payload["reason"], payload["found_by"]) == (
        "Activation lock still on after a reset.", "ann.first@example.test")
    assert payload["checkpoints"] == ["LOCK-1"]
    assert payload["overdue"] is False
    assert [e.entity_id for e in entries("critical_finding.opened")] == [str(order.id)]
    assert audit.verify_chain().ok

    # the seller's notice says a second inspector confirmed it
    notice = db.session.execute(select(Notice)).scalar_one()
    assert "confirmed by a second inspector on 2026-06-11" in notice.body_text
    assert "Bea Second" not in notice.body_text

    # decided once: nothing left to decide, the order's page says what happened
    again = post_form(second, f"/qc/orders/{order.id}/critical",
                      {"decision": "reject", "reason": "Second thoughts.", "version": 1},
                      follow_redirects=True)
    assert "has no critical finding waiting for a decision" in again.get_data(as_text=True)
    page = second.get(f"/qc/orders/{order.id}").get_data(as_text=True)
    assert "Confirmed by Bea Second" in page
    assert "No critical finding is waiting" in second.get("/qc/critical").get_data(
        as_text=True)


def test_two_inspectors_cannot_both_decide(app: Flask, client: FlaskClient,
                                           first: object) -> None:
    seller = active_seller()
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("ID-2",))
    version = finding_of(order).version
    second = second_inspector(app)
    third = second_inspector(app, "third.inspector@example.test", "Cy Third")
    assert decide_critical(second, order, "reject", "IMEI matches.").status_code == 302
    late = post_form(third, f"/qc/orders/{order.id}/critical",
                     {"decision": "confirm", "reason": "IMEI blacklisted.", "version": version},
                     follow_redirects=True)
    assert "has no critical finding waiting for a decision" in late.get_data(as_text=True)
    assert finding_of(order).status == "rejected"
    assert reload(seller).label_status == "active"
    assert len(entries("critical_finding.rejected")) == 1
    assert entries("critical_finding.confirmed") == []


def test_a_rejection_rescores_the_order_and_does_not_suspend(
        app: Flask, client: FlaskClient, first: object) -> None:
    seller = active_seller()
    inspect_all(client, received_orders(seller, 3), failed=("DISP-1",))
    assert stats(seller).s == pytest.approx(3 * W_DEFECT, abs=1e-4)
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("LOCK-1",))
    second = second_inspector(app)
    assert decide_critical(second, order, "reject",
                           "The lock is the test buyer account's own; removed.").status_code == 302

    seller = reload(seller)
    assert seller.label_status == "active"
    finding = finding_of(order)
    assert (finding.status, finding.rescored_verdict, finding.rescored_score) == (
        "rejected", "conforming", 100)
    inspection = db.session.execute(select(Inspection).where(
        Inspection.order_id == order.id)).scalar_one()
    assert inspection.verdict == "critical"  # what the first inspector recorded is kept
    row = stats(seller)
    assert (row.inspected, row.defects, row.critical) == (4, 3, 0)
    assert row.s == pytest.approx(3 * W_DEFECT + W_CLEAN, abs=1e-4)
    assert count(SuspensionReview) == 0
    [entry] = entries("critical_finding.rejected")
    assert json.loads(entry.payload)["rescored"]["verdict"] == "conforming"
    page = client.get(f"/qc/orders/{order.id}").get_data(as_text=True)
    assert "The order counts as <strong>conforming</strong>" in page


def test_a_rejected_finding_counts_with_its_other_results_through_the_cusum(
        app: Flask, client: FlaskClient, first: object) -> None:
    seller = active_seller()
    inspect_all(client, received_orders(seller, 3), failed=("DISP-1",))
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("LOCK-1", "DISP-1"))
    decide_critical(second_inspector(app), order, "reject", "No lock on the device.")
    seller = reload(seller)
    assert seller.label_status == "suspended"  # as major: S = 5.55 reaches h
    event = db.session.execute(select(LabelEvent)).scalar_one()
    assert event.reason == (
        f"After the critical finding on test order #{order.id} was rejected by a second "
        "inspector (the order counts as major): the replayed CUSUM S = 5.55 reached h = 5.19 "
        f"on test order #{order.id} (4 major/critical of 4 inspected orders).")
    assert stats(seller).critical == 0


def test_an_overdue_finding_is_marked_and_never_decided_by_the_calendar(
        app: Flask, client: FlaskClient, runner: FlaskCliRunner,
        login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector", "compliance")
    seller = active_seller()
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("LOCK-1",))
    app.config["CLOCK"] = lambda: datetime(2026, 6, 15, 17, 0)  # the deadline day
    assert ">overdue</span>" not in client.get("/qc/critical").get_data(as_text=True)
    assert "critical-overdue" not in client.get("/").get_data(as_text=True)

    app.config["CLOCK"] = lambda: datetime(2026, 6, 16, 9, 0)
    queue = client.get("/qc/critical").get_data(as_text=True)
    assert 'class="table-danger"' in queue
    assert '<span class="badge text-bg-danger">overdue</span>' in queue
    home = client.get("/").get_data(as_text=True)
    assert "Critical findings to confirm" in home
    assert 'data-testid="critical-overdue">1 overdue' in home
    assert ">overdue</span>" in client.get(f"/qc/orders/{order.id}").get_data(as_text=True)
    seller_page = client.get(f"/compliance/sellers/{seller.id}").get_data(as_text=True)
    assert "critical, awaiting confirmation" in seller_page
    assert "1 critical finding awaiting confirmation by a second inspector" in seller_page

    result = runner.invoke(args=["qc", "evaluate"])  # the nightly replay decides nothing
    assert "0 corrected; 0 suspended" in result.output
    assert finding_of(order).status == "pending"
    seller = reload(seller)
    assert (seller.label_status, seller.sampling_state) == ("active", "tightened")


# ---------------------------------------------------------------- amendments


def test_amendments_open_and_withdraw_findings(app: Flask, client: FlaskClient,
                                               first: object) -> None:
    seller = active_seller()
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order])
    assert stats(seller).inspected == 1

    # an amendment that makes the verdict critical goes to the queue, like a new inspection
    amended = inspect(client, order, amend=True, failed=("LOCK-1",),
                      amend_reason="Activation lock found on a second boot")
    assert amended.status_code == 302
    assert finding_of(order).status == "pending"
    seller = reload(seller)
    assert (seller.label_status, seller.sampling_state) == ("active", "tightened")
    assert stats(seller).inspected == 0  # not counted while it waits

    # the device stays until the finding is decided
    db.session.refresh(order)
    kept = post_form(client, f"/qc/orders/{order.id}/close",
                     {"disposition": "returned", "version": order.version})
    assert kept.status_code == 400
    assert "waits for a second inspector; keep the device" in kept.get_data(as_text=True)

    # one that removes it withdraws the queue item; the order counts again
    inspect(client, order, amend=True, amend_reason="The lock was the buyer account's")
    finding = finding_of(order)
    assert finding.status == "withdrawn"
    assert "The lock was the buyer account's" in finding.reason
    assert [e.entity_id for e in entries("critical_finding.withdrawn")] == [str(order.id)]
    assert "No critical finding is waiting" in client.get("/qc/critical").get_data(
        as_text=True)
    row = stats(seller)
    assert (row.inspected, row.critical) == (1, 0)
    assert reload(seller).sampling_state == "onboarding"


def test_an_amendment_of_a_pending_finding_keeps_it_pending_for_the_version_in_force(
        app: Flask, client: FlaskClient, first: object) -> None:
    seller = active_seller()
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("LOCK-1",))
    inspect(client, order, amend=True, failed=("LOCK-1", "ID-2"), amend_reason="IMEI too")
    finding = finding_of(order)
    assert (finding.status, finding.checkpoint_codes) == ("pending", ["ID-2", "LOCK-1"])
    assert count(CriticalFinding) == 1
    current = db.session.execute(select(Inspection).where(
        Inspection.order_id == order.id, Inspection.is_current.is_(True))).scalar_one()
    assert finding.inspection_id == current.id
    decide_critical(second_inspector(app), order, "confirm", "Both confirmed.")
    assert reload(seller).label_status == "suspended"


def test_an_amendment_crossing_h_part_way_through_the_history_suspends(
        app: Flask, client: FlaskClient, first: object) -> None:
    seller = active_seller()
    orders = received_orders(seller, 7)
    inspect_all(client, orders[:3], failed=("DISP-1",))
    inspect_all(client, orders[3:])
    assert stats(seller).s == pytest.approx(3 * W_DEFECT + 4 * W_CLEAN, abs=1e-4)  # 3.47
    # order 4 was a display fault after all: S reaches 5.55 there and ends at 5.03 < h
    response = inspect(client, orders[3], amend=True, failed=("DISP-1",),
                       amend_reason="Dead pixels seen under the lamp")
    assert response.status_code == 302
    row = stats(seller)
    assert row.s == pytest.approx(4 * W_DEFECT + 3 * W_CLEAN, abs=1e-4)
    assert row.s < H
    seller = reload(seller)
    assert seller.label_status == "suspended"
    event = db.session.execute(select(LabelEvent)).scalar_one()
    assert event.pending_review
    assert event.reason == (
        f"After the amendment of test order #{orders[3].id}: the replayed CUSUM S = 5.55 "
        f"reached h = 5.19 on test order #{orders[3].id} (4 major/critical of 4 inspected "
        "orders).")
    assert json.loads(event.snapshot)["order"] == f"test order #{orders[3].id}"
    assert db.session.execute(select(SuspensionReview)).scalar_one().status == "pending"


# ---------------------------------------------------------------- overturn


def test_an_overturned_good_seller_is_not_suspended_again_by_the_next_single_defect(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    login("inspector", "compliance")
    seller = active_seller()
    inspect_all(client, received_orders(seller, 6))
    inspect_all(client, received_orders(seller, 4), failed=("DISP-1",))
    assert reload(seller).label_status == "suspended"
    review = db.session.execute(select(SuspensionReview)).scalar_one()
    response = post_form(client, f"/compliance/reviews/{review.id}", {
        "decision": "overturn", "version": review.version,
        "reason": "The display faults came from one bad batch the seller recalled."})
    assert response.status_code == 302
    seller = reload(seller)
    assert (seller.label_status, seller.sampling_state) == ("active", "tightened")
    row = stats(seller)
    assert row.s == pytest.approx(H / 2, abs=1e-3)
    assert (row.clean_run, row.defects, row.inspected) == (0, 4, 10)
    restored = db.session.execute(select(LabelEvent).where(
        LabelEvent.from_status == "suspended")).scalar_one()
    assert json.loads(restored.snapshot)["S"] == pytest.approx(H / 2, abs=1e-3)

    app.config["CLOCK"] = lambda: NOW + timedelta(days=3)
    inspect_all(client, received_orders(seller, 1, NOW + timedelta(days=3)),
                failed=("DISP-1",))
    assert reload(seller).label_status == "active"  # S = 3.98: not suspended again
    assert stats(seller).s == pytest.approx(H / 2 + W_DEFECT, abs=1e-3)
    assert "0 corrected; 0 suspended" in app.test_cli_runner().invoke(
        args=["qc", "evaluate"]).output
    inspect_all(client, received_orders(seller, 1, NOW + timedelta(days=3)),
                failed=("DISP-1",))
    assert reload(seller).label_status == "suspended"  # two in a row do


# ---------------------------------------------------------------- the nightly replay


def _history_written_around_the_services(seller: Seller, faults: list[bool]) -> list[int]:
    """Inspected orders stored without the label decisions (as an old amendment or a lost
    write would leave them): the statistics row still says nothing happened."""
    inspector = UserFactory(email="legacy@example.test", roles=["inspector"])
    orders = received_orders(seller, len(faults))
    for n, (order, fault) in enumerate(zip(orders, faults, strict=True)):
        order.status, order.inspected_at = "inspected", NOW + timedelta(minutes=n)
        db.session.add(Inspection(order_id=order.id, version=1, is_current=True,
                                  inspector_id=inspector.id, observed_grade="excellent",
                                  verdict="major" if fault else "conforming",
                                  score=60 if fault else 100))
    db.session.add(SellerStatistics(seller_id=seller.id, epoch_at=datetime(1970, 1, 1),
                                    epoch_stats="{}"))
    db.session.commit()
    return [o.id for o in orders]


def test_the_nightly_replay_suspends_on_a_crossing_never_acted_on(
        app: Flask, runner: FlaskCliRunner) -> None:
    app.config["CLOCK"] = lambda: NOW + timedelta(hours=12)
    seller = active_seller()
    ids = _history_written_around_the_services(seller, [True] * 4 + [False] * 3)
    dry = runner.invoke(args=["qc", "evaluate", "--dry-run"])
    assert (f"seller #{seller.id}: would be suspended pending review: Found by the nightly "
            "replay of the inspection history, never acted on: the replayed CUSUM S = 5.55 "
            f"reached h = 5.19 on test order #{ids[3]}") in dry.output
    assert "1 differ; 1 to suspend pending review" in dry.output
    assert reload(seller).label_status == "active"

    result = runner.invoke(args=["qc", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "1 corrected; 1 suspended pending review" in result.output
    seller = reload(seller)
    assert seller.label_status == "suspended"
    event = db.session.execute(select(LabelEvent)).scalar_one()
    assert event.pending_review
    assert event.actor == "system"
    assert event.reason.startswith("Found by the nightly replay of the inspection history")
    assert json.loads(event.snapshot)["order"] == f"test order #{ids[3]}"
    assert db.session.execute(select(SuspensionReview)).scalar_one().status == "pending"
    assert stats(seller).s == pytest.approx(4 * W_DEFECT + 3 * W_CLEAN, abs=1e-4)
    assert len(entries("statistics.corrected")) == 1
    # acted on now: the next night finds nothing
    assert "0 corrected; 0 suspended" in runner.invoke(args=["qc", "evaluate"]).output


def test_the_nightly_replay_leaves_a_crossing_that_was_acted_on(
        app: Flask, runner: FlaskCliRunner) -> None:
    app.config["CLOCK"] = lambda: NOW + timedelta(hours=12)
    seller = active_seller()
    _history_written_around_the_services(seller, [True] * 4 + [False] * 3)
    # suspended after the crossing, and overturned before overturns restarted the statistics
    db.session.add_all([
        LabelEvent(seller_id=seller.id, from_status="active", to_status="suspended",
                   reason="CUSUM", actor="system", pending_review=True,
                   at=NOW + timedelta(minutes=3), kind="suspension"),
        LabelEvent(seller_id=seller.id, from_status="suspended", to_status="active",
                   reason="Suspension overturned on review: error", actor="officer",
                   at=NOW + timedelta(minutes=10), kind="restoration")])
    db.session.commit()
    result = runner.invoke(args=["qc", "evaluate"])
    assert "1 corrected; 0 suspended" in result.output  # the statistics only
    assert reload(seller).label_status == "active"
    assert count(SuspensionReview) == 0
