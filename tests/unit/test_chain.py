"""The audit hash chain, without a database."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.chain import (
    GENESIS_HASH,
    ChainEntry,
    canonical_json,
    compute_chain_report,
    compute_entry_hash,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901)


def build_chain(payloads: list[str]) -> list[ChainEntry]:
    entries: list[ChainEntry] = []
    prev = GENESIS_HASH
    for i, payload in enumerate(payloads, start=1):
        fields = {"seq": i, "at": T0 + timedelta(seconds=i), "actor": "a@example.test",
                  "action": "thing.done", "entity_type": "thing", "entity_id": str(i),
                  "payload": payload, "prev_hash": prev}
        digest = compute_entry_hash(**fields)  # type: ignore[arg-type]
        entries.append(ChainEntry(**fields, hash=digest))  # type: ignore[arg-type]
        prev = digest
    return entries


def test_hash_is_sha256_of_canonical_fields() -> None:
    expected_body = (
        '{"action":"x","actor":"system","at":"2026-01-02T03:04:05.678901Z",'
        '"entity_id":"7","entity_type":"user","payload":"{}","prev_hash":"' + GENESIS_HASH
        + '","seq":1}'
    )
    got = compute_entry_hash(seq=1, at=T0, actor="system", action="x", entity_type="user",
                             entity_id="7", payload="{}", prev_hash=GENESIS_HASH)
    assert got == hashlib.sha256(expected_body.encode()).hexdigest()


def test_canonical_json_sorts_keys_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def test_intact_chain_verifies_and_reports_head() -> None:
    chain = build_chain(["{}", '{"a":1}', '{"b":2}'])
    report = compute_chain_report(chain)
    assert report.ok
    assert report.entries == 3
    assert report.head_hash == chain[-1].hash


def test_empty_chain_is_ok_with_genesis_head() -> None:
    report = compute_chain_report([])
    assert report.ok
    assert report.entries == 0
    assert report.head_hash == GENESIS_HASH


def test_changed_payload_breaks_at_that_entry() -> None:
    chain = build_chain(["{}", '{"a":1}', '{"b":2}'])
    chain[1] = replace(chain[1], payload='{"a":2}')
    report = compute_chain_report(chain)
    assert report.first_break is not None
    assert report.first_break.seq == 2
    assert "content" in report.first_break.reason


def test_rehashed_entry_still_breaks_the_next_link() -> None:
    chain = build_chain(["{}", '{"a":1}', '{"b":2}'])
    forged = replace(chain[1], payload='{"a":2}')
    forged = replace(forged, hash=compute_entry_hash(
        seq=2, at=forged.at, actor=forged.actor, action=forged.action,
        entity_type=forged.entity_type, entity_id=forged.entity_id, payload=forged.payload,
        prev_hash=forged.prev_hash))
    chain[1] = forged
    report = compute_chain_report(chain)
    assert report.first_break is not None
    assert report.first_break.seq == 3


def test_removed_entry_is_a_sequence_gap() -> None:
    chain = build_chain(["{}", "{}", "{}"])
    del chain[1]
    report = compute_chain_report(chain)
    assert report.first_break is not None
    assert report.first_break.seq == 3
    assert "gap" in report.first_break.reason


@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8),
                                max_size=4), min_size=1, max_size=8),
       st.data())
def test_any_single_payload_change_is_detected(payloads: list[dict[str, object]],
                                               data: st.DataObject) -> None:
    chain = build_chain([canonical_json(p) for p in payloads])
    assert compute_chain_report(chain).ok
    i = data.draw(st.integers(0, len(chain) - 1))
    chain[i] = replace(chain[i], payload=chain[i].payload + " ")
    report = compute_chain_report(chain)
    assert report.first_break is not None
    assert report.first_break.seq == i + 1
