"""Demo data for trying Labelkeeper out (`flask --app app demo seed`): one account per role,
three sellers, their listings and labels, a pool of 40 buyer identities, a planned period with
a few orders in progress, and some months of marketplace signals. Running it again adds
nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from core.clock import utcnow
from core.db import db
from core.roles import Role
from core.services import create_user, get_user_by_email
from demo.buyers import ensure_demo_buyers
from qc.models import Listing, MarketplaceSignal, TestOrder
from qc.orders import PackageCondition
from qc.services import inspections, marketplace_signals, planning
from qc.services import orders as orders_service
from qc.signal_csv import SignalRow
from qc.signals import add_months, month_start
from vetting.labels import LabelStatus
from vetting.models import Seller
from vetting.sellers import SellerInput
from vetting.services.labels import change_label
from vetting.services.sellers import create_seller, find_seller

DEMO_PASSWORD_SUFFIX = "-demo-2026"  # noqa: S105 - documented demo logins

DEMO_SELLERS = [
    ("Renewd Devices GmbH", "Renewd", "DE", "HRB 204871", "DE811907980",
     "quality@renewd.example", "https://renewd.example", ("smartphone", "tablet"), 420),
    ("Seconde Vie Électronique SAS", "Seconde Vie", "FR", "852 379 114", "FR40852379114",
     "contact@secondevie.example", "https://secondevie.example", ("laptop", "smartphone"), 260),
    ("Reboot Tech S.L.", "Reboot", "ES", "B-86753091", "ESB86753091",
     "calidad@reboot.example", "https://reboot.example", ("laptop",), 90),
]

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


def ensure_demo_accounts() -> list[tuple[str, str, bool]]:
    """Create one demo account per role, plus a second vetting user for four-eyes approval;
    return (email, password, created) for each."""
    accounts = [(role.value, role.value) for role in Role] + [("approver", Role.VETTING.value)]
    out = []
    for name, role in accounts:
        email = f"{name}@labelkeeper.example"
        password = name + DEMO_PASSWORD_SUFFIX
        exists = get_user_by_email(email) is not None
        if not exists:
            create_user(email, f"Demo {name}", password, [role], actor=None)
        out.append((email, password, not exists))
    return out


def ensure_demo_sellers() -> list[tuple[Seller, bool]]:
    """Create the demo sellers that do not exist yet; return each with whether it was new."""
    out = []
    for legal, trading, country, reg, vat, email, web, cats, volume in DEMO_SELLERS:
        seller = find_seller(reg, country)
        if seller is None:
            out.append((create_seller(SellerInput(legal, trading, country, reg, vat, email,
                                                  web, cats, volume), None, "demo seed"), True))
        else:
            out.append((seller, False))
    return out


def ensure_demo_qc() -> dict[str, int]:
    """Create demo listings, label two demo sellers, fill the pool of buyer identities, plan
    this month, and work a few orders."""
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
    buyers = ensure_demo_buyers()
    now = utcnow()
    key = f"{now.year:04d}-{now.month:02d}"
    planned = 0
    if planning.get_run(key) is None:
        planned = planning.plan_period(key).orders_planned
        _work_a_few_orders()
    orders = db.session.execute(select(func.count()).select_from(TestOrder)).scalar_one()
    return {"listings": created, "buyers": buyers, "planned": planned, "orders": orders,
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
