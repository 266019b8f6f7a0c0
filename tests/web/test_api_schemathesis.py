"""Schemathesis against the served OpenAPI document: every operation and every check, with
positive and negative data, through the WSGI app and a token holding every scope.

The run uses schemathesis's engine (the one behind `schemathesis run`) with the repository's
schemathesis.toml, so this test and the live-server leg of .ci/run check the same things.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from core import services
from core.db import db
from core.roles import Scope
from demo.seed import ensure_demo_accounts, ensure_demo_qc, ensure_demo_sellers

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
OPERATIONS = {"GET /api/v1/sellers", "GET /api/v1/sellers/{seller_id}",
              "GET /api/v1/sellers/{seller_id}/label-events", "POST /api/v1/applications",
              "GET /api/v1/test-orders"}


@pytest.fixture
def api_app(app_factory: Callable[..., Flask]) -> tuple[Flask, str]:
    """An app on a database with the demo sellers, labels, listings and this month's test
    orders, and the secret of a token holding every scope."""
    app = app_factory(API_RATE_LIMIT="100000/minute")
    with app.app_context():
        ensure_demo_accounts()
        ensure_demo_sellers()
        ensure_demo_qc()
        issued = services.create_api_token("schemathesis", [s.value for s in Scope], None)
        db.session.commit()
    return app, issued.secret


@pytest.fixture(autouse=True)
def _wsgi_probes_without_socket_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schemathesis 4.32's ignored_auth probe hands socket-level settings (max_redirects, ...)
    to the in-process WSGI client, which refuses them; drop them as the transport does for
    its ordinary calls."""
    from schemathesis.transport.wsgi import WSGITransport

    send = WSGITransport.send

    def without_socket_settings(self, case, *, session=None, **kwargs):  # type: ignore[no-untyped-def]
        for name in ("max_redirects", "verify", "cert", "proxies"):
            kwargs.pop(name, None)
        return send(self, case, session=session, **kwargs)

    monkeypatch.setattr(WSGITransport, "send", without_socket_settings)


def run_schemathesis(app: Flask, token: str) -> tuple[set[str], list[str]]:
    """Run every phase against the app; return the operations tested and the failures."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                            config=SchemathesisConfig.from_path(CONFIG))
    schema.config.update(headers={"Authorization": f"Bearer {token}"})
    tested: set[str] = set()
    failures: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.status not in (Status.SKIP,) and event.label:
                tested.add(event.label)
            for checks in event.recorder.checks.values():
                failures.extend(f"{event.label}: {check.name}: {check.failure_info}"
                                for check in checks if check.status == Status.FAILURE)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {getattr(event, 'value', None) or event.exception}")
    return tested, failures


def test_api_conforms_to_its_openapi_document(api_app: tuple[Flask, str]) -> None:
    app, token = api_app
    tested, failures = run_schemathesis(app, token)
    assert failures == []
    assert tested == OPERATIONS


def test_the_document_is_openapi_3_1_with_bearer_auth(api_app: tuple[Flask, str]) -> None:
    app, _ = api_app
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops
            if m != "parameters"} == OPERATIONS
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    problem = document["components"]["responses"]["UNAUTHORIZED"]["content"]
    assert list(problem) == ["application/problem+json"]
