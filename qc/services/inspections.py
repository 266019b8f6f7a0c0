"""Inspections: score and store a device's checkpoint results, amend them with a reason,
keep the order's critical finding with the version in force, and emit the event the label
decisions follow.

Services flush; the caller commits.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import select

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ConflictError, ServiceError
from core.models import User
from qc import events
from qc.catalog import Severity
from qc.models import (
    Checkpoint,
    Inspection,
    InspectionPhoto,
    InspectionResult,
    TestOrder,
)
from qc.orders import OrderStatus, inspection_details
from qc.scoring import (
    CheckpointOutcome,
    Grade,
    InspectionFacts,
    check_battery,
    compute_score,
    inspection_payload,
)
from qc.services.critical_findings import track_version
from qc.services.orders import check_order_version, move_order
from vetting import evidence as evidence_store


def checkpoints_for(category: str) -> list[Checkpoint]:
    """The active checkpoints of the catalog that apply to a device category."""
    rows = db.session.execute(select(Checkpoint).where(Checkpoint.active.is_(True))
                              .order_by(Checkpoint.position)).scalars()
    lookup = "smartphone" if category in ("smartwatch", "console") else category
    return [c for c in rows if lookup in c.categories.split(",")]


@dataclass(frozen=True)
class InspectionInput:
    """What an inspector records about a device."""

    observed_grade: str
    battery_percent: object
    battery_cycles: int | None
    battery_swollen: bool
    cable_missing: bool
    notes: str
    outcomes: Mapping[str, tuple[bool, str]]  # checkpoint code -> (passed, note)
    photos: Sequence[tuple[IO[bytes], str | None]] = field(default_factory=tuple)


def current_inspection(order: TestOrder) -> Inspection | None:
    """The inspection version in force for an order, if inspected."""
    return db.session.execute(select(Inspection).where(
        Inspection.order_id == order.id, Inspection.is_current.is_(True))).scalar_one_or_none()


def inspection_versions(order: TestOrder) -> list[Inspection]:
    """Every inspection version of an order, oldest first."""
    return list(db.session.execute(select(Inspection).where(Inspection.order_id == order.id)
                                   .order_by(Inspection.version)).scalars())


def _build_inspection(order: TestOrder, data: InspectionInput, actor: User,
                      version: int) -> Inspection:
    checkpoints = checkpoints_for(order.listing.category)
    missing = [c.code for c in checkpoints if c.code not in data.outcomes]
    if missing:
        raise ServiceError("Record every checkpoint before submitting; missing: "
                           + ", ".join(missing) + ".", "checkpoints")
    unknown = sorted(set(data.outcomes) - {c.code for c in checkpoints})
    if unknown:
        raise ServiceError("These checkpoints do not apply to this device: "
                           + ", ".join(unknown) + ".", "checkpoints")
    battery_error = check_battery(data.battery_percent)
    if battery_error:
        raise ServiceError(battery_error, "battery_percent")
    battery = data.battery_percent if isinstance(data.battery_percent, int) else None
    if data.battery_cycles is not None and not 0 <= data.battery_cycles <= 100_000:
        raise ServiceError("Battery cycles must be between 0 and 100,000.", "battery_cycles")
    try:
        observed = Grade(data.observed_grade)
    except ValueError:
        raise ServiceError("Choose the observed cosmetic grade.", "observed_grade") from None
    score = compute_score(InspectionFacts(
        promised_grade=Grade(order.listing.promised_grade), observed_grade=observed,
        battery_percent=battery, battery_swollen=data.battery_swollen,
        cable_missing=data.cable_missing,
        outcomes=tuple(CheckpointOutcome(c.code, Severity(c.severity), data.outcomes[c.code][0])
                       for c in checkpoints)))
    inspection = Inspection(
        order_id=order.id, version=version, is_current=True, inspector_id=actor.id,
        submitted_at=utcnow(), observed_grade=observed.value, battery_percent=battery,
        battery_cycles=data.battery_cycles, battery_swollen=data.battery_swollen,
        cable_missing=data.cable_missing, notes=data.notes.strip(),
        verdict=score.verdict.value, score=score.score, reasons=json.dumps(list(score.reasons)),
        results=[InspectionResult(position=i, code=c.code, severity=c.severity,
                                  passed=data.outcomes[c.code][0],
                                  note=data.outcomes[c.code][1].strip())
                 for i, c in enumerate(checkpoints, start=1)])
    # Check every photo (in a scratch folder) before storing any, so a refused photo leaves
    # no file of the others behind.
    with tempfile.TemporaryDirectory(prefix="labelkeeper-photos-") as scratch:
        for stream, name in data.photos:
            _store_photo(stream, name, Path(scratch))
            stream.seek(0)
    for stream, name in data.photos:
        inspection.photos.append(_store_photo(stream, name))
    return inspection


def _store_photo(stream: IO[bytes], name: str | None,
                 folder: Path | None = None) -> InspectionPhoto:
    cfg = current_app.config
    try:
        stored = evidence_store.store_evidence(stream, name,
                                               folder or Path(cfg["EVIDENCE_DIR"]),
                                               cfg["EVIDENCE_MAX_BYTES"])
    except evidence_store.EvidenceError as exc:
        raise ServiceError(f"Photo {name or ''}: {exc}", "photos") from None
    if not stored.content_type.startswith("image/"):
        raise ServiceError(f"Photo {stored.filename} is not an image (PNG or JPEG).", "photos")
    return InspectionPhoto(sha256=stored.sha256, filename=stored.filename,
                           content_type=stored.content_type, size=stored.size)


def _inspection_payload(i: Inspection) -> dict[str, Any]:
    return inspection_payload(
        version=i.version, verdict=i.verdict, score=i.score, observed_grade=i.observed_grade,
        battery_percent=i.battery_percent, battery_cycles=i.battery_cycles,
        battery_swollen=i.battery_swollen, cable_missing=i.cable_missing, notes=i.notes,
        failed=[r.code for r in i.results if not r.passed],
        photos=[p.sha256 for p in i.photos], reasons=json.loads(i.reasons))


def submit_inspection(order: TestOrder, data: InspectionInput, actor: User,
                      expected_version: int | None = None) -> Inspection:
    """Score and store the inspection of a received order; it is immutable afterwards."""
    # One seller's inspections are timestamped and counted one at a time, so the order of
    # the history equals the order in which the statistics were updated.
    lock(f"seller-statistics:{order.seller_id}")
    # The order was read before the lock; a double post that waited for it must see the
    # first one's result ("already inspected"), not the state it read before.
    db.session.refresh(order)
    check_order_version(order, expected_version)
    if order.status != OrderStatus.RECEIVED.value:
        if order.status in (OrderStatus.INSPECTED.value, OrderStatus.CLOSED.value):
            raise ConflictError(f"Test order #{order.id} has already been inspected; "
                                "change it through an amendment with a reason.")
        raise ServiceError(f"Test order #{order.id} is {order.status}; only a received "
                           "device can be inspected.")
    inspection = _build_inspection(order, data, actor, version=1)
    db.session.add(inspection)
    order.inspected_at = inspection.submitted_at
    move_order(order, OrderStatus.INSPECTED, actor, inspection_details(), None)
    flush_or_conflict("test order", f"Test order #{order.id} was inspected by someone else "
                                    "a moment ago.")
    audit.record("inspection.submitted", "test_order", order.id,
                 {"seller_id": order.seller_id, **_inspection_payload(inspection)}, actor)
    track_version(order, inspection, None, actor)
    events.emit(events.InspectionRecorded(order.id, order.seller_id, inspection.id, 1,
                                          inspection.verdict, amended=False))
    return inspection


def amend_inspection(order: TestOrder, data: InspectionInput, reason: str, actor: User,
                     expected_version: int | None = None) -> Inspection:
    """Replace the inspection in force by a new version, keeping both, with a reason."""
    lock(f"seller-statistics:{order.seller_id}")
    db.session.refresh(order)  # read before the lock; see submit_inspection
    check_order_version(order, expected_version)
    previous = current_inspection(order)
    if previous is None:
        raise ServiceError(f"Test order #{order.id} has no inspection to amend.")
    reason = reason.strip()
    if not reason:
        raise ServiceError("Say why the inspection is amended.", "amend_reason")
    inspection = _build_inspection(order, data, actor, version=previous.version + 1)
    inspection.amend_reason = reason
    for photo in previous.photos:
        inspection.photos.append(InspectionPhoto(sha256=photo.sha256, filename=photo.filename,
                                                 content_type=photo.content_type,
                                                 size=photo.size))
    previous.is_current = False
    db.session.add(inspection)
    order.updated_at = utcnow()
    flush_or_conflict("test order", f"Test order #{order.id} was amended by someone else "
                                    "a moment ago.")
    audit.record("inspection.amended", "test_order", order.id, {
        "seller_id": order.seller_id, "reason": reason,
        "before": _inspection_payload(previous), "after": _inspection_payload(inspection)},
        actor)
    track_version(order, inspection, previous, actor, reason)
    events.emit(events.InspectionRecorded(order.id, order.seller_id, inspection.id,
                                          inspection.version, inspection.verdict, amended=True,
                                          previous_verdict=previous.verdict))
    return inspection


def photo_path(photo: InspectionPhoto) -> Path:
    """Where a photo's content is stored."""
    return evidence_store.evidence_path(Path(current_app.config["EVIDENCE_DIR"]), photo.sha256)
