"""Background work of compliance: rendering reports and sending seller notices; runs in the
scheduler process and as CLI commands."""

from __future__ import annotations

import time

from flask import current_app

from compliance import mailer, notices, reports
from compliance.models import Notice, Report
from core import outbox
from core.db import db, read_only
from core.errors import ServiceError


def run_pending_reports(limit: int = 100) -> list[str]:
    """Render due reports one at a time, at most `limit`; return the document ids rendered.
    A report is claimed by one renderer only; a failed rendering is retried with back-off."""
    done = []
    reports.requeue_stale()
    db.session.commit()
    for _ in range(limit):  # bounded: a backlog waits for the next run
        claims = reports.claim_due()
        db.session.commit()
        if not claims:
            break
        report = _render(claims[0])
        if report is not None:
            done.append(report.document_id)
    return done


def render_now(report: Report) -> Report:
    """Render a queued report in this process at once (small dossiers, the CLI); a failed
    attempt is recorded and retried in the background."""
    claim = reports.claim_now(report)
    if claim is None:
        raise ServiceError(f"Report {report.document_id} is being rendered already.")
    db.session.commit()
    _render(claim)
    return report


def _render(claim: outbox.Claim) -> Report | None:
    """Lay out, render and keep a claimed report, committing after each step; the HTML is
    built in a read transaction and the PDF with none open."""
    started = time.perf_counter()
    try:
        report = db.session.get(Report, claim.row_id)
        if report is None:
            return None
        with read_only():
            html = reports.render_html(reports.build_context(report))
        reports.record_progress(report, 60)
        db.session.commit()
        pdf = reports.render_document(html)
        done = reports.store(claim, pdf, started)
        db.session.commit()
        return done
    except Exception as exc:
        db.session.rollback()
        current_app.logger.exception("report %s failed", claim.row_id)
        reports.record_failure(claim, f"Rendering failed: {exc}")
        db.session.commit()
        return None


def run_notice_outbox(limit: int = 20, max_batches: int = 10) -> list[str]:
    """Send due seller notices, at most `max_batches` claims of `limit`; return the
    references handed over.

    The claim commits before anything slow happens: the PDF is laid out and the message
    handed to the transport with no transaction open, and the outcome commits afterwards.
    A failed attempt is retried on the back-off schedule.
    """
    sent: list[str] = []
    notices.requeue_stale()
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


def _send_one(claim: outbox.Claim) -> str | None:
    notice = db.session.get(Notice, claim.row_id)
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
        current_app.logger.exception("notice %s failed", claim.row_id)
        notices.record_failure(claim, f"{type(exc).__name__}: {exc}")
    else:
        done = notices.record_sent(claim, outcome)
        db.session.commit()
        return done.reference if done is not None else None
    db.session.commit()
    return None
