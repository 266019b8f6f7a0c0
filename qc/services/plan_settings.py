"""The sampling plan settings: versions, their preview and the decision plan in force.

Services flush; the caller commits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Any

from sqlalchemy import func, select

from core import audit
from core.db import db
from core.errors import ServiceError
from core.models import User
from qc import events
from qc.allocation import (
    DEFAULT_BLOCK_MAX,
    DEFAULT_DRIFT,
    DEFAULT_FLOOR,
    DEFAULT_MIN_AUC,
    DEFAULT_TARGET_YEARS,
    choose_h,
)
from qc.decisions import DecisionPlan, compute_decision_plan
from qc.forecast import MonthlyRate, expected_suspensions
from qc.models import SamplingSettings, SellerStatistics
from qc.sampling_v1 import DEFAULT_RATES
from qc.stats import (
    OC_NS,
    OC_PS,
    PlanParams,
    compute_increments,
    describe_plan,
    oc_table,
)
from vetting.labels import IN_FORCE, LabelStatus, SamplingState
from vetting.models import Seller

DEFAULT_BUDGET_CENTS = 60_000_00
DEFAULT_BUDGET_ORDERS = 200
MAX_BUDGET_ORDERS = 100_000
MAX_H = 20.0  # the highest threshold an override may set
FORECAST_MONTHS = 12  # the horizon of the expected wrongful suspensions


def current_settings() -> SamplingSettings:
    """The sampling plan settings in force: the newest saved version, or the defaults of
    DESIGN.md (unsaved, so reading never writes) until someone saves a version."""
    settings = db.session.execute(
        select(SamplingSettings).order_by(SamplingSettings.id.desc()).limit(1)
    ).scalar_one_or_none()
    return settings if settings is not None else _default_settings()


def stored_settings() -> SamplingSettings:
    """The settings in force as a saved row, saving the defaults first if none is saved yet
    (for callers that change the row in place, such as test set-up and the demo fleet)."""
    settings = current_settings()
    if settings.id is None:
        settings.h = threshold(settings).budget_h
        db.session.add(settings)
        db.session.flush()
    return settings


def _default_settings() -> SamplingSettings:
    plan = PlanParams()
    return SamplingSettings(
        rate_onboarding=DEFAULT_RATES[SamplingState.ONBOARDING],
        rate_normal=DEFAULT_RATES[SamplingState.NORMAL],
        rate_reduced=DEFAULT_RATES[SamplingState.REDUCED],
        rate_tightened=DEFAULT_RATES[SamplingState.TIGHTENED],
        budget_cents=DEFAULT_BUDGET_CENTS, buyer_accounts="",
        p0=plan.p0, p1=plan.p1, alpha=plan.alpha, beta=plan.beta,
        budget_orders=DEFAULT_BUDGET_ORDERS, floor_rate=DEFAULT_FLOOR,
        block_max=DEFAULT_BLOCK_MAX, drift=DEFAULT_DRIFT, min_auc=DEFAULT_MIN_AUC,
        target_years=DEFAULT_TARGET_YEARS, h=None, h_override_reason="")


def plan_params(settings: SamplingSettings) -> PlanParams:
    """The CUSUM parameters of a settings version."""
    return PlanParams(p0=settings.p0, p1=settings.p1, alpha=settings.alpha, beta=settings.beta)


def sellers_in_force() -> int:
    """Sellers whose label is in force (active or probation)."""
    return int(db.session.execute(
        select(func.count()).select_from(Seller).where(Seller.label_status.in_(IN_FORCE)))
        .scalar_one())


@dataclass(frozen=True)
class Threshold:
    """The suspension threshold: in force, and what the budget allows for today's fleet."""

    h: float  # in force
    budget_h: float  # chosen from the budget for the sellers in force now
    design_h: float  # ln((1 - beta) / alpha), the most the budget choice gives
    orders_per_seller: float  # a month, budget / sellers in force
    sellers: int
    overridden: bool
    reason: str


def threshold(settings: SamplingSettings, sellers: int | None = None,
              budget_orders: int | None = None) -> Threshold:
    """The threshold of a settings version. A saved version keeps the h chosen when it was
    saved (older versions without one keep the design h); the unsaved defaults follow the
    fleet until someone saves them."""
    params = plan_params(settings)
    inc = compute_increments(params)
    count = sellers_in_force() if sellers is None else sellers
    budget = settings.budget_orders if budget_orders is None else budget_orders
    rate = budget / count if count else 0.0
    budget_h = choose_h(rate, inc, params.p0, settings.target_years) if count else inc.h
    if settings.h is not None:
        h = settings.h
    else:
        h = budget_h if settings.id is None else inc.h
    return Threshold(h=h, budget_h=budget_h, design_h=inc.h, orders_per_seller=rate,
                     sellers=count, overridden=bool(settings.h_override_reason),
                     reason=settings.h_override_reason)


def threshold_in_force(settings: SamplingSettings) -> float:
    """The h of ``threshold(settings)``, without working out the budget's choice when the
    version has its own."""
    if settings.h is not None:
        return settings.h
    if settings.id is not None:
        return compute_increments(plan_params(settings)).h
    return threshold(settings).h


def decision_plan(settings: SamplingSettings) -> DecisionPlan:
    """The decision plan of a settings version: its CUSUM and its threshold in force."""
    return compute_decision_plan(plan_params(settings), h=threshold_in_force(settings))


def current_plan() -> DecisionPlan:
    """The decision plan in force."""
    return decision_plan(current_settings())


def settings_rates(settings: SamplingSettings) -> dict[SamplingState, float]:
    """The monthly rate per sampling state of a settings version."""
    return {SamplingState.ONBOARDING: settings.rate_onboarding,
            SamplingState.NORMAL: settings.rate_normal,
            SamplingState.REDUCED: settings.rate_reduced,
            SamplingState.TIGHTENED: settings.rate_tightened}


def _settings_payload(s: SamplingSettings) -> dict[str, Any]:
    return {"rates": {k.value: v for k, v in settings_rates(s).items()},
            "budget_cents": s.budget_cents,
            "allocation": {"budget_orders": s.budget_orders, "floor": s.floor_rate,
                           "block_max": s.block_max, "min_auc": s.min_auc},
            "plan": {"p0": s.p0, "p1": s.p1, "alpha": s.alpha, "beta": s.beta, "h": s.h,
                     "h_override_reason": s.h_override_reason}}


@dataclass(frozen=True)
class Allocation:
    """The allocation settings of a version (qc.allocation); h_override with its reason."""

    budget_orders: int = DEFAULT_BUDGET_ORDERS
    floor_rate: float = DEFAULT_FLOOR
    block_max: int = DEFAULT_BLOCK_MAX
    min_auc: float = DEFAULT_MIN_AUC
    h_override: float | None = None
    h_reason: str = ""


def check_allocation(allocation: Allocation, sellers: int, w_defect: float) -> None:
    """Refuse allocation settings the planner could not honour, with the field to fix."""
    if not (math.isfinite(allocation.floor_rate) and 0 <= allocation.floor_rate <= 1):
        raise ServiceError("The floor must be between 0 and 1 order a month per seller.",
                           "floor_rate")
    if allocation.budget_orders < 1:
        raise ServiceError("The budget must be at least 1 test order a month; the plan "
                           "cannot test anyone with none.", "budget_orders")
    floor_cost = math.ceil(round(sellers * allocation.floor_rate, 9))
    if allocation.budget_orders < floor_cost:
        raise ServiceError(
            f"A budget of {allocation.budget_orders} orders a month cannot cover the floor of "
            f"{allocation.floor_rate:g} orders a month for each of the {sellers} sellers in "
            f"force; it needs at least {floor_cost} (or a lower floor).", "budget_orders")
    if allocation.budget_orders > MAX_BUDGET_ORDERS:
        raise ServiceError(f"The budget may be at most {MAX_BUDGET_ORDERS:,} orders a month.",
                           "budget_orders")
    if not 1 <= allocation.block_max <= 31:
        raise ServiceError("A block must be between 1 and 31 orders.", "block_max")
    if not (math.isfinite(allocation.min_auc) and 0.5 <= allocation.min_auc <= 1):
        raise ServiceError("The signal's minimum AUC must be between 0.5 and 1.", "min_auc")
    if allocation.h_override is None and allocation.h_reason.strip():
        raise ServiceError("Give the threshold that overrides the budget's choice, or clear "
                           "the reason.", "h_override")
    if allocation.h_override is not None:
        if not allocation.h_reason.strip():
            raise ServiceError("Say why the threshold is overridden; the reason is kept with "
                               "the plan and shown in reports.", "h_reason")
        if not (math.isfinite(allocation.h_override)
                and w_defect < allocation.h_override <= MAX_H):
            raise ServiceError(f"The threshold must be above one defect's step "
                               f"({w_defect:.3f}) and at most {MAX_H:g}.", "h_override")


def plan_preview(params: PlanParams, rates: Mapping[SamplingState, float] | None = None,
                 rates_by_seller: Mapping[int, float] | None = None,
                 h: float | None = None) -> dict[str, Any]:
    """What a plan would do: its increments, its OC table, and the expected number of
    wrongful (statistical) suspensions in the next 12 months if every seller in force were
    at p0, summed seller by seller from each one's current CUSUM S (``qc.forecast``).

    A seller's planned rate is ``rates_by_seller[seller_id]`` when given (the test orders
    the month's allocation expects for that seller), held for the 12 months. Otherwise, and
    for every seller when ``rates_by_seller`` is None, it is its sampling state's rate in
    ``rates`` (default: the settings in force; the tightened rate on probation), switching to
    the tightened rate in any month that begins with S at or above the tightening level.
    ``h`` is the threshold (default: the one in force for these parameters' settings).
    """
    inc = compute_increments(params)
    inc = replace(inc, h=h if h is not None else threshold_in_force(current_settings()))
    rates = rates if rates is not None else settings_rates(current_settings())
    tighten_at = compute_decision_plan(params).tighten_at
    tightened = rates[SamplingState.TIGHTENED]

    def by_state(status: str, state: str | None) -> MonthlyRate:
        own = (tightened if status == LabelStatus.PROBATION
               else rates[SamplingState(state or SamplingState.ONBOARDING.value)])
        return MonthlyRate(own, tightened=tightened, tighten_at=tighten_at)

    in_force = (select(Seller.id).where(Seller.label_status.in_(IN_FORCE))
                .outerjoin(SellerStatistics, SellerStatistics.seller_id == Seller.id))
    sellers: list[tuple[float, float | MonthlyRate]] = []
    if rates_by_seller is None:  # one row per (status, state, S), not per seller
        for status, state, s, n in db.session.execute(
                in_force.with_only_columns(Seller.label_status, Seller.sampling_state,
                                           SellerStatistics.s, func.count())
                .group_by(Seller.label_status, Seller.sampling_state, SellerStatistics.s)):
            sellers.extend(repeat((s or 0.0, by_state(status, state)), n))
    else:
        for seller_id, status, state, s in db.session.execute(in_force.with_only_columns(
                Seller.id, Seller.label_status, Seller.sampling_state, SellerStatistics.s)):
            rate = rates_by_seller.get(seller_id)
            sellers.append((s or 0.0, by_state(status, state) if rate is None else rate))
    return {"increments": inc, "ps": OC_PS, "ns": OC_NS,
            "table": oc_table(OC_PS, OC_NS, inc),
            "expected_wrongful": expected_suspensions(sellers, params.p0, inc,
                                                      FORECAST_MONTHS),
            "months": FORECAST_MONTHS, "sellers": len(sellers), "p0": params.p0,
            "tighten_at": tighten_at, "by_allocation": rates_by_seller is not None,
            "description": describe_plan(params, h=inc.h)}


def update_settings(rates: Mapping[SamplingState, float], budget_cents: int, actor: User,
                    params: PlanParams | None = None,
                    allocation: Allocation | None = None) -> SamplingSettings:
    """Save a new version of the sampling plan settings (past decisions stay as they were)."""
    if any(not 0 <= r <= 31 for r in rates.values()):
        raise ServiceError("Rates must be between 0 and 31 orders a month.")
    if not 0 <= budget_cents <= 100_000_000_00:
        raise ServiceError("The budget must be between 0 and 100,000,000 euros.", "budget")
    previous = current_settings()
    params = params or PlanParams(previous.p0, previous.p1, previous.alpha, previous.beta)
    allocation = allocation or Allocation(
        previous.budget_orders, previous.floor_rate, previous.block_max, previous.min_auc,
        previous.h if previous.h_override_reason else None, previous.h_override_reason)
    sellers = sellers_in_force()
    inc = compute_increments(params)
    check_allocation(allocation, sellers, inc.w_defect)
    before = _settings_payload(previous)
    settings = SamplingSettings(p0=params.p0, p1=params.p1, alpha=params.alpha, beta=params.beta,
        rate_onboarding=rates[SamplingState.ONBOARDING], rate_normal=rates[SamplingState.NORMAL],
        rate_reduced=rates[SamplingState.REDUCED], rate_tightened=rates[SamplingState.TIGHTENED],
        budget_cents=budget_cents, buyer_accounts=previous.buyer_accounts, created_by_id=actor.id,
        budget_orders=allocation.budget_orders, floor_rate=allocation.floor_rate,
        block_max=allocation.block_max, min_auc=allocation.min_auc, drift=previous.drift,
        target_years=previous.target_years,
        h_override_reason=allocation.h_reason.strip() if allocation.h_override is not None
        else "")
    settings.h = (allocation.h_override if allocation.h_override is not None
                  else threshold(settings, sellers).budget_h)
    db.session.add(settings)
    db.session.flush()
    audit.record("sampling.settings_changed", "sampling_settings", settings.id,
                 {"before": before, "after": _settings_payload(settings)}, actor)
    if before["plan"] != _settings_payload(settings)["plan"]:
        events.emit_plan_changed(events.PlanChanged(settings.id))
    return settings
