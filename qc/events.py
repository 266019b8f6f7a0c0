"""In-process events of quality control.

- `InspectionRecorded`: an inspection was submitted or amended.
- `PlanChanged`: a new version of the sampling plan settings changed the CUSUM parameters.

The label-decision service subscribes at start-up; listeners run inside the same transaction
as the change, so a decision and the inspection (or plan) that caused it commit together.
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


@dataclass(frozen=True)
class PlanChanged:
    """Settings version `settings_id` put new CUSUM parameters in force."""

    settings_id: int


Listener = Callable[[InspectionRecorded], None]
PlanListener = Callable[[PlanChanged], None]
_KEY = "labelkeeper_inspection_listeners"
_PLAN_KEY = "labelkeeper_plan_listeners"


def subscribe(app: Flask, listener: Listener) -> None:
    """Call `listener` for every inspection submission and amendment."""
    app.extensions.setdefault(_KEY, []).append(listener)


def emit(event: InspectionRecorded) -> None:
    """Deliver one event to every listener, in subscription order."""
    for listener in current_app.extensions.get(_KEY, []):
        listener(event)


def subscribe_plan_changed(app: Flask, listener: PlanListener) -> None:
    """Call `listener` whenever new CUSUM parameters come into force."""
    app.extensions.setdefault(_PLAN_KEY, []).append(listener)


def emit_plan_changed(event: PlanChanged) -> None:
    """Deliver a plan change to every listener, in subscription order."""
    for listener in current_app.extensions.get(_PLAN_KEY, []):
        listener(event)
