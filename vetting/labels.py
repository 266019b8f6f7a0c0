"""Back Label status as data: the transition table, its guard and the label's date arithmetic.

A seller holds at most one Back Label. Its status moves only along the edges of
``TRANSITIONS``; ``ensure_transition`` refuses everything else. ``None`` stands for "no label
yet", so granting a label on approval is the edge ``None -> active``.

"Suspended, pending review" (an automatic suspension that a compliance officer still has to
confirm or overturn) is not a status of its own: it is ``suspended`` with
``LabelChange.pending_review`` set, so the table stays small and every later step
(confirm = stay suspended, overturn = back to active, revoke) is the same for manual and
automatic suspensions.

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "IN_FORCE",
    "LABEL_VALIDITY_MONTHS",
    "RENEWAL_WINDOW_DAYS",
    "TRANSITIONS",
    "LabelChange",
    "LabelStatus",
    "LabelTransitionError",
    "SamplingState",
    "allowed_targets",
    "compute_due_for_renewal",
    "compute_is_expired",
    "compute_label_change",
    "compute_label_end",
    "ensure_transition",
    "is_allowed",
]

LABEL_VALIDITY_MONTHS = 12
RENEWAL_WINDOW_DAYS = 30


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
