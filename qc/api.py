"""The quality-control part of the JSON API: test orders of a planning period (compliance
scope only: test orders are mystery purchases and must not reach sellers)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from sqlalchemy import select

from core.api import (
    FullMatch,
    PageArgs,
    PageSchema,
    UtcDateTime,
    api_blueprint,
    errors_documented,
    page_after,
)
from core.db import db
from core.roles import Scope, api_scope
from qc.models import Inspection, PlanningRun, TestOrder
from qc.orders import OrderStatus
from qc.sampling import parse_period

bp = api_blueprint("qc_api", __name__, "Test orders (compliance scope)")

PERIOD_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"


class TestOrderArgs(PageArgs):
    month = ma.fields.String(required=True, validate=FullMatch(PERIOD_PATTERN),
                             metadata={"description": "The planning period, YYYY-MM"})
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in OrderStatus]))


class ListingRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    sku = ma.fields.String(required=True)
    device_model = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    promised_grade = ma.fields.String(required=True)


class TestOrderSchema(ma.Schema):
    """One mystery test order and, once inspected, its current verdict."""

    id = ma.fields.Integer(required=True)
    period = ma.fields.String(required=True)
    seller_id = ma.fields.Integer(required=True)
    listing = ma.fields.Nested(ListingRefSchema, required=True)
    status = ma.fields.String(required=True,
                              validate=ma.validate.OneOf([s.value for s in OrderStatus]))
    sampling_state = ma.fields.String(required=True)
    planned_at = UtcDateTime(required=True)
    cost_cents = ma.fields.Integer(required=True)
    marketplace_ref = ma.fields.String(required=True, allow_none=True)
    price_paid_cents = ma.fields.Integer(required=True, allow_none=True)
    placed_at = UtcDateTime(required=True, allow_none=True)
    received_on = ma.fields.Date(required=True, allow_none=True)
    inspected_at = UtcDateTime(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)
    verdict = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "Verdict of the current inspection; null before inspection"})
    score = ma.fields.Integer(required=True, allow_none=True)


class TestOrderPageSchema(PageSchema):
    items = ma.fields.List(ma.fields.Nested(TestOrderSchema), required=True)


def _with_verdicts(orders: list[TestOrder], period: str) -> list[dict[str, Any]]:
    current = {i.order_id: i for i in db.session.execute(
        select(Inspection).where(Inspection.order_id.in_([o.id for o in orders]),
                                 Inspection.is_current.is_(True))).scalars()} if orders else {}
    out = []
    for order in orders:
        inspection = current.get(order.id)
        out.append({**{k: getattr(order, k) for k in TestOrderSchema._declared_fields
                       if hasattr(TestOrder, k)},
                    "period": period,
                    "verdict": inspection.verdict if inspection else None,
                    "score": inspection.score if inspection else None})
    return out


@bp.route("/test-orders")
@api_scope(Scope.COMPLIANCE)
@bp.arguments(TestOrderArgs, location="query", as_kwargs=True, unknown=ma.RAISE)
@bp.response(200, TestOrderPageSchema)
@errors_documented(bp)
def test_orders(**args: Any) -> dict[str, Any]:
    """Test orders planned for a month (e.g. ?month=2026-10), in id order.

    Needs the `compliance` scope. Cursor-paginated; a month never planned has no orders."""
    period = parse_period(args["month"]).key
    stmt = select(TestOrder).join(PlanningRun).where(PlanningRun.period == period)
    if args.get("status"):
        stmt = stmt.where(TestOrder.status == args["status"])
    page = page_after(stmt, TestOrder.id, args)
    return {**page, "items": _with_verdicts(page["items"], period)}
