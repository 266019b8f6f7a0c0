"""Helpers for driving the vetting pages through the test client."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient

from core.db import db
from tests.conftest import csrf_token, post_form
from vetting.models import Application, Seller

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

SELLER = {
    "legal_name": "Phoenix Refurb B.V.", "trading_name": "Phoenix", "country": "NL",
    "registration_number": "KvK 81234567", "vat_id": "NL123456789B01",
    "contact_email": "qa@phoenix-refurb.example", "website": "https://phoenix-refurb.example",
    "device_categories": ["smartphone", "tablet"], "declared_monthly_volume": "350",
}


def create_seller(client: FlaskClient, **over: Any) -> Seller:
    response = post_form(client, "/vetting/sellers/new", {**SELLER, **over})
    assert response.status_code == 302, response.get_data(as_text=True)
    seller_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return db.session.get(Seller, seller_id)


def start_application(client: FlaskClient, seller: Seller) -> Application:
    response = post_form(client, f"/vetting/sellers/{seller.id}/applications", {})
    assert response.status_code == 302
    application_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return db.session.get(Application, application_id)


def act(client: FlaskClient, application: Application, action: str, message: str = "",
        version: int | None = None):  # type: ignore[no-untyped-def]
    db.session.refresh(application)
    return post_form(client, f"/vetting/applications/{application.id}/{action}", {
        "message": message,
        "version": application.version if version is None else version})


def record(client: FlaskClient, application: Application, item_id: int, result: str,
           note: str = "", waiver: str = ""):  # type: ignore[no-untyped-def]
    prefix = f"item{item_id}"
    return client.post(f"/vetting/applications/{application.id}/items/{item_id}", data={
        f"{prefix}-csrf_token": csrf_token(client, "/"), f"{prefix}-result": result,
        f"{prefix}-note": note, f"{prefix}-waiver_reason": waiver})


def upload(client: FlaskClient, application: Application, item_id: int, content: bytes,
           name: str = "evidence.pdf"):  # type: ignore[no-untyped-def]
    prefix = f"ev{item_id}"
    return client.post(
        f"/vetting/applications/{application.id}/items/{item_id}/evidence",
        data={f"{prefix}-csrf_token": csrf_token(client, "/"),
              f"{prefix}-file": (io.BytesIO(content), name)},
        content_type="multipart/form-data")


def decide(client: FlaskClient, application: Application, decision: str, reason: str = "",
           version: int | None = None):  # type: ignore[no-untyped-def]
    db.session.refresh(application)
    return post_form(client, f"/vetting/applications/{application.id}/decision", {
        "decision": decision, "reason": reason,
        "version": application.version if version is None else version})


def complete_checklist(client: FlaskClient, application: Application) -> None:
    """Attach evidence where required and pass every item (waive none)."""
    for item in application.items:
        if item.spec.evidence_required:
            assert upload(client, application, item.id,
                          PDF + item.spec.code.encode()).status_code == 302
        assert record(client, application, item.id, "pass").status_code == 302
