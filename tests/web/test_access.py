"""Deny by default: every endpoint declares its roles, and the declarations hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from core.auth import endpoint_access
from core.roles import ALL_ROLES, PUBLIC, ApiScope, Role, Scope, api_scope
from tests.conftest import sign_in
from tests.factories import UserFactory

OPEN_ENDPOINTS = {"core.login", "core.healthz", "api.openapi_json", "static",
                  "bootstrap.static"}


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
    """The staff pages: every rule but the open ones and the token-authenticated API."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in OPEN_ENDPOINTS and not is_api(app, rule):
            yield rule


def is_api(app: Flask, rule: Rule) -> bool:
    return isinstance(endpoint_access(app, rule.endpoint), ApiScope)


def api_rules(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if is_api(app, rule)]


def undeclared_endpoints(app: Flask) -> list[str]:
    return sorted({r.endpoint for r in app.url_map.iter_rules()
                   if endpoint_access(app, r.endpoint) is None})


def test_every_endpoint_declares_its_roles(app: Flask) -> None:
    assert undeclared_endpoints(app) == []


def test_open_endpoints_are_exactly_login_static_health_and_api_document(app: Flask) -> None:
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


def test_api_endpoints_live_under_api_v1_and_the_api_only_holds_them(app: Flask) -> None:
    rules = api_rules(app)
    assert len(rules) >= 5
    assert all(r.rule.startswith("/api/v1/") for r in rules)
    under_api = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert under_api == {r.endpoint for r in rules} | {"api.openapi_json"}


def test_api_endpoints_refuse_anonymous_and_staff_sessions_with_401_problems(
        client: FlaskClient, app: Flask, login: Callable[..., object]) -> None:
    login(*[r.value for r in Role])  # a staff session holding every role is not a token
    for rule in api_rules(app):
        response = client.open(sample_url(rule), method=method_of(rule))
        assert response.status_code == 401, (rule.endpoint, response.status_code)
        assert response.content_type == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_api_endpoint_without_a_scope_is_caught_and_refused(
        app_factory: Callable[..., Flask]) -> None:
    from core.api import api_blueprint
    app = app_factory()
    extra = api_blueprint("extra_api", __name__, "forgotten")

    @extra.route("/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "yes"}

    @extra.route("/scoped")
    @api_scope(Scope.READ)
    def scoped() -> dict[str, str]:
        return {"secret": "yes"}

    app.register_blueprint(extra)
    assert undeclared_endpoints(app) == ["extra_api.forgotten"]
    assert endpoint_access(app, "extra_api.scoped") == ApiScope(Scope.READ)
    response = app.test_client().get("/api/v1/forgotten")
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert "secret" not in response.get_data(as_text=True)
