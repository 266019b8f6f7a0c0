"""Command-line tools for the Back Label: `labels expire` and `labels due`."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from vetting import jobs
from vetting.services import labels as label_service

labels_cli = AppGroup("labels", help="Back Label renewal and expiry.")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use the form YYYY-MM-DD", param_hint="--on") from None


@labels_cli.command("expire")
@click.option("--on", "on", default=None, help="Pretend today is this date (YYYY-MM-DD).")
def expire_command(on: str | None) -> None:
    """Expire every label whose end date has passed (the daily job)."""
    expired = jobs.run_label_expiry(_day(on))
    for seller in expired:
        click.echo(f"expired: #{seller.id} {seller.display_name} "
                   f"(ended {seller.label_valid_until})")
    click.echo(f"{len(expired)} label(s) expired.")


@labels_cli.command("due")
@click.option("--on", "on", default=None, help="Pretend today is this date (YYYY-MM-DD).")
@click.option("--days", default=30, show_default=True, type=click.IntRange(0, 366))
def due_command(on: str | None, days: int) -> None:
    """List labels that end within the renewal window."""
    due = label_service.labels_due_for_renewal(_day(on), days)
    for seller in due:
        click.echo(f"#{seller.id}\t{seller.label_valid_until}\t{seller.display_name}")
    click.echo(f"{len(due)} label(s) due for renewal within {days} days.")


def register_cli(app: Flask) -> None:
    """Attach the vetting command groups."""
    app.cli.add_command(labels_cli)
