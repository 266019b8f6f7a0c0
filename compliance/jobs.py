"""Background rendering of reports; runs in the scheduler process and as a CLI command."""

from __future__ import annotations

import time

from flask import current_app

from compliance import reports
from compliance.models import Report
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
