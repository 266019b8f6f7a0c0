"""`flask backup` and `flask restore`: consistent copies, checked restores, no half states."""

from __future__ import annotations

import io
import json
import shlex
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text

from app import create_app
from compliance.models import Report
from core import audit, backup
from core.db import db
from core.models import User
from tests.conftest import PG_URL, _truncate_all, make_config, post_form
from tests.factories import UserFactory
from tests.web.qc_helpers import NOW, inspect, labelled_seller, received_orders
from tests.web.test_qc_orders import png
from tests.web.vetting_helpers import act, complete_checklist, create_seller, start_application
from vetting.models import Evidence

sqlite_only = pytest.mark.skipif(PG_URL is not None, reason="SQLite copy and restore")
postgres_only = pytest.mark.skipif(PG_URL is None, reason="needs DATABASE_URL (PostgreSQL)")


def sqlite_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608


def tree(folder: Path) -> dict[str, bytes]:
    files = (p for p in sorted(folder.rglob("*")) if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files
            if p.relative_to(folder).parts[0] != "tmp"}  # tmp/: uploads being written


def source_db(app: Flask) -> Path:
    return Path(db.engine.url.database or "")


def fresh_app(base: Path, **extra: object) -> Flask:
    """An app on an empty place: no database file, no evidence, no reports."""
    base.mkdir(parents=True, exist_ok=True)
    return create_app(make_config(extra.pop("uri", f"sqlite:///{base / 'restored.sqlite3'}"), **{
        "EVIDENCE_DIR": str(base / "evidence"), "REPORT_DIR": str(base / "reports"),
        "PLAN_SEED_DIR": str(base / "plan-seeds"),
        "SCHEDULER_LOCK_FILE": str(base / "scheduler.lock"), **extra}))


def invoke(app: Flask, *args: str) -> Any:
    """Run a command of `app` (in its own app context, whichever app the test has pushed)."""
    if has_app_context():
        db.session.commit()  # the test's own session holds no SQLite lock meanwhile
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


@pytest.fixture
def with_evidence(app: Flask, client: FlaskClient, login: Callable[..., Any]) -> Flask:
    """A seller whose application has evidence files on every item that needs one."""
    app.config["CLOCK"] = lambda: NOW
    login("vetting", "inspector", "compliance")
    application = start_application(client, create_seller(client))
    assert act(client, application, "submit").status_code == 302
    assert act(client, application, "review").status_code == 302
    complete_checklist(client, application)
    assert db.session.execute(select(Evidence)).first() is not None
    return app


@pytest.fixture
def populated(with_evidence: Flask, client: FlaskClient) -> Flask:
    """...plus inspections (one with a photo) and a stored dossier PDF."""
    seller = labelled_seller()
    db.session.commit()
    orders = received_orders(seller, 3)
    assert inspect(client, orders[0], files=[(io.BytesIO(png()), "front.png")]).status_code == 302
    for order in orders[1:]:
        assert inspect(client, order, failed=("PACK-1",)).status_code == 302
    response = post_form(client, "/compliance/reports", {
        "kind": "dossier", "seller_id": seller.id, "date_from": "2026-01-01",
        "date_to": "2026-12-31"}, token_from="/compliance/reports")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(Report.status)).scalar_one() == "done"
    seeds = Path(with_evidence.config["PLAN_SEED_DIR"])
    seeds.mkdir(mode=0o700)
    (seeds / "2026-06.seed").write_text("0123456789abcdef")
    (seeds / "2026-06.seed").chmod(0o600)
    return with_evidence


@sqlite_only
def test_a_restored_backup_verifies_and_matches_the_original(populated: Flask,
                                                             tmp_path: Path) -> None:
    app = populated
    target = tmp_path / "backups" / "2026-06-10"
    target.parent.mkdir()
    made = invoke(app, "backup", str(target))
    assert made.exit_code == 0, made.output
    assert f"Backup written to {target}" in made.output
    manifest = json.loads((target / "manifest.json").read_text())
    original = sqlite_counts(source_db(app))
    assert manifest["row_counts"] == original
    assert manifest["alembic_revision"] == backup.code_head()
    assert manifest["audit"] == {"head_hash": audit.head_hash(),
                                 "entries": audit.count_entries()}
    assert original["evidence"] > 0
    assert original["inspection_photos"] == 1
    assert original["reports"] == 1
    assert original["inspections"] == 3

    restored = fresh_app(tmp_path / "elsewhere")
    done = invoke(restored, "restore", str(target))
    assert done.exit_code == 0, done.output
    assert "Restored the backup" in done.output
    verified = invoke(restored, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"audit trail OK: {audit.count_entries()} entries" in verified.output
    assert sqlite_counts(tmp_path / "elsewhere" / "restored.sqlite3") == original
    evidence = tree(Path(app.config["EVIDENCE_DIR"]))
    reports = tree(Path(app.config["REPORT_DIR"]))
    assert len(evidence) == original["evidence"] + 1  # every upload has its own content
    assert len(reports) == 1
    assert tree(tmp_path / "elsewhere" / "evidence") == evidence
    assert tree(tmp_path / "elsewhere" / "reports") == reports
    seed = tmp_path / "elsewhere" / "plan-seeds" / "2026-06.seed"
    assert seed.read_text() == "0123456789abcdef"
    assert seed.stat().st_mode & 0o777 == 0o600
    assert seed.parent.stat().st_mode & 0o777 == 0o700
    with restored.app_context():  # the restored app works on the copy
        assert db.session.execute(select(User)).scalars().first() is not None


def first_evidence(folder: Path) -> Path:
    return next(p for p in sorted((folder / "evidence").rglob("*")) if p.is_file())


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


TAMPERINGS: dict[str, tuple[Callable[[Path], None], str]] = {
    "evidence changed": (lambda b: flip_a_byte(first_evidence(b)),
                         "does not match its SHA-256 in the manifest"),
    "database changed": (lambda b: flip_a_byte(b / "labelkeeper.sqlite3"),
                         "labelkeeper.sqlite3 does not match its SHA-256"),
    "file removed": (lambda b: first_evidence(b).unlink(), "is missing"),
    "file added": (lambda b: (b / "reports" / "extra.pdf").write_bytes(b"%PDF-1.4"),
                   "reports/extra.pdf is not in the manifest"),
    "manifest counts edited": (
        lambda b: (b / "manifest.json").write_text(
            (b / "manifest.json").read_text().replace('"sellers": 1', '"sellers": 2')),
        "does not match its manifest"),
    "manifest path escapes": (
        lambda b: (b / "manifest.json").write_text(
            (b / "manifest.json").read_text().replace('"reports/', '"../reports/')),
        "outside the backup folder"),
    "manifest missing": (lambda b: (b / "manifest.json").unlink(), "has no manifest.json"),
}


@sqlite_only
@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_a_tampered_backup_is_refused_and_nothing_is_restored(
        with_evidence: Flask, tmp_path: Path, how: str) -> None:
    tamper, message = TAMPERINGS[how]
    if how == "manifest path escapes":  # needs a report file to rename
        (Path(with_evidence.config["REPORT_DIR"])).mkdir(parents=True, exist_ok=True)
        (Path(with_evidence.config["REPORT_DIR"]) / "R1.pdf").write_bytes(b"%PDF-1.4 r1")
    target = tmp_path / "bk"
    assert invoke(with_evidence, "backup", str(target)).exit_code == 0
    tamper(target)
    restored = fresh_app(tmp_path / "elsewhere")
    result = invoke(restored, "restore", str(target))
    assert result.exit_code == 1
    assert message in result.output
    assert "nothing was restored" in result.output.lower() or "not a Labelkeeper backup" \
        in result.output
    assert not (tmp_path / "elsewhere" / "restored.sqlite3").exists()
    assert not (tmp_path / "elsewhere" / "evidence").exists()


def test_an_existing_path_is_refused(app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "bk"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = invoke(app, "backup", str(target))
    assert result.exit_code == 1
    assert "exists already" in result.output
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke(app, "backup", str(empty)).exit_code == 1
    assert list(empty.iterdir()) == []


def test_a_failed_backup_leaves_nothing_behind(with_evidence: Flask, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_copy(source: Path, target: Path) -> None:
        target.mkdir(parents=True)
        (target / "half").write_bytes(b"x")
        raise OSError("No space left on device")

    monkeypatch.setattr(backup, "_copy_folder", broken_copy)
    parent = tmp_path / "backups"
    parent.mkdir()
    result = invoke(with_evidence, "backup", str(parent / "bk"))
    assert result.exit_code != 0
    assert list(parent.iterdir()) == []


@sqlite_only
def test_a_backup_taken_while_another_connection_writes_is_consistent(
        app_factory: Callable[..., Flask], app: Flask, tmp_path: Path) -> None:
    writer_app = app_factory()
    stop = threading.Event()
    written = [0]
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with writer_app.app_context():
                while not stop.is_set() or written[0] < 40:
                    UserFactory(email=f"writer{written[0]}@example.test")
                    audit.record("test.write", "user", written[0])
                    db.session.commit()
                    written[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while written[0] < 20 and thread.is_alive():
            stop.wait(0.01)
        result = invoke(app, "backup", str(tmp_path / "bk"))
        before_end = written[0]
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    users, entries = manifest["row_counts"]["users"], manifest["audit"]["entries"]
    # One user and one audit entry per committed write: a torn snapshot would differ.
    assert users == entries
    assert 20 <= users <= before_end + 1

    restored = fresh_app(tmp_path / "elsewhere")
    assert invoke(restored, "restore", str(tmp_path / "bk")).exit_code == 0
    verified = invoke(restored, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"audit trail OK: {entries} entries" in verified.output
    counts = sqlite_counts(tmp_path / "elsewhere" / "restored.sqlite3")
    assert counts["users"] == users
    assert counts["audit_entries"] == entries


@sqlite_only
def test_restore_over_data_needs_force_and_then_replaces_it(with_evidence: Flask,
                                                            tmp_path: Path) -> None:
    app = with_evidence
    assert invoke(app, "backup", str(tmp_path / "bk")).exit_code == 0
    UserFactory(email="after-the-backup@example.test")
    db.session.commit()
    stray = Path(app.config["EVIDENCE_DIR"]) / "zz" / ("f" * 64)
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"added after the backup")

    refused = invoke(app, "restore", str(tmp_path / "bk"))
    assert refused.exit_code == 1
    assert "holds data already" in refused.output
    assert "--force" in refused.output

    with FileLock(app.config["SCHEDULER_LOCK_FILE"]):
        busy = invoke(app, "restore", "--force", str(tmp_path / "bk"))
    assert busy.exit_code == 1
    assert "The scheduler is running" in busy.output

    forced = invoke(app, "restore", "--force", str(tmp_path / "bk"))
    assert forced.exit_code == 0, forced.output
    db.session.remove()
    assert db.session.execute(select(User).where(
        User.email == "after-the-backup@example.test")).first() is None
    assert not stray.exists()
    assert invoke(app, "audit", "verify").exit_code == 0
    assert not list(tmp_path.glob(".*restore*"))
    assert not list(Path(app.config["EVIDENCE_DIR"]).parent.glob(".*.old-*"))


@sqlite_only
def test_a_backup_of_another_schema_revision_is_refused(with_evidence: Flask, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke(with_evidence, "backup", str(tmp_path / "bk")).exit_code == 0
    monkeypatch.setattr(backup, "code_head", lambda: "ffffffffffff")
    result = invoke(fresh_app(tmp_path / "elsewhere"), "restore", str(tmp_path / "bk"))
    assert result.exit_code == 1
    assert "this code is at ffffffffffff" in result.output


@postgres_only
def test_postgresql_backup_prints_working_pg_dump_and_pg_restore_commands(
        populated: Flask, tmp_path: Path) -> None:
    app = populated
    entries, head = audit.count_entries(), audit.head_hash()
    target = tmp_path / "bk"
    made = invoke(app, "backup", str(target))
    assert made.exit_code == 0, made.output
    lines = [ln.strip() for ln in made.output.splitlines()]
    dump = next(ln for ln in lines if ln.startswith("pg_dump --format=custom"))
    restore = next(ln for ln in lines if ln.startswith("pg_restore "))
    password = db.engine.url.password
    assert not password or password not in made.output
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["engine"] == "postgresql"
    assert manifest["database_file"] is None

    subprocess.run(shlex.split(dump), check=True, timeout=120)  # noqa: S603
    assert (target / "labelkeeper.dump").stat().st_size > 0
    db.session.remove()
    db.engine.dispose()
    assert PG_URL
    _truncate_all(PG_URL)  # lose everything, then restore the dump over it
    subprocess.run(shlex.split(restore), check=True, timeout=120)  # noqa: S603
    verified = invoke(app, "audit", "verify")
    assert f"audit trail OK: {entries} entries, head {head}" in verified.output
    assert manifest["row_counts"]["audit_entries"] == entries

    restored = fresh_app(tmp_path / "elsewhere", uri=PG_URL)
    done = invoke(restored, "restore", str(target))
    assert done.exit_code == 0, done.output
    assert "pg_restore" in done.output
    assert tree(tmp_path / "elsewhere" / "evidence") == tree(Path(app.config["EVIDENCE_DIR"]))
    assert tree(tmp_path / "elsewhere" / "reports") == tree(Path(app.config["REPORT_DIR"]))
    assert tree(tmp_path / "elsewhere" / "plan-seeds") == tree(Path(app.config["PLAN_SEED_DIR"]))


@postgres_only
def test_postgresql_backup_with_pg_dump_hashes_the_dump(with_evidence: Flask,
                                                        tmp_path: Path) -> None:
    made = invoke(with_evidence, "backup", "--pg-dump", str(tmp_path / "bk"))
    assert made.exit_code == 0, made.output
    assert "pg_dump --format" not in made.output  # it ran; nothing left to run by hand
    assert "pg_restore --clean" in made.output
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["database_file"] == "labelkeeper.dump"
    assert "labelkeeper.dump" in manifest["files"]
    flip_a_byte(tmp_path / "bk" / "labelkeeper.dump")
    refused = invoke(fresh_app(tmp_path / "elsewhere", uri=PG_URL), "restore",
                     str(tmp_path / "bk"))
    assert refused.exit_code == 1
    assert "labelkeeper.dump does not match its SHA-256" in refused.output


@postgres_only
def test_postgresql_restore_refuses_while_a_scheduler_holds_its_lock(
        populated: Flask, tmp_path: Path) -> None:
    from core.scheduler import ADVISORY_LOCK_KEY

    app = populated
    assert invoke(app, "backup", str(tmp_path / "bk")).exit_code == 0
    holder = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with holder.connect() as conn:  # what a running scheduler holds
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                            {"k": ADVISORY_LOCK_KEY}).scalar()
        busy = invoke(app, "restore", "--force", str(tmp_path / "bk"))
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
    holder.dispose()
    assert busy.exit_code == 1
    assert "The scheduler is running" in busy.output
