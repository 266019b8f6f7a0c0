"""Sign-in sessions and deny-by-default access control.

Every endpoint must declare who may use it (`roles_required`, `any_role` or `public` from
core.roles). A request to an endpoint that declares nothing is refused, even for admins.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, g, has_request_context, request
from flask_login import LoginManager, current_user
from werkzeug.wrappers import Response

from core import services
from core.api import authenticate_api_call
from core.db import write_intent
from core.models import User
from core.roles import PUBLIC, WRITES_ATTR, Access, ApiScope, declared_access, may_access

login_manager = LoginManager()
login_manager.login_view = "core.login"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

# Endpoints served by Flask or extensions, which cannot carry a declaration themselves.
PUBLIC_ENDPOINTS = frozenset({"static", "bootstrap.static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    return services.load_session_user(session_id)


def endpoint_access(app: Flask, endpoint: str) -> Access:
    """The declared access of an endpoint: a set of roles, PUBLIC, an ApiScope (token
    authenticated API), or None (undeclared)."""
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return declared_access(view) if view is not None else None


def _mark_write_intent() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    writing = request.method not in SAFE_METHODS or getattr(view, WRITES_ATTR, False)
    g.write_intent_token = write_intent.set(bool(writing))


def _reset_write_intent(_exc: BaseException | None) -> None:
    token = g.pop("write_intent_token", None)
    if token is not None:
        write_intent.reset(token)


def _enforce_access() -> Response | None:
    if request.endpoint is None:  # unknown URL or method: routing answers 404/405
        return None
    declared = endpoint_access(current_app._get_current_object(), request.endpoint)  # type: ignore[attr-defined]
    if declared == PUBLIC:
        return None
    if declared is None:
        current_app.logger.error("endpoint %s declares no roles; refused", request.endpoint)
        abort(403)
    if isinstance(declared, ApiScope):
        authenticate_api_call(declared.scope)
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()  # type: ignore[no-any-return]
    if not may_access(current_user.roles, declared):
        abort(403)
    return None


def init_auth(app: Flask) -> None:
    """Attach sessions and the access check to the app."""
    login_manager.init_app(app)
    app.before_request(_mark_write_intent)
    app.teardown_request(_reset_write_intent)
    app.before_request(_enforce_access)
    app.context_processor(_inject_navigation)


# The main navigation; each entry is shown to whoever may use its endpoint.
NAVIGATION = (
    ("Home", "core.home"),
    ("Sellers", "vetting.sellers"),
    ("Applications", "vetting.applications"),
    ("Test orders", "qc.orders"),
    ("Critical findings", "qc.critical_queue"),
    ("Listings", "qc.listings"),
    ("Sampling plan", "qc.plan"),
    ("Suspension reviews", "compliance.reviews"),
    ("Reports", "compliance.reports_page"),
    ("Seller notices", "compliance.notices_outbox"),
    ("Buyer identities", "compliance.buyers"),
    ("Audit trail", "core.audit_log"),
    ("Staff accounts", "core.users"),
    ("Webhooks", "webhooks.endpoints"),
    ("API tokens", "core.api_tokens"),
)


def navigation_for(app: Flask, roles: frozenset[str]) -> list[tuple[str, str]]:
    """The navigation entries a user holding `roles` may follow."""
    return [(label, endpoint) for label, endpoint in NAVIGATION
            if may_access(roles, endpoint_access(app, endpoint))]


def _inject_navigation() -> dict[str, object]:
    if not has_request_context():  # reports rendered by the scheduler have no navigation
        return {"navigation": []}
    roles = current_user.roles if current_user.is_authenticated else frozenset()
    return {"navigation": navigation_for(current_app._get_current_object(), roles)}  # type: ignore[attr-defined]
