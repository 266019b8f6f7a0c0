"""Demo data for quality control: listings, a planned period, a few orders in progress,
and some months of marketplace signals."""

from __future__ import annotations

from sqlalchemy import func, select

from core.clock import utcnow
from core.db import db
from core.services import get_user_by_email
from qc.models import Listing, MarketplaceSignal, TestOrder
from qc.orders import PackageCondition
from qc.services import inspections, marketplace_signals, planning
from qc.services import orders as orders_service
from qc.signal_csv import SignalRow
from qc.signals import add_months, month_start
from vetting.labels import LabelStatus
from vetting.models import Seller
from vetting.services import change_label

DEMO_LISTINGS = {
    "HRB 204871": [("RN-IP13-128-EX", "iPhone 13 128 GB", "smartphone", "excellent", 48900, 140),
                   ("RN-S22-256-GD", "Galaxy S22 256 GB", "smartphone", "good", 37900, 90),
                   ("RN-IPAD-AIR4", "iPad Air (4th gen) 64 GB", "tablet", "excellent", 42900, 35)],
    "852 379 114": [("SV-MBA-M1-PR", "MacBook Air M1 256 GB", "laptop", "premium", 78900, 40),
                    ("SV-IP12-64-FR", "iPhone 12 64 GB", "smartphone", "fair", 29900, 120)],
}

# Marketplace figures (orders, returns, warranty claims) of the last months, newest first;
# Seconde Vie's marketplace did not report one month's orders.
DEMO_SIGNALS = {
    "HRB 204871": [(265, 9, 2), (251, 8, 3), (270, 11, 2), (248, 7, 1), (262, 10, 4),
                   (255, 9, 2)],
    "852 379 114": [(160, 12, 3), (148, 10, 5), (None, 9, 2), (171, 14, 4), (155, 11, 3),
                    (162, 13, 6)],
}


def ensure_demo_qc() -> dict[str, int]:
    """Create demo listings, label two demo sellers, plan this month, and work a few orders."""
    created = 0
    sellers = {s.registration_number: s for s in db.session.execute(select(Seller)).scalars()}
    for registration, rows in DEMO_LISTINGS.items():
        seller = sellers.get(registration)
        if seller is None:
            continue
        if seller.label_status is None:
            change_label(seller, LabelStatus.ACTIVE, "Demo data: label granted for the demo.",
                         None)
        for sku, model, category, grade, price, units in rows:
            exists = db.session.execute(select(Listing.id).where(
                Listing.seller_id == seller.id, Listing.sku == sku)).scalar()
            if exists is None:
                db.session.add(Listing(seller_id=seller.id, sku=sku, device_model=model,
                                       category=category, promised_grade=grade,
                                       price_cents=price, monthly_units=units))
                created += 1
    db.session.flush()
    now = utcnow()
    key = f"{now.year:04d}-{now.month:02d}"
    planned = 0
    if planning.get_run(key) is None:
        planned = planning.plan_period(key).orders_planned
        _work_a_few_orders()
    orders = db.session.execute(select(func.count()).select_from(TestOrder)).scalar_one()
    return {"listings": created, "planned": planned, "orders": orders,
            "signals": ensure_demo_signals()}


def ensure_demo_signals() -> int:
    """Import the demo figures of the months before this one for sellers that have none."""
    sellers = {s.registration_number: s for s in db.session.execute(select(Seller)).scalars()}
    has_figures = set(db.session.execute(select(MarketplaceSignal.seller_id).distinct())
                      .scalars())
    last_month = add_months(month_start(utcnow().date()), -1)
    rows = [SignalRow(row=0, seller_registration_number=registration,
                      seller_country=seller.country, month=add_months(last_month, -back),
                      orders=orders, returns=returns, warranty_claims=claims)
            for registration, figures in DEMO_SIGNALS.items()
            if (seller := sellers.get(registration)) is not None and seller.id not in has_figures
            for back, (orders, returns, claims) in enumerate(figures)]
    if not rows:
        return 0
    return marketplace_signals.import_signal_rows(rows, "demo data", None).created


def _work_a_few_orders() -> None:
    """Move the first planned orders along so each inspector queue has something in it."""
    inspector = get_user_by_email("inspector@labelkeeper.example")
    if inspector is None:
        return
    orders = list(db.session.execute(select(TestOrder).order_by(TestOrder.planned_at)
                                     .limit(4)).scalars())
    today = utcnow().date()
    for n, order in enumerate(orders):
        if n == 3:
            continue  # left to place (once its planned time has come)
        orders_service.place_order(order, f"DEMO-{order.id:05d}", order.cost_cents,
                             order.buyer_account, inspector)
        if n == 2:
            continue  # left to receive
        orders_service.receive_order(order, today, PackageCondition.INTACT, inspector)
        if n == 1:
            continue  # left to inspect
        checkpoints = inspections.checkpoints_for(order.listing.category)
        inspections.submit_inspection(order, inspections.InspectionInput(
            observed_grade=order.listing.promised_grade, battery_percent=91,
            battery_cycles=212, battery_swollen=False, cable_missing=False,
            notes="Demo inspection: device as described.",
            outcomes={c.code: (True, "") for c in checkpoints}), inspector)
