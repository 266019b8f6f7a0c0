"""Structured logs: one line per record (JSON or text), a request id, one line per request,
and redaction of secrets before any handler sees a record.

Every record is created through a record factory that masks secrets (core.redact) in its
message, arguments and exception text; inside a request it also masks the exact values of the
request's password and token fields, its cookies and its Authorization header. The handler
this module installs on the root logger repeats the masking for fields attached later
(`extra=`). Nothing here logs a query string, a form, a header or an uploaded file.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler, wsgi_errors_stream
from werkzeug.wrappers import Response

from core.redact import is_sensitive_field, redact_text

REQUEST_ID_HEADER = "X-Request-Id"
# An incoming id is kept when it is 8-64 characters of letters, digits and . _ : -
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
LOG_FORMATS = ("json", "text")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_redacting: ContextVar[bool] = ContextVar("log_redacting", default=False)
request_logger = logging.getLogger("labelkeeper.request")


def accept_request_id(incoming: str | None) -> str:
    """The incoming X-Request-Id when it is sane, else a new random id."""
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@contextmanager
def log_context(request_id: str) -> Iterator[None]:
    """Tag every record logged inside the block with `request_id` (used by scheduler jobs)."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


# --- redaction -----------------------------------------------------------------------------

def _request_secrets() -> list[str]:
    """Exact values of this request that must never be logged."""
    if not has_request_context():
        return []
    values: list[str] = []
    auth = request.headers.get("Authorization", "")
    if auth:
        values += [auth, auth.partition(" ")[2]]
    values += list(request.cookies.values())
    form = request.__dict__.get("form")  # only when already parsed: never read the body here
    for source in (form, request.args):
        if source:
            values += [v for k, v in source.items(multi=True) if is_sensitive_field(k)]
    return [v for v in values if v]


def redact_record(record: logging.LogRecord) -> None:
    """Mask secrets in a record's message, exception text, stack and extra fields, in place."""
    if _redacting.get():
        return
    token = _redacting.set(True)
    try:
        known = _request_secrets()
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string; logging reports it itself
            return
        record.msg, record.args = redact_text(message, known), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, known)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, known)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: redact_text(v, known) if isinstance(v, str) else v
                             for k, v in fields.items()}
    finally:
        _redacting.reset(token)


class RedactingFilter(logging.Filter):
    """Handler filter: masks secrets in every record it passes (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_base_factory = logging.getLogRecordFactory()


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    redact_record(record)
    return record


def install_redaction() -> None:
    """Route every new log record, from any logger, through redaction (idempotent)."""
    if logging.getLogRecordFactory() is not _record_factory:
        logging.setLogRecordFactory(_record_factory)


# --- formatting ----------------------------------------------------------------------------

def _iso(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _iso(record.created), "level": record.levelname,
                                "logger": record.name, "message": record.getMessage()}
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A readable line: time level logger [request id] message key=value..."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        parts = [_iso(record.created), record.levelname, record.name]
        if request_id:
            parts.append(f"[{request_id}]")
        parts.append(record.getMessage())
        fields = getattr(record, "fields", None) or {}
        parts += [f"{k}={v}" for k, v in fields.items() if k not in ("method", "path", "status")]
        text = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        return text


_handler = logging.StreamHandler(wsgi_errors_stream)
_handler.addFilter(RedactingFilter())


def configure_logging(level: str, fmt: str) -> logging.Handler:
    """Install (once) the Labelkeeper handler on the root logger with this level and format."""
    if fmt not in LOG_FORMATS:
        raise RuntimeError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    install_redaction()
    _handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    _handler.setLevel(level)
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    logging.getLogger("labelkeeper").setLevel(level)
    return _handler


# --- request hooks -------------------------------------------------------------------------

def _start_request() -> None:
    g.request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()
    g.request_id_token = request_id_var.set(g.request_id)


def _user_id() -> int | None:
    user = g.get("_login_user")  # set by Flask-Login only when the request loaded the user
    return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None


def _log_request(status: int) -> None:
    if g.get("request_logged") or "request_started" not in g:
        return
    g.request_logged = True
    fields = {
        "method": request.method,
        "path": request.path,  # never the query string
        "endpoint": request.endpoint,
        "status": status,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
        "user_id": _user_id(),
        "remote_addr": request.remote_addr,
    }
    known = _request_secrets()
    fields = {k: redact_text(v, known) if isinstance(v, str) else v for k, v in fields.items()}
    request_logger.info("%s %s %s", fields["method"], fields["path"], status,
                        extra={"fields": fields})


def _finish_request(response: Response) -> Response:
    if "request_id" in g:
        response.headers[REQUEST_ID_HEADER] = g.request_id
    _log_request(response.status_code)
    return response


def _teardown_request(exc: BaseException | None) -> None:
    # An exception that escaped every handler (tests propagate them) still gets its line.
    _log_request(500)
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            request_id_var.reset(token)
        except ValueError:  # torn down in another context than it started in
            request_id_var.set(None)


def _inject_request_id() -> dict[str, object]:
    return {"request_id": g.get("request_id") if has_request_context() else None}


def init_logging(app: Flask) -> None:
    """Configure logging from LOG_LEVEL / LOG_FORMAT and install the request hooks (register
    this before any other before_request hook so every request gets an id)."""
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    app.logger.removeHandler(default_handler)  # records go to the root handler only
    app.logger.setLevel(app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_teardown_request)
    app.context_processor(_inject_request_id)
