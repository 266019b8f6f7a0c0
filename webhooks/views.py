"""Admin pages for webhooks: endpoints, their recent deliveries, the dead-letter list."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from core import dashboard
from core.db import db
from core.edges import run_service
from core.forms import ConfirmForm
from core.pagination import paginate
from core.roles import Role, roles_required
from webhooks import services
from webhooks.forms import WebhookEndpointCreateForm
from webhooks.models import WebhookDelivery, WebhookEndpoint

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


@bp.route("/")
@roles_required(Role.ADMIN)
def endpoints() -> str:
    return render_template("webhooks/endpoints.html", page=paginate(services.endpoints()),
                           counts=services.counts_by_endpoint())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def endpoint_new() -> str:
    form = WebhookEndpointCreateForm()
    if form.validate_on_submit():
        endpoint = run_service(lambda: services.create_endpoint(
            form.url.data, form.description.data or "", current_user), form=form)
        if endpoint is not None:
            # Shown in this response only (never stored in the session or a redirect).
            return render_template("webhooks/endpoint_created.html", endpoint=endpoint)
    return render_template("webhooks/endpoint_new.html", form=form)


@bp.route("/<int:endpoint_id>")
@roles_required(Role.ADMIN)
def endpoint_detail(endpoint_id: int) -> str:
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    return render_template("webhooks/endpoint_detail.html", endpoint=endpoint,
                           page=paginate(services.deliveries(endpoint.id)),
                           counts=services.count_deliveries(endpoint.id),
                           toggle_form=ConfirmForm())


@bp.route("/<int:endpoint_id>/active", methods=["POST"])
@roles_required(Role.ADMIN)
def endpoint_set_active(endpoint_id: int) -> Response:
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    if ConfirmForm().validate_on_submit():
        services.set_endpoint_active(endpoint, not endpoint.active, current_user)
        db.session.commit()
        flash(f"{endpoint.url} is now {'active' if endpoint.active else 'deactivated'}.",
              "success")
    return redirect(url_for("webhooks.endpoint_detail", endpoint_id=endpoint.id))


@bp.route("/dead")
@roles_required(Role.ADMIN)
def dead_letters() -> str:
    return render_template("webhooks/dead_letters.html",
                           page=paginate(services.deliveries(status="dead")),
                           redeliver_form=ConfirmForm())


@bp.route("/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@roles_required(Role.ADMIN)
def redeliver(delivery_id: int) -> Response:
    delivery = db.get_or_404(WebhookDelivery, delivery_id)
    if ConfirmForm().validate_on_submit():
        run_service(lambda: services.redeliver(delivery, current_user),
                    success=lambda _: f"Event {delivery.event.idempotency_key} to "
                                      f"{delivery.endpoint.url} is queued again and will be "
                                      "sent within seconds.")
    return redirect(url_for("webhooks.dead_letters"))


def register_panels(app: Flask) -> None:
    """The administrators' webhook panel on the home dashboard."""
    dashboard.register_panel(app, dashboard.Panel(
        "Webhooks", frozenset({Role.ADMIN}), "webhooks/_panel_webhooks.html",
        lambda: {"counts": services.count_deliveries(),
                 "endpoints": services.count_active_endpoints()}))
