"""A realistic benchmark fleet, built in bulk: `flask --app app demo fleet`.

``build_fleet`` fills an empty database with N sellers in 13 EU countries, their listings and
``years`` years of history that the production rules would have produced, then writes it with
bulk ``INSERT`` statements (a few thousand rows per statement), not one ORM object at a time.
Nothing is copied from the rules: plans come from ``qc.sampling.compute_plan``, verdicts from
``qc.scoring.compute_score`` over drawn checkpoint outcomes, statistics, sampling states,
suspensions and the end of probation from ``qc.decisions.compute_decision``, reinstatements from
``compute_reinstated``, conditional renewals from ``compute_conditional_renewal``, label moves are
checked by ``vetting.labels.compute_label_change``, and the audit chain is hashed by
``core.chain.compute_entry_hash``.

Time. ``until`` (default: today by the app clock) ends the history at 00:00 UTC of that day.
The ``12 * years`` calendar months up to the one holding the day before ``until`` are planned;
earlier months are closed (seed revealed, re-derivation stored as "match"), the last one is in
progress (orders planned, placed, received or inspected as their times fall before ``until``).
No wall-clock time enters any row: a given seed and ``until`` give identical rows (staff
passwords and session tokens aside), so pass ``--until`` to reproduce a database later.

The model, one event queue in time order:

* staff (a vetting clerk and approver, a compliance officer, six inspectors) are created with
  ``core.services.create_user`` and the plan's budget is raised to 1,000 euros per seller and
  month with ``qc.services.update_settings`` (rates and CUSUM parameters stay as configured),
  both with the app clock set 200 days before the first month;
* 78% of the sellers get their label in the 60 days before the first month, 20% join later and
  2% have registered but hold no label yet. Each seller has a true defect rate p drawn from the
  issue's mixture (``qc.simulate.draw_defect_rate``) and 1-4 listings (smartphone, tablet,
  laptop) with skewed monthly units;
* at 00:05 on each month's first day the month is planned from the sellers in force, their
  sampling state and risk S/h, with seed ``sha256(f"{seed}:{period}")``; the commitment is
  ``sha256(seed)``; at 00:15 on the next month's first day the seed is revealed and the plan
  re-derived from the stored inputs;
* an order is placed within hours (a day or two at most), arrives 2-6 days later and is
  inspected within three days; about 1% are cancelled and 1% lost, and the orders of a seller
  whose label is not in force are cancelled. Every checkpoint of the category is recorded: a
  defect checkpoint fails with probability p x its weight (weights sum to 1 per category, 3%
  of it critical), minor ones with (5% + 0.6 p) x weight, delivery (LOG-1) 4%; battery health,
  a missing cable and the observed grade follow the failures, and ``compute_score`` gives the
  verdict and score;
* a suspension opens a review decided 1-8 days later: 8% overturned, otherwise confirmed; then
  55% of sellers send an appeal or corrective-action plan (accepted 80%, less for repeat
  offenders: reinstatement on probation with head start h/2), 20% are revoked after 45-90 days
  and the rest stay suspended. Rejected cases lead to revocation half the time;
* at the anniversary (00:20) a label in force renews, fully or conditionally by the rule of
  ``qc.decision_service.renew_labels``; a suspended label renews the night after it is back.

The audit trail gets every entry the services would have written for these changes (staff,
settings, sellers, listing imports, plans and seed reveals, every order move, inspection
submissions, label changes, sampling-state changes, reviews and cases), chained in Python from
the current head under the audit lock. Statistics rows equal what
``qc.decision_service.evaluate_fleet`` replays (epoch restarts at grant, reinstatement and
conditional renewal). The open months' seeds are sealed in ``PLAN_SEED_DIR`` like the scheduler
does; a different sealed seed already there (another database's month) is refused.

Services flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select, text

from compliance.models import SellerCase, SuspensionReview
from compliance.services import CASE_KINDS
from core import audit
from core.chain import GENESIS_HASH, canonical_json, compute_entry_hash
from core.clock import utcnow
from core.db import db, lock
from core.errors import ServiceError
from core.models import AuditEntry, User
from core.services import create_user, get_user_by_email
from qc import services
from qc.catalog import BATTERY_CODE, CABLE_CODE, Severity
from qc.decision_service import current_plan
from qc.decisions import (
    IN_FORCE,
    Action,
    DecisionPlan,
    SellerStats,
    compute_conditional_renewal,
    compute_decision,
    compute_reinstated,
    compute_renewal,
    compute_sampling_state,
)
from qc.models import (
    Inspection,
    InspectionResult,
    Listing,
    PlanningRun,
    SellerStatistics,
    TestOrder,
)
from qc.orders import Disposition, OrderStatus, PackageCondition
from qc.sampling import (
    ListingInput,
    Period,
    PlanInputs,
    PlannedOrder,
    SellerInput,
    compute_commitment,
    compute_plan,
    compute_plan_differences,
    inputs_from_json,
    inputs_to_json,
    plan_fingerprint,
)
from qc.scoring import (
    GRADE_ORDER,
    CheckpointOutcome,
    Grade,
    InspectionFacts,
    battery_floor,
    compute_score,
)
from qc.simulate import draw_defect_rate
from qc.stats import clopper_pearson
from vetting.labels import LabelStatus, SamplingState, compute_label_change, compute_label_end
from vetting.models import LabelEvent, Seller
from vetting.validation import normalise_registration

__all__ = ["FleetConfig", "FleetSummary", "build_fleet", "format_summary"]

BATCH = 5000  # rows per INSERT statement
BUDGET_PER_SELLER_CENTS = 1000_00  # monthly test-order budget per seller: nothing is cut
SOURCE = "fleet benchmark"

# Shares of the fleet and of orders (module docstring).
INITIAL_SHARE = 0.78
PENDING_SHARE = 0.02
CANCEL_SHARE = 0.01
LOST_SHARE = 0.01
OVERTURN_SHARE = 0.08
CASE_SHARE = 0.55
REVOKE_SHARE = 0.20
ACCEPT_SHARE = 0.80
MINOR_BASE, MINOR_SLOPE = 0.05, 0.6
LATE_DELIVERY = 0.04
BATTERY_UNMEASURED = 0.02

# (code, weight, legal form, cities); weights are shares of the fleet.
COUNTRIES: tuple[tuple[str, int, str, tuple[str, ...]], ...] = (
    ("DE", 22, "GmbH", ("Berlin", "Hamburg", "Köln", "Leipzig")),
    ("FR", 16, "SAS", ("Paris", "Lyon", "Lille", "Nantes")),
    ("IT", 11, "S.r.l.", ("Milano", "Torino", "Bologna", "Napoli")),
    ("ES", 11, "S.L.", ("Madrid", "Barcelona", "Valencia", "Sevilla")),
    ("NL", 8, "B.V.", ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven")),
    ("PL", 7, "sp. z o.o.", ("Warszawa", "Kraków", "Poznań", "Wrocław")),
    ("BE", 5, "SRL", ("Bruxelles", "Antwerpen", "Gent", "Liège")),
    ("AT", 5, "GmbH", ("Wien", "Graz", "Linz", "Salzburg")),
    ("SE", 4, "AB", ("Stockholm", "Göteborg", "Malmö", "Uppsala")),
    ("PT", 4, "Lda.", ("Lisboa", "Porto", "Braga", "Coimbra")),
    ("IE", 3, "Ltd", ("Dublin", "Cork", "Galway", "Limerick")),
    ("DK", 2, "ApS", ("København", "Aarhus", "Odense", "Aalborg")),
    ("CZ", 2, "s.r.o.", ("Praha", "Brno", "Ostrava", "Plzeň")),
)
NAME_HEADS = ("Re", "Neo", "Eco", "Second", "Green", "Smart", "Nova", "Prime", "Circular",
              "Revive", "Loop", "Bright", "Swift", "Urban", "Fresh", "Blue", "Phoenix", "Renew")
NAME_TAILS = ("Devices", "Mobile", "Tech", "Electronics", "Phones", "Trade", "Store", "Cycle",
              "Works", "Hub", "Market", "Labs", "Supply", "Gadgets", "Refurb")

# (device model, category, typical price in euros at grade excellent)
DEVICE_MODELS: tuple[tuple[str, str, int], ...] = (
    ("iPhone 11 64 GB", "smartphone", 239), ("iPhone 12 128 GB", "smartphone", 329),
    ("iPhone 13 128 GB", "smartphone", 419), ("iPhone 14 128 GB", "smartphone", 519),
    ("iPhone 15 128 GB", "smartphone", 639), ("Galaxy S21 128 GB", "smartphone", 289),
    ("Galaxy S22 256 GB", "smartphone", 379), ("Galaxy S23 256 GB", "smartphone", 499),
    ("Galaxy A54 128 GB", "smartphone", 219), ("Pixel 7 128 GB", "smartphone", 299),
    ("Pixel 8 128 GB", "smartphone", 429), ("Xiaomi 13 256 GB", "smartphone", 349),
    ("iPad (9th gen) 64 GB", "tablet", 229), ("iPad Air (5th gen) 64 GB", "tablet", 429),
    ("iPad Pro 11 (3rd gen) 128 GB", "tablet", 619), ("Galaxy Tab S8 128 GB", "tablet", 399),
    ("Galaxy Tab A8 32 GB", "tablet", 149),
    ("MacBook Air M1 256 GB", "laptop", 689), ("MacBook Air M2 256 GB", "laptop", 899),
    ("MacBook Pro 14 M1 Pro 512 GB", "laptop", 1349), ("ThinkPad T14 Gen 2", "laptop", 549),
    ("Dell Latitude 7420", "laptop", 499), ("HP EliteBook 840 G8", "laptop", 529),
    ("Surface Laptop 4", "laptop", 649),
)
CATEGORY_SHARE = {"smartphone": 0.8, "tablet": 0.35, "laptop": 0.35}
GRADE_WEIGHTS = {"premium": 10, "excellent": 40, "good": 35, "fair": 15}
GRADE_PRICE = {"premium": 1.12, "excellent": 1.0, "good": 0.9, "fair": 0.8}

# Share of a seller's defect rate per failure mode (normalised per category); a code of the
# catalog not named here gets the default of its severity, so new checkpoints also fail.
DEFECT_WEIGHTS = {"ID-1": 0.004, "ID-2": 0.002, "LOCK-1": 0.008, "LOCK-2": 0.003,
                  "LAP-FW-1": 0.004, "DATA-1": 0.006, "CONF-1": 0.002, "INTEG-1": 0.004,
                  "BAT-1": 0.22, "PWR-1": 0.04, "DISP-1": 0.08, "DISP-2": 0.04,
                  "LAP-KEY-1": 0.05, "LAP-TPAD-1": 0.03, "PART-1": 0.05, "CAM-1": 0.04,
                  "LAP-CAM-1": 0.02, "AUD-1": 0.05, "BTN-1": 0.04, "BIO-1": 0.04,
                  "SENS-1": 0.03, "CONN-1": 0.04, "CONN-2": 0.02, "LAP-PORT-1": 0.03,
                  "LAP-HINGE-1": 0.03, "LAP-THERM-1": 0.02, "LAP-SSD-1": 0.02, "SW-1": 0.03,
                  "LAP-OS-1": 0.02, "INTEG-2": 0.02, "COS-3": 0.03}
DEFAULT_DEFECT_WEIGHT = {Severity.CRITICAL: 0.004, Severity.MAJOR: 0.03}
SWOLLEN_WEIGHT, CABLE_MISSING_WEIGHT, TWO_GRADES_WEIGHT = 0.004, 0.05, 0.06
MINOR_WEIGHTS = {"COS-1": 0.30, "COS-2": 0.20, "PRES-1": 0.15, "PACK-1": 0.15,
                 "LAP-KB-1": 0.05, CABLE_CODE: 0.10}
DEFAULT_MINOR_WEIGHT = 0.05
DELIVERY_CODE = "LOG-1"

# Failure modes of a unit.
FAIL, BATTERY_LOW, SWOLLEN, CABLE_MISSING, TWO_GRADES, ONE_GRADE = range(6)

# Event kinds; at equal times an inspection comes first (the replay's epoch starts strictly after
# a restart, so an inspection at the very same instant belongs to the old epoch).
(INSPECT, GRANT, PLAN, CLOSE, RENEW, PLACE, REVIEW, CASE, DECIDE_CASE,
 REVOKE) = range(10)

STAFF: tuple[tuple[str, str, str], ...] = (
    ("clara.weiss", "Clara Weiss", "vetting"),
    ("tomas.ortega", "Tomás Ortega", "vetting"),
    ("ingrid.larsen", "Ingrid Larsen", "compliance"),
    ("anna.becker", "Anna Becker", "inspector"),
    ("luca.romano", "Luca Romano", "inspector"),
    ("sofia.almeida", "Sofia Almeida", "inspector"),
    ("jan.devries", "Jan de Vries", "inspector"),
    ("marta.kowalska", "Marta Kowalska", "inspector"),
    ("emile.dubois", "Émile Dubois", "inspector"),
)
STAFF_DOMAIN = "fleet.labelkeeper.example"
CONFIRM_REASONS = (
    "Findings confirmed from the inspection photos and checkpoint notes.",
    "Statistics and the inspected units agree; the suspension stands.",
    "Reviewed the orders behind the signal; the defects are the seller's.",
)
OVERTURN_REASONS = (
    "Transit damage documented by the carrier; the unit left the seller intact.",
    "The failed checkpoint was a mis-recorded result; the device works as listed.",
)
CASE_SUMMARIES = {
    "appeal": "The seller disputes the findings and sends its own test reports.",
    "corrective_action": "New final test station, battery supplier changed, staff retrained.",
}
ACCEPT_REASONS = ("Corrective actions verified on a sample of stock.",
                  "Appeal accepted after the seller's evidence was checked.")
REJECT_REASONS = ("The plan does not address the failed checkpoints.",
                  "The evidence does not explain the defects found.")


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


# --------------------------------------------------------------------------- in-memory rows


@dataclass(slots=True)
class _Listing:
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
class _Seller:
    id: int
    p: float
    row: dict[str, Any]
    registered_at: datetime
    listings: list[_Listing]
    outcomes: random.Random
    life: random.Random
    label: LabelStatus | None = None
    state: str | None = None
    stats: SellerStats = field(default_factory=SellerStats)
    epoch_at: datetime | None = None
    epoch_stats: SellerStats = field(default_factory=SellerStats)
    path: deque[float] = field(default_factory=lambda: deque(maxlen=10))
    valid_from: date | None = None
    valid_until: date | None = None
    suspended_on: list[date] = field(default_factory=list)
    inspected_on: list[date] = field(default_factory=list)
    renewal_due: bool = False
    reinstated: int = 0
    stats_updated: datetime | None = None


@dataclass(slots=True, eq=False)
class _Order:
    id: int
    run_id: int
    seller: _Seller
    listing: _Listing
    planned: PlannedOrder
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
    updated_at: datetime | None = None


@dataclass(slots=True)
class _Inspection:
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
class _Staff:
    ids: dict[str, int]  # email -> user id
    clerk: str
    approver: str
    compliance: str
    inspectors: tuple[str, ...]


# --------------------------------------------------------------------------- helpers


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


def _stream(seed: int, *labels: object) -> random.Random:
    """An independent, reproducible random stream named by the fleet seed and `labels`."""
    name = ":".join(str(x) for x in (seed, *labels))
    return random.Random(hashlib.sha256(name.encode()).digest())  # noqa: S311 - demo data


def _plan_seed(seed: int, period: Period) -> bytes:
    """The planning seed of a month: SHA-256 of "seed:YYYY-MM" (32 bytes)."""
    return hashlib.sha256(f"{seed}:{period.key}".encode()).digest()


def _at_business_hours(day: date, rng: random.Random) -> datetime:
    """A time between 09:00 and 17:59 on `day`, moved to Monday when it falls on a weekend."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9) + timedelta(
        minutes=rng.randrange(9 * 60), seconds=rng.randrange(60))


def _next_night(at: datetime, minute: int) -> datetime:
    """00:`minute` on the day after `at` (when the daily jobs run)."""
    day = at.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 0, minute)


def _midnight(day: date, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, 0, minute)


@lru_cache(maxsize=65536)
def _bounds(defects: int, inspected: int) -> tuple[float, float]:
    """Clopper-Pearson bounds, cached: the same (k, n) pairs recur across sellers."""
    return clopper_pearson(defects, inspected)


def _identity(country: str, rng: random.Random) -> tuple[str, str]:
    """A plausible registration number and VAT ID (in the country's VIES format)."""
    if country == "DE":
        return f"HRB {rng.randint(10000, 299999)}", f"DE{rng.randint(10**8, 10**9 - 1)}"
    if country == "AT":
        return (f"FN {rng.randint(100000, 599999)}{rng.choice('abdfghikmpstvwxyz')}",
                f"ATU{rng.randint(10**7, 10**8 - 1)}")
    if country == "FR":
        siren = str(rng.randint(300000000, 999999999))
        return f"{siren[:3]} {siren[3:6]} {siren[6:]}", f"FR{rng.randint(10, 99)}{siren}"
    if country == "BE":
        number = f"0{rng.randint(200000000, 999999999)}"
        return f"{number[:4]}.{number[4:7]}.{number[7:]}", f"BE{number}"
    if country == "NL":
        return str(rng.randint(10**7, 10**8 - 1)), f"NL{rng.randint(10**8, 10**9 - 1)}B01"
    if country == "IT":
        return (f"{rng.choice(('MI', 'RM', 'TO', 'NA', 'BO'))}-{rng.randint(1000000, 2999999)}",
                f"IT{rng.randint(0, 10**11 - 1):011d}")
    if country == "ES":
        cif = f"B{rng.randint(10**7, 10**8 - 1)}"
        return f"{cif[0]}-{cif[1:]}", f"ES{cif}"
    if country == "PT":
        nipc = rng.randint(500000000, 599999999)
        return str(nipc), f"PT{nipc}"
    if country == "PL":
        return (f"KRS {rng.randint(1, 999999):010d}",
                f"PL{rng.randint(10**9, 10**10 - 1)}")
    if country == "SE":
        org = f"559{rng.randint(0, 9999999):07d}"
        return f"{org[:6]}-{org[6:]}", f"SE{org}01"
    if country == "DK":
        cvr = rng.randint(10**7, 10**8 - 1)
        return f"CVR {cvr}", f"DK{cvr}"
    if country == "IE":
        return (f"CRO {rng.randint(100000, 799999)}",
                f"IE{rng.randint(10**6, 10**7 - 1)}{rng.choice('ABCDEFGHIJKLMNOPQRSTUVW')}")
    ico = rng.randint(10**7, 10**8 - 1)  # CZ
    return f"ICO {ico}", f"CZ{ico}"


def _units(rng: random.Random, size: float) -> int:
    """Monthly units of a listing: log-normal, times the seller's size (a few very large)."""
    return max(1, min(5000, int(size * rng.lognormvariate(2.3, 0.9))))


# --------------------------------------------------------------------------- the simulation


class _Fleet:
    """The fleet's history, simulated event by event through the production rules."""

    def __init__(self, config: FleetConfig, staff: _Staff, plan: DecisionPlan,
                 rates: Mapping[SamplingState, float], budget_cents: int,
                 accounts: tuple[str, ...],
                 checkpoints: Mapping[str, list[tuple[str, Severity]]],
                 first_ids: Mapping[str, int]) -> None:
        self.config = config
        self.staff = staff
        self.plan = plan
        self.rates = rates
        self.budget_cents = budget_cents
        self.accounts = accounts
        self.checkpoints = checkpoints
        self.as_of = config.as_of
        self.periods = config.periods
        self.first_start = _midnight(self.periods[0].start)
        self.next_id = dict(first_ids)
        self.sellers: list[_Seller] = []
        self.listings: list[_Listing] = []
        self.runs: list[dict[str, Any]] = []
        self.run_plans: dict[int, tuple[bytes, Any]] = {}
        self.orders: list[_Order] = []
        self.inspections: list[_Inspection] = []
        self.label_events: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.cases: list[dict[str, Any]] = []
        self.audit: list[tuple[datetime, int, str, str, str, str, str]] = []
        self.queue: list[tuple[datetime, int, int, int, Any]] = []
        self.counter = 0
        self.defect_modes = {c: self._defect_modes(cps) for c, cps in checkpoints.items()}
        self.minor_modes = {c: self._minor_modes(cps) for c, cps in checkpoints.items()}

    # ---------------------------------------------------------------- plumbing

    def _id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def _push(self, at: datetime, kind: int, obj: Any) -> None:
        if at < self.as_of:
            self.counter += 1
            heapq.heappush(self.queue, (at, 0 if kind == INSPECT else 1, self.counter, kind, obj))

    def _audit(self, at: datetime, actor: str | None, action: str, entity_type: str,
               entity_id: object, payload: Mapping[str, Any]) -> None:
        if at < self.as_of:
            self.counter += 1
            self.audit.append((at, self.counter, actor or audit.SYSTEM_ACTOR, action,
                               entity_type, str(entity_id), canonical_json(dict(payload))))

    def _user(self, email: str | None) -> int | None:
        return self.staff.ids[email] if email is not None else None

    # ---------------------------------------------------------------- sellers and listings

    def make_sellers(self) -> None:
        """Draw identities, defect rates, listings and label dates; ids in registration order."""
        seed = self.config.seed
        rng = _stream(seed, "sellers")
        countries = [c for c, *_ in COUNTRIES]
        weights = [w for _, w, *_ in COUNTRIES]
        forms = {c: (form, cities) for c, _, form, cities in COUNTRIES}
        late_from = self.first_start + timedelta(days=20)
        late_to = self.as_of - timedelta(days=30)
        drafts = []
        keys: set[tuple[str, str]] = set()
        names: set[str] = set()
        for index in range(self.config.sellers):
            country = rng.choices(countries, weights)[0]
            registration, vat = _identity(country, rng)
            while (country, normalise_registration(registration)) in keys:
                registration, vat = _identity(country, rng)
            keys.add((country, normalise_registration(registration)))
            form, cities = forms[country]
            trading = f"{rng.choice(NAME_HEADS)} {rng.choice(NAME_TAILS)}"
            legal = f"{trading} {form}"
            if legal in names:
                legal = f"{trading} {rng.choice(cities)} {form}"
            n = 2
            while legal in names:
                legal, n = f"{trading} {n} {form}", n + 1
            names.add(legal)
            p = draw_defect_rate(rng)
            u = rng.random()
            if u < INITIAL_SHARE:
                grant_day = self.first_start.date() - timedelta(days=rng.randint(3, 60))
                grant: datetime | None = _at_business_hours(grant_day, rng)
            elif u < 1 - PENDING_SHARE and late_to > late_from:
                span = (late_to - late_from).days
                grant = _at_business_hours(
                    late_from.date() + timedelta(days=rng.randrange(span)), rng)
            else:
                grant = None
            # Registered 2-17 weeks before the grant (all after the staff accounts exist), or
            # lately for an applicant without a label yet.
            registered = _at_business_hours(
                grant.date() - timedelta(days=rng.randint(14, 120)) if grant is not None
                else self.as_of.date() - timedelta(days=rng.randint(4, 60)), rng)
            drafts.append((registered, index, country, registration, vat, trading, legal, p,
                           grant))
        drafts.sort(key=lambda d: (d[0], d[1]))
        for registered, index, country, registration, vat, trading, legal, p, grant in drafts:
            seller_id = self._id("sellers")
            life = _stream(seed, "life", index)
            seller = _Seller(id=seller_id, p=p, row={}, registered_at=registered,
                             listings=[],
                             outcomes=_stream(seed, "outcomes", index), life=life)
            self._make_listings(seller, life)
            slug = re.sub(r"[^a-z0-9]+", "", trading.lower())
            categories = sorted({item.category for item in seller.listings})
            seller.row = {
                "legal_name": legal, "trading_name": trading, "country": country,
                "registration_number": registration,
                "registration_key": normalise_registration(registration),
                "vat_id": vat, "contact_email": f"quality@{slug}-{seller_id}.example",
                "website": f"https://{slug}-{seller_id}.example",
                "device_categories": ",".join(categories),
                "declared_monthly_volume": sum(item.units for item in seller.listings),
            }
            self.sellers.append(seller)
            self._audit(registered, self.staff.clerk, "seller.created", "seller", seller_id,
                        {**seller.row, "source": SOURCE})
            filename = f"fleet-listings-seller-{seller_id}.csv"
            self._audit(registered + timedelta(minutes=30), self.staff.clerk, "listing.imported",
                        "listing_import", filename, {"filename": filename,
                                                     "rows": len(seller.listings),
                                                     "created": len(seller.listings),
                                                     "updated": 0})
            if grant is not None:
                self._push(grant, GRANT, seller)

    def _make_listings(self, seller: _Seller, rng: random.Random) -> None:
        categories = [c for c, share in CATEGORY_SHARE.items() if rng.random() < share]
        if not categories:
            categories = ["smartphone"]
        count = max(len(categories), rng.choices((1, 2, 3, 4), (35, 30, 20, 15))[0])
        size = rng.lognormvariate(0.0, 0.8)
        factor = rng.uniform(0.93, 1.07)
        grades = list(GRADE_WEIGHTS)
        seen: set[str] = set()
        for k in range(count):
            category = categories[k] if k < len(categories) else rng.choice(categories)
            models = [m for m in DEVICE_MODELS if m[1] == category]
            model, _, euros = rng.choice(models)
            grade = rng.choices(grades, list(GRADE_WEIGHTS.values()))[0]
            sku = (re.sub(r"[^A-Z0-9]+", "-", model.upper()).strip("-")[:40]
                   + f"-{grade[:2].upper()}")
            while sku in seen:
                sku += "X"
            seen.add(sku)
            price = round(euros * GRADE_PRICE[grade] * factor) * 100 - 10
            listing = _Listing(id=self._id("listings"), seller_id=seller.id, sku=sku,
                               device_model=model, category=category, grade=grade,
                               price_cents=price, units=_units(rng, size),
                               created_at=seller.registered_at + timedelta(minutes=30))
            seller.listings.append(listing)
            self.listings.append(listing)

    # ---------------------------------------------------------------- the event loop

    def run(self) -> None:
        """Process every event before the end of the history, in time order."""
        for period in self.periods:
            self._push(_midnight(period.start, 5), PLAN, period)
        handlers: dict[int, Callable[[Any, datetime], None]] = {
            INSPECT: self._inspect, GRANT: self._grant, PLAN: self._plan, CLOSE: self._close,
            RENEW: self._renew, PLACE: self._place, REVIEW: self._review, CASE: self._case,
            DECIDE_CASE: self._decide_case, REVOKE: self._revoke}
        while self.queue:
            at, _, _, kind, obj = heapq.heappop(self.queue)
            handlers[kind](obj, at)

    # ---------------------------------------------------------------- labels and statistics

    def _restart(self, seller: _Seller, stats: SellerStats, at: datetime) -> None:
        seller.stats = stats
        seller.epoch_at = at
        seller.epoch_stats = stats
        seller.path.clear()
        seller.stats_updated = at

    def _snapshot(self, seller: _Seller, order_ref: str = "") -> dict[str, Any]:
        st, plan = seller.stats, self.plan
        low, high = _bounds(st.defects, st.inspected)
        return {
            "order": order_ref, "S": round(st.s, 4),
            "S_path_tail": [round(x, 4) for x in seller.path],
            "h": round(plan.main.h, 4), "tighten_at": plan.tighten_at,
            "minor_S": round(st.minor_s, 4), "minor_h": round(plan.minor.h, 4),
            "clean_run": st.clean_run, "inspected": st.inspected, "defects": st.defects,
            "minor": st.minor, "critical": st.critical,
            "defect_rate_bounds_95": [round(low, 4), round(high, 4)],
            "plan": {"p0": plan.params.p0, "p1": plan.params.p1, "alpha": plan.params.alpha,
                     "beta": plan.params.beta, "w_defect": round(plan.main.w_defect, 4),
                     "w_clean": round(plan.main.w_clean, 4),
                     "acceptance_run": plan.main.acceptance_run},
        }

    def _change_label(self, seller: _Seller, target: LabelStatus, reason: str,
                      actor: str | None, at: datetime, *, pending_review: bool = False,
                      snapshot: Mapping[str, Any] | None = None) -> dict[str, Any]:
        current = seller.label
        change = compute_label_change(current, target, reason, pending_review=pending_review)
        if target == LabelStatus.ACTIVE and current in (None, LabelStatus.EXPIRED):
            seller.valid_from = at.date()
            seller.valid_until = compute_label_end(at.date())
            seller.state = SamplingState.ONBOARDING.value
        elif target in (LabelStatus.SUSPENDED, LabelStatus.REVOKED, LabelStatus.EXPIRED):
            seller.state = None
        seller.label = target
        event = {
            "id": self._id("label_events"), "seller_id": seller.id,
            "from_status": current.value if current else None, "to_status": target.value,
            "reason": change.reason, "pending_review": change.pending_review,
            "actor_id": self._user(actor), "actor": actor or audit.SYSTEM_ACTOR, "at": at,
            "valid_until": seller.valid_until,
            "snapshot": json.dumps(snapshot, sort_keys=True) if snapshot is not None else None,
            "application_id": None}
        self.label_events.append(event)
        self._audit(at, actor, "label.changed", "seller", seller.id, {
            "from": event["from_status"], "to": event["to_status"], "reason": event["reason"],
            "pending_review": event["pending_review"],
            "valid_until": seller.valid_until.isoformat() if seller.valid_until else None,
            "sampling_state": seller.state, "snapshot": snapshot, "application_id": None})
        if target == LabelStatus.SUSPENDED:
            seller.suspended_on.append(at.date())
            if pending_review:
                review = {"id": self._id("suspension_reviews"), "seller_id": seller.id,
                          "label_event_id": event["id"], "status": "pending", "opened_at": at,
                          "decided_by_id": None, "decided_at": None, "reason": "",
                          "version": 1, "_seller": seller, "_from": event["from_status"]}
                self.reviews.append(review)
                self._push(_at_business_hours(at.date() + timedelta(
                    days=seller.life.randint(1, 8)), seller.life), REVIEW, review)
        if target == LabelStatus.ACTIVE and current in (None, LabelStatus.EXPIRED):
            self._restart(seller, SellerStats(), at)  # decision_service.on_label_changed
        return event

    def _set_state(self, seller: _Seller, state: SamplingState | None, at: datetime,
                   snapshot: Mapping[str, Any], why: str | None = None) -> None:
        new = state.value if state is not None else None
        if seller.state != new:
            payload: dict[str, Any] = {"from": seller.state, "to": new}
            if why is not None:
                payload["why"] = why
            payload["snapshot"] = snapshot
            self._audit(at, None, "sampling.state_changed", "seller", seller.id, payload)
            seller.state = new

    def _refresh_state(self, seller: _Seller, at: datetime, why: str) -> None:
        state = compute_sampling_state(seller.label, seller.stats, self.plan)
        if (state.value if state else None) != seller.state:
            self._set_state(seller, state, at, self._snapshot(seller), why)

    def _resume_renewal(self, seller: _Seller, at: datetime) -> None:
        if seller.renewal_due:
            seller.renewal_due = False
            self._push(_next_night(at, 20), RENEW, seller)

    # ---------------------------------------------------------------- event handlers

    def _grant(self, seller: _Seller, at: datetime) -> None:
        self._change_label(seller, LabelStatus.ACTIVE,
                           "Application approved: every required checklist item passed.",
                           self.staff.approver, at)
        assert seller.valid_until is not None  # noqa: S101 - set by the grant
        self._push(_midnight(seller.valid_until, 20), RENEW, seller)

    def _plan(self, period: Period, at: datetime) -> None:
        h = self.plan.main.h
        inputs = PlanInputs(
            period=period,
            sellers=tuple(SellerInput(
                seller_id=s.id, state=SamplingState(s.state or SamplingState.ONBOARDING.value),
                on_probation=s.label == LabelStatus.PROBATION,
                risk=s.stats.s / h if s.epoch_at is not None else 0.0,
                listings=tuple(ListingInput(item.id, item.units, item.price_cents)
                               for item in s.listings))
                for s in self.sellers if s.label in IN_FORCE),
            rates=self.rates, budget_cents=self.budget_cents, buyer_accounts=self.accounts)
        seed = _plan_seed(self.config.seed, period)
        plan = compute_plan(inputs, seed)
        run: dict[str, Any] = {
            "id": self._id("planning_runs"), "period": period.key,
            "commitment": compute_commitment(seed), "seed_hex": None,
            "inputs_json": inputs_to_json(inputs), "fingerprint": plan_fingerprint(plan),
            "orders_planned": len(plan.orders), "orders_dropped": len(plan.dropped),
            "total_cost_cents": plan.total_cost_cents, "over_budget": plan.over_budget,
            "created_at": at, "revealed_at": None, "verify_result": None}
        self.runs.append(run)
        self.run_plans[run["id"]] = (seed, plan)
        by_id = {s.id: s for s in self.sellers}
        listings = {item.id: item for item in self.listings}
        for planned in plan.orders:
            order = _Order(id=self._id("test_orders"), run_id=run["id"],
                           seller=by_id[planned.seller_id], listing=listings[planned.listing_id],
                           planned=planned, updated_at=at)
            self.orders.append(order)
            self._push(planned.planned_at, PLACE, order)
        self._audit(at, None, "plan.created", "planning_run", run["id"], {
            "period": period.key, "commitment": run["commitment"],
            "fingerprint": run["fingerprint"], "orders": run["orders_planned"],
            "dropped": run["orders_dropped"], "total_cost_cents": run["total_cost_cents"],
            "over_budget": run["over_budget"],
            "dropped_orders": [{"seller_id": d.seller_id, "listing_id": d.listing_id,
                                "state": d.sampling_state.value, "reason": d.reason}
                               for d in plan.dropped],
            "skipped": [list(s) for s in plan.skipped]})
        self._push(_midnight(period.next().start, 15), CLOSE, run)

    def _close(self, run: dict[str, Any], at: datetime) -> None:
        seed, plan = self.run_plans[run["id"]]
        expected = compute_plan(inputs_from_json(run["inputs_json"]), seed)
        differences = compute_plan_differences(expected.orders, plan.orders)
        ok = compute_commitment(seed) == run["commitment"] and not differences
        run["seed_hex"] = seed.hex()
        run["revealed_at"] = at
        run["verify_result"] = "match" if ok else "MISMATCH: " + "; ".join(differences[:20])
        self._audit(at, None, "plan.seed_revealed", "planning_run", run["id"],
                    {"period": run["period"], "seed": run["seed_hex"],
                     "commitment": run["commitment"], "verify_plan": run["verify_result"]})

    def _move(self, order: _Order, target: OrderStatus, at: datetime, actor: str,
              payload: Mapping[str, Any]) -> None:
        self._audit(at, actor, f"order.{target.value}", "test_order", order.id,
                    {"from": order.status, "to": target.value, **payload})
        order.status = target.value
        order.updated_at = at

    def _place(self, order: _Order, at: datetime) -> None:
        seller, rng = order.seller, order.seller.life
        inspector = rng.choice(self.staff.inspectors)
        if seller.label not in IN_FORCE or rng.random() < CANCEL_SHARE:
            when = at + timedelta(minutes=rng.randint(20, 240), seconds=rng.randrange(60))
            reason = ("Listing withdrawn by the seller before the order was placed."
                      if seller.label in IN_FORCE else
                      f"The seller's Back Label is {seller.label.value if seller.label else 'gone'}"
                      "; the order was not placed.")
            if when < self.as_of:
                order.cancel_reason = reason
                self._move(order, OrderStatus.CANCELLED, when, inspector, {"reason": reason})
            return
        if rng.random() < 0.8:  # the same day; otherwise in the next two working days
            placed_at = at + timedelta(minutes=rng.randint(5, 240), seconds=rng.randrange(60))
        else:
            placed_at = _at_business_hours(at.date() + timedelta(days=rng.randint(1, 2)), rng)
        if placed_at >= self.as_of:
            return
        cost = order.planned.cost_cents
        order.marketplace_ref = f"MKT-{order.planned.planned_at:%Y%m}-{order.id:07d}"
        order.price_paid_cents = cost if rng.random() < 0.85 else max(100, cost - rng.randint(
            1, 40) * 100)
        order.placed_at = placed_at
        order.placed_by_id = self._user(inspector)
        self._move(order, OrderStatus.PLACED, placed_at, inspector, {
            "marketplace_ref": order.marketplace_ref, "price_paid_cents": order.price_paid_cents,
            "buyer_account": order.planned.buyer_account})
        if rng.random() < LOST_SHARE:
            lost_at = _at_business_hours(placed_at.date() + timedelta(days=rng.randint(14, 21)),
                                         rng)
            if lost_at < self.as_of:
                order.cancel_reason = "Never arrived."
                self._move(order, OrderStatus.LOST, lost_at, inspector,
                           {"reason": order.cancel_reason})
            return
        received_on = placed_at.date() + timedelta(days=rng.randint(2, 6))
        while received_on.weekday() >= 5:  # parcels are logged on working days
            received_on += timedelta(days=1)
        received_at = datetime(received_on.year, received_on.month, received_on.day, 9) + \
            timedelta(minutes=rng.randrange(180), seconds=rng.randrange(60))
        if received_at >= self.as_of:
            return
        condition = rng.choices(list(PackageCondition), (95, 4, 1))[0]
        receiver = rng.choice(self.staff.inspectors)
        order.received_on = received_on
        order.package_condition = condition.value
        order.received_by_id = self._user(receiver)
        self._move(order, OrderStatus.RECEIVED, received_at, receiver, {
            "received_on": received_on.isoformat(), "package_condition": condition.value})
        days = rng.choices((0, 1, 2, 3), (40, 35, 15, 10))[0]
        if days == 0:
            inspected_at = received_at + timedelta(minutes=rng.randint(30, 300),
                                                   seconds=rng.randrange(60))
        else:
            inspected_at = _at_business_hours(received_on + timedelta(days=days), rng)
        self._push(inspected_at, INSPECT, (order, receiver))

    def _inspect(self, item: tuple[_Order, str], at: datetime) -> None:
        order, inspector = item
        seller = order.seller
        record = self._draw_inspection(order, inspector, at)
        self.inspections.append(record)
        order.inspected_at = at
        self._move(order, OrderStatus.INSPECTED, at, inspector, {"inspection": "submitted"})
        self._audit(at, inspector, "inspection.submitted", "test_order", order.id, {
            "seller_id": seller.id, "version": 1, "verdict": record.verdict,
            "score": record.score, "observed_grade": record.observed_grade,
            "battery_percent": record.battery_percent, "battery_cycles": record.battery_cycles,
            "battery_swollen": record.battery_swollen, "cable_missing": record.cable_missing,
            "notes": "", "failed": list(record.failed), "photos": [],
            "reasons": json.loads(record.reasons)})
        ref = f"test order #{order.id}"
        decision = compute_decision(seller.label, seller.stats, record.verdict, self.plan, ref)
        seller.stats = decision.stats
        seller.path.append(decision.stats.s)
        seller.inspected_on.append(at.date())
        seller.stats_updated = at
        new_state = decision.sampling_state.value if decision.sampling_state else None
        if decision.action == Action.NONE and new_state == seller.state:
            snapshot: dict[str, Any] = {}  # nothing to record (the common case)
        else:
            snapshot = self._snapshot(seller, ref)
        if decision.action == Action.SUSPEND:
            self._change_label(seller, LabelStatus.SUSPENDED, decision.reason, None, at,
                               pending_review=True, snapshot=snapshot)
        elif decision.action == Action.END_PROBATION:
            self._change_label(seller, LabelStatus.ACTIVE, decision.reason, None, at,
                               snapshot=snapshot)
        self._set_state(seller, decision.sampling_state, at, snapshot)
        rng = seller.life
        closed_at = _at_business_hours(at.date() + timedelta(days=rng.randint(1, 10)), rng)
        if closed_at < self.as_of:
            if record.verdict == "critical" and rng.random() < 0.7:
                disposition = Disposition.KEPT_AS_EVIDENCE
            else:
                disposition = Disposition.RETURNED if rng.random() < 0.6 else Disposition.REFUNDED
            order.disposition = disposition.value
            order.closed_at = closed_at
            self._move(order, OrderStatus.CLOSED, closed_at, inspector,
                       {"disposition": disposition.value})

    def _review(self, review: dict[str, Any], at: datetime) -> None:
        seller: _Seller = review["_seller"]
        rng = seller.life
        compliance = self.staff.compliance
        review["decided_by_id"] = self._user(compliance)
        review["decided_at"] = at
        if rng.random() < OVERTURN_SHARE:
            reason = rng.choice(OVERTURN_REASONS)
            restore = LabelStatus(review["_from"] or LabelStatus.ACTIVE.value)
            review["status"], review["reason"] = "overturned", reason
            self._change_label(seller, restore, f"Suspension overturned on review: {reason}",
                               compliance, at)
            self._refresh_state(seller, at, "suspension overturned")
            self._audit(at, compliance, "suspension.overturned", "seller", seller.id,
                        {"review_id": review["id"], "restored": restore.value, "reason": reason})
            self._resume_renewal(seller, at)
            return
        reason = rng.choice(CONFIRM_REASONS)
        review["status"], review["reason"] = "confirmed", reason
        self._audit(at, compliance, "suspension.confirmed", "seller", seller.id,
                    {"review_id": review["id"], "label_event_id": review["label_event_id"],
                     "reason": reason})
        u = rng.random()
        if u < CASE_SHARE:
            kind = "appeal" if rng.random() < 0.4 else "corrective_action"
            day = at.date() + timedelta(days=rng.randint(3, 20))
            self._push(_at_business_hours(day, rng), CASE, (seller, kind))
        elif u < CASE_SHARE + REVOKE_SHARE:
            day = at.date() + timedelta(days=rng.randint(45, 90))
            self._push(_at_business_hours(day, rng), REVOKE,
                       (seller, "no appeal or corrective-action plan received within 45 days."))

    def _case(self, item: tuple[_Seller, str], at: datetime) -> None:
        seller, kind = item
        rng = seller.life
        received_on = at.date() - timedelta(days=rng.randint(0, 2))
        case = {"id": self._id("seller_cases"), "seller_id": seller.id, "kind": kind,
                "summary": CASE_SUMMARIES[kind], "received_on": received_on, "status": "open",
                "created_by_id": self._user(self.staff.compliance), "created_at": at,
                "decided_by_id": None, "decided_at": None, "decision_reason": "", "version": 1,
                "_seller": seller}
        self.cases.append(case)
        self._audit(at, self.staff.compliance, f"case.{kind}_recorded", "seller", seller.id,
                    {"case_id": case["id"], "summary": case["summary"],
                     "received_on": received_on.isoformat()})
        day = at.date() + timedelta(days=rng.randint(7, 25))
        self._push(_at_business_hours(day, rng), DECIDE_CASE, case)

    def _decide_case(self, case: dict[str, Any], at: datetime) -> None:
        seller: _Seller = case["_seller"]
        rng = seller.life
        compliance = self.staff.compliance
        accept = rng.random() < ACCEPT_SHARE / (1 + seller.reinstated)
        reason = rng.choice(ACCEPT_REASONS if accept else REJECT_REASONS)
        case.update(status="accepted" if accept else "rejected", decision_reason=reason,
                    decided_by_id=self._user(compliance), decided_at=at)
        self._audit(at, compliance, f"case.{case['status']}", "seller", seller.id,
                    {"case_id": case["id"], "kind": case["kind"], "reason": reason})
        if not accept:
            if rng.random() < 0.5:
                day = at.date() + timedelta(days=rng.randint(7, 30))
                self._push(_at_business_hours(day, rng), REVOKE,
                           (seller, f"the {CASE_KINDS[case['kind']]} was rejected."))
            return
        if seller.label != LabelStatus.SUSPENDED:
            return
        # Reinstated at once: a later instant could fall after an inspection still due.
        self._restart(seller, compute_reinstated(seller.stats, self.plan), at)
        state = compute_sampling_state(LabelStatus.PROBATION, seller.stats, self.plan)
        seller.state = state.value if state is not None else None
        seller.reinstated += 1
        self._change_label(seller, LabelStatus.PROBATION, f"Reinstated on probation: {reason}",
                           compliance, at, snapshot=self._snapshot(seller))
        self._resume_renewal(seller, at)

    def _revoke(self, item: tuple[_Seller, str], at: datetime) -> None:
        seller, why = item
        if seller.label == LabelStatus.SUSPENDED:
            self._change_label(seller, LabelStatus.REVOKED, f"Revoked: {why}",
                               self.staff.compliance, at)

    def _renew(self, seller: _Seller, at: datetime) -> None:
        if seller.label not in IN_FORCE:
            if seller.label == LabelStatus.SUSPENDED:
                seller.renewal_due = True
            return
        start, end = seller.valid_from, seller.valid_until
        if start is None or end is None or end > at.date():
            return
        suspended = sum(1 for d in seller.suspended_on if start <= d <= end)
        inspected = sum(1 for d in seller.inspected_on if start <= d <= end)
        renewal = compute_renewal(suspended, inspected, start, end)
        full, reason = renewal.full, renewal.reason
        seller.valid_from = end
        seller.valid_until = compute_label_end(end)
        if not full:
            self._restart(seller, compute_conditional_renewal(seller.stats), at)
        assert seller.label is not None  # noqa: S101 - in force
        self._change_label(seller, seller.label, reason, None, at,
                           snapshot=self._snapshot(seller))
        self._refresh_state(seller, at, "renewal")
        self._push(_midnight(seller.valid_until, 20), RENEW, seller)

    # ---------------------------------------------------------------- inspections

    @staticmethod
    def _defect_modes(checkpoints: list[tuple[str, Severity]]) -> list[tuple[float, int, str]]:
        modes: list[tuple[float, int, str]] = []
        codes = {code for code, _ in checkpoints}
        for code, severity in checkpoints:
            if severity == Severity.MINOR:
                continue
            weight = DEFECT_WEIGHTS.get(code, DEFAULT_DEFECT_WEIGHT[severity])
            modes.append((weight, BATTERY_LOW if code == BATTERY_CODE else FAIL, code))
        if BATTERY_CODE in codes:
            modes.append((SWOLLEN_WEIGHT, SWOLLEN, BATTERY_CODE))
        if CABLE_CODE in codes:
            modes.append((CABLE_MISSING_WEIGHT, CABLE_MISSING, CABLE_CODE))
        if "COS-1" in codes:
            modes.append((TWO_GRADES_WEIGHT, TWO_GRADES, "COS-1"))
        total = sum(w for w, _, _ in modes)
        return [(w / total, kind, code) for w, kind, code in modes]

    @staticmethod
    def _minor_modes(checkpoints: list[tuple[str, Severity]]) -> list[tuple[float, int, str]]:
        modes = [(MINOR_WEIGHTS.get(code, DEFAULT_MINOR_WEIGHT),
                  ONE_GRADE if code == "COS-1" else FAIL, code)
                 for code, severity in checkpoints
                 if severity == Severity.MINOR and code != DELIVERY_CODE]
        total = sum(w for w, _, _ in modes)
        return [(w / total, kind, code) for w, kind, code in modes]

    def _draw_inspection(self, order: _Order, inspector: str, at: datetime) -> _Inspection:
        """Draw the unit's checkpoint outcomes from the seller's true rate and score them."""
        seller, listing = order.seller, order.listing
        rng, p = seller.outcomes, seller.p
        random_ = rng.random
        failed: dict[str, str] = {}
        battery_low = swollen = cable_missing = False
        gap = 0
        for weight, kind, code in self.defect_modes[listing.category]:
            if random_() < p * weight:
                if kind == BATTERY_LOW:
                    battery_low = True
                elif kind == SWOLLEN:
                    swollen = True
                    failed[code] = "Battery visibly swollen; device isolated."
                elif kind == CABLE_MISSING:
                    cable_missing = True
                    failed[code] = "No charging cable in the box."
                elif kind == TWO_GRADES:
                    gap = 2
                failed.setdefault(code, "Failed at inspection.")
        minor_rate = MINOR_BASE + MINOR_SLOPE * p
        for weight, kind, code in self.minor_modes[listing.category]:
            if random_() < minor_rate * weight:
                failed.setdefault(code, "Minor finding; noted for the seller.")
                if kind == ONE_GRADE:
                    gap = max(gap, 1)
        codes = [code for code, _ in self.checkpoints[listing.category]]
        if DELIVERY_CODE in codes and random_() < LATE_DELIVERY:
            failed[DELIVERY_CODE] = "Delivered after the promised date."
        promised = Grade(listing.grade)
        observed = GRADE_ORDER[min(GRADE_ORDER.index(promised) + gap, len(GRADE_ORDER) - 1)]
        if observed != promised and "COS-1" in failed:
            failed["COS-1"] = f"Observed {observed.value}, listed as {promised.value}."
        floor = battery_floor(promised)
        if battery_low:
            battery: int | None = rng.randint(floor - 18, floor - 1)
            failed[BATTERY_CODE] = f"Battery health {battery}%, below the {floor}% floor."
        elif random_() < BATTERY_UNMEASURED:
            battery = None
        else:
            battery = rng.randint(floor, 100)
        cycles = None if random_() < 0.1 else rng.randint(10, 1100)
        score = compute_score(InspectionFacts(
            promised_grade=promised, observed_grade=observed, battery_percent=battery,
            battery_swollen=swollen, cable_missing=cable_missing,
            outcomes=tuple(CheckpointOutcome(code, severity, code not in failed)
                           for code, severity in self.checkpoints[listing.category])))
        ordered = {code: failed[code] for code in codes if code in failed}
        return _Inspection(
            id=self._id("inspections"), order_id=order.id, inspector_id=self.staff.ids[inspector],
            at=at, category=listing.category, observed_grade=observed.value,
            battery_percent=battery, battery_cycles=cycles, battery_swollen=swollen,
            cable_missing=cable_missing, verdict=score.verdict.value, score=score.score,
            reasons=json.dumps(list(score.reasons)), failed=ordered)

    # ---------------------------------------------------------------- rows

    def seller_rows(self) -> Iterator[dict[str, Any]]:
        for s in self.sellers:
            yield {"id": s.id, **s.row, "created_at": s.registered_at,
                   "label_status": s.label.value if s.label else None,
                   "label_valid_from": s.valid_from, "label_valid_until": s.valid_until,
                   "sampling_state": s.state, "version": 1}

    def listing_rows(self) -> Iterator[dict[str, Any]]:
        for item in self.listings:
            yield {"id": item.id, "seller_id": item.seller_id, "sku": item.sku,
                   "device_model": item.device_model, "category": item.category,
                   "promised_grade": item.grade, "price_cents": item.price_cents,
                   "monthly_units": item.units, "active": True, "created_at": item.created_at}

    def order_rows(self) -> Iterator[dict[str, Any]]:
        for o in self.orders:
            planned = o.planned
            yield {"id": o.id, "run_id": o.run_id, "seller_id": planned.seller_id,
                   "listing_id": planned.listing_id, "planned_at": planned.planned_at,
                   "buyer_account": planned.buyer_account,
                   "sampling_state": planned.sampling_state.value,
                   "protected": planned.protected, "cost_cents": planned.cost_cents,
                   "status": o.status, "marketplace_ref": o.marketplace_ref,
                   "price_paid_cents": o.price_paid_cents, "placed_at": o.placed_at,
                   "placed_by_id": o.placed_by_id, "received_on": o.received_on,
                   "package_condition": o.package_condition, "received_by_id": o.received_by_id,
                   "inspected_at": o.inspected_at, "closed_at": o.closed_at,
                   "disposition": o.disposition, "cancel_reason": o.cancel_reason,
                   "updated_at": o.updated_at, "version": 1}

    def inspection_rows(self) -> Iterator[dict[str, Any]]:
        for i in self.inspections:
            yield {"id": i.id, "order_id": i.order_id, "version": 1, "is_current": True,
                   "inspector_id": i.inspector_id, "submitted_at": i.at,
                   "observed_grade": i.observed_grade, "battery_percent": i.battery_percent,
                   "battery_cycles": i.battery_cycles, "battery_swollen": i.battery_swollen,
                   "cable_missing": i.cable_missing, "notes": "", "verdict": i.verdict,
                   "score": i.score, "reasons": i.reasons, "amend_reason": ""}

    def result_rows(self, first_id: int) -> Iterator[dict[str, Any]]:
        next_id = first_id
        for i in self.inspections:
            for position, (code, severity) in enumerate(self.checkpoints[i.category], start=1):
                note = i.failed.get(code)
                yield {"id": next_id, "inspection_id": i.id, "position": position, "code": code,
                       "severity": severity.value, "passed": note is None, "note": note or ""}
                next_id += 1

    def statistics_rows(self) -> Iterator[dict[str, Any]]:
        for s in self.sellers:
            if s.epoch_at is None:
                continue
            yield {"seller_id": s.id, **asdict(s.stats), "epoch_at": s.epoch_at,
                   "epoch_stats": json.dumps(asdict(s.epoch_stats), sort_keys=True),
                   "updated_at": s.stats_updated, "version": 1}


# --------------------------------------------------------------------------- database


def _count(model: Any) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _next_ids() -> dict[str, int]:
    models: dict[str, Any] = {
        "sellers": Seller, "listings": Listing, "planning_runs": PlanningRun,
        "test_orders": TestOrder, "inspections": Inspection,
        "inspection_results": InspectionResult, "label_events": LabelEvent,
        "suspension_reviews": SuspensionReview, "seller_cases": SellerCase}
    return {name: db.session.execute(select(func.coalesce(func.max(m.id), 0))).scalar_one() + 1
            for name, m in models.items()}


def _refuse_unless_empty() -> None:
    sellers, runs = _count(Seller), _count(PlanningRun)
    if sellers or runs:
        found = f"{sellers} seller(s)" if sellers else f"{runs} planning run(s)"
        raise ServiceError(
            f"This database already has {found}. `demo fleet` builds a fresh benchmark "
            "database: run `flask --app app db upgrade` on a new database and build it there.")


def _ensure_staff(at: datetime) -> tuple[_Staff, tuple[tuple[str, str | None], ...]]:
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
    return _Staff(ids=ids, clerk=emails[0], approver=emails[1], compliance=emails[2],
                  inspectors=tuple(emails[3:])), tuple(created)


def _check_sealed_seeds(fleet_config: FleetConfig) -> list[tuple[str, bytes]]:
    """The open months' seeds to seal; refuse when PLAN_SEED_DIR holds a different one."""
    out = []
    for period in fleet_config.periods:
        if _midnight(period.next().start, 15) < fleet_config.as_of:
            continue  # revealed in the database
        seed = _plan_seed(fleet_config.seed, period)
        path: Path = services._seed_file(period.key)
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


def _chained(entries: list[tuple[datetime, int, str, str, str, str, str]], staff: _Staff,
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
        previous = services.current_settings()
        settings = services.update_settings(
            services.settings_rates(previous),
            BUDGET_PER_SELLER_CENTS * config.sellers, previous.accounts,
            db.session.execute(select(User).where(
                User.id == staff.ids[staff.compliance])).scalar_one())
    rates = services.settings_rates(settings)
    plan = current_plan()
    checkpoints = {category: [(c.code, Severity(c.severity))
                              for c in services.checkpoints_for(category)]
                   for category in CATEGORY_SHARE}
    if any(not cps for cps in checkpoints.values()):
        raise ServiceError("The checkpoint catalog is empty; run `flask --app app db upgrade`.")
    lap("staff accounts and plan settings")
    fleet = _Fleet(config, staff, plan, rates, settings.budget_cents, tuple(settings.accounts),
                   checkpoints, _next_ids())
    fleet.make_sellers()
    fleet.run()
    lap("simulate")
    _insert(Seller, fleet.seller_rows())
    _insert(Listing, fleet.listing_rows())
    _insert(PlanningRun, fleet.runs)
    _insert(TestOrder, fleet.order_rows())
    lap("write sellers, listings, plans, orders")
    _insert(Inspection, fleet.inspection_rows())
    _insert(InspectionResult, fleet.result_rows(fleet.next_id["inspection_results"]))
    lap("write inspections and checkpoint results")
    _insert(LabelEvent, fleet.label_events)
    _insert(SuspensionReview, _public(fleet.reviews))
    _insert(SellerCase, _public(fleet.cases))
    _insert(SellerStatistics, fleet.statistics_rows())
    lap("write label events, reviews, cases, statistics")
    head: list[str] = []
    _insert(AuditEntry, _chained(fleet.audit, staff, head))
    _reset_sequences(("sellers", "listings", "planning_runs", "test_orders", "inspections",
                      "inspection_results", "label_events", "suspension_reviews",
                      "seller_cases"))
    db.session.flush()
    lap("chain and write audit entries")
    for key, seed in seeds:
        services._seal_seed(key, seed)
    counts = {name: _count(model) for name, model in (
        ("users", User), ("sellers", Seller), ("listings", Listing),
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
