"""Listings, the sampling plan, planning runs, test orders and inspections.

Services flush; the caller commits.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager, selectinload

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ConflictError, ServiceError
from core.models import User
from qc import events
from qc.catalog import Severity
from qc.listing_csv import listing_import_payload, parse_listing_csv
from qc.models import (
    Checkpoint,
    Inspection,
    InspectionPhoto,
    InspectionResult,
    Listing,
    MarketplaceSignal,
    PlanningRun,
    SamplingSettings,
    SellerStatistics,
    TestOrder,
)
from qc.orders import (
    OVERDUE_AFTER,
    Disposition,
    OrderStatus,
    OrderTransitionError,
    PackageCondition,
    arrival_details,
    closing_details,
    compute_order_move,
    inspection_details,
    placement_details,
    reason_details,
)
from qc.plan_records import (
    compute_verify_result,
    plan_created_payload,
    plan_run_columns,
    seed_revealed_payload,
)
from qc.sampling import (
    DEFAULT_RATES,
    ListingInput,
    Period,
    PlanInputs,
    PlannedOrder,
    SamplingState,
    SellerInput,
    compute_commitment,
    compute_plan,
    compute_plan_differences,
    inputs_from_json,
    new_seed,
    parse_period,
)
from qc.scoring import (
    CheckpointOutcome,
    Grade,
    InspectionFacts,
    check_battery,
    compute_score,
    inspection_payload,
)
from qc.signal_csv import MAX_COUNT, SignalRow, parse_signal_csv, signal_key
from qc.signals import (
    WINDOW_MONTHS,
    SignalFigures,
    SignalTable,
    add_months,
    compute_signal_table,
    month_start,
)
from qc.stats import (
    OC_NS,
    OC_PS,
    PlanParams,
    compute_increments,
    describe_plan,
    oc_probability,
    oc_table,
)
from vetting import evidence as evidence_store
from vetting.labels import LabelStatus
from vetting.models import Seller
from vetting.seller_csv import RowError
from vetting.validation import normalise_country, normalise_registration

DEFAULT_BUDGET_CENTS = 60_000_00
MAX_BUYER_ACCOUNT_LENGTH = 120  # the length of TestOrder.buyer_account
DEFAULT_BUYER_ACCOUNTS = ("mystery-buyer-01@labelkeeper.example",
                          "mystery-buyer-02@labelkeeper.example",
                          "mystery-buyer-03@labelkeeper.example")

# ---------------------------------------------------------------- sampling settings


def current_settings() -> SamplingSettings:
    """The sampling plan settings in force (the defaults of DESIGN.md until changed)."""
    settings = db.session.execute(
        select(SamplingSettings).order_by(SamplingSettings.id.desc()).limit(1)
    ).scalar_one_or_none()
    if settings is None:
        settings = SamplingSettings(
            rate_onboarding=DEFAULT_RATES[SamplingState.ONBOARDING],
            rate_normal=DEFAULT_RATES[SamplingState.NORMAL],
            rate_reduced=DEFAULT_RATES[SamplingState.REDUCED],
            rate_tightened=DEFAULT_RATES[SamplingState.TIGHTENED],
            budget_cents=DEFAULT_BUDGET_CENTS, buyer_accounts="\n".join(DEFAULT_BUYER_ACCOUNTS))
        db.session.add(settings)
        db.session.flush()
    return settings


def settings_rates(settings: SamplingSettings) -> dict[SamplingState, float]:
    """The monthly rate per sampling state of a settings version."""
    return {SamplingState.ONBOARDING: settings.rate_onboarding,
            SamplingState.NORMAL: settings.rate_normal,
            SamplingState.REDUCED: settings.rate_reduced,
            SamplingState.TIGHTENED: settings.rate_tightened}


def _settings_payload(s: SamplingSettings) -> dict[str, Any]:
    return {"rates": {k.value: v for k, v in settings_rates(s).items()},
            "budget_cents": s.budget_cents, "buyer_accounts": s.accounts,
            "plan": {"p0": s.p0, "p1": s.p1, "alpha": s.alpha, "beta": s.beta}}


def plan_preview(params: PlanParams, rates: Mapping[SamplingState, float]) -> dict[str, Any]:
    """What a plan would do: its increments, OC table and the fleet's expected wrongful
    suspensions within 12 months if every labelled seller were at p0."""
    inc = compute_increments(params)
    by_state = dict(db.session.execute(
        select(Seller.sampling_state, func.count()).where(Seller.label_status.in_(
            [LabelStatus.ACTIVE.value, LabelStatus.PROBATION.value]))
        .group_by(Seller.sampling_state)).all())
    expected = 0.0
    for state, sellers in by_state.items():
        orders = round(12 * rates[SamplingState(state or SamplingState.ONBOARDING.value)])
        expected += sellers * oc_probability(params.p0, orders, inc)
    return {"increments": inc, "ps": OC_PS, "ns": OC_NS,
            "table": oc_table(OC_PS, OC_NS, inc), "expected_wrongful": expected,
            "sellers": sum(by_state.values()), "description": describe_plan(params)}


def update_settings(rates: Mapping[SamplingState, float], budget_cents: int,
                    buyer_accounts: Sequence[str], actor: User,
                    params: PlanParams | None = None) -> SamplingSettings:
    """Save a new version of the sampling plan settings (past decisions stay as they were)."""
    accounts = [a.strip() for a in buyer_accounts if a.strip()]
    if not accounts:
        raise ServiceError("Give at least one buyer account to rotate.", "buyer_accounts")
    if len(set(accounts)) != len(accounts):
        raise ServiceError("Each buyer account may appear only once.", "buyer_accounts")
    if any(len(a) > MAX_BUYER_ACCOUNT_LENGTH for a in accounts):
        raise ServiceError(f"A buyer account may have at most {MAX_BUYER_ACCOUNT_LENGTH} "
                           "characters (each test order records it).", "buyer_accounts")
    if any(not 0 <= r <= 31 for r in rates.values()):
        raise ServiceError("Rates must be between 0 and 31 orders a month.")
    if not 0 <= budget_cents <= 100_000_000_00:
        raise ServiceError("The budget must be between 0 and 100,000,000 euros.", "budget")
    previous = current_settings()
    params = params or PlanParams(previous.p0, previous.p1, previous.alpha, previous.beta)
    before = _settings_payload(previous)
    settings = SamplingSettings(p0=params.p0, p1=params.p1, alpha=params.alpha, beta=params.beta,
        rate_onboarding=rates[SamplingState.ONBOARDING], rate_normal=rates[SamplingState.NORMAL],
        rate_reduced=rates[SamplingState.REDUCED], rate_tightened=rates[SamplingState.TIGHTENED],
        budget_cents=budget_cents, buyer_accounts="\n".join(accounts), created_by_id=actor.id)
    db.session.add(settings)
    db.session.flush()
    audit.record("sampling.settings_changed", "sampling_settings", settings.id,
                 {"before": before, "after": _settings_payload(settings)}, actor)
    if before["plan"] != _settings_payload(settings)["plan"]:
        _restart_all_statistics()
    return settings


def _restart_all_statistics() -> None:
    """A new CUSUM plan applies from now on: every seller's replay starts at today's values,
    so past orders are never re-scored with parameters that were not in force."""
    from qc.decision_service import restart, to_stats

    for row in db.session.execute(select(SellerStatistics)).scalars():
        restart(row, to_stats(row))
    db.session.flush()


# ---------------------------------------------------------------- listings


def listing_query(seller_id: int | None = None, q: str = "") -> Select[tuple[Listing]]:
    """Listings, optionally of one seller or matching a search, by seller and SKU."""
    stmt = (select(Listing).join(Seller).options(contains_eager(Listing.seller))
            .order_by(Seller.legal_name, Listing.sku))
    if seller_id is not None:
        stmt = stmt.where(Listing.seller_id == seller_id)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(func.lower(Listing.sku).like(like)
                          | func.lower(Listing.device_model).like(like))
    return stmt


@dataclass(frozen=True)
class ListingImportOutcome:
    """What a listing import did, or why it did nothing."""

    created: int
    updated: int
    errors: tuple[RowError, ...]


def import_listings(data: bytes, filename: str, actor: User) -> ListingImportOutcome:
    """Import listings from CSV, all or none; a known (seller, SKU) is updated in place."""
    parsed = parse_listing_csv(data)
    errors = list(parsed.errors)
    if not parsed.rows and not errors:
        errors.append(RowError(0, "", "The file has no listing rows."))
    sellers = {(s.country, s.registration_key): s for s in db.session.execute(select(Seller))
               .scalars()}
    resolved = []
    for row in parsed.rows:
        seller = sellers.get((normalise_country(row.seller_country),
                              normalise_registration(row.seller_registration_number)))
        if seller is None:
            errors.append(RowError(row.row, "seller_registration_number",
                                   f"No seller with registration number "
                                   f"{row.seller_registration_number} in {row.seller_country}; "
                                   "register the seller first"))
        else:
            resolved.append((seller, row))
    if errors:
        return ListingImportOutcome(0, 0, tuple(sorted(errors, key=lambda e: e.row)))
    existing = {(item.seller_id, item.sku.lower()): item
                for item in db.session.execute(select(Listing)).scalars()}
    created = updated = 0
    for seller, row in resolved:
        values = {"device_model": row.device_model, "category": row.category,
                  "promised_grade": row.promised_grade, "price_cents": row.price_cents,
                  "monthly_units": row.monthly_units, "active": True}
        listing = existing.get((seller.id, row.sku.lower()))
        if listing is None:
            db.session.add(Listing(seller_id=seller.id, sku=row.sku, **values))
            created += 1
        elif any(getattr(listing, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(listing, key, value)
            updated += 1
    db.session.flush()
    audit.record("listing.imported", "listing_import", filename[:64],
                 listing_import_payload(filename, len(resolved), created, updated), actor)
    return ListingImportOutcome(created, updated, ())


# ---------------------------------------------------------------- marketplace signals


@dataclass(frozen=True)
class SignalImportOutcome:
    """What a signal import did (months created, replaced, unchanged), or why it did nothing."""

    created: int
    updated: int
    unchanged: int
    errors: tuple[RowError, ...]


def _signal_values(orders: int | None, returns: int, claims: int) -> dict[str, int | None]:
    return {"orders": orders, "returns": returns, "warranty_claims": claims}


def import_signals(data: bytes, filename: str, actor: User | None) -> SignalImportOutcome:
    """Import marketplace signals from CSV, all or none; a known seller-month is replaced."""
    parsed = parse_signal_csv(data)
    if not parsed.errors:
        return import_signal_rows(parsed.rows, filename, actor)
    # Report the database's problems with the valid rows too, so one round fixes the file.
    _, errors = _resolve_signal_rows(parsed.rows)
    merged = sorted([*parsed.errors, *errors], key=lambda e: e.row) if errors else parsed.errors
    return SignalImportOutcome(0, 0, 0, tuple(merged))


def _resolve_signal_rows(
        rows: Sequence[SignalRow]) -> tuple[dict[tuple[int, date], SignalRow], list[RowError]]:
    """Rows by (seller id, month), and the problems: unknown seller, month not begun, counts."""
    this_month = month_start(utcnow().date())
    sellers = {(s.country, s.registration_key): s.id
               for s in db.session.execute(select(Seller)).scalars()} if rows else {}
    errors: list[RowError] = []
    resolved: dict[tuple[int, date], SignalRow] = {}
    for row in rows:
        country, registration, month = signal_key(row.seller_country,
                                                  row.seller_registration_number, row.month)
        seller_id = sellers.get((country, registration))
        if seller_id is None:
            errors.append(RowError(row.row, "seller_registration_number",
                                   f"No seller with registration number "
                                   f"{row.seller_registration_number} in {country}; "
                                   "register the seller first"))
        if month > this_month:
            errors.append(RowError(row.row, "month", f"{month:%Y-%m} has not begun yet; "
                                   "figures can only be imported for past and current months"))
        for column, count in (("orders", row.orders), ("returns", row.returns),
                              ("warranty_claims", row.warranty_claims)):
            if count is not None and not 0 <= count <= MAX_COUNT:
                # Rows that did not come through the CSV parser (an API) are checked here too.
                errors.append(RowError(row.row, column, f"{column} must be a whole number "
                                       f"from 0 to {MAX_COUNT}, not {count}"))
        if seller_id is not None:
            first = resolved.setdefault((seller_id, month), row)
            if first is not row:
                errors.append(RowError(row.row, "month", f"Duplicate of row {first.row}: the "
                                       f"same seller and month {month:%Y-%m} twice"))
    return resolved, errors


def import_signal_rows(rows: Sequence[SignalRow], source: str,
                       actor: User | None) -> SignalImportOutcome:
    """Store already validated signal rows, all or none: sellers must exist, months have begun.

    ``source`` names where the rows came from (a file name, "api") in the rows and the audit
    entry. A seller-month already stored is replaced; the audit entry keeps its old and new
    figures. On errors nothing is written and the outcome lists them by row.
    """
    if not rows:
        return SignalImportOutcome(0, 0, 0, (RowError(0, "", "There are no figures to import."),))
    lock("marketplace_signals")
    resolved, errors = _resolve_signal_rows(rows)
    if errors:
        return SignalImportOutcome(0, 0, 0, tuple(sorted(errors, key=lambda e: e.row)))
    months = {month for _, month in resolved}
    existing = {(s.seller_id, s.month): s for s in db.session.execute(
        select(MarketplaceSignal).where(MarketplaceSignal.month.in_(months))).scalars()}
    now = utcnow()
    created = unchanged = 0
    replaced: list[dict[str, Any]] = []
    for (seller_id, month), row in resolved.items():
        new = _signal_values(row.orders, row.returns, row.warranty_claims)
        stored = existing.get((seller_id, month))
        if stored is None:
            db.session.add(MarketplaceSignal(
                seller_id=seller_id, month=month, orders=row.orders,
                customer_returns=row.returns, warranty_claims=row.warranty_claims,
                imported_at=now, imported_by_id=actor.id if actor else None,
                source=source[:200]))
            created += 1
            continue
        old = _signal_values(stored.orders, stored.customer_returns, stored.warranty_claims)
        if old == new:
            unchanged += 1
            continue
        stored.orders, stored.customer_returns = row.orders, row.returns
        stored.warranty_claims = row.warranty_claims
        stored.imported_at, stored.imported_by_id = now, actor.id if actor else None
        stored.source = source[:200]
        replaced.append({"seller_id": seller_id, "month": f"{month:%Y-%m}", "old": old,
                         "new": new})
    db.session.flush()
    audit.record("signals.imported", "signal_import", source[:64], {
        "source": source, "rows": len(resolved), "created": created, "updated": len(replaced),
        "unchanged": unchanged, "months": sorted(f"{m:%Y-%m}" for m in months),
        "replaced": replaced}, actor)
    return SignalImportOutcome(created, len(replaced), unchanged, ())


def _signal_figures(seller_id: int, first: date, last: date) -> list[SignalFigures]:
    return [SignalFigures(r.month, r.orders, r.customer_returns, r.warranty_claims)
            for r in db.session.execute(
                select(MarketplaceSignal.month, MarketplaceSignal.orders,
                       MarketplaceSignal.customer_returns, MarketplaceSignal.warranty_claims)
                .where(MarketplaceSignal.seller_id == seller_id,
                       MarketplaceSignal.month >= first, MarketplaceSignal.month <= last))]


def seller_signals(seller_id: int, months: int = WINDOW_MONTHS) -> SignalTable:
    """The seller's marketplace figures of the last ``months`` months (one query)."""
    last = month_start(utcnow().date())
    first = add_months(last, -(months - 1))
    return compute_signal_table(_signal_figures(seller_id, first, last), last, months)


def signals_between(seller_id: int, date_from: date, date_to: date) -> SignalTable:
    """The seller's figures of the months a date range touches (for the dossier)."""
    first, last = month_start(date_from), month_start(date_to)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    return compute_signal_table(_signal_figures(seller_id, first, last), last, months)


# ---------------------------------------------------------------- planning


def planning_inputs(period: Period) -> PlanInputs:
    """The recorded inputs of a plan: labelled sellers, their states, listings and settings."""
    settings = current_settings()
    h = compute_increments(PlanParams(settings.p0, settings.p1, settings.alpha, settings.beta)).h
    risk = {seller_id: s / h for seller_id, s in db.session.execute(
        select(SellerStatistics.seller_id, SellerStatistics.s))}
    sellers = list(db.session.execute(
        select(Seller).where(Seller.label_status.in_(
            [LabelStatus.ACTIVE.value, LabelStatus.PROBATION.value])).order_by(Seller.id))
        .scalars())
    listings: dict[int, list[ListingInput]] = {}
    for item in db.session.execute(select(Listing).where(Listing.active.is_(True))
                                   .order_by(Listing.seller_id, Listing.id)).scalars():
        listings.setdefault(item.seller_id, []).append(
            ListingInput(item.id, item.monthly_units, item.price_cents))
    return PlanInputs(
        period=period,
        sellers=tuple(SellerInput(
            seller_id=s.id,
            state=SamplingState(s.sampling_state or SamplingState.ONBOARDING.value),
            on_probation=s.label_status == LabelStatus.PROBATION.value,
            risk=risk.get(s.id, 0.0), listings=tuple(listings.get(s.id, ())))
            for s in sellers),
        rates=settings_rates(settings), budget_cents=settings.budget_cents,
        buyer_accounts=tuple(settings.accounts))


def _seed_file(period_key: str) -> Path:
    return Path(current_app.config["PLAN_SEED_DIR"]) / f"{period_key}.seed"


def _seal_seed(period_key: str, seed: bytes) -> None:
    """Keep the seed outside the database until the period closes (readable by us only)."""
    path = _seed_file(period_key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(f".tmp{secrets.token_hex(4)}")
    tmp.write_text(seed.hex())
    tmp.chmod(0o600)
    tmp.replace(path)


def get_run(period_key: str) -> PlanningRun | None:
    """The planning run of a period, if it was planned."""
    return db.session.execute(select(PlanningRun).where(PlanningRun.period == period_key)
                              ).scalar_one_or_none()


def _period(period_key: str) -> Period:
    try:
        return parse_period(period_key)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None


def plan_period(period_key: str, actor: User | None = None) -> PlanningRun:
    """Plan a period's test orders from a fresh secret seed; refuse a second plan."""
    period = _period(period_key)
    lock("planning")
    if get_run(period.key) is not None:
        raise ServiceError(f"{period.key} is already planned; a period is planned once.")
    inputs = planning_inputs(period)
    seed = new_seed()
    plan = compute_plan(inputs, seed)
    columns = plan_run_columns(inputs, plan, seed)
    run = PlanningRun(**columns)
    db.session.add(run)
    flush_or_conflict("plan", f"{period.key} was planned by another process a moment ago.")
    db.session.add_all(TestOrder(
        run_id=run.id, seller_id=o.seller_id, listing_id=o.listing_id, planned_at=o.planned_at,
        buyer_account=o.buyer_account, sampling_state=o.sampling_state.value,
        protected=o.protected, cost_cents=o.cost_cents, status=OrderStatus.PLANNED.value)
        for o in plan.orders)
    db.session.flush()
    _seal_seed(period.key, seed)
    audit.record("plan.created", "planning_run", run.id, plan_created_payload(columns, plan),
                 actor)
    return run


def periods_due(today: date) -> list[str]:
    """Periods the daily job should plan: the current month, if not planned yet."""
    key = f"{today.year:04d}-{today.month:02d}"
    return [] if get_run(key) is not None else [key]


def close_periods(today: date) -> list[PlanningRun]:
    """Reveal the seed of every planned period that has ended, checking its commitment and
    re-deriving its plan; a period whose sealed seed is missing or altered is reported in the
    audit trail and the log, and the others still close."""
    revealed = []
    runs = db.session.execute(select(PlanningRun).where(PlanningRun.seed_hex.is_(None))
                              .order_by(PlanningRun.period)).scalars().all()
    for run in runs:
        if parse_period(run.period).end >= today:
            continue
        path = _seed_file(run.period)
        problem = None
        if not path.is_file():
            problem = f"the sealed seed of {run.period} is missing ({path})"
        else:
            seed = bytes.fromhex(path.read_text().strip())
            if compute_commitment(seed) != run.commitment:
                problem = f"the sealed seed of {run.period} does not match its commitment"
        if problem is not None:
            current_app.logger.error("cannot close %s: %s", run.period, problem)
            audit.record("plan.seed_problem", "planning_run", run.id,
                         {"period": run.period, "problem": problem})
            continue
        run.seed_hex = seed.hex()
        run.revealed_at = utcnow()
        db.session.flush()
        check = verify_plan(run.period)
        run.verify_result = compute_verify_result(check.commitment_ok, check.differences)
        audit.record("plan.seed_revealed", "planning_run", run.id, seed_revealed_payload(
            run.period, run.seed_hex, run.commitment, run.verify_result))
        revealed.append(run)
    db.session.flush()
    return revealed


def remove_revealed_seed_files(runs: Sequence[PlanningRun]) -> None:
    """Delete sealed seed files once their seeds are committed to the database."""
    for run in runs:
        _seed_file(run.period).unlink(missing_ok=True)


@dataclass(frozen=True)
class PlanCheck:
    """The result of re-deriving a plan from its seed and recorded inputs."""

    period: str
    commitment_ok: bool
    differences: list[str]

    @property
    def match(self) -> bool:
        """True when the commitment holds and the stored orders equal the derived ones."""
        return self.commitment_ok and not self.differences


def verify_plan(period_key: str) -> PlanCheck:
    """Re-derive a closed period's plan from its revealed seed and compare."""
    period = _period(period_key)
    run = get_run(period.key)
    if run is None:
        raise ServiceError(f"{period.key} has not been planned.")
    if run.seed_hex is None:
        raise ServiceError(f"The seed of {period.key} is revealed only after the period "
                           f"closes (after {period.end}); only its commitment "
                           f"{run.commitment} is known now.")
    seed = bytes.fromhex(run.seed_hex)
    expected = compute_plan(inputs_from_json(run.inputs_json), seed)
    stored = [PlannedOrder(seller_id=o.seller_id, listing_id=o.listing_id,
                           planned_at=o.planned_at, buyer_account=o.buyer_account,
                           sampling_state=SamplingState(o.sampling_state),
                           protected=o.protected, cost_cents=o.cost_cents)
              for o in db.session.execute(select(TestOrder).where(TestOrder.run_id == run.id)
                                          .order_by(TestOrder.planned_at, TestOrder.seller_id,
                                                    TestOrder.listing_id)).scalars()]
    return PlanCheck(period.key, compute_commitment(seed) == run.commitment,
                     compute_plan_differences(expected.orders, stored))


def planning_runs() -> list[PlanningRun]:
    """All planning runs, newest period first."""
    return list(db.session.execute(select(PlanningRun).order_by(PlanningRun.period.desc()))
                .scalars())


# ---------------------------------------------------------------- test orders


def _check_order(order: TestOrder, expected_version: int | None) -> None:
    if expected_version is not None and order.version != expected_version:
        raise ConflictError(f"Test order #{order.id} changed since you opened it (it is now "
                            f"{order.status}). Review it and try again.")


def _move(order: TestOrder, target: OrderStatus, actor: User, payload: Mapping[str, Any],
          expected_version: int | None) -> None:
    _check_order(order, expected_version)
    try:
        action, entry = compute_order_move(OrderStatus(order.status), target, payload)
    except OrderTransitionError as exc:
        raise ServiceError(str(exc)) from None
    order.status = target.value
    order.updated_at = utcnow()
    flush_or_conflict("test order")
    audit.record(action, "test_order", order.id, entry, actor)


def place_order(order: TestOrder, marketplace_ref: str, price_paid_cents: int,
                buyer_account: str, actor: User, expected_version: int | None = None) -> None:
    """Record that the order was placed on the marketplace."""
    _check_order(order, expected_version)
    marketplace_ref = marketplace_ref.strip()
    if not marketplace_ref:
        raise ServiceError("Give the marketplace order reference.", "marketplace_ref")
    if not 0 < price_paid_cents <= 100_000_00:
        raise ServiceError("The price paid must be more than 0 and at most 100,000 euros.",
                           "price_paid")
    taken = db.session.execute(select(TestOrder.id).where(
        TestOrder.marketplace_ref == marketplace_ref, TestOrder.id != order.id)).scalar()
    if taken is not None:
        raise ServiceError(f"Marketplace order {marketplace_ref} is already recorded on test "
                           f"order #{taken}.", "marketplace_ref")
    order.marketplace_ref = marketplace_ref
    order.price_paid_cents = price_paid_cents
    order.buyer_account = buyer_account.strip() or order.buyer_account
    order.placed_at = utcnow()
    order.placed_by_id = actor.id
    flush_or_conflict("test order", f"Marketplace order {marketplace_ref} was just recorded on "
                                    "another test order.")
    _move(order, OrderStatus.PLACED, actor,
          placement_details(marketplace_ref, price_paid_cents, order.buyer_account), None)


def receive_order(order: TestOrder, received_on: date, condition: PackageCondition,
                  actor: User, expected_version: int | None = None) -> None:
    """Record the parcel's arrival and its condition."""
    today = utcnow().date()
    if received_on > today:
        raise ServiceError("The arrival date cannot be in the future.", "received_on")
    if order.placed_at is not None and received_on < order.placed_at.date():
        raise ServiceError(f"The arrival date is before the order was placed "
                           f"({order.placed_at.date()}).", "received_on")
    order.received_on = received_on
    order.package_condition = condition.value
    order.received_by_id = actor.id
    _move(order, OrderStatus.RECEIVED, actor, arrival_details(received_on, condition),
          expected_version)


def cancel_order(order: TestOrder, reason: str, actor: User,
                 expected_version: int | None = None) -> None:
    """Cancel a planned or placed order, with a reason."""
    reason = reason.strip()
    if not reason:
        raise ServiceError("Give the reason for cancelling.", "reason")
    order.cancel_reason = reason
    _move(order, OrderStatus.CANCELLED, actor, reason_details(reason), expected_version)


def mark_lost(order: TestOrder, reason: str, actor: User,
              expected_version: int | None = None) -> None:
    """Record that a placed order never arrived (a delivery failure)."""
    order.cancel_reason = reason.strip() or "Never arrived."
    _move(order, OrderStatus.LOST, actor, reason_details(order.cancel_reason),
          expected_version)


def close_order(order: TestOrder, disposition: Disposition, actor: User,
                expected_version: int | None = None) -> None:
    """Close an inspected order: device returned, refunded or kept as evidence."""
    order.disposition = disposition.value
    order.closed_at = utcnow()
    _move(order, OrderStatus.CLOSED, actor, closing_details(disposition), expected_version)


def order_queue(kind: str) -> Select[tuple[TestOrder]]:
    """Orders an inspector works on, oldest first: to place, to receive, to inspect."""
    now = utcnow()
    stmt = select(TestOrder).options(selectinload(TestOrder.seller))
    if kind == "place":
        stmt = stmt.where(TestOrder.status == OrderStatus.PLANNED.value,
                          TestOrder.planned_at <= now).order_by(TestOrder.planned_at)
    elif kind == "receive":
        stmt = stmt.where(TestOrder.status == OrderStatus.PLACED.value).order_by(
            TestOrder.placed_at)
    elif kind == "inspect":
        stmt = stmt.where(TestOrder.status == OrderStatus.RECEIVED.value).order_by(
            TestOrder.received_on, TestOrder.id)
    elif kind == "upcoming":
        stmt = stmt.where(TestOrder.status == OrderStatus.PLANNED.value,
                          TestOrder.planned_at > now).order_by(TestOrder.planned_at)
    else:
        stmt = stmt.order_by(TestOrder.planned_at.desc())
    return stmt.order_by(TestOrder.id)


def queue_counts() -> dict[str, int]:
    """How many orders wait in each queue, and how many planned orders are overdue."""
    now = utcnow()
    rows = dict(db.session.execute(
        select(TestOrder.status, func.count()).where(TestOrder.status.in_(
            [OrderStatus.PLACED.value, OrderStatus.RECEIVED.value]))
        .group_by(TestOrder.status)).all())
    due = db.session.execute(select(func.count()).select_from(TestOrder).where(
        TestOrder.status == OrderStatus.PLANNED.value, TestOrder.planned_at <= now)).scalar_one()
    overdue = db.session.execute(select(func.count()).select_from(TestOrder).where(
        TestOrder.status == OrderStatus.PLANNED.value,
        TestOrder.planned_at < now - OVERDUE_AFTER)).scalar_one()
    return {"place": due, "overdue": overdue,
            "receive": rows.get(OrderStatus.PLACED.value, 0),
            "inspect": rows.get(OrderStatus.RECEIVED.value, 0)}


def seller_orders(seller: Seller, limit: int = 50) -> list[TestOrder]:
    """A seller's latest test orders, newest planned first (the CSV export has them all)."""
    return list(db.session.execute(select(TestOrder).where(TestOrder.seller_id == seller.id)
                                   .order_by(TestOrder.planned_at.desc()).limit(limit))
                .scalars())


def seller_verdicts(seller: Seller) -> dict[int, str]:
    """The verdict in force of each inspected order of a seller, by order id."""
    return dict(db.session.execute(
        select(Inspection.order_id, Inspection.verdict).join(TestOrder)
        .where(TestOrder.seller_id == seller.id, Inspection.is_current.is_(True))).all())


# ---------------------------------------------------------------- inspections


def checkpoints_for(category: str) -> list[Checkpoint]:
    """The active checkpoints of the catalog that apply to a device category."""
    rows = db.session.execute(select(Checkpoint).where(Checkpoint.active.is_(True))
                              .order_by(Checkpoint.position)).scalars()
    lookup = "smartphone" if category in ("smartwatch", "console") else category
    return [c for c in rows if lookup in c.categories.split(",")]


@dataclass(frozen=True)
class InspectionInput:
    """What an inspector records about a device."""

    observed_grade: str
    battery_percent: object
    battery_cycles: int | None
    battery_swollen: bool
    cable_missing: bool
    notes: str
    outcomes: Mapping[str, tuple[bool, str]]  # checkpoint code -> (passed, note)
    photos: Sequence[tuple[IO[bytes], str | None]] = field(default_factory=tuple)


def current_inspection(order: TestOrder) -> Inspection | None:
    """The inspection version in force for an order, if inspected."""
    return db.session.execute(select(Inspection).where(
        Inspection.order_id == order.id, Inspection.is_current.is_(True))).scalar_one_or_none()


def inspection_versions(order: TestOrder) -> list[Inspection]:
    """Every inspection version of an order, oldest first."""
    return list(db.session.execute(select(Inspection).where(Inspection.order_id == order.id)
                                   .order_by(Inspection.version)).scalars())


def _build_inspection(order: TestOrder, data: InspectionInput, actor: User,
                      version: int) -> Inspection:
    checkpoints = checkpoints_for(order.listing.category)
    missing = [c.code for c in checkpoints if c.code not in data.outcomes]
    if missing:
        raise ServiceError("Record every checkpoint before submitting; missing: "
                           + ", ".join(missing) + ".", "checkpoints")
    unknown = sorted(set(data.outcomes) - {c.code for c in checkpoints})
    if unknown:
        raise ServiceError("These checkpoints do not apply to this device: "
                           + ", ".join(unknown) + ".", "checkpoints")
    battery_error = check_battery(data.battery_percent)
    if battery_error:
        raise ServiceError(battery_error, "battery_percent")
    battery = data.battery_percent if isinstance(data.battery_percent, int) else None
    if data.battery_cycles is not None and not 0 <= data.battery_cycles <= 100_000:
        raise ServiceError("Battery cycles must be between 0 and 100,000.", "battery_cycles")
    try:
        observed = Grade(data.observed_grade)
    except ValueError:
        raise ServiceError("Choose the observed cosmetic grade.", "observed_grade") from None
    score = compute_score(InspectionFacts(
        promised_grade=Grade(order.listing.promised_grade), observed_grade=observed,
        battery_percent=battery, battery_swollen=data.battery_swollen,
        cable_missing=data.cable_missing,
        outcomes=tuple(CheckpointOutcome(c.code, Severity(c.severity), data.outcomes[c.code][0])
                       for c in checkpoints)))
    inspection = Inspection(
        order_id=order.id, version=version, is_current=True, inspector_id=actor.id,
        submitted_at=utcnow(), observed_grade=observed.value, battery_percent=battery,
        battery_cycles=data.battery_cycles, battery_swollen=data.battery_swollen,
        cable_missing=data.cable_missing, notes=data.notes.strip(),
        verdict=score.verdict.value, score=score.score, reasons=json.dumps(list(score.reasons)),
        results=[InspectionResult(position=i, code=c.code, severity=c.severity,
                                  passed=data.outcomes[c.code][0],
                                  note=data.outcomes[c.code][1].strip())
                 for i, c in enumerate(checkpoints, start=1)])
    # Check every photo (in a scratch folder) before storing any, so a refused photo leaves
    # no file of the others behind.
    with tempfile.TemporaryDirectory(prefix="labelkeeper-photos-") as scratch:
        for stream, name in data.photos:
            _store_photo(stream, name, Path(scratch))
            stream.seek(0)
    for stream, name in data.photos:
        inspection.photos.append(_store_photo(stream, name))
    return inspection


def _store_photo(stream: IO[bytes], name: str | None,
                 folder: Path | None = None) -> InspectionPhoto:
    cfg = current_app.config
    try:
        stored = evidence_store.store_evidence(stream, name,
                                               folder or Path(cfg["EVIDENCE_DIR"]),
                                               cfg["EVIDENCE_MAX_BYTES"])
    except evidence_store.EvidenceError as exc:
        raise ServiceError(f"Photo {name or ''}: {exc}", "photos") from None
    if not stored.content_type.startswith("image/"):
        raise ServiceError(f"Photo {stored.filename} is not an image (PNG or JPEG).", "photos")
    return InspectionPhoto(sha256=stored.sha256, filename=stored.filename,
                           content_type=stored.content_type, size=stored.size)


def _inspection_payload(i: Inspection) -> dict[str, Any]:
    return inspection_payload(
        version=i.version, verdict=i.verdict, score=i.score, observed_grade=i.observed_grade,
        battery_percent=i.battery_percent, battery_cycles=i.battery_cycles,
        battery_swollen=i.battery_swollen, cable_missing=i.cable_missing, notes=i.notes,
        failed=[r.code for r in i.results if not r.passed],
        photos=[p.sha256 for p in i.photos], reasons=json.loads(i.reasons))


def submit_inspection(order: TestOrder, data: InspectionInput, actor: User,
                      expected_version: int | None = None) -> Inspection:
    """Score and store the inspection of a received order; it is immutable afterwards."""
    # One seller's inspections are timestamped and counted one at a time, so the order of
    # the history equals the order in which the statistics were updated.
    lock(f"seller-statistics:{order.seller_id}")
    # The order was read before the lock; a double post that waited for it must see the
    # first one's result ("already inspected"), not the state it read before.
    db.session.refresh(order)
    _check_order(order, expected_version)
    if order.status != OrderStatus.RECEIVED.value:
        if order.status in (OrderStatus.INSPECTED.value, OrderStatus.CLOSED.value):
            raise ConflictError(f"Test order #{order.id} has already been inspected; "
                                "change it through an amendment with a reason.")
        raise ServiceError(f"Test order #{order.id} is {order.status}; only a received "
                           "device can be inspected.")
    inspection = _build_inspection(order, data, actor, version=1)
    db.session.add(inspection)
    order.inspected_at = inspection.submitted_at
    _move(order, OrderStatus.INSPECTED, actor, inspection_details(), None)
    flush_or_conflict("test order", f"Test order #{order.id} was inspected by someone else "
                                    "a moment ago.")
    audit.record("inspection.submitted", "test_order", order.id,
                 {"seller_id": order.seller_id, **_inspection_payload(inspection)}, actor)
    events.emit(events.InspectionRecorded(order.id, order.seller_id, inspection.id, 1,
                                          inspection.verdict, amended=False))
    return inspection


def amend_inspection(order: TestOrder, data: InspectionInput, reason: str, actor: User,
                     expected_version: int | None = None) -> Inspection:
    """Replace the inspection in force by a new version, keeping both, with a reason."""
    lock(f"seller-statistics:{order.seller_id}")
    db.session.refresh(order)  # read before the lock; see submit_inspection
    _check_order(order, expected_version)
    previous = current_inspection(order)
    if previous is None:
        raise ServiceError(f"Test order #{order.id} has no inspection to amend.")
    reason = reason.strip()
    if not reason:
        raise ServiceError("Say why the inspection is amended.", "amend_reason")
    inspection = _build_inspection(order, data, actor, version=previous.version + 1)
    inspection.amend_reason = reason
    for photo in previous.photos:
        inspection.photos.append(InspectionPhoto(sha256=photo.sha256, filename=photo.filename,
                                                 content_type=photo.content_type,
                                                 size=photo.size))
    previous.is_current = False
    db.session.add(inspection)
    order.updated_at = utcnow()
    flush_or_conflict("test order", f"Test order #{order.id} was amended by someone else "
                                    "a moment ago.")
    audit.record("inspection.amended", "test_order", order.id, {
        "seller_id": order.seller_id, "reason": reason,
        "before": _inspection_payload(previous), "after": _inspection_payload(inspection)},
        actor)
    events.emit(events.InspectionRecorded(order.id, order.seller_id, inspection.id,
                                          inspection.version, inspection.verdict, amended=True,
                                          previous_verdict=previous.verdict))
    return inspection


def photo_path(photo: InspectionPhoto) -> Path:
    """Where a photo's content is stored."""
    return evidence_store.evidence_path(Path(current_app.config["EVIDENCE_DIR"]), photo.sha256)


def overdue_since(order: TestOrder, now: datetime | None = None) -> timedelta | None:
    """How long a planned order is past its planned time beyond the grace, if overdue."""
    late = (now or utcnow()) - order.planned_at
    return late if order.status == OrderStatus.PLANNED.value and late > OVERDUE_AFTER else None

