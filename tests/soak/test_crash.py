"""Crash safety: kill -9 the scheduler while it plans a month and while it evaluates the
fleet, and a gunicorn worker while it imports a large listing file; then restart.

The work is made long with bulk-inserted sellers (SOAK_CRASH_SELLERS, default 3000). Each
test first rehearses the work in the test process and rolls it back, to learn how long it
takes here; the process is killed once the work is underway: on PostgreSQL when its open
transaction has written rows (pg_stat_activity shows an xid), on SQLite at half the rehearsed
time after the job's start. A kill that came after the work finished fails the test.
"""

from __future__ import annotations

import csv
import io
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from core.audit import record
from core.clock import utcnow
from core.db import db
from core.models import User
from qc.models import BuyerIdentity, Listing, PlanningRun, SellerStatistics, TestOrder
from qc.sampling import compute_commitment
from qc.services import label_decisions, listings, plan_settings, planning
from tests.factories import UserFactory
from tests.soak.harness import (
    PG_URL,
    Browser,
    Reply,
    Scheduler,
    Server,
    audit_count,
    check_consistency,
    dispose,
    env_number,
    fresh_database,
    has_uncommitted_writes,
    migrated_app,
    parse_form,
    process_env,
    wait_for,
)
from vetting.models import Seller

pytestmark = pytest.mark.soak

SELLERS = int(env_number("SOAK_CRASH_SELLERS", 1500))
KILL_AT = 0.4  # SQLite: kill this far into the rehearsed duration


def _bulk_sellers(app: Flask, n: int, labelled: bool = True) -> None:
    """n sellers (labelled, onboarding) with one cheap listing each, in two statements."""
    with app.app_context():
        today = utcnow().date()
        db.session.execute(insert(Seller), [{
            "legal_name": f"Crash Test {i} GmbH", "trading_name": f"Crash {i}", "country": "DE",
            "registration_number": f"HRB C{i}", "registration_key": f"hrbc{i}",
            "contact_email": f"crash{i}@example.test",
            "label_status": "active" if labelled else None,
            "label_valid_from": today - timedelta(days=30) if labelled else None,
            "label_valid_until": today + timedelta(days=300) if labelled else None,
            "sampling_state": "onboarding" if labelled else None} for i in range(n)])
        ids = db.session.execute(select(Seller.id)).scalars().all()
        db.session.execute(insert(Listing), [{
            "seller_id": sid, "sku": f"CR-{sid}", "device_model": "Pixel 7",
            "category": "smartphone", "promised_grade": "good", "price_cents": 5_000,
            "monthly_units": 50, "active": True} for sid in ids])
        db.session.execute(insert(BuyerIdentity), [{
            "name": f"Crash Buyer {k}", "name_key": f"crash buyer {k}",
            "address": f"Teststrasse {k}\n10115 Berlin\nGermany",
            "payment_reference": f"card ****{k:04d}", "active": True} for k in range(40)])
        settings = plan_settings.stored_settings()
        # An order a seller and no money limit: more rows, a longer job; the budget binds.
        settings.budget_orders = n
        settings.budget_cents = 2**31 - 1
        db.session.commit()
        db.session.remove()


def _rehearse(app: Flask, work: Callable[[], object]) -> float:
    """Run `work` in this process and roll it back, twice; how long the warm run took.
    (PostgreSQL needs no rehearsal: the kill waits for the transaction's first write.)"""
    took = 0.0
    if PG_URL:
        return took
    for _ in range(2):
        with app.app_context():
            started = time.perf_counter()
            work()
            took = time.perf_counter() - started
            db.session.rollback()
            db.session.remove()
    return took


def _kill_mid_job(url: str, scheduler: Scheduler, job: str, rehearsed: float) -> None:
    wait_for(lambda: scheduler.logged(f"job {job} started") or scheduler.proc.poll() is not None,
             120, f"the scheduler to start {job}")
    started = time.monotonic()
    if PG_URL:
        wait_for(lambda: has_uncommitted_writes(url), 60, f"{job} to write its first rows",
                 interval=0.02)
    else:
        time.sleep(max(0.0, started + rehearsed * KILL_AT - time.monotonic()))
    scheduler.kill()
    assert scheduler.proc.returncode == -signal.SIGKILL
    assert scheduler.logged(f"job {job} started"), scheduler.output()
    assert not scheduler.logged(f"job {job} done"), (
        f"the kill came after {job} had finished; make the work longer (SOAK_CRASH_SELLERS)")


def _restart(env: dict[str, str]) -> Scheduler:
    """Start the scheduler again; it catches up on every job, then stops shortly after."""
    scheduler = Scheduler(env, exit_after=0.5)
    code = scheduler.wait(timeout=300)
    assert code == 0, scheduler.output()[-3000:]
    return scheduler


def test_scheduler_killed_while_planning_plans_the_month_once(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        app = migrated_app(url, tmp_path)
        try:
            _bulk_sellers(app, SELLERS)
            period = utcnow().strftime("%Y-%m")
            rehearsed = _rehearse(app, lambda: planning.plan_period(period))
            env = process_env(url, tmp_path)

            _kill_mid_job(url, Scheduler(env), "planning", rehearsed)
            with app.app_context():
                assert db.session.execute(select(func.count()).select_from(PlanningRun)
                                          ).scalar_one() == 0
                assert db.session.execute(select(func.count()).select_from(TestOrder)
                                          ).scalar_one() == 0
                db.session.remove()

            again = _restart(env)
            assert again.logged("job planning done: 1"), again.output()[-3000:]
            with app.app_context():
                runs = db.session.execute(select(PlanningRun)).scalars().all()
                assert [r.period for r in runs] == [period]  # planned once, not skipped
                orders = db.session.execute(select(func.count()).select_from(TestOrder).where(
                    TestOrder.run_id == runs[0].id)).scalar_one()
                assert orders == runs[0].orders_planned == SELLERS  # exactly the budget
                seed = (tmp_path / "plan-seeds" / f"{period}.seed").read_text()
                assert compute_commitment(bytes.fromhex(seed)) == runs[0].commitment
                db.session.remove()
            assert audit_count(app, "plan.created") == 1
            consistency = check_consistency(app)
            assert consistency.chain_ok
            assert consistency.corrections == []
        finally:
            dispose(app)


def test_scheduler_killed_while_evaluating_leaves_no_half_written_decision(
        tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        app = migrated_app(url, tmp_path)
        try:
            _bulk_sellers(app, SELLERS)
            with app.app_context():
                # This month is planned already, so the catch-up goes straight to the work
                # below; every seller's stored statistics disagree with its (empty) history.
                db.session.add(PlanningRun(
                    period=utcnow().strftime("%Y-%m"), commitment="0" * 64, inputs_json="{}",
                    fingerprint="0" * 64, orders_planned=0, orders_dropped=0,
                    total_cost_cents=0, over_budget=False))
                epoch = utcnow() - timedelta(days=60)
                db.session.execute(insert(SellerStatistics), [{
                    "seller_id": sid, "s": 0.7, "inspected": 4, "defects": 2,
                    "epoch_at": epoch, "epoch_stats": "{}"}
                    for sid in db.session.execute(select(Seller.id)).scalars()])
                record("test.setup", "fleet", 0, {"sellers": SELLERS})
                db.session.commit()
                db.session.remove()
            rehearsed = _rehearse(app, lambda: label_decisions.evaluate_fleet(fix=True))
            env = process_env(url, tmp_path)

            _kill_mid_job(url, Scheduler(env), "evaluation", rehearsed)
            assert audit_count(app, "statistics.corrected") == 0
            assert len(check_consistency(app).corrections) == SELLERS

            again = _restart(env)
            assert again.logged(f"job evaluation done: {SELLERS}"), again.output()[-3000:]
            assert audit_count(app, "statistics.corrected") == SELLERS  # each exactly once
            consistency = check_consistency(app)
            assert consistency.corrections == []
            assert consistency.chain_ok
        finally:
            dispose(app)


# ---------------------------------------------------------------- a web worker


def _listing_csv(rows: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["seller_registration_number", "seller_country", "sku", "device_model",
                     "category", "promised_grade", "price_eur", "monthly_units"])
    for registration, sku in rows:
        writer.writerow([registration, "DE", sku, "Galaxy S22", "smartphone", "excellent",
                         "300.00", "10"])
    return out.getvalue().encode()


def _upload(browser: Browser, data: bytes, name: str) -> Reply:
    form = parse_form(browser.get("/qc/listings/import").body)
    return browser.post_multipart("/qc/listings/import", form.values,
                                  {"file": (name, data, "text/csv")})


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        n = db.session.execute(select(func.count()).select_from(model)).scalar_one()
        db.session.remove()
    return int(n)


def test_worker_killed_mid_request_rolls_the_write_back(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        app = migrated_app(url, tmp_path)
        try:
            sellers = max(10, SELLERS // 10)
            _bulk_sellers(app, sellers, labelled=False)
            with app.app_context():
                UserFactory(roles=["compliance"], email="importer@example.test")
                db.session.commit()
                db.session.remove()
            big = _listing_csv([(f"HRB C{i % sellers}", f"NEW-{i}")
                                for i in range(min(SELLERS * 8, 50_000))])  # < MAX_ROWS
            with app.app_context():
                actor_id = db.session.execute(select(User.id)).scalar_one()

            def rehearsal() -> None:
                outcome = listings.import_listings(big, "big.csv", db.session.get(User, actor_id))
                assert outcome.errors == ()

            rehearsed = _rehearse(app, rehearsal)
            before = _count(app, Listing)

            with Server(process_env(url, tmp_path), tmp_path / "gunicorn.log") as server:
                browser = Browser(server.base, timeout=120)
                browser.sign_in("importer@example.test")
                outcome_box: list[object] = []

                def post() -> None:
                    try:
                        outcome_box.append(_upload(browser, big, "big.csv"))
                    except Exception as exc:  # the expected end: the connection drops
                        outcome_box.append(exc)

                poster = threading.Thread(target=post)
                posted = time.monotonic()
                poster.start()
                if PG_URL:
                    wait_for(lambda: has_uncommitted_writes(url), 60,
                             "the import to write its first rows", interval=0.02)
                else:
                    # busiest_worker() samples for 0.3 s more
                    time.sleep(max(0.0, posted + rehearsed * KILL_AT - 0.3 - time.monotonic()))
                worker = server.busiest_worker()
                server.kill_worker(worker)
                poster.join(timeout=120)
                assert len(outcome_box) == 1
                assert isinstance(outcome_box[0], Exception), (
                    f"the request was answered instead of cut off: {outcome_box[0]}")

                server.wait_healthy()
                assert _count(app, Listing) == before  # rolled back: no partial rows
                assert audit_count(app, "listing.imported") == 0
                assert check_consistency(app).chain_ok
                # The database is not left locked: the same kind of write succeeds now.
                small = _upload(browser, _listing_csv([("HRB C1", "AFTER-1")]), "small.csv")
                assert small.status == 200, small.body[:2000]
                assert "Imported listings: 1 new" in small.body
                log = server.log_text()
            assert _count(app, Listing) == before + 1
            assert audit_count(app, "listing.imported") == 1
            assert check_consistency(app).chain_ok
            assert log.count("Booting worker") == 3, log  # the killed one was replaced
        finally:
            dispose(app)
