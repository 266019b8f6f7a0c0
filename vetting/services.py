"""Seller operations. They flush; the caller commits."""

from __future__ import annotations

from sqlalchemy import func, select

from core import audit
from core.db import db
from vetting.models import Seller

DEMO_SELLERS = [
    ("Renewd Devices GmbH", "Renewd", "DE", "HRB 204871", "DE811907980",
     "quality@renewd.example", "https://renewd.example", "smartphone,tablet", 420),
    ("Seconde Vie Électronique SAS", "Seconde Vie", "FR", "852 379 114", "FR40852379114",
     "contact@secondevie.example", "https://secondevie.example", "smartphone,laptop", 260),
    ("Reboot Tech S.L.", "Reboot", "ES", "B-86753091", "ESB86753091",
     "calidad@reboot.example", "https://reboot.example", "laptop", 90),
]


def count_sellers() -> int:
    """How many sellers are registered."""
    return db.session.execute(select(func.count()).select_from(Seller)).scalar_one()


def ensure_demo_sellers() -> list[tuple[Seller, bool]]:
    """Create the demo sellers that do not exist yet; return each with whether it was new."""
    out = []
    for legal, trading, country, reg, vat, email, web, cats, volume in DEMO_SELLERS:
        seller = db.session.execute(
            select(Seller).where(Seller.registration_number == reg, Seller.country == country)
        ).scalar_one_or_none()
        created = seller is None
        if seller is None:
            seller = Seller(legal_name=legal, trading_name=trading, country=country,
                            registration_number=reg, vat_id=vat, contact_email=email,
                            website=web, device_categories=cats,
                            declared_monthly_volume=volume)
            db.session.add(seller)
            db.session.flush()
            audit.record("seller.created", "seller", seller.id,
                         {"legal_name": legal, "country": country, "registration_number": reg,
                          "source": "demo seed"})
        out.append((seller, created))
    return out
