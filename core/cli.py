"""Command-line tools: `users` (accounts), `audit` (trail verification) and `api token`
(API tokens)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from core import audit, services
from core.db import db
from core.errors import ServiceError
from core.models import ApiToken, User
from core.roles import Role, Scope

users_cli = AppGroup("users", help="Manage staff accounts.")
audit_cli = AppGroup("audit", help="Inspect the audit trail.")
api_cli = AppGroup("api", help="The JSON API.")
token_cli = AppGroup("token", help="Create, list and revoke API tokens.")
api_cli.add_command(token_cli)


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


@token_cli.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice([s.value for s in Scope]), help="Scope to grant (repeatable).")
def create_token_command(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API token and print its secret, once: only a hash is kept."""
    try:
        issued = services.create_api_token(name, scopes, actor=None)
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Created token {issued.token.name} with scopes: {issued.token.scopes}. "
               "Its secret is shown only now:", err=True)
    click.echo(issued.secret)


@token_cli.command("list")
def list_tokens_command() -> None:
    """List API tokens (names, prefixes, scopes and state; never secrets)."""
    for token in services.api_tokens():
        state = "active" if token.active else f"revoked {token.revoked_at:%Y-%m-%d %H:%M}"
        click.echo(f"{token.name}\tlk_{token.prefix}_...\t{token.scopes}\t{state}")


@token_cli.command("revoke")
@click.argument("name")
def revoke_token_command(name: str) -> None:
    """Revoke an API token by name."""
    token = db.session.execute(
        select(ApiToken).where(ApiToken.name == name.strip().lower())).scalar_one_or_none()
    if token is None:
        raise click.ClickException(f"No token named {name}.")
    try:
        services.revoke_api_token(token, actor=None)
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Revoked token {token.name}.")


def register_cli(app: Flask) -> None:
    """Attach the core command groups."""
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(api_cli)
