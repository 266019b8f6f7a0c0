"""Planning test orders: who gets orders, the budget, sealed seeds, verify-plan, settings."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, text

from core.db import db
from core.models import AuditEntry
from qc.models import PlanningRun, SamplingSettings, TestOrder
from qc.services import plan_settings, planning
from tests.conftest import PG_URL, post_form
from tests.factories import ListingFactory, SellerFactory
from tests.web.qc_helpers import NOW, labelled_seller, plan

SETTINGS = {"rate_onboarding": "2", "rate_normal": "1", "rate_reduced": "0.5",
            "rate_tightened": "4", "budget_eur": "60000",
            "buyer_accounts": "buyer-a@example.test\nbuyer-b@example.test",
            "p0": "0.05", "p1": "0.20", "alpha": "0.005", "beta": "0.10",
            "submit": "Save settings"}


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def orders_by_seller() -> dict[int, int]:
    return dict(db.session.execute(select(TestOrder.seller_id, func.count())
                                   .group_by(TestOrder.seller_id)).all())


def test_only_labels_in_force_get_orders_at_their_rates(app: Flask) -> None:
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
    assert counts[tightened.id] == 4
    assert counts[onboarding.id] == 2
    assert counts[probation.id] == 4
    for seller in (suspended, expired, unlabelled):
        assert seller.id not in counts
    assert run.orders_planned == 10
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
    assert "planned 2026-06: 2 orders" in first.output
    second = runner.invoke(args=["qc", "plan", "2026-06"])
    assert second.exit_code == 1
    assert "2026-06 is already planned" in second.output
    assert count(PlanningRun) == 1
    assert count(TestOrder) == 2
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


def test_over_budget_drops_normal_and_reduced_orders_only(app: Flask) -> None:
    app.config["CLOCK"] = lambda: NOW
    protected = [labelled_seller("onboarding"), labelled_seller("tightened")]
    normal = [labelled_seller("normal") for _ in range(4)]
    db.session.commit()
    settings = plan_settings.stored_settings()
    settings.budget_cents = 7 * 45_000  # the 6 protected orders and one more
    db.session.commit()
    run = plan(app)
    counts = orders_by_seller()
    assert counts[protected[0].id] == 2
    assert counts[protected[1].id] == 4
    assert sum(counts.get(s.id, 0) for s in normal) == 1
    assert run.orders_dropped == 3
    assert not run.over_budget
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "plan.created")).scalar_one()
    dropped = json.loads(entry.payload)["dropped_orders"]
    assert {d["state"] for d in dropped} == {"normal"}


def test_settings_are_changed_by_compliance_and_audited(client: FlaskClient,
                                                        login: Callable[..., object]) -> None:
    login("compliance")
    assert client.get("/qc/plan").status_code == 200
    response = post_form(client, "/qc/plan", {**SETTINGS, "rate_normal": "1.5"})
    assert response.status_code == 302
    settings = plan_settings.current_settings()
    assert settings.rate_normal == 1.5
    assert settings.accounts == ["buyer-a@example.test", "buyer-b@example.test"]
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "sampling.settings_changed")).scalar_one()
    payload = json.loads(entry.payload)
    assert payload["before"]["rates"]["normal"] == 1.0
    assert payload["after"]["rates"]["normal"] == 1.5


def test_bad_settings_change_nothing(client: FlaskClient,
                                     login: Callable[..., object]) -> None:
    login("compliance")
    client.get("/qc/plan")
    before = count(SamplingSettings)
    for change, message in [({"rate_normal": "-1"}, "Between 0 and 31 a month."),
                            ({"rate_tightened": "NaN"}, "Between 0 and 31"),
                            ({"budget_eur": "abc"}, "Not a valid decimal value."),
                            ({"buyer_accounts": "a@x.example\na@x.example"}, "only once")]:
        response = post_form(client, "/qc/plan", {**SETTINGS, **change})
        assert message in response.get_data(as_text=True), message
    assert count(SamplingSettings) == before


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
    assert count(TestOrder) == 2


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


def test_budget_cuts_the_lowest_risk_seller_first(app: Flask) -> None:
    from qc.models import SellerStatistics

    app.config["CLOCK"] = lambda: NOW
    calm = labelled_seller("normal")
    risky = labelled_seller("normal")
    db.session.add_all([SellerStatistics(seller_id=calm.id, s=0.0),
                        SellerStatistics(seller_id=risky.id, s=0.9)])
    db.session.commit()
    plan_settings.stored_settings().budget_cents = 45_000  # room for one order
    db.session.commit()
    plan(app)
    assert orders_by_seller() == {risky.id: 1}


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
