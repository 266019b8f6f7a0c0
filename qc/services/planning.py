"""Monthly planning runs: plan a period from a committed secret seed, reveal the seed when
the period closes, and re-derive a plan to verify it.

Services flush; the caller commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ServiceError
from core.models import User
from qc.models import (
    Listing,
    PlanningRun,
    SellerStatistics,
    TestOrder,
)
from qc.orders import (
    OrderStatus,
)
from qc.plan_records import (
    compute_plan_differences,
    compute_verify_result,
    inputs_from_json,
    plan_created_payload,
    plan_run_columns,
    seed_revealed_payload,
)
from qc.sampling import (
    ListingInput,
    Period,
    PlanInputs,
    PlannedOrder,
    SellerInput,
    compute_commitment,
    compute_plan,
    new_seed,
    parse_period,
)
from qc.services.plan_settings import current_settings, settings_rates
from qc.stats import (
    PlanParams,
    compute_increments,
)
from vetting.labels import IN_FORCE, LabelStatus, SamplingState
from vetting.models import Seller


def planning_inputs(period: Period) -> PlanInputs:
    """The recorded inputs of a plan: labelled sellers, their states, listings and settings."""
    settings = current_settings()
    h = compute_increments(PlanParams(settings.p0, settings.p1, settings.alpha, settings.beta)).h
    risk = {seller_id: s / h for seller_id, s in db.session.execute(
        select(SellerStatistics.seller_id, SellerStatistics.s))}
    sellers = list(db.session.execute(
        select(Seller).where(Seller.label_status.in_(
            IN_FORCE)).order_by(Seller.id))
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
