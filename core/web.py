"""Response hardening and friendly error pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from core.api import VALIDATION_PROBLEM, is_api_request, problem, problem_for_exception
from core.db import db, write_intent

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)

ERROR_TEXT = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "Your roles do not include this page. If you need it, ask an "
                         "administrator to grant the role."),
    404: ("Page not found", "There is nothing at this address. Check the link or use the "
                            "navigation above."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("Upload too large", "The file or form is larger than the limit. Send a smaller one."),
    500: ("Something went wrong", "The error has been logged and nothing was saved. "
                                  "Try again; if it keeps happening, tell an administrator."),
    503: ("Temporarily unavailable", "The database is busy or unreachable. Nothing was saved. "
                                     "Wait a few seconds and try again."),
}


def _security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint not in ("static", "bootstrap.static"):
        h.setdefault("Cache-Control", "no-store")
    return response


def render_error(code: int, detail: str | None = None) -> tuple[str, int]:
    """Render the friendly page for an HTTP error code."""
    title, text = ERROR_TEXT.get(code, ERROR_TEXT[500])
    return render_template("errors/error.html", code=code, title=title,
                           text=detail or text), code


def _wants_json() -> bool:
    return request.path == "/healthz"


def _http_error(exc: HTTPException) -> tuple[str, int] | HTTPException | Response:
    if exc.code is None or exc.code < 400:
        return exc
    if exc.code >= 500:
        # An unexpected error may have left the session's transaction failed; rendering the
        # page (the signed-in user's navigation) needs a usable one.
        db.session.rollback()
    if is_api_request():
        return problem_for_exception(exc)
    return render_error(exc.code)


def _csrf_error(_exc: CSRFError) -> tuple[str, int]:
    return render_error(400, "The form had expired or was not sent from this site, so "
                             "nothing was saved. Reload the page and submit it again.")


# SQLite reports both "busy/unreachable" and schema mistakes as OperationalError; only the
# former deserve "try again later".
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open", "disk i/o error",
                       "database is busy")


def _is_unavailable(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    if exc.orig is not None and type(exc.orig).__module__.startswith("sqlite3"):
        return any(text in message for text in _SQLITE_UNAVAILABLE)
    return True  # psycopg raises OperationalError for connection and server failures


def _database_error(exc: OperationalError) -> Response | tuple[str, int]:
    db.session.rollback()
    if not _is_unavailable(exc):
        current_app.logger.exception("database error", exc_info=exc)
        if is_api_request():
            return problem(500, "The server could not handle the request; nothing was saved.")
        return render_error(500)
    current_app.logger.warning("database unavailable: %s", exc.orig)
    if is_api_request():
        return problem(503, "The database is busy or unreachable; nothing was saved. "
                            "Retry in a few seconds.", headers={"Retry-After": "5"})
    if _wants_json():
        response = jsonify(status="error", database="unavailable")
    else:
        response = current_app.make_response(_unavailable_page())
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


NUL_MESSAGE = "Must not contain a NUL character (code 0)."
NUL_IN_INPUT = ("The form or address contained a NUL character (code 0), which no field "
                "accepts; nothing was saved. Remove it and try again.")


def _nul_fields(value: Any, path: str) -> Iterator[str]:
    """The dotted names of the strings holding NUL in a decoded JSON value."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                yield name
            yield from _nul_fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_fields(item, f"{path}.{index}" if path else str(index))


def _refuse_nul() -> tuple[str, int] | Response | None:
    """No text a user types holds NUL, and PostgreSQL cannot store it: refuse it up front
    (uploaded files are not form values and are checked by content elsewhere). The API
    answers a validation problem naming the fields, as for any other refused value."""
    if is_api_request():
        fields = [{"field": k or "(path)", "location": "query", "message": NUL_MESSAGE}
                  for k, v in [("", request.path), *request.args.items(multi=True)]
                  if "\x00" in k or "\x00" in v]
        if request.is_json:
            fields += [{"field": name, "location": "json", "message": NUL_MESSAGE}
                       for name in _nul_fields(request.get_json(silent=True), "")]
        if fields:
            return problem(422, "Some values contain a NUL character (code 0).",
                           type_=VALIDATION_PROBLEM, errors=fields)
        return None
    values = [*request.args.items(multi=True)]
    if request.method == "POST":
        values += request.form.items(multi=True)
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in values):
        return render_error(400, NUL_IN_INPUT)
    return None


_PLAIN_503 = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<title>Temporarily unavailable</title></head><body><h1>Temporarily unavailable "
              "(503)</h1><p>{text}</p></body></html>")


def _unavailable_page() -> str:
    """The 503 page, rendered without touching the database again.

    The failure may have struck while the session's user was being loaded; the page then
    shows the signed-out navigation instead of asking the database a second time (SQLite:
    another wait for the lock; PostgreSQL: another failed connect). Reads on SQLite take no
    write lock from here on. Should rendering still fail, a plain page says the same.
    """
    write_intent.set(False)  # reset at teardown by core.auth
    if "_login_user" not in g:
        g._login_user = AnonymousUserMixin()
    try:
        return render_error(503)[0]
    except OperationalError:
        db.session.rollback()
        return _PLAIN_503.format(text=ERROR_TEXT[503][1])


def init_web(app: Flask) -> None:
    """Install security headers and error pages."""
    app.before_request(_refuse_nul)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_error)
