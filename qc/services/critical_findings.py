"""Critical findings: a critical verdict waits for a second inspector to confirm or reject it
on the same device before it counts (the rules are in `qc.decisions`).

- `track_version`: after an inspection version is stored, open, move or withdraw the order's
  finding so it follows the version in force;
- `decide_finding`: a second inspector (never one who recorded a version of the inspection)
  confirms or rejects a pending finding with a reason; a rejection re-scores the other
  results, the inspection keeps what the first inspector recorded. The label decision follows
  in the same transaction (`label_decisions.on_finding_decided`);
- `confirmation_queue`, `queue_counts`: the inspectors' queue, oldest first, with deadlines.

Past its deadline a finding is only marked overdue: nothing confirms or rejects it by itself.

Services flush; the caller commits.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ConflictError, ServiceError
from core.models import User
from core.roles import Role
from qc.catalog import Severity
from qc.decisions import (
    FindingStatus,
    FindingTransitionError,
    compute_confirmation_due,
    compute_is_overdue,
    ensure_finding_transition,
    order_ref,
)
from qc.models import CriticalFinding, Inspection, TestOrder
from qc.scoring import (
    CheckpointOutcome,
    InspectionFacts,
    compute_score_without_critical,
    critical_failures,
)
from qc.services import label_decisions
from qc.snapshots import finding_payload

PENDING = FindingStatus.PENDING.value


def inspection_facts(order: TestOrder, inspection: Inspection) -> InspectionFacts:
    """The scoring facts of a stored inspection version."""
    return InspectionFacts(
        promised_grade=order.listing.promised_grade, observed_grade=inspection.observed_grade,
        battery_percent=inspection.battery_percent, battery_swollen=inspection.battery_swollen,
        cable_missing=inspection.cable_missing,
        outcomes=tuple(CheckpointOutcome(r.code, Severity(r.severity), r.passed)
                       for r in inspection.results))


def finding_for(inspection: Inspection) -> CriticalFinding | None:
    """The critical finding on an inspection version, if any."""
    return db.session.execute(select(CriticalFinding).where(
        CriticalFinding.inspection_id == inspection.id)).scalar_one_or_none()


def order_findings(order: TestOrder) -> list[CriticalFinding]:
    """Every critical finding of an order, newest first."""
    return list(db.session.execute(select(CriticalFinding).where(
        CriticalFinding.order_id == order.id).order_by(CriticalFinding.id.desc())).scalars())


def pending_finding(order: TestOrder) -> CriticalFinding | None:
    """The order's critical finding waiting for a second inspector, if any."""
    return db.session.execute(select(CriticalFinding).where(
        CriticalFinding.order_id == order.id, CriticalFinding.status == PENDING)
        ).scalar_one_or_none()


def _payload(finding: CriticalFinding, **extra: Any) -> dict[str, Any]:
    return finding_payload(finding.seller_id, finding.id, finding.checkpoint_codes,
                           finding.due_on, **extra)


def track_version(order: TestOrder, inspection: Inspection, previous: Inspection | None,
                  actor: User, amend_reason: str = "") -> CriticalFinding | None:
    """Keep the order's critical finding with the inspection version now in force.

    A critical version opens a pending finding, unless the version it replaces carried one
    that is pending (it moves along, for the second inspector to see the version in force)
    or confirmed with the same failed critical checkpoints (the confirmation stands); a
    previous critical version without a finding was recorded before confirmations existed and
    keeps counting as it was decided. A version that is not critical withdraws a pending
    finding. Returns the finding on the new version, if any.
    """
    finding = finding_for(previous) if previous is not None else None
    codes = list(critical_failures(inspection_facts(order, inspection)))
    if inspection.verdict != "critical":
        if finding is not None and finding.status == PENDING:
            ensure_finding_transition(FindingStatus.PENDING, FindingStatus.WITHDRAWN)
            finding.status = FindingStatus.WITHDRAWN.value
            finding.decided_by_id, finding.decided_at = actor.id, utcnow()
            finding.reason = f"Amended to {inspection.verdict}: {amend_reason}".strip()
            flush_or_conflict("critical finding")
            audit.record("critical_finding.withdrawn", "test_order", order.id, _payload(
                finding, inspection_version=inspection.version, reason=finding.reason), actor)
        return None
    if previous is not None and previous.verdict == "critical" and finding is None:
        return None
    if finding is not None and (
            finding.status == PENDING or (finding.status == FindingStatus.CONFIRMED.value
                                          and finding.checkpoint_codes == codes)):
        finding.inspection_id = inspection.id
        finding.checkpoints = json.dumps(codes)
        flush_or_conflict("critical finding")
        audit.record("critical_finding.moved", "test_order", order.id, _payload(
            finding, status=finding.status, inspection_version=inspection.version), actor)
        return finding
    opened = utcnow()
    finding = CriticalFinding(
        order_id=order.id, seller_id=order.seller_id, inspection_id=inspection.id,
        status=PENDING, checkpoints=json.dumps(codes), found_by_id=inspection.inspector_id,
        opened_at=opened, due_on=compute_confirmation_due(
            opened.date(), int(current_app.config["CRITICAL_CONFIRMATION_DAYS"])))
    db.session.add(finding)
    db.session.flush()
    audit.record("critical_finding.opened", "test_order", order.id, _payload(
        finding, inspection_version=inspection.version, found_by=actor.email), actor)
    return finding


def decide_finding(finding: CriticalFinding, confirm: bool, reason: str, actor: User,
                   expected_version: int | None = None) -> CriticalFinding:
    """A second inspector confirms or rejects a pending critical finding on the device."""
    lock(f"seller-statistics:{finding.seller_id}")
    db.session.refresh(finding)  # read before the lock; a second decision must see the first
    target = FindingStatus.CONFIRMED if confirm else FindingStatus.REJECTED
    try:
        ensure_finding_transition(FindingStatus(finding.status), target)
    except FindingTransitionError:
        who = f" by {finding.decided_by.display_name}" if finding.decided_by else ""
        raise ConflictError(f"This critical finding was already {finding.status}{who}.") from None
    if expected_version is not None and finding.version != expected_version:
        raise ConflictError("This critical finding changed since you opened it; reload the "
                            "order and try again.")
    if not actor.has_role(Role.INSPECTOR):
        raise ServiceError("Only an inspector can confirm or reject a critical finding.")
    recorded_by = set(db.session.execute(select(Inspection.inspector_id).where(
        Inspection.order_id == finding.order_id)).scalars())
    if actor.id in recorded_by:
        raise ServiceError(
            f"You recorded the inspection of {order_ref(finding.order_id)}; a second inspector "
            "must examine the device and confirm or reject its critical finding.")
    reason = reason.strip()
    if not reason:
        raise ServiceError("Say what you found on the device: the reason for confirming or "
                           "rejecting the critical finding.", "reason")
    inspection = db.session.get(Inspection, finding.inspection_id)
    if inspection is None or not inspection.is_current:  # amendments move pending findings
        raise ConflictError("The inspection changed since you opened it; reload the order.")
    now = utcnow()
    finding.status = target.value
    finding.decided_by_id, finding.decided_at, finding.reason = actor.id, now, reason
    extra: dict[str, Any] = {}
    if not confirm:
        score = compute_score_without_critical(inspection_facts(finding.order, inspection))
        finding.rescored_verdict, finding.rescored_score = score.verdict.value, score.score
        finding.rescored_reasons = json.dumps(list(score.reasons))
        extra["rescored"] = {"verdict": score.verdict.value, "score": score.score,
                             "reasons": list(score.reasons)}
    flush_or_conflict("critical finding")
    audit.record(f"critical_finding.{finding.status}", "test_order", finding.order_id,
                 _payload(finding, inspection_version=inspection.version,
                          found_by=finding.found_by.email, decided_at=now.isoformat(),
                          reason=reason, overdue=compute_is_overdue(finding.due_on, now.date()),
                          **extra), actor)
    label_decisions.on_finding_decided(finding, finding.found_by.display_name,
                                       actor.display_name)
    return finding


def confirmation_queue() -> Select[tuple[CriticalFinding]]:
    """Critical findings waiting for a second inspector, oldest first."""
    return (select(CriticalFinding).where(CriticalFinding.status == PENDING)
            .options(selectinload(CriticalFinding.seller), selectinload(CriticalFinding.order),
                     selectinload(CriticalFinding.found_by))
            .order_by(CriticalFinding.opened_at, CriticalFinding.id))


def queue_counts(today: date | None = None) -> dict[str, int]:
    """How many critical findings wait, and how many of them are past their deadline."""
    day = today or utcnow().date()
    pending, overdue = db.session.execute(select(
        func.count(), func.count().filter(CriticalFinding.due_on < day))
        .where(CriticalFinding.status == PENDING)).one()
    return {"pending": int(pending), "overdue": int(overdue)}


def sellers_with_pending() -> set[int]:
    """The sellers with a critical finding waiting for confirmation (the confirmation tier)."""
    return set(db.session.execute(select(CriticalFinding.seller_id).where(
        CriticalFinding.status == PENDING)).scalars())
