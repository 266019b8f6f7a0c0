"""Hostile input on the integration forms: API tokens, webhook endpoints and the marketplace
signals import. Never a 5xx; a refused post explains itself and changes nothing; what is
accepted is stored as sent."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from core.db import db
from core.models import ApiToken
from qc.models import MarketplaceSignal
from qc.signal_csv import SIGNAL_COLUMNS
from tests.factories import SellerFactory
from tests.web.hostile import (
    Poster,
    Repeated,
    encode,
    first,
    hostile,
    nasty_number,
    web_settings,
)
from tests.web.test_hostile_imports import csv_file, import_post, rows_of
from webhooks.models import WebhookEndpoint


def test_api_token_form(client: FlaskClient, login: Callable[..., object]) -> None:
    login("admin")
    poster = Poster(client)

    @web_settings
    @given(name=hostile(st.text(min_size=1, max_size=64).filter(str.strip), (64, 65, 5000)),
           scopes=st.one_of(st.sampled_from([["read"], ["read", "write"], ["compliance"]]),
                            st.lists(st.text(max_size=12), max_size=4)))
    def run(name: object, scopes: list[str]) -> None:
        outcome = poster.post("/admin/api-tokens", encode({"name": name,
                                                           "scopes": Repeated(scopes)}))
        if outcome.accepted:
            db.session.expire_all()
            stored = db.session.execute(select(ApiToken).order_by(ApiToken.id.desc())
                                        .limit(1)).scalar_one()
            sent = first(name)
            if isinstance(sent, str):  # other drawn types reach the form as their text
                assert stored.name == sent.strip().lower()  # names are lower-case
            assert "lk_" in outcome.page  # the secret, shown once

    run()


def test_webhook_endpoint_form(client: FlaskClient, login: Callable[..., object]) -> None:
    login("admin")
    poster = Poster(client)
    urls = st.sampled_from(["https://hooks.example.test/a", "http://127.0.0.1:9/x",
                            "ftp://example.test/", "https://user:pw@example.test/",
                            "javascript:alert(1)", "https://", "//example.test/x"])

    @web_settings
    @given(url=hostile(urls, (500, 501, 5000)), description=hostile(st.text(max_size=200),
                                                                    (200, 201)))
    def run(url: object, description: object) -> None:
        outcome = poster.post("/admin/webhooks/new", encode({"url": url,
                                                             "description": description}))
        if outcome.accepted:
            db.session.expire_all()
            stored = db.session.execute(select(WebhookEndpoint).order_by(
                WebhookEndpoint.id.desc()).limit(1)).scalar_one()
            sent = first(url)
            if isinstance(sent, str):
                assert stored.url == sent.strip()
            assert stored.url.startswith(("https://", "http://"))

    run()


def test_signal_import(client: FlaskClient, login: Callable[..., object]) -> None:
    login("compliance")
    sellers = [SellerFactory(), SellerFactory()]
    db.session.commit()
    poster = Poster(client)
    valid_row = st.fixed_dictionaries({
        "seller_registration_number": st.sampled_from([s.registration_number
                                                       for s in sellers]),
        "seller_country": st.just(sellers[0].country),
        "month": st.sampled_from(["2026-01", "2026-02", "2025-12", "2026-13", "26-01"]),
        "orders": st.one_of(st.integers(0, 10**6).map(str), nasty_number()),
        "returns": st.one_of(st.integers(0, 1000).map(str), nasty_number()),
        "warranty_claims": st.one_of(st.integers(0, 1000).map(str), nasty_number())})

    @web_settings
    @given(content=csv_file(SIGNAL_COLUMNS, valid_row))
    def run(content: bytes) -> None:
        outcome = import_post(poster, "/qc/signals/import", content)
        if outcome.accepted:
            db.session.expire_all()
            stored = {(s.month.strftime("%Y-%m"), s.customer_returns) for s in
                      db.session.execute(select(MarketplaceSignal)).scalars()}
            for row in rows_of(content, SIGNAL_COLUMNS):
                assert (row["month"].strip(), int(row["returns"].strip())) in stored

    run()
