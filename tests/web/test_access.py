"""Deny by default: every endpoint declares its roles, and the declarations hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from core.auth import endpoint_access
from core.roles import ALL_ROLES, PUBLIC, Role
from tests.conftest import sign_in
from tests.factories import UserFactory

OPEN_ENDPOINTS = {"core.login", "core.healthz", "static", "bootstrap.static"}


def sample_url(rule: Rule) -> str:
    """A concrete URL for a rule, filling every argument with a plausible value."""
    values: dict[str, object] = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]  # noqa: SLF001
        if isinstance(converter, AnyConverter):
            values[arg] = sorted(converter.items)[0]
        elif isinstance(converter, IntegerConverter):
            values[arg] = 1
        else:
            values[arg] = "x"
    return rule.build(values, append_unknown=False)[1]


def method_of(rule: Rule) -> str:
    return "GET" if "GET" in (rule.methods or ()) else sorted(rule.methods or {"POST"})[0]


def app_rules(app: Flask) -> Iterator[Rule]:
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in OPEN_ENDPOINTS:
            yield rule


def undeclared_endpoints(app: Flask) -> list[str]:
    return sorted({r.endpoint for r in app.url_map.iter_rules()
                   if endpoint_access(app, r.endpoint) is None})


def test_every_endpoint_declares_its_roles(app: Flask) -> None:
    assert undeclared_endpoints(app) == []


def test_open_endpoints_are_exactly_login_static_and_health(app: Flask) -> None:
    public = {r.endpoint for r in app.url_map.iter_rules()
              if endpoint_access(app, r.endpoint) == PUBLIC}
    assert public == OPEN_ENDPOINTS


def test_the_check_catches_an_undeclared_view_and_the_app_refuses_it(
        app_factory: Callable[..., Flask]) -> None:
    app = app_factory()
    extra = Blueprint("extra", __name__)

    @extra.route("/forgotten")
    def forgotten() -> str:
        return "secret"

    app.register_blueprint(extra)
    assert undeclared_endpoints(app) == ["extra.forgotten"]
    client = app.test_client()
    with app.app_context():
        UserFactory(email="root@example.test", roles=[r.value for r in Role])
        from core.db import db
        db.session.commit()
    sign_in(client, "root@example.test")
    response = client.get("/forgotten")
    assert response.status_code == 403
    assert "secret" not in response.get_data(as_text=True)


def test_anonymous_requests_are_sent_to_sign_in(client: FlaskClient, app: Flask) -> None:
    checked = 0
    for rule in app_rules(app):
        url = sample_url(rule)
        response = client.open(url, method=method_of(rule))
        assert response.status_code == 302, (rule.endpoint, response.status_code)
        assert response.headers["Location"].startswith("/login?next="), rule.endpoint
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_wrong_role_gets_403_and_right_role_does_not(role: str, client: FlaskClient,
                                                      app: Flask,
                                                      login: Callable[..., object]) -> None:
    login(role)
    for rule in app_rules(app):
        declared = endpoint_access(app, rule.endpoint)
        assert isinstance(declared, frozenset)
        response = client.open(sample_url(rule), method=method_of(rule))
        if role in declared:
            assert response.status_code != 403, rule.endpoint
        else:
            assert response.status_code == 403, (rule.endpoint, response.status_code)
            assert "Not allowed" in response.get_data(as_text=True)


def test_declarations_leave_no_page_to_everyone_but_home_and_logout(app: Flask) -> None:
    everyone = {r.endpoint for r in app_rules(app) if endpoint_access(app, r.endpoint) == ALL_ROLES}
    assert everyone == {"core.home", "core.logout"}
