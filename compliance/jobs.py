"""Background work of compliance: rendering reports and sending seller notices; runs in the
scheduler process and as CLI commands."""

from __future__ import annotations

import time

from flask import current_app

from compliance import mailer, notices, reports
from compliance.models import Notice, Report
from core.db import db


def run_pending_reports() -> list[str]:
    """Render every queued report, showing progress; a report is claimed by one worker only."""
    done = []
    if reports.requeue_stale():
        db.session.commit()
    for report_id in reports.queued_reports():
        if not reports.claim(report_id):
            db.session.rollback()
            continue
        db.session.commit()
        report = db.session.get(Report, report_id)
        if report is None:
            continue
        started = time.perf_counter()
        try:
            html = reports.layout(report)
            reports.store(report, html, started)
            db.session.commit()
            done.append(report.document_id)
        except Exception as exc:
            db.session.rollback()
            current_app.logger.exception("report %s failed", report_id)
            report = db.session.get(Report, report_id)
            if report is not None:
                reports.fail(report, f"Rendering failed: {exc}")
                db.session.commit()
    return done


def run_notice_outbox(limit: int = 20, max_batches: int = 10) -> list[str]:
    """Send due seller notices, at most `max_batches` claims of `limit`; return the
    references handed over.

    The claim commits before anything slow happens: the PDF is laid out and the message
    handed to the transport with no transaction open, and the outcome commits afterwards.
    A failed attempt is retried on the back-off schedule.
    """
    sent: list[str] = []
    if notices.requeue_stale():
        db.session.commit()
    for _batch in range(max_batches):  # bounded: a backlog waits for the next run
        claims = notices.claim_due(limit)
        db.session.commit()
        for claim in claims:
            reference = _send_one(claim)
            if reference:
                sent.append(reference)
        if len(claims) < limit:
            break
    return sent


def _send_one(claim: notices.Claim) -> str | None:
    notice = db.session.get(Notice, claim.notice_id)
    if notice is None:
        return None
    try:
        if notice.pdf is None:
            html = notice.document_html
            db.session.commit()
            notices.store_pdf(notice, notices.render_notice_pdf(html))
        message = notices.message_for(notice)
        db.session.commit()
        outcome = mailer.deliver(message, current_app.config)
    except mailer.DeliveryError as exc:
        db.session.rollback()
        notices.record_failure(claim, str(exc))
    except Exception as exc:
        db.session.rollback()
        current_app.logger.exception("notice %s failed", claim.notice_id)
        notices.record_failure(claim, f"{type(exc).__name__}: {exc}")
    else:
        done = notices.record_sent(claim, outcome)
        db.session.commit()
        return done.reference if done is not None else None
    db.session.commit()
    return None
