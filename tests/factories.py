"""Row factories for tests (factory_boy)."""

from __future__ import annotations

import factory
from werkzeug.security import generate_password_hash

from core.db import db
from core.models import User, UserRole
from qc.models import BuyerIdentity, Listing
from qc.services.buyers import name_key
from vetting.models import Seller
from vetting.validation import normalise_registration

TEST_PASSWORD = "correct-horse-battery"
_PASSWORD_HASH = generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256:1000")


class _Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class UserFactory(_Base):
    class Meta:
        model = User
        exclude = ("roles",)

    email = factory.Sequence(lambda n: f"staff{n}@example.test")
    display_name = factory.Sequence(lambda n: f"Staff Member {n}")
    password_hash = _PASSWORD_HASH
    active = True
    roles: list[str] = ["vetting"]
    role_rows = factory.LazyAttribute(lambda o: [UserRole(role=r) for r in o.roles])


class SellerFactory(_Base):
    class Meta:
        model = Seller

    legal_name = factory.Sequence(lambda n: f"Refurb Company {n} GmbH")
    trading_name = factory.Sequence(lambda n: f"Refurb {n}")
    country = "DE"
    registration_number = factory.Sequence(lambda n: f"HRB {100000 + n}")
    registration_key = factory.LazyAttribute(
        lambda o: normalise_registration(o.registration_number))
    vat_id = factory.Sequence(lambda n: f"DE{100000000 + n}")
    contact_email = factory.Sequence(lambda n: f"seller{n}@example.test")
    website = ""
    device_categories = "smartphone"
    declared_monthly_volume = 100


class ListingFactory(_Base):
    class Meta:
        model = Listing

    seller = factory.SubFactory(SellerFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    device_model = "iPhone 13 128 GB"
    category = "smartphone"
    promised_grade = "excellent"
    price_cents = 45_000
    monthly_units = 100


class BuyerIdentityFactory(_Base):
    """An active buyer identity of the pool test orders are placed under."""

    class Meta:
        model = BuyerIdentity

    name = factory.Sequence(lambda n: f"Test Buyer {n}")
    name_key = factory.LazyAttribute(lambda o: name_key(o.name))
    address = factory.Sequence(lambda n: f"Teststraße {n + 1}\n10115 Berlin\nGermany")
    payment_reference = factory.Sequence(lambda n: f"card ****{n % 10000:04d}")
    active = True
