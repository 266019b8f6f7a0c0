"""Report rendering through the outbox: a full disk is retried with back-off, a report that
keeps failing ends failed with no partial file and says so, and asking again starts anew."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from compliance import jobs, reports
from compliance.models import Report
from core.db import db
from core.models import AuditEntry
from tests.conftest import post_form
from tests.factories import ListingFactory, SellerFactory

NOW = datetime(2026, 7, 1, 9, 0)
PERIOD = {"kind": "period", "date_from": "2026-06-01", "date_to": "2026-06-30"}


class Clock:
    """The app's clock, moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class FullDisk:
    """Path.write_bytes into the report folder writes part of the file, then fails with
    ENOSPC, `failures` times."""

    def __init__(self, folder: Path, failures: int) -> None:
        self.folder = folder
        self.failures = failures
        self.partial_writes: list[Path] = []
        self.original = Path.write_bytes

    def __call__(self, path: Path, data: bytes) -> int:
        if self.failures and path.parent == self.folder:
            self.failures -= 1
            self.original(path, data[:len(data) // 2])
            self.partial_writes.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return self.original(path, data)


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock(NOW)
    app.config["CLOCK"] = clock
    app.config["REPORT_MAX_ATTEMPTS"] = 3
    return clock


@pytest.fixture
def full_disk(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Callable[[int], FullDisk]:
    def fail(times: int) -> FullDisk:
        disk = FullDisk(Path(app.config["REPORT_DIR"]), times)
        monkeypatch.setattr(Path, "write_bytes", lambda path, data: disk(path, data))
        return disk

    return fail


@pytest.fixture
def officer(client: FlaskClient, login: Callable[..., object]) -> object:
    return login("compliance")


def ask(client: FlaskClient, **form: object) -> str:
    """Request a report through the form; return the document id it leads to."""
    response = post_form(client, "/compliance/reports", form or PERIOD,
                         token_from="/compliance/reports")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[-1]


def report(document_id: str) -> Report:
    db.session.expire_all()
    return db.session.execute(select(Report).where(
        Report.document_id == document_id)).scalar_one()


def files(app: Flask) -> list[str]:
    folder = Path(app.config["REPORT_DIR"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def page(client: FlaskClient, document_id: str = "") -> str:
    path = f"/compliance/reports/{document_id}" if document_id else "/compliance/reports"
    return client.get(path).get_data(as_text=True)


@pytest.mark.usefixtures("officer")
def test_a_full_disk_twice_is_retried_with_back_off_then_the_report_is_ready(
        app: Flask, client: FlaskClient, clock: Clock,
        full_disk: Callable[[int], FullDisk]) -> None:
    disk = full_disk(2)
    document_id = ask(client)

    assert jobs.run_pending_reports() == []
    first = report(document_id)
    assert (first.status, first.attempts) == ("queued", 1)
    assert "No space left on device" in first.last_error
    assert disk.partial_writes
    assert files(app) == []  # the half-written file is gone
    assert NOW + timedelta(seconds=48) <= first.next_attempt_at <= NOW + timedelta(seconds=60)
    detail = page(client, document_id)
    assert "Attempt 1 failed" in detail
    assert "No space left on device" in detail
    assert 'http-equiv="refresh"' in detail
    assert "retrying after 1 failed attempt(s)" in page(client)
    assert jobs.run_pending_reports() == []  # not due yet
    assert report(document_id).attempts == 1

    clock.now = first.next_attempt_at
    assert jobs.run_pending_reports() == []
    second = report(document_id)
    assert (second.status, second.attempts) == ("queued", 2)
    assert second.next_attempt_at - clock.now >= timedelta(seconds=96)  # the delay doubled
    assert files(app) == []

    clock.now = second.next_attempt_at
    assert jobs.run_pending_reports() == [document_id]
    done = report(document_id)
    assert (done.status, done.attempts, done.progress) == ("done", 3, 100)
    assert files(app) == [f"{document_id}.pdf"]
    download = client.get(f"/compliance/reports/{document_id}/download")
    assert download.status_code == 200
    assert download.data.startswith(b"%PDF-")


@pytest.mark.usefixtures("officer", "clock")
def test_a_render_that_keeps_failing_ends_failed_with_no_partial_file_and_says_so(
        app: Flask, client: FlaskClient, clock: Clock,
        full_disk: Callable[[int], FullDisk]) -> None:
    full_disk(99)
    document_id = ask(client)
    for _ in range(3):
        assert jobs.run_pending_reports() == []
        clock.now = max(clock.now, report(document_id).next_attempt_at)

    failed = report(document_id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.finished_at is not None
    assert files(app) == []
    assert jobs.run_pending_reports() == []  # never tried again by itself
    detail = page(client, document_id)
    assert "Failed." in detail
    assert "No space left on device" in detail
    assert "(3 attempt(s))" in detail
    assert 'http-equiv="refresh"' not in detail
    assert client.get(f"/compliance/reports/{document_id}/download").status_code == 404
    listing = page(client)
    assert "failed" in listing
    assert "No space left on device" in listing
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "report.failed")).scalar_one()
    assert entry.entity_id == document_id


@pytest.mark.usefixtures("officer", "clock")
def test_asking_again_after_a_failure_starts_a_new_rendering(
        app: Flask, client: FlaskClient, clock: Clock,
        full_disk: Callable[[int], FullDisk]) -> None:
    app.config["REPORT_MAX_ATTEMPTS"] = 1
    full_disk(1)
    failed_id = ask(client)
    jobs.run_pending_reports()
    assert report(failed_id).status == "failed"

    new_id = ask(client)

    assert new_id != failed_id
    assert (report(new_id).status, report(new_id).attempts) == ("queued", 0)
    assert jobs.run_pending_reports() == [new_id]
    assert report(new_id).status == "done"
    assert report(failed_id).status == "failed"


@pytest.mark.usefixtures("officer")
def test_asking_again_while_a_retry_waits_replaces_the_stalled_report(
        app: Flask, client: FlaskClient, clock: Clock,
        full_disk: Callable[[int], FullDisk]) -> None:
    full_disk(1)
    stalled_id = ask(client)
    assert ask(client) == stalled_id  # queued and not tried yet: the same report
    jobs.run_pending_reports()
    assert report(stalled_id).attempts == 1

    new_id = ask(client)

    assert new_id != stalled_id
    stalled = report(stalled_id)
    assert stalled.status == "failed"
    assert f"replaced by report {new_id}" in stalled.last_error
    assert f"replaced by report {new_id}" in page(client, stalled_id)
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "report.requested", AuditEntry.entity_id == new_id)).scalar_one()
    assert f'"replaces": "{stalled_id}"' in entry.payload.replace('":"', '": "')
    clock.now += timedelta(hours=1)
    assert jobs.run_pending_reports() == [new_id]  # the replaced one is not rendered


@pytest.mark.usefixtures("officer")
def test_a_renderer_that_stopped_holds_its_report_until_the_lease_ends(
        app: Flask, client: FlaskClient, clock: Clock) -> None:
    document_id = ask(client)
    assert len(reports.claim_due()) == 1
    db.session.commit()
    # ... the renderer stops here; while its lease lasts, the report is being rendered ...
    assert ask(client) == document_id
    assert jobs.run_pending_reports() == []

    clock.now += timedelta(seconds=app.config["REPORT_CLAIM_TIMEOUT_SECONDS"])
    new_id = ask(client)  # the lease ran out: stuck, so a new rendering starts
    assert new_id != document_id
    assert report(document_id).status == "failed"
    assert jobs.run_pending_reports() == [new_id]


@pytest.mark.usefixtures("officer")
def test_a_lease_that_ran_out_is_retried_by_the_next_run(
        app: Flask, client: FlaskClient, clock: Clock) -> None:
    document_id = ask(client)
    assert len(reports.claim_due()) == 1
    db.session.commit()
    clock.now += timedelta(seconds=app.config["REPORT_CLAIM_TIMEOUT_SECONDS"])

    assert jobs.run_pending_reports() == [document_id]

    done = report(document_id)
    assert (done.status, done.attempts) == ("done", 2)  # the lost attempt counts
    assert done.last_error == "The renderer stopped during the attempt."


def test_a_small_dossier_that_fails_in_the_request_is_retried_in_the_background(
        app: Flask, client: FlaskClient, login: Callable[..., object], clock: Clock,
        full_disk: Callable[[int], FullDisk]) -> None:
    seller = SellerFactory(label_status="active")
    ListingFactory(seller=seller)
    db.session.commit()
    login("compliance")
    full_disk(1)

    response = post_form(client, "/compliance/reports", {
        "kind": "dossier", "seller_id": seller.id, "date_from": "2026-01-01",
        "date_to": "2026-06-30"}, token_from="/compliance/reports", follow_redirects=True)

    assert response.status_code == 200
    assert "Attempt 1 failed" in response.get_data(as_text=True)
    document_id = db.session.execute(select(Report.document_id)).scalar_one()
    assert files(app) == []
    clock.now = report(document_id).next_attempt_at
    assert jobs.run_pending_reports() == [document_id]
    assert report(document_id).status == "done"
