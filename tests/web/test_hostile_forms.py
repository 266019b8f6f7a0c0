"""Hostile input on every form: never a 5xx, a visible message and nothing stored on refusal,
and accepted values stored as posted (see tests/web/hostile.py for the property)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.security import check_password_hash

from core.db import db
from core.models import User
from tests.factories import UserFactory
from tests.web.hostile import (
    Current,
    Poster,
    encode,
    first,
    hostile,
    nasty_text,
    web_settings,
)
from tests.web.vetting_helpers import SELLER, act, create_seller, start_application
from vetting.models import Application, ChecklistTemplate, Seller

letters = st.characters(whitelist_categories=("Lu", "Ll", "Lt", "Lo", "Nd"))
words = st.text(st.one_of(letters, st.just(" ")), min_size=1, max_size=60).filter(str.strip)
counter = itertools.count(1)


def fresh(model: type, ident: int) -> Any:
    db.session.expire_all()
    return db.session.get(model, ident)


# ---------------------------------------------------------------- sign-in and accounts


def test_login_form(app: Flask, client: FlaskClient) -> None:
    UserFactory(email="known@example.test", roles=["admin"])
    db.session.commit()
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 10**9  # the fuzzing is not a brute force
    app.config["LOGIN_MAX_FAILURES"] = 10**9
    poster = Poster(client, exclude=frozenset({"login_attempts"}), token_from="/login")

    @web_settings
    @given(email=hostile(st.just("known@example.test"), (254,)),
           password=hostile(st.just("wrong-password-1"), (256,)))
    def run(email: Any, password: Any) -> None:
        poster._token = ""
        outcome = poster.post("/login", encode({"email": email, "password": password}),
                              follow=False)
        assert not outcome.accepted
        assert outcome.status in (200, 400)  # 400: a NUL character

    run()


def user_fields() -> dict[str, Any]:
    return {"email": hostile(st.emails(), (254,)),
            "display_name": hostile(words, (120,)),
            "roles": hostile(st.lists(st.sampled_from(["admin", "vetting", "inspector",
                                                       "compliance"]), min_size=1)),
            "password": hostile(st.just("a-long-password-1"), (12, 256)),
            "confirm": hostile(st.just("a-long-password-1"), (12, 256))}


def test_user_create_form(client: FlaskClient, login: Callable[..., object]) -> None:
    login("admin")
    poster = Poster(client)

    @web_settings
    @given(st.fixed_dictionaries(user_fields()))
    def run(data: dict[str, Any]) -> None:
        outcome = poster.post("/admin/users/new", encode(data))
        if outcome.accepted:
            user = fresh(User, int(outcome.location.rsplit("/", 1)[1]))
            assert user.email == first(data["email"]).strip().lower()
            assert user.display_name == first(data["display_name"]).strip()
            assert check_password_hash(user.password_hash, first(data["password"]))

    run()


def test_user_edit_and_password_forms(client: FlaskClient, login: Callable[..., object]) -> None:
    login("admin")
    target = UserFactory(roles=["inspector"])
    db.session.commit()
    poster = Poster(client)
    version = Current(lambda: fresh(User, target.id).version)

    @web_settings
    @given(name=hostile(words, (120,)),
           roles=hostile(st.lists(st.sampled_from(["vetting", "inspector"]), min_size=1)),
           version=hostile(st.just(version), numeric=True),
           password=hostile(st.just("another-long-password"), (12, 256)))
    def run(name: Any, roles: Any, version: Any, password: Any) -> None:
        old_name = fresh(User, target.id).display_name
        outcome = poster.post(f"/admin/users/{target.id}", encode(
            {"display_name": name, "roles": roles, "version": version}))
        if outcome.accepted:  # a field left out of the post keeps its value
            user = fresh(User, target.id)
            assert user.display_name == (old_name if first(name) is None
                                         else first(name).strip())
            assert user.roles == set(roles.values if hasattr(roles, "values") else roles)
        outcome = poster.post(f"/admin/users/{target.id}/password", encode(
            {"password": password, "confirm": password}, prefix="pw-"), csrf_prefix="pw-")
        if outcome.accepted:
            assert check_password_hash(fresh(User, target.id).password_hash, first(password))

    run()


# ---------------------------------------------------------------- sellers


def seller_fields() -> dict[str, Any]:
    return {
        "legal_name": hostile(words, (200,)), "trading_name": hostile(words, (200,)),
        "country": hostile(st.sampled_from(["DE", "nl", "US", "JP"]), (2,)),
        "registration_number": hostile(words, (64,)),
        "vat_id": hostile(st.sampled_from(["DE811907980", "NL123456789B01", "US12345"]), (32,)),
        "contact_email": hostile(st.just("qa@phoenix-refurb.example"), (254,)),
        "website": hostile(st.just("https://phoenix-refurb.example"), (300,)),
        "device_categories": hostile(st.lists(st.sampled_from(
            ["smartphone", "tablet", "laptop", "smartwatch", "console"]), min_size=1)),
        "declared_monthly_volume": hostile(st.integers(0, 10**6).map(str), numeric=True),
    }


def check_seller(seller: Seller, data: dict[str, Any], before: dict[str, Any]) -> None:
    """Each posted value is stored (stripped); a field left out of an edit keeps its value."""
    for name in ("legal_name", "trading_name", "registration_number"):
        value = first(data[name])
        assert getattr(seller, name) == (before.get(name, "") if value is None
                                         else value.strip()), name
    volume = first(data["declared_monthly_volume"])
    assert seller.declared_monthly_volume == (before.get("declared_monthly_volume")
                                              if volume is None else int(volume))


def test_seller_form(client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    poster = Poster(client)

    @web_settings
    @given(st.fixed_dictionaries(seller_fields()))
    def run(data: dict[str, Any]) -> None:
        outcome = poster.post("/vetting/sellers/new", encode(data))
        if outcome.accepted:
            check_seller(fresh(Seller, int(outcome.location.rsplit("/", 1)[1])), data, {})

    run()


def test_valid_sellers_are_registered_as_posted(client: FlaskClient,
                                                login: Callable[..., object]) -> None:
    login("vetting")
    poster = Poster(client)
    registrations = st.text(st.one_of(letters, st.sampled_from(" -/.ßİ\ufb03")),
                            min_size=1, max_size=64).filter(str.strip)

    @web_settings
    @given(legal=words, trading=st.one_of(st.just(""), words), registration=registrations,
           volume=st.integers(0, 10**6))
    def run(legal: str, trading: str, registration: str, volume: int) -> None:
        registration = f"{next(counter)}{registration}"[:64]
        data = {**SELLER, "legal_name": legal, "trading_name": trading,
                "registration_number": registration, "declared_monthly_volume": str(volume)}
        outcome = poster.post("/vetting/sellers/new", data)
        assert outcome.accepted, outcome.page[-3000:]
        check_seller(fresh(Seller, int(outcome.location.rsplit("/", 1)[1])), data, {})

    run()


def test_seller_edit_form(client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    seller = create_seller(client)
    poster = Poster(client)
    version = Current(lambda: fresh(Seller, seller.id).version)

    @web_settings
    @given(st.fixed_dictionaries({**seller_fields(),
                                  "version": hostile(st.just(version), numeric=True)}))
    def run(data: dict[str, Any]) -> None:
        old = fresh(Seller, seller.id)
        before = {n: getattr(old, n) for n in ("legal_name", "trading_name",
                                               "registration_number", "declared_monthly_volume")}
        outcome = poster.post(f"/vetting/sellers/{seller.id}/edit", encode(data))
        if outcome.accepted:
            check_seller(fresh(Seller, seller.id), data, before)

    run()


# ---------------------------------------------------------------- applications and checklist


def application_in_review(client: FlaskClient) -> Application:
    seller = create_seller(client)
    application = start_application(client, seller)
    assert act(client, application, "submit").status_code == 302
    assert act(client, application, "review").status_code == 302
    return fresh(Application, application.id)


def test_application_forms(client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    application = application_in_review(client)
    items = [item.id for item in application.items]
    poster = Poster(client)
    version = Current(lambda: fresh(Application, application.id).version)
    base = f"/vetting/applications/{application.id}"

    @web_settings
    @given(action=st.sampled_from(["submit", "review", "request-changes", "withdraw"]),
           message=hostile(words, (5000,)), version=hostile(st.just(version), numeric=True),
           item=st.sampled_from(items), result=hostile(st.sampled_from(["pass", "fail",
                                                                         "waived"])),
           note=hostile(words, (5000,)), waiver=hostile(words, (5000,)),
           decision=hostile(st.sampled_from(["approve", "reject"])))
    def run(action: str, message: Any, version: Any, item: int, result: Any, note: Any,
            waiver: Any, decision: Any) -> None:
        outcome = poster.post(f"{base}/items/{item}", encode(
            {"result": result, "note": note, "waiver_reason": waiver}, prefix=f"item{item}-"),
            csrf_prefix=f"item{item}-")
        if outcome.accepted:
            recorded = next(i for i in fresh(Application, application.id).items
                            if i.id == item)
            assert recorded.result == first(result)
            assert recorded.note == (first(note) or "").strip()
        poster.post(f"{base}/decision", encode(
            {"decision": decision, "reason": message, "version": version}))
        poster.post(f"{base}/{action}", encode({"message": message, "version": version}))

    run()


def test_checklist_edit_form(client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    client.get("/vetting/checklist")  # a page view first, as a user would
    poster = Poster(client)
    item = st.fixed_dictionaries({
        "code": hostile(st.text("ABCDEFGH-0123456789", min_size=1, max_size=20), (20,)),
        "title": hostile(words, (200,)), "guidance": hostile(words, (2000,)),
        "category": hostile(st.sampled_from(["legal", "operations", "quality"])),
        "required": hostile(st.sampled_from(["y", ""])),
        "evidence_required": hostile(st.sampled_from(["y", ""])),
        "remove": hostile(st.sampled_from(["", "y"]))})
    index = st.one_of(st.integers(0, 3).map(str), st.sampled_from(["99999", "²", "١", "-1",
                                                                   "0x1", " 1", "", "a"]))

    @web_settings
    @given(items=st.lists(st.tuples(index, item), max_size=4), note=hostile(words, (500,)))
    def run(items: list[tuple[str, dict[str, Any]]], note: Any) -> None:
        data: dict[str, Any] = encode({"note": note})
        for position, values in items:
            data.update(encode(values, prefix=f"items-{position}-"))
        outcome = poster.post("/vetting/checklist/edit", data)
        if outcome.accepted:
            db.session.expire_all()
            newest = db.session.execute(db.select(ChecklistTemplate).order_by(
                ChecklistTemplate.version.desc())).scalars().first()
            assert newest.note == first(note).strip()
            assert all(len(i.code) <= 20 for i in newest.items)

    run()


# ---------------------------------------------------------------- GET filters


def test_list_filters(client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting", "compliance", "inspector", "admin")
    create_seller(client)
    pages = ["/vetting/sellers", "/vetting/applications", "/qc/listings", "/qc/orders",
             "/audit", "/admin/users", "/compliance/reviews", "/compliance/reports"]
    keys = ["q", "country", "label_status", "sampling_state", "status", "seller", "queue",
            "action", "page", "per_page", "kind"]

    @web_settings
    @given(page=st.sampled_from(pages),
           args=st.dictionaries(st.sampled_from(keys), nasty_text((100,)), max_size=4))
    def run(page: str, args: dict[str, str]) -> None:
        response = client.get(page, query_string=args)
        assert response.status_code < 500, (page, args)

    run()


def test_missing_fields_only(client: FlaskClient, login: Callable[..., object]) -> None:
    """A form posted with nothing but its token is refused with a message."""
    login("vetting")
    poster = Poster(client)
    for path in ("/vetting/sellers/new", "/vetting/checklist/edit", "/vetting/sellers/import"):
        assert not poster.post(path, {}).accepted
