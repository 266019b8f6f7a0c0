"""Security headers, error pages, health check."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from core.roles import public

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"\sstyle=|<style", re.I)


def test_security_headers_on_every_page(client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_scripts_or_styles(client: FlaskClient, app: Flask,
                                                login: Callable[..., object]) -> None:
    login("admin", "vetting", "inspector", "compliance")
    urls = ["/login", "/", "/admin/users", "/admin/users/new", "/admin/users/1", "/audit",
            "/vetting/sellers", "/qc/orders", "/compliance/reviews", "/no-such-page"]
    for url in urls:
        html = client.get(url).get_data(as_text=True)
        assert not INLINE_SCRIPT.search(html), url
        assert not INLINE_STYLE.search(html), url


def test_bootstrap_is_served_locally(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert "cdn.jsdelivr.net" not in html
    css = re.search(r'href="(/bootstrap/static/[^"]+\.css)"', html)
    assert css
    assert client.get(css.group(1)).status_code == 200


def test_unknown_url_gets_a_friendly_404(client: FlaskClient) -> None:
    response = client.get("/definitely/not/here")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_unexpected_error_gets_a_friendly_500_without_a_trace(
        app_factory: Callable[..., Flask]) -> None:
    app = app_factory(PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom")
    @public
    def boom() -> str:
        raise ZeroDivisionError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "secret internals" not in body
    assert "Traceback" not in body


def test_healthz_checks_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(app_factory: Callable[..., Flask],
                                                 tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"
    assert response.headers["Retry-After"] == "5"


def test_app_refuses_the_development_secret_in_production(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from app import create_app
    with pytest.raises(RuntimeError, match="development SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3",
                    "SECRET_KEY": "dev-only-not-secret"})


def test_a_schema_mistake_is_a_500_not_a_503(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(PROPAGATE_EXCEPTIONS=False)

    @app.route("/bad-sql")
    @public
    def bad_sql() -> str:
        from sqlalchemy import text

        from core.db import db
        db.session.execute(text("SELECT no_such_column FROM users"))
        return "unreachable"

    response = app.test_client().get("/bad-sql")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)


def test_an_id_too_large_for_the_database_is_a_404(client: FlaskClient,
                                                    login: Callable[..., object]) -> None:
    login("inspector", "compliance")
    for url in ("/qc/orders/99999999999999999999", "/compliance/sellers/99999999999999999999"):
        assert client.get(url).status_code == 404
