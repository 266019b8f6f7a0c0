"""In-process events about a seller's Back Label.

- `LabelChanged`: the label moved along the transition table, or was renewed (same status,
  new validity; `renewal` says "full" or "conditional").
- `SuspensionConfirmed`: a compliance officer confirmed an automatic suspension.

Other packages (statistics, compliance, integrations) subscribe at start-up; listeners run
inside the transaction of the change, so whatever they write commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app


@dataclass(frozen=True)
class LabelChanged:
    """A label moved from one status to another (or was renewed in place)."""

    seller_id: int
    from_status: str | None
    to_status: str
    label_event_id: int
    pending_review: bool
    renewal: str | None = None  # "full" or "conditional" for a renewal, else None


@dataclass(frozen=True)
class SuspensionConfirmed:
    """A compliance officer confirmed the suspension recorded by `label_event_id`."""

    seller_id: int
    review_id: int
    label_event_id: int
    reason: str


Listener = Callable[[LabelChanged], None]
ConfirmedListener = Callable[[SuspensionConfirmed], None]
_KEY = "labelkeeper_label_listeners"
_CONFIRMED_KEY = "labelkeeper_confirmed_listeners"


def subscribe(app: Flask, listener: Listener) -> None:
    """Call `listener` after every label status change or renewal."""
    app.extensions.setdefault(_KEY, []).append(listener)


def emit(event: LabelChanged) -> None:
    """Deliver one event to every listener, in subscription order."""
    for listener in current_app.extensions.get(_KEY, []):
        listener(event)


def subscribe_confirmed(app: Flask, listener: ConfirmedListener) -> None:
    """Call `listener` after every confirmed suspension."""
    app.extensions.setdefault(_CONFIRMED_KEY, []).append(listener)


def emit_confirmed(event: SuspensionConfirmed) -> None:
    """Deliver a confirmed suspension to every listener, in subscription order."""
    for listener in current_app.extensions.get(_CONFIRMED_KEY, []):
        listener(event)
