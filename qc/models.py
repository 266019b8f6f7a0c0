"""Listings, the sampling plan, planning runs, mystery test orders and inspections."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.db import db
from core.models import User
from vetting.models import Seller


class Listing(db.Model):  # type: ignore[name-defined,misc]
    """A device offer of a seller on the marketplace; test orders buy one of these."""

    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("seller_id", "sku", name="uq_listings_seller_sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    device_model: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    promised_grade: Mapped[str] = mapped_column(String(10))
    price_cents: Mapped[int]
    monthly_units: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    seller: Mapped[Seller] = relationship()


class SamplingSettings(db.Model):  # type: ignore[name-defined,misc]
    """One version of the sampling plan settings; the newest is in force."""

    __tablename__ = "sampling_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    rate_onboarding: Mapped[float]
    rate_normal: Mapped[float]
    rate_reduced: Mapped[float]
    rate_tightened: Mapped[float]
    budget_cents: Mapped[int]
    # The accounts the fixed-rate planner rotated, one per line: kept for the record of older
    # versions (they became retired buyer identities); plans now draw from the buyer pool.
    buyer_accounts: Mapped[str] = mapped_column(Text)
    p0: Mapped[float] = mapped_column(default=0.05)
    p1: Mapped[float] = mapped_column(default=0.20)
    alpha: Mapped[float] = mapped_column(default=0.005)
    beta: Mapped[float] = mapped_column(default=0.10)
    # Risk-based allocation (qc.allocation). The per-state rates above are the orders each
    # state would get with no budget limit: the shortfall is reported against them.
    budget_orders: Mapped[int] = mapped_column(default=200)
    floor_rate: Mapped[float] = mapped_column(default=0.01)
    block_max: Mapped[int] = mapped_column(default=8)
    drift: Mapped[float] = mapped_column(default=0.0025)
    min_auc: Mapped[float] = mapped_column(default=0.55)
    target_years: Mapped[float] = mapped_column(default=500.0)
    # The suspension threshold in force: chosen from the budget when the version was saved,
    # or set by a compliance officer (h_override_reason then says why). None: not chosen yet.
    h: Mapped[float | None]
    h_override_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()


class PlanningRun(db.Model):  # type: ignore[name-defined,misc]
    """The plan of one period: its seed commitment, recorded inputs and, once closed, seed."""

    __tablename__ = "planning_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), unique=True)
    commitment: Mapped[str] = mapped_column(String(64))
    seed_hex: Mapped[str | None] = mapped_column(String(64))
    inputs_json: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    orders_planned: Mapped[int]
    orders_dropped: Mapped[int]
    total_cost_cents: Mapped[int]
    over_budget: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revealed_at: Mapped[datetime | None]
    verify_result: Mapped[str | None] = mapped_column(Text)  # re-derivation at closing
    # JSON: threshold in force and the one the budget allows, signal AUC, shortfall, warnings
    notes_json: Mapped[str] = mapped_column(Text, default="{}")


class BuyerIdentity(db.Model):  # type: ignore[name-defined,misc]
    """A buyer identity that places mystery test orders: the name, address and means of
    payment a seller sees. Retiring one (for good: a seller may have spotted it) takes it out
    of the pool; its orders keep it."""

    __tablename__ = "buyer_identities"
    __table_args__ = (
        UniqueConstraint("name_key", name="uq_buyer_identities_name_key"),
        CheckConstraint("(active AND retired_at IS NULL) OR (NOT active AND retired_at IS NOT "
                        "NULL)", name="retired_when_inactive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))  # TestOrder.buyer_account copies it
    name_key: Mapped[str] = mapped_column(String(360))  # casefolded, spaces collapsed
    address: Mapped[str] = mapped_column(Text, default="")  # one line per address line
    payment_reference: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retired_reason: Mapped[str] = mapped_column(Text, default="")
    flagged_by_seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"))
    version: Mapped[int] = mapped_column(default=1)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    retired_by: Mapped[User | None] = relationship(foreign_keys=[retired_by_id])
    flagged_by_seller: Mapped[Seller | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class TestOrder(db.Model):  # type: ignore[name-defined,misc]
    """A mystery test order, from plan to closure."""

    __tablename__ = "test_orders"
    __table_args__ = (Index("ix_test_orders_status_planned", "status", "planned_at"),
                      Index("ix_test_orders_buyer_identity_planned", "buyer_identity_id",
                            "planned_at"))
    __test__ = False  # not a pytest test class

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("planning_runs.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"))
    planned_at: Mapped[datetime]
    # The identity that places the order, and its name as it was when the order was planned
    # (older orders have only the name).
    buyer_identity_id: Mapped[int | None] = mapped_column(ForeignKey("buyer_identities.id"))
    buyer_account: Mapped[str] = mapped_column(String(120))
    sampling_state: Mapped[str] = mapped_column(String(16))
    protected: Mapped[bool]  # fixed-rate plans (format 1): an onboarding/tightened order
    confirmation: Mapped[bool] = mapped_column(default=False)  # planned in the confirmation tier
    claim_percentile: Mapped[float | None]  # the seller's claim rank when planned (signal AUC)
    cost_cents: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), default="planned")
    marketplace_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    price_paid_cents: Mapped[int | None]
    placed_at: Mapped[datetime | None]
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_on: Mapped[date | None]
    package_condition: Mapped[str | None] = mapped_column(String(20))
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inspected_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    disposition: Mapped[str | None] = mapped_column(String(20))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # qc.orders.FailureSide of a cancelled or lost order; None when not recorded (older orders)
    failure_side: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    seller: Mapped[Seller] = relationship()
    listing: Mapped[Listing] = relationship(lazy="joined")
    run: Mapped[PlanningRun] = relationship()
    buyer_identity: Mapped[BuyerIdentity | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class Checkpoint(db.Model):  # type: ignore[name-defined,misc]
    """An inspection checkpoint of the catalog (seeded by migration, extendable as data)."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    guidance: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(10))
    categories: Mapped[str] = mapped_column(String(100))  # comma-separated device categories
    position: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)


class Inspection(db.Model):  # type: ignore[name-defined,misc]
    """One submitted version of an order's inspection; amendments add versions."""

    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("order_id", "version", name="uq_inspections_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("test_orders.id"), index=True)
    version: Mapped[int]
    is_current: Mapped[bool] = mapped_column(default=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    observed_grade: Mapped[str] = mapped_column(String(10))
    battery_percent: Mapped[int | None]
    battery_cycles: Mapped[int | None]
    battery_swollen: Mapped[bool] = mapped_column(default=False)
    cable_missing: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    verdict: Mapped[str] = mapped_column(String(12))
    score: Mapped[int]
    reasons: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    amend_reason: Mapped[str] = mapped_column(Text, default="")

    inspector: Mapped[User] = relationship()
    results: Mapped[list[InspectionResult]] = relationship(
        lazy="selectin", order_by="InspectionResult.position", cascade="all, delete-orphan")
    photos: Mapped[list[InspectionPhoto]] = relationship(
        lazy="selectin", order_by="InspectionPhoto.id", cascade="all, delete-orphan")


class InspectionResult(db.Model):  # type: ignore[name-defined,misc]
    """The outcome of one checkpoint in one inspection version."""

    __tablename__ = "inspection_results"
    __table_args__ = (UniqueConstraint("inspection_id", "code", name="uq_inspection_results_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"))
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    passed: Mapped[bool]
    note: Mapped[str] = mapped_column(Text, default="")


class InspectionPhoto(db.Model):  # type: ignore[name-defined,misc]
    """A photo attached to an inspection version, stored by its SHA-256."""

    __tablename__ = "inspection_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]


class CriticalFinding(db.Model):  # type: ignore[name-defined,misc]
    """A critical verdict waiting for, or decided by, a second inspector on the same device.

    Opened when an inspection version in force has a critical verdict; an amendment that keeps
    it critical moves the pending (or confirmed) finding to the new version, one that drops it
    withdraws a pending finding. Until decided the order is not counted in the statistics;
    confirmed it counts as critical, rejected with the re-scored verdict of the other results
    (the inspection keeps what the first inspector recorded). See qc.decisions.
    """

    __tablename__ = "critical_findings"
    __table_args__ = (Index("ix_critical_findings_status_opened", "status", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("test_orders.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    # the inspection version it applies to (the one in force while it is pending)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    checkpoints: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the failed codes
    found_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date]  # the last business day for a decision
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    rescored_verdict: Mapped[str | None] = mapped_column(String(12))
    rescored_score: Mapped[int | None]
    rescored_reasons: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    version: Mapped[int] = mapped_column(default=1)

    order: Mapped[TestOrder] = relationship()
    seller: Mapped[Seller] = relationship()
    found_by: Mapped[User] = relationship(foreign_keys=[found_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def checkpoint_codes(self) -> list[str]:
        """The critical checkpoints that failed (BAT-1 for a swollen battery)."""
        return [str(code) for code in json.loads(self.checkpoints)]


class SellerStatistics(db.Model):  # type: ignore[name-defined,misc]
    """A seller's running label statistics, and the restart point a replay starts from."""

    __tablename__ = "seller_statistics"

    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), primary_key=True)
    s: Mapped[float] = mapped_column(default=0.0)
    minor_s: Mapped[float] = mapped_column(default=0.0)
    clean_run: Mapped[int] = mapped_column(default=0)
    onboarding: Mapped[bool] = mapped_column(default=True)
    inspected: Mapped[int] = mapped_column(default=0)
    defects: Mapped[int] = mapped_column(default=0)
    minor: Mapped[int] = mapped_column(default=0)
    critical: Mapped[int] = mapped_column(default=0)
    # Replays fold the verdicts of orders inspected after epoch_at into epoch_stats (JSON):
    # a grant, reinstatement or conditional renewal restarts the statistics there.
    epoch_at: Mapped[datetime] = mapped_column(default=utcnow)
    epoch_stats: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class SamplingStateChange(db.Model):  # type: ignore[name-defined,misc]
    """A change of a seller's sampling state that its statistics called for (after an
    inspection, a reviewed suspension, a renewal or the nightly replay); the audit entry
    `sampling.state_changed` beside it holds the statistics snapshot."""

    __tablename__ = "sampling_state_changes"
    __table_args__ = (Index("ix_sampling_state_changes_to_state_at", "to_state", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))  # None: the label left force
    why: Mapped[str | None] = mapped_column(Text)  # None after an inspection
    at: Mapped[datetime] = mapped_column(default=utcnow)


class MarketplaceSignal(db.Model):  # type: ignore[name-defined,misc]
    """A seller's marketplace figures for one month: units sold, returns, warranty claims.

    Information for reviewers only; label decisions rest on test orders. A re-import of the
    same seller and month replaces the figures (the audit entry keeps the old ones).
    """

    __tablename__ = "marketplace_signals"
    __table_args__ = (
        UniqueConstraint("seller_id", "month", name="uq_marketplace_signals_seller_month"),
        CheckConstraint("(orders IS NULL OR orders >= 0) AND customer_returns >= 0 "
                        "AND warranty_claims >= 0", name="counts_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    month: Mapped[date]  # the first day of the month
    orders: Mapped[int | None]  # units sold; None when the marketplace did not report it
    customer_returns: Mapped[int]
    warranty_claims: Mapped[int]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(200), default="")  # file name or "api"

    imported_by: Mapped[User | None] = relationship()
