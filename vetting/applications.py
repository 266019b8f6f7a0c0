"""Application workflow as data: statuses, the transition table and its guard (pure).

draft -> submitted -> in review -> approved | rejected, with "changes requested" sending the
application back to the seller's contact until they resubmit, and withdrawal possible until a
decision is taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class ApplicationStatus(StrEnum):
    """Where an application stands."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


_A = ApplicationStatus

APPLICATION_TRANSITIONS: Mapping[ApplicationStatus, frozenset[ApplicationStatus]] = (
    MappingProxyType({
        _A.DRAFT: frozenset({_A.SUBMITTED, _A.WITHDRAWN}),
        _A.SUBMITTED: frozenset({_A.IN_REVIEW, _A.WITHDRAWN}),
        _A.IN_REVIEW: frozenset({_A.CHANGES_REQUESTED, _A.APPROVED, _A.REJECTED, _A.WITHDRAWN}),
        _A.CHANGES_REQUESTED: frozenset({_A.SUBMITTED, _A.WITHDRAWN}),
        _A.APPROVED: frozenset(),
        _A.REJECTED: frozenset(),
        _A.WITHDRAWN: frozenset(),
    })
)

OPEN_STATUSES: frozenset[ApplicationStatus] = frozenset(
    s for s, targets in APPLICATION_TRANSITIONS.items() if targets)

# Checklist answers and evidence may change only while the application is in these states.
EDITABLE_STATUSES: frozenset[ApplicationStatus] = frozenset({_A.IN_REVIEW})
EVIDENCE_STATUSES: frozenset[ApplicationStatus] = frozenset(
    {_A.DRAFT, _A.SUBMITTED, _A.IN_REVIEW, _A.CHANGES_REQUESTED})

STATUS_LABELS: Mapping[ApplicationStatus, str] = MappingProxyType({
    _A.DRAFT: "draft",
    _A.SUBMITTED: "submitted",
    _A.IN_REVIEW: "in review",
    _A.CHANGES_REQUESTED: "changes requested",
    _A.APPROVED: "approved",
    _A.REJECTED: "rejected",
    _A.WITHDRAWN: "withdrawn",
})


class ApplicationTransitionError(ValueError):
    """A requested status change is not an edge of the workflow."""

    def __init__(self, current: ApplicationStatus, target: ApplicationStatus) -> None:
        self.current = current
        self.target = target
        if APPLICATION_TRANSITIONS[current]:
            detail = f"it is {STATUS_LABELS[current]}"
        else:
            detail = f"it is already {STATUS_LABELS[current]}; that decision is final"
        super().__init__(
            f"This application cannot become {STATUS_LABELS[target]}: {detail}.")


def ensure_application_transition(current: ApplicationStatus,
                                  target: ApplicationStatus) -> None:
    """Raise ApplicationTransitionError unless current -> target is allowed."""
    if target not in APPLICATION_TRANSITIONS[current]:
        raise ApplicationTransitionError(current, target)
