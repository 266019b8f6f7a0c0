"""Command line: `webhooks deliver` sends due webhooks now (as the scheduler does)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from webhooks.jobs import DEFAULT_BATCH, deliver_due

webhooks_cli = AppGroup("webhooks", help="Outgoing webhooks.")


@webhooks_cli.command("deliver")
@click.option("--limit", type=click.IntRange(1, 1000), default=DEFAULT_BATCH, show_default=True,
              help="Most deliveries to send in one batch.")
@click.option("--until-empty", is_flag=True,
              help="Keep sending batches until nothing is due.")
def deliver_command(limit: int, until_empty: bool) -> None:
    """Send the webhooks that are due now and report what happened."""
    total = {"delivered": 0, "retried": 0, "dead": 0}
    while True:
        run = deliver_due(limit=limit)
        for line in run.errors:
            click.echo(line)
        total["delivered"] += run.delivered
        total["retried"] += run.retried
        total["dead"] += run.dead
        if not until_empty or run.attempted == 0:
            break
    click.echo(f"Delivered {total['delivered']}, failed and retried later {total['retried']}, "
               f"dead {total['dead']}.")


def register_cli(app: Flask) -> None:
    """Attach the `webhooks` command group."""
    app.cli.add_command(webhooks_cli)
