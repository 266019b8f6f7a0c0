"""Session security: no fixation, copied cookies die with the session, CSRF tokens are bound
to one session and refused when replayed elsewhere or later."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import db
from core.models import AuditEntry, User
from tests.conftest import csrf_token, post_form, sign_in
from tests.factories import UserFactory
from tests.web.vetting_helpers import SELLER
from vetting.models import Seller

COOKIE = "labelkeeper_session"
CSRF_REFUSED = "nothing was saved"


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def client_with_cookie(app: Flask, value: str) -> FlaskClient:
    """A fresh browser that presents a copied session cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def is_sign_in_page(client: FlaskClient) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def make_user(email: str, *roles: str) -> User:
    user = UserFactory(email=email, roles=list(roles) or ["vetting"])
    db.session.commit()
    return user


def count(model: type) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_cookie_planted_before_sign_in_is_not_the_signed_in_session(
        app: Flask, client: FlaskClient) -> None:
    make_user("vic@example.test")
    attacker = app.test_client()
    attacker.get("/login")
    planted = cookie_of(attacker)
    victim = client_with_cookie(app, planted)
    assert sign_in(victim, "vic@example.test").status_code == 302
    assert cookie_of(victim) != planted
    assert victim.get("/").status_code == 200
    assert is_sign_in_page(attacker)  # the planted cookie grants nothing


def test_the_form_token_changes_at_sign_in(app: Flask, client: FlaskClient) -> None:
    make_user("una@example.test")
    before = csrf_token(client, "/login")
    sign_in(client, "una@example.test")
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400
    assert CSRF_REFUSED in response.get_data(as_text=True)
    assert client.get("/").status_code == 200


def test_a_cookie_copied_before_sign_out_is_refused_after_it(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    copied = cookie_of(client)
    token = csrf_token(client, "/vetting/sellers/new")
    assert client_with_cookie(app, copied).get("/").status_code == 200
    assert post_form(client, "/logout", {}).status_code == 302
    thief = client_with_cookie(app, copied)
    assert is_sign_in_page(thief)
    response = thief.post("/vetting/sellers/new", data={**SELLER, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert count(Seller) == 0


def test_password_reset_and_deactivation_end_copied_sessions(
        app: Flask, client: FlaskClient, login: Callable[..., object]) -> None:
    login("admin")
    target = make_user("tom@example.test", "vetting")
    for change in ("password", "active"):
        other = app.test_client()
        assert sign_in(other, "tom@example.test").status_code == 302
        copied = client_with_cookie(app, cookie_of(other))
        assert copied.get("/").status_code == 200
        page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
        prefix = "pw" if change == "password" else "toggle"
        token = re.search(rf'name="{prefix}-csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        data = {f"{prefix}-csrf_token": token.group(1)}
        if change == "password":
            data.update({"pw-password": "correct-horse-battery", "pw-confirm":
                         "correct-horse-battery"})
        assert client.post(f"/admin/users/{target.id}/{change}", data=data).status_code == 302
        assert is_sign_in_page(copied), change
        assert is_sign_in_page(other), change


def test_a_form_token_works_only_in_its_own_session(app: Flask, client: FlaskClient) -> None:
    make_user("ana@example.test")
    make_user("ben@example.test")
    ana, ben = app.test_client(), app.test_client()
    sign_in(ana, "ana@example.test")
    sign_in(ben, "ben@example.test")
    anas_token = csrf_token(ana, "/vetting/sellers/new")
    for token in (anas_token, None, "forged", anas_token[:-2] + "xx"):
        data = dict(SELLER)
        if token is not None:
            data["csrf_token"] = token
        response = ben.post("/vetting/sellers/new", data=data)
        assert response.status_code == 400, token
        assert CSRF_REFUSED in response.get_data(as_text=True)
    assert count(Seller) == 0
    assert post_form(ben, "/vetting/sellers/new", SELLER).status_code == 302
    assert count(Seller) == 1


def test_a_form_token_from_before_sign_out_is_refused_after_signing_in_again(
        app: Flask, client: FlaskClient) -> None:
    make_user("ida@example.test")
    sign_in(client, "ida@example.test")
    old = csrf_token(client, "/vetting/sellers/new")
    post_form(client, "/logout", {})
    sign_in(client, "ida@example.test")
    audit_before = count(AuditEntry)
    response = client.post("/vetting/sellers/new", data={**SELLER, "csrf_token": old})
    assert response.status_code == 400
    assert CSRF_REFUSED in response.get_data(as_text=True)
    assert count(Seller) == 0
    assert count(AuditEntry) == audit_before
