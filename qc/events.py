"""In-process events: an inspection was submitted or amended.

The statistics service subscribes at start-up; it is called inside the same transaction as
the inspection, so a decision and the inspection that caused it commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app


@dataclass(frozen=True)
class InspectionRecorded:
    """An inspection version was stored (version 1 = submission, later = amendment)."""

    order_id: int
    seller_id: int
    inspection_id: int
    version: int
    verdict: str
    amended: bool
    previous_verdict: str | None = None  # the verdict the amendment replaced


Listener = Callable[[InspectionRecorded], None]
_KEY = "labelkeeper_inspection_listeners"


def subscribe(app: Flask, listener: Listener) -> None:
    """Call `listener` for every inspection submission and amendment."""
    app.extensions.setdefault(_KEY, []).append(listener)


def emit(event: InspectionRecorded) -> None:
    """Deliver one event to every listener, in subscription order."""
    for listener in current_app.extensions.get(_KEY, []):
        listener(event)
