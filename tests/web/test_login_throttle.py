"""Sign-in throttling holds when many wrong passwords arrive at once.

A real threaded server on 127.0.0.1 takes simultaneous sign-in attempts, each from its own
browser (cookie jar and form token). Every password check is counted and slowed down a
little, so attempts overlap for certain: were the failure count read and written without
serialising, more checks than the limit would pass before the lockout.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

import core.services
from core.db import db
from core.models import AuditEntry, LoginAttempt
from tests.conftest import CSRF_RE, TEST_PASSWORD, csrf_token
from tests.factories import UserFactory

PARALLEL = 20
THROTTLED = "Too many failed sign-in attempts"
WRONG = "Email or password is incorrect."


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """One visitor: its own cookies, following no redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()), _NoRedirect())

    def open(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urlencode(data).encode() if data is not None else None
        request = Request(self.base + path, data=body)  # noqa: S310 - a loopback test server
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except HTTPError as exc:
            return exc.code, exc.read().decode()

    def login_form(self) -> str:
        status, page = self.open("/login")
        assert status == 200
        match = CSRF_RE.search(page)
        assert match
        return match.group(1)

    def sign_in(self, token: str, email: str, password: str) -> tuple[int, str]:
        return self.open("/login", {"email": email, "password": password, "csrf_token": token})


class CheckCounter:
    """Wraps the password check: counts the calls and makes each one take a while."""

    def __init__(self, real: Callable[[str, str], bool]) -> None:
        self.real = real
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, pwhash: str, password: str) -> bool:
        with self.lock:
            self.calls += 1
        time.sleep(0.05)
        return self.real(pwhash, password)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> CheckCounter:
    counter = CheckCounter(core.services.check_password_hash)
    monkeypatch.setattr(core.services, "check_password_hash", counter)
    return counter


@pytest.fixture
def server(app_factory: Callable[..., Flask]) -> Iterator[tuple[Flask, str]]:
    app = app_factory(LOGIN_MAX_FAILURES=5, LOGIN_MAX_FAILURES_PER_IP=8)
    with app.app_context():
        UserFactory(email="target@example.test", roles=["compliance"])
        db.session.commit()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def attempt_all_at_once(base: str, credentials: list[tuple[str, str]]) -> list[tuple[int, str]]:
    """Open a login form per attempt first, then send every attempt at the same moment."""
    browsers = [Browser(base) for _ in credentials]
    tokens = [b.login_form() for b in browsers]
    start = threading.Barrier(len(credentials))

    def go(i: int) -> tuple[int, str]:
        start.wait()
        return browsers[i].sign_in(tokens[i], *credentials[i])

    with ThreadPoolExecutor(max_workers=len(credentials)) as pool:
        return list(pool.map(go, range(len(credentials))))


def outcomes(results: list[tuple[int, str]]) -> dict[str, int]:
    counts = {"wrong": 0, "throttled": 0, "other": 0}
    for status, page in results:
        key = ("throttled" if THROTTLED in page else "wrong" if WRONG in page else "other")
        counts[key] += 1
        assert status == 200, (status, re.sub(r"\s+", " ", page)[:300])
    return counts


def test_parallel_wrong_passwords_for_one_email_pass_no_more_checks_than_allowed(
        server: tuple[Flask, str], checks: CheckCounter) -> None:
    app, base = server
    limit = app.config["LOGIN_MAX_FAILURES"]
    results = attempt_all_at_once(base, [("target@example.test", f"wrong-guess-{i:02d}")
                                         for i in range(PARALLEL)])
    counts = outcomes(results)
    assert checks.calls == limit
    assert counts == {"wrong": limit, "throttled": PARALLEL - limit, "other": 0}

    # the right password is refused during the lockout, and starts no session
    browser = Browser(base)
    status, page = browser.sign_in(browser.login_form(), "target@example.test", TEST_PASSWORD)
    assert status == 200
    assert THROTTLED in page
    assert checks.calls == limit
    assert browser.open("/")[0] == 302
    with app.app_context():
        attempts = db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar()
        throttles = db.session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "auth.throttled")).scalar()
        logins = db.session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "auth.login")).scalar()
    assert attempts == PARALLEL + 1
    assert throttles == 1
    assert logins == 0


def test_parallel_attempts_on_many_emails_from_one_address_hold_the_address_limit(
        server: tuple[Flask, str], checks: CheckCounter) -> None:
    app, base = server
    limit = app.config["LOGIN_MAX_FAILURES_PER_IP"]
    results = attempt_all_at_once(base, [(f"guess{i:02d}@example.test", "wrong-guess-here")
                                         for i in range(PARALLEL)])
    counts = outcomes(results)
    assert checks.calls == limit
    assert counts == {"wrong": limit, "throttled": PARALLEL - limit, "other": 0}
    browser = Browser(base)
    status, page = browser.sign_in(browser.login_form(), "target@example.test", TEST_PASSWORD)
    assert THROTTLED in page


def test_many_staff_signing_in_at_once_from_one_address_all_get_in(
        server: tuple[Flask, str], checks: CheckCounter) -> None:
    app, base = server
    with app.app_context():
        emails = [UserFactory(email=f"crowd{i:02d}@example.test").email for i in range(12)]
        db.session.commit()
    results = attempt_all_at_once(base, [(email, TEST_PASSWORD) for email in emails])
    assert [status for status, _ in results] == [302] * len(emails)
    assert checks.calls == len(emails)


@pytest.mark.parametrize("proxies", [0, 1])
def test_the_address_limit_trusts_forwarded_addresses_only_behind_a_configured_proxy(
        app_factory: Callable[..., Flask], proxies: int) -> None:
    """Behind a reverse proxy every request comes from the proxy: without TRUSTED_PROXIES
    all staff would share one address limit. Without a proxy, a forged X-Forwarded-For must
    not let a guesser dodge the limit."""
    app = app_factory(LOGIN_MAX_FAILURES_PER_IP=3, TRUSTED_PROXIES=proxies)
    client = app.test_client()

    def attempt(email: str, forwarded_for: str) -> str:
        token = csrf_token(client, "/login")
        return client.post("/login", headers={"X-Forwarded-For": forwarded_for}, data={
            "email": email, "password": "wrong-guess-here", "csrf_token": token,
        }).get_data(as_text=True)

    for i in range(3):
        assert WRONG in attempt(f"guess{i}@example.test", f"203.0.113.{i}")
    page = attempt("someone@example.test", "198.51.100.7")
    with app.app_context():
        addresses = set(db.session.execute(select(LoginAttempt.ip)).scalars())
    if proxies:
        assert WRONG in page
        assert addresses == {"203.0.113.0", "203.0.113.1", "203.0.113.2", "198.51.100.7"}
    else:
        assert THROTTLED in page
        assert addresses == {"127.0.0.1"}
