"""Structured request logs, request ids, and secrets kept out of every log record."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from core import scheduler
from core.db import db
from core.roles import public
from tests.conftest import EVIDENCE_MARKER, csrf_token, sign_in
from tests.factories import UserFactory
from tests.web.vetting_helpers import PDF, create_seller, start_application, upload


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    """The JSON objects the app logged into a request's wsgi.errors stream."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def request_line(stream: io.StringIO) -> dict[str, Any]:
    found = [line for line in lines_of(stream) if line["logger"] == "labelkeeper.request"]
    assert len(found) == 1, stream.getvalue()
    return found[0]


def test_one_json_line_per_request_with_its_fields(client: FlaskClient,
                                                   login: Callable[..., Any]) -> None:
    user = login("vetting")
    errors = io.StringIO()
    response = client.get("/vetting/sellers?q=hidden-query-value",
                          headers={"X-Request-Id": "trace-1234.abc"}, errors_stream=errors)
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "trace-1234.abc"
    line = request_line(errors)
    assert line["request_id"] == "trace-1234.abc"
    assert line["method"] == "GET"
    assert line["path"] == "/vetting/sellers"
    assert line["endpoint"] == "vetting.sellers"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int | float)
    assert line["user_id"] == user.id  # type: ignore[attr-defined]
    assert line["remote_addr"] == "127.0.0.1"
    assert line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert "hidden-query-value" not in errors.getvalue()


@pytest.mark.parametrize("incoming", [
    "short", "x" * 65, "has space in it", "<script>alert(1)</script>", "tab\tinside-12345",
    "ünïcødé-12345", "-leading-dash",
])
def test_an_unusable_request_id_is_replaced_by_a_new_one(client: FlaskClient,
                                                         incoming: str) -> None:
    errors = io.StringIO()
    response = client.get("/login", headers={"X-Request-Id": incoming}, errors_stream=errors)
    generated = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert request_line(errors)["request_id"] == generated
    assert incoming not in errors.getvalue()


def test_every_request_gets_its_own_id(client: FlaskClient) -> None:
    ids = {client.get("/login").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_error_pages_show_the_request_id_to_quote(client: FlaskClient,
                                                  login: Callable[..., Any]) -> None:
    login("inspector")
    for path, status in (("/no-such-page", 404), ("/admin/users", 403)):
        errors = io.StringIO()
        response = client.get(path, headers={"X-Request-Id": "support-case-0042"},
                              errors_stream=errors)
        assert response.status_code == status
        page = response.get_data(as_text=True)
        assert "quote this id" in page
        assert "support-case-0042" in page
        assert request_line(errors)["status"] == status


@pytest.fixture
def failing_app(app_factory: Callable[..., Flask]) -> Flask:
    """An app with one extra public view that fails, quoting its whole form in the error."""
    app = app_factory(PROPAGATE_EXCEPTIONS=False, LOG_LEVEL="DEBUG")

    @public
    def boom() -> str:
        app.logger.debug("form received: %s", dict(request.form))
        raise RuntimeError(f"could not handle {request.form!r}")

    app.add_url_rule("/boom", "boom", boom, methods=["POST"])
    return app


def test_failed_form_post_logs_the_error_without_its_secrets(failing_app: Flask) -> None:
    client = failing_app.test_client()
    token = csrf_token(client, "/login")
    errors = io.StringIO()
    response = client.post("/boom", data={
        "email": "pat@example.test", "password": "never-log-this-password",
        "csrf_token": token}, headers={"Authorization": "Bearer lk_abcdefghijklmnop123"},
        errors_stream=errors)
    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    assert request_id in response.get_data(as_text=True)
    output = errors.getvalue()
    records = lines_of(errors)
    failure = next(r for r in records if r["level"] == "ERROR")
    assert "RuntimeError: could not handle" in failure["exception"]
    assert failure["request_id"] == request_id
    assert "pat@example.test" in output  # the form was logged, minus its secrets
    assert "[REDACTED]" in output
    for secret in ("never-log-this-password", token, "lk_abcdefghijklmnop123"):
        assert secret not in output
    assert request_line(errors)["status"] == 500


def test_evidence_content_never_reaches_the_logs(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(LOG_LEVEL="DEBUG")
    client = app.test_client()
    with app.app_context():
        user = UserFactory(roles=["vetting"], email="vet@example.test")
        db.session.commit()
        assert sign_in(client, user.email).status_code == 302
        application = start_application(client, create_seller(client))
        item = next(i for i in application.items if i.spec.evidence_required)
        errors = io.StringIO()
        content = PDF + EVIDENCE_MARKER.encode()
        prefix = f"ev{item.id}"
        stored = client.post(
            f"/vetting/applications/{application.id}/items/{item.id}/evidence",
            data={f"{prefix}-csrf_token": csrf_token(client, "/"),
                  f"{prefix}-file": (io.BytesIO(content), f"{EVIDENCE_MARKER}.pdf")},
            content_type="multipart/form-data", errors_stream=errors)
        refused = upload(client, application, item.id, EVIDENCE_MARKER.encode() * 10,
                         name="notes.txt")
    assert stored.status_code == 302
    assert refused.status_code in (200, 302, 400)
    line = request_line(errors)
    assert line["path"].endswith("/evidence")
    assert line["status"] == 302
    assert EVIDENCE_MARKER not in errors.getvalue()


def test_text_format_is_one_readable_line(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(LOG_FORMAT="text").test_client()
    errors = io.StringIO()
    response = client.get("/login?next=/x", errors_stream=errors)
    (line,) = [ln for ln in errors.getvalue().splitlines() if "labelkeeper.request" in ln]
    assert f"[{response.headers['X-Request-Id']}]" in line
    assert "GET /login 200" in line
    assert "endpoint=core.login" in line
    assert "next=" not in line


def test_an_unknown_log_format_is_refused(app_factory: Callable[..., Flask]) -> None:
    with pytest.raises(RuntimeError, match="LOG_FORMAT"):
        app_factory(LOG_FORMAT="xml")


def test_scheduler_jobs_log_in_the_same_format(app: Flask,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    scheduler._runtime.update(app=app, jobs={
        "tally": scheduler.Job("tally", lambda: 3, {"hour": 0})})
    scheduler.run_job("tally")
    lines = [json.loads(ln) for ln in capsys.readouterr().err.splitlines() if ln.startswith("{")]
    done = next(ln for ln in lines if ln["message"] == "job tally done: 3")
    assert done["logger"] == app.logger.name
    assert done["request_id"].startswith("job-tally-")


def test_records_of_any_logger_are_redacted(app: Flask,
                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info(
            "headers: Authorization: Basic dXNlcjpwYXNzd29yZA==\npassword=%s token=%s",
            "hunter2-hunter2", "lk_live_0123456789abcdef")
    text = caplog.records[-1].getMessage()
    assert "dXNlcjpwYXNzd29yZA==" not in text
    assert "hunter2-hunter2" not in text
    assert "lk_live_0123456789abcdef" not in text
    assert text.startswith("headers: Authorization: [REDACTED]")


def test_sign_in_posts_log_neither_password_nor_token(client: FlaskClient) -> None:
    errors = io.StringIO()
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": "nobody@example.test",
                                           "password": "wrong-but-secret-pw",
                                           "csrf_token": token}, errors_stream=errors)
    assert response.status_code == 200
    assert request_line(errors)["endpoint"] == "core.login"
    assert "wrong-but-secret-pw" not in errors.getvalue()
    assert token not in errors.getvalue()
