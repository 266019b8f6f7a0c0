"""The JSON API's shared parts: the Api object and its OpenAPI 3.1 document, bearer-token
authentication with scopes, per-token rate limits, RFC 9457 problem responses and cursor
pagination.

Feature packages put their endpoints in `<package>/api.py` on a flask-smorest Blueprint made by
`api_blueprint()`; app.py registers them through `init_api`. Every endpoint declares its scope
with `core.roles.api_scope`; core.auth calls `authenticate_api_call` for those endpoints, so an
API endpoint without a declaration is refused like any other undeclared endpoint.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

import flask_smorest
import marshmallow as ma
from flask import Blueprint, Flask, current_app, g, jsonify, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute
from webargs.flaskparser import abort as webargs_abort
from werkzeug.exceptions import (
    HTTPException,
    TooManyRequests,
    Unauthorized,
    default_exceptions,
)
from werkzeug.wrappers import Response

from core import audit, services
from core.clock import utcnow
from core.db import db, write_intent
from core.roles import Scope, public

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIX = "/api/v1"
PROBLEM_JSON = "application/problem+json"
VALIDATION_PROBLEM = "tag:labelkeeper,2026:problem:validation"
TOKEN_PROBLEM = "tag:labelkeeper,2026:problem:invalid-token"  # noqa: S105 - a problem type
SCOPE_PROBLEM = "tag:labelkeeper,2026:problem:insufficient-scope"
RATE_PROBLEM = "tag:labelkeeper,2026:problem:rate-limited"
CONFLICT_PROBLEM = "tag:labelkeeper,2026:problem:conflict"

MAX_PAGE_SIZE = 100
MAX_ID = 2**31 - 1  # id columns are INTEGER on PostgreSQL

# ---------------------------------------------------------------- schemas


class Strict(ma.Schema):
    """A schema that refuses unknown fields (documented as additionalProperties: false)."""

    class Meta:
        unknown = ma.RAISE


class FullMatch(ma.validate.Regexp):
    """A pattern that must match the whole value, the way JSON Schema reads `^...$` (Python's
    `$` would also accept a trailing newline)."""

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


class QueryInteger(ma.fields.Integer):
    """An integer query parameter written in ASCII digits only (no "+5", " 5" or "٥")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,18}", value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class UtcDateTime(ma.fields.DateTime):
    """A stored naive UTC datetime, written with its +00:00 offset."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class FieldErrorSchema(ma.Schema):
    """One refused input."""

    field = ma.fields.String(required=True, metadata={
        "description": "Dotted path of the field (empty for the request as a whole)"})
    location = ma.fields.String(required=True, metadata={
        "description": "Where the field was: json, query or path"})
    message = ma.fields.String(required=True)


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem detail."""

    type = ma.fields.String(required=True, metadata={
        "description": "A URI naming the kind of problem; about:blank when the status says it"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    instance = ma.fields.String(required=True, metadata={"description": "The request path"})
    errors = ma.fields.List(ma.fields.Nested(FieldErrorSchema), metadata={
        "description": "Field-level errors of a validation problem"})


CURSOR_PATTERN = r"^[A-Za-z0-9_-]{11}$"


class PageArgs(Strict):
    """Cursor pagination parameters."""

    cursor = ma.fields.String(validate=FullMatch(CURSOR_PATTERN), metadata={
        "description": "Opaque cursor: the next_cursor of the previous page"})
    limit = QueryInteger(validate=ma.validate.Range(1, MAX_PAGE_SIZE),
                         metadata={"description": "Items per page (default 25)"})


class PageSchema(ma.Schema):
    """A page of items with the cursor of the next one."""

    next_cursor = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "Pass as ?cursor= for the next page; null on the last page"})


# ---------------------------------------------------------------- the Api object


class LabelkeeperApi(flask_smorest.Api):  # type: ignore[misc]
    """flask-smorest's Api with problem+json errors; core.web answers errors for /api/ paths,
    so no app-wide error handler is installed here."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        pass

    def _register_doc_blueprint(self) -> None:
        pass  # the document is served by core.api's own, declared, route

    def _register_responses(self) -> None:
        from flask_smorest.utils import prepare_response

        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = ProblemSchema
                prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "An error, as an RFC 9457 problem", "schema": ProblemSchema}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


def api_blueprint(name: str, import_name: str, description: str) -> flask_smorest.Blueprint:
    """A feature's API blueprint under /api/v1."""
    return flask_smorest.Blueprint(name, import_name, url_prefix=API_PREFIX,
                                   description=description)


def errors_documented(bp: flask_smorest.Blueprint, *codes: int) -> Callable[[F], F]:
    """Document the problems every API call may answer (400, 401, 403, 429) plus `codes`."""

    def decorate(view: F) -> F:
        for code in sorted({400, 401, 403, 429, *codes}, reverse=True):
            view = bp.alt_response(code, response=HTTPStatus(code).name)(view)
        return view

    return decorate


spec_bp = Blueprint("api", __name__, url_prefix=API_PREFIX)


@spec_bp.route("/openapi.json")
@public
def openapi_json() -> Response:
    """The OpenAPI 3.1 document, generated from the API blueprints."""
    return jsonify(current_app.extensions["labelkeeper_api"].spec.to_dict())


SECURITY_SCHEME = {"type": "http", "scheme": "bearer",
                   "description": "An API token created by an administrator (Admin > API "
                                  "tokens) or `flask api token create`."}


def init_api(app: Flask, blueprints: Sequence[flask_smorest.Blueprint]) -> LabelkeeperApi:
    """Attach the API: the Api object with `blueprints`, the spec route, limits."""
    app.config["OPENAPI_URL_PREFIX"] = None  # the spec is served by spec_bp instead
    api = LabelkeeperApi(spec_kwargs={
        "security": [{"bearerAuth": []}],
        "info": {"description": "Sellers, their Back Label and label events; seller "
                                "applications; test orders. Errors are RFC 9457 problems "
                                "(application/problem+json). See the README, section API."},
    })
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", SECURITY_SCHEME)
    for bp in blueprints:
        api.register_blueprint(bp)
    app.register_blueprint(spec_bp)
    app.extensions["labelkeeper_api"] = api
    app.extensions["labelkeeper_api_limits"] = (
        MovingWindowRateLimiter(storage_from_string(app.config["API_RATE_LIMIT_STORAGE_URI"])),
        parse_many(app.config["API_RATE_LIMIT"]),
    )
    app.teardown_request(_end_api_actor)
    return api


# ---------------------------------------------------------------- problems


def is_api_request() -> bool:
    """True when the request is for the JSON API (its errors are problem+json)."""
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def problem(status: int, detail: str, *, type_: str = "about:blank", title: str | None = None,
            errors: Sequence[Mapping[str, str]] | None = None,
            headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """An application/problem+json response."""
    body: dict[str, Any] = {
        "type": type_, "title": title or HTTPStatus(status).phrase, "status": status,
        "detail": detail, "instance": request.path, **extra}
    if errors is not None:
        body["errors"] = list(errors)
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM_JSON
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _flatten(messages: Any, location: str, path: tuple[str, ...] = ()) -> Iterable[dict[str, str]]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            part = () if key == "_schema" else (str(key),)
            yield from _flatten(value, location, path + part)
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from _flatten(item, location, path)
    else:
        yield {"field": ".".join(path), "location": location, "message": str(messages)}


def field_errors(messages: Mapping[str, Any]) -> list[dict[str, str]]:
    """webargs' {location: {field: [message]}} as a flat list of field errors."""
    out: list[dict[str, str]] = []
    for location, inner in messages.items():
        out.extend(_flatten(inner, "query" if location == "querystring" else location))
    return out


def problem_for_exception(exc: HTTPException) -> Response:
    """The problem response of an HTTP error raised while serving the API."""
    code = exc.code or 500
    data = getattr(exc, "data", None) or {}
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    if "messages" in data:
        errors = field_errors(data["messages"])
        detail = ("The request body is not valid JSON." if code == 400
                  else "The request has invalid or unknown fields; see errors.")
        return problem(code, detail, type_=VALIDATION_PROBLEM, errors=errors, headers=headers)
    detail = data.get("detail") or (
        "The server could not handle the request; nothing was saved."
        if code >= 500 else str(exc.description or HTTPStatus(code).phrase))
    return problem(code, detail, type_=data.get("type", "about:blank"), headers=headers,
                   **data.get("extra", {}))


def abort_problem(code: int, detail: str, type_: str = "about:blank",
                  **extra: Any) -> NoReturn:
    """Stop the request with a problem of status `code` (extra members are added to it)."""
    exc = default_exceptions[code]()
    exc.data = {"detail": detail, "type": type_, "extra": extra}  # type: ignore[attr-defined]
    raise exc


# ---------------------------------------------------------------- authentication


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _unauthorized(detail: str, error: str | None) -> NoReturn:
    challenge = 'Bearer realm="labelkeeper"' + (f', error="{error}"' if error else "")
    exc = Unauthorized()
    exc.data = {"detail": detail, "type": TOKEN_PROBLEM,  # type: ignore[attr-defined]
                "headers": {"WWW-Authenticate": challenge}}
    raise exc


def authenticate_api_call(scope: Scope) -> None:
    """Admit the request only with an active bearer token holding `scope`, within its rate
    limit; name the token as the audit actor of whatever the call writes."""
    secret = _bearer()
    if secret is None:
        _unauthorized("Send an API token: Authorization: Bearer <token>.", None)
    token = services.find_api_token(secret)
    if token is None:
        _unauthorized("The API token is unknown, malformed or revoked.", "invalid_token")
    token_id, name, scopes = token.id, token.name, token.scope_set
    _check_rate_limit(token_id)
    now = utcnow()
    if services.token_needs_touch(token, now):
        _touch(token_id, now)
    if scope.value not in scopes:
        abort_problem(403, f"This token lacks the {scope.value!r} scope this call needs "
                           f"(it holds: {', '.join(sorted(scopes))}).", SCOPE_PROBLEM)
    g.api_token_id = token_id
    g.api_token_name = name
    actor = audit.acting_as(f"api:{name}")
    actor.__enter__()
    g.api_actor = actor


def _end_api_actor(_exc: BaseException | None) -> None:
    actor = g.pop("api_actor", None)
    if actor is not None:
        actor.__exit__(None, None, None)


def _touch(token_id: int, now: Any) -> None:
    # A read request runs in a read transaction (SQLite: plain BEGIN); noting the use is a
    # short write transaction of its own, at most once a minute per token.
    db.session.commit()
    marker = write_intent.set(True)
    try:
        services.touch_api_token(token_id, now)
        db.session.commit()
    finally:
        write_intent.reset(marker)


def _check_rate_limit(token_id: int) -> None:
    limiter: MovingWindowRateLimiter
    items: list[RateLimitItem]
    limiter, items = current_app.extensions["labelkeeper_api_limits"]
    for item in items:
        if not limiter.hit(item, "api-token", str(token_id)):
            reset_at = limiter.get_window_stats(item, "api-token", str(token_id)).reset_time
            retry = max(1, math.ceil(reset_at - time.time()))
            exc = TooManyRequests(retry_after=retry)
            exc.data = {  # type: ignore[attr-defined]
                "detail": f"Rate limit of {item} for this token exceeded; retry in {retry} s.",
                "type": RATE_PROBLEM}
            raise exc


# ---------------------------------------------------------------- cursor pagination


def encode_cursor(last_id: int) -> str:
    """The opaque cursor that continues after the row with id `last_id`."""
    return base64.urlsafe_b64encode(struct.pack(">Q", last_id)).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None) -> int:
    """The id after which a page starts (0 without a cursor); the caller validated the
    pattern, so any 11 base64url characters decode."""
    if not cursor:
        return 0
    try:
        value = int.from_bytes(base64.urlsafe_b64decode(cursor + "="), "big")
    except (binascii.Error, ValueError):
        webargs_abort(422, messages={"query": {"cursor": ["Not a cursor this API handed out."]}})
    return min(value, MAX_ID)  # ids are 32-bit: a larger cursor simply starts past the end


def page_after(stmt: Select[Any], id_column: InstrumentedAttribute[int],
               args: Mapping[str, Any]) -> dict[str, Any]:
    """One page of `stmt` in id order after the cursor: {"items": [...], "next_cursor": ...}."""
    limit = args.get("limit") or current_app.config["API_PAGE_SIZE"]
    limit = min(limit, MAX_PAGE_SIZE)
    after = decode_cursor(args.get("cursor"))
    rows = list(db.session.execute(
        stmt.order_by(None).where(id_column > after).order_by(id_column).limit(limit + 1)
    ).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}
