"""The first planner (pure): fixed test-order rates per sampling state, cut to a money budget.

Plans stored in inputs format 1 were derived by this planner, and ``verify-plan`` re-derives
them with it; ``qc simulate --compare`` runs it as "the old rules". New plans come from
``qc.sampling`` (risk-based allocation). ``compute_plan`` turns one period's
inputs (the labelled sellers with their state, risk and listings, the rates, the budget and
the buyer accounts) and a secret seed into a plan of test orders. The caller passes only
sellers whose label is in force: suspended, revoked and expired sellers have no sampling
state and are simply not given as input.

The seed, its commitment and the draws (``draw``, ``uniform``, ``below`` and their labels
"P|S|...") are those of ``qc.sampling``, whose docstring defines them.

Per seller (sellers with no listings get no orders and are reported in ``skipped``):

1. State: ``tightened`` if the seller is on probation, whatever its state says; otherwise its
   state. Rate ``r = rates[state]``.
2. Count: ``floor(r) + (1 if u < r - floor(r) else 0)`` with ``u`` from label ``"P|S|count"``.
3. For each order ``i = 0 .. count - 1``: its time and listing by ``qc.sampling.draw_slot``
   (step 4 of ``qc.sampling``'s docstring); cost: the listing's ``price_cents``; protected if
   the state is onboarding or tightened (probation sellers are therefore always protected).

Budget. If the total cost exceeds ``budget_cents``, unprotected orders are dropped one at a
time in the order (reduced before normal, risk x exposure ascending, seller_id, planned_at,
listing_id) until the total fits or none is left, where exposure is the sum over the seller's
listings of ``monthly_units * price_cents``. Protected orders are never dropped;
``over_budget`` is set when they alone exceed the budget.

Buyer accounts. The kept orders, sorted by (planned_at, seller_id, listing_id), receive
``buyer_accounts[k % len(buyer_accounts)]`` for k = 0, 1, 2, ... That is also the order of
``Plan.orders``.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out, inputs never
mutated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType

from qc.sampling import (
    MIN_SEED_BYTES,
    DroppedOrder,
    ListingInput,
    Period,
    draw_slot,
    uniform,
)
from vetting.labels import SamplingState

__all__ = [
    "DEFAULT_RATES",
    "INPUTS_FORMAT_VERSION",
    "DroppedOrder",
    "Plan",
    "PlanInputs",
    "PlannedOrder",
    "SellerInput",
    "compute_plan",
]


# Test orders per month (DESIGN.md section 4); read-only so nobody tunes the defaults in place.
DEFAULT_RATES: Mapping[SamplingState, float] = MappingProxyType({
    SamplingState.ONBOARDING: 2.0,
    SamplingState.NORMAL: 1.0,
    SamplingState.REDUCED: 0.5,
    SamplingState.TIGHTENED: 4.0,
})

# Bumped whenever the stored inputs or the derivation above change, so an old plan is never
# "verified" with a different algorithm.
INPUTS_FORMAT_VERSION = 1

PROTECTED_STATES = frozenset({SamplingState.ONBOARDING, SamplingState.TIGHTENED})
# Cut first: reduced orders, then normal ones (DESIGN.md section 4).
DROP_RANK: Mapping[SamplingState, int] = MappingProxyType({
    SamplingState.REDUCED: 0,
    SamplingState.NORMAL: 1,
})



# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SellerInput:
    """One labelled seller as the planner sees it."""

    seller_id: int
    state: SamplingState
    on_probation: bool
    risk: float  # S/h of the defect CUSUM, >= 0
    listings: tuple[ListingInput, ...]

    def __post_init__(self) -> None:
        if self.state not in set(SamplingState):
            # Suspended, revoked and expired sellers have no state; the caller leaves them out.
            raise ValueError(f"Seller {self.seller_id}: unknown sampling state {self.state!r}; "
                             "leave out sellers whose label is not in force")
        if not (math.isfinite(self.risk) and self.risk >= 0):
            raise ValueError(f"Seller {self.seller_id}: risk must be a finite number >= 0")
        ids = [listing.listing_id for listing in self.listings]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Seller {self.seller_id}: listing ids must be distinct")

    @property
    def exposure(self) -> int:
        """Sales exposure: sum of monthly units times price over the seller's listings."""
        return sum(item.monthly_units * item.price_cents for item in self.listings)


@dataclass(frozen=True)
class PlanInputs:
    """Everything a plan is derived from, besides the seed."""

    period: Period
    sellers: tuple[SellerInput, ...]
    rates: Mapping[SamplingState, float]
    budget_cents: int
    buyer_accounts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.buyer_accounts:
            raise ValueError("At least one buyer account is needed to place test orders")
        if any(not account.strip() for account in self.buyer_accounts):
            raise ValueError("Buyer account names must not be blank")
        if len(set(self.buyer_accounts)) != len(self.buyer_accounts):
            raise ValueError("Buyer accounts must be distinct")
        for state in SamplingState:
            if state not in self.rates:
                raise ValueError(f"No rate given for the {state} state")
            rate = self.rates[state]
            if not (math.isfinite(rate) and rate >= 0):
                raise ValueError(f"The {state} rate must be a finite number >= 0")
        if self.budget_cents < 0:
            raise ValueError("The budget must be >= 0")
        ids = [seller.seller_id for seller in self.sellers]
        # The draws are labelled by seller id, so two sellers sharing one would be planned alike.
        if len(set(ids)) != len(ids):
            raise ValueError("Seller ids must be distinct")


# --- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedOrder:
    """A test order the plan keeps."""

    seller_id: int
    listing_id: int
    planned_at: datetime  # naive UTC
    buyer_account: str
    sampling_state: SamplingState  # the state it was planned under (tightened on probation)
    protected: bool
    cost_cents: int


@dataclass(frozen=True)
class Plan:
    """The test orders of one period."""

    period: Period
    orders: tuple[PlannedOrder, ...]  # sorted by planned_at, seller_id (then listing_id)
    dropped: tuple[DroppedOrder, ...]  # in the order they were cut
    total_cost_cents: int
    over_budget: bool  # protected orders alone exceed the budget
    skipped: tuple[tuple[int, str], ...]  # (seller_id, reason), e.g. no listings


@dataclass(frozen=True)
class _Draft:
    """An order before the budget cut and the buyer rotation."""

    seller_id: int
    listing_id: int
    planned_at: datetime
    state: SamplingState
    protected: bool
    cost_cents: int
    score: float  # risk x exposure, the budget cut's ranking


# --- planning --------------------------------------------------------------------------------


def _plan_seller(period: Period, business_days: tuple[date, ...],
                 rates: Mapping[SamplingState, float], seller: SellerInput,
                 seed: bytes) -> list[_Draft]:
    """The draft orders of one seller, from draws labelled by period and seller only."""
    state = SamplingState.TIGHTENED if seller.on_probation else SamplingState(seller.state)
    rate = rates[state]
    whole = math.floor(rate)
    prefix = f"{period.key}|{seller.seller_id}"
    count = whole + (1 if uniform(seed, f"{prefix}|count") < rate - whole else 0)
    listings = sorted(seller.listings, key=lambda item: item.listing_id)
    total_units = sum(item.monthly_units for item in listings)
    protected = state in PROTECTED_STATES
    score = seller.risk * seller.exposure
    drafts = []
    for i in range(count):
        planned_at, listing = draw_slot(seed, prefix, i, business_days, listings, total_units)
        drafts.append(_Draft(
            seller_id=seller.seller_id, listing_id=listing.listing_id, planned_at=planned_at,
            state=state, protected=protected, cost_cents=listing.price_cents, score=score))
    return drafts


def _drop_key(draft: _Draft) -> tuple[int, float, int, datetime, int]:
    """Budget-cut order: reduced before normal, lowest risk x exposure first, then stable ties."""
    return (DROP_RANK[draft.state], draft.score, draft.seller_id, draft.planned_at,
            draft.listing_id)


def _order_key(draft: _Draft) -> tuple[datetime, int, int]:
    return (draft.planned_at, draft.seller_id, draft.listing_id)


def compute_plan(inputs: PlanInputs, seed: bytes) -> Plan:
    """Derive the period's test orders from the inputs and the seed (deterministic)."""
    if len(seed) < MIN_SEED_BYTES:
        raise ValueError(f"The seed must be at least {MIN_SEED_BYTES} bytes")
    business_days = inputs.period.business_days()
    drafts: list[_Draft] = []
    skipped: list[tuple[int, str]] = []
    for seller in sorted(inputs.sellers, key=lambda s: s.seller_id):
        if not seller.listings:
            skipped.append((seller.seller_id, "no listings"))
            continue
        drafts.extend(_plan_seller(inputs.period, business_days, inputs.rates, seller, seed))

    total = sum(d.cost_cents for d in drafts)
    protected_total = sum(d.cost_cents for d in drafts if d.protected)
    cut: set[int] = set()
    dropped: list[DroppedOrder] = []
    if total > inputs.budget_cents:
        # Indices, not values: two drafts may be equal (same seller, listing and minute).
        candidates = sorted((i for i, d in enumerate(drafts) if not d.protected),
                            key=lambda i: _drop_key(drafts[i]))
        for i in candidates:
            if total <= inputs.budget_cents:
                break
            draft = drafts[i]
            cut.add(i)
            total -= draft.cost_cents
            dropped.append(DroppedOrder(
                seller_id=draft.seller_id, listing_id=draft.listing_id,
                sampling_state=draft.state, cost_cents=draft.cost_cents,
                reason=(f"over budget: {draft.state} order cut "
                        f"(risk x exposure {draft.score:.6g})")))

    kept = sorted((d for i, d in enumerate(drafts) if i not in cut), key=_order_key)
    accounts = inputs.buyer_accounts
    orders = tuple(
        PlannedOrder(seller_id=d.seller_id, listing_id=d.listing_id, planned_at=d.planned_at,
                     buyer_account=accounts[k % len(accounts)], sampling_state=d.state,
                     protected=d.protected, cost_cents=d.cost_cents)
        for k, d in enumerate(kept))
    return Plan(period=inputs.period, orders=orders, dropped=tuple(dropped),
                total_cost_cents=sum(o.cost_cents for o in orders),
                over_budget=protected_total > inputs.budget_cents, skipped=tuple(skipped))
