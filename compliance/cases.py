"""Suspension reviews and seller cases as data (pure): the kinds of case a seller may send and
what each decision records in the audit trail.

A suspension pending review is confirmed (the label stays suspended), overturned (the label
returns to where it was) or superseded by a revocation. A seller answers a confirmed suspension
with an appeal or a corrective-action plan, which is accepted or rejected with a reason.

Pure module: no Flask, no SQLAlchemy; plain values in, plain dicts out.
"""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = [
    "CASE_KINDS",
    "case_decided_entry",
    "case_recorded_entry",
    "review_confirmed_payload",
    "review_overturned_payload",
    "review_superseded_payload",
]

# kind -> how it is named in a sentence
CASE_KINDS = {"appeal": "appeal", "corrective_action": "corrective-action plan"}


def review_confirmed_payload(review_id: int, label_event_id: int,
                             reason: str) -> dict[str, Any]:
    """The audit payload of ``suspension.confirmed``."""
    return {"review_id": review_id, "label_event_id": label_event_id, "reason": reason}


def review_overturned_payload(review_id: int, restored: str, reason: str) -> dict[str, Any]:
    """The audit payload of ``suspension.overturned``; ``restored`` is the status returned to."""
    return {"review_id": review_id, "restored": restored, "reason": reason}


def review_superseded_payload(review_id: int, reason: str) -> dict[str, Any]:
    """The audit payload of ``suspension.superseded`` (the label was revoked meanwhile)."""
    return {"review_id": review_id, "reason": reason}


def case_recorded_entry(case_id: int, kind: str, summary: str,
                        received_on: date) -> tuple[str, dict[str, Any]]:
    """The audit action (``case.<kind>_recorded``) and payload of a case received."""
    return f"case.{kind}_recorded", {"case_id": case_id, "summary": summary,
                                     "received_on": received_on.isoformat()}


def case_decided_entry(case_id: int, kind: str, status: str,
                       reason: str) -> tuple[str, dict[str, Any]]:
    """The audit action (``case.accepted`` or ``case.rejected``) and payload of a decision."""
    return f"case.{status}", {"case_id": case_id, "kind": kind, "reason": reason}
