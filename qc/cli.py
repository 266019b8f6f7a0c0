"""Command-line tools for sampling: planning, closing periods and verifying plans."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from core.db import db
from core.errors import ServiceError
from qc import jobs, services

qc_cli = AppGroup("qc", help="Mystery test orders: planning and verification.")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("use the form YYYY-MM-DD", param_hint="--on") from None


@qc_cli.command("plan")
@click.argument("period")
def plan_command(period: str) -> None:
    """Plan PERIOD (YYYY-MM) now; refused if it is already planned."""
    try:
        run = services.plan_period(period)
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"planned {run.period}: {run.orders_planned} orders, {run.orders_dropped} "
               f"dropped for budget, commitment {run.commitment}")


@qc_cli.command("plan-due")
@click.option("--on", "on", default=None, help="Pretend today is this date (YYYY-MM-DD).")
def plan_due_command(on: str | None) -> None:
    """Plan the current period if it is not planned yet (the daily job)."""
    planned = jobs.run_planning(_day(on))
    for run in planned:
        click.echo(f"planned {run.period}: {run.orders_planned} orders")
    if not planned:
        click.echo("nothing to plan")


@qc_cli.command("close-periods")
@click.option("--on", "on", default=None, help="Pretend today is this date (YYYY-MM-DD).")
def close_periods_command(on: str | None) -> None:
    """Reveal the seeds of planned periods that have ended (the daily job)."""
    try:
        revealed = jobs.run_period_closing(_day(on))
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    for run in revealed:
        click.echo(f"revealed the seed of {run.period}: {run.seed_hex}")
    if not revealed:
        click.echo("no period to close")


@qc_cli.command("verify-plan")
@click.argument("period")
def verify_plan_command(period: str) -> None:
    """Re-derive PERIOD's plan from its revealed seed and recorded inputs; exit 1 on mismatch."""
    try:
        check = services.verify_plan(period)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    if check.match:
        click.echo(f"{check.period}: match (commitment holds; stored orders equal the plan "
                   "re-derived from the seed)")
        return
    click.echo(f"{check.period}: MISMATCH", err=True)
    if not check.commitment_ok:
        click.echo("  the revealed seed does not match the commitment", err=True)
    for line in check.differences:
        click.echo(f"  {line}", err=True)
    raise SystemExit(1)


def register_cli(app: Flask) -> None:
    """Attach the qc command group."""
    app.cli.add_command(qc_cli)
