"""Writing the fleet: staff accounts, plan settings and the demo pool of buyer identities
through the services, then the simulated history's rows in bulk ``INSERT`` statements and its
audit entries chained in Python from the current head under the audit lock. Flushes; the
caller commits."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select, text

from compliance.models import SellerCase, SuspensionReview
from core import audit
from core.chain import GENESIS_HASH, compute_entry_hash
from core.clock import utcnow
from core.db import db, lock
from core.errors import ServiceError
from core.models import AuditEntry, User
from core.services import create_user, get_user_by_email
from demo.buyers import ensure_demo_buyers
from demo.fleet.data import (
    BUDGET_ORDERS_PER_SELLER,
    BUDGET_PER_SELLER_CENTS,
    CATEGORY_SHARE,
    STAFF,
    STAFF_DOMAIN,
)
from demo.fleet.history import History, PlanSetup
from demo.fleet.ledger import AuditRow
from demo.fleet.model import FleetConfig, Staff, midnight, plan_seed
from demo.fleet.sellers import make_sellers
from qc.catalog import Severity
from qc.models import (
    BuyerIdentity,
    CriticalFinding,
    Inspection,
    InspectionResult,
    Listing,
    PlanningRun,
    SamplingStateChange,
    SellerStatistics,
    TestOrder,
)
from qc.services import inspections, plan_settings, planning
from qc.services.buyers import active_buyers
from qc.services.plan_settings import current_plan
from qc.snapshots import epoch_stats_json
from vetting.models import LabelEvent, Seller

BATCH = 5000  # rows per INSERT statement


@dataclass(frozen=True)
class FleetSummary:
    """What was built: rows per table, outcomes, the new staff and the audit head."""

    config: FleetConfig
    counts: dict[str, int]
    verdicts: dict[str, int]
    order_statuses: dict[str, int]
    labels: dict[str, int]
    staff: tuple[tuple[str, str | None], ...]  # (email, password if created now)
    audit_head: str
    timings: dict[str, float]


@contextmanager
def _clock_at(at: datetime) -> Iterator[None]:
    """Run the block with the app clock standing at `at` (the services stamp rows with it)."""
    config = current_app.config
    previous = config.get("CLOCK")
    config["CLOCK"] = lambda: at
    try:
        yield
    finally:
        config["CLOCK"] = previous


# --------------------------------------------------------------------------- rows


def _seller_rows(fleet: History) -> Iterator[dict[str, Any]]:
    for s in fleet.sellers:
        yield {"id": s.id, **s.row, "created_at": s.registered_at,
               "label_status": s.label.value if s.label else None,
               "label_valid_from": s.valid_from, "label_valid_until": s.valid_until,
               "sampling_state": s.state, "version": 1}


def _listing_rows(fleet: History) -> Iterator[dict[str, Any]]:
    for item in fleet.listings:
        yield {"id": item.id, "seller_id": item.seller_id, "sku": item.sku,
               "device_model": item.device_model, "category": item.category,
               "promised_grade": item.grade, "price_cents": item.price_cents,
               "monthly_units": item.units, "active": True, "created_at": item.created_at}


def _order_rows(fleet: History) -> Iterator[dict[str, Any]]:
    for o in fleet.orders:
        planned = o.planned
        yield {"id": o.id, "run_id": o.run_id, "seller_id": planned.seller_id,
               "listing_id": planned.listing_id, "planned_at": planned.planned_at,
               "buyer_account": planned.buyer_account,
               "buyer_identity_id": planned.buyer_id,
               "sampling_state": planned.sampling_state.value,
               "protected": False, "confirmation": planned.confirmation,
               "claim_percentile": o.claim_percentile, "cost_cents": planned.cost_cents,
               "status": o.status, "marketplace_ref": o.marketplace_ref,
               "price_paid_cents": o.price_paid_cents, "placed_at": o.placed_at,
               "placed_by_id": o.placed_by_id, "received_on": o.received_on,
               "package_condition": o.package_condition, "received_by_id": o.received_by_id,
               "inspected_at": o.inspected_at, "closed_at": o.closed_at,
               "disposition": o.disposition, "cancel_reason": o.cancel_reason,
               "failure_side": o.failure_side,
               "updated_at": o.updated_at, "version": 1}


def _inspection_rows(fleet: History) -> Iterator[dict[str, Any]]:
    for i in fleet.inspections:
        yield {"id": i.id, "order_id": i.order_id, "version": 1, "is_current": True,
               "inspector_id": i.inspector_id, "submitted_at": i.at,
               "observed_grade": i.observed_grade, "battery_percent": i.battery_percent,
               "battery_cycles": i.battery_cycles, "battery_swollen": i.battery_swollen,
               "cable_missing": i.cable_missing, "notes": "", "verdict": i.verdict,
               "score": i.score, "reasons": i.reasons, "amend_reason": ""}


def _result_rows(fleet: History, first_id: int) -> Iterator[dict[str, Any]]:
    next_id = first_id
    for i in fleet.inspections:
        checkpoints = fleet.units.checkpoints[i.category]
        for position, (code, severity) in enumerate(checkpoints, start=1):
            note = i.failed.get(code)
            yield {"id": next_id, "inspection_id": i.id, "position": position, "code": code,
                   "severity": severity.value, "passed": note is None, "note": note or ""}
            next_id += 1


def _statistics_rows(fleet: History) -> Iterator[dict[str, Any]]:
    for s in fleet.sellers:
        if s.epoch_at is None:
            continue
        yield {"seller_id": s.id, **asdict(s.stats), "epoch_at": s.epoch_at,
               "epoch_stats": epoch_stats_json(s.epoch_stats),
               "updated_at": s.stats_updated, "version": 1}


# --------------------------------------------------------------------------- database


def _count(model: Any) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _next_ids() -> dict[str, int]:
    models: dict[str, Any] = {
        "sellers": Seller, "listings": Listing, "planning_runs": PlanningRun,
        "test_orders": TestOrder, "inspections": Inspection,
        "inspection_results": InspectionResult, "label_events": LabelEvent,
        "suspension_reviews": SuspensionReview, "seller_cases": SellerCase,
        "sampling_state_changes": SamplingStateChange, "critical_findings": CriticalFinding}
    return {name: db.session.execute(select(func.coalesce(func.max(m.id), 0))).scalar_one() + 1
            for name, m in models.items()}


def _refuse_unless_empty() -> None:
    sellers, runs = _count(Seller), _count(PlanningRun)
    if sellers or runs:
        found = f"{sellers} seller(s)" if sellers else f"{runs} planning run(s)"
        raise ServiceError(
            f"This database already has {found}. `demo fleet` builds a fresh benchmark "
            "database: run `flask --app app db upgrade` on a new database and build it there.")


def _ensure_staff(at: datetime) -> tuple[Staff, tuple[tuple[str, str | None], ...]]:
    """The fleet's staff accounts, created through the account service when missing."""
    ids: dict[str, int] = {}
    created: list[tuple[str, str | None]] = []
    with _clock_at(at):
        for handle, name, role in STAFF:
            email = f"{handle}@{STAFF_DOMAIN}"
            user = get_user_by_email(email)
            password = None
            if user is None:
                password = secrets.token_urlsafe(12)
                user = create_user(email, name, password, [role], None)
            ids[email] = user.id
            created.append((email, password))
    emails = [f"{handle}@{STAFF_DOMAIN}" for handle, _, _ in STAFF]
    return Staff(ids=ids, clerk=emails[0], approver=emails[1], compliance=emails[2],
                 inspectors=tuple(emails[3:])), tuple(created)


def _check_sealed_seeds(fleet_config: FleetConfig) -> list[tuple[str, bytes]]:
    """The open months' seeds to seal; refuse when PLAN_SEED_DIR holds a different one."""
    out = []
    for period in fleet_config.periods:
        if midnight(period.next().start, 15) < fleet_config.as_of:
            continue  # revealed in the database
        seed = plan_seed(fleet_config.seed, period)
        path: Path = planning._seed_file(period.key)
        if path.is_file() and path.read_text().strip() != seed.hex():
            raise ServiceError(
                f"{path} already holds the sealed seed of another database's {period.key} "
                "plan. Point FLASK_PLAN_SEED_DIR at a folder of this database's own.")
        out.append((period.key, seed))
    return out


def _insert(model: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Bulk INSERT `rows` in statements of BATCH rows; return how many were written."""
    # render_nulls: a None is sent as NULL rather than left out, so rows with different None
    # columns still share one executemany instead of splitting into many small statements.
    statement = insert(model).execution_options(render_nulls=True)
    count, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= BATCH:
            db.session.execute(statement, chunk)
            count, chunk = count + len(chunk), []
    if chunk:
        db.session.execute(statement, chunk)
        count += len(chunk)
    return count


def _public(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {k: v for k, v in row.items() if not k.startswith("_")}


def _chained(entries: list[AuditRow], staff: Staff,
             head: list[str]) -> Iterator[dict[str, Any]]:
    """The entries as audit rows in time order, chained after the current head; the new head
    is appended to `head` once the last row is yielded."""
    lock("audit_chain")
    last = db.session.execute(select(AuditEntry.seq, AuditEntry.hash)
                              .order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    entries.sort(key=lambda e: (e[0], e[1]))
    for at, _, actor, action, entity_type, entity_id, payload in entries:
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq, "at": at, "actor": actor, "action": action, "entity_type": entity_type,
            "entity_id": entity_id, "payload": payload, "prev_hash": prev}
        prev = compute_entry_hash(**fields)
        yield {**fields, "hash": prev, "actor_id": staff.ids.get(actor)}
    head.append(prev)


def _reset_sequences(tables: Iterable[str]) -> None:
    """PostgreSQL: move each id sequence past the ids written explicitly."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our names
            f"(SELECT MAX(id) FROM {table}))"))


def build_fleet(config: FleetConfig,
                progress: Callable[[str], None] | None = None) -> FleetSummary:
    """Build the benchmark fleet into an empty database in bulk; flushes, the caller commits."""
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[name] = round(now - mark, 2)
        mark = now
        say(f"{name}: {timings[name]:.1f} s")

    today = utcnow().date()
    if config.until > today:
        raise ServiceError(f"The history cannot end after today ({today}); "
                           f"{config.until} was asked for.")
    _refuse_unless_empty()
    seeds = _check_sealed_seeds(config)
    staff, accounts = _ensure_staff(config.setup_at)
    with _clock_at(config.setup_at):
        officer = db.session.execute(select(User).where(
            User.id == staff.ids[staff.compliance])).scalar_one()
        previous = plan_settings.current_settings()
        settings = plan_settings.update_settings(
            plan_settings.settings_rates(previous),
            BUDGET_PER_SELLER_CENTS * config.sellers, officer,
            allocation=plan_settings.Allocation(
                budget_orders=BUDGET_ORDERS_PER_SELLER * config.sellers,
                floor_rate=previous.floor_rate, block_max=previous.block_max,
                min_auc=previous.min_auc))
        ensure_demo_buyers(officer)
    plan = current_plan()
    setup = PlanSetup(
        rates=plan_settings.settings_rates(settings), budget_orders=settings.budget_orders,
        budget_cents=settings.budget_cents, floor=settings.floor_rate,
        block_max=settings.block_max, drift=settings.drift, min_auc=settings.min_auc,
        buyers=tuple(active_buyers()),
        threshold=lambda sellers: asdict(plan_settings.threshold(settings, sellers=sellers)))
    checkpoints = {category: [(c.code, Severity(c.severity))
                              for c in inspections.checkpoints_for(category)]
                   for category in CATEGORY_SHARE}
    if any(not cps for cps in checkpoints.values()):
        raise ServiceError("The checkpoint catalog is empty; run `flask --app app db upgrade`.")
    lap("staff accounts, plan settings and buyer identities")
    fleet = History(config, staff, plan, setup, checkpoints, _next_ids())
    make_sellers(fleet)
    fleet.run()
    lap("simulate")
    _insert(Seller, _seller_rows(fleet))
    _insert(Listing, _listing_rows(fleet))
    _insert(PlanningRun, fleet.runs)
    _insert(TestOrder, _order_rows(fleet))
    lap("write sellers, listings, plans, orders")
    _insert(Inspection, _inspection_rows(fleet))
    _insert(InspectionResult, _result_rows(fleet, fleet.next_id["inspection_results"]))
    lap("write inspections and checkpoint results")
    _insert(LabelEvent, fleet.label_events)
    _insert(SamplingStateChange, fleet.state_changes)
    _insert(SuspensionReview, _public(fleet.reviews))
    _insert(CriticalFinding, fleet.findings)
    _insert(SellerCase, _public(fleet.cases))
    _insert(SellerStatistics, _statistics_rows(fleet))
    lap("write label events, reviews, cases, statistics")
    head: list[str] = []
    _insert(AuditEntry, _chained(fleet.audit, staff, head))
    _reset_sequences(("sellers", "listings", "planning_runs", "test_orders", "inspections",
                      "inspection_results", "label_events", "suspension_reviews",
                      "seller_cases", "sampling_state_changes", "critical_findings"))
    db.session.flush()
    lap("chain and write audit entries")
    for key, seed in seeds:
        planning._seal_seed(key, seed)
    counts = {name: _count(model) for name, model in (
        ("users", User), ("buyer_identities", BuyerIdentity), ("sellers", Seller),
        ("listings", Listing),
        ("planning_runs", PlanningRun), ("test_orders", TestOrder),
        ("inspections", Inspection), ("inspection_results", InspectionResult),
        ("label_events", LabelEvent), ("suspension_reviews", SuspensionReview),
        ("seller_cases", SellerCase), ("seller_statistics", SellerStatistics),
        ("audit_entries", AuditEntry))}
    lap("count")
    return FleetSummary(
        config=config, counts=counts,
        verdicts=dict(Counter(i.verdict for i in fleet.inspections).most_common()),
        order_statuses=dict(Counter(o.status for o in fleet.orders).most_common()),
        labels=dict(Counter(s.label.value if s.label else "no label"
                            for s in fleet.sellers).most_common()),
        staff=accounts, audit_head=head[0] if head else audit.head_hash(),
        timings=timings)


def format_summary(summary: FleetSummary, elapsed: float) -> str:
    """The printed summary: rows per table, outcomes, staff accounts and the elapsed time."""
    config = summary.config
    periods = config.periods
    lines = [f"Fleet built: {config.sellers} sellers, {config.years} year(s) "
             f"({periods[0]}..{periods[-1]}), seed {config.seed}, history until "
             f"{config.until} 00:00 UTC",
             "Rows:"]
    lines += [f"  {name:20} {count:>10,}" for name, count in summary.counts.items()]
    lines.append("Verdicts: " + ", ".join(f"{k} {v:,}" for k, v in summary.verdicts.items()))
    lines.append("Orders: " + ", ".join(f"{k} {v:,}" for k, v in summary.order_statuses.items()))
    lines.append("Labels: " + ", ".join(f"{k} {v:,}" for k, v in summary.labels.items()))
    new = [(email, pw) for email, pw in summary.staff if pw is not None]
    if new:
        lines.append("Staff accounts created (passwords shown once):")
        lines += [f"  {email:44} password: {pw}" for email, pw in new]
    lines.append(f"Audit chain head: {summary.audit_head}")
    lines.append(f"Elapsed: {elapsed:.1f} s")
    return "\n".join(lines)
