"""Signing and verifying webhook requests (pure).

The sender signs the exact bytes of the request body together with a timestamp:

    Labelkeeper-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

A receiver recomputes the HMAC with the endpoint's secret, compares it in constant time and
refuses a timestamp further than `tolerance` seconds from its own clock, so a captured
request cannot be replayed later. Several `v1=` values may appear (e.g. during a change of
secret); one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

SIGNATURE_HEADER = "Labelkeeper-Signature"
EVENT_ID_HEADER = "Labelkeeper-Event-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOPIC_HEADER = "Labelkeeper-Topic"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
_MAX_HEADER_LENGTH = 1024


class SignatureError(ValueError):
    """A request whose signature does not hold; the message says why."""


@dataclass(frozen=True)
class ParsedSignature:
    """The parts of a signature header: its timestamp and the v1 signatures it carries."""

    timestamp: int
    signatures: tuple[str, ...]


def compute_unix_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch of a naive-UTC (or aware) datetime."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp())


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def compute_signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the Labelkeeper-Signature header for `body` sent at `timestamp`."""
    return f"t={timestamp},{SCHEME}={compute_signature(secret, timestamp, body)}"


def compute_headers(secret: str, event_id: str, topic: str, timestamp: int,
                    body: bytes) -> dict[str, str]:
    """Every header a webhook request carries besides the transport's own."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "Labelkeeper-Webhooks/1",
        SIGNATURE_HEADER: compute_signature_header(secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
        IDEMPOTENCY_HEADER: event_id,
        TOPIC_HEADER: topic,
    }


def parse_signature_header(header: str | None) -> ParsedSignature:
    """Split "t=...,v1=..." into its parts; raise SignatureError when it is malformed."""
    if not header:
        raise SignatureError("missing Labelkeeper-Signature header")
    if len(header) > _MAX_HEADER_LENGTH:
        raise SignatureError("malformed signature header: too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not value:
            raise SignatureError(f"malformed signature header: {part.strip()!r} is not key=value")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise SignatureError("malformed signature header: t must be one whole number "
                                     "of seconds")
            timestamp = int(value)
        elif key == SCHEME:
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise SignatureError("malformed signature header: v1 must be 64 lowercase hex "
                                     "digits")
            signatures.append(value)
        # other keys (future schemes) are ignored
    if timestamp is None:
        raise SignatureError("malformed signature header: no timestamp (t=)")
    if not signatures:
        raise SignatureError("malformed signature header: no v1 signature")
    return ParsedSignature(timestamp, tuple(signatures))


def verify_signature(secret: str, header: str | None, body: bytes, now: float,
                     tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> ParsedSignature:
    """Check a request's signature; raise SignatureError saying why it fails.

    `now` is the receiver's clock in unix seconds; a timestamp more than `tolerance`
    seconds away from it (either way) is refused as a possible replay.
    """
    parsed = parse_signature_header(header)
    expected = compute_signature(secret, parsed.timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in parsed.signatures):
        raise SignatureError("signature does not match the body and secret")
    skew = now - parsed.timestamp
    if abs(skew) > tolerance:
        raise SignatureError(f"timestamp is {abs(int(skew))} s {'old' if skew > 0 else 'ahead'}"
                             f"; outside the {tolerance} s tolerance (possible replay)")
    return parsed

