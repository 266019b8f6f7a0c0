"""Benchmark of the PDF reports: one seller's audit dossier and the fleet's period report.

    .venv/bin/python bench/bench_reports.py [--sellers 3000] [--orders-per-seller 12]
                                            [--dossier-orders 60] [--repeats 3] [--profile]
                                            [--full-audit]

1. Builds a fresh, migrated SQLite database in a temporary directory and fills it with BULK
   inserts (`db.session.execute(insert(Model), rows)`): N labelled sellers in 13 countries,
   one or two listings each, a planning run per month of 2026, about `--orders-per-seller`
   test orders per seller with the current inspection of every inspected order, label events
   (a grant per seller; suspensions pending review, confirmed, overturned, reinstated) and
   their suspension reviews; plus one dossier seller with exactly `--dossier-orders`
   inspected orders, an approved application and a small audit trail (one entry per order;
   with `--full-audit`, each order's whole history: placed, received, inspected, the
   inspection with its findings and photo hashes, closed). The only audit entries
   are written through `core.audit.record`, so the hash chain stays valid (checked).
   The database is built in a child process (multiprocessing, spawn), so the peak memory
   reported below is that of a process that only renders reports.
2. Times, with `time.perf_counter()`, `--repeats` renders of each report through the real
   `compliance.jobs.render_now` (median and min reported):
   - the dossier of the dossier seller for 2026: total, pages, and the split into context
     build, HTML render and PDF (`render_pdf`, WeasyPrint inside `store`), measured by
     wrapping those module functions; and WeasyPrint alone on the SAME final HTML
     (`weasyprint.HTML(string=..., base_url=..., url_fetcher=...).write_pdf()`), so the
     overhead of our code over WeasyPrint's own render is (total - alone) / alone, in wall
     time and in CPU time (`time.process_time()`, less disturbed by other processes);
     `gc.collect()` runs before each timed call, and the first render of each kind (the
     process's warm-up) is shown apart from the median and min;
   - the period report of the whole fleet for 2026: total, pages, the same split, peak RSS
     (`ru_maxrss` before and after) and, in one extra untimed render, the tracemalloc peak.
3. Prints a table of the results; `--profile` adds cProfile's top 10 (cumulative) of one
   extra, untimed render of each report.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import multiprocessing
import os
import platform
import pstats
import random
import resource
import secrets
import shutil
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

import flask_migrate
import weasyprint
from flask import Flask
from sqlalchemy import func, insert, select, update
from werkzeug.security import generate_password_hash

from app import create_app
from compliance import jobs, reports
from compliance.models import Report, SuspensionReview
from compliance.pdf import StaticOnlyFetcher
from core import audit
from core.db import db
from core.models import User, UserRole
from qc.decisions import SellerStats
from qc.models import Inspection, Listing, PlanningRun, TestOrder
from qc.orders import (
    Disposition,
    PackageCondition,
    arrival_details,
    closing_details,
    inspection_details,
    placement_details,
)
from qc.scoring import VERDICT_BANDS, inspection_payload
from qc.services import plan_settings
from qc.snapshots import compute_snapshot
from vetting.labels import LabelStatus, compute_label_record, label_event_columns
from vetting.models import Application, ApplicationItem, Evidence, LabelEvent, Seller
from vetting.services import checklists

YEAR = 2026
DATE_FROM, DATE_TO = date(YEAR, 1, 1), date(YEAR, 12, 31)
LABEL_FROM, LABEL_UNTIL = date(YEAR, 1, 1), date(YEAR + 1, 1, 1)
NOW = datetime(YEAR + 1, 1, 4, 9, 0)  # the application clock while reports render
CHUNK = 500  # sellers generated and inserted per batch (keeps the builder's memory flat)

COUNTRIES = ("DE", "FR", "IT", "ES", "NL", "BE", "AT", "PL", "SE", "DK", "PT", "IE", "CZ")
MODELS = {
    "smartphone": ("iPhone 13 128 GB", "iPhone 14 256 GB", "Galaxy S22 128 GB",
                   "Pixel 7 128 GB"),
    "tablet": ("iPad Air (5th gen) 64 GB", "iPad 10.2 128 GB", "Galaxy Tab S8 128 GB"),
    "laptop": ("MacBook Air M1 256 GB", "ThinkPad T14 Gen 2", "Latitude 7420"),
}
PRICES = {"smartphone": (250_00, 700_00), "tablet": (200_00, 600_00), "laptop": (400_00, 1100_00)}
GRADES = ("premium", "excellent", "good", "fair")
SAMPLING = (("onboarding", 25), ("normal", 45), ("reduced", 20), ("tightened", 10))
ORDER_STATUSES = (("closed", 64), ("inspected", 24), ("cancelled", 6), ("lost", 3),
                  ("planned", 3))
VERDICTS = (("conforming", 90), ("minor", 5), ("major", 4), ("critical", 1))
REASONS = {
    "minor": ["PACK-1 failed (minor): protective packaging, warranty insert"],
    "major": ["DISP-1 failed (major): no dead pixels, lines, burn-in, white spots"],
    "critical": ["LOCK-1 failed (critical): activation lock / factory-reset protection / "
                 "MDM cleared"],
}
BUYERS = ("Benchmark Buyer 1", "Benchmark Buyer 2", "Benchmark Buyer 3")
SUSPENDED_SHARE = 0.03  # of the fleet: suspended once in the year
# What became of a suspension: still pending, confirmed, confirmed then reinstated on
# probation, overturned on review.
OUTCOMES = (("pending", 40), ("confirmed", 30), ("reinstated", 15), ("overturned", 15))


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    """One value of (value, weight) pairs."""
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def app_config(db_uri: str, workdir: Path) -> dict[str, object]:
    """The configuration of tests/conftest.py's make_config, with the bench's folders."""
    return {
        "TESTING": True,
        "SECRET_KEY": secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": db_uri,
        "SESSION_COOKIE_SECURE": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "REPORT_DIR": str(workdir / "reports"),
        "EVIDENCE_DIR": str(workdir / "evidence"),
        "PLAN_SEED_DIR": str(workdir / "plan-seeds"),
    }


class Clock:
    """A settable application clock (config["CLOCK"])."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def maxrss_mb() -> float:
    """The peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------- building the database


def next_id(model: Any) -> int:
    return (db.session.execute(select(func.max(model.id))).scalar() or 0) + 1


def bulk(model: Any, rows: list[dict[str, Any]]) -> None:
    """One bulk INSERT of plain dicts (executemany), no ORM objects."""
    if rows:
        db.session.execute(insert(model), rows)


def make_user(email: str, name: str, role: str) -> User:
    password = generate_password_hash(secrets.token_urlsafe(16), method="pbkdf2:sha256:1000")
    user = User(email=email, display_name=name, password_hash=password,
                role_rows=[UserRole(role=role)])
    db.session.add(user)
    return user


def snapshot(plan: Any, s: float, inspected: int, defects: int, minor: int, clean_run: int,
             order_id: int) -> dict[str, Any]:
    """The statistics snapshot of a decision, built by the app's own qc.snapshots."""
    stats = SellerStats(s=s, clean_run=clean_run, onboarding=False, inspected=inspected,
                        defects=defects, minor=minor)
    return compute_snapshot(stats, [s], plan, f"test order #{order_id}")


def label_event(fleet: Fleet, seller_id: int, current: str | None, target: str, reason: str,
                at: datetime, *, actor_id: int | None = None, actor: str = audit.SYSTEM_ACTOR,
                application_id: int | None = None, pending_review: bool = False,
                stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """A label event row whose change, kind and validity the app's vetting.labels decides."""
    record = compute_label_record(
        LabelStatus(current) if current else None, LabelStatus(target), reason,
        today=at.date(), valid_from=LABEL_FROM, valid_until=LABEL_UNTIL, sampling_state=None,
        pending_review=pending_review)
    return {"id": fleet.take("event"), "seller_id": seller_id, "actor_id": actor_id,
            "actor": actor, "at": at, "application_id": application_id,
            **label_event_columns(record, stats)}


@dataclass
class Fleet:
    """Id counters, the people and the plan shared by the generators."""

    rng: random.Random
    plan: Any
    compliance_id: int
    compliance_email: str
    inspector_ids: list[int]
    run_ids: dict[int, int]  # month -> planning run id
    ids: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def take(self, kind: str) -> int:
        value = self.ids[kind]
        self.ids[kind] = value + 1
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return value


def seller_row(fleet: Fleet, sid: int, country: str, categories: list[str]) -> dict[str, Any]:
    rng = fleet.rng
    return {
        "id": sid, "legal_name": f"Refurb Works {sid:05d} {country} Ltd",
        "trading_name": f"Refurb {sid}" if rng.random() < 0.7 else "", "country": country,
        "registration_number": f"REG {sid:07d}", "registration_key": f"REG{sid:07d}",
        "vat_id": f"{country}{100_000_000 + sid}", "contact_email": f"seller{sid}@example.test",
        "website": f"https://refurb{sid}.example", "device_categories": ",".join(categories),
        "declared_monthly_volume": rng.randint(20, 2000),
        "created_at": datetime(YEAR - 1, rng.randint(6, 11), rng.randint(1, 28), 10, 0),
        "label_status": "active", "label_valid_from": LABEL_FROM, "label_valid_until": LABEL_UNTIL,
        "sampling_state": pick(rng, SAMPLING), "version": 1,
    }


def listing_rows(fleet: Fleet, sid: int, categories: list[str]) -> list[dict[str, Any]]:
    rng = fleet.rng
    rows = []
    for n, category in enumerate(categories, start=1):
        low, high = PRICES[category]
        rows.append({
            "id": fleet.take("listing"), "seller_id": sid, "sku": f"S{sid}-{n:02d}",
            "device_model": rng.choice(MODELS[category]), "category": category,
            "promised_grade": rng.choice(GRADES), "price_cents": rng.randint(low, high),
            "monthly_units": rng.randint(5, 300), "active": True,
            "created_at": datetime(YEAR - 1, 12, 1, 9, 0)})
    return rows


def order_rows(fleet: Fleet, seller: dict[str, Any], listings: list[dict[str, Any]], count: int,
               status: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` test orders of a seller in 2026 and the current inspection of each inspected
    one. Orders still planned fall in late December; the others are planned by 20 December
    so that every inspection happens within the year."""
    rng = fleet.rng
    orders, inspections = [], []
    for _ in range(count):
        state = status or pick(rng, ORDER_STATUSES)
        listing = rng.choice(listings)
        if state == "planned":
            day = date(YEAR, 12, rng.randint(21, 31))
        else:
            day = date(YEAR, 1, 1) + timedelta(days=rng.randint(0, 353))
        planned_at = datetime.combine(day, day_time(rng.randint(7, 18), rng.randint(0, 59)))
        oid = fleet.take("order")
        row: dict[str, Any] = {
            "id": oid, "run_id": fleet.run_ids[planned_at.month], "seller_id": seller["id"],
            "listing_id": listing["id"], "planned_at": planned_at,
            "buyer_account": rng.choice(BUYERS),
            "sampling_state": seller["sampling_state"] or "normal", "protected": False,
            "cost_cents": listing["price_cents"], "status": state, "marketplace_ref": None,
            "price_paid_cents": None, "placed_at": None, "placed_by_id": None,
            "received_on": None, "package_condition": None, "received_by_id": None,
            "inspected_at": None, "closed_at": None, "disposition": None, "cancel_reason": "",
            "updated_at": planned_at, "version": 1}
        orders.append(row)
        if state == "planned":
            continue
        if state == "cancelled":
            row.update(cancel_reason="The listing was withdrawn before the order was placed.",
                       updated_at=planned_at + timedelta(days=1), version=2)
            continue
        placed_at = planned_at + timedelta(hours=rng.randint(2, 30))
        row.update(marketplace_ref=f"MP-{oid:08d}", placed_at=placed_at,
                   price_paid_cents=listing["price_cents"] - rng.randint(0, 2000),
                   placed_by_id=rng.choice(fleet.inspector_ids), updated_at=placed_at,
                   version=2)
        if state == "lost":
            row.update(updated_at=placed_at + timedelta(days=21), version=3)
            continue
        received_on = (placed_at + timedelta(days=rng.randint(2, 5))).date()
        inspected_at = datetime.combine(received_on, day_time(rng.randint(9, 17),
                                                              rng.randint(0, 59)))
        inspector = rng.choice(fleet.inspector_ids)
        verdict = pick(rng, VERDICTS)
        row.update(received_on=received_on, package_condition="intact",
                   received_by_id=inspector, inspected_at=inspected_at,
                   updated_at=inspected_at, version=4)
        if state == "closed":
            closed_at = inspected_at + timedelta(days=rng.randint(1, 3))
            row.update(closed_at=closed_at, updated_at=closed_at, version=5,
                       disposition="kept_as_evidence" if verdict in ("major", "critical")
                       else rng.choice(("returned", "refunded")))
        low, high = VERDICT_BANDS[verdict]  # type: ignore[index]  # a str equals its Verdict
        inspections.append({
            "id": fleet.take("inspection"), "order_id": oid, "version": 1, "is_current": True,
            "inspector_id": inspector, "submitted_at": inspected_at,
            "observed_grade": listing["promised_grade"] if verdict == "conforming"
            else rng.choice(GRADES),
            "battery_percent": rng.randint(80, 100), "battery_cycles": rng.randint(5, 600),
            "battery_swollen": False, "cable_missing": False, "notes": "",
            "verdict": verdict, "score": rng.randint(low, high),
            "reasons": json.dumps(REASONS.get(verdict, [])), "amend_reason": ""})
    return orders, inspections


def label_rows(fleet: Fleet, seller: dict[str, Any], orders: list[dict[str, Any]]
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The grant on 1 January and, for a few sellers, a suspension and what became of it.
    Updates the seller row's label status and sampling state to match."""
    rng = fleet.rng
    grant = label_event(fleet, seller["id"], None, "active", "Back Label granted: the "
                        "certification checklist passed and the application was approved.",
                        datetime(YEAR, 1, 1, 9, 0), actor_id=fleet.compliance_id,
                        actor=fleet.compliance_email)
    if rng.random() >= SUSPENDED_SHARE:
        return [grant], []
    at = datetime(YEAR, rng.randint(3, 10), rng.randint(1, 28), rng.randint(9, 17), 0)
    inspected = [o for o in orders if o["inspected_at"] and o["inspected_at"] < at]
    ref = inspected[-1]["id"] if inspected else orders[0]["id"]
    s = fleet.plan.main.h + rng.random() * 0.5
    defects = min(rng.randint(2, 4), len(inspected))  # no more defects than inspected orders
    suspension = label_event(
        fleet, seller["id"], "active", "suspended",
        f"CUSUM S = {s:.2f} reached h = {fleet.plan.main.h:.2f} on test order #{ref} "
        f"({defects} major/critical of {len(inspected)} inspected orders).", at,
        pending_review=True, stats=snapshot(fleet.plan, s, len(inspected), defects, 1, 0, ref))
    outcome = pick(rng, OUTCOMES)
    decided = at + timedelta(days=rng.randint(1, 6))
    review = {"id": fleet.take("review"), "seller_id": seller["id"],
              "label_event_id": suspension["id"], "status": "pending", "opened_at": at,
              "decided_by_id": None, "decided_at": None, "reason": "", "version": 1}
    events = [grant, suspension]
    seller.update(label_status="suspended", sampling_state=None)
    if outcome != "pending":
        review.update(status="overturned" if outcome == "overturned" else "confirmed",
                      decided_by_id=fleet.compliance_id, decided_at=decided, version=2,
                      reason="Two of the defects were courier damage." if outcome ==
                      "overturned" else "Defects confirmed on the evidence photos.")
    if outcome == "overturned":
        events.append(label_event(
            fleet, seller["id"], "suspended", "active", "Suspension overturned on review: two "
            "of the defects were courier damage.", decided, actor_id=fleet.compliance_id,
            actor=fleet.compliance_email))
        seller.update(label_status="active", sampling_state="tightened")
    elif outcome == "reinstated":
        events.append(label_event(
            fleet, seller["id"], "suspended", "probation", "Reinstated on probation: the "
            "corrective-action plan was accepted.", decided + timedelta(days=30),
            actor_id=fleet.compliance_id, actor=fleet.compliance_email))
        seller.update(label_status="probation", sampling_state="tightened")
    return events, [review]


def build_fleet(fleet: Fleet, sellers: int, orders_per_seller: int) -> None:
    rng = fleet.rng
    low = max(1, orders_per_seller - orders_per_seller // 4)
    high = orders_per_seller + orders_per_seller // 4
    for start in range(0, sellers, CHUNK):
        seller_rows: list[dict[str, Any]] = []
        listings: list[dict[str, Any]] = []
        orders: list[dict[str, Any]] = []
        inspections: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        reviews: list[dict[str, Any]] = []
        for _ in range(start, min(sellers, start + CHUNK)):
            sid = fleet.take("seller")
            categories = rng.sample(list(MODELS), rng.choice((1, 1, 2)))
            seller = seller_row(fleet, sid, rng.choice(COUNTRIES), categories)
            own = listing_rows(fleet, sid, categories)
            o, i = order_rows(fleet, seller, own, rng.randint(low, high))
            e, r = label_rows(fleet, seller, sorted(o, key=lambda x: x["planned_at"]))
            seller_rows.append(seller)
            listings += own
            orders += o
            inspections += i
            events += e
            reviews += r
        for model, rows in ((Seller, seller_rows), (Listing, listings), (TestOrder, orders),
                            (Inspection, inspections), (LabelEvent, events),
                            (SuspensionReview, reviews)):
            bulk(model, rows)
        db.session.commit()


def order_history(sid: int, orders: list[dict[str, Any]], inspections: dict[int, Any]
                  ) -> list[tuple[datetime, str, str, int, dict[str, Any], User | None]]:
    """Each order's whole audit history as the app writes it: placed, received, inspected,
    the inspection's own entry (findings, failed checkpoints, photo hashes, reasons) and,
    for a closed order, closed."""
    out: list[tuple[datetime, str, str, int, dict[str, Any], User | None]] = []
    for o in orders:
        i = inspections[o["id"]]
        failed = [r.split(" ")[0] for r in json.loads(i["reasons"])]
        photos = [hashlib.sha256(f"{o['id']}:photo:{n}".encode()).hexdigest()
                  for n in range(3)]
        out += [
            (o["placed_at"], "order.placed", "test_order", o["id"], {
                "from": "planned", "to": "placed", **placement_details(
                    o["marketplace_ref"], o["price_paid_cents"], o["buyer_account"])}, None),
            (datetime.combine(o["received_on"], day_time(8, 30)), "order.received",
             "test_order", o["id"], {"from": "placed", "to": "received", **arrival_details(
                 o["received_on"], PackageCondition.INTACT)}, None),
            (o["inspected_at"], "order.inspected", "test_order", o["id"],
             {"from": "received", "to": "inspected", **inspection_details()}, None),
            (o["inspected_at"] + timedelta(seconds=1), "inspection.submitted", "test_order",
             o["id"], {"seller_id": sid, **inspection_payload(
                 version=1, verdict=i["verdict"], score=i["score"],
                 observed_grade=i["observed_grade"], battery_percent=i["battery_percent"],
                 battery_cycles=i["battery_cycles"], battery_swollen=False,
                 cable_missing=False, notes=i["notes"], failed=failed, photos=photos,
                 reasons=json.loads(i["reasons"]))}, None)]
        if o["closed_at"] is not None:
            out.append((o["closed_at"], "order.closed", "test_order", o["id"], {
                "from": "inspected", "to": "closed",
                **closing_details(Disposition(o["disposition"]))}, None))
    return out


def build_dossier_seller(fleet: Fleet, clock: Clock, dossier_orders: int,
                         full_audit: bool = False) -> int:
    """A seller with exactly `dossier_orders` inspected orders in 2026, an approved
    application, a suspension that was confirmed and then lifted, and its audit trail (one
    entry per order, or with `full_audit` each order's whole history)."""
    rng = fleet.rng
    vetting_id = db.session.execute(select(User.id).where(
        User.email == "vetting@bench.example")).scalar_one()
    clock.now = datetime(YEAR - 1, 11, 2, 9, 0)
    template = checklists.stored_template()  # the default checklist, version 1
    sid = fleet.take("seller")
    seller = seller_row(fleet, sid, "DE", ["smartphone", "tablet"])
    seller.update(legal_name="Dossier Refurbishment GmbH", trading_name="Dossier Refurb",
                  sampling_state="normal")
    own = listing_rows(fleet, sid, ["smartphone", "tablet"])
    bulk(Seller, [seller])
    bulk(Listing, own)
    app_id = next_id(Application)
    decided_at = datetime(YEAR - 1, 12, 15, 11, 0)
    bulk(Application, [{
        "id": app_id, "seller_id": sid, "template_id": template.id, "status": "approved",
        "created_at": datetime(YEAR - 1, 11, 3, 10, 0), "created_by_id": vetting_id,
        "status_changed_at": decided_at, "updated_at": decided_at,
        "decided_by_id": fleet.compliance_id, "version": 6,
        "decision_reason": "Every required item passed; workshop seen by video call."}])
    item_id, evidence_id = next_id(ApplicationItem), next_id(Evidence)
    items, evidence = [], []
    for n, spec in enumerate(template.items):
        recorded_at = datetime(YEAR - 1, 11, 20, 9, 0) + timedelta(hours=n)
        items.append({"id": item_id + n, "application_id": app_id, "template_item_id": spec.id,
                      "position": spec.position, "result": "pass", "note": "",
                      "waiver_reason": "", "recorded_by_id": vetting_id,
                      "recorded_at": recorded_at})
        if spec.evidence_required:
            evidence.append({
                "id": evidence_id + len(evidence), "application_item_id": item_id + n,
                "sha256": hashlib.sha256(f"{sid}:{spec.code}".encode()).hexdigest(),
                "filename": f"{spec.code.lower()}-evidence.pdf",
                "content_type": "application/pdf", "size": rng.randint(40_000, 900_000),
                "uploaded_by_id": vetting_id, "uploaded_at": recorded_at})
    bulk(ApplicationItem, items)
    bulk(Evidence, evidence)
    orders, inspections = order_rows(fleet, seller, own, dossier_orders,
                                     status="closed")
    for row in orders[::3]:  # a third still waiting to be closed
        row.update(status="inspected", closed_at=None, disposition=None,
                   updated_at=row["inspected_at"], version=4)
    orders.sort(key=lambda o: o["inspected_at"])
    bulk(TestOrder, orders)
    bulk(Inspection, inspections)
    verdict_of = {i["order_id"]: i["verdict"] for i in inspections}
    # Label history: grant, suspension (confirmed), probation, probation ended.
    grant = label_event(fleet, sid, None, "active", f"Back Label granted: application "
                        f"#{app_id} approved.", datetime(YEAR, 1, 1, 9, 0),
                        actor_id=fleet.compliance_id, actor=fleet.compliance_email,
                        application_id=app_id)
    cut = orders[len(orders) * 2 // 5]
    before = [o for o in orders if o["inspected_at"] <= cut["inspected_at"]]
    s = fleet.plan.main.h + 0.3
    suspended_at = cut["inspected_at"] + timedelta(minutes=1)
    suspension = label_event(
        fleet, sid, "active", "suspended", f"CUSUM S = {s:.2f} reached h = "
        f"{fleet.plan.main.h:.2f} on test order #{cut['id']} (3 major/critical of "
        f"{len(before)} inspected orders).", suspended_at, pending_review=True,
        stats=snapshot(fleet.plan, s, len(before), 3, 1, 0, cut["id"]))
    confirmed_at = suspended_at + timedelta(days=2)
    reinstated_at = suspended_at + timedelta(days=30)
    ended_at = reinstated_at + timedelta(days=90)
    probation = label_event(
        fleet, sid, "suspended", "probation", "Reinstated on probation: corrective-action plan "
        "accepted (new packaging supplier, second display check).", reinstated_at,
        actor_id=fleet.compliance_id, actor=fleet.compliance_email)
    ended = label_event(
        fleet, sid, "probation", "active", f"{fleet.plan.main.acceptance_run} clean orders in a "
        "row since reinstatement: probation ends.", ended_at,
        stats=snapshot(fleet.plan, 0.0, len(orders), 3, 1, fleet.plan.main.acceptance_run,
                       orders[-1]["id"]))
    events = [grant, suspension, probation, ended]
    bulk(LabelEvent, events)
    bulk(SuspensionReview, [{
        "id": fleet.take("review"), "seller_id": sid, "label_event_id": suspension["id"],
        "status": "confirmed", "opened_at": suspended_at, "decided_by_id": fleet.compliance_id,
        "decided_at": confirmed_at, "reason": "Three defects confirmed on the photos.",
        "version": 2}])
    db.session.flush()
    # The audit trail of the dossier's range, in time order, through core.audit.record.
    compliance = db.session.get(User, fleet.compliance_id)
    trail: list[tuple[datetime, str, str, int, dict[str, Any], User | None]] = [
        (e["at"], "label.changed", "seller", sid,
         {"from": e["from_status"], "to": e["to_status"], "reason": e["reason"],
          "pending_review": e["pending_review"]}, compliance if e["actor_id"] else None)
        for e in events]
    trail.append((confirmed_at, "suspension.confirmed", "seller", sid,
                  {"label_event_id": suspension["id"], "reason": "Three defects confirmed."},
                  compliance))
    if full_audit:
        trail += order_history(sid, orders, {i["order_id"]: i for i in inspections})
    else:
        trail += [(o["inspected_at"], "inspection.submitted", "test_order", o["id"],
                   {"seller_id": sid, "verdict": verdict_of[o["id"]], "version": 1}, None)
                  for o in orders]
    for at, action, entity_type, entity_id, payload, actor in sorted(trail,
                                                                      key=lambda t: t[0]):
        clock.now = at
        audit.record(action, entity_type, entity_id, payload, actor)
    db.session.commit()
    fleet.counts["audit (dossier)"] = len(trail)
    return sid


def build_database(db_uri: str, workdir: str, sellers: int, orders_per_seller: int,
                   dossier_orders: int, seed: int, full_audit: bool = False) -> dict[str, Any]:
    """Migrate a fresh database and fill it (runs in a child process)."""
    started = time.perf_counter()
    clock = Clock(datetime(YEAR - 1, 11, 1, 9, 0))
    app = create_app(app_config(db_uri, Path(workdir)))
    app.config["CLOCK"] = clock
    with app.app_context():
        flask_migrate.upgrade()
        migrated = time.perf_counter()
        compliance = make_user("compliance@bench.example", "Clara Compliance", "compliance")
        make_user("vetting@bench.example", "Victor Vetting", "vetting")
        inspectors = [make_user(f"inspector{n}@bench.example", f"Inspector {n}", "inspector")
                      for n in range(1, 5)]
        plan_settings.stored_settings()  # the default sampling settings, stored once
        db.session.flush()
        plan = plan_settings.current_plan()
        run_id = next_id(PlanningRun)
        bulk(PlanningRun, [{
            "id": run_id + m - 1, "period": f"{YEAR}-{m:02d}", "commitment": "0" * 64,
            "seed_hex": None, "inputs_json": "{}", "fingerprint": "0" * 64,
            "orders_planned": 0, "orders_dropped": 0, "total_cost_cents": 0,
            "over_budget": False, "created_at": datetime(YEAR, m, 1) - timedelta(days=1),
            "revealed_at": None} for m in range(1, 13)])
        db.session.commit()
        fleet = Fleet(rng=random.Random(seed), plan=plan, compliance_id=compliance.id,
                      compliance_email=compliance.email,
                      inspector_ids=[u.id for u in inspectors],
                      run_ids={m: run_id + m - 1 for m in range(1, 13)},
                      ids={"seller": next_id(Seller), "listing": next_id(Listing),
                           "order": next_id(TestOrder), "inspection": next_id(Inspection),
                           "event": next_id(LabelEvent), "review": next_id(SuspensionReview)})
        build_fleet(fleet, sellers, orders_per_seller)
        dossier_id = build_dossier_seller(fleet, clock, dossier_orders, full_audit)
        # Each run's order count and cost, as the planner would have recorded them.
        for rid in fleet.run_ids.values():
            planned = select(func.count()).where(TestOrder.run_id == rid).scalar_subquery()
            cost = select(func.coalesce(func.sum(TestOrder.cost_cents), 0)).where(
                TestOrder.run_id == rid).scalar_subquery()
            db.session.execute(update(PlanningRun).where(PlanningRun.id == rid).values(
                orders_planned=planned, total_cost_cents=cost))
        db.session.commit()
        chain = audit.verify_chain()
        assert chain.ok, chain
        by_status = dict(db.session.execute(select(TestOrder.status, func.count())
                                            .group_by(TestOrder.status)).all())
        by_verdict = dict(db.session.execute(select(Inspection.verdict, func.count())
                                             .group_by(Inspection.verdict)).all())
        labels = dict(db.session.execute(select(Seller.label_status, func.count())
                                         .group_by(Seller.label_status)).all())
        db.session.remove()
        db.engine.dispose()
    return {"seconds": time.perf_counter() - started, "migrate_seconds": migrated - started,
            "dossier_seller_id": dossier_id, "compliance_email": "compliance@bench.example",
            "counts": dict(fleet.counts), "orders_by_status": by_status,
            "verdicts": by_verdict, "labels": labels, "audit_entries": chain.entries,
            "builder_maxrss_mb": maxrss_mb()}


# ---------------------------------------------------------------- measuring


@dataclass
class Run:
    """One timed render through compliance.jobs.render_now."""

    total: float
    context: float
    html: float
    pdf: float
    alone: float  # WeasyPrint alone on the same final HTML
    total_cpu: float  # time.process_time(): this process's CPU time, robust to other load
    alone_cpu: float
    pages: int
    size: int
    html_chars: int

    @property
    def rest(self) -> float:
        """Everything else render_now does: the commits around the read transaction,
        SHA-256, file write, report row and audit entry."""
        return self.total - self.context - self.html - self.pdf

    @property
    def overhead(self) -> float:
        """Our time over WeasyPrint's own render of the same HTML, in percent."""
        return 100 * (self.total - self.alone) / self.alone


@contextmanager
def instrumented(timings: dict[str, float], captured: dict[str, Any]) -> Iterator[None]:
    """Time build_context, render_html and render_pdf as render_now calls them (they are
    looked up on compliance.reports at call time); keep the final HTML."""
    originals = {name: getattr(reports, name)
                 for name in ("build_context", "render_html", "render_pdf")}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            result = fn(*args, **kwargs)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
            if name == "render_html":
                captured["html"] = result
            return result
        return timed

    for name, fn in originals.items():
        setattr(reports, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(reports, name, fn)


def weasyprint_alone(html: str, static_root: Path) -> tuple[float, float]:
    """Wall and CPU time of WeasyPrint's own render of `html`, with the base URL and the
    fetcher that render_pdf uses."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    pdf = weasyprint.HTML(string=html, base_url=static_root.resolve().as_uri() + "/",
                          url_fetcher=StaticOnlyFetcher(static_root)).write_pdf()
    assert pdf.startswith(b"%PDF-")
    return time.perf_counter() - t0, time.process_time() - c0


def new_report(kind: str, seller: Seller | None, actor: User) -> Report:
    report = reports.request_report(kind, seller, DATE_FROM, DATE_TO, actor)
    db.session.commit()
    return report


def timed_render(kind: str, seller: Seller | None, actor: User, static_root: Path) -> Run:
    report = new_report(kind, seller, actor)
    timings: dict[str, float] = {}
    captured: dict[str, Any] = {}
    # Each timed render starts from a collected heap: otherwise whichever render comes next
    # pays the cyclic garbage collection of the previous WeasyPrint document (up to +100%
    # on the 3-page period report), and the comparison measures the collector's timing.
    gc.collect()
    with instrumented(timings, captured):
        t0, c0 = time.perf_counter(), time.process_time()
        jobs.render_now(report)
        total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
    db.session.commit()
    assert report.status == "done"
    assert report.pages
    alone, alone_cpu = weasyprint_alone(captured["html"], static_root)
    return Run(total=total, context=timings["build_context"], html=timings["render_html"],
               pdf=timings["render_pdf"], alone=alone, total_cpu=total_cpu,
               alone_cpu=alone_cpu, pages=report.pages, size=report.size or 0,
               html_chars=len(captured["html"]))


def traced_peak_mb(kind: str, seller: Seller | None, actor: User) -> float:
    """tracemalloc's peak of Python allocations during one (untimed) render."""
    report = new_report(kind, seller, actor)
    tracemalloc.start()
    try:
        jobs.render_now(report)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    db.session.commit()
    return peak / 2**20


def profile(kind: str, seller: Seller | None, actor: User, top: int = 10) -> str:
    report = new_report(kind, seller, actor)
    profiler = cProfile.Profile()
    profiler.runcall(jobs.render_now, report)
    db.session.commit()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def measure(app: Flask, summary: dict[str, Any], repeats: int, want_profile: bool
            ) -> dict[str, Any]:
    static_root = Path(app.static_folder or "static")
    with app.app_context():
        app.config["CLOCK"] = Clock(NOW)
        actor = db.session.execute(select(User).where(
            User.email == summary["compliance_email"])).scalar_one()
        dossier_seller = db.session.get(Seller, summary["dossier_seller_id"])
        out: dict[str, Any] = {"rss_before_mb": maxrss_mb(), "load_start": load()}
        # The first render of each kind pays WeasyPrint's and SQLite's warm-up: shown apart.
        out["period_cold"] = timed_render("period", None, actor, static_root)
        out["period"] = [timed_render("period", None, actor, static_root)
                         for _ in range(repeats)]
        out["rss_after_period_mb"] = maxrss_mb()
        out["period_traced_mb"] = traced_peak_mb("period", None, actor)
        out["dossier_cold"] = timed_render("dossier", dossier_seller, actor, static_root)
        out["dossier"] = [timed_render("dossier", dossier_seller, actor, static_root)
                          for _ in range(repeats)]
        out["dossier_traced_mb"] = traced_peak_mb("dossier", dossier_seller, actor)
        out["rss_end_mb"] = maxrss_mb()
        out["load_end"] = load()
        if want_profile:
            out["profiles"] = {"period": profile("period", None, actor),
                               "dossier": profile("dossier", dossier_seller, actor)}
        chain = audit.verify_chain()
        assert chain.ok, chain
        out["audit_entries"] = chain.entries
        db.session.remove()
        db.engine.dispose()
    return out


# ---------------------------------------------------------------- output


def fmt_runs(values: list[float], unit: str = "s", digits: int = 3) -> str:
    each = ", ".join(f"{v:.{digits}f}" for v in values)
    return (f"{statistics.median(values):>9.{digits}f} {min(values):>9.{digits}f}  "
            f"[{each}] {unit}")


def overhead(runs: list[Run], how: Callable[[list[float]], float], cpu: bool = False) -> float:
    """Our time over WeasyPrint's own, from the median (or min) of each, in percent."""
    alone = how([r.alone_cpu if cpu else r.alone for r in runs])
    return 100 * (how([r.total_cpu if cpu else r.total for r in runs]) - alone) / alone


def print_report(args: argparse.Namespace, summary: dict[str, Any],
                 result: dict[str, Any]) -> None:
    counts = summary["counts"]
    print("\nLabelkeeper report benchmark")
    print(f"  python {platform.python_version()}, WeasyPrint {weasyprint.__version__}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}")
    print(f"  fleet: {counts['seller'] - 1} sellers + 1 dossier seller, "
          f"{counts['listing']} listings, {counts['order']} test orders "
          f"{summary['orders_by_status']}, {counts['inspection']} inspections "
          f"{summary['verdicts']}")
    print(f"         {counts['event']} label events, {counts.get('review', 0)} suspension "
          f"reviews, labels now {summary['labels']}; "
          f"{summary['audit_entries']} audit entries after the build (chain verified)")
    print(f"  build: {summary['seconds']:.1f} s in a child process (migrations "
          f"{summary['migrate_seconds']:.1f} s), its peak RSS "
          f"{summary['builder_maxrss_mb']:.0f} MB")
    print(f"  range {DATE_FROM} to {DATE_TO}; clock {NOW}; {args.repeats} timed renders "
          "each; times in seconds: median, min, [every run]\n")
    head = f"  {'':<44}{'median':>9} {'min':>9}"
    for kind, title in (("dossier", f"Seller dossier ({args.dossier_orders} orders, "
                                    f"{counts['audit (dossier)']} audit entries)"),
                        ("period", f"Period report ({args.sellers + 1} sellers)")):
        runs: list[Run] = result[kind]
        print(f"{title}: {runs[0].pages} pages, {runs[0].size / 1024:.0f} KiB PDF, "
              f"{runs[0].html_chars / 1024:.0f} KiB HTML")
        print(head)
        rows = (("total (render_now)", [r.total for r in runs]),
                ("  context build (build_context)", [r.context for r in runs]),
                ("  HTML render (render_html)", [r.html for r in runs]),
                ("  PDF (render_pdf: WeasyPrint in store)", [r.pdf for r in runs]),
                ("  rest (commits, hash, file, row, audit)", [r.rest for r in runs]),
                ("WeasyPrint alone, same HTML", [r.alone for r in runs]),
                ("CPU time (process_time): total", [r.total_cpu for r in runs]),
                ("CPU time: WeasyPrint alone", [r.alone_cpu for r in runs]))
        for name, values in rows:
            print(f"  {name:<44}{fmt_runs(values)}")
        print(f"  {'overhead, each run: (total - alone) / alone':<44}"
              f"{fmt_runs([r.overhead for r in runs], '%', 1)}")
        print(f"  {'overhead of median and of min times':<44}"
              f"{overhead(runs, statistics.median):>9.1f} {overhead(runs, min):>9.1f}  %"
              f"{'   (target < 15%)' if kind == 'dossier' else ''}")
        ours = [100 * (r.total - r.pdf) / r.pdf for r in runs]
        print(f"  {'our code / render_pdf, same run (no noise)':<44}{fmt_runs(ours, '%', 1)}")
        print(f"  {'overhead in CPU time (median, min)':<44}"
              f"{overhead(runs, statistics.median, True):>9.1f} "
              f"{overhead(runs, min, True):>9.1f}  %")
        cold = result[f"{kind}_cold"]
        print(f"  first render in the process (not above):  total {cold.total:.3f} s, "
              f"PDF {cold.pdf:.3f} s, WeasyPrint alone {cold.alone:.3f} s")
        print()
    period_total = statistics.median(r.total for r in result["period"])
    dossier_overhead = overhead(result["dossier"], statistics.median)
    dossier_ours = statistics.median(100 * (r.total - r.pdf) / r.pdf for r in result["dossier"])
    print("Memory (period report)")
    print(f"  ru_maxrss before the period renders   {result['rss_before_mb']:8.0f} MB")
    print(f"  ru_maxrss after {args.repeats + 1} period renders      "
          f"{result['rss_after_period_mb']:8.0f} MB   (target < 500 MB)")
    print(f"  tracemalloc peak, one period render   {result['period_traced_mb']:8.1f} MB")
    print(f"  tracemalloc peak, one dossier render  {result['dossier_traced_mb']:8.1f} MB")
    print(f"  ru_maxrss at the end                  {result['rss_end_mb']:8.0f} MB")
    print(f"\nTargets: period report {period_total:.2f} s (< 60 s: "
          f"{'met' if period_total < 60 else 'MISSED'}), peak RSS "
          f"{result['rss_after_period_mb']:.0f} MB (< 500 MB: "
          f"{'met' if result['rss_after_period_mb'] < 500 else 'MISSED'}),")
    print(f"         dossier overhead {dossier_ours:.1f}% our code over WeasyPrint in the same "
          f"run, {dossier_overhead:.1f}% against the separate WeasyPrint run (medians; < 15%: "
          f"{'met' if max(dossier_ours, dossier_overhead) < 15 else 'MISSED'}); audit chain "
          f"verified ({result['audit_entries']} entries)")
    print(f"Load average (1, 5, 15 min) at the start {result['load_start']}, at the end "
          f"{result['load_end']} ({os.cpu_count()} CPUs; other processes share them)")
    for kind, text in result.get("profiles", {}).items():
        print(f"\ncProfile of one {kind} render (top 10, cumulative)")
        print(text)


def key_figures(result: dict[str, Any]) -> dict[str, float]:
    """The figures `bench/suite.py` compares with the targets."""
    dossier = result["dossier"]
    return {
        "dossier_s": statistics.median(r.total for r in dossier),
        "dossier_pages": dossier[0].pages,
        "dossier_overhead_pct": max(
            overhead(dossier, statistics.median),
            statistics.median(100 * (r.total - r.pdf) / r.pdf for r in dossier)),
        "period_s": statistics.median(r.total for r in result["period"]),
        "period_peak_rss_mb": result["rss_after_period_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sellers", type=int, default=3000)
    parser.add_argument("--orders-per-seller", type=int, default=12)
    parser.add_argument("--dossier-orders", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full-audit", action="store_true",
                        help="give the dossier seller each order's whole audit history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true",
                        help="add cProfile's top 10 of one extra render of each report")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument("--json", type=Path, help="also write the key figures as JSON here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="labelkeeper-bench-"))
    db_uri = f"sqlite:///{workdir / 'bench.sqlite3'}"
    try:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            summary = pool.submit(build_database, db_uri, str(workdir), args.sellers,
                                  args.orders_per_seller, args.dossier_orders,
                                  args.seed, args.full_audit).result()
        app = create_app(app_config(db_uri, workdir))
        result = measure(app, summary, args.repeats, args.profile)
        print_report(args, summary, result)
        if args.json:
            args.json.write_text(json.dumps(key_figures(result), indent=2))
    finally:
        if args.keep:
            print(f"\ndatabase kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
