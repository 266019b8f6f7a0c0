"""What a webhook says: its topic and JSON body, from plain values (pure).

Topics:
- `label.changed`: the label moved to another status (granted, suspended, reinstated, ...).
- `label.renewed`: the label was renewed at its anniversary ("full" or "conditional").
- `suspension.confirmed`: a compliance officer confirmed an automatic suspension.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

LABEL_CHANGED = "label.changed"
LABEL_RENEWED = "label.renewed"
SUSPENSION_CONFIRMED = "suspension.confirmed"
TOPICS = (LABEL_CHANGED, LABEL_RENEWED, SUSPENSION_CONFIRMED)
RENEWALS = frozenset({"full", "conditional"})


@dataclass(frozen=True)
class SellerFacts:
    """The seller and label facts a webhook carries, as they stand when the change commits."""

    seller_id: int
    legal_name: str
    trading_name: str
    country: str
    label_status: str | None
    valid_until: date | None
    sampling_state: str | None


def compute_topic(from_status: str | None, to_status: str, renewal: str | None) -> str | None:
    """The topic of a label change: renewals, then status changes; None if nothing moved."""
    if renewal in RENEWALS:
        return LABEL_RENEWED
    if from_status != to_status:
        return LABEL_CHANGED
    return None


def _iso_utc(moment: datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def compute_payload(*, event_id: str, topic: str, occurred_at: datetime, sequence: int,
                    facts: SellerFacts, change: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document of one event.

    `change` holds what the event itself records: from_status, to_status, pending_review,
    renewal, reason, label_event_id and, for a confirmed suspension, review_id.
    """
    return {
        "id": event_id,
        "topic": topic,
        "occurred_at": _iso_utc(occurred_at),
        "sequence": sequence,
        "seller": {
            "id": facts.seller_id,
            "legal_name": facts.legal_name,
            "trading_name": facts.trading_name,
            "country": facts.country,
        },
        "change": {
            "from_status": change.get("from_status"),
            "to_status": change.get("to_status"),
            "pending_review": bool(change.get("pending_review", False)),
            "renewal": change.get("renewal"),
            "reason": change.get("reason", ""),
            "label_event_id": change.get("label_event_id"),
            "review_id": change.get("review_id"),
        },
        "label": {
            "status": facts.label_status,
            "valid_until": facts.valid_until.isoformat() if facts.valid_until else None,
            "sampling_state": facts.sampling_state,
        },
    }


def compute_body(payload: Mapping[str, Any]) -> str:
    """The exact text sent (and signed): compact JSON with sorted keys, UTF-8 safe."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
