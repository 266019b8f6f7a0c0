"""Seller notices: a statement of reasons for every suspension, suspension lifted on review,
reinstatement, conditional renewal and revocation, kept in the seller's file and sent
through an outbox.

The listeners run inside the transaction of the label decision, so a notice exists exactly
when its decision does. Delivery runs through the notice's row as an outbox (core.outbox) and
is at least once: a sender claims due notices, commits the claim, sends with no transaction
open, then records the outcome. A sender that dies mid-send leaves a claim whose lease
(NOTICE_CLAIM_TIMEOUT_SECONDS) runs out and is put back in the queue; the re-send carries the
same Message-ID.

Services flush; the job, the CLI and the views commit.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from sqlalchemy import Select, select, update

from compliance import mailer
from compliance.models import Notice, SuspensionReview
from compliance.pdf import render_pdf
from compliance.statement import (
    FailedCheck,
    NoticeFacts,
    NoticeKind,
    OrderFact,
    PlanTerms,
    Statement,
    compute_notice_kind,
    compute_statement,
)
from core import audit, outbox
from core.backoff import RetryPolicy
from core.clock import utcnow
from core.db import db
from core.errors import ServiceError
from core.models import User
from qc.decisions import RENEWAL_MIN_INSPECTED, compute_decision_plan, compute_effective_verdict
from qc.models import (
    Checkpoint,
    CriticalFinding,
    Inspection,
    InspectionPhoto,
    InspectionResult,
    Listing,
    SellerStatistics,
    TestOrder,
)
from qc.services import label_decisions, plan_settings
from qc.stats import PlanParams, oc_probability
from vetting.events import LabelChanged, SuspensionConfirmed
from vetting.labels import LabelEventKind, LabelStatus
from vetting.models import LabelEvent, Seller

STATUSES = ("queued", "sending", "sent", "dead")
ORDER_REF = re.compile(r"#(\d+)")


# ---------------------------------------------------------------- listeners


def on_label_changed(event: LabelChanged) -> None:
    """Write the notice a label change calls for, in the change's transaction."""
    review = _overturned_review(event) if event.from_status == LabelStatus.SUSPENDED else None
    kind = compute_notice_kind(event.from_status, event.to_status, event.renewal,
                               overturned=review is not None)
    if kind is not None:
        create_notice(event.seller_id, event.label_event_id, kind,
                      review_id=review.id if review is not None else None)


def _overturned_review(event: LabelChanged) -> SuspensionReview | None:
    """The review that overturned the suspension a label is leaving, if one did."""
    suspension = _latest_suspension(event.seller_id, event.label_event_id)
    if suspension is None:
        return None
    return db.session.execute(select(SuspensionReview).where(
        SuspensionReview.label_event_id == suspension.id,
        SuspensionReview.status == "overturned")).scalar_one_or_none()


def on_suspension_confirmed(event: SuspensionConfirmed) -> None:
    """Write the notice of a confirmed suspension, in the confirmation's transaction."""
    create_notice(event.seller_id, event.label_event_id, NoticeKind.SUSPENSION_CONFIRMED,
                  review_id=event.review_id)


# ---------------------------------------------------------------- facts


def _plan_terms(snapshot: dict[str, Any]) -> PlanTerms:
    """The plan of the decision's snapshot, else the plan in force; rates in force."""
    settings = plan_settings.current_settings()
    snap = snapshot.get("plan") or {}
    from_snapshot = {"p0", "p1", "alpha", "beta"} <= snap.keys()
    params = (PlanParams(p0=snap["p0"], p1=snap["p1"], alpha=snap["alpha"], beta=snap["beta"])
              if from_snapshot else plan_settings.plan_params(settings))
    # The threshold the decision was taken with (the budget's choice, or an override).
    h = (snapshot["h"] if from_snapshot and "h" in snapshot
         else plan_settings.threshold_in_force(settings))
    plan = compute_decision_plan(params, h=h)
    return PlanTerms(
        p0=params.p0, p1=params.p1, alpha=params.alpha, beta=params.beta,
        w_defect=plan.main.w_defect, w_clean=plan.main.w_clean, h=plan.main.h,
        acceptance_run=plan.main.acceptance_run, rate_tightened=settings.rate_tightened,
        rate_onboarding=settings.rate_onboarding,
        wrongful_24=oc_probability(params.p0, 24, plan.main))


_RESTART_KINDS = frozenset({LabelEventKind.GRANT, LabelEventKind.REINSTATEMENT,
                            LabelEventKind.RENEWAL_CONDITIONAL})


def _is_restart(e: LabelEvent) -> bool:
    # an overturned suspension restarts the statistics too (its event holds the head start;
    # one overturned before overturns restarted them has no snapshot)
    return e.kind in _RESTART_KINDS or (e.kind == LabelEventKind.RESTORATION and bool(e.snapshot))


def _snapshot(e: LabelEvent | None) -> dict[str, Any]:
    return json.loads(e.snapshot) if e is not None and e.snapshot else {}


def _epoch_of(seller_id: int, basis: LabelEvent) -> tuple[datetime | None, float]:
    """When the statistics epoch the `basis` decision was taken in began, and S then."""
    later = db.session.execute(select(LabelEvent).where(
        LabelEvent.seller_id == seller_id, LabelEvent.id > basis.id)).scalars()
    row = db.session.get(SellerStatistics, seller_id)
    if row is not None and row.epoch_at <= basis.at and not any(map(_is_restart, later)):
        # statistics_row() starts an epoch at 1970-01-01 when no label event restarted it
        since = row.epoch_at if row.epoch_at > datetime(1970, 1, 1) else None
        return since, label_decisions.epoch_start(row).s
    earlier = db.session.execute(select(LabelEvent).where(
        LabelEvent.seller_id == seller_id, LabelEvent.id < basis.id)
        .order_by(LabelEvent.id.desc())).scalars()
    for e in earlier:
        if _is_restart(e):
            return e.at, float(_snapshot(e).get("S", 0.0))
    return None, 0.0


def _orders(seller_id: int, after: datetime | None, until: datetime) -> list[OrderFact]:
    """The seller's orders inspected in (after, until], with the verdict they count with (an
    order whose critical finding awaits confirmation is not counted yet, so not listed), the
    marketplace order, purchase date and listing, the failed checkpoints and the photos."""
    stmt = (select(TestOrder.id, TestOrder.inspected_at, Listing.device_model,
                   Inspection.verdict, CriticalFinding.status, CriticalFinding.rescored_verdict,
                   Inspection.id, TestOrder.marketplace_ref, TestOrder.placed_at, Listing.sku)
            .join(Inspection, Inspection.order_id == TestOrder.id)
            .join(Listing, Listing.id == TestOrder.listing_id)
            .outerjoin(CriticalFinding, CriticalFinding.inspection_id == Inspection.id)
            .where(TestOrder.seller_id == seller_id, Inspection.is_current.is_(True),
                   TestOrder.inspected_at <= until)
            .order_by(TestOrder.inspected_at, TestOrder.id))
    if after is not None:
        stmt = stmt.where(TestOrder.inspected_at > after)
    rows = [(row, counted) for row in db.session.execute(stmt)
            if (counted := compute_effective_verdict(row[3], row[4], row[5])) is not None]
    inspection_ids = [row[6] for row, _ in rows]
    failed, photos = _failed_checks(inspection_ids), _photos(inspection_ids)
    facts = []
    for (i, at, device, _, finding, _, inspection_id, ref, placed, sku), counted in rows:
        checks = failed.get(inspection_id, ())
        if finding == "rejected":
            # a second inspector found the critical checkpoints passed; the order counts with
            # the verdict of its other results, so the notice lists only those
            checks = tuple(c for c in checks if c.severity != "critical")
        facts.append(OrderFact(i, at.date(), device, counted, marketplace_ref=ref,
                               placed_on=placed.date() if placed else None, sku=sku,
                               failed=checks, photos=photos.get(inspection_id, ())))
    return facts


def _failed_checks(inspection_ids: list[int]) -> dict[int, tuple[FailedCheck, ...]]:
    """The failed checkpoints of each inspection, titled from the checkpoint catalog."""
    found: dict[int, list[FailedCheck]] = {}
    if inspection_ids:
        rows = db.session.execute(
            select(InspectionResult.inspection_id, InspectionResult.code, Checkpoint.title,
                   InspectionResult.severity, InspectionResult.note)
            .outerjoin(Checkpoint, Checkpoint.code == InspectionResult.code)
            .where(InspectionResult.inspection_id.in_(inspection_ids),
                   InspectionResult.passed.is_(False))
            .order_by(InspectionResult.inspection_id, InspectionResult.position))
        for inspection_id, code, title, severity, note in rows:
            found.setdefault(inspection_id, []).append(
                FailedCheck(code, title or "", severity, note.strip()))
    return {k: tuple(v) for k, v in found.items()}


def _photos(inspection_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The SHA-256 of each inspection's photos."""
    found: dict[int, list[str]] = {}
    if inspection_ids:
        rows = db.session.execute(
            select(InspectionPhoto.inspection_id, InspectionPhoto.sha256)
            .where(InspectionPhoto.inspection_id.in_(inspection_ids))
            .order_by(InspectionPhoto.id))
        for inspection_id, sha256 in rows:
            found.setdefault(inspection_id, []).append(sha256)
    return {k: tuple(v) for k, v in found.items()}


def _critical_checks(snap: dict[str, Any], orders: list[OrderFact],
                     trigger: int | None) -> tuple[FailedCheck, ...]:
    """The critical checkpoints a confirmed critical finding recorded (BAT-1 for a swollen
    battery), with their titles and the inspector's notes."""
    codes = [str(c) for c in (snap.get("critical_confirmation") or {}).get("checkpoints", [])]
    if not codes:
        return ()
    failed = {c.code: c for o in orders if o.order_id == trigger for c in o.failed}
    titles: dict[str, str] = {code: title for code, title in db.session.execute(
        select(Checkpoint.code, Checkpoint.title).where(Checkpoint.code.in_(codes)))}
    return tuple(failed.get(code) or FailedCheck(code, titles.get(code, ""), "critical")
                 for code in codes)


def _latest_suspension(seller_id: int, before_id: int) -> LabelEvent | None:
    return db.session.execute(select(LabelEvent).where(
        LabelEvent.seller_id == seller_id, LabelEvent.id < before_id,
        LabelEvent.to_status == LabelStatus.SUSPENDED)
        .order_by(LabelEvent.id.desc()).limit(1)).scalar_one_or_none()


def _suspension_facts(seller_id: int, basis: LabelEvent) -> dict[str, Any]:
    """The orders, S and trigger behind a suspension (or, for a revocation without one, the
    orders of the current epoch)."""
    since, start_s = _epoch_of(seller_id, basis)
    orders = _orders(seller_id, since, basis.at)
    snap = _snapshot(basis)
    match = ORDER_REF.search(str(snap.get("order") or ""))
    trigger = int(match.group(1)) if match else None
    verdict = next((o.verdict for o in orders if o.order_id == trigger), None)
    return {"orders": tuple(orders), "orders_since": since.date() if since else None,
            "start_s": start_s, "s_value": snap.get("S"), "trigger_order_id": trigger,
            "critical": verdict == "critical", "plan": _plan_terms(snap),
            "critical_checks": _critical_checks(snap, orders, trigger),
            "critical_confirmed_on": _confirmed_on(snap)}


def _confirmed_on(snap: dict[str, Any]) -> date | None:
    """When a second inspector confirmed the critical finding the decision rests on."""
    confirmed = (snap.get("critical_confirmation") or {}).get("confirmed_on")
    return date.fromisoformat(confirmed) if confirmed else None


def _year_before(end: date) -> date:
    try:
        return end.replace(year=end.year - 1)
    except ValueError:  # 29 February
        return end.replace(year=end.year - 1, day=28)


def _renewal_facts(seller: Seller, event: LabelEvent) -> dict[str, Any]:
    end = seller.label_valid_from or event.at.date()
    start = _year_before(end)
    first = datetime.combine(start, datetime.min.time())
    orders = _orders(seller.id, first - timedelta(microseconds=1),
                     datetime.combine(end + timedelta(days=1), datetime.min.time())
                     - timedelta(microseconds=1))
    year = label_decisions.label_year(seller.id, start, end)
    return {"orders": tuple(orders), "orders_since": start, "renewal_start": start,
            "renewal_end": end, "renewal_suspensions": year.suspended,
            "renewal_inspected": year.inspected, "renewal_min_inspected": RENEWAL_MIN_INSPECTED,
            "renewal_planned": year.planned, "renewal_seller_side": year.seller_side,
            "valid_until": event.valid_until, "plan": _plan_terms(_snapshot(event))}


def build_facts(seller: Seller, event: LabelEvent, kind: NoticeKind, reference: str,
                review: SuspensionReview | None = None) -> NoticeFacts:
    """Gather the plain values of a notice from the label history, orders and plan."""
    cfg = current_app.config
    common: dict[str, Any] = {
        "kind": kind, "seller_name": seller.legal_name, "reference": reference,
        "decided_on": event.at.date(), "recorded_reason": event.reason,
        "appeal_to": mailer.appeal_address(cfg), "appeal_days": int(cfg["NOTICE_APPEAL_DAYS"])}
    if kind == NoticeKind.SUSPENSION_PENDING:
        return NoticeFacts(**common, **_suspension_facts(seller.id, event))
    if kind == NoticeKind.SUSPENSION_CONFIRMED:
        assert review is not None  # noqa: S101 - confirmations always come from a review
        decided = review.decided_at or utcnow()
        return NoticeFacts(**{**common, "decided_on": decided.date()},
                           **_suspension_facts(seller.id, event),
                           officer_reason=review.reason, suspended_on=event.at.date())
    if kind == NoticeKind.CONDITIONAL_RENEWAL:
        return NoticeFacts(**common, **_renewal_facts(seller, event))
    if kind == NoticeKind.SUSPENSION_OVERTURNED:
        assert review is not None  # noqa: S101 - only a review overturns a suspension
        suspension = review.label_event
        facts = _suspension_facts(seller.id, suspension)
        snap = _snapshot(event)  # the restart: S0 and the plan in force now
        facts.update(plan=_plan_terms(snap), s_value=snap.get("S"))
        return NoticeFacts(**common, **facts, officer_reason=review.reason,
                           suspended_on=suspension.at.date(), restored_status=event.to_status)
    basis = event
    if kind == NoticeKind.REINSTATEMENT or event.from_status == LabelStatus.SUSPENDED:
        basis = _latest_suspension(seller.id, event.id) or event
    prefix = "Reinstated on probation: " if kind == NoticeKind.REINSTATEMENT else "Revoked: "
    facts = _suspension_facts(seller.id, basis)
    if kind == NoticeKind.REINSTATEMENT:  # the plan in force now governs the probation
        facts["plan"] = _plan_terms(_snapshot(event))
    return NoticeFacts(**common, **facts, officer_reason=event.reason.removeprefix(prefix),
                       suspended_on=basis.at.date() if basis is not event else None)


# ---------------------------------------------------------------- writing


def render_bodies(statement: Statement, seller: Seller, recipient: str,
                  created_at: datetime) -> tuple[str, str, str]:
    """The text body, the HTML body and the PDF's HTML of a notice."""
    context = {"s": statement, "seller": seller, "recipient": recipient,
               "created_at": created_at}
    return (render_template("compliance/notices/notice.txt", **context),
            render_template("compliance/notices/notice.html", **context),
            render_template("compliance/notices/document.html", **context))


def create_notice(seller_id: int, label_event_id: int, kind: NoticeKind,
                  review_id: int | None = None) -> Notice | None:
    """Write a notice and queue it for delivery; the same decision never gets two."""
    existing = db.session.execute(select(Notice).where(
        Notice.label_event_id == label_event_id, Notice.kind == kind.value)).scalar_one_or_none()
    if existing is not None:
        return existing
    seller = db.session.get(Seller, seller_id)
    event = db.session.get(LabelEvent, label_event_id)
    if seller is None or event is None:
        return None
    review = db.session.get(SuspensionReview, review_id) if review_id is not None else None
    reference = "N" + secrets.token_hex(5).upper()
    statement = compute_statement(build_facts(seller, event, kind, reference, review))
    now = utcnow()
    text, html, document = render_bodies(statement, seller, seller.contact_email, now)
    notice = Notice(
        reference=reference, seller_id=seller.id, label_event_id=event.id, review_id=review_id,
        kind=kind.value, decided_on=statement.decided_on, appeal_by=statement.appeal_by,
        recipient=seller.contact_email, subject=statement.subject, body_text=text,
        body_html=html, document_html=document,
        message_id=mailer.make_message_id(reference, current_app.config), created_at=now,
        status="queued", attempts=0, next_attempt_at=now, last_error="")
    db.session.add(notice)
    db.session.flush()
    audit.record("notice.queued", "seller", seller.id, {
        "notice": notice.reference, "kind": notice.kind, "label_event_id": event.id,
        "recipient": notice.recipient, "appeal_by": notice.appeal_by.isoformat(),
        "message_id": notice.message_id})
    return notice


# ---------------------------------------------------------------- PDF


def pdf_name(notice: Notice) -> str:
    """The PDF's file name as attached and downloaded."""
    return f"labelkeeper-notice-{notice.reference}.pdf"


def render_notice_pdf(document_html: str) -> bytes:
    """Lay out a notice's PDF (no database access: call it with no transaction open)."""
    return render_pdf(document_html, Path(current_app.static_folder or "static")).data


def store_pdf(notice: Notice, data: bytes) -> None:
    """Keep a notice's PDF in its row (the seller's file) with its SHA-256; the first
    rendering stored wins."""
    if notice.pdf is not None:
        return
    db.session.execute(update(Notice).where(Notice.id == notice.id, Notice.pdf.is_(None))
                       .values(pdf=data, pdf_sha256=hashlib.sha256(data).hexdigest()))
    db.session.expire(notice, ["pdf", "pdf_sha256"])  # another sender may have stored first


def ensure_pdf(notice: Notice) -> bytes:
    """The notice's PDF, rendered from its stored HTML and kept on first use."""
    if notice.pdf is None:
        store_pdf(notice, render_notice_pdf(notice.document_html))
    assert notice.pdf is not None  # noqa: S101 - stored just above
    return notice.pdf


# ---------------------------------------------------------------- outbox


def _policy() -> RetryPolicy:
    return outbox.retry_policy(current_app.config, "NOTICE")


def _audit_if_dead(notice: Notice) -> None:
    if outbox.is_dead(notice):
        audit.record("notice.dead", "seller", notice.seller_id, {
            "notice": notice.reference, "attempts": notice.attempts, "error": notice.last_error})


def requeue_stale() -> int:
    """Count the attempt of a sender that stopped mid-send (it may have crashed on this very
    notice) and queue the notice again at once, or give it up as dead."""
    stale = outbox.requeue_expired(
        Notice, "The sender stopped during the attempt; sent again with the same Message-ID.",
        _policy(), utcnow())
    for notice in stale:
        _audit_if_dead(notice)
    return len(stale)


def claim_due(limit: int = 20) -> list[outbox.Claim]:
    """Claim up to `limit` due notices for this sender; concurrent senders skip them."""
    now = utcnow()
    lease = timedelta(seconds=float(current_app.config["NOTICE_CLAIM_TIMEOUT_SECONDS"]))
    return outbox.claim(outbox.due(Notice, now), Notice, now, lease, limit)


def message_for(notice: Notice) -> Any:
    """The e-mail of a notice (PDF rendered first if needed)."""
    return mailer.build_message(
        message_id=notice.message_id, created_at=notice.created_at, recipient=notice.recipient,
        subject=notice.subject, text=notice.body_text, html=notice.body_html,
        pdf=ensure_pdf(notice), pdf_name=pdf_name(notice), config=current_app.config)


def record_sent(claim: outbox.Claim, outcome: str) -> Notice | None:
    """Mark a claimed notice sent (unless the claim was lost meanwhile)."""
    notice = outbox.record_success(Notice, claim)
    if notice is None:
        return None
    notice.sent_at = utcnow()
    db.session.flush()
    audit.record("notice.sent", "seller", notice.seller_id, {
        "notice": notice.reference, "message_id": notice.message_id,
        "attempts": notice.attempts, "outcome": outcome})
    return notice


def record_failure(claim: outbox.Claim, error: str) -> Notice | None:
    """Count a failed attempt: queue the next one per the back-off schedule, or give up."""
    notice = outbox.record_failure(Notice, claim, error, _policy(), utcnow())
    if notice is not None:
        _audit_if_dead(notice)
    return notice


def send_again(notice: Notice, actor: User) -> Notice:
    """Queue a dead (or sent) notice once more, now, with the same Message-ID."""
    if notice.status not in ("dead", "sent"):
        raise ServiceError(f"Notice {notice.reference} is {notice.status} already; it will be "
                           "sent without being asked.")
    before = notice.status
    if not outbox.restart(Notice, notice.id, before, utcnow(), sent_at=None, last_error=""):
        raise ServiceError(f"Notice {notice.reference} changed meanwhile; reload the page.")
    db.session.refresh(notice)
    audit.record("notice.send_again", "seller", notice.seller_id, {
        "notice": notice.reference, "was": before, "message_id": notice.message_id}, actor)
    return notice


def record_download(notice: Notice, actor: User) -> None:
    """Note a download of a notice's PDF in the audit trail."""
    audit.record("notice.downloaded", "seller", notice.seller_id,
                 {"notice": notice.reference, "sha256": notice.pdf_sha256}, actor)


# ---------------------------------------------------------------- queries


def seller_notices(seller: Seller) -> list[Notice]:
    """The notices of a seller's file, newest first."""
    return list(db.session.execute(select(Notice).where(Notice.seller_id == seller.id)
                                   .order_by(Notice.id.desc())).scalars())


def outbox_query(status: str | None = None) -> Select[tuple[Notice]]:
    """Notices for the outbox page: one status, or all; dead first, then newest."""
    stmt = select(Notice)
    if status in STATUSES:
        stmt = stmt.where(Notice.status == status)
    dead_first = (Notice.status != "dead")
    return stmt.order_by(dead_first, Notice.id.desc())


def status_counts() -> dict[str, int]:
    """How many notices are in each delivery state."""
    from sqlalchemy import func

    counts = dict(db.session.execute(select(Notice.status, func.count())
                                     .group_by(Notice.status)).all())
    return {s: int(counts.get(s, 0)) for s in STATUSES}
