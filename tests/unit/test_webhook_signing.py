"""Webhook signatures and payloads: what a receiver checks and what it is sent."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime

import pytest

from webhooks.payloads import (
    LABEL_CHANGED,
    LABEL_RENEWED,
    SellerFacts,
    compute_body,
    compute_payload,
    compute_topic,
)
from webhooks.signing import (
    SignatureError,
    compute_headers,
    compute_signature_header,
    compute_unix_seconds,
    parse_signature_header,
    verify_signature,
)

SECRET = "whsec_test"
BODY = b'{"id":"abc","topic":"label.changed"}'
T = 1_781_092_800


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature_header(SECRET, T, BODY) == f"t={T},v1={expected}"


def test_a_fresh_signature_verifies_within_the_tolerance_either_way() -> None:
    header = compute_signature_header(SECRET, T, BODY)
    assert verify_signature(SECRET, header, BODY, now=T + 300).timestamp == T
    assert verify_signature(SECRET, header, BODY, now=T - 300).timestamp == T


@pytest.mark.parametrize(("now", "reason"), [
    (T + 301, "301 s old; outside the 300 s tolerance (possible replay)"),
    (T - 301, "301 s ahead; outside the 300 s tolerance"),
])
def test_a_replay_outside_the_tolerance_is_refused(now: int, reason: str) -> None:
    header = compute_signature_header(SECRET, T, BODY)
    with pytest.raises(SignatureError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        verify_signature(SECRET, header, BODY, now=now)


def test_a_changed_body_wrong_secret_or_moved_timestamp_is_refused() -> None:
    header = compute_signature_header(SECRET, T, BODY)
    for secret, hdr, body in [
        (SECRET, header, BODY + b" "),
        ("whsec_other", header, BODY),
        (SECRET, header.replace(f"t={T}", f"t={T + 1}"), BODY),
    ]:
        with pytest.raises(SignatureError, match="signature does not match"):
            verify_signature(secret, hdr, body, now=T)


def test_one_matching_signature_among_several_is_enough() -> None:
    good = compute_signature_header(SECRET, T, BODY).split(",")[1]
    header = f"t={T},v1={'0' * 64},{good}"
    assert verify_signature(SECRET, header, BODY, now=T).signatures[1] == good[3:]


@pytest.mark.parametrize(("header", "reason"), [
    (None, "missing Labelkeeper-Signature header"),
    ("", "missing Labelkeeper-Signature header"),
    ("garbage", "'garbage' is not key=value"),
    (f"v1={'a' * 64}", "no timestamp"),
    (f"t={T}", "no v1 signature"),
    (f"t=soon,v1={'a' * 64}", "t must be one whole number"),
    (f"t={T},t={T},v1={'a' * 64}", "t must be one whole number"),
    (f"t={T},v1=XYZ", "v1 must be 64 lowercase hex digits"),
    ("t=1," + "x=y," * 400, "too long"),
])
def test_malformed_headers_are_refused_with_the_reason(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        parse_signature_header(header)


def test_headers_carry_signature_event_id_idempotency_key_and_topic() -> None:
    headers = compute_headers(SECRET, "e1", LABEL_CHANGED, T, BODY)
    assert headers["Labelkeeper-Event-Id"] == headers["Idempotency-Key"] == "e1"
    assert headers["Labelkeeper-Topic"] == "label.changed"
    assert headers["Content-Type"] == "application/json"
    verify_signature(SECRET, headers["Labelkeeper-Signature"], BODY, now=T)


def test_unix_seconds_of_a_naive_utc_time() -> None:
    assert compute_unix_seconds(datetime(1970, 1, 2, 0, 0, 1)) == 86401


@pytest.mark.parametrize(("from_status", "to_status", "renewal", "topic"), [
    ("active", "suspended", None, LABEL_CHANGED),
    (None, "active", None, LABEL_CHANGED),
    ("active", "active", "full", LABEL_RENEWED),
    ("probation", "probation", "conditional", LABEL_RENEWED),
    ("active", "active", None, None),
])
def test_topic_of_a_label_change(from_status: str | None, to_status: str, renewal: str | None,
                                 topic: str | None) -> None:
    assert compute_topic(from_status, to_status, renewal) == topic


def test_payload_and_its_body() -> None:
    facts = SellerFacts(7, "Refurb GmbH", "Refurb", "DE", "suspended", date(2027, 1, 10), None)
    payload = compute_payload(
        event_id="k", topic=LABEL_CHANGED, occurred_at=datetime(2026, 6, 10, 12, 0, 5, 123),
        sequence=3, facts=facts,
        change={"from_status": "active", "to_status": "suspended", "pending_review": True,
                "reason": "CUSUM signal", "label_event_id": 11})
    assert payload["occurred_at"] == "2026-06-10T12:00:05Z"
    assert payload["seller"] == {"id": 7, "legal_name": "Refurb GmbH", "trading_name": "Refurb",
                                 "country": "DE"}
    assert payload["label"] == {"status": "suspended", "valid_until": "2027-01-10",
                                "sampling_state": None}
    assert payload["change"]["review_id"] is None
    body = compute_body(payload)
    assert json.loads(body) == payload
    assert ", " not in body
    assert body.startswith('{"change":')
