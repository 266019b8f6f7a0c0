"""Monthly planning runs: plan a period from a committed secret seed, reveal the seed when
the period closes, and re-derive a plan to verify it.

Services flush; the caller commits.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, insert, select

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ServiceError
from core.models import User
from qc import sampling_v1
from qc.allocation import (
    SCALE,
    AucEstimate,
    claim_percentiles,
    measure_auc,
)
from qc.decisions import DEFECT_VERDICTS, compute_effective_verdict
from qc.models import (
    CriticalFinding,
    Inspection,
    Listing,
    MarketplaceSignal,
    PlanningRun,
    TestOrder,
)
from qc.orders import (
    OrderStatus,
)
from qc.plan_records import (
    compute_p_bad,
    compute_plan_differences,
    compute_verify_result,
    derive_plan,
    inputs_from_json,
    month_index,
    plan_created_payload,
    plan_notes,
    plan_run_columns,
    seed_revealed_payload,
    signal_record,
)
from qc.sampling import (
    ListingInput,
    Period,
    PlanInputs,
    PlannedOrder,
    SellerInput,
    below,
    compute_allocation,
    compute_commitment,
    compute_plan,
    new_seed,
    parse_period,
)
from qc.services.buyers import active_buyers, recent_buyers
from qc.services.critical_findings import sellers_with_pending
from qc.services.plan_settings import (
    current_settings,
    settings_rates,
    stored_settings,
    threshold,
)
from vetting.labels import IN_FORCE, LabelEventKind, LabelStatus, SamplingState
from vetting.models import LabelEvent, Seller


def _counted_verdicts(before: datetime) -> Select[tuple[int, datetime | None, str | None,
                                                      str | None, str | None]]:
    """(seller, inspected at, verdict, finding status, rescored verdict) of the orders
    inspected before ``before``, oldest first; ``compute_effective_verdict`` says what each
    counts with."""
    return (select(TestOrder.seller_id, TestOrder.inspected_at, Inspection.verdict,
                   CriticalFinding.status, CriticalFinding.rescored_verdict)
            .join(Inspection, Inspection.order_id == TestOrder.id)
            .outerjoin(CriticalFinding, CriticalFinding.inspection_id == Inspection.id)
            .where(Inspection.is_current.is_(True), TestOrder.inspected_at.is_not(None),
                   TestOrder.inspected_at < before)
            .order_by(TestOrder.inspected_at, TestOrder.id))


SIGNAL_MONTHS = 6  # returns and claims per unit over this many months rank the sellers


def _label_starts(seller_ids: Sequence[int]) -> dict[int, date]:
    """The first grant of each seller's label (its valid-from date when no grant is recorded)."""
    starts: dict[int, date] = {}
    for seller_id, at in db.session.execute(
            select(LabelEvent.seller_id, func.min(LabelEvent.at))
            .where(LabelEvent.kind == LabelEventKind.GRANT.value)
            .group_by(LabelEvent.seller_id)):
        starts[seller_id] = at.date()
    for seller_id, valid_from in db.session.execute(
            select(Seller.id, Seller.label_valid_from).where(Seller.id.in_(seller_ids))):
        if seller_id not in starts and valid_from is not None:
            starts[seller_id] = valid_from
    return starts


def posteriors(sellers: Sequence[Seller], period: Period, drift: float) -> dict[int, float]:
    """P(p >= 15%) of each seller from its inspected test orders, month by month from its
    first label grant up to the month before ``period`` (qc.plan_records.compute_p_bad)."""
    ids = [s.id for s in sellers]
    starts = _label_starts(ids)
    counts: dict[int, dict[int, list[int]]] = {}
    for seller_id, inspected_at, recorded, finding, rescored in db.session.execute(
            _counted_verdicts(datetime.combine(period.start, time()))):
        verdict = compute_effective_verdict(recorded, finding, rescored)
        if verdict is None or inspected_at is None:  # awaiting a second inspector
            continue
        month = counts.setdefault(seller_id, {}).setdefault(month_index(inspected_at), [0, 0])
        month[0 if verdict in DEFECT_VERDICTS else 1] += 1
    return {seller_id: compute_p_bad(starts.get(seller_id), period, counts.get(seller_id, {}),
                                     drift)
            for seller_id in ids}


def claim_rates(seller_ids: Sequence[int], period: Period) -> dict[int, float]:
    """Customer returns plus warranty claims per unit sold over the ``SIGNAL_MONTHS`` months
    before ``period``, for the sellers with units reported in them."""
    first = period.start
    for _ in range(SIGNAL_MONTHS):
        first = (first - timedelta(days=1)).replace(day=1)
    totals: dict[int, list[int]] = {}
    for seller_id, units, returns, claims in db.session.execute(
            select(MarketplaceSignal.seller_id, MarketplaceSignal.orders,
                   MarketplaceSignal.customer_returns, MarketplaceSignal.warranty_claims)
            .where(MarketplaceSignal.seller_id.in_(seller_ids),
                   MarketplaceSignal.month >= first, MarketplaceSignal.month < period.start)):
        if units is None:
            continue
        row = totals.setdefault(seller_id, [0, 0])
        row[0] += units
        row[1] += returns + claims
    return {seller_id: events / units for seller_id, (units, events) in totals.items() if units}


def signal_auc() -> AucEstimate:
    """How well the claim rank predicts verdicts: the AUC between defective and clean first
    inspected orders of sellers, against the claim percentile recorded when each was planned
    (first orders only, so targeted testing does not bias it)."""
    firsts: dict[int, tuple[bool, float | None]] = {}
    for seller_id, verdict, finding, rescored, percentile in db.session.execute(
            select(TestOrder.seller_id, Inspection.verdict, CriticalFinding.status,
                   CriticalFinding.rescored_verdict, TestOrder.claim_percentile)
            .join(Inspection, Inspection.order_id == TestOrder.id)
            .outerjoin(CriticalFinding, CriticalFinding.inspection_id == Inspection.id)
            .where(Inspection.is_current.is_(True), TestOrder.inspected_at.is_not(None))
            .order_by(TestOrder.inspected_at, TestOrder.id)):
        counted = compute_effective_verdict(verdict, finding, rescored)
        if seller_id not in firsts and counted is not None:
            firsts[seller_id] = (counted in DEFECT_VERDICTS, percentile)
    return measure_auc([(defective, q) for defective, q in firsts.values() if q is not None])


def auc_in_use(estimate: AucEstimate, min_auc: float) -> float | None:
    """The measured AUC when it reaches ``min_auc`` (the signal then sharpens allocation)."""
    if estimate.auc is None or estimate.auc < min_auc or estimate.auc >= 1.0:
        return None
    return estimate.auc


def signal_summary(min_auc: float) -> dict[str, Any]:
    """The signal as the plan page shows it: the measured AUC, its interval, the first orders
    behind it, whether allocation would use it at ``min_auc`` and a sentence saying so."""
    estimate = signal_auc()
    return signal_record(estimate, min_auc, auc_in_use(estimate, min_auc) is not None)


def planning_inputs(period: Period, estimate: AucEstimate | None = None) -> PlanInputs:
    """The recorded inputs of a plan: sellers in force with their posterior, claim rank and
    listings; the budget; the buyer identities. ``estimate`` is the signal's measured AUC
    (``signal_auc()`` when not given)."""
    settings = current_settings()
    if estimate is None:
        estimate = signal_auc()
    sellers = list(db.session.execute(
        select(Seller).where(Seller.label_status.in_(IN_FORCE)).order_by(Seller.id))
        .scalars())
    ids = [s.id for s in sellers]
    listings: dict[int, list[ListingInput]] = {}
    for seller_id, listing_id, units, price in db.session.execute(
            select(Listing.seller_id, Listing.id, Listing.monthly_units, Listing.price_cents)
            .where(Listing.active.is_(True)).order_by(Listing.seller_id, Listing.id)):
        listings.setdefault(seller_id, []).append(ListingInput(listing_id, units, price))
    p_bad = posteriors(sellers, period, settings.drift)
    percentiles = claim_percentiles(claim_rates(ids, period))
    waiting = sellers_with_pending()
    recent = recent_buyers(period.start)
    return PlanInputs(
        period=period,
        sellers=tuple(SellerInput(
            seller_id=s.id,
            state=SamplingState(s.sampling_state or SamplingState.ONBOARDING.value),
            on_probation=s.label_status == LabelStatus.PROBATION.value,
            p_bad=p_bad[s.id], claim_percentile=percentiles.get(s.id),
            awaiting_confirmation=s.id in waiting,
            recent_buyers=tuple(sorted(recent.get(s.id, frozenset()))),
            listings=tuple(listings.get(s.id, ())))
            for s in sellers),
        budget_orders=settings.budget_orders, budget_cents=settings.budget_cents,
        buyers=tuple(active_buyers()), signal_auc=auc_in_use(estimate, settings.min_auc),
        floor=settings.floor_rate, block_max=settings.block_max)


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
    settings = stored_settings()  # the threshold in force is fixed before the first plan
    estimate = signal_auc()
    try:
        inputs = planning_inputs(period, estimate)
        seed = new_seed()
        plan = compute_plan(inputs, seed)
    except ValueError as exc:  # e.g. no buyer identity left
        raise ServiceError(f"{period.key} cannot be planned: {exc}") from None
    columns = plan_run_columns(inputs, plan, seed)
    notes = plan_notes(inputs, plan, settings_rates(settings), asdict(threshold(settings)),
                       estimate, settings.min_auc)
    run = PlanningRun(**columns, notes_json=json.dumps(notes, sort_keys=True))
    db.session.add(run)
    flush_or_conflict("plan", f"{period.key} was planned by another process a moment ago.")
    percentiles = {s.seller_id: s.claim_percentile for s in inputs.sellers}
    if plan.orders:  # one bulk INSERT: a fleet's month can hold thousands of orders
        now = utcnow()
        db.session.execute(insert(TestOrder), [{
            "run_id": run.id, "seller_id": o.seller_id, "listing_id": o.listing_id,
            "planned_at": o.planned_at, "buyer_account": o.buyer_account,
            "buyer_identity_id": o.buyer_id, "sampling_state": o.sampling_state.value,
            "protected": False, "confirmation": o.confirmation,
            "claim_percentile": percentiles[o.seller_id], "cost_cents": o.cost_cents,
            "status": OrderStatus.PLANNED.value, "cancel_reason": "", "updated_at": now,
            "version": 1} for o in plan.orders])
    _seal_seed(period.key, seed)
    audit.record("plan.created", "planning_run", run.id,
                 {**plan_created_payload(columns, plan), "notes": notes}, actor)
    return run


def run_notes(run: PlanningRun) -> dict[str, Any]:
    """The notes a run stored: threshold, signal, shortfall and warnings (empty when older)."""
    notes: dict[str, Any] = json.loads(run.notes_json or "{}")
    return notes


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
    expected = derive_plan(inputs_from_json(run.inputs_json), seed)
    rows = db.session.execute(select(TestOrder).where(TestOrder.run_id == run.id)
                              .order_by(TestOrder.planned_at, TestOrder.seller_id,
                                        TestOrder.listing_id)).scalars().all()
    stored: list[PlannedOrder] | list[sampling_v1.PlannedOrder]
    if isinstance(expected, sampling_v1.Plan):
        stored = [sampling_v1.PlannedOrder(
            seller_id=o.seller_id, listing_id=o.listing_id, planned_at=o.planned_at,
            buyer_account=o.buyer_account, sampling_state=SamplingState(o.sampling_state),
            protected=o.protected, cost_cents=o.cost_cents) for o in rows]
    else:
        stored = [PlannedOrder(
            seller_id=o.seller_id, listing_id=o.listing_id, planned_at=o.planned_at,
            buyer_id=o.buyer_identity_id or 0, buyer_account=o.buyer_account,
            sampling_state=SamplingState(o.sampling_state), confirmation=o.confirmation,
            cost_cents=o.cost_cents) for o in rows]
    return PlanCheck(period.key, compute_commitment(seed) == run.commitment,
                     compute_plan_differences(expected.orders, stored))


def planning_runs() -> list[PlanningRun]:
    """All planning runs, newest period first."""
    return list(db.session.execute(select(PlanningRun).order_by(PlanningRun.period.desc()))
                .scalars())


PREVIEW_SEED = bytes(32)  # ties among equal sellers only; the expectations barely depend on it


def expected_orders(period: Period, budget_orders: int | None = None) -> dict[int, float]:
    """Each seller's expected test orders a month under the allocation the period's inputs
    give now (floor plus blocks; reads only), for the forecast of wrongful suspensions;
    ``budget_orders`` replaces the budget in force (a preview)."""
    inputs = planning_inputs(period)
    if budget_orders is not None:
        inputs = replace(inputs, budget_orders=budget_orders)
    allocation = compute_allocation(inputs, partial(below, PREVIEW_SEED))
    expected = {row.seller_id: row.expected / SCALE for row in allocation.sellers}
    return {s.seller_id: expected.get(s.seller_id, 0.0) for s in inputs.sellers}
