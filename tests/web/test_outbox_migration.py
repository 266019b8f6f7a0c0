"""Migration 5f1e0c0b7a01 (one outbox) keeps the meaning of existing reports, notices and
webhook deliveries, and its downgrade gives back the columns they had."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from core.db import db
from tests.conftest import PG_URL, make_config

BEFORE, AFTER = "86e30e52f074", "5f1e0c0b7a01"
T = datetime(2026, 6, 1, 12, 0)


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[str]:
    """A database of its own (the shared test database stays at the head revision)."""
    if PG_URL is None:
        yield f"sqlite:///{tmp_path / 'migration.sqlite3'}"
        return
    name = f"lk_migration_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rows(sql: str) -> list[tuple[Any, ...]]:
    found = [tuple(r) for r in db.session.execute(text(sql)).all()]
    db.session.commit()  # no lock left for the migrations that follow
    return found


def insert(sql: str, **params: Any) -> None:
    db.session.execute(text(sql), params)


def seed() -> None:
    """One row in every state of each outbox, in the columns before the migration."""
    insert("INSERT INTO sellers (id, legal_name, trading_name, country, registration_number, "
           "registration_key, vat_id, contact_email, website, device_categories, "
           "declared_monthly_volume, created_at, version) VALUES (1, 'S GmbH', 'S', 'DE', "
           "'HRB 1', 'HRB1', 'DE1', 's@example.test', '', 'smartphone', 1, :t, 1)", t=T)
    insert("INSERT INTO label_events (id, seller_id, from_status, to_status, reason, actor, "
           "pending_review, at) VALUES (1, 1, 'active', 'suspended', 'r', 'system', :p, :t)",
           t=T, p=True)
    for n, status, started, message in ((1, "queued", None, ""), (2, "rendering", T, ""),
                                         (3, "done", T, ""), (4, "failed", T, "boom")):
        insert("INSERT INTO reports (id, document_id, kind, date_from, date_to, status, "
               "progress, message, requested_at, started_at) VALUES (:n, :d, 'period', "
               ":f, :f, :s, 0, :m, :r, :st)", n=n, d=f"R{n}", f=T.date(), s=status, m=message,
               r=T - timedelta(hours=n), st=started)
    for n, status, attempts, claimed in ((1, "queued", 0, None), (2, "sending", 1, T),
                                         (3, "sent", 2, T), (4, "dead", 12, T)):
        insert("INSERT INTO notices (id, reference, seller_id, label_event_id, kind, "
               "decided_on, appeal_by, recipient, subject, body_text, body_html, "
               "document_html, message_id, created_at, status, attempts, next_attempt_at, "
               "claim_token, claimed_at, last_error) VALUES (:n, :ref, 1, 1, :k, :d, :d, "
               "'s@example.test', 's', 't', 'h', 'd', :mid, :t, :s, :a, :t, :tok, :c, '')",
               n=n, ref=f"N{n}", k=f"kind{n}", d=T.date(), mid=f"<n{n}@x>", t=T, s=status,
               a=attempts, tok="tok" if status == "sending" else None, c=claimed)
    insert("INSERT INTO webhook_endpoints (id, url, secret, description, active, created_at) "
           "VALUES (1, 'http://127.0.0.1:9/x', 'whsec_x', '', :a, :t)", a=True, t=T)
    for n, status, attempts, locked, error in ((1, "pending", 0, None, ""),
                                               (2, "pending", 2, T, "HTTP 500"),
                                               (3, "delivered", 1, None, ""),
                                               (4, "dead", 12, None, "HTTP 503")):
        insert("INSERT INTO webhook_events (id, idempotency_key, topic, seller_id, sequence, "
               "body, created_at) VALUES (:n, :k, 'label.changed', 1, :n, '{}', :t)",
               n=n, k=f"k{n}", t=T)
        insert("INSERT INTO webhook_deliveries (id, event_id, endpoint_id, seller_id, status, "
               "attempts, next_attempt_at, locked_until, claim_token, last_attempt_at, "
               "last_error) VALUES (:n, :n, 1, 1, :s, :a, :t, :l, :tok, :la, :e)", n=n,
               s=status, a=attempts, t=T, l=locked, tok="tok" if locked else None,
               la=T - timedelta(minutes=1) if attempts else None, e=error)
    db.session.commit()


def dt(value: Any) -> datetime | None:
    """A datetime as either engine returns it through a plain text query."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def test_existing_rows_keep_their_meaning_up_and_down(own_database: str, tmp_path: Path) -> None:
    app: Flask = create_app(make_config(own_database, REPORT_DIR=str(tmp_path / "reports")))
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        seed()

        flask_migrate.upgrade(revision=AFTER)

        reports = rows("SELECT document_id, status, attempts, next_attempt_at, claimed_at, "
                       "claimed_until, claim_token, last_error FROM reports ORDER BY id")
        assert [(r[0], r[1], r[2]) for r in reports] == [
            ("R1", "queued", 0), ("R2", "rendering", 0), ("R3", "done", 1), ("R4", "failed", 1)]
        assert dt(reports[0][3]) == T - timedelta(hours=1)  # due since it was requested
        assert (dt(reports[1][4]), dt(reports[1][5])) == (T, T + timedelta(minutes=15))
        assert reports[0][5] is None
        assert reports[3][7] == "boom"
        notices = rows("SELECT status, attempts, claim_token, claimed_until FROM notices "
                       "ORDER BY id")
        assert [(n[0], n[1]) for n in notices] == [
            ("queued", 0), ("sending", 1), ("sent", 2), ("dead", 12)]
        assert notices[1][2] == "tok"
        assert dt(notices[1][3]) == T + timedelta(seconds=600)
        assert [n[3] for n in notices if n[0] != "sending"] == [None] * 3
        deliveries = rows("SELECT status, attempts, claimed_until, claim_token, claimed_at, "
                          "last_error FROM webhook_deliveries ORDER BY id")
        assert [(d[0], d[1]) for d in deliveries] == [
            ("pending", 0), ("pending", 1), ("delivered", 1), ("dead", 12)]
        assert (dt(deliveries[1][2]), deliveries[1][3]) == (T, "tok")
        assert dt(deliveries[1][4]) == T - timedelta(minutes=1)
        assert deliveries[3][5] == "HTTP 503"

        flask_migrate.downgrade(revision=BEFORE)

        assert rows("SELECT document_id, status, message, started_at IS NULL FROM reports "
                    "ORDER BY id") == [("R1", "queued", "", True), ("R2", "rendering", "", False),
                                       ("R3", "done", "", False), ("R4", "failed", "boom", False)]
        assert rows("SELECT status, attempts, claim_token FROM notices ORDER BY id") == [
            ("queued", 0, None), ("sending", 1, "tok"), ("sent", 2, None), ("dead", 12, None)]
        back = rows("SELECT status, attempts, locked_until, last_attempt_at, last_error "
                    "FROM webhook_deliveries ORDER BY id")
        assert [(d[0], d[1], d[4]) for d in back] == [
            ("pending", 0, ""), ("pending", 2, "HTTP 500"), ("delivered", 1, ""),
            ("dead", 12, "HTTP 503")]
        assert dt(back[1][2]) == T
        assert dt(back[1][3]) == T - timedelta(minutes=1)

        flask_migrate.upgrade()  # and up again
        db.session.remove()
        db.engine.dispose()
