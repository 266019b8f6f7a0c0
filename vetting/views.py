"""Vetting pages: sellers and their applications."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from sqlalchemy import select

from core import dashboard
from core.pagination import paginate
from core.roles import Role, roles_required
from vetting import services
from vetting.models import Seller

bp = Blueprint("vetting", __name__, url_prefix="/vetting")


@bp.route("/sellers")
@roles_required(Role.VETTING, Role.COMPLIANCE)
def sellers() -> str:
    stmt = select(Seller).order_by(Seller.legal_name)
    return render_template("vetting/sellers.html", page=paginate(stmt))


def register_panels(app: Flask) -> None:
    """The vetting panels of the home dashboard."""
    dashboard.register_panel(app, dashboard.Panel(
        "Sellers", frozenset({Role.VETTING, Role.COMPLIANCE}), "vetting/_panel_sellers.html",
        lambda: {"sellers": services.count_sellers()}))
