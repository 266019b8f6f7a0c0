"""The audit trail: written with the change, append-only, and verifiable."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from core import audit, services
from core.chain import GENESIS_HASH
from core.db import db
from core.models import AuditEntry, User


def write_entries(n: int) -> None:
    for i in range(n):
        audit.record("test.event", "thing", i, {"i": i, "name": "é"})
    db.session.commit()


def tamper(sql: str) -> None:
    """Change a row underneath the app, as someone with raw database access could."""
    if db.engine.dialect.name == "postgresql":
        trigger = "audit_entries_append_only"
        db.session.execute(text(f"ALTER TABLE audit_entries DISABLE TRIGGER {trigger}"))
        db.session.execute(text(sql))
        db.session.execute(text(f"ALTER TABLE audit_entries ENABLE TRIGGER {trigger}"))
    else:
        db.session.execute(text("DROP TRIGGER audit_entries_no_update"))
        db.session.execute(text("DROP TRIGGER audit_entries_no_delete"))
        db.session.execute(text(sql))
    db.session.commit()


def test_entries_chain_from_genesis(app: Flask) -> None:
    write_entries(3)
    entries = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].actor == "system"
    report = audit.verify_chain()
    assert report.ok
    assert report.entries == 3
    assert report.head_hash == entries[2].hash


def test_verify_command_reports_ok(app: Flask, runner: FlaskCliRunner) -> None:
    write_entries(2)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert "audit trail OK: 2 entries, head " in result.output


def test_tampered_row_fails_verification_with_its_sequence(app: Flask,
                                                          runner: FlaskCliRunner) -> None:
    write_entries(5)
    tamper("UPDATE audit_entries SET actor = 'forger@example.test' WHERE seq = 3")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry 3" in result.output


def test_deleted_row_fails_verification(app: Flask, runner: FlaskCliRunner) -> None:
    write_entries(4)
    tamper("DELETE FROM audit_entries WHERE seq = 2")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry 3" in result.output
    assert "gap" in result.output


@pytest.mark.parametrize("sql", [
    "UPDATE audit_entries SET actor = 'someone' WHERE seq = 1",
    "DELETE FROM audit_entries WHERE seq = 1",
])
def test_database_refuses_updates_and_deletes(app: Flask, sql: str) -> None:
    write_entries(1)
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(sql))
    db.session.rollback()
    assert audit.verify_chain().ok


def test_orm_refuses_to_change_an_entry(app: Flask) -> None:
    write_entries(1)
    entry = db.session.execute(select(AuditEntry)).scalar_one()
    entry.actor = "forger"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_entry_rolls_back_with_the_change_it_records(app: Flask) -> None:
    services.create_user("ghost@example.test", "Ghost", "long-enough-pass", ["vetting"], None)
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 0


def test_audit_log_page_lists_entries_for_compliance(app: Flask, client,  # type: ignore[no-untyped-def]
                                                     login) -> None:  # type: ignore[no-untyped-def]
    write_entries(3)
    login("compliance")
    page = client.get("/audit").get_data(as_text=True)
    assert "test.event" in page
    assert "auth.login" in page
    filtered = client.get("/audit?action=auth.").get_data(as_text=True)
    assert "auth.login" in filtered
    assert "test.event" not in filtered
