"""Command-line tools for sampling: planning, closing periods and verifying plans."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from core.db import db
from core.errors import ServiceError
from core.services import get_user_by_email
from qc import jobs
from qc.forecast import FIGURES_SCOPE
from qc.services import label_decisions, marketplace_signals, plan_settings, planning
from qc.simulate import RULES, SIGNAL_STRENGTHS, WorldConfig, format_comparison, run_comparison
from qc.stats import describe_plan, oc_probability

qc_cli = AppGroup("qc", help="Mystery test orders: planning and verification.")
signals_cli = AppGroup("signals", help="Marketplace signals: returns and warranty claims.")
qc_cli.add_command(signals_cli)


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
        run = planning.plan_period(period)
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"planned {run.period}: {run.orders_planned} orders, {run.orders_dropped} "
               f"dropped for budget, commitment {run.commitment}")
    _echo_notes(planning.run_notes(run))


def _echo_notes(notes: dict[str, Any]) -> None:
    """A run's budget, threshold, signal, shortfall and warnings (format-2 plans)."""
    if not notes:
        return
    threshold = notes["threshold"]
    click.echo(f"  budget: {notes['budget_orders']} orders a month, {notes['orders']} planned"
               + (f", {notes['unallocated']} not needed" if notes.get("unallocated") else ""))
    click.echo(f"  threshold: h = {threshold['h']:.2f} in force"
               + (f" (overridden: {threshold['reason']})" if threshold["overridden"] else "")
               + f"; the budget allows {threshold['budget_h']:.2f} "
               f"({threshold['orders_per_seller']:.2f} orders per seller a month)")
    click.echo(f"  signal: {notes['signal']['text']}")
    for line in notes["shortfall_text"] or ["none"]:
        click.echo(f"  shortfall: {line}")
    for line in notes["warnings"]:
        click.echo(f"  warning: {line}")


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
        check = planning.verify_plan(period)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    run = planning.get_run(check.period)
    if check.match:
        click.echo(f"{check.period}: match (commitment holds; stored orders equal the plan "
                   "re-derived from the seed)")
        _echo_notes(planning.run_notes(run) if run else {})
        return
    _echo_notes(planning.run_notes(run) if run else {})
    click.echo(f"{check.period}: MISMATCH", err=True)
    if not check.commitment_ok:
        click.echo("  the revealed seed does not match the commitment", err=True)
    for line in check.differences:
        click.echo(f"  {line}", err=True)
    raise SystemExit(1)


def register_cli(app: Flask) -> None:
    """Attach the qc command group."""
    app.cli.add_command(qc_cli)


@qc_cli.command("evaluate")
@click.option("--dry-run", is_flag=True, help="Report differences without fixing them.")
def evaluate_command(dry_run: bool) -> None:
    """Replay every seller's history; report (and fix) statistics that differ and suspend,
    pending review, labels whose history crossed h without a suspension."""
    total, corrections = label_decisions.evaluate_fleet(fix=not dry_run)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for c in corrections:
        if c.differences:
            diffs = ", ".join(f"{k}: stored {a} -> replayed {b}"
                              for k, (a, b) in c.differences.items())
            click.echo(f"seller #{c.seller_id}: {diffs}")
        if c.suspension:
            verb = "would be suspended" if dry_run else "suspended"
            click.echo(f"seller #{c.seller_id}: {verb} pending review: {c.suspension}")
    verb = "differ" if dry_run else "corrected"
    suspended = sum(1 for c in corrections if c.suspension)
    click.echo(f"evaluated {total} sellers; {sum(1 for c in corrections if c.differences)} "
               f"{verb}; {suspended} {'to suspend' if dry_run else 'suspended'} pending review")


@qc_cli.command("oc")
@click.option("--p", "p", type=click.FloatRange(0, 1), required=True,
              help="True defect rate of the seller.")
@click.option("--n", "n", type=click.IntRange(0, 10_000), required=True,
              help="Number of inspected orders.")
@click.option("--head-start", type=click.FloatRange(0), default=0.0, show_default=True)
def oc_command(p: float, n: int, head_start: float) -> None:
    """Probability of suspension within N orders for a seller at defect rate P."""
    plan = plan_settings.current_plan()
    click.echo(describe_plan(plan.params))
    click.echo(FIGURES_SCOPE)
    click.echo(f"P(suspended by the statistical rule within {n} orders | p = {p:g}, "
               f"S0 = {head_start:g}) =")
    click.echo(f"{oc_probability(p, n, plan.main, head_start):.4f}")


@qc_cli.command("renew")
@click.option("--on", "on", default=None, help="Pretend today is this date (YYYY-MM-DD).")
def renew_command(on: str | None) -> None:
    """Renew labels at their anniversary (the daily job)."""
    renewed = jobs.run_renewal(_day(on))
    for seller, full in renewed:
        click.echo(f"#{seller.id} {seller.display_name}: "
                   f"{'renewed' if full else 'renewed conditionally'} until "
                   f"{seller.label_valid_until}")
    click.echo(f"{len(renewed)} label(s) renewed.")


@qc_cli.command("simulate")
@click.option("--sellers", type=click.IntRange(1, 100_000), default=1500, show_default=True,
              help="Sellers on the marketplace at month 0.")
@click.option("--arrivals", type=click.IntRange(0, 10_000), default=25, show_default=True,
              help="New sellers a month.")
@click.option("--budget", type=click.IntRange(0, 1_000_000), default=200, show_default=True,
              help="Test orders a month.")
@click.option("--signal", type=click.Choice(list(SIGNAL_STRENGTHS)), default="medium",
              show_default=True, help="How strongly returns and claims follow the defect rate.")
@click.option("--drift", type=click.FloatRange(0, 1), default=0.10, show_default=True,
              help="Share of sellers that turn bad at a random month.")
@click.option("--critical-share", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Share of defects that are critical.")
@click.option("--inspector-error", type=click.FloatRange(0, 1), default=0.01,
              show_default=True, help="Chance that an inspector gets a unit's verdict wrong.")
@click.option("--months", type=click.IntRange(1, 240), default=36, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--runs", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Worlds simulated, with seeds seed, seed+1, ...")
@click.option("--compare", is_flag=True,
              help="Also run the old rules (as built, and capped at the budget) on the same "
                   "worlds.")
def simulate_command(sellers: int, arrivals: int, budget: int, signal: str, drift: float,
                     critical_share: float, inspector_error: float, months: int, seed: int,
                     runs: int, compare: bool) -> None:
    """Simulate a marketplace through the real planners and decision rules; print a table."""
    config = WorldConfig(sellers=sellers, arrivals=arrivals, months=months, budget=budget,
                         signal=signal, drift=drift, critical_share=critical_share,
                         inspector_error=inspector_error, seed=seed, runs=runs)
    click.echo(format_comparison(run_comparison(config, RULES if compare else ("new",))))


@signals_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "email", default=None,
              help="Email of the account the import is recorded for (default: system).")
def signals_import_command(file: Path, email: str | None) -> None:
    """Import monthly returns and warranty claims from a CSV FILE, all rows or none."""
    actor = get_user_by_email(email) if email else None
    if email and actor is None:
        raise click.ClickException(f"No account {email}.")
    outcome = marketplace_signals.import_signals(file.read_bytes(), file.name, actor)
    if outcome.errors:
        db.session.rollback()
        for e in outcome.errors:
            click.echo(f"{f'row {e.row}' if e.row else 'file'}"
                       f"{f' [{e.column}]' if e.column else ''}: {e.message}", err=True)
        raise click.ClickException(f"nothing imported: {len(outcome.errors)} problem(s)")
    db.session.commit()
    click.echo(f"imported {file.name}: {outcome.created} new, {outcome.updated} replaced, "
               f"{outcome.unchanged} unchanged")
