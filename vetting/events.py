"""In-process events: a seller's Back Label changed status.

Other packages (the statistics) subscribe at start-up; listeners run inside the transaction
of the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app


@dataclass(frozen=True)
class LabelChanged:
    """A label moved from one status to another."""

    seller_id: int
    from_status: str | None
    to_status: str
    label_event_id: int
    pending_review: bool


Listener = Callable[[LabelChanged], None]
_KEY = "labelkeeper_label_listeners"


def subscribe(app: Flask, listener: Listener) -> None:
    """Call `listener` after every label status change."""
    app.extensions.setdefault(_KEY, []).append(listener)


def emit(event: LabelChanged) -> None:
    """Deliver one event to every listener, in subscription order."""
    for listener in current_app.extensions.get(_KEY, []):
        listener(event)
