"""Shared fixtures: an app on a freshly migrated database, clients, and sign-in helpers.

SQLite (the default): the schema is migrated once into a template file and every test gets
its own copy. PostgreSQL (DATABASE_URL set): migrated once, then every table is truncated
before each test.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from app import create_app
from core.db import db
from core.logs import JsonFormatter
from core.redact import is_sensitive_field
from core.roles import Role
from demo.seed import DEMO_PASSWORD_SUFFIX
from tests import factories
from tests.logscan import MIN_SECRET_LENGTH, find_leaks

PG_URL = os.environ.get("DATABASE_URL")

# Hypothesis profiles: `make test` keeps each property's own example count (the web forms run
# tests/web/hostile.py's WEB_EXAMPLES); HYPOTHESIS_PROFILE=soak (for `make soak`) raises the
# default to 1000 examples and the web forms to ten times theirs.
hypothesis_settings.register_profile("soak", max_examples=1000, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    hypothesis_settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TEST_PASSWORD = factories.TEST_PASSWORD

# Values that must never appear in any log record of the session (see log_scan below).
EVIDENCE_MARKER = "LK-EVIDENCE-CONTENT-MARKER-3f9a1c"
LOG_SECRETS: set[str] = {TEST_PASSWORD, EVIDENCE_MARKER, *(
    name + DEMO_PASSWORD_SUFFIX for name in [r.value for r in Role] + ["approver"])}


def register_secret(value: object) -> None:
    """Remember a value the session's logs must not contain (passwords, CSRF tokens)."""
    # Filler such as "x" * 255 (posted as a password by the hostile-input tests) also turns
    # up innocently in logged addresses; a secret has some variety.
    if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH and len(set(value)) >= 4:
        LOG_SECRETS.add(value)


@pytest.fixture(autouse=True)
def _register_issued_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """API token and webhook secrets issued during a test join the log scan's list."""
    from core import services as core_services
    from webhooks import services as webhook_services

    issue_token, new_secret = core_services.create_api_token, webhook_services.new_secret

    def create_api_token(*args: Any, **kwargs: Any) -> Any:
        issued = issue_token(*args, **kwargs)
        register_secret(issued.secret)
        return issued

    def new_webhook_secret() -> str:
        secret = new_secret()
        register_secret(secret)
        return secret

    monkeypatch.setattr(core_services, "create_api_token", create_api_token)
    monkeypatch.setattr(webhook_services, "new_secret", new_webhook_secret)


@pytest.fixture(scope="session", autouse=True)
def log_scan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Collect every log record of the session; fail the run if a known secret is in one."""
    path = tmp_path_factory.mktemp("logs") / "session.jsonl"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()
    leaks = find_leaks(path.read_text(encoding="utf-8", errors="replace"), LOG_SECRETS)
    if leaks:
        pytest.fail(f"secrets reached the logs ({path}):\n" + "\n".join(leaks), pytrace=False)


def make_config(db_uri: str, **extra: object) -> dict[str, object]:
    """Configuration for a test app on `db_uri`."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": db_uri,
        "SESSION_COOKIE_SECURE": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast hashing keeps the suite quick
        **extra,
    }


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Migrate an empty database once for the session (a template file on SQLite)."""
    if PG_URL:
        app = create_app(make_config(PG_URL))
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
        return None
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = create_app(make_config(f"sqlite:///{path}"))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return path


# Reference data that migrations seed; emptying it would leave tests without a catalog.
SEEDED_TABLES = frozenset({"checkpoints"})


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(t.name for t in db.metadata.sorted_tables
                       if t.name not in SEEDED_TABLES)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def db_uri(template_db: Path | None, tmp_path: Path) -> str:
    """A clean, fully migrated database for this test."""
    if template_db is None:
        assert PG_URL
        _truncate_all(PG_URL)
        return PG_URL
    target = tmp_path / "test.sqlite3"
    shutil.copyfile(template_db, target)
    return f"sqlite:///{target}"


class RequestClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The test's own session commits first, so it holds no SQLite lock during the request and
    sees the request's writes afterwards.
    """

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if has_app_context():
            db.session.commit()
        data = kwargs.get("data")
        if isinstance(data, dict):
            for key, value in data.items():
                if is_sensitive_field(str(key)):
                    register_secret(value)
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app_factory(db_uri: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps on this test's database (extra config as keyword arguments)."""
    made: list[Flask] = []

    def build(**extra: object) -> Flask:
        app = create_app(make_config(db_uri, **{
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "PLAN_SEED_DIR": str(tmp_path / "plan-seeds"),
            "REPORT_DIR": str(tmp_path / "reports"),
            "NOTICE_OUTBOX_DIR": str(tmp_path / "outbox"),
            "SCHEDULER_LOCK_FILE": str(tmp_path / "scheduler.lock"),
            **extra}))
        app.test_client_class = RequestClient
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Iterator[Flask]:
    """The application under test, with an app context pushed."""
    app = app_factory()
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """Fetch a page with a form and return this session's CSRF token."""
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    register_secret(match.group(1))
    return match.group(1)


def post_form(client: FlaskClient, path: str, data: dict[str, object],
              token_from: str = "/", **kwargs: object):  # noqa: S107 - a path, not a password  # type: ignore[no-untyped-def]
    """POST a form with a valid CSRF token taken from `token_from`."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from)},
                       **kwargs)


def sign_in(client: FlaskClient, email: str, password: str = TEST_PASSWORD):  # type: ignore[no-untyped-def]
    """Sign in through the login form."""
    register_secret(password)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(client, "/login")})


@pytest.fixture
def login(client: FlaskClient, app: Flask) -> Callable[..., object]:
    """Sign the test client in as a new user holding `roles`; return that user."""

    def do(*roles: str, email: str | None = None) -> object:
        user = factories.UserFactory(roles=list(roles),
                                     email=email or f"{'-'.join(roles)}@example.test")
        db.session.commit()
        response = sign_in(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return do
