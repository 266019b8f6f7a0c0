"""Back Label status as data: the transition table, its guard and the label's date arithmetic.

A seller holds at most one Back Label. Its status moves only along the edges of
``TRANSITIONS``; ``ensure_transition`` refuses everything else. ``None`` stands for "no label
yet", so granting a label on approval is the edge ``None -> active``.

"Suspended, pending review" (an automatic suspension that a compliance officer still has to
confirm or overturn) is not a status of its own: it is ``suspended`` with
``LabelChange.pending_review`` set, so the table stays small and every later step
(confirm = stay suspended, overturn = back to active, revoke) is the same for manual and
automatic suspensions.

Every change is stored as a label event of one ``LabelEventKind`` (grant, renewal, suspension,
...), decided here from the statuses so that reports count kinds instead of reading reasons.
``compute_label_record`` is the whole change as stored: the checked status move, its kind, the
label's validity and the sampling state afterwards; ``label_event_columns`` and
``label_changed_payload`` are its label event row and its audit entry.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "IN_FORCE",
    "LABEL_VALIDITY_MONTHS",
    "RENEWAL_KINDS",
    "RENEWAL_WINDOW_DAYS",
    "TRANSITIONS",
    "LabelChange",
    "LabelEventKind",
    "LabelRecord",
    "LabelStatus",
    "LabelTransitionError",
    "SamplingState",
    "allowed_targets",
    "compute_due_for_renewal",
    "compute_is_expired",
    "compute_label_change",
    "compute_label_end",
    "compute_label_event_kind",
    "compute_label_record",
    "ensure_transition",
    "is_allowed",
    "label_changed_payload",
    "label_event_columns",
]

LABEL_VALIDITY_MONTHS = 12
RENEWAL_WINDOW_DAYS = 30
# How a renewal at the anniversary went (the `renewal` of a label change).
RENEWAL_KINDS = frozenset({"full", "conditional"})


class LabelStatus(StrEnum):
    """The status of a seller's Back Label (stored as its string value)."""

    ACTIVE = "active"
    PROBATION = "probation"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


# The statuses under which a seller sells with the label and is tested.
IN_FORCE = frozenset({LabelStatus.ACTIVE, LabelStatus.PROBATION})


class SamplingState(StrEnum):
    """How often a labelled seller is tested; no state while the label is not in force.

    Stored on the seller beside the label status (quality control sets it from the seller's
    statistics; vetting sets onboarding when it grants a label).
    """

    ONBOARDING = "onboarding"
    NORMAL = "normal"
    REDUCED = "reduced"
    TIGHTENED = "tightened"


class LabelEventKind(StrEnum):
    """What a label event did to the label (stored as its string value)."""

    GRANT = "grant"  # no label, or an expired one -> active
    RENEWAL_FULL = "renewal_full"  # same status, a new year of validity
    RENEWAL_CONDITIONAL = "renewal_conditional"  # same, back to onboarding-rate sampling
    SUSPENSION = "suspension"  # -> suspended (pending review or not: LabelEvent.pending_review)
    REINSTATEMENT = "reinstatement"  # suspended -> probation
    RESTORATION = "restoration"  # suspended -> active (a suspension overturned)
    PROBATION_END = "probation_end"  # probation -> active
    REVOCATION = "revocation"  # -> revoked
    EXPIRY = "expiry"  # -> expired


class LabelTransitionError(ValueError):
    """A requested label status change is not an edge of ``TRANSITIONS``."""

    def __init__(self, current: LabelStatus | None, target: LabelStatus) -> None:
        self.current = current
        self.target = target
        super().__init__(
            f"A Back Label cannot go from {_describe(current)} to {_describe(target)}; "
            f"allowed from {_describe(current)}: {_describe_targets(current)}"
        )


_S = LabelStatus

TRANSITIONS: Mapping[LabelStatus | None, frozenset[LabelStatus]] = MappingProxyType(
    {
        # No label yet: the only way in is approval of an application.
        None: frozenset({_S.ACTIVE}),
        # active -> active is the renewal at the anniversary.
        _S.ACTIVE: frozenset({_S.ACTIVE, _S.SUSPENDED, _S.REVOKED, _S.EXPIRED}),
        # Probation ends (14 clean orders in a row) or fails again; probation -> probation
        # is the renewal at the anniversary of a label still on probation.
        _S.PROBATION: frozenset({_S.ACTIVE, _S.PROBATION, _S.SUSPENDED, _S.REVOKED,
                                 _S.EXPIRED}),
        # Review overturned -> active; appeal/corrective plan accepted -> probation.
        _S.SUSPENDED: frozenset({_S.ACTIVE, _S.PROBATION, _S.REVOKED}),
        # A new application approved after the label lapsed.
        _S.EXPIRED: frozenset({_S.ACTIVE}),
        # Revocation is final; the seller would have to become a new legal entity.
        _S.REVOKED: frozenset(),
    }
)


@dataclass(frozen=True, slots=True)
class LabelChange:
    """One checked status change, ready to be stored as a label event row."""

    from_status: LabelStatus | None
    to_status: LabelStatus
    reason: str
    pending_review: bool = False


def _describe(status: LabelStatus | None) -> str:
    return "no label" if status is None else f"'{status.value}'"


def _describe_targets(current: LabelStatus | None) -> str:
    targets = sorted(t.value for t in TRANSITIONS.get(current, frozenset()))
    return ", ".join(f"'{t}'" for t in targets) if targets else "nothing (final status)"


def allowed_targets(current: LabelStatus | None) -> frozenset[LabelStatus]:
    """Return the statuses a label in ``current`` may move to (empty for a final status)."""
    return TRANSITIONS.get(current, frozenset())


def is_allowed(current: LabelStatus | None, target: LabelStatus) -> bool:
    """Return whether ``current -> target`` is an edge of the transition table."""
    return target in allowed_targets(current)


def ensure_transition(current: LabelStatus | None, target: LabelStatus) -> None:
    """Raise ``LabelTransitionError`` unless ``current -> target`` is an allowed transition."""
    if not is_allowed(current, target):
        raise LabelTransitionError(current, target)


def compute_label_change(
    current: LabelStatus | None,
    target: LabelStatus,
    reason: str,
    *,
    pending_review: bool = False,
) -> LabelChange:
    """Check a status change and return it; ``pending_review`` only on a suspension."""
    ensure_transition(current, target)
    cleaned = reason.strip()
    if not cleaned:
        raise ValueError("A label status change needs a reason")
    if pending_review and target != LabelStatus.SUSPENDED:
        raise ValueError(
            f"Only a suspension can be pending review, not a change to '{target.value}'"
        )
    return LabelChange(
        from_status=current, to_status=target, reason=cleaned, pending_review=pending_review
    )


def compute_label_end(start: date, months: int = LABEL_VALIDITY_MONTHS) -> date:
    """Return the same day ``months`` later, clamped to the month's end (Feb 29 -> Feb 28)."""
    if months < 1:
        raise ValueError(f"A label is valid for at least one month, not {months}")
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def compute_due_for_renewal(
    valid_until: date, today: date, window_days: int = RENEWAL_WINDOW_DAYS
) -> bool:
    """Return True when ``today`` is on or before ``valid_until`` and at most the window before."""
    if window_days < 0:
        raise ValueError(f"The renewal window cannot be negative ({window_days} days)")
    return today <= valid_until and (valid_until - today).days <= window_days


def compute_is_expired(valid_until: date, today: date) -> bool:
    """Return True once ``today`` is after ``valid_until`` (the last valid day is inclusive)."""
    return today > valid_until


def compute_label_event_kind(
    current: LabelStatus | None, target: LabelStatus, renewal: str | None = None
) -> LabelEventKind:
    """Return the kind of the change ``current -> target``; a same-status change is a renewal,
    conditional when ``renewal`` is "conditional" (else full)."""
    if renewal is not None and renewal not in RENEWAL_KINDS:
        raise ValueError(f"A renewal is 'full' or 'conditional', not {renewal!r}")
    if target == LabelStatus.ACTIVE and current in (None, LabelStatus.EXPIRED):
        return LabelEventKind.GRANT
    if current == target:
        return (LabelEventKind.RENEWAL_CONDITIONAL if renewal == "conditional"
                else LabelEventKind.RENEWAL_FULL)
    if target == LabelStatus.SUSPENDED:
        return LabelEventKind.SUSPENSION
    if target == LabelStatus.PROBATION:
        return LabelEventKind.REINSTATEMENT
    if target == LabelStatus.REVOKED:
        return LabelEventKind.REVOCATION
    if target == LabelStatus.EXPIRED:
        return LabelEventKind.EXPIRY
    if current == LabelStatus.PROBATION:
        return LabelEventKind.PROBATION_END
    return LabelEventKind.RESTORATION


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A checked label change as it is stored: the move, its kind, and the seller's label
    validity and sampling state once it is made."""

    change: LabelChange
    kind: LabelEventKind
    valid_from: date | None
    valid_until: date | None
    sampling_state: str | None


def compute_label_record(
    current: LabelStatus | None,
    target: LabelStatus,
    reason: str,
    *,
    today: date,
    valid_from: date | None,
    valid_until: date | None,
    sampling_state: str | None,
    pending_review: bool = False,
    renewal: str | None = None,
) -> LabelRecord:
    """Check a change and return what it records: a grant starts a year of validity today and
    onboarding-rate sampling; a suspension, revocation or expiry stops sampling."""
    change = compute_label_change(current, target, reason, pending_review=pending_review)
    kind = compute_label_event_kind(current, target, renewal)
    if kind == LabelEventKind.GRANT:
        valid_from, valid_until = today, compute_label_end(today)
        sampling_state = SamplingState.ONBOARDING.value  # new sellers: the onboarding rate
    elif target in (LabelStatus.SUSPENDED, LabelStatus.REVOKED, LabelStatus.EXPIRED):
        sampling_state = None
    return LabelRecord(change, kind, valid_from, valid_until, sampling_state)


def _snapshot_json(snapshot: Mapping[str, Any] | None) -> str | None:
    return json.dumps(snapshot, sort_keys=True) if snapshot is not None else None


def label_event_columns(
    record: LabelRecord, snapshot: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The label event row's columns that the change decides (the caller adds seller, actor,
    time and application), with the statistics ``snapshot`` behind it as JSON."""
    change = record.change
    return {
        "from_status": change.from_status.value if change.from_status else None,
        "to_status": change.to_status.value,
        "kind": record.kind.value,
        "reason": change.reason,
        "pending_review": change.pending_review,
        "valid_until": record.valid_until,
        "snapshot": _snapshot_json(snapshot),
    }


def label_changed_payload(
    record: LabelRecord,
    snapshot: Mapping[str, Any] | None = None,
    application_id: int | None = None,
) -> dict[str, Any]:
    """The audit payload of ``label.changed``."""
    change = record.change
    return {
        "from": change.from_status.value if change.from_status else None,
        "to": change.to_status.value,
        "reason": change.reason,
        "pending_review": change.pending_review,
        "valid_until": record.valid_until.isoformat() if record.valid_until else None,
        "sampling_state": record.sampling_state,
        "snapshot": dict(snapshot) if snapshot is not None else None,
        "application_id": application_id,
    }
