"""Scheduled quality-control work; each job commits and is also a CLI command."""

from __future__ import annotations

from datetime import date

from core.clock import utcnow
from core.db import db
from qc.models import PlanningRun
from qc.services import label_decisions, planning
from vetting.models import Seller


def run_planning(today: date | None = None) -> list[PlanningRun]:
    """Plan every due period not yet planned (a period is planned at most once)."""
    day = today or utcnow().date()
    planned = []
    for key in planning.periods_due(day):
        planned.append(planning.plan_period(key))
        db.session.commit()
    return planned


def run_period_closing(today: date | None = None) -> list[PlanningRun]:
    """Reveal the seeds of periods that have ended, then remove their sealed copies."""
    revealed = planning.close_periods(today or utcnow().date())
    db.session.commit()
    planning.remove_revealed_seed_files(revealed)
    return revealed


def run_renewal(today: date | None = None) -> list[tuple[Seller, bool]]:
    """Renew every label at its anniversary (fully or conditionally)."""
    renewed = label_decisions.renew_labels(today or utcnow().date())
    db.session.commit()
    return renewed


def run_evaluation() -> list[label_decisions.Correction]:
    """Replay every seller's history, correct statistics that differ and suspend, pending
    review, labels whose history crossed h without a suspension (nightly)."""
    _, corrections = label_decisions.evaluate_fleet(fix=True)
    db.session.commit()
    return corrections
