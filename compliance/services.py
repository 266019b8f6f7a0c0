"""Suspension reviews, appeals, corrective-action plans, reinstatement and revocation.

Services flush; the caller commits.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from compliance.cases import (
    CASE_KINDS,
    case_decided_entry,
    case_recorded_entry,
    review_confirmed_payload,
    review_overturned_payload,
    review_superseded_payload,
)
from compliance.models import SellerCase, SuspensionReview
from core import audit
from core.clock import utcnow
from core.db import db, flush_or_conflict
from core.errors import ConflictError, ServiceError
from core.models import User
from qc.services import label_decisions, plan_settings
from vetting import events as label_events
from vetting.events import LabelChanged
from vetting.labels import LabelStatus
from vetting.models import LabelEvent, Seller
from vetting.services.labels import change_label


def on_label_changed(event: LabelChanged) -> None:
    """Queue every suspension pending review for a compliance officer."""
    if event.to_status == LabelStatus.SUSPENDED and event.pending_review:
        db.session.add(SuspensionReview(seller_id=event.seller_id,
                                        label_event_id=event.label_event_id,
                                        opened_at=utcnow()))
        db.session.flush()


def pending_reviews() -> Select[tuple[SuspensionReview]]:
    """Suspensions waiting for review, oldest first."""
    return (select(SuspensionReview).where(SuspensionReview.status == "pending")
            .options(selectinload(SuspensionReview.seller),
                     selectinload(SuspensionReview.label_event))
            .order_by(SuspensionReview.opened_at, SuspensionReview.id))


def _check(review: SuspensionReview, expected_version: int | None) -> None:
    if review.status != "pending":
        raise ServiceError(f"This suspension was already {review.status}.")
    if expected_version is not None and review.version != expected_version:
        raise ConflictError("This review changed since you opened it; reload and try again.")


def confirm_suspension(review: SuspensionReview, reason: str, actor: User,
                       expected_version: int | None = None) -> SuspensionReview:
    """Confirm an automatic suspension: the label stays suspended."""
    _check(review, expected_version)
    if not reason.strip():
        raise ServiceError("Give the reason for confirming the suspension.", "reason")
    review.status = "confirmed"
    review.reason = reason.strip()
    review.decided_by_id = actor.id
    review.decided_at = utcnow()
    flush_or_conflict("review")
    audit.record("suspension.confirmed", "seller", review.seller_id,
                 review_confirmed_payload(review.id, review.label_event_id, review.reason),
                 actor)
    label_events.emit_confirmed(label_events.SuspensionConfirmed(
        review.seller_id, review.id, review.label_event_id, review.reason))
    return review


def overturn_suspension(review: SuspensionReview, reason: str, actor: User,
                        expected_version: int | None = None) -> SuspensionReview:
    """Overturn an automatic suspension: the label returns to where it was and the statistics
    restart with the head start (OVERTURN_HEAD_START x h, see qc.decisions)."""
    _check(review, expected_version)
    reason = reason.strip()
    if not reason:
        raise ServiceError("Give the reason for overturning the suspension.", "reason")
    seller = review.seller
    if seller.label_status != LabelStatus.SUSPENDED:
        raise ServiceError(f"The label is {seller.label_status}, not suspended.")
    restore = LabelStatus(review.label_event.from_status or LabelStatus.ACTIVE.value)
    review.status = "overturned"
    review.reason = reason
    review.decided_by_id = actor.id
    review.decided_at = utcnow()
    flush_or_conflict("review")
    row = label_decisions.restart_after_overturn(seller)
    snapshot = label_decisions.snapshot(seller, row, plan_settings.current_plan())
    change_label(seller, restore, f"Suspension overturned on review: {reason}", actor,
                 snapshot=snapshot)
    label_decisions.refresh_sampling_state(seller, "suspension overturned")
    audit.record("suspension.overturned", "seller", seller.id,
                 review_overturned_payload(review.id, restore.value, reason), actor)
    return review


def record_case(seller: Seller, kind: str, summary: str, received_on: date,
                actor: User) -> SellerCase:
    """Record an appeal or corrective-action plan received from the seller."""
    if kind not in CASE_KINDS:
        raise ServiceError("Choose appeal or corrective-action plan.", "kind")
    summary = summary.strip()
    if not summary:
        raise ServiceError("Summarise what the seller sent.", "summary")
    if received_on > utcnow().date():
        raise ServiceError("The date received cannot be in the future.", "received_on")
    case = SellerCase(seller_id=seller.id, kind=kind, summary=summary, received_on=received_on,
                      created_by_id=actor.id, created_at=utcnow())
    db.session.add(case)
    db.session.flush()
    action, payload = case_recorded_entry(case.id, kind, summary, received_on)
    audit.record(action, "seller", seller.id, payload, actor)
    return case


def decide_case(case: SellerCase, accept: bool, reason: str, actor: User,
                expected_version: int | None = None) -> SellerCase:
    """Accept or reject an appeal or corrective-action plan, with a reason."""
    if case.status != "open":
        raise ServiceError(f"This {CASE_KINDS[case.kind]} was already {case.status}.")
    if expected_version is not None and case.version != expected_version:
        raise ConflictError("This case changed since you opened it; reload and try again.")
    reason = reason.strip()
    if not reason:
        raise ServiceError("Give the reason for the decision.", "reason")
    case.status = "accepted" if accept else "rejected"
    case.decision_reason = reason
    case.decided_by_id = actor.id
    case.decided_at = utcnow()
    flush_or_conflict("case")
    action, payload = case_decided_entry(case.id, case.kind, case.status, reason)
    audit.record(action, "seller", case.seller_id, payload, actor)
    return case


def reinstate(seller: Seller, reason: str, actor: User) -> LabelEvent:
    """Put a suspended label on probation: head start S0 = h/2, tightened sampling."""
    reason = reason.strip()
    if not reason:
        raise ServiceError("Give the reason for reinstatement (e.g. the accepted appeal).",
                           "reason")
    pending = db.session.execute(select(SuspensionReview.id).where(
        SuspensionReview.seller_id == seller.id, SuspensionReview.status == "pending")).scalar()
    if pending is not None:
        raise ServiceError("Decide the pending suspension review first.")
    if seller.label_status != LabelStatus.SUSPENDED:
        raise ServiceError(f"Only a suspended label can be reinstated; this one is "
                           f"{seller.label_status or 'not granted'}.")
    row = label_decisions.reinstate(seller)
    snapshot = label_decisions.snapshot(seller, row, plan_settings.current_plan())
    return change_label(seller, LabelStatus.PROBATION,
                        f"Reinstated on probation: {reason}", actor, snapshot=snapshot)


def revoke(seller: Seller, reason: str, actor: User) -> LabelEvent:
    """Revoke a label for good (a final status)."""
    reason = reason.strip()
    if not reason:
        raise ServiceError("Give the reason for revocation.", "reason")
    event = change_label(seller, LabelStatus.REVOKED, f"Revoked: {reason}", actor)
    for review in db.session.execute(select(SuspensionReview).where(
            SuspensionReview.seller_id == seller.id, SuspensionReview.status == "pending")
            ).scalars():
        review.status, review.reason = "superseded", f"Label revoked: {reason}"
        review.decided_by_id, review.decided_at = actor.id, utcnow()
        audit.record("suspension.superseded", "seller", seller.id,
                     review_superseded_payload(review.id, review.reason), actor)
    db.session.flush()
    return event


def seller_cases(seller: Seller) -> list[SellerCase]:
    """The seller's appeals and plans, newest first."""
    return list(db.session.execute(select(SellerCase).where(SellerCase.seller_id == seller.id)
                                   .order_by(SellerCase.id.desc())).scalars())


def seller_reviews(seller: Seller) -> list[SuspensionReview]:
    """The seller's suspension reviews, newest first."""
    return list(db.session.execute(select(SuspensionReview).where(
        SuspensionReview.seller_id == seller.id).order_by(SuspensionReview.id.desc())).scalars())
