"""Seller, checklist, application and Back Label operations. They flush; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import lazyload, selectinload

from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict, lock
from core.errors import ConflictError, ServiceError
from core.models import User
from vetting import events as label_events
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
    DEFAULT_CHECKLIST,
    ChecklistItemSpec,
    ItemResult,
    ItemState,
    check_item_result,
    compute_approval_blockers,
)
from vetting.labels import (
    IN_FORCE,
    RENEWAL_WINDOW_DAYS,
    LabelStatus,
    LabelTransitionError,
    compute_label_record,
    label_changed_payload,
    label_event_columns,
)
from vetting.models import (
    Application,
    ApplicationEvent,
    ApplicationItem,
    ApplicationReviewer,
    ChecklistTemplate,
    ChecklistTemplateItem,
    Evidence,
    LabelEvent,
    Seller,
)
from vetting.seller_csv import RowError, parse_seller_csv
from vetting.sellers import SellerInput, seller_columns, seller_created_payload
from vetting.validation import (
    MAX_REGISTRATION_LENGTH,
    MAX_VOLUME,
    check_country,
    check_device_categories,
    check_email,
    check_url,
    check_vat_id,
    normalise_country,
    normalise_registration,
    normalise_vat,
)

# ---------------------------------------------------------------- sellers

MAX_ITEM_CODE_LENGTH = 20
DEFAULT_NOTE = "Default checklist"
MAX_ITEM_TITLE_LENGTH = 200


def _clean_seller(data: SellerInput) -> SellerInput:
    country = normalise_country(data.country)
    vat = normalise_vat(data.vat_id)
    checks = [
        ("country", check_country(country)),
        ("vat_id", check_vat_id(vat, country) if not check_country(country) else None),
        ("contact_email", check_email(data.contact_email.strip())),
        ("website", check_url(data.website.strip()) if data.website.strip() else None),
        ("device_categories", check_device_categories(data.device_categories)),
    ]
    for field, message in checks:
        if message:
            raise ServiceError(message, field)
    for field, label in (("legal_name", "Legal name"),
                         ("registration_number", "Registration number")):
        if not getattr(data, field).strip():
            raise ServiceError(f"{label} is required.", field)
    if not 0 <= data.declared_monthly_volume <= MAX_VOLUME:
        raise ServiceError(f"Declared monthly volume must be between 0 and {MAX_VOLUME:,}.",
                           "declared_monthly_volume")
    # Stored with its comparison key, which can be longer ("ß" folds to "ss").
    if len(normalise_registration(data.registration_number)) > MAX_REGISTRATION_LENGTH:
        raise ServiceError(f"The registration number is longer than {MAX_REGISTRATION_LENGTH} "
                           "characters.", "registration_number")
    return SellerInput(
        legal_name=data.legal_name.strip(), trading_name=data.trading_name.strip(),
        country=country, registration_number=data.registration_number.strip(), vat_id=vat,
        contact_email=data.contact_email.strip(), website=data.website.strip(),
        device_categories=tuple(sorted(set(data.device_categories))),
        declared_monthly_volume=data.declared_monthly_volume)


def find_seller(registration_number: str, country: str) -> Seller | None:
    """The seller with this registration number in this country, if any."""
    return db.session.execute(select(Seller).where(
        Seller.registration_key == normalise_registration(registration_number),
        Seller.country == normalise_country(country))).scalar_one_or_none()


def _duplicate_message(existing: Seller) -> str:
    return (f"{existing.legal_name} is already registered with registration number "
            f"{existing.registration_number} in {existing.country} (seller #{existing.id}).")


def create_seller(data: SellerInput, actor: User | None, source: str = "form") -> Seller:
    """Register a seller; refuse invalid data and duplicates (registration number + country)."""
    data = _clean_seller(data)
    lock("seller:" + data.country + normalise_registration(data.registration_number))
    existing = find_seller(data.registration_number, data.country)
    if existing is not None:
        raise ConflictError(_duplicate_message(existing), "registration_number")
    seller = Seller(**seller_columns(data))
    db.session.add(seller)
    _flush_seller()
    audit.record("seller.created", "seller", seller.id, seller_created_payload(data, source),
                 actor)
    return seller


def update_seller(seller: Seller, data: SellerInput, expected_version: int,
                  actor: User) -> Seller:
    """Change a seller's details, refusing duplicates and concurrent edits."""
    data = _clean_seller(data)
    if seller.version != expected_version:
        raise ConflictError("Someone else changed this seller while you were editing; "
                            "review the current values and save again.")
    existing = find_seller(data.registration_number, data.country)
    if existing is not None and existing.id != seller.id:
        raise ServiceError(_duplicate_message(existing), "registration_number")
    fields = seller_columns(data)
    before = {k: getattr(seller, k) for k in fields}
    for key, value in fields.items():
        setattr(seller, key, value)
    _flush_seller()
    changed = {k: {"from": before[k], "to": v} for k, v in fields.items() if before[k] != v}
    audit.record("seller.updated", "seller", seller.id, {"changes": changed}, actor)
    return seller


def _flush_seller() -> None:
    flush_or_conflict("seller", "A seller with this registration number and country was just "
                                "registered by someone else.")


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: created sellers, rows that matched existing ones, or errors."""

    created: list[Seller]
    existing: list[Seller]
    errors: tuple[RowError, ...]


def import_sellers(data: bytes, filename: str, actor: User) -> ImportOutcome:
    """Import sellers from CSV: all rows valid or nothing imported; known sellers are skipped."""
    parsed = parse_seller_csv(data)
    if not parsed.importable:
        errors = parsed.errors or (RowError(0, "", "The file has no seller rows."),)
        return ImportOutcome([], [], errors)
    created, existing = [], []
    for row in parsed.rows:
        found = find_seller(row.registration_number, row.country)
        if found is not None:
            existing.append(found)
            continue
        created.append(create_seller(SellerInput(
            legal_name=row.legal_name, trading_name=row.trading_name or "",
            country=row.country, registration_number=row.registration_number,
            vat_id=row.vat_id, contact_email=row.contact_email, website=row.website or "",
            device_categories=row.device_categories,
            declared_monthly_volume=row.declared_monthly_volume), actor, source="csv import"))
    audit.record("seller.imported", "seller_import", filename[:64],
                 {"filename": filename, "rows": len(parsed.rows), "created": len(created),
                  "already_present": len(existing)}, actor)
    return ImportOutcome(created, existing, ())


def seller_query(q: str = "", country: str = "", label_status: str = "",
                 sampling_state: str = "") -> Select[tuple[Seller]]:
    """Sellers matching a free-text search and filters, by name."""
    stmt = select(Seller).order_by(Seller.legal_name, Seller.id)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Seller.legal_name).like(like),
                              func.lower(Seller.trading_name).like(like),
                              Seller.registration_key.like(f"%{normalise_registration(q)}%"),
                              func.lower(Seller.vat_id).like(like),
                              func.lower(Seller.contact_email).like(like)))
    if country:
        stmt = stmt.where(Seller.country == country.upper())
    if label_status == "none":
        stmt = stmt.where(Seller.label_status.is_(None))
    elif label_status:
        stmt = stmt.where(Seller.label_status == label_status)
    if sampling_state == "none":
        stmt = stmt.where(Seller.sampling_state.is_(None))
    elif sampling_state:
        stmt = stmt.where(Seller.sampling_state == sampling_state)
    return stmt


def seller_countries() -> list[str]:
    """Countries that have sellers, for the filter."""
    return list(db.session.execute(
        select(Seller.country).distinct().order_by(Seller.country)).scalars())


def count_sellers() -> int:
    """How many sellers are registered."""
    return db.session.execute(select(func.count()).select_from(Seller)).scalar_one()


# ---------------------------------------------------------------- the Back Label


def today() -> date:
    """Today's date in UTC by the application clock."""
    return utcnow().date()


def change_label(seller: Seller, target: LabelStatus, reason: str, actor: User | None, *,
                 pending_review: bool = False, snapshot: Mapping[str, Any] | None = None,
                 application: Application | None = None,
                 renewal: str | None = None) -> LabelEvent:
    """Move a seller's label along the transition table and record the event.

    `renewal` ("full" or "conditional") marks a renewal in place (same status, new validity).
    """
    current = LabelStatus(seller.label_status) if seller.label_status else None
    try:
        record = compute_label_record(
            current, target, reason, today=today(), valid_from=seller.label_valid_from,
            valid_until=seller.label_valid_until, sampling_state=seller.sampling_state,
            pending_review=pending_review, renewal=renewal)
    except LabelTransitionError as exc:
        raise ServiceError(str(exc)) from None
    seller.label_valid_from = record.valid_from
    seller.label_valid_until = record.valid_until
    seller.sampling_state = record.sampling_state
    seller.label_status = target.value
    application_id = application.id if application else None
    event = LabelEvent(
        seller_id=seller.id, actor_id=actor.id if actor else None,
        actor=actor.email if actor else audit.SYSTEM_ACTOR, at=utcnow(),
        application_id=application_id, **label_event_columns(record, snapshot))
    db.session.add(event)
    db.session.flush()
    audit.record("label.changed", "seller", seller.id,
                 label_changed_payload(record, snapshot, application_id), actor)
    label_events.emit(label_events.LabelChanged(seller.id, event.from_status, event.to_status,
                                                event.id, event.pending_review, renewal))
    return event


def labels_due_for_renewal(on: date | None = None,
                           window_days: int = RENEWAL_WINDOW_DAYS) -> list[Seller]:
    """Labels in force that end within the renewal window, soonest first."""
    day = on or today()
    return list(db.session.execute(
        select(Seller).where(
            Seller.label_status.in_(IN_FORCE),
            Seller.label_valid_until >= day,
            Seller.label_valid_until <= day + timedelta(days=window_days))
        .order_by(Seller.label_valid_until, Seller.id)).scalars())


def expire_labels(on: date | None = None) -> list[Seller]:
    """Expire every label in force whose end date has passed; return the sellers expired."""
    day = on or today()
    lapsed = list(db.session.execute(
        select(Seller).where(
            Seller.label_status.in_(IN_FORCE),
            Seller.label_valid_until < day)
        .order_by(Seller.id).with_for_update()).scalars())
    for seller in lapsed:
        change_label(seller, LabelStatus.EXPIRED,
                     f"Label ended on {seller.label_valid_until} and was not renewed.", None)
    return lapsed


# ---------------------------------------------------------------- checklist templates


def current_template() -> ChecklistTemplate:
    """The newest checklist version, or the default checklist (unsaved, so reading never
    writes) until the first application or edit saves it as version 1."""
    template = _newest_template()
    return template if template is not None else _checklist_version(DEFAULT_CHECKLIST,
                                                                     DEFAULT_NOTE, None, 1)


def stored_template() -> ChecklistTemplate:
    """The newest saved checklist version, saving the default checklist first if none is."""
    lock("checklist_templates")  # new versions are numbered one at a time
    return _newest_template() or _save_version(DEFAULT_CHECKLIST, DEFAULT_NOTE, None)


def _newest_template() -> ChecklistTemplate | None:
    return db.session.execute(
        select(ChecklistTemplate).order_by(ChecklistTemplate.version.desc()).limit(1)
    ).scalar_one_or_none()


def _checklist_version(specs: Sequence[ChecklistItemSpec], note: str, actor: User | None,
                       version: int) -> ChecklistTemplate:
    return ChecklistTemplate(version=version, note=note.strip(),
                             created_by_id=actor.id if actor else None, items=[
        ChecklistTemplateItem(position=i, code=s.code, title=s.title, guidance=s.guidance,
                              category=s.category.value, required=s.required,
                              evidence_required=s.evidence_required)
        for i, s in enumerate(specs, start=1)])


def create_template_version(specs: Sequence[ChecklistItemSpec], note: str,
                            actor: User | None) -> ChecklistTemplate:
    """Save a checklist as a new version; applications keep the version they started with."""
    codes = [s.code for s in specs]
    if not specs:
        raise ServiceError("A checklist needs at least one item.")
    if any(not s.code or not s.title for s in specs):
        raise ServiceError("Every item needs both a code and a title.")
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ServiceError(f"Item codes must be unique; repeated: {', '.join(duplicates)}.")
    for spec in specs:
        # Codes are stored in capitals, which can be longer ("ß" becomes "SS").
        if len(spec.code) > MAX_ITEM_CODE_LENGTH:
            raise ServiceError(f"Item code {spec.code} is longer than {MAX_ITEM_CODE_LENGTH} "
                               "characters.")
        if len(spec.title) > MAX_ITEM_TITLE_LENGTH:
            raise ServiceError(f"The title of {spec.code} is longer than "
                               f"{MAX_ITEM_TITLE_LENGTH} characters.")
    stored_template()  # the default the editor started from becomes version 1 first
    return _save_version(specs, note, actor)


def _save_version(specs: Sequence[ChecklistItemSpec], note: str,
                  actor: User | None) -> ChecklistTemplate:
    """Store the next checklist version; the caller holds the checklist lock."""
    latest = db.session.execute(select(func.max(ChecklistTemplate.version))).scalar() or 0
    template = _checklist_version(specs, note, actor, latest + 1)
    db.session.add(template)
    db.session.flush()
    audit.record("checklist.version_created", "checklist_template", template.id, {
        "version": template.version, "note": template.note,
        "items": [{"code": s.code, "title": s.title, "category": s.category.value,
                   "required": s.required, "evidence_required": s.evidence_required}
                  for s in specs]}, actor)
    return template


# ---------------------------------------------------------------- applications


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


def seller_label_history(seller: Seller) -> list[LabelEvent]:
    """The seller's label events, newest first."""
    return list(db.session.execute(select(LabelEvent).where(LabelEvent.seller_id == seller.id)
                                   .order_by(LabelEvent.at.desc(), LabelEvent.id.desc()))
                .scalars())


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
