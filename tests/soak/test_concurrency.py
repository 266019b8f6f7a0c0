"""Concurrency soak: SOAK_INSPECTORS simulated inspectors (default 20) submit inspections for
SOAK_SECONDS (default 4 here; `make soak` runs 60) through `gunicorn -w 2` on 127.0.0.1, on a
fresh database (SQLite, or PostgreSQL when DATABASE_URL is set).

Each inspector has an account, signs in and works through its own received test orders:
fetch the inspection form, post a full inspection with the form's CSRF token. Every fifth
order is posted twice at the same moment (a double click on a slow connection), so exactly one
of the two must be accepted. Afterwards: no 5xx, no transport error; every accepted
submission is stored exactly once (and nothing else is); every seller's statistics equal a
replay of its history; the audit chain verifies. With SOAK_REPORT=path the figures are
written into that Markdown file (one section per database).
"""

from __future__ import annotations

import os
import platform
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.clock import utcnow
from core.db import db
from qc.models import Inspection, Listing, PlanningRun, TestOrder
from qc.services import plan_settings
from tests.factories import UserFactory
from tests.soak.harness import (
    Browser,
    Reply,
    Server,
    audit_count,
    check_consistency,
    dispose,
    env_number,
    fresh_database,
    looks_like_traceback,
    migrated_app,
    parse_form,
    percentile,
    process_env,
)
from tests.web.qc_helpers import labelled_seller
from vetting.models import Seller

pytestmark = pytest.mark.soak

TWIN_EVERY = 5  # orders 1, 6, 11... of each inspector are posted twice at once
CONFLICT = re.compile(r"has already been inspected|changed since you opened it|by someone else|"
                      r"at the same time")
BAD_SELLER_EVERY = 4  # every 4th seller ships faulty devices, so some get suspended mid-run


@dataclass
class Tally:
    """What the inspectors saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: dict[str, list[float]] = field(default_factory=lambda: {"form": [], "submit": []})
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: dict[int, list[str]] = field(default_factory=dict)  # order id -> inspectors
    refused_single: list[str] = field(default_factory=list)
    twins: list[tuple[int, tuple[int, int]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def note(self, kind: str, path: str, reply: Reply) -> None:
        with self.lock:
            self.timings[kind].append(reply.seconds)
            self.statuses[reply.status] += 1
            if reply.status >= 500 or looks_like_traceback(reply.body):
                self.problems.append(f"{reply.status} on {path}: {reply.body[:300]!r}")

    def accept(self, order_id: int, email: str) -> None:
        with self.lock:
            self.accepted.setdefault(order_id, []).append(email)


def _build(app: Flask, inspectors: int, per_inspector: int) -> dict[str, list[int]]:
    """Sellers (every BAD_SELLER_EVERY-th of them bad), one account per inspector, and
    received orders spread so that every seller is inspected by many inspectors at once."""
    with app.app_context():
        plan_settings.stored_settings()
        sellers = [labelled_seller() for _ in range(max(4, inspectors))]
        listing = {s.id: db.session.execute(select(Listing.id).where(Listing.seller_id == s.id)
                                            ).scalar_one() for s in sellers}
        emails = [UserFactory(roles=["inspector"], email=f"soak{i:02d}@example.test").email
                  for i in range(inspectors)]
        run = PlanningRun(period="2000-01", commitment="0" * 64, inputs_json="{}",
                          fingerprint="0" * 64, orders_planned=0, orders_dropped=0,
                          total_cost_cents=0, over_budget=False)
        db.session.add(run)
        db.session.flush()
        now = utcnow()
        work: dict[str, list[TestOrder]] = {}
        for i, email in enumerate(emails):
            for j in range(per_inspector):
                seller = sellers[(i + j) % len(sellers)]
                work.setdefault(email, []).append(TestOrder(
                    run_id=run.id, seller_id=seller.id, listing_id=listing[seller.id],
                    planned_at=now - timedelta(days=5), buyer_account="b@example.test",
                    sampling_state="onboarding", protected=False, cost_cents=45_000,
                    status="received", marketplace_ref=f"SOAK-{i}-{j}",
                    price_paid_cents=45_000, placed_at=now - timedelta(days=4),
                    received_on=now.date()))
        db.session.add_all(o for orders in work.values() for o in orders)
        db.session.commit()
        result = {email: [o.id for o in orders] for email, orders in work.items()}
        db.session.remove()
    return result


def _fill(page: str, rng: random.Random, fail_rate: float) -> dict[str, str]:
    form = parse_form(page)
    data = dict(form.values)
    data.update(battery_percent=data.get("battery_percent") or str(rng.randint(80, 100)),
                battery_cycles=data.get("battery_cycles") or str(rng.randint(50, 900)))
    for name in form.radios:
        data[name] = "fail" if rng.random() < fail_rate else "pass"
    return data


def _inspector(base: str, email: str, orders: list[int], bad: set[int], deadline: float,
               tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    browser = Browser(base)
    try:
        browser.sign_in(email)
        for n, order_id in enumerate(orders, start=1):
            if time.monotonic() >= deadline:
                return
            path = f"/qc/orders/{order_id}/inspect"
            page = browser.get(path)
            tally.note("form", path, page)
            if page.status != 200:
                with tally.lock:
                    tally.problems.append(f"{page.status} on GET {path}")
                continue
            data = _fill(page.body, rng, 0.2 if order_id in bad else 0.002)
            done = f"/qc/orders/{order_id}"
            if n % TWIN_EVERY != 1:  # the first and every fifth order go twice
                reply = browser.post(path, data)
                tally.note("submit", path, reply)
                if reply.status == 302 and reply.location.endswith(done):
                    tally.accept(order_id, email)
                else:
                    with tally.lock:
                        tally.refused_single.append(f"{reply.status} on {path}")
                continue
            replies: list[Reply] = []
            start = threading.Barrier(2)

            def post_once(into: list[Reply] = replies, payload: dict[str, str] = data,
                          url: str = path, barrier: threading.Barrier = start) -> None:
                barrier.wait(timeout=30)
                into.append(browser.post(url, payload))

            twin = threading.Thread(target=post_once)
            twin.start()
            post_once()
            twin.join(timeout=120)
            for reply in replies:
                tally.note("submit", path, reply)
                if reply.status == 302 and reply.location.endswith(done):
                    tally.accept(order_id, email)
                elif not CONFLICT.search(reply.body):
                    with tally.lock:
                        tally.problems.append(f"a refused double post of {path} does not say "
                                              f"why: {reply.status} {reply.body[:300]!r}")
            with tally.lock:
                statuses = tuple(sorted(r.status for r in replies))
                tally.twins.append((order_id, (statuses + (0, 0))[:2]))
    except Exception as exc:  # a transport error or timeout is a finding, not a crash
        with tally.lock:
            tally.problems.append(f"{email}: {type(exc).__name__}: {exc}")


def _stored(app: Flask) -> tuple[dict[int, int], dict[int, str]]:
    """Inspections per order, and who submitted the current one."""
    from core.models import User

    with app.app_context():
        counts = dict(db.session.execute(select(Inspection.order_id, func.count())
                                         .group_by(Inspection.order_id)).all())
        who = dict(db.session.execute(select(Inspection.order_id, User.email)
                                      .join(User, User.id == Inspection.inspector_id)).all())
        dialect = db.engine.dialect.name
        suspended = db.session.execute(select(func.count()).select_from(Seller).where(
            Seller.label_status == "suspended")).scalar_one()
        db.session.remove()
    app.config["SOAK_DIALECT"] = dialect
    app.config["SOAK_SUSPENDED"] = suspended
    return counts, who


def test_inspectors_submit_concurrently_through_gunicorn(tmp_path: Path) -> None:
    seconds = env_number("SOAK_SECONDS", 4)
    inspectors = int(env_number("SOAK_INSPECTORS", 20))
    per_inspector = int(seconds * 2.5) + 2 * TWIN_EVERY
    with fresh_database(tmp_path) as url:
        app = migrated_app(url, tmp_path)
        try:
            work = _build(app, inspectors, per_inspector)
            with app.app_context():
                sellers = sorted({o.seller_id for o in db.session.execute(
                    select(TestOrder)).scalars()})
                bad_sellers = set(sellers[::BAD_SELLER_EVERY])
                bad = set(db.session.execute(select(TestOrder.id).where(
                    TestOrder.seller_id.in_(bad_sellers))).scalars())
                db.session.remove()
            dispose(app)
            tally = Tally()
            with Server(process_env(url, tmp_path), tmp_path / "gunicorn.log") as server:
                started = time.monotonic()
                deadline = started + seconds
                threads = [threading.Thread(target=_inspector, args=(
                    server.base, email, orders, bad, deadline, tally, i), daemon=True)
                    for i, (email, orders) in enumerate(work.items())]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(timeout=seconds + 180)
                elapsed = time.monotonic() - started
                hung = sum(t.is_alive() for t in threads)
                log = server.log_text()

            assert hung == 0, f"{hung} inspector(s) still running after the bounded wait"
            assert tally.problems == [], "\n".join(tally.problems[:10]) + "\n" + log[-6000:]
            assert "Traceback" not in log, log[-3000:]
            assert log.count("Booting worker") == 2, "a worker died and was replaced:\n" + log
            assert tally.refused_single == [], tally.refused_single[:20]
            assert tally.twins, "no order was posted twice at once; run longer"
            doubly = [(o, s) for o, s in tally.twins if len(tally.accepted.get(o, ())) != 1]
            assert doubly == [], f"twin posts not accepted exactly once: {doubly[:10]}"
            assert all(s[1] != 302 or s[0] != 302 for _, s in tally.twins)

            counts, who = _stored(app)
            assert counts == dict.fromkeys(tally.accepted, 1), (
                "stored inspections differ from the accepted submissions")
            assert who == {o: emails[0] for o, emails in tally.accepted.items()}
            assert audit_count(app, "inspection.submitted") == len(tally.accepted)
            consistency = check_consistency(app)
            assert consistency.corrections == [], consistency.corrections[:5]
            assert consistency.chain_ok
        finally:
            dispose(app)
    _report(app, tally, inspectors, seconds, elapsed, consistency)


# ---------------------------------------------------------------- figures


def _report(app: Flask, tally: Tally, inspectors: int, seconds: float, elapsed: float,
            consistency: object) -> None:
    submits, forms = tally.timings["submit"], tally.timings["form"]
    requests = len(submits) + len(forms)
    accepted = len(tally.accepted)
    dialect = "PostgreSQL" if app.config["SOAK_DIALECT"] == "postgresql" else "SQLite"
    ms = lambda xs, q: f"{percentile(xs, q) * 1000:.0f}"  # noqa: E731
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    lines = [
        f"### {dialect}",
        "",
        f"{date.today().isoformat()}, {os.cpu_count()} CPU(s), load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, Python {platform.python_version()}; "
        f"SOAK_SECONDS={seconds:g} SOAK_INSPECTORS={inspectors}, `gunicorn -w 2`.",
        "",
        "| inspectors | load s | inspections accepted | accepted/s | requests | requests/s "
        "| form p50 / p95 ms | submit p50 / p95 ms | double posts (one accepted each) "
        "| 5xx | sellers suspended |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {inspectors} | {elapsed:.1f} | {accepted} | {accepted / elapsed:.1f} | {requests} "
        f"| {requests / elapsed:.1f} | {ms(forms, 50)} / {ms(forms, 95)} "
        f"| {ms(submits, 50)} / {ms(submits, 95)} | {len(tally.twins)} "
        f"| {sum(n for c, n in tally.statuses.items() if c >= 500)} "
        f"| {app.config['SOAK_SUSPENDED']} |",
        "",
        f"Statuses: {statuses}. Stored inspections equal the accepted ones; "
        f"statistics of {getattr(consistency, 'sellers', 0)} sellers equal the replay; "
        f"audit chain of {getattr(consistency, 'chain_entries', 0)} entries verifies.",
    ]
    section = "\n".join(lines)
    print("\n" + section)
    target = os.environ.get("SOAK_REPORT")
    if target:
        _write_section(Path(target), dialect.lower(), section)


def _write_section(path: Path, key: str, section: str) -> None:
    """Replace (or add) this database's section of the results file."""
    start, end = f"<!-- soak:{key} -->", f"<!-- /soak:{key} -->"
    block = f"{start}\n{section}\n{end}"
    text = path.read_text() if path.exists() else (
        "# Soak results\n\nWritten by `make soak` (tests/soak/test_concurrency.py).\n")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else (
        text.rstrip("\n") + "\n\n" + block + "\n")
    path.write_text(text)
