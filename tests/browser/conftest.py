"""A live server on 127.0.0.1 and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from app import create_app
from core.db import db
from demo.seed import ensure_demo_accounts
from tests.conftest import make_config

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("LABELKEEPER_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(db_uri: str, tmp_path: Path) -> Flask:
    """The app the live server serves (tests may prepare data in its context)."""
    return create_app(make_config(db_uri, EVIDENCE_DIR=str(tmp_path / "evidence"),
                                  PLAN_SEED_DIR=str(tmp_path / "seeds"),
                                  REPORT_DIR=str(tmp_path / "reports"),
                                  SCHEDULER_LOCK_FILE=str(tmp_path / "scheduler.lock")))


@pytest.fixture
def live_server(live_app: Flask) -> Iterator[str]:
    """Serve the app with the demo accounts on a free port; yield its base URL."""
    app = live_app
    with app.app_context():
        ensure_demo_accounts()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context; fails the test on console errors such as a CSP violation.

    A 403 answer is logged by Chromium as a console error too; tests that expect one check
    the status themselves, so that message alone is let through, as are connection-level
    aborts of the development server (net::ERR_...), which say nothing about the pages.
    """
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    unexpected = [e for e in errors if "status of 403" not in e and "net::ERR_" not in e]
    assert unexpected == [], f"browser console errors: {unexpected}"
