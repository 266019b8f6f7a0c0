"""Scheduled quality-control work; each job commits and is also a CLI command."""

from __future__ import annotations

from datetime import date

from core.clock import utcnow
from core.db import db
from qc import decision_service, services
from qc.models import PlanningRun
from vetting.models import Seller


def run_planning(today: date | None = None) -> list[PlanningRun]:
    """Plan every due period not yet planned (a period is planned at most once)."""
    day = today or utcnow().date()
    planned = []
    for key in services.periods_due(day):
        planned.append(services.plan_period(key))
        db.session.commit()
    return planned


def run_period_closing(today: date | None = None) -> list[PlanningRun]:
    """Reveal the seeds of periods that have ended, then remove their sealed copies."""
    revealed = services.close_periods(today or utcnow().date())
    db.session.commit()
    services.remove_revealed_seed_files(revealed)
    return revealed


def run_renewal(today: date | None = None) -> list[tuple[Seller, bool]]:
    """Renew every label at its anniversary (fully or conditionally)."""
    renewed = decision_service.renew_labels(today or utcnow().date())
    db.session.commit()
    return renewed


def run_evaluation() -> list[decision_service.Correction]:
    """Replay every seller's history and correct statistics that differ (nightly)."""
    _, corrections = decision_service.evaluate_fleet(fix=True)
    db.session.commit()
    return corrections
