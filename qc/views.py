"""Quality-control pages: test orders and inspections."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.roles import Role, roles_required

bp = Blueprint("qc", __name__, url_prefix="/qc")


@bp.route("/orders")
@roles_required(Role.INSPECTOR, Role.COMPLIANCE)
def orders() -> str:
    return render_template("qc/orders.html")
