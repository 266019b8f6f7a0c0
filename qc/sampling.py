"""Sampling of mystery test orders (pure): the monthly, auditable, budget-true planner.

``compute_plan`` turns one period's inputs (the sellers whose label is in force, with their
posterior P(bad), claim percentile and listings; the budget; the buyer identities) and a
secret seed into a plan of test orders. Suspended, revoked and expired sellers are not given
as input. Plans stored in inputs format 1 come from the earlier fixed-rate planner,
``qc.sampling_v1``.

Auditable randomness (DESIGN.md section 3)
------------------------------------------
A planning run draws ``seed = new_seed()`` (32 bytes from ``secrets``) and stores only
``compute_commitment(seed)`` (lower-case hex SHA-256 of the seed bytes) and its inputs
(``qc.plan_records.inputs_to_json``). When the period closes the seed is revealed; anyone can
check the commitment and re-derive the plan, in any language, as follows. ``random.Random`` is
never used.

Draws. ``draw(label)`` is the first 8 bytes, read as a big-endian unsigned integer ``x``
(0 <= x < 2**64), of ``HMAC-SHA256(key=seed, message=UTF-8(label))``.
A uniform real is ``u = x / 2**64`` (an IEEE double, correctly rounded). A uniform integer
below ``n`` is ``(x * n) >> 64`` (exact integer arithmetic, i.e. ``floor(x * n / 2**64)``).
Labels name the period key ``P`` ("2026-07"), the seller id ``S`` in decimal and the purpose.

The plan
--------
1. Sellers with no listings get no orders and are reported in ``skipped``.
2. Each seller's allocation weight is ``qc.allocation.signal_weight(p_bad, claim_percentile,
   signal_auc)`` (the claim percentile counts only when ``signal_auc`` is given), rounded to
   12 decimal places; units are the sum of its listings' monthly units.
3. ``qc.allocation.allocate`` shares out ``budget_orders`` (floor, confirmation tier, value,
   blocks, systematic sampling; see that module), giving each seller a whole number of orders.
4. For each order ``i = 0 .. count - 1`` of a seller (decimal ``i`` in the labels):

   - day: the business days (Monday to Friday; holidays are not excluded) of the period in
     ascending order; index = uniform integer below their number from ``"P|S|i|day"``;
   - hour: ``9 +`` uniform integer below 9 from ``"P|S|i|hour"`` (so 9..17 inclusive);
   - minute: uniform integer below 60 from ``"P|S|i|minute"``; seconds are 0; naive UTC;
   - listing: the seller's listings sorted by ``listing_id``; ``t`` = uniform integer below
     the sum of ``monthly_units`` from ``"P|S|i|listing"``; the first listing whose running
     sum of units exceeds ``t``. If every listing has 0 units, ``t`` is a uniform integer
     below the number of listings (same label) and indexes the sorted listings directly.
   - cost: the listing's ``price_cents``.
5. Money. If the total cost exceeds ``budget_cents``, orders are dropped one at a time, the
   least valuable first (not in the confirmation tier before in it, then value ascending,
   then seller id, then the highest order index), until the total fits: whichever budget
   binds first decides.
6. Buyers. The kept orders, sorted by (planned_at, seller_id, listing_id), get a buyer
   identity from ``qc.buyers.assign_buyers`` (seeded draws, no identity reused for the same
   seller within 12 months while the pool allows). That is also the order of
   ``Plan.orders``.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out, inputs never
mutated.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from qc.allocation import (
    DEFAULT_BLOCK_MAX,
    DEFAULT_FLOOR,
    Allocation,
    AllocationInput,
    SellerAllocation,
    allocate,
    signal_weight,
)
from qc.buyers import BuyerInput, BuyerNeed, assign_buyers
from vetting.labels import SamplingState

__all__ = [
    "INPUTS_FORMAT_VERSION",
    "DroppedOrder",
    "ListingInput",
    "Period",
    "Plan",
    "PlanInputs",
    "PlannedOrder",
    "SellerInput",
    "below",
    "compute_allocation",
    "compute_commitment",
    "compute_plan",
    "draw",
    "draw_slot",
    "new_seed",
    "parse_period",
    "pick_listing",
    "uniform",
]

# Bumped whenever the stored inputs or the derivation above change, so an old plan is never
# "verified" with a different algorithm (format 1: qc.sampling_v1).
INPUTS_FORMAT_VERSION = 2

SEED_BYTES = 32
# A shorter seed could be guessed by a seller, which is what the commitment is meant to stop.
MIN_SEED_BYTES = 16
FIRST_HOUR = 9
HOURS = 9  # 9..17 inclusive
MINUTES = 60
WEIGHT_DIGITS = 12

_PERIOD_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
_PERIOD_ERROR = "Period must look like 2026-07"


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, the unit of planning."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.year <= 9999 and 1 <= self.month <= 12):
            raise ValueError(_PERIOD_ERROR)

    @property
    def key(self) -> str:
        """The period as "YYYY-MM"."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The last day of the month."""
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def next(self) -> Period:
        """The following month."""
        if self.month == 12:
            return Period(self.year + 1, 1)
        return Period(self.year, self.month + 1)

    def business_days(self) -> tuple[date, ...]:
        """Monday-to-Friday days of the month in ascending order (holidays not excluded)."""
        days = (self.start + timedelta(days=k) for k in range(self.end.day))
        return tuple(d for d in days if d.weekday() < 5)

    def __str__(self) -> str:
        return self.key


def parse_period(text: str) -> Period:
    """Parse "YYYY-MM" into a Period; anything else raises ValueError."""
    match = _PERIOD_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(_PERIOD_ERROR)
    return Period(int(match.group(1)), int(match.group(2)))


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingInput:
    """One listing of a seller: its id, units sold per month and price."""

    listing_id: int
    monthly_units: int
    price_cents: int

    def __post_init__(self) -> None:
        if self.monthly_units < 0:
            raise ValueError(f"Listing {self.listing_id}: monthly units must be >= 0")
        if self.price_cents < 0:
            raise ValueError(f"Listing {self.listing_id}: price must be >= 0")


@dataclass(frozen=True)
class SellerInput:
    """One seller whose label is in force, as the planner sees it."""

    seller_id: int
    state: SamplingState  # the sampling state people read; the allocation decides the orders
    on_probation: bool
    p_bad: float  # posterior P(p >= 15%) from the seller's test-order verdicts
    claim_percentile: float | None  # returns/claims rank over the last 6 months (None: none)
    awaiting_confirmation: bool  # a critical finding waits for a second inspector
    listings: tuple[ListingInput, ...]
    recent_buyers: tuple[int, ...] = ()  # buyer identities used for it in the last 12 months

    def __post_init__(self) -> None:
        if self.state not in set(SamplingState):
            raise ValueError(f"Seller {self.seller_id}: unknown sampling state {self.state!r}; "
                             "leave out sellers whose label is not in force")
        if not (math.isfinite(self.p_bad) and 0.0 <= self.p_bad <= 1.0):
            raise ValueError(f"Seller {self.seller_id}: P(bad) must be between 0 and 1")
        if self.claim_percentile is not None and not (
                math.isfinite(self.claim_percentile) and 0.0 < self.claim_percentile < 1.0):
            raise ValueError(f"Seller {self.seller_id}: the claim percentile must be between "
                             "0 and 1 (exclusive)")
        ids = [listing.listing_id for listing in self.listings]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Seller {self.seller_id}: listing ids must be distinct")

    @property
    def units(self) -> int:
        """Units sold a month over the seller's listings."""
        return sum(item.monthly_units for item in self.listings)


@dataclass(frozen=True)
class PlanInputs:
    """Everything a plan is derived from, besides the seed."""

    period: Period
    sellers: tuple[SellerInput, ...]
    budget_orders: int
    budget_cents: int
    buyers: tuple[BuyerInput, ...]
    signal_auc: float | None = None  # the measured AUC in use; None: the signal is ignored
    floor: float = DEFAULT_FLOOR
    block_max: int = DEFAULT_BLOCK_MAX

    def __post_init__(self) -> None:
        if self.budget_orders < 0:
            raise ValueError("The budget must be at least 0 orders a month")
        if self.budget_cents < 0:
            raise ValueError("The money budget must be >= 0")
        if not (math.isfinite(self.floor) and 0.0 <= self.floor <= 1.0):
            raise ValueError("The floor must be between 0 and 1 order a month")
        if self.block_max < 1:
            raise ValueError("A block must be at least one order")
        if self.signal_auc is not None and not (
                math.isfinite(self.signal_auc) and 0.5 < self.signal_auc < 1.0):
            raise ValueError("The signal AUC in use must be between 0.5 and 1 (exclusive)")
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
    buyer_id: int
    buyer_account: str  # the buyer identity's name
    sampling_state: SamplingState  # the seller's state when planned (tightened on probation)
    confirmation: bool  # the seller was in the confirmation tier
    cost_cents: int


@dataclass(frozen=True)
class DroppedOrder:
    """A test order cut to fit the money budget."""

    seller_id: int
    listing_id: int
    sampling_state: SamplingState
    cost_cents: int
    reason: str


@dataclass(frozen=True)
class Plan:
    """The test orders of one period, with how the budget was shared out."""

    period: Period
    orders: tuple[PlannedOrder, ...]  # sorted by planned_at, seller_id (then listing_id)
    dropped: tuple[DroppedOrder, ...]  # in the order they were cut
    total_cost_cents: int
    over_budget: bool  # the budget could not cover every seller's floor
    skipped: tuple[tuple[int, str], ...]  # (seller_id, reason), e.g. no listings
    allocation: tuple[SellerAllocation, ...]  # in the order the budget was given out
    warnings: tuple[str, ...]  # e.g. a buyer pool too small for the month


@dataclass(frozen=True)
class _Draft:
    seller_id: int
    index: int
    listing_id: int
    planned_at: datetime
    state: SamplingState
    confirmation: bool
    value: float
    cost_cents: int


# --- seed and draws --------------------------------------------------------------------------


def new_seed() -> bytes:
    """A fresh secret seed for one planning run (32 bytes from ``secrets``)."""
    return secrets.token_bytes(SEED_BYTES)


def compute_commitment(seed: bytes) -> str:
    """The SHA-256 hex digest of the seed, stored until the period closes."""
    return hashlib.sha256(seed).hexdigest()


def draw(seed: bytes, label: str) -> int:
    """The first 8 bytes of HMAC-SHA256(seed, label) as a big-endian integer."""
    digest = hmac.new(seed, label.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


def uniform(seed: bytes, label: str) -> float:
    """A uniform real in [0, 1) for ``label``."""
    return draw(seed, label) / 2**64


def below(seed: bytes, label: str, n: int) -> int:
    """A uniform integer in [0, n) for ``label``; integer arithmetic so any language agrees."""
    return (draw(seed, label) * n) >> 64


# --- planning --------------------------------------------------------------------------------


def pick_listing(listings: Sequence[ListingInput], total_units: int, seed: bytes,
                  label: str) -> ListingInput:
    """A listing drawn with probability proportional to its units (uniform when all are 0)."""
    if total_units == 0:
        return listings[below(seed, label, len(listings))]
    target = below(seed, label, total_units)
    running = 0
    for listing in listings:
        running += listing.monthly_units
        if running > target:
            return listing
    raise AssertionError("unreachable: target is below the total units")  # pragma: no cover


def draw_slot(seed: bytes, prefix: str, i: int, business_days: Sequence[date],
              listings: Sequence[ListingInput], total_units: int
              ) -> tuple[datetime, ListingInput]:
    """The time and listing of a seller's order ``i`` (step 4 of the module docstring);
    ``prefix`` is "P|S", ``listings`` sorted by id, ``total_units`` their monthly units."""
    day = business_days[below(seed, f"{prefix}|{i}|day", len(business_days))]
    hour = FIRST_HOUR + below(seed, f"{prefix}|{i}|hour", HOURS)
    minute = below(seed, f"{prefix}|{i}|minute", MINUTES)
    listing = pick_listing(listings, total_units, seed, f"{prefix}|{i}|listing")
    return datetime(day.year, day.month, day.day, hour, minute), listing


def _planned_state(seller: SellerInput) -> SamplingState:
    return SamplingState.TIGHTENED if seller.on_probation else SamplingState(seller.state)


def _weight(seller: SellerInput, auc: float | None) -> float:
    return round(signal_weight(seller.p_bad, seller.claim_percentile, auc), WEIGHT_DIGITS)


def compute_allocation(inputs: PlanInputs, draw_below: Callable[[str, int], int]
                       ) -> Allocation:
    """Steps 2 and 3 of the plan: the month's allocation among the sellers with listings."""
    return allocate(
        inputs.period.key,
        [AllocationInput(s.seller_id, _weight(s, inputs.signal_auc), s.units,
                         s.awaiting_confirmation)
         for s in sorted(inputs.sellers, key=lambda s: s.seller_id) if s.listings],
        inputs.budget_orders, draw_below, inputs.floor, inputs.block_max)


def compute_plan(inputs: PlanInputs, seed: bytes) -> Plan:
    """Derive the period's test orders from the inputs and the seed (deterministic)."""
    if len(seed) < MIN_SEED_BYTES:
        raise ValueError(f"The seed must be at least {MIN_SEED_BYTES} bytes")
    period = inputs.period
    draw_below = partial(below, seed)
    business_days = period.business_days()
    planned: list[SellerInput] = []
    skipped: list[tuple[int, str]] = []
    for seller in sorted(inputs.sellers, key=lambda s: s.seller_id):
        if seller.listings:
            planned.append(seller)
        else:
            skipped.append((seller.seller_id, "no listings"))
    allocation = compute_allocation(inputs, draw_below)
    shares = {row.seller_id: row for row in allocation.sellers}
    drafts: list[_Draft] = []
    for seller in planned:
        share = shares[seller.seller_id]
        prefix = f"{period.key}|{seller.seller_id}"
        listings = sorted(seller.listings, key=lambda item: item.listing_id)
        total_units = sum(item.monthly_units for item in listings)
        for i in range(share.count):
            planned_at, listing = draw_slot(seed, prefix, i, business_days, listings,
                                            total_units)
            drafts.append(_Draft(seller.seller_id, i, listing.listing_id, planned_at,
                                 _planned_state(seller), share.confirmation, share.value,
                                 listing.price_cents))

    total = sum(d.cost_cents for d in drafts)
    dropped: list[DroppedOrder] = []
    cut: set[int] = set()
    if total > inputs.budget_cents:
        candidates = sorted(range(len(drafts)), key=lambda k: (
            drafts[k].confirmation, drafts[k].value, drafts[k].seller_id, -drafts[k].index))
        for k in candidates:
            if total <= inputs.budget_cents:
                break
            draft = drafts[k]
            cut.add(k)
            total -= draft.cost_cents
            dropped.append(DroppedOrder(
                seller_id=draft.seller_id, listing_id=draft.listing_id,
                sampling_state=draft.state, cost_cents=draft.cost_cents,
                reason=f"over the money budget: order cut (value {draft.value:.6g})"))

    kept = sorted((d for k, d in enumerate(drafts) if k not in cut),
                  key=lambda d: (d.planned_at, d.seller_id, d.listing_id))
    recent = {s.seller_id: frozenset(s.recent_buyers) for s in planned}
    buyers, buyer_warnings = (assign_buyers(
        period.key, [BuyerNeed(d.seller_id, d.index) for d in kept], inputs.buyers, recent,
        draw_below) if kept else ((), ()))
    orders = tuple(
        PlannedOrder(seller_id=d.seller_id, listing_id=d.listing_id, planned_at=d.planned_at,
                     buyer_id=b.buyer_id, buyer_account=b.name, sampling_state=d.state,
                     confirmation=d.confirmation, cost_cents=d.cost_cents)
        for d, b in zip(kept, buyers, strict=True))
    warnings = list(buyer_warnings)
    if allocation.floor_short:
        unit = "order" if inputs.budget_orders == 1 else "orders"
        warnings.insert(0, f"The budget of {inputs.budget_orders} {unit} does not cover the "
                           f"floor of {inputs.floor:g} orders a month for each of "
                           f"{len(planned)} sellers; every seller got an equal share instead.")
    return Plan(period=period, orders=orders, dropped=tuple(dropped),
                total_cost_cents=sum(o.cost_cents for o in orders),
                over_budget=allocation.floor_short, skipped=tuple(skipped),
                allocation=allocation.sellers, warnings=tuple(warnings))
