"""The `demo` command group: `demo seed` (a few of everything to try the app) and `demo fleet`
(a realistic benchmark fleet in bulk). The data builders are imported when a command runs, so
the web app and the other commands do not load them."""

from __future__ import annotations

import time
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from core.clock import utcnow
from core.db import db, refresh_planner_statistics
from core.errors import ServiceError
from core.services import count_users

demo_cli = AppGroup("demo", help="Demo data for trying Labelkeeper out.")


def register_cli(app: Flask) -> None:
    """Attach the demo command group."""
    app.cli.add_command(demo_cli)


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing when any account exists already.")
def demo_seed_command(if_empty: bool) -> None:
    """Create one account per role and a few sellers; running it again adds nothing."""
    from demo.seed import ensure_demo_accounts, ensure_demo_qc, ensure_demo_sellers

    if if_empty and sum(count_users().values()):
        click.echo("Accounts exist already; demo data not added.")
        return
    accounts = ensure_demo_accounts()
    sellers = ensure_demo_sellers()
    qc = ensure_demo_qc()
    db.session.commit()
    click.echo("Demo accounts (sign in at /login):")
    for email, password, created in accounts:
        click.echo(f"  {email:32} password: {password}" if created
                   else f"  {email:32} (already present; password unchanged)")
    new = sum(1 for _, created in sellers if created)
    click.echo(f"Sellers: {new} created, {len(sellers) - new} already present.")
    click.echo(f"Listings: {qc['listings']} created; buyer identities: {qc['buyers']} created; "
               f"test orders planned now: {qc['planned']} ({qc['orders']} in all).")
    click.echo(f"Marketplace signals: {qc['signals']} seller-months created.")


@demo_cli.command("fleet")
@click.option("--sellers", type=click.IntRange(1, 100_000), default=3000, show_default=True,
              help="Sellers in the fleet.")
@click.option("--years", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Years of monthly plans, orders and inspections.")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Same seed and --until, same rows.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="History ends at 00:00 UTC that day (default: today by the app clock).")
def demo_fleet_command(sellers: int, years: int, seed: int, until: Any) -> None:
    """Build a realistic benchmark fleet in bulk into an empty database (see demo/fleet/)."""
    from demo.fleet import FleetConfig, build_fleet, format_summary

    started = time.perf_counter()
    try:
        config = FleetConfig(sellers, years, seed, until.date() if until else utcnow().date())
        summary = build_fleet(config, progress=lambda msg: click.echo(f"  {msg}"))
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    refresh_planner_statistics()
    db.session.commit()
    click.echo(format_summary(summary, time.perf_counter() - started))
