"""The audit trail's hash chain: canonical serialisation, entry hashes, chain checks (pure).

Each entry's hash is SHA-256 over the canonical JSON of its fields (sorted keys, no spaces,
UTF-8) including the previous entry's hash, so changing, removing or reordering any entry
breaks every link after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class ChainEntry:
    """One audit entry as the chain sees it."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    """The first entry whose link does not hold, and why."""

    seq: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """Outcome of walking the chain."""

    entries: int
    head_hash: str
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        """True when every link holds."""
        return self.first_break is None


def canonical_json(value: Any) -> str:
    """Serialise a JSON value canonically: sorted keys, compact separators, UTF-8 text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def format_time(at: datetime) -> str:
    """Format a naive UTC time the one way the chain hashes it."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    payload: str,
    prev_hash: str,
) -> str:
    """Return the SHA-256 hex digest of an entry's canonical serialisation."""
    body: Mapping[str, Any] = {
        "seq": seq,
        "at": format_time(at),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def compute_chain_report(entries: Iterable[ChainEntry]) -> ChainReport:
    """Walk entries in sequence order and report the first broken link, if any."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return ChainReport(count, expected_prev, ChainBreak(
                entry.seq, f"sequence gap: expected {expected_seq}, found {entry.seq}"))
        if entry.prev_hash != expected_prev:
            return ChainReport(count, expected_prev, ChainBreak(
                entry.seq, "previous-hash link does not match the entry before it"))
        recomputed = compute_entry_hash(
            seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action,
            entity_type=entry.entity_type, entity_id=entry.entity_id,
            payload=entry.payload, prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
            return ChainReport(count, expected_prev, ChainBreak(
                entry.seq, "stored hash does not match the entry's content"))
        expected_prev = entry.hash
        expected_seq += 1
    return ChainReport(count, expected_prev, None)
