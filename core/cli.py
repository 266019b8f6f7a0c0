"""Command-line tools: `users` (accounts) and `audit` (trail verification)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from core import audit, services
from core.db import db
from core.errors import ServiceError
from core.models import User
from core.roles import Role

users_cli = AppGroup("users", help="Manage staff accounts.")
audit_cli = AppGroup("audit", help="Inspect the audit trail.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([r.value for r in Role]), help="Role to grant (repeatable).")
@click.option("--name", "display_name", default=None, help="Display name (default: the email).")
@click.password_option(help="Password (asked for when omitted).")
def create_user_command(email: str, roles: tuple[str, ...], display_name: str | None,
                        password: str) -> None:
    """Create a staff account, e.g. the first administrator."""
    try:
        user = services.create_user(email, display_name or email, password, roles, actor=None)
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Created {user.email} with roles: {', '.join(sorted(user.roles))}")


@users_cli.command("list")
def list_users_command() -> None:
    """List staff accounts with their roles."""
    for user in db.session.execute(select(User).order_by(User.email)).scalars():
        state = "active" if user.active else "inactive"
        click.echo(f"{user.email}\t{state}\t{','.join(sorted(user.roles))}")


@audit_cli.command("verify")
def verify_command() -> None:
    """Walk the hash chain; exit 1 and name the first broken link if there is one."""
    report = audit.verify_chain()
    if report.first_break is not None:
        click.echo(f"audit trail BROKEN at entry {report.first_break.seq}: "
                   f"{report.first_break.reason}", err=True)
        raise SystemExit(1)
    click.echo(f"audit trail OK: {report.entries} entries, head {report.head_hash}")


def register_cli(app: Flask) -> None:
    """Attach the core command groups."""
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
