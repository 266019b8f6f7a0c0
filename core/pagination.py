"""One way to paginate a query across the app."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from core.db import db


def paginate(stmt: Select[Any], per_page: int | None = None) -> Pagination:
    """Page through `stmt` using the request's ?page= (bad or out-of-range pages show page 1)."""
    return db.paginate(stmt, per_page=per_page or current_app.config["PER_PAGE"],
                       max_per_page=100, error_out=False)
