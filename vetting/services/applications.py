"""Applications for the Back Label: from draft through review to the decision (four eyes),
checklist results, evidence files, and the lists that show them.

Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import lazyload, selectinload

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ConflictError, ServiceError
from core.models import User
from vetting import evidence as evidence_store
from vetting.applications import (
    EDITABLE_STATUSES,
    EVIDENCE_STATUSES,
    OPEN_STATUSES,
    STATUS_LABELS,
    ApplicationStatus,
    ApplicationTransitionError,
    ensure_application_transition,
)
from vetting.checklist import (
    ItemResult,
    ItemState,
    check_item_result,
    compute_approval_blockers,
)
from vetting.labels import (
    LabelStatus,
)
from vetting.models import (
    Application,
    ApplicationEvent,
    ApplicationItem,
    ApplicationReviewer,
    Evidence,
    Seller,
)
from vetting.sellers import SellerInput
from vetting.services.checklists import stored_template
from vetting.services.labels import change_label
from vetting.services.sellers import create_seller


def _status(application: Application) -> ApplicationStatus:
    return ApplicationStatus(application.status)


def _check_version(application: Application, expected_version: int | None) -> None:
    if expected_version is not None and application.version != expected_version:
        raise ConflictError(
            "This application changed since you opened the page (now: "
            f"{STATUS_LABELS[_status(application)]}). Review it and try again.")


def open_application(seller: Seller) -> Application | None:
    """The seller's application that is not yet decided or withdrawn, if any."""
    return db.session.execute(select(Application).where(
        Application.seller_id == seller.id,
        Application.status.in_([s.value for s in OPEN_STATUSES]))).scalar_one_or_none()


def create_application(seller: Seller, actor: User | None) -> Application:
    """Start a draft application on the current checklist version (actor None: an API call
    or a job, named in the audit trail by core.audit.acting_as)."""
    lock(f"seller-application:{seller.id}")
    existing = open_application(seller)
    if existing is not None:
        raise ServiceError(f"{seller.display_name} already has an open application "
                           f"(#{existing.id}, {STATUS_LABELS[_status(existing)]}).")
    if seller.label_status in (LabelStatus.ACTIVE, LabelStatus.PROBATION,
                               LabelStatus.SUSPENDED):
        raise ServiceError(f"{seller.display_name} holds a Back Label ({seller.label_status}); "
                           "a new application is only possible once it has expired.")
    if seller.label_status == LabelStatus.REVOKED:
        raise ServiceError(f"{seller.display_name}'s Back Label was revoked; "
                           "revocation is final.")
    template = stored_template()
    now = utcnow()
    application = Application(
        seller_id=seller.id, template_id=template.id, status=ApplicationStatus.DRAFT.value,
        created_by_id=actor.id if actor else None, created_at=now, status_changed_at=now,
        items=[ApplicationItem(template_item_id=item.id, position=item.position)
               for item in template.items])
    db.session.add(application)
    db.session.flush()
    audit.record("application.created", "application", application.id,
                 {"seller_id": seller.id, "checklist_version": template.version}, actor)
    return application


def register_applicant(data: SellerInput, source: str) -> Application:
    """Register a new seller from the marketplace's onboarding form and start its draft
    application; a seller already registered (registration number + country) is a
    ConflictError (checked under the seller lock), invalid data a ServiceError naming the
    field."""
    seller = create_seller(data, None, source=source)
    return create_application(seller, None)


def transition_application(application: Application, target: ApplicationStatus,
                           actor: User, *, message: str = "",
                           expected_version: int | None = None) -> ApplicationEvent:
    """Move an application along the workflow (submit, start review, request changes,
    withdraw); approval and rejection go through decide_application."""
    _check_version(application, expected_version)
    current = _status(application)
    try:
        ensure_application_transition(current, target)
    except ApplicationTransitionError as exc:
        raise ServiceError(str(exc)) from None
    message = message.strip()
    recipient = ""
    if target == ApplicationStatus.CHANGES_REQUESTED:
        if not message:
            raise ServiceError("Say what the seller must change; the message is sent to "
                               "their contact.", "message")
        recipient = application.seller.contact_email
    application.status = target.value
    application.status_changed_at = application.updated_at = utcnow()
    event = ApplicationEvent(application_id=application.id, from_status=current.value,
                             to_status=target.value, actor_id=actor.id, at=utcnow(),
                             message=message, recipient=recipient)
    db.session.add(event)
    flush_or_conflict("application")
    audit.record(f"application.{target.value}", "application", application.id, {
        "from": current.value, "to": target.value, "message": message,
        "recipient": recipient}, actor)
    return event


def _mark_reviewer(application: Application, actor: User) -> None:
    if db.session.get(ApplicationReviewer, (application.id, actor.id)) is None:
        db.session.add(ApplicationReviewer(application_id=application.id, user_id=actor.id))


def reviewer_ids(application: Application) -> set[int]:
    """Everyone who recorded results or evidence on this application."""
    return set(db.session.execute(select(ApplicationReviewer.user_id).where(
        ApplicationReviewer.application_id == application.id)).scalars())


def get_item(application: Application, item_id: int) -> ApplicationItem:
    """An item of this application, or a ServiceError."""
    for item in application.items:
        if item.id == item_id:
            return item
    raise ServiceError("That checklist item does not belong to this application.")


def record_item_result(application: Application, item: ApplicationItem, result: ItemResult,
                       note: str, waiver_reason: str, actor: User,
                       expected_version: int | None = None) -> ApplicationItem:
    """Record pass / fail / waived on one item while the application is in review."""
    _check_version(application, expected_version)
    if _status(application) not in EDITABLE_STATUSES:
        raise ServiceError("Checklist results can only be recorded while the application is "
                           f"in review (it is {STATUS_LABELS[_status(application)]}).")
    try:
        check_item_result(item.spec.required, result, waiver_reason)
    except ValueError as exc:
        raise ServiceError(str(exc) + ".", "waiver_reason") from None
    item.result = result.value
    item.note = note.strip()
    item.waiver_reason = waiver_reason.strip() if result == ItemResult.WAIVED else ""
    item.recorded_by_id = actor.id
    item.recorded_at = utcnow()
    _mark_reviewer(application, actor)
    _touch(application)
    audit.record("application.item_recorded", "application", application.id, {
        "item": item.spec.code, "result": item.result, "note": item.note,
        "waiver_reason": item.waiver_reason}, actor)
    return item


def _touch(application: Application) -> None:
    """Note a change to an application's contents; its version moves, so stale forms fail."""
    application.updated_at = utcnow()
    flush_or_conflict("application")


def add_evidence(application: Application, item: ApplicationItem, stream: IO[bytes],
                 filename: str | None, actor: User) -> Evidence:
    """Store an evidence file (PDF, PNG or JPEG, checked by content) against an item."""
    if _status(application) not in EVIDENCE_STATUSES:
        raise ServiceError("Evidence can no longer be added: the application is "
                           f"{STATUS_LABELS[_status(application)]}.")
    cfg = current_app.config
    try:
        stored = evidence_store.store_evidence(stream, filename, Path(cfg["EVIDENCE_DIR"]),
                                               cfg["EVIDENCE_MAX_BYTES"])
    except evidence_store.EvidenceError as exc:
        raise ServiceError(str(exc), "file") from None
    evidence = Evidence(application_item_id=item.id, sha256=stored.sha256,
                        filename=stored.filename, content_type=stored.content_type,
                        size=stored.size, uploaded_by_id=actor.id, uploaded_at=utcnow())
    db.session.add(evidence)
    _mark_reviewer(application, actor)
    _touch(application)
    audit.record("application.evidence_added", "application", application.id, {
        "item": item.spec.code, "evidence_id": evidence.id, "filename": stored.filename,
        "sha256": stored.sha256, "size": stored.size,
        "content_type": stored.content_type}, actor)
    return evidence


def evidence_file(evidence: Evidence) -> Path:
    """Where an evidence file's content is stored."""
    return evidence_store.evidence_path(Path(current_app.config["EVIDENCE_DIR"]),
                                        evidence.sha256)


def approval_blockers(application: Application) -> list[str]:
    """Why this application cannot be approved yet (empty when it can)."""
    return compute_approval_blockers([
        ItemState(code=i.spec.code, title=i.spec.title, required=i.spec.required,
                  evidence_required=i.spec.evidence_required,
                  result=ItemResult(i.result) if i.result else None,
                  evidence_count=len(i.evidence))
        for i in application.items])


def decide_application(application: Application, approve: bool, reason: str, actor: User,
                       expected_version: int | None = None) -> Application:
    """Approve (granting the Back Label) or reject, by a second pair of eyes."""
    _check_version(application, expected_version)
    target = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
    try:
        ensure_application_transition(_status(application), target)
    except ApplicationTransitionError as exc:
        raise ServiceError(str(exc)) from None
    if actor.id in reviewer_ids(application):
        raise ServiceError("You recorded checklist results or evidence on this application, "
                           "so another vetting user must decide it (four-eyes rule).")
    reason = reason.strip()
    if not approve and not reason:
        raise ServiceError("Give the reason for the rejection.", "reason")
    if approve:
        blockers = approval_blockers(application)
        if blockers:
            raise ServiceError("Cannot approve yet: " + "; ".join(blockers) + ".")
    application.status = target.value
    application.status_changed_at = application.updated_at = utcnow()
    application.decided_by_id = actor.id
    application.decision_reason = reason
    db.session.add(ApplicationEvent(application_id=application.id,
                                    from_status=ApplicationStatus.IN_REVIEW.value,
                                    to_status=target.value, actor_id=actor.id, at=utcnow(),
                                    message=reason))
    flush_or_conflict("application")
    audit.record(f"application.{target.value}", "application", application.id,
                 {"reason": reason, "seller_id": application.seller_id}, actor)
    if approve:
        change_label(application.seller, LabelStatus.ACTIVE,
                     reason or f"Application #{application.id} approved.", actor,
                     application=application)
    return application


def applications_waiting() -> list[tuple[str, int, Any]]:
    """Open applications per status with the oldest status-change time, oldest first."""
    rows = db.session.execute(
        select(Application.status, func.count(), func.min(Application.status_changed_at))
        .where(Application.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(Application.status)).all()
    return sorted(((s, n, oldest) for s, n, oldest in rows), key=lambda r: r[2])


def application_query(status: str = "") -> Select[tuple[Application]]:
    """Applications, oldest status change first, optionally of one status."""
    stmt = (select(Application)
            .options(selectinload(Application.seller), selectinload(Application.template),
                     lazyload(Application.items))
            .order_by(Application.status_changed_at, Application.id))
    if status == "open":
        stmt = stmt.where(Application.status.in_([s.value for s in OPEN_STATUSES]))
    elif status:
        stmt = stmt.where(Application.status == status)
    return stmt




def seller_applications(seller: Seller) -> list[Application]:
    """The seller's applications, newest first."""
    return list(db.session.execute(select(Application).where(
        Application.seller_id == seller.id).order_by(Application.id.desc())).scalars())


def application_events(application: Application) -> list[ApplicationEvent]:
    """The application's status history, oldest first."""
    return list(db.session.execute(select(ApplicationEvent).where(
        ApplicationEvent.application_id == application.id).order_by(ApplicationEvent.id))
        .scalars())


def users_by_id(ids: Iterable[int | None]) -> dict[int, User]:
    """Users for a set of ids, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.execute(select(User).where(User.id.in_(wanted)))
            .scalars()}
