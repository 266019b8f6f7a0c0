"""The audit entries' details as the dossier prints them."""

from __future__ import annotations

import json

from compliance.audit_details import SHORT_HASH, compute_detail_lines, short_hash

SHA = "ab" * 32


def test_details_are_key_value_lines_not_json() -> None:
    payload = json.dumps({"from": "placed", "to": "received", "price_paid_cents": 41200,
                          "battery_swollen": False, "notes": "", "failed": ["DISP-1", "PACK-1"],
                          "changes": {"legal_name": ["Old", "New"]}})
    assert compute_detail_lines(payload) == [
        ("from", "placed"), ("to", "received"), ("price paid cents", "41200"),
        ("battery swollen", "no"), ("notes", "none"), ("failed", "DISP-1, PACK-1"),
        ("changes", "legal name: Old, New")]


def test_hashes_inside_details_are_shortened_and_marked() -> None:
    lines = compute_detail_lines({"photos": [SHA, SHA.upper()], "sha256": SHA})
    assert lines[0] == ("photos", f"{SHA[:SHORT_HASH]}…, {SHA.upper()}")  # only hex hashes
    assert lines[1] == ("sha256", f"{SHA[:SHORT_HASH]}…")
    assert short_hash(SHA) == SHA[:12]


def test_a_payload_that_is_not_an_object_is_one_line() -> None:
    assert compute_detail_lines("[1, 2]") == [("details", "1, 2")]
    assert compute_detail_lines("{}") == []
