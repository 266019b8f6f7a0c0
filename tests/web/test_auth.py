"""Signing in and out, throttling, sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.config import defaults
from core.db import db
from core.models import AuditEntry, LoginAttempt
from tests.conftest import TEST_PASSWORD, csrf_token, post_form, sign_in
from tests.factories import UserFactory


def audit_actions() -> list[str]:
    return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


def make_user(**kw: object):  # type: ignore[no-untyped-def]
    user = UserFactory(**kw)
    db.session.commit()
    return user


def test_login_page_renders_with_a_form(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert "Sign in" in response.get_data(as_text=True)


def test_sign_in_shows_role_navigation_and_is_audited(client: FlaskClient) -> None:
    make_user(email="ann@example.test", roles=["compliance"], display_name="Ann")
    response = sign_in(client, "ANN@example.test ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Welcome, Ann" in page
    assert "Suspension reviews" in page
    assert "Staff accounts" not in page
    assert audit_actions() == ["auth.login"]


def test_wrong_password_shows_an_error_and_starts_no_session(client: FlaskClient) -> None:
    make_user(email="bob@example.test")
    response = sign_in(client, "bob@example.test", "wrong-password-here")
    assert response.status_code == 200
    assert "Email or password is incorrect." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert audit_actions() == []


def test_unknown_email_gets_the_same_message(client: FlaskClient) -> None:
    response = sign_in(client, "nobody@example.test", "whatever-password")
    assert "Email or password is incorrect." in response.get_data(as_text=True)


def test_inactive_account_is_refused_with_a_clear_message(client: FlaskClient) -> None:
    make_user(email="old@example.test", active=False)
    response = sign_in(client, "old@example.test")
    assert "deactivated" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_throttle_after_repeated_failures_then_recovers(app: Flask,
                                                       client: FlaskClient) -> None:
    now = [datetime(2026, 5, 1, 9, 0)]
    app.config["CLOCK"] = lambda: now[0]
    make_user(email="eve@example.test")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, "eve@example.test", "bad-password-guess")
    # the right password is now refused too
    response = sign_in(client, "eve@example.test")
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert audit_actions().count("auth.throttled") == 1
    throttle = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "auth.throttled")).scalar_one()
    assert '"failures_for_email":5' in throttle.payload
    # after the window the person can sign in again
    now[0] += timedelta(seconds=app.config["LOGIN_THROTTLE_WINDOW"] + 1)
    assert sign_in(client, "eve@example.test").status_code == 302


def test_success_resets_the_failure_count(client: FlaskClient, app: Flask) -> None:
    make_user(email="sam@example.test")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        sign_in(client, "sam@example.test", "bad-password-guess")
    assert sign_in(client, "sam@example.test").status_code == 302
    post_form(client, "/logout", {})
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        sign_in(client, "sam@example.test", "bad-password-guess")
    assert sign_in(client, "sam@example.test").status_code == 302


def test_logout_ends_the_session(client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    assert client.get("/").status_code == 200
    response = post_form(client, "/logout", {})
    assert response.status_code == 302
    follow = client.get("/")
    assert follow.status_code == 302
    assert follow.headers["Location"].startswith("/login")
    assert audit_actions()[-1] == "auth.logout"


def test_logout_without_csrf_token_keeps_the_session(client: FlaskClient,
                                                    login: Callable[..., object]) -> None:
    login("vetting")
    response = client.post("/logout")
    assert response.status_code == 400
    assert client.get("/").status_code == 200


def test_next_parameter_only_redirects_within_the_site(client: FlaskClient) -> None:
    make_user(email="nia@example.test", roles=["vetting"])
    token = csrf_token(client)
    response = client.post("/login?next=//evil.example/x", data={
        "email": "nia@example.test", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"
    post_form(client, "/logout", {})
    token = csrf_token(client)
    response = client.post("/login?next=/vetting/sellers", data={
        "email": "nia@example.test", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/vetting/sellers"


def test_login_without_or_with_forged_csrf_token_is_refused(client: FlaskClient) -> None:
    make_user(email="kim@example.test")
    for token in (None, "forged-token"):
        data = {"email": "kim@example.test", "password": TEST_PASSWORD}
        if token:
            data["csrf_token"] = token
        response = client.post("/login", data=data)
        assert response.status_code == 400
        assert "nothing was saved" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 0


def test_over_long_email_is_rejected_by_the_form(client: FlaskClient) -> None:
    response = sign_in(client, "a" * 300 + "@example.test")
    assert response.status_code == 200
    assert "Field cannot be longer than 254 characters" in response.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 0


def test_session_cookie_is_hardened(client: FlaskClient) -> None:
    make_user(email="cat@example.test")
    response = sign_in(client, "cat@example.test")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_is_secure_unless_configured_otherwise(tmp_path: Path) -> None:
    assert defaults(str(tmp_path))["SESSION_COOKIE_SECURE"] is True
