"""Command-line tools for reports (render queued ones, or one now) and seller notices."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup

from compliance import jobs, notices, reports
from core.db import db
from core.errors import ServiceError
from core.services import get_user_by_email
from vetting.models import Seller

reports_cli = AppGroup("reports", help="PDF audit dossiers and period reports.")


@reports_cli.command("render-pending")
def render_pending_command() -> None:
    """Render every due report (the scheduler does this every few seconds)."""
    done = jobs.run_pending_reports()
    click.echo(f"{len(done)} report(s) rendered{': ' + ', '.join(done) if done else ''}")


@reports_cli.command("generate")
@click.argument("kind", type=click.Choice(sorted(reports.KINDS)))
@click.option("--seller", "seller_id", type=int, help="Seller number (dossier).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--as", "email", required=True, help="Email of the compliance officer it is for.")
def generate_command(kind: str, seller_id: int | None, date_from: date, date_to: date,
                     email: str) -> None:
    """Render one report now and print its document id, pages, time and SHA-256."""
    actor = get_user_by_email(email)
    if actor is None:
        raise click.ClickException(f"No account {email}.")
    seller = db.session.get(Seller, seller_id) if seller_id is not None else None
    if seller_id is not None and seller is None:
        raise click.ClickException(f"There is no seller number {seller_id}.")
    try:
        report = reports.request_report(kind, seller, date_from.date(), date_to.date(), actor)
        jobs.render_now(report)
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    if report.status != "done":
        raise click.ClickException(f"{report.document_id}: {report.last_error}")
    click.echo(f"{report.document_id}: {report.pages} pages, {report.size} bytes, "
               f"{report.render_ms} ms, sha256 {report.sha256}")


notices_cli = AppGroup("notices", help="Seller notices (statements of reasons) and their outbox.")


@notices_cli.command("send")
def notices_send_command() -> None:
    """Send every due notice (the scheduler does this every 15 seconds)."""
    sent = jobs.run_notice_outbox()
    counts = notices.status_counts()
    click.echo(f"{len(sent)} notice(s) sent{': ' + ', '.join(sent) if sent else ''}. "
               f"Outbox: {counts['queued']} queued, {counts['sending']} sending, "
               f"{counts['dead']} dead.")


def register_cli(app: Flask) -> None:
    """Attach the reports and notices command groups."""
    app.cli.add_command(reports_cli)
    app.cli.add_command(notices_cli)
