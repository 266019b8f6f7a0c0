"""Database base: the SQLAlchemy object, constraint naming convention, engine tuning.

SQLite runs in WAL mode with a busy timeout; write requests open their transaction with
BEGIN IMMEDIATE so concurrent writers queue on the lock instead of failing when they upgrade
from a stale read snapshot. PostgreSQL needs none of this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.exc import StaleDataError

from core.errors import ConflictError, ServiceError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention for constraints."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# True while the current unit of work may write; read-only requests set it False so SQLite
# starts a plain (shared) transaction for them.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)


@contextmanager
def read_only() -> Iterator[None]:
    """Run the block in a read transaction (on SQLite: without the write lock) and end it."""
    db.session.commit()
    token = write_intent.set(False)
    try:
        yield
    finally:
        db.session.commit()
        write_intent.reset(token)


def engine_options(uri: str) -> dict[str, Any]:
    """Pool options for a database server (none for SQLite files).

    pool_pre_ping tests a pooled connection before use, so after the server restarted (or the
    network dropped every connection) the first request reconnects instead of failing on a
    dead socket; connect_timeout bounds the wait for an unreachable server, so requests answer
    503 within seconds instead of hanging a worker.
    """
    if uri.startswith("sqlite"):
        return {}
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Install per-connection settings for SQLite engines (no-op for other dialects)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event below emit BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def flush_or_conflict(what: str, unique_message: str | None = None) -> None:
    """Flush, turning a lost optimistic-lock race into ConflictError and, when
    `unique_message` is given, a unique-constraint race into ServiceError."""
    try:
        db.session.flush()
    except StaleDataError:
        raise ConflictError(f"Someone else changed this {what} at the same time; reload the "
                            "page and try again.") from None
    except IntegrityError:
        if unique_message is None:
            raise
        raise ServiceError(unique_message) from None


def lock(key: str) -> None:
    """Serialise writers on `key` until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock; SQLite needs nothing more because a
    writing transaction already holds the database's single write lock (BEGIN IMMEDIATE).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def refresh_planner_statistics() -> None:
    """PostgreSQL: ANALYZE now, after a bulk load, rather than whenever autovacuum gets to it.

    Until then the planner guesses row counts, and the seller page's verdict queries were seen
    to pick sequential scans over 100,000 inspections (283 ms instead of 30 ms at p95).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
