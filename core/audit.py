"""Writing and verifying the audit trail.

`record()` appends an entry in the caller's transaction, so the entry commits or rolls back
with the change it describes. Entries are never updated or deleted: the ORM refuses it here
and database triggers (see the first migration) refuse it underneath.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core.chain import (
    GENESIS_HASH,
    ChainEntry,
    ChainReport,
    canonical_json,
    compute_chain_report,
    compute_entry_hash,
)
from core.clock import utcnow
from core.db import db, lock
from core.models import AuditEntry, User

SYSTEM_ACTOR = "system"

# Who acts when no staff member does: "system" for jobs, "api:<token name>" during an API call.
_acting_as: ContextVar[str] = ContextVar("audit_acting_as", default=SYSTEM_ACTOR)


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Record entries written in the block without a staff actor under `name`."""
    token = _acting_as.set(name)
    try:
        yield
    finally:
        _acting_as.reset(token)


def record(
    action: str,
    entity_type: str,
    entity_id: object,
    payload: Mapping[str, Any] | None = None,
    actor: User | None = None,
) -> AuditEntry:
    """Append one entry to the chain in the current transaction and flush it."""
    session = db.session
    lock("audit_chain")
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    fields = {
        "seq": seq,
        "at": utcnow(),
        "actor": actor.email if actor is not None else _acting_as.get(),
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "payload": canonical_json(dict(payload or {})),
        "prev_hash": prev_hash,
    }
    entry = AuditEntry(**fields, hash=compute_entry_hash(**fields),
                       actor_id=actor.id if actor is not None else None)
    session.add(entry)
    session.flush()
    return entry


def _iter_chain(batch: int = 2000) -> Iterator[ChainEntry]:
    rows = db.session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    ).scalars()
    for e in rows:
        yield ChainEntry(e.seq, e.at, e.actor, e.action, e.entity_type, e.entity_id,
                         e.payload, e.prev_hash, e.hash)


def verify_chain() -> ChainReport:
    """Walk the whole trail and report the first broken link."""
    return compute_chain_report(_iter_chain())


def head_hash() -> str:
    """The hash of the newest entry (the genesis hash when the trail is empty)."""
    value = db.session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar()
    return value or GENESIS_HASH


def _refuse_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            raise RuntimeError("the audit trail is append-only")


def install_guards() -> None:
    """Make every ORM session refuse to update or delete audit entries (idempotent)."""
    if not event.contains(Session, "before_flush", _refuse_changes):
        event.listen(Session, "before_flush", _refuse_changes)


def count_entries() -> int:
    """How many entries the trail holds (sequence numbers run 1..n without gaps)."""
    return db.session.execute(select(func.max(AuditEntry.seq))).scalar() or 0
