"""Planning test orders: who gets orders, the budgets, sealed seeds, verify-plan, settings,
the threshold and the returns/claims signal."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, text

from core.db import db
from core.models import AuditEntry
from qc.models import MarketplaceSignal, PlanningRun, SamplingSettings, TestOrder
from qc.plan_records import inputs_from_json
from qc.sampling import PlanInputs
from qc.services import plan_settings, planning
from tests.conftest import PG_URL, post_form
from tests.factories import ListingFactory, SellerFactory
from tests.web.qc_helpers import NOW, buyer_pool, inspected_orders, labelled_seller, plan
from vetting.models import Seller

SETTINGS = {"budget_orders": "200", "budget_eur": "60000", "floor_rate": "0.01",
            "block_max": "8", "min_auc": "0.55", "h_override": "", "h_reason": "",
            "rate_onboarding": "2", "rate_normal": "1", "rate_reduced": "0.5",
            "rate_tightened": "4",
            "p0": "0.05", "p1": "0.20", "alpha": "0.005", "beta": "0.10",
            "submit": "Save settings"}
MAY = datetime(2026, 5, 12, 10, 0)  # inspections before the June plan


@pytest.fixture(autouse=True)
def _buyer_pool(app: Flask) -> None:
    """The planner needs buyer identities to place orders under."""
    buyer_pool()


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def orders_by_seller(period: str = "2026-06") -> dict[int, int]:
    """Orders a period's plan holds, per seller."""
    return dict(db.session.execute(select(TestOrder.seller_id, func.count())
                                   .join(PlanningRun).where(PlanningRun.period == period)
                                   .group_by(TestOrder.seller_id)).all())


def field_error(page: str, name: str) -> str:
    """The invalid-feedback text shown with the form field ``name`` (empty if none)."""
    start = page.index(f'name="{name}"')
    following = page.find(' name="', start + 1)
    match = re.search(r'class="invalid-feedback[^"]*">\s*(.*?)\s*</div>',
                      page[start:following if following > 0 else None], re.S)
    return html.unescape(match.group(1)) if match else ""


def test_only_labels_in_force_get_orders(app: Flask) -> None:
    app.config["CLOCK"] = lambda: NOW
    tightened = labelled_seller("tightened")
    onboarding = labelled_seller("onboarding")
    probation = labelled_seller("normal", status="probation")
    suspended = labelled_seller(None, status="suspended")
    expired = labelled_seller(None, status="expired")
    unlabelled = SellerFactory()
    ListingFactory(seller=unlabelled)
    db.session.commit()
    run = plan(app)
    counts = orders_by_seller()
    # The budget (200) is far more than three sellers can take: block after block, each in
    # force gets the floor of 0.01 plus the most a month allows (8): 8 orders, or 9 for the one
    # the systematic draw favours.
    for seller in (tightened, onboarding, probation):
        assert 8 <= counts[seller.id] <= 9
    for seller in (suspended, expired, unlabelled):
        assert seller.id not in counts
    assert run.orders_planned == sum(counts.values()) <= 25
    states = dict(db.session.execute(select(TestOrder.seller_id, TestOrder.sampling_state)).all())
    assert states[probation.id] == "tightened"  # planned as tightened while on probation
    for order in db.session.execute(select(TestOrder)).scalars():
        assert order.planned_at.weekday() < 5
        assert order.planned_at.month == 6
        assert 9 <= order.planned_at.hour <= 17


def test_period_is_planned_once(app: Flask, runner: FlaskCliRunner) -> None:
    app.config["CLOCK"] = lambda: NOW
    labelled_seller()
    db.session.commit()
    first = runner.invoke(args=["qc", "plan", "2026-06"])
    assert first.exit_code == 0, first.output
    orders = count(TestOrder)
    assert f"planned 2026-06: {orders} orders" in first.output
    second = runner.invoke(args=["qc", "plan", "2026-06"])
    assert second.exit_code == 1
    assert "2026-06 is already planned" in second.output
    assert count(PlanningRun) == 1
    assert count(TestOrder) == orders
    bad = runner.invoke(args=["qc", "plan", "June"])
    assert "Period must look like 2026-07" in bad.output


def test_plan_due_job_is_idempotent(app: Flask, runner: FlaskCliRunner) -> None:
    app.config["CLOCK"] = lambda: NOW
    labelled_seller()
    db.session.commit()
    assert "planned 2026-06" in runner.invoke(args=["qc", "plan-due"]).output
    assert "nothing to plan" in runner.invoke(args=["qc", "plan-due"]).output
    assert count(PlanningRun) == 1


def test_seed_is_sealed_until_the_period_closes_then_verifiable(
        app: Flask, runner: FlaskCliRunner) -> None:
    app.config["CLOCK"] = lambda: NOW
    for _ in range(3):
        labelled_seller("tightened")
    db.session.commit()
    run = plan(app)
    assert run.seed_hex is None
    sealed = Path(app.config["PLAN_SEED_DIR"]) / "2026-06.seed"
    seed = bytes.fromhex(sealed.read_text())
    assert hashlib.sha256(seed).hexdigest() == run.commitment
    assert seed.hex() not in json.dumps([e.payload for e in db.session.execute(
        select(AuditEntry)).scalars()])
    early = runner.invoke(args=["qc", "verify-plan", "2026-06"])
    assert early.exit_code == 1
    assert "revealed only after the period closes" in early.output
    assert "no period to close" in runner.invoke(
        args=["qc", "close-periods", "--on", "2026-06-30"]).output

    closed = runner.invoke(args=["qc", "close-periods", "--on", "2026-07-01"])
    assert f"revealed the seed of 2026-06: {seed.hex()}" in closed.output
    assert not sealed.exists()
    verified = runner.invoke(args=["qc", "verify-plan", "2026-06"])
    assert verified.exit_code == 0, verified.output
    assert "2026-06: match" in verified.output

    # someone moves an order to another day: verification catches it
    order = db.session.execute(select(TestOrder).order_by(TestOrder.id)).scalars().first()
    db.session.execute(text("UPDATE test_orders SET planned_at = :t WHERE id = :i"),
                       {"t": datetime(2026, 6, 30, 10, 0), "i": order.id})
    db.session.commit()
    tampered = runner.invoke(args=["qc", "verify-plan", "2026-06"])
    assert tampered.exit_code == 1
    assert "2026-06: MISMATCH" in tampered.output
    assert f"seller {order.seller_id}" in tampered.output


def test_the_money_budget_cuts_the_least_valuable_orders_first(app: Flask) -> None:
    app.config["CLOCK"] = lambda: NOW
    risky = labelled_seller("tightened")
    inspected_orders(risky, ["major", "major", "conforming"], MAY)  # P(bad) 0.77: 7 orders
    others = [labelled_seller("normal") for _ in range(4)]  # P(bad) 0.12: 1 order each
    db.session.commit()
    settings = plan_settings.stored_settings()
    settings.budget_cents = 8 * 45_000  # the money binds before the 200 orders
    db.session.commit()
    run = plan(app)
    counts = orders_by_seller()
    assert 7 <= counts[risky.id] <= 8  # the confirmation tier is cut last
    assert run.orders_planned == sum(counts.values()) == 8
    assert run.total_cost_cents <= settings.budget_cents
    assert run.orders_dropped >= 3
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "plan.created")).scalar_one()
    dropped = json.loads(entry.payload)["dropped_orders"]
    assert len(dropped) == run.orders_dropped
    assert {d["seller_id"] for d in dropped} <= {s.id for s in others}
    assert all(d["reason"].startswith("over the money budget") for d in dropped)
    tiers = dict(db.session.execute(select(TestOrder.seller_id, TestOrder.confirmation)
                                    .where(TestOrder.run_id == run.id)).all())
    assert tiers[risky.id] is True


def test_the_order_budget_is_never_exceeded(app: Flask) -> None:
    app.config["CLOCK"] = lambda: NOW
    sellers = [labelled_seller("normal") for _ in range(12)]
    for seller, verdicts in zip(sellers, (["major"], ["conforming"] * 3, ["minor"],
                                          ["major", "major"], ["conforming"]), strict=False):
        inspected_orders(seller, verdicts, datetime(2026, 2, 10, 10))
    db.session.commit()
    settings = plan_settings.stored_settings()
    for period, budget in (("2026-03", 1), ("2026-04", 5), ("2026-05", 9)):
        settings.budget_orders = budget
        db.session.commit()
        run = plan(app, period)
        # Twelve sellers' blocks ask for more than the budget, so exactly the budget is used.
        assert run.orders_planned == budget
        assert count(select(TestOrder).join(PlanningRun).where(
            PlanningRun.period == period).subquery()) == budget
        notes = planning.run_notes(run)
        assert notes["budget_orders"] == budget
        assert notes["unallocated"] == 0
        assert f"normal sellers (12) wanted 12 orders, got {budget}" in notes["shortfall_text"]


def test_settings_are_changed_by_compliance_and_audited(client: FlaskClient,
                                                        login: Callable[..., object]) -> None:
    login("compliance")
    assert client.get("/qc/plan").status_code == 200
    response = post_form(client, "/qc/plan", {
        **SETTINGS, "rate_normal": "1.5", "budget_orders": "150", "floor_rate": "0.02",
        "block_max": "6", "min_auc": "0.6"})
    assert response.status_code == 302
    settings = plan_settings.current_settings()
    assert settings.rate_normal == 1.5
    assert (settings.budget_orders, settings.floor_rate, settings.block_max,
            settings.min_auc) == (150, 0.02, 6, 0.6)
    assert settings.h_override_reason == ""
    assert settings.h == plan_settings.threshold(settings).budget_h  # the budget's choice
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "sampling.settings_changed")).scalar_one()
    payload = json.loads(entry.payload)
    assert payload["before"]["rates"]["normal"] == 1.0
    assert payload["after"]["rates"]["normal"] == 1.5
    assert payload["before"]["allocation"]["budget_orders"] == 200
    assert payload["after"]["allocation"] == {"budget_orders": 150, "floor": 0.02,
                                              "block_max": 6, "min_auc": 0.6}


def test_bad_settings_change_nothing(client: FlaskClient,
                                     login: Callable[..., object]) -> None:
    login("compliance")
    client.get("/qc/plan")
    before = count(SamplingSettings)
    for change, message in [({"rate_normal": "-1"}, "Between 0 and 31 a month."),
                            ({"rate_tightened": "NaN"}, "Between 0 and 31"),
                            ({"budget_eur": "abc"}, "Not a valid decimal value."),
                            ({"budget_orders": "2.5"}, "Not a valid integer value.")]:
        response = post_form(client, "/qc/plan", {**SETTINGS, **change})
        assert response.status_code == 400, change
        assert message in response.get_data(as_text=True), message
    assert count(SamplingSettings) == before


def test_settings_the_planner_cannot_honour_are_refused_at_their_field(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    for _ in range(5):
        labelled_seller("normal")
    db.session.commit()
    login("compliance")
    client.get("/qc/plan")
    audit_before, settings_before = count(AuditEntry), count(SamplingSettings)
    for change, name, message in [
            ({"budget_orders": "0"}, "budget_orders",
             "The budget must be at least 1 test order a month"),
            ({"budget_orders": "3", "floor_rate": "1"}, "budget_orders",
             "A budget of 3 orders a month cannot cover the floor of 1 orders a month for "
             "each of the 5 sellers in force; it needs at least 5"),
            ({"floor_rate": "1.5"}, "floor_rate",
             "The floor must be between 0 and 1 order a month per seller."),
            ({"block_max": "0"}, "block_max", "A block must be between 1 and 31 orders."),
            ({"min_auc": "0.4"}, "min_auc", "between 0.5 and 1"),
            ({"h_override": "4.2"}, "h_override", ""),  # the reason is missing, see below
            ({"h_override": "1", "h_reason": "Board decision"}, "h_override",
             "above one defect's step (1.386) and at most 20"),
            ({"h_reason": "No override given"}, "h_override",
             "Give the threshold that overrides the budget's choice")]:
        response = post_form(client, "/qc/plan", {**SETTINGS, **change})
        page = response.get_data(as_text=True)
        assert response.status_code == 400, change
        if name == "h_override" and not message:
            assert "Say why the threshold is overridden" in field_error(page, "h_reason")
        else:
            assert message in field_error(page, name), (change, field_error(page, name))
    assert count(SamplingSettings) == settings_before
    assert count(AuditEntry) == audit_before


def test_the_threshold_override_is_kept_with_its_reason_and_audited(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    for _ in range(3):
        labelled_seller("normal")
    db.session.commit()
    login("compliance")
    page = client.get("/qc/plan").get_data(as_text=True)
    assert "The budget allows" in page
    reason = "Board decision 2026-06: keep the design threshold during the pilot"
    response = post_form(client, "/qc/plan", {**SETTINGS, "h_override": "4.80",
                                              "h_reason": reason})
    assert response.status_code == 302
    settings = plan_settings.current_settings()
    assert (settings.h, settings.h_override_reason) == (4.8, reason)
    assert plan_settings.current_plan().main.h == 4.8  # decisions use it
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "sampling.settings_changed")).scalar_one()
    after = json.loads(entry.payload)["after"]["plan"]
    assert (after["h"], after["h_override_reason"]) == (4.8, reason)

    page = client.get("/qc/plan").get_data(as_text=True)
    threshold = page[page.index('data-testid="threshold"'):]
    assert "h = 4.80" in threshold
    assert "overridden" in threshold
    assert reason in threshold
    assert 'name="h_override"' in page
    assert 'value="4.80"' in page
    post_form(client, "/qc/plan", {**SETTINGS, "budget_orders": "150", "h_override": "4.80",
                                   "h_reason": reason})
    assert plan_settings.current_settings().h == 4.8

    post_form(client, "/qc/plan", SETTINGS)  # cleared: the budget chooses again
    settings = plan_settings.current_settings()
    assert settings.h_override_reason == ""
    assert settings.h == plan_settings.threshold(settings).budget_h


def test_plan_page_shows_the_commitment_and_verification(
        app: Flask, client: FlaskClient, runner: FlaskCliRunner,
        login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    labelled_seller()
    db.session.commit()
    run = plan(app)
    login("compliance")
    page = client.get("/qc/plan/2026-06").get_data(as_text=True)
    assert run.commitment in page
    assert "sealed until the period closes" in page
    runner.invoke(args=["qc", "close-periods", "--on", "2026-07-01"])
    page = client.get("/qc/plan/2026-06").get_data(as_text=True)
    assert "match</span>" in page


def test_two_scheduler_processes_only_one_plans(app: Flask, db_uri: str,
                                                tmp_path: Path) -> None:
    app.config["CLOCK"] = None
    labelled_seller()
    db.session.commit()
    env = {**os.environ, "FLASK_SECRET_KEY": "test-secret",
           "FLASK_SQLALCHEMY_DATABASE_URI": db_uri,
           "FLASK_PLAN_SEED_DIR": str(tmp_path / "seeds"),
           "FLASK_SCHEDULER_LOCK_FILE": str(tmp_path / "scheduler.lock"),
           "FLASK_EVIDENCE_DIR": str(tmp_path / "evidence")}
    if PG_URL:
        env["DATABASE_URL"] = PG_URL
    cmd = [sys.executable, "-m", "flask", "--app", "app", "scheduler", "--exit-after", "4"]
    cwd = Path(__file__).resolve().parents[2]
    first = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    second = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    out1, _ = first.communicate(timeout=60)
    out2, _ = second.communicate(timeout=60)
    assert first.returncode == 0, out1
    assert second.returncode == 0, out2
    waited = [out for out in (out1, out2) if "waiting for the scheduler lock" in out]
    assert len(waited) == 1, (out1, out2)
    db.session.expire_all()
    today = date.today()
    runs = db.session.execute(select(PlanningRun.period)).scalars().all()
    assert runs == [f"{today.year:04d}-{today.month:02d}"]
    assert 8 <= count(TestOrder) <= 9  # one seller: the floor and a full block of 8


def test_a_missing_seed_does_not_block_other_periods(app: Flask,
                                                     runner: FlaskCliRunner) -> None:
    app.config["CLOCK"] = lambda: NOW
    labelled_seller()
    db.session.commit()
    plan(app, "2026-05")
    plan(app, "2026-06")
    (Path(app.config["PLAN_SEED_DIR"]) / "2026-05.seed").unlink()
    result = runner.invoke(args=["qc", "close-periods", "--on", "2026-07-02"])
    assert result.exit_code == 0, result.output
    assert "revealed the seed of 2026-06" in result.output
    problem = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "plan.seed_problem")).scalar_one()
    assert "2026-05" in problem.payload
    assert "missing" in problem.payload
    assert planning.get_run("2026-06").verify_result == "match"


def test_the_budget_goes_to_the_riskiest_seller_first(app: Flask) -> None:
    app.config["CLOCK"] = lambda: NOW
    calm = labelled_seller("normal")
    risky = labelled_seller("normal")
    inspected_orders(calm, ["conforming"] * 5, MAY)  # P(bad) 0.05
    inspected_orders(risky, ["major"], MAY)  # P(bad) 0.45
    db.session.commit()
    settings = plan_settings.stored_settings()
    settings.budget_orders, settings.floor_rate = 1, 0.0  # one order and no floor
    db.session.commit()
    plan(app)
    assert orders_by_seller() == {risky.id: 1}
    inputs = inputs_from_json(planning.get_run("2026-06").inputs_json)
    assert isinstance(inputs, PlanInputs)
    p_bad = {s.seller_id: s.p_bad for s in inputs.sellers}
    assert p_bad[risky.id] > 0.4 > 0.1 > p_bad[calm.id]


def test_reading_the_plan_page_stores_nothing(client: FlaskClient,
                                              login: Callable[..., object]) -> None:
    login("compliance")
    audit_before = count(AuditEntry)
    page = client.get("/qc/plan")
    assert page.status_code == 200
    assert "The default plan; nobody has changed it yet" in page.get_data(as_text=True)
    assert count(SamplingSettings) == 0
    assert count(AuditEntry) == audit_before
    post_form(client, "/qc/plan", {**SETTINGS, "rate_normal": "1.5"})
    assert count(SamplingSettings) == 1  # the first save stores one version, not two


# ---------------------------------------------------------------- signals and budget-bound months


DEFECTIVE_RANKS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.3, 0.2)
CLEAN_RANKS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.85)


def signals(seller: Seller, units: int | None, events: int, months: int = 6) -> None:
    """Marketplace figures for the ``months`` months before June 2026."""
    for k in range(months):
        month = date(2026, 5 - k, 1) if k < 5 else date(2025, 12 - (k - 5), 1)
        db.session.add(MarketplaceSignal(seller_id=seller.id, month=month, orders=units,
                                         customer_returns=events, warranty_claims=0))


def first_orders_fleet() -> list[Seller]:
    """24 sellers in force, each with one inspected first order in March: 12 defective, 12
    clean, planned when their claim rank was as given (the signal predicts, not perfectly),
    and six months of returns that rank them the same way now."""
    sellers = []
    for defective, ranks in ((True, DEFECTIVE_RANKS), (False, CLEAN_RANKS)):
        for rank in ranks:
            seller = labelled_seller("onboarding")
            inspected_orders(seller, ["major" if defective else "conforming"],
                             datetime(2026, 3, 9, 11), claim_percentile=rank)
            signals(seller, 100, round(rank * 20))
            sellers.append(seller)
    return sellers


def test_a_budget_bound_month_with_signals_is_planned_and_re_derived(
        app: Flask, client: FlaskClient, runner: FlaskCliRunner,
        login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    fleet = first_orders_fleet()
    silent = labelled_seller("normal")  # no marketplace figures at all
    no_units = labelled_seller("normal")
    signals(no_units, 0, 0)  # figures with zero units sold
    unknown_units = labelled_seller("normal")
    signals(unknown_units, None, 3)  # units not reported
    db.session.commit()
    settings = plan_settings.stored_settings()
    settings.budget_orders = 10
    db.session.commit()

    result = runner.invoke(args=["qc", "plan", "2026-06"])
    assert result.exit_code == 0, result.output
    run = planning.get_run("2026-06")
    assert run.orders_planned == count(TestOrder.__table__.select().where(
        TestOrder.run_id == run.id).subquery()) == 10  # exactly the budget
    notes = planning.run_notes(run)
    assert notes["signal"]["used"] is True
    assert (notes["signal"]["defective"], notes["signal"]["clean"]) == (12, 12)
    assert 0.55 <= notes["signal"]["auc"] < 1
    assert "returns/claims sharpen the allocation" in notes["signal"]["text"]
    assert "onboarding sellers (24) wanted 48 orders, got" in notes["shortfall_text"][0]
    assert "  shortfall: onboarding sellers (24) wanted 48 orders, got" in result.output
    assert "  signal: At least 0.55: returns/claims sharpen the allocation" in result.output

    inputs = inputs_from_json(run.inputs_json)
    assert isinstance(inputs, PlanInputs)
    assert inputs.budget_orders == 10
    assert inputs.signal_auc == notes["signal"]["auc"]
    ranks = {s.seller_id: s.claim_percentile for s in inputs.sellers}
    assert ranks[silent.id] is None
    assert ranks[no_units.id] is None
    assert ranks[unknown_units.id] is None
    assert all(ranks[s.id] is not None for s in fleet)
    recorded = dict(db.session.execute(select(TestOrder.seller_id, TestOrder.claim_percentile)
                                       .where(TestOrder.run_id == run.id)).all())
    assert all(recorded[sid] == ranks[sid] for sid in recorded)

    assert runner.invoke(args=["qc", "close-periods", "--on", "2026-07-01"]).exit_code == 0
    verified = runner.invoke(args=["qc", "verify-plan", "2026-06"])
    assert verified.exit_code == 0, verified.output
    assert "2026-06: match" in verified.output
    assert "  shortfall: onboarding sellers (24)" in verified.output

    # Someone moves a stored order in or out of the confirmation tier: verification sees it.
    order = db.session.execute(select(TestOrder).where(TestOrder.run_id == run.id)
                               .order_by(TestOrder.id)).scalars().first()
    tier = order.confirmation
    db.session.execute(text("UPDATE test_orders SET confirmation = :t WHERE id = :i"),
                       {"t": not tier, "i": order.id})
    db.session.commit()
    tampered = runner.invoke(args=["qc", "verify-plan", "2026-06"])
    assert tampered.exit_code == 1
    assert "2026-06: MISMATCH" in tampered.output
    assert f"changed order of seller {order.seller_id}" in tampered.output
    assert f"confirmation expected {tier}, stored {not tier}" in tampered.output
    login("compliance")
    page = client.get("/qc/plan/2026-06").get_data(as_text=True)
    assert "mismatch</span>" in page


def test_sellers_without_usable_signals_are_planned(app: Flask) -> None:
    app.config["CLOCK"] = lambda: NOW
    silent = labelled_seller("normal")
    no_units = labelled_seller("normal")
    signals(no_units, 0, 0)
    with_units = labelled_seller("normal")
    signals(with_units, 40, 2)
    db.session.commit()
    run = plan(app)
    counts = orders_by_seller()
    assert all(counts.get(s.id, 0) >= 1 for s in (silent, no_units, with_units))
    inputs = inputs_from_json(run.inputs_json)
    assert isinstance(inputs, PlanInputs)
    ranks = {s.seller_id: s.claim_percentile for s in inputs.sellers}
    assert ranks == {silent.id: None, no_units.id: None, with_units.id: 0.5}
    assert inputs.signal_auc is None  # no first orders to measure it on
    assert "Not enough first orders yet (0 defective and 0 clean" in \
        planning.run_notes(run)["signal"]["text"]


def test_the_plan_page_shows_the_threshold_and_the_signal(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    login("compliance")
    page = client.get("/qc/plan").get_data(as_text=True)
    signal = page[page.index('data-testid="signal"'):]
    assert signal.startswith('data-testid="signal">Not enough first orders yet')
    assert "returns/claims are ignored for allocation" in signal[:400]
    first_orders_fleet()
    db.session.commit()
    page = client.get("/qc/plan").get_data(as_text=True)
    estimate = planning.signal_auc()
    signal = page[page.index('data-testid="signal"'):][:600]
    assert f"AUC <strong>{estimate.auc:.2f}</strong>" in signal
    assert f"(95% interval {estimate.low:.2f}&ndash;{estimate.high:.2f})" in signal
    assert "from 12 defective and 12 clean first orders" in signal
    assert "At least 0.55: returns/claims sharpen the allocation" in signal
    threshold = plan_settings.threshold(plan_settings.current_settings())
    assert threshold.sellers == 24
    box = page[page.index('data-testid="threshold"'):][:1200]
    assert f"h = {threshold.budget_h:.2f} for the 24 sellers in force now: " \
           f"{200 / 24:.2f} orders per seller a month" in box
    assert f"h = {threshold.design_h:.3f}" in box
    # A preview shows what another budget would choose, and saves nothing.
    response = post_form(client, "/qc/plan", {**SETTINGS, "budget_orders": "3",
                                              "preview": "Preview"})
    assert response.status_code == 200
    asked = plan_settings.threshold(plan_settings.current_settings(), budget_orders=3)
    assert asked.budget_h < threshold.budget_h
    assert f"h = {asked.budget_h:.2f} (0.12 orders per seller a month)" in \
        response.get_data(as_text=True)
    assert count(SamplingSettings) == 0


def test_a_weak_signal_is_ignored(app: Flask, client: FlaskClient,
                                  login: Callable[..., object]) -> None:
    for verdict in ["major"] * 10 + ["conforming"] * 10:
        inspected_orders(labelled_seller(), [verdict], MAY, claim_percentile=0.5)
    db.session.commit()
    assert planning.signal_auc().auc == 0.5
    login("compliance")
    page = client.get("/qc/plan").get_data(as_text=True)
    assert "Below 0.55: returns/claims are ignored for allocation." in page


def test_the_run_pages_show_budget_threshold_signal_shortfall_and_warnings(
        app: Flask, client: FlaskClient, runner: FlaskCliRunner,
        login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: NOW
    risky = labelled_seller("tightened")
    inspected_orders(risky, ["critical", "major", "conforming"], MAY)
    for _ in range(2):
        labelled_seller("normal")
    db.session.commit()
    settings = plan_settings.stored_settings()
    # Saved when fewer sellers were in force: the budget no longer covers every floor.
    settings.budget_orders, settings.floor_rate = 1, 0.5
    db.session.commit()
    result = runner.invoke(args=["qc", "plan", "2026-06"])
    assert result.exit_code == 0, result.output
    warning = ("The budget of 1 order does not cover the floor of 0.5 orders a month for "
               "each of 3 sellers")
    assert f"  warning: {warning}" in result.output
    run = planning.get_run("2026-06")
    assert run.over_budget
    login("compliance")
    page = client.get("/qc/plan/2026-06").get_data(as_text=True)
    budget = page[page.index('data-testid="budget"'):][:500]
    assert "1 orders and €60000.00 a month; 1 orders planned" in budget
    assert "1 seller in the confirmation tier" in budget
    threshold = page[page.index('data-testid="threshold"'):][:500]
    notes = planning.run_notes(run)
    assert f"h = {notes['threshold']['h']:.2f} in force" in threshold
    assert f"the budget allowed h = {notes['threshold']['budget_h']:.2f} for 3 sellers" \
        in threshold
    assert "Not enough first orders yet" in page[page.index('data-testid="signal"'):][:500]
    shortfall = page[page.index('data-testid="shortfall"'):][:800]
    assert "tightened sellers (1) wanted 4 orders, got" in shortfall
    assert "normal sellers (2) wanted 2 orders, got" in shortfall
    assert warning in page[page.index('data-testid="warnings"'):]
    orders = page[page.index('data-testid="orders"'):]
    assert "<th>Tier</th>" in orders
    assert "<th>Protected</th>" not in orders
    tiers = dict(db.session.execute(select(TestOrder.seller_id, TestOrder.confirmation)
                                    .where(TestOrder.run_id == run.id)).all())
    assert tiers.get(risky.id) in (True, None)  # the one order may go to anyone
    assert ("confirmation</span>" in orders) == any(tiers.values())

    overview = client.get("/qc/plan").get_data(as_text=True)
    row = overview[overview.index('data-testid="runs"'):]
    assert "floor not covered" in row
    assert "tightened sellers (1) wanted 4 orders, got" in row
    assert "1 warning" in row


def test_a_fixed_rate_run_still_shows_and_verifies(
        app: Flask, client: FlaskClient, runner: FlaskCliRunner,
        login: Callable[..., object]) -> None:
    """A period planned by the fixed-rate planner (inputs format 1) before the change."""
    from qc import sampling_v1
    from qc.models import Listing
    from qc.plan_records import plan_run_columns
    from qc.sampling import ListingInput, parse_period
    from vetting.labels import SamplingState

    app.config["CLOCK"] = lambda: NOW
    seller = labelled_seller("tightened")
    db.session.commit()
    item = db.session.execute(select(Listing).where(Listing.seller_id == seller.id)
                              ).scalar_one()
    inputs = sampling_v1.PlanInputs(
        period=parse_period("2026-05"),
        sellers=(sampling_v1.SellerInput(seller.id, SamplingState.TIGHTENED, False, 0.0,
                                         (ListingInput(item.id, item.monthly_units,
                                                       item.price_cents),)),),
        rates=sampling_v1.DEFAULT_RATES, budget_cents=10_000_000,
        buyer_accounts=("old-buyer@example.test",))
    seed = bytes(range(1, 33))
    old = sampling_v1.compute_plan(inputs, seed)
    run = PlanningRun(**plan_run_columns(inputs, old, seed), seed_hex=seed.hex())
    db.session.add(run)
    db.session.flush()
    db.session.add_all(TestOrder(
        run_id=run.id, seller_id=o.seller_id, listing_id=o.listing_id,
        planned_at=o.planned_at, buyer_account=o.buyer_account,
        sampling_state=o.sampling_state.value, protected=o.protected,
        cost_cents=o.cost_cents, status="planned") for o in old.orders)
    db.session.commit()
    verified = runner.invoke(args=["qc", "verify-plan", "2026-05"])
    assert verified.exit_code == 0, verified.output
    assert "shortfall" not in verified.output
    login("compliance")
    page = client.get("/qc/plan/2026-05").get_data(as_text=True)
    assert "the fixed rates per sampling state (inputs format 1)" in page
    assert "<th>Protected</th>" in page
    assert "match</span>" in page
    overview = client.get("/qc/plan").get_data(as_text=True)
    assert "fixed rates" in overview[overview.index('data-testid="runs"'):]
