"""Compliance pages: suspension review, reports and exports."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.roles import Role, roles_required

bp = Blueprint("compliance", __name__, url_prefix="/compliance")


@bp.route("/reviews")
@roles_required(Role.COMPLIANCE)
def reviews() -> str:
    return render_template("compliance/reviews.html")
