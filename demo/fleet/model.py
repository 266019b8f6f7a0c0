"""The fleet's configuration, its simulated rows in memory, and its clock and random streams.

Every random draw comes from a stream named by the fleet seed and a label (``stream``), so a
seller's life and its units do not depend on the other sellers; every time is naive UTC.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from core.errors import ServiceError
from qc.decisions import SellerStats
from qc.orders import OrderStatus
from qc.sampling import Period, PlannedOrder
from qc.snapshots import SNAPSHOT_PATH_TAIL
from vetting.labels import LabelStatus


@dataclass(frozen=True)
class FleetConfig:
    """What to build: fleet size, years of history, seed and the day the history ends."""

    sellers: int
    years: int
    seed: int
    until: date

    def __post_init__(self) -> None:
        if not 1 <= self.sellers <= 100_000:
            raise ServiceError("The fleet needs between 1 and 100,000 sellers.")
        if not 1 <= self.years <= 10:
            raise ServiceError("The history covers between 1 and 10 years.")

    @property
    def as_of(self) -> datetime:
        """The end of the history: 00:00 UTC on `until` (exclusive)."""
        return datetime(self.until.year, self.until.month, self.until.day)

    @property
    def periods(self) -> tuple[Period, ...]:
        """The planned months, oldest first; the last holds the day before `until`."""
        last = self.until - timedelta(days=1)
        index = last.year * 12 + last.month - 1 - (12 * self.years - 1)
        out = [Period(index // 12, index % 12 + 1)]
        while len(out) < 12 * self.years:
            out.append(out[-1].next())
        return tuple(out)

    @property
    def setup_at(self) -> datetime:
        """When the staff accounts and plan settings appear: 09:00, 200 days before month one."""
        start = self.periods[0].start
        return datetime(start.year, start.month, start.day, 9) - timedelta(days=200)


# --------------------------------------------------------------------------- rows in memory


@dataclass(slots=True)
class FleetListing:
    """A listing of a simulated seller."""

    id: int
    seller_id: int
    sku: str
    device_model: str
    category: str
    grade: str
    price_cents: int
    units: int
    created_at: datetime


@dataclass(slots=True, eq=False)
class FleetSeller:
    """A simulated seller: its true defect rate, label, sampling state, statistics since the
    last restart and its two random streams (unit outcomes, and everything else)."""

    id: int
    p: float
    row: dict[str, Any]
    registered_at: datetime
    listings: list[FleetListing]
    outcomes: random.Random
    life: random.Random
    label: LabelStatus | None = None
    state: str | None = None
    stats: SellerStats = field(default_factory=SellerStats)
    epoch_at: datetime | None = None
    epoch_stats: SellerStats = field(default_factory=SellerStats)
    path: deque[float] = field(default_factory=lambda: deque(maxlen=SNAPSHOT_PATH_TAIL))
    valid_from: date | None = None
    valid_until: date | None = None
    suspended_on: list[date] = field(default_factory=list)
    inspected_on: list[date] = field(default_factory=list)
    planned_on: list[date] = field(default_factory=list)
    seller_side_on: list[date] = field(default_factory=list)  # planned, failed on its side
    renewal_due: bool = False
    reinstated: int = 0
    stats_updated: datetime | None = None
    granted_on: date | None = None  # the first grant of its label (where its posterior starts)
    verdict_months: dict[int, list[int]] = field(default_factory=dict)  # month: [defects, clean]


@dataclass(slots=True, eq=False)
class FleetOrder:
    """A planned test order and how far it got before the end of the history."""

    id: int
    run_id: int
    seller: FleetSeller
    listing: FleetListing
    planned: PlannedOrder
    claim_percentile: float | None = None  # the seller's claim rank when planned
    status: str = OrderStatus.PLANNED.value
    marketplace_ref: str | None = None
    price_paid_cents: int | None = None
    placed_at: datetime | None = None
    placed_by_id: int | None = None
    received_on: date | None = None
    package_condition: str | None = None
    received_by_id: int | None = None
    inspected_at: datetime | None = None
    closed_at: datetime | None = None
    disposition: str | None = None
    cancel_reason: str = ""
    failure_side: str | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class FleetInspection:
    """An inspection: the unit's findings, verdict and score, and the failed checkpoints."""

    id: int
    order_id: int
    inspector_id: int
    at: datetime
    category: str
    observed_grade: str
    battery_percent: int | None
    battery_cycles: int | None
    battery_swollen: bool
    cable_missing: bool
    verdict: str
    score: int
    reasons: str
    failed: dict[str, str]  # code -> note


@dataclass(frozen=True)
class Staff:
    """The staff accounts: user ids by email, and who registers, approves, reviews, inspects."""

    ids: dict[str, int]  # email -> user id
    clerk: str
    approver: str
    compliance: str
    inspectors: tuple[str, ...]


# --------------------------------------------------------------------------- clock and randomness


def stream(seed: int, *labels: object) -> random.Random:
    """An independent, reproducible random stream named by the fleet seed and `labels`."""
    name = ":".join(str(x) for x in (seed, *labels))
    return random.Random(hashlib.sha256(name.encode()).digest())  # noqa: S311 - demo data


def plan_seed(seed: int, period: Period) -> bytes:
    """The planning seed of a month: SHA-256 of "seed:YYYY-MM" (32 bytes)."""
    return hashlib.sha256(f"{seed}:{period.key}".encode()).digest()


def at_business_hours(day: date, rng: random.Random) -> datetime:
    """A time between 09:00 and 17:59 on `day`, moved to Monday when it falls on a weekend."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9) + timedelta(
        minutes=rng.randrange(9 * 60), seconds=rng.randrange(60))


def next_night(at: datetime, minute: int) -> datetime:
    """00:`minute` on the day after `at` (when the daily jobs run)."""
    day = at.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 0, minute)


def midnight(day: date, minute: int = 0) -> datetime:
    """00:`minute` on `day`."""
    return datetime(day.year, day.month, day.day, 0, minute)
