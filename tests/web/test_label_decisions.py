"""Label decisions from inspections: tightening, suspension, review, appeal, probation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from compliance.models import SellerCase, SuspensionReview
from core import audit
from core.db import db
from core.models import AuditEntry
from qc.models import CriticalFinding, SellerStatistics, TestOrder
from qc.services import inspections, label_decisions, plan_settings
from tests.conftest import post_form, sign_in
from tests.factories import ListingFactory, SellerFactory, UserFactory
from tests.web.qc_helpers import (
    ALLOCATION,
    NOW,
    decide_critical,
    inspect,
    planned_orders,
    received_orders,
    second_inspector,
)
from vetting import events as label_events
from vetting.models import LabelEvent, Seller

H = 5.193


def active_seller() -> Seller:
    seller = SellerFactory(label_status="active", sampling_state="onboarding",
                           label_valid_from=date(2026, 1, 10),
                           label_valid_until=date(2027, 1, 10))
    ListingFactory(seller=seller)
    db.session.commit()
    return seller


def stats(seller: Seller) -> SellerStatistics:
    db.session.expire_all()
    row = db.session.get(SellerStatistics, seller.id)
    assert row is not None
    return row


def reload(seller: Seller) -> Seller:
    db.session.expire_all()
    return db.session.get(Seller, seller.id)


def inspect_all(client: FlaskClient, orders: list[TestOrder], failed: tuple[str, ...] = ()) -> None:
    for order in orders:
        response = inspect(client, order, failed=failed)
        assert response.status_code == 302, response.get_data(as_text=True)


def test_seller_from_active_through_suspension_and_probation_back_to_active(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    seller = active_seller()
    login("inspector", "compliance", email="officer@example.test")

    # one major verdict: S = 1.39 >= 1.0, sampling tightens
    inspect_all(client, received_orders(seller, 1), failed=("DISP-1",))
    assert stats(seller).s == pytest.approx(1.3863, abs=1e-4)
    assert reload(seller).sampling_state == "tightened"

    # three more: S = 5.55 >= h, suspended pending review at once
    inspect_all(client, received_orders(seller, 3), failed=("DISP-1",))
    seller = reload(seller)
    assert seller.label_status == "suspended"
    assert seller.sampling_state is None
    event = db.session.execute(select(LabelEvent).where(
        LabelEvent.to_status == "suspended")).scalar_one()
    assert event.pending_review
    assert event.actor == "system"
    snapshot = json.loads(event.snapshot)
    assert snapshot["S"] == pytest.approx(5.5452, abs=1e-3)
    assert snapshot["h"] == pytest.approx(H, abs=1e-3)
    assert snapshot["defects"] == 4
    assert snapshot["inspected"] == 4
    assert len(snapshot["S_path_tail"]) == 4
    queue = client.get("/compliance/reviews").get_data(as_text=True)
    assert seller.display_name in queue
    assert "reached h = 5.19" in queue

    # a vetting user may not confirm; a compliance officer does
    review = db.session.execute(select(SuspensionReview)).scalar_one()
    confirmed: list[label_events.SuspensionConfirmed] = []
    label_events.subscribe_confirmed(app, confirmed.append)
    outsider = app.test_client()
    UserFactory(email="vet@example.test", roles=["vetting"])
    db.session.commit()
    sign_in(outsider, "vet@example.test")
    denied = post_form(outsider, f"/compliance/reviews/{review.id}",
                       {"decision": "confirm", "version": review.version})
    assert denied.status_code == 403
    page = client.get(f"/compliance/reviews/{review.id}").get_data(as_text=True)
    assert "<svg" in page
    assert "suspend h = 5.19" in page
    assert post_form(client, f"/compliance/reviews/{review.id}",
                     {"decision": "confirm", "reason": "Four display faults in a row.",
                      "version": review.version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(SuspensionReview, review.id).status == "confirmed"
    assert confirmed == [label_events.SuspensionConfirmed(
        seller.id, review.id, event.id, "Four display faults in a row.")]
    assert reload(seller).label_status == "suspended"

    # the seller appeals with a corrective-action plan; it is accepted; reinstatement
    assert post_form(client, f"/compliance/sellers/{seller.id}/cases", {
        "kind": "corrective_action", "received_on": "2026-06-09",
        "summary": "New display supplier; every screen tested on arrival."}).status_code == 302
    case = db.session.execute(select(SellerCase)).scalar_one()
    no_reason = post_form(client, f"/compliance/cases/{case.id}", {
        f"case{case.id}-decision": "accept", f"case{case.id}-version": case.version},
        follow_redirects=True)
    assert "Give the reason for the decision." in no_reason.get_data(as_text=True)
    post_form(client, f"/compliance/cases/{case.id}", {
        f"case{case.id}-decision": "accept", f"case{case.id}-reason": "Plan is credible.",
        f"case{case.id}-version": case.version})
    db.session.expire_all()
    assert db.session.get(SellerCase, case.id).status == "accepted"
    assert post_form(client, f"/compliance/sellers/{seller.id}/reinstate",
                     {"reason": "Corrective-action plan accepted."}).status_code == 302
    seller = reload(seller)
    assert seller.label_status == "probation"
    assert seller.sampling_state == "tightened"
    assert stats(seller).s == pytest.approx(H / 2, abs=1e-3)

    # 14 clean orders in a row end probation
    inspect_all(client, received_orders(seller, 13, NOW + timedelta(hours=1)))
    assert reload(seller).label_status == "probation"
    inspect_all(client, received_orders(seller, 1, NOW + timedelta(hours=2)))
    seller = reload(seller)
    assert seller.label_status == "active"
    assert seller.sampling_state == "reduced"
    history = [(e.from_status, e.to_status) for e in db.session.execute(
        select(LabelEvent).where(LabelEvent.seller_id == seller.id)
        .order_by(LabelEvent.id)).scalars()]
    assert history == [("active", "suspended"), ("suspended", "probation"),
                       ("probation", "active")]
    assert audit.verify_chain().ok


def test_confirmed_critical_verdict_suspends_and_overturn_needs_a_reason(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    seller = active_seller()
    login("inspector", "compliance")
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("LOCK-1",))
    seller = reload(seller)
    assert seller.label_status == "active"  # one inspector's critical verdict waits
    assert seller.sampling_state == "tightened"
    assert decide_critical(second_inspector(app), order, "confirm",
                           "Activation lock is on.").status_code == 302
    seller = reload(seller)
    assert seller.label_status == "suspended"
    review = db.session.execute(select(SuspensionReview)).scalar_one()
    refused = post_form(client, f"/compliance/reviews/{review.id}",
                        {"decision": "overturn", "reason": "", "version": review.version})
    assert refused.status_code == 400
    assert "Give the reason for overturning the suspension." in refused.get_data(as_text=True)
    assert reload(seller).label_status == "suspended"
    post_form(client, f"/compliance/reviews/{review.id}", {
        "decision": "overturn", "reason": "Lock was the buyer account's own; inspector error.",
        "version": review.version})
    seller = reload(seller)
    assert seller.label_status == "active"
    row = stats(seller)
    assert row.critical == 1  # the counts are kept
    assert row.s == pytest.approx(H / 2, abs=1e-3)  # the head start of an overturn


def test_amendment_after_suspension_keeps_it_for_the_reviewer(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    seller = active_seller()
    login("inspector")
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("LOCK-1",))
    decide_critical(second_inspector(app), order, "confirm", "Lock confirmed on the device.")
    assert reload(seller).label_status == "suspended"
    response = inspect(client, order, amend=True, amend_reason="Lock was cleared after reboot")
    assert response.status_code == 302
    assert reload(seller).label_status == "suspended"
    assert db.session.execute(select(SuspensionReview)).scalar_one().status == "pending"
    assert stats(seller).critical == 0  # the replay counts the amended verdict


def test_two_inspections_for_one_seller_at_once_are_both_counted(app: Flask) -> None:
    app.config["CLOCK"] = None
    seller = active_seller()
    inspector = UserFactory(email="insp@example.test", roles=["inspector"])
    db.session.commit()
    orders = received_orders(seller, 2)
    order_ids, inspector_id = [o.id for o in orders], inspector.id
    db.session.commit()  # release this thread's SQLite lock before the two submitters start
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def submit(order_id: int, failed: bool) -> None:
        try:
            barrier.wait(timeout=10)  # both start together and race for the database
            with app.app_context():
                order = db.session.get(TestOrder, order_id)
                data = inspections.InspectionInput(
                    observed_grade=order.listing.promised_grade, battery_percent=90,
                    battery_cycles=100, battery_swollen=False, cable_missing=False, notes="",
                    outcomes={c.code: (not (failed and c.code == "DISP-1"), "")
                              for c in inspections.checkpoints_for(order.listing.category)})
                actor = db.session.get(type(inspector), inspector_id)
                inspections.submit_inspection(order, data, actor)
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(order_ids[0], True)),
               threading.Thread(target=submit, args=(order_ids[1], False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    row = stats(seller)
    assert (row.inspected, row.defects) == (2, 1)
    # whichever committed first, both verdicts are folded in, in commit order
    assert round(row.s, 3) in (round(1.3863 - 0.1719, 3), 1.386)
    from qc.services.label_decisions import evaluate_fleet
    assert evaluate_fleet(fix=False)[1] == []


def test_evaluate_reports_and_fixes_a_drifted_seller(app: Flask, client: FlaskClient,
                                                    runner: FlaskCliRunner,
                                                    login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    seller = active_seller()
    login("inspector")
    inspect_all(client, received_orders(seller, 2), failed=("DISP-1",))
    row = stats(seller)
    row.s, row.defects = 0.0, 0
    db.session.commit()
    dry = runner.invoke(args=["qc", "evaluate", "--dry-run"])
    assert f"seller #{seller.id}: s: stored 0.0 -> replayed 2.77" in dry.output
    assert "1 differ" in dry.output
    assert stats(seller).s == 0.0
    fixed = runner.invoke(args=["qc", "evaluate"])
    assert "1 corrected" in fixed.output
    assert stats(seller).s == pytest.approx(2.7726, abs=1e-3)
    assert "statistics.corrected" in db.session.execute(select(AuditEntry.action)).scalars().all()
    assert "0 corrected" in runner.invoke(args=["qc", "evaluate"]).output


def test_renewal_full_and_conditional(app: Flask, client: FlaskClient,
                                      runner: FlaskCliRunner,
                                      login: Callable[..., object]) -> None:
    in_year = datetime(2026, 12, 20, 9, 0)
    app.config["CLOCK"] = lambda: in_year
    good, withdrew, ours = active_seller(), active_seller(), active_seller()
    login("inspector")
    inspect_all(client, received_orders(good, 6, in_year))
    for seller, side in ((withdrew, "seller"), (ours, "ours")):
        inspect_all(client, received_orders(seller, 2, in_year))
        for order in planned_orders(seller, 4, in_year):
            response = post_form(client, f"/qc/orders/{order.id}/cancel", {
                "reason": "Listing gone", "side": side, "version": order.version})
            assert response.status_code == 302, response.get_data(as_text=True)
    app.config["CLOCK"] = lambda: datetime(2027, 1, 10, 0, 20)
    heard: list[label_events.LabelChanged] = []
    label_events.subscribe(app, heard.append)
    result = runner.invoke(args=["qc", "renew"])
    assert result.exit_code == 0, result.output
    assert "3 label(s) renewed." in result.output
    good, withdrew, ours = reload(good), reload(withdrew), reload(ours)
    assert {s.label_valid_until for s in (good, withdrew, ours)} == {date(2028, 1, 10)}
    assert withdrew.sampling_state == "onboarding"
    reasons = {e.seller_id: e.reason for e in db.session.execute(select(LabelEvent)).scalars()}
    assert reasons[good.id] == ("Renewed: not suspended from 2026-01-10 to 2027-01-10; "
                                "6 test orders inspected (at least 6 needed).")
    assert reasons[withdrew.id] == (
        "Renewed conditionally (only 2 test orders inspected of 6 planned, 4 cancelled or lost "
        "on the seller's side (6 needed)): the seller returns to onboarding-rate sampling.")
    assert "2 test orders inspected of 6 planned — fewer than 6, but not because of the " \
           "seller (0 cancelled or lost on the seller's side)" in reasons[ours.id]
    assert {(e.seller_id, e.to_status, e.renewal) for e in heard} == {
        (good.id, "active", "full"), (withdrew.id, "active", "conditional"),
        (ours.id, "active", "full")}
    assert "0 label(s) renewed." in runner.invoke(args=["qc", "renew"]).output


def test_a_reduced_seller_with_few_orders_renews_fully(app: Flask, client: FlaskClient,
                                                       login: Callable[..., object]) -> None:
    """Reduced sampling (0.5 orders a month) often plans fewer than six orders a year; that is
    the plan's choice and must not send the seller back to onboarding."""
    login("inspector")
    seller = active_seller()
    app.config["CLOCK"] = lambda: datetime(2025, 11, 3, 9, 0)  # the year before the label's
    inspect_all(client, received_orders(seller, 14, datetime(2025, 11, 3, 9, 0)))
    assert reload(seller).sampling_state == "reduced"
    app.config["CLOCK"] = lambda: datetime(2026, 8, 3, 9, 0)
    inspect_all(client, received_orders(seller, 3, datetime(2026, 8, 3, 9, 0)))
    app.config["CLOCK"] = lambda: datetime(2027, 1, 10, 0, 20)
    renewed = label_decisions.renew_labels(date(2027, 1, 10))
    db.session.commit()
    assert renewed == [(seller, True)]
    seller = reload(seller)
    assert (seller.label_status, seller.sampling_state) == ("active", "reduced")
    assert seller.label_valid_until == date(2028, 1, 10)
    event = db.session.execute(select(LabelEvent).where(LabelEvent.seller_id == seller.id)
                               .order_by(LabelEvent.id.desc())).scalars().first()
    assert (event.kind, event.reason) == ("renewal_full", (
        "Renewed: not suspended from 2026-01-10 to 2027-01-10; 3 test orders inspected — fewer "
        "than 6 because the plan chose fewer (3 planned), which does not count against the "
        "seller."))


def test_plan_settings_preview_and_refusals(client: FlaskClient,
                                            login: Callable[..., object]) -> None:
    login("compliance")
    page = client.get("/qc/plan").get_data(as_text=True)
    assert "h = 5.193" in page
    assert "acceptance run 14" in page
    assert "0.4073" in page
    assert "0.0029" in page
    form = {"rate_onboarding": "2", "rate_normal": "1", "rate_reduced": "0.5",
            "rate_tightened": "4", "budget_eur": "60000",
            **ALLOCATION, "p0": "0.05", "p1": "0.20", "alpha": "0.005", "beta": "0.10"}
    preview = post_form(client, "/qc/plan", {**form, "p1": "0.30", "preview": "Preview"})
    assert "h = 5.193" in preview.get_data(as_text=True)
    assert plan_settings.current_settings().p1 == 0.20  # a preview saves nothing
    for change, message in [({"p1": "0.04"}, "must be above the acceptable rate p0"),
                            ({"alpha": "0.7"}, "alpha must be between 0 and 0.5")]:
        response = post_form(client, "/qc/plan", {**form, **change, "submit": "Save"})
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert plan_settings.current_settings().p1 == 0.20
    assert post_form(client, "/qc/plan", {**form, "p1": "0.25", "submit": "Save"}
                     ).status_code == 302
    assert plan_settings.current_settings().p1 == 0.25


def test_oc_command_prints_the_probability_last(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["qc", "oc", "--p", "0.2", "--n", "24"])
    assert result.exit_code == 0
    assert result.output.strip().splitlines()[-1] == "0.4073"
    assert runner.invoke(args=["qc", "oc", "--p", "0.05", "--n", "48"]
                         ).output.strip().splitlines()[-1] == "0.0099"


def test_amendment_that_keeps_a_critical_verdict_does_not_suspend_again(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    seller = active_seller()
    login("inspector", "compliance")
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("LOCK-1",))
    decide_critical(second_inspector(app), order, "confirm", "Lock confirmed on the device.")
    review = db.session.execute(select(SuspensionReview)).scalar_one()
    post_form(client, f"/compliance/reviews/{review.id}", {
        "decision": "overturn", "reason": "Inspector error", "version": review.version})
    assert reload(seller).label_status == "active"
    response = inspect(client, order, amend=True, failed=("LOCK-1",),
                       amend_reason="Typo in the note")
    assert response.status_code == 302
    assert reload(seller).label_status == "active"
    assert len(db.session.execute(select(SuspensionReview)).scalars().all()) == 1
    # the confirmation stands for the same failed checkpoint: nothing new to confirm
    finding = db.session.execute(select(CriticalFinding)).scalar_one()
    assert finding.status == "confirmed"


def test_a_plan_change_applies_from_then_on(app: Flask, client: FlaskClient,
                                            runner: FlaskCliRunner,
                                            login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    seller = active_seller()
    login("inspector", "compliance")
    inspect_all(client, received_orders(seller, 2), failed=("DISP-1",))
    before = stats(seller).s
    form = {"rate_onboarding": "2", "rate_normal": "1", "rate_reduced": "0.5",
            "rate_tightened": "4", "budget_eur": "60000",
            **ALLOCATION, "p0": "0.05", "p1": "0.50", "alpha": "0.005", "beta": "0.10",
            "submit": "Save"}
    assert post_form(client, "/qc/plan", form).status_code == 302
    assert "0 corrected" in runner.invoke(args=["qc", "evaluate"]).output
    assert stats(seller).s == pytest.approx(before)
    app.config["CLOCK"] = lambda: NOW + timedelta(hours=3)
    inspect_all(client, received_orders(seller, 1, NOW + timedelta(hours=3)),
                failed=("DISP-1",))
    # the new plan's defect increment ln(0.50/0.05) = 2.3026 applies to the new order only
    assert stats(seller).s == pytest.approx(before + 2.3026, abs=1e-3)


def test_revocation_closes_the_pending_review(app: Flask, client: FlaskClient,
                                              login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    seller = active_seller()
    login("inspector", "compliance")
    order = received_orders(seller, 1)[0]
    inspect_all(client, [order], failed=("ID-2",))
    decide_critical(second_inspector(app), order, "confirm", "IMEI is on the blacklist.")
    assert reload(seller).label_status == "suspended"
    assert post_form(client, f"/compliance/sellers/{seller.id}/revoke",
                     {"reason": "Stolen devices"}).status_code == 302
    assert reload(seller).label_status == "revoked"
    review = db.session.execute(select(SuspensionReview)).scalar_one()
    assert review.status == "superseded"
    assert "No suspensions are waiting" in client.get("/compliance/reviews").get_data(
        as_text=True)
