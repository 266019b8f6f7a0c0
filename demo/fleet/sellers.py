"""The fleet's sellers: identities in 13 countries, true defect rates, listings and the day
each gets its label (78% in the 60 days before the first month, 20% later, 2% never).

Each seller's details are stored and audited as ``vetting.sellers`` builds them for the
registration service, and its listings as a listing import would record them.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from demo.fleet.data import (
    CATEGORY_SHARE,
    COUNTRIES,
    DEVICE_MODELS,
    GRADE_PRICE,
    GRADE_WEIGHTS,
    INITIAL_SHARE,
    NAME_HEADS,
    NAME_TAILS,
    PENDING_SHARE,
    SOURCE,
    identity,
    units,
)
from demo.fleet.ledger import GRANT, Ledger
from demo.fleet.model import FleetListing, FleetSeller, at_business_hours, stream
from qc.listing_csv import listing_import_payload
from qc.simulate import draw_defect_rate
from vetting.sellers import SellerInput, seller_columns, seller_created_payload
from vetting.validation import normalise_registration


def make_sellers(ledger: Ledger) -> None:
    """Draw identities, defect rates, listings and label dates; ids in registration order."""
    seed = ledger.config.seed
    rng = stream(seed, "sellers")
    countries = [c for c, *_ in COUNTRIES]
    weights = [w for _, w, *_ in COUNTRIES]
    forms = {c: (form, cities) for c, _, form, cities in COUNTRIES}
    late_from = ledger.first_start + timedelta(days=20)
    late_to = ledger.as_of - timedelta(days=30)
    drafts = []
    keys: set[tuple[str, str]] = set()
    names: set[str] = set()
    for index in range(ledger.config.sellers):
        country = rng.choices(countries, weights)[0]
        registration, vat = identity(country, rng)
        while (country, normalise_registration(registration)) in keys:
            registration, vat = identity(country, rng)
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
            grant_day = ledger.first_start.date() - timedelta(days=rng.randint(3, 60))
            grant: datetime | None = at_business_hours(grant_day, rng)
        elif u < 1 - PENDING_SHARE and late_to > late_from:
            span = (late_to - late_from).days
            grant = at_business_hours(
                late_from.date() + timedelta(days=rng.randrange(span)), rng)
        else:
            grant = None
        # Registered 2-17 weeks before the grant (all after the staff accounts exist), or
        # lately for an applicant without a label yet.
        registered = at_business_hours(
            grant.date() - timedelta(days=rng.randint(14, 120)) if grant is not None
            else ledger.as_of.date() - timedelta(days=rng.randint(4, 60)), rng)
        drafts.append((registered, index, country, registration, vat, trading, legal, p,
                       grant))
    drafts.sort(key=lambda d: (d[0], d[1]))
    for registered, index, country, registration, vat, trading, legal, p, grant in drafts:
        seller_id = ledger.new_id("sellers")
        life = stream(seed, "life", index)
        seller = FleetSeller(id=seller_id, p=p, row={}, registered_at=registered,
                         listings=[],
                         outcomes=stream(seed, "outcomes", index), life=life)
        _make_listings(ledger, seller, life)
        slug = re.sub(r"[^a-z0-9]+", "", trading.lower())
        categories = sorted({item.category for item in seller.listings})
        details = SellerInput(
            legal_name=legal, trading_name=trading, country=country,
            registration_number=registration, vat_id=vat,
            contact_email=f"quality@{slug}-{seller_id}.example",
            website=f"https://{slug}-{seller_id}.example",
            device_categories=tuple(categories),
            declared_monthly_volume=sum(item.units for item in seller.listings))
        seller.row = seller_columns(details)
        ledger.sellers.append(seller)
        ledger.write_audit(registered, ledger.staff.clerk, "seller.created", "seller", seller_id,
                           seller_created_payload(details, SOURCE))
        filename = f"fleet-listings-seller-{seller_id}.csv"
        count = len(seller.listings)
        ledger.write_audit(registered + timedelta(minutes=30), ledger.staff.clerk,
                           "listing.imported", "listing_import", filename,
                           listing_import_payload(filename, count, count, 0))
        if grant is not None:
            ledger.push(grant, GRANT, seller)


def _make_listings(ledger: Ledger, seller: FleetSeller, rng: random.Random) -> None:
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
        listing = FleetListing(id=ledger.new_id("listings"), seller_id=seller.id, sku=sku,
                           device_model=model, category=category, grade=grade,
                           price_cents=price, units=units(rng, size),
                           created_at=seller.registered_at + timedelta(minutes=30))
        seller.listings.append(listing)
        ledger.listings.append(listing)
