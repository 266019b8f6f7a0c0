"""Labelkeeper: the application factory, extensions and command registration."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_bootstrap import Bootstrap5
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from core.config import DEV_SECRET, defaults
from core.db import configure_engine, db, engine_options
from core.logs import init_logging
from core.scheduler import JOB_TABLE, Job, run_scheduler

migrate = Migrate()
csrf = CSRFProtect()
bootstrap = Bootstrap5()


def _configure(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Settings in the README's order: core.config defaults, instance/config.py, FLASK_*
    environment variables, DATABASE_URL, then a test's mapping; later ones win."""
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config is not None:
        app.config.from_mapping(test_config)
    # the server pool options for the configured database, under whatever the config set
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    if app.config["SECRET_KEY"] == DEV_SECRET and not (app.debug or app.testing):
        raise RuntimeError(
            "Refusing to start with the development SECRET_KEY. Set FLASK_SECRET_KEY or "
            "SECRET_KEY in instance/config.py (make run writes one for local use).")


def _schema_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Migrations manage every table but the one APScheduler's job store owns."""
    return not (type_ == "table" and name == JOB_TABLE)


class RecordId(IntegerConverter):
    """An <int:...> URL part small enough to be a database id (larger ones are a 404).

    Only ASCII digits: werkzeug's `\\d+` also matches other scripts' digits, which int()
    accepts, so "/sellers/\\uff11" (fullwidth one) would otherwise be seller 1.
    """

    regex = "[0-9]+"

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Labelkeeper application."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = RecordId
    _configure(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    init_logging(app)  # first, so every request gets its id before any other hook

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True,
                     include_object=_schema_object)
    bootstrap.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])

    register_security(app)
    register_blueprints(app)
    register_api(app)
    register_events(app)
    register_cli(app)
    return app


def register_security(app: Flask) -> None:
    """Sessions, access control, audit guards, security headers and error pages."""
    from core.audit import install_guards
    from core.auth import init_auth
    from core.web import init_web

    install_guards()
    if app.config["TRUSTED_PROXIES"]:  # the client address for the sign-in throttle
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    init_auth(app)  # before CSRF: strangers are sent to sign in, wrong roles get 403
    csrf.init_app(app)
    init_web(app)


def register_blueprints(app: Flask) -> None:
    """Attach every feature package's blueprint and its dashboard panels."""
    from compliance.views import bp as compliance_bp
    from compliance.views import register_panels as compliance_panels
    from core.views import bp as core_bp
    from core.views import register_panels as core_panels
    from qc.views import bp as qc_bp
    from qc.views import register_panels as qc_panels
    from vetting.views import bp as vetting_bp
    from vetting.views import register_panels as vetting_panels
    from webhooks.views import bp as webhooks_bp
    from webhooks.views import register_panels as webhooks_panels

    for bp in (core_bp, vetting_bp, qc_bp, compliance_bp):
        app.register_blueprint(bp)
    app.register_blueprint(webhooks_bp)
    core_panels(app)
    vetting_panels(app)
    qc_panels(app)
    compliance_panels(app)
    webhooks_panels(app)


def register_api(app: Flask) -> None:
    """The JSON API under /api/v1: token-authenticated, so exempt from CSRF."""
    from core.api import init_api
    from qc.api import bp as qc_api
    from vetting.api import bp as vetting_api

    for bp in (vetting_api, qc_api):
        csrf.exempt(bp)
    init_api(app, [vetting_api, qc_api])


def register_events(app: Flask) -> None:
    """Wire the in-process events: inspections feed the statistics, a new CUSUM plan and
    label grants restart them, label changes queue reviews, notices and webhooks."""
    from compliance import notices
    from compliance.services import on_label_changed as queue_review
    from qc import events as qc_events
    from qc.services import label_decisions
    from vetting import events as label_events
    from webhooks import services as webhooks

    qc_events.subscribe(app, label_decisions.on_inspection)
    qc_events.subscribe_plan_changed(app, label_decisions.on_plan_changed)
    label_events.subscribe(app, label_decisions.on_label_changed)
    label_events.subscribe(app, queue_review)
    label_events.subscribe(app, notices.on_label_changed)
    label_events.subscribe_confirmed(app, notices.on_suspension_confirmed)
    webhooks.subscribe(app)  # last: the outbox sees what the other listeners wrote


def register_cli(app: Flask) -> None:
    """Attach the command groups: users, audit, backup/restore, labels, qc, demo, `scheduler`."""
    from compliance.cli import register_cli as compliance_cli
    from core.backup import register_cli as backup_cli
    from core.cli import register_cli as core_cli
    from demo.cli import register_cli as demo_cli
    from qc.cli import register_cli as qc_cli
    from vetting.cli import register_cli as vetting_cli
    from webhooks.cli import register_cli as webhooks_cli

    core_cli(app)
    backup_cli(app)
    vetting_cli(app)
    qc_cli(app)
    compliance_cli(app)
    webhooks_cli(app)
    demo_cli(app)
    app.cli.add_command(scheduler_command)


def scheduled_jobs() -> list[Job]:
    """The jobs of the scheduler process (times in UTC); each is also a CLI command."""
    from compliance.jobs import run_notice_outbox, run_pending_reports
    from qc.jobs import run_evaluation, run_period_closing, run_planning, run_renewal
    from vetting.jobs import run_label_expiry
    from webhooks.jobs import run_deliveries

    return [
        Job("planning", run_planning, {"hour": 0, "minute": 5}),
        Job("period-closing", run_period_closing, {"hour": 0, "minute": 15}),
        Job("renewal", run_renewal, {"hour": 0, "minute": 20}),
        Job("label-expiry", run_label_expiry, {"hour": 0, "minute": 25}),
        Job("evaluation", run_evaluation, {"hour": 1, "minute": 0}),
        Job("reports", run_pending_reports, {"second": "*/5"}),
        Job("webhooks", run_deliveries, {"second": "*/5"}),
        Job("notices", run_notice_outbox, {"second": "*/15"}),
    ]


@click.command("scheduler")
@click.option("--exit-after", type=float, default=None,
              help="Stop after this many seconds (for tests and smoke checks).")
@with_appcontext
def scheduler_command(exit_after: float | None) -> None:
    """Run the one scheduler process: planning, period closing, renewal, label expiry and the
    nightly evaluation (daily, UTC); reports, webhooks and notices (every few seconds)."""
    logging.getLogger("apscheduler").setLevel(current_app.config["LOG_LEVEL"])
    run_scheduler(current_app._get_current_object(), scheduled_jobs(),  # type: ignore[attr-defined]
                  exit_after=exit_after, on_wait=click.echo)
