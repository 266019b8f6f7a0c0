"""The vetting part of the JSON API: sellers with their Back Label, label events, and seller
applications from the marketplace's onboarding form."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for
from sqlalchemy import select

from core.api import (
    CONFLICT_PROBLEM,
    VALIDATION_PROBLEM,
    FullMatch,
    PageArgs,
    PageSchema,
    Strict,
    UtcDateTime,
    abort_problem,
    api_blueprint,
    errors_documented,
    page_after,
)
from core.db import db
from core.errors import ConflictError, ServiceError
from core.roles import Scope, api_scope
from vetting.labels import LabelStatus, SamplingState
from vetting.models import Application, LabelEvent, Seller
from vetting.sellers import SellerInput
from vetting.services import applications as application_service
from vetting.services import sellers as seller_service
from vetting.validation import DEVICE_CATEGORIES, MAX_VOLUME

bp = api_blueprint("vetting_api", __name__, "Sellers, their Back Label and applications")

LABEL_STATUSES = [s.value for s in LabelStatus]
SAMPLING_STATES = [s.value for s in SamplingState]
# At least one character that is not a blank (written the same in Python and JSON Schema).
NOT_BLANK = r"^[ \t\r\n]*[^ \t\r\n][\s\S]*$"


class LabelSchema(ma.Schema):
    """A seller's Back Label as it stands."""

    status = ma.fields.String(required=True, allow_none=True,
                              validate=ma.validate.OneOf(LABEL_STATUSES),
                              metadata={"description": "null: never labelled"})
    valid_from = ma.fields.Date(required=True, allow_none=True)
    valid_until = ma.fields.Date(required=True, allow_none=True)
    sampling_state = ma.fields.String(
        required=True, allow_none=True, validate=ma.validate.OneOf(SAMPLING_STATES),
        metadata={"description": "How often the seller is test-ordered; null without label"})


class SellerSchema(ma.Schema):
    """A seller and its label."""

    id = ma.fields.Integer(required=True)
    legal_name = ma.fields.String(required=True)
    trading_name = ma.fields.String(required=True)
    country = ma.fields.String(required=True)
    registration_number = ma.fields.String(required=True)
    vat_id = ma.fields.String(required=True)
    contact_email = ma.fields.String(required=True)
    website = ma.fields.String(required=True)
    device_categories = ma.fields.List(ma.fields.String(), required=True)
    declared_monthly_volume = ma.fields.Integer(required=True)
    created_at = UtcDateTime(required=True)
    label = ma.fields.Nested(LabelSchema, required=True)

    @ma.pre_dump
    def _from_row(self, seller: Seller, **_kwargs: Any) -> dict[str, Any]:
        return {
            **{k: getattr(seller, k) for k in (
                "id", "legal_name", "trading_name", "country", "registration_number",
                "vat_id", "contact_email", "website", "declared_monthly_volume",
                "created_at")},
            "device_categories": seller.categories,
            "label": {"status": seller.label_status, "valid_from": seller.label_valid_from,
                      "valid_until": seller.label_valid_until,
                      "sampling_state": seller.sampling_state},
        }


class SellerPageSchema(PageSchema):
    items = ma.fields.List(ma.fields.Nested(SellerSchema), required=True)


class SellerArgs(PageArgs):
    label_status = ma.fields.String(
        validate=ma.validate.OneOf([*LABEL_STATUSES, "none"]),
        metadata={"description": "Only sellers whose label has this status (none: unlabelled)"})
    country = ma.fields.String(validate=FullMatch(r"^[A-Z]{2}$"),
                               metadata={"description": "ISO 3166-1 alpha-2 code, e.g. DE"})
    sampling_state = ma.fields.String(validate=ma.validate.OneOf(SAMPLING_STATES))


class LabelEventSchema(ma.Schema):
    """One change of a seller's label status."""

    id = ma.fields.Integer(required=True)
    seller_id = ma.fields.Integer(required=True)
    from_status = ma.fields.String(required=True, allow_none=True)
    to_status = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    pending_review = ma.fields.Boolean(required=True, metadata={
        "description": "A suspension that compliance has yet to confirm or lift"})
    valid_until = ma.fields.Date(required=True, allow_none=True)
    at = UtcDateTime(required=True)


class LabelEventPageSchema(PageSchema):
    items = ma.fields.List(ma.fields.Nested(LabelEventSchema), required=True)


class ApplicationInput(Strict):
    """The marketplace's onboarding form."""

    legal_name = ma.fields.String(required=True, validate=[
        ma.validate.Length(1, 200), FullMatch(NOT_BLANK)])
    trading_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    country = ma.fields.String(required=True, validate=ma.validate.Length(2, 2), metadata={
        "description": "ISO 3166-1 alpha-2 code, e.g. DE"})
    registration_number = ma.fields.String(required=True, validate=[
        ma.validate.Length(1, 64), FullMatch(NOT_BLANK)])
    vat_id = ma.fields.String(required=True, validate=ma.validate.Length(1, 32), metadata={
        "description": "VAT ID in the format of the seller's country (e.g. DE + 9 digits)"})
    contact_email = ma.fields.String(required=True, validate=ma.validate.Length(3, 254))
    website = ma.fields.String(load_default="", validate=ma.validate.Length(max=300))
    device_categories = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(sorted(DEVICE_CATEGORIES))),
        required=True, validate=ma.validate.Length(min=1, max=len(DEVICE_CATEGORIES)))
    declared_monthly_volume = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(0, MAX_VOLUME))


ONBOARDING_EXAMPLE = {
    "legal_name": "Zweitleben Elektronik GmbH", "trading_name": "Zweitleben", "country": "DE",
    "registration_number": "HRB 731905", "vat_id": "DE287364519",
    "contact_email": "onboarding@zweitleben.example", "website": "https://zweitleben.example",
    "device_categories": ["smartphone", "tablet"], "declared_monthly_volume": 250,
}


class ApplicationSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    created_at = UtcDateTime(required=True)
    checklist_version = ma.fields.Integer(required=True, attribute="template.version")


class ApplicationCreatedSchema(ma.Schema):
    application = ma.fields.Nested(ApplicationSchema, required=True)
    seller = ma.fields.Nested(SellerSchema, required=True)


def _seller_or_404(seller_id: int) -> Seller:
    seller = db.session.get(Seller, seller_id)
    if seller is None:
        abort_problem(404, f"There is no seller #{seller_id}.")
    return seller


@bp.route("/sellers")
@api_scope(Scope.READ)
@bp.arguments(SellerArgs, location="query", as_kwargs=True, unknown=ma.RAISE)
@bp.response(200, SellerPageSchema)
@errors_documented(bp)
def sellers(**args: Any) -> dict[str, Any]:
    """List sellers in id order, filtered by label status, country or sampling state.

    Needs the `read` scope. Cursor-paginated: follow `next_cursor` until it is null."""
    stmt = seller_service.seller_query(country=args.get("country", ""),
                                 label_status=args.get("label_status", ""),
                                 sampling_state=args.get("sampling_state", ""))
    return page_after(stmt, Seller.id, args)


@bp.route("/sellers/<int:seller_id>")
@api_scope(Scope.READ)
@bp.response(200, SellerSchema)
@errors_documented(bp, 404)
def seller(seller_id: int) -> Seller:
    """One seller with its Back Label (status, validity, sampling state).

    Needs the `read` scope."""
    return _seller_or_404(seller_id)


@bp.route("/sellers/<int:seller_id>/label-events")
@api_scope(Scope.READ)
@bp.arguments(PageArgs, location="query", as_kwargs=True, unknown=ma.RAISE)
@bp.response(200, LabelEventPageSchema)
@errors_documented(bp, 404)
def label_events(seller_id: int, **args: Any) -> dict[str, Any]:
    """A seller's label history, oldest first.

    Needs the `read` scope. Cursor-paginated."""
    seller = _seller_or_404(seller_id)
    return page_after(select(LabelEvent).where(LabelEvent.seller_id == seller.id),
                      LabelEvent.id, args)


@bp.route("/applications", methods=["POST"])
@api_scope(Scope.WRITE)
@bp.arguments(ApplicationInput, example=ONBOARDING_EXAMPLE)
@bp.response(201, ApplicationCreatedSchema, headers={"Location": {
    "description": "The new seller", "schema": {"type": "string"}}})
@errors_documented(bp, 409, 422)
def application_create(form: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Register a seller from the marketplace's onboarding form and open its draft
    application.

    Needs the `write` scope. The data is checked like the staff form (VAT ID format of the
    country, e-mail, website, categories): a refusal is a 422 problem naming the field; a
    seller already registered with this registration number and country is a 409."""
    data = SellerInput(**{**form, "device_categories": tuple(form["device_categories"])})
    try:
        application: Application = application_service.register_applicant(data, source="api")
    except ConflictError as exc:
        db.session.rollback()
        abort_problem(409, exc.message, CONFLICT_PROBLEM)
    except ServiceError as exc:
        db.session.rollback()
        abort_problem(422, exc.message, VALIDATION_PROBLEM, errors=[
            {"field": exc.field or "", "location": "json", "message": exc.message}])
    db.session.commit()
    location = url_for("vetting_api.seller", seller_id=application.seller_id)
    return ({"application": application, "seller": application.seller}, 201,
            {"Location": location})
