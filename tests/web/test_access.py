"""Deny by default: every endpoint declares its roles, the declarations match the table kept
in tests/web/access_table.py, and every endpoint x method x role x anonymous answers as the
table says."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter
from werkzeug.test import TestResponse

from core.auth import endpoint_access
from core.db import db
from core.roles import ALL_ROLES, PUBLIC, WRITES_ATTR, ApiScope, Role, Scope, api_scope
from tests.conftest import sign_in
from tests.factories import UserFactory
from tests.web import access_table
from tests.web.access_table import (
    ACCESS_TABLE,
    COMPLIANCE,
    INSPECTOR,
    ROLES,
    Declaration,
    Public,
    Roles,
    Token,
)

OPEN_ENDPOINTS = {"core.login", "core.healthz", "api.openapi_json", "static",
                  "bootstrap.static"}
FORBIDDEN, THROUGH, SIGN_IN = "403", "through the access check", "sign-in redirect"
NO_TOKEN = "401: the API takes bearer tokens, never a session"


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


def app_requests(app: Flask) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule and every method it accepts."""
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, sample_url(rule)


def undeclared_endpoints(app: Flask) -> list[str]:
    return sorted({r.endpoint for r in app.url_map.iter_rules()
                   if endpoint_access(app, r.endpoint) is None})


def declaration_of(app: Flask, endpoint: str) -> Declaration | None:
    """An endpoint's declaration on its view, in the table's terms."""
    declared = endpoint_access(app, endpoint)
    if declared == PUBLIC:
        return access_table.PUBLIC
    if isinstance(declared, frozenset):
        return Roles(*(str(role) for role in declared))
    if isinstance(declared, ApiScope):
        return Token(declared.scope.value)
    return None


def expected_status(declaration: Declaration, roles: frozenset[str] | None) -> str:
    """What the access layer does for someone holding `roles` (None: not signed in)."""
    if isinstance(declaration, Public):
        return THROUGH
    if isinstance(declaration, Token):
        return NO_TOKEN
    if roles is None:
        return SIGN_IN
    return THROUGH if declaration.names & roles else FORBIDDEN


def is_sign_in_redirect(response: TestResponse) -> bool:
    return (response.status_code == 302
            and response.headers.get("Location", "").startswith("/login"))


def test_the_access_table_lists_every_endpoint_with_its_declaration(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    unlisted = sorted(endpoints - ACCESS_TABLE.keys())
    assert unlisted == [], f"add these endpoints to tests/web/access_table.py: {unlisted}"
    gone = sorted(ACCESS_TABLE.keys() - endpoints)
    assert gone == [], f"these endpoints no longer exist; remove them from the table: {gone}"
    differ = {e: (declaration_of(app, e), ACCESS_TABLE[e]) for e in sorted(endpoints)
              if declaration_of(app, e) != ACCESS_TABLE[e]}
    assert differ == {}, f"declared on the view vs. in the table: {differ}"


def test_the_table_check_notices_a_new_and_a_changed_declaration(
        app_factory: Callable[..., Flask]) -> None:
    from core.roles import roles_required

    app = app_factory()
    extra = Blueprint("extra", __name__)

    @extra.route("/extra")
    @roles_required(Role.ADMIN)
    def page() -> str:
        return "extra"

    app.register_blueprint(extra)
    assert "extra.page" not in ACCESS_TABLE
    assert declaration_of(app, "extra.page") == Roles("admin")
    app.view_functions["core.users"] = roles_required(Role.VETTING)(lambda: "x")
    assert declaration_of(app, "core.users") != ACCESS_TABLE["core.users"]


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
    for endpoint, method, url in app_requests(app):
        response = client.open(url, method=method)
        if isinstance(ACCESS_TABLE[endpoint], Public):
            assert not is_sign_in_redirect(response), (endpoint, method)
            continue
        if isinstance(ACCESS_TABLE[endpoint], Token):
            assert response.status_code == 401, (endpoint, method, response.status_code)
            continue
        assert response.status_code == 302, (endpoint, method, response.status_code)
        assert response.headers["Location"].startswith("/login?next="), (endpoint, method)
        checked += 1
    assert checked >= 60


ROLE_SETS = [(role,) for role in ROLES] + [(INSPECTOR, COMPLIANCE), ROLES]


@pytest.mark.parametrize("roles", ROLE_SETS, ids="+".join)
def test_every_endpoint_and_method_answers_each_role_as_the_table_says(
        roles: tuple[str, ...], client: FlaskClient, app: Flask,
        login: Callable[..., object]) -> None:
    """Allowed: the request reaches the view (a POST without a form token then gets the CSRF
    400, which runs after the access check). Not allowed: 403, before anything else runs."""
    login(*roles)
    allowed = refused = 0
    for endpoint, method, url in app_requests(app):
        response = client.open(url, method=method)
        body = response.get_data(as_text=True)
        expected = expected_status(ACCESS_TABLE[endpoint], frozenset(roles))
        where = (endpoint, method, response.status_code)
        if expected == NO_TOKEN:
            assert response.status_code == 401, where
            continue
        if expected == FORBIDDEN:
            assert response.status_code == 403, where
            assert "Not allowed" in body, where
            refused += 1
            continue
        assert response.status_code not in (401, 403), where
        assert not is_sign_in_redirect(response), where
        assert response.status_code < 500, where
        if method == "POST":
            assert response.status_code == 400, where
            assert "nothing was saved" in body, where
        allowed += 1
    assert allowed > 0
    assert refused > 0 or set(roles) == set(ROLES)


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


def test_reading_a_page_stores_nothing(client: FlaskClient, app: Flask) -> None:
    """GETs never write: every staff page but the audited downloads (declared with
    `core.roles.writes`) leaves every table as it was, on a database with the demo data."""
    from demo.seed import ensure_demo_accounts, ensure_demo_qc, ensure_demo_sellers
    from tests.web.hostile import fingerprint

    ensure_demo_accounts()
    ensure_demo_sellers()
    ensure_demo_qc()
    UserFactory(email="everyone@example.test", roles=list(ROLES))
    db.session.commit()
    assert sign_in(client, "everyone@example.test").status_code == 302
    before = fingerprint()
    read = []
    for rule in app_rules(app):
        view = app.view_functions[rule.endpoint]
        if method_of(rule) == "GET" and not getattr(view, WRITES_ATTR, False):
            assert client.get(sample_url(rule)).status_code < 500, rule.rule
            read.append(rule.endpoint)
    assert {"qc.plan", "vetting.checklist", "vetting.seller_detail"} <= set(read)
    assert fingerprint() == before
