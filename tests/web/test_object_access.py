"""Guessing ids: every URL that names an object (seller, application, checklist item,
evidence file, test order, photo, review, case, report, account, planning period, export,
buyer identity) is walked with real ids for every role and with ids that do not exist. A role
the table does not allow gets 403 and never the content; for a role that may use the page, a
missing object is a 404 that shows nothing of any other object."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.routing import Rule

from compliance.models import Notice, Report, SellerCase, SuspensionReview
from compliance.reports import report_path
from core import services as core_services
from core.db import db
from core.models import AuditEntry
from qc.models import Inspection, InspectionPhoto
from qc.services import buyers as buyer_services
from tests.conftest import csrf_token, sign_in
from tests.factories import ListingFactory, SellerFactory, UserFactory
from tests.web.access_table import ACCESS_TABLE, ROLES, Public, Roles, Token
from tests.web.qc_helpers import received_orders
from vetting import evidence as evidence_store
from vetting.models import Evidence, LabelEvent
from vetting.services import applications as application_service
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

SELLER_NAME = "Quokka Marker Refurb GmbH"
CASE_TEXT = "Appeal text only compliance reads"
PERSON = "Wombat Marker Person"
EVIDENCE_BYTES = b"%PDF-1.4\n% evidence-marker-5be1\n%%EOF\n"
PHOTO_BYTES = b"\x89PNG\r\n\x1a\nphoto-marker-77c0"
REPORT_BYTES = b"%PDF-1.4\n% report-marker-a9d3\n%%EOF\n"
DOCUMENT_ID = "5EC2E7D0C0FFEE42"
NOTICE_SUBJECT = "Notice marker 41c7: your Back Label is suspended"
HOOK_URL = "https://hooks-marker-93ab.example.test/labelkeeper"
BUYER_NAME = "Numbat Marker Buyer"
MISSING = 2_000_000


@dataclass
class World:
    """One object of every kind, and what each one's pages show."""

    ids: dict[str, str]
    order_ref: str

    @property
    def markers(self) -> list[str]:
        return [SELLER_NAME, CASE_TEXT, PERSON, DOCUMENT_ID, self.order_ref, NOTICE_SUBJECT,
                HOOK_URL, BUYER_NAME,
                EVIDENCE_BYTES.decode(), REPORT_BYTES.decode(), "photo-marker-77c0"]


def _store(folder: Path, content: bytes) -> str:
    sha = hashlib.sha256(content).hexdigest()
    path = evidence_store.evidence_path(folder, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return sha


@pytest.fixture
def world(app: Flask) -> World:
    staff = UserFactory(email="builder@example.test", roles=["vetting", "inspector"])
    person = UserFactory(email="wombat@example.test", display_name=PERSON, roles=["inspector"])
    seller = SellerFactory(legal_name=SELLER_NAME, trading_name="")
    ListingFactory(seller=seller)
    application = application_service.create_application(seller, staff)
    item = application.items[0]
    folder = Path(app.config["EVIDENCE_DIR"])
    evidence = Evidence(application_item_id=item.id, sha256=_store(folder, EVIDENCE_BYTES),
                        filename="marker.pdf", content_type="application/pdf",
                        size=len(EVIDENCE_BYTES), uploaded_by_id=staff.id)
    db.session.add(evidence)
    seller.label_status, seller.sampling_state = "suspended", "normal"
    seller.label_valid_from, seller.label_valid_until = date(2026, 1, 1), date(2027, 1, 1)
    db.session.commit()
    order = received_orders(seller, 1)[0]
    inspection = Inspection(order_id=order.id, version=1, inspector_id=staff.id,
                            observed_grade="good", verdict="conforming", score=100)
    db.session.add(inspection)
    db.session.flush()
    photo = InspectionPhoto(inspection_id=inspection.id, sha256=_store(folder, PHOTO_BYTES),
                            filename="marker.png", content_type="image/png",
                            size=len(PHOTO_BYTES))
    event = LabelEvent(seller_id=seller.id, from_status="active", to_status="suspended",
                       reason="statistics", actor="system", pending_review=True)
    db.session.add_all([photo, event])
    db.session.flush()
    review = SuspensionReview(seller_id=seller.id, label_event_id=event.id)
    case = SellerCase(seller_id=seller.id, kind="appeal", summary=CASE_TEXT,
                      received_on=date(2026, 6, 1))
    report = Report(document_id=DOCUMENT_ID, kind="dossier", seller_id=seller.id,
                    date_from=date(2026, 1, 1), date_to=date(2026, 6, 30), status="done",
                    sha256=hashlib.sha256(REPORT_BYTES).hexdigest(), size=len(REPORT_BYTES),
                    pages=1, render_ms=120, started_at=datetime(2026, 6, 30, 9),
                    finished_at=datetime(2026, 6, 30, 9, 1))
    db.session.add_all([review, case, report])
    notice = Notice(reference="N-MARKER-41C7", seller_id=seller.id, label_event_id=event.id,
                    kind="suspension_pending", decided_on=date(2026, 6, 1),
                    appeal_by=date(2026, 7, 1), recipient=seller.contact_email,
                    subject=NOTICE_SUBJECT, body_text=NOTICE_SUBJECT, body_html="<p>x</p>",
                    document_html="<p>x</p>", message_id="<n-marker-41c7@example.test>")
    db.session.add(notice)
    api_token = core_services.create_api_token("guessable", ["read"], None).token
    buyer = buyer_services.create_identity(buyer_services.IdentityInput(
        BUYER_NAME, "Marker Street 1\n10115 Berlin", "card ****4711"), None)
    webhook_services.create_endpoint(HOOK_URL, "marker endpoint", None)
    hook_event = webhook_services.enqueue_event(seller.id, "label.changed",
                                                {"label_event_id": event.id})
    db.session.commit()
    endpoint_id, delivery_id = db.session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.id)
        .where(WebhookDelivery.event_id == hook_event.id)).one()
    path = report_path(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(REPORT_BYTES)
    ids = {"seller_id": seller.id, "application_id": application.id, "item_id": item.id,
           "evidence_id": evidence.id, "order_id": order.id, "photo_id": photo.id,
           "review_id": review.id, "case_id": case.id, "user_id": person.id,
           "document_id": DOCUMENT_ID, "period": "2000-01", "kind": "sellers",
           "action": "submit", "notice_id": notice.id, "token_id": api_token.id,
           "endpoint_id": endpoint_id, "delivery_id": delivery_id, "buyer_id": buyer.id}
    return World({k: str(v) for k, v in ids.items()}, order.marketplace_ref or "")


# What a page about each object shows when it is allowed; None: a form or action page whose
# content is checked elsewhere (it must still answer 200 or a redirect, never 403).
SHOWS = {
    "vetting.seller_detail": SELLER_NAME, "vetting.seller_edit": SELLER_NAME,
    "vetting.application_detail": SELLER_NAME, "vetting.evidence_download": "evidence-marker",
    "qc.order_detail": "order_ref", "qc.photo": "photo-marker-77c0",
    "compliance.review_detail": SELLER_NAME, "compliance.seller_file": CASE_TEXT,
    "compliance.report_detail": DOCUMENT_ID, "compliance.report_download": "report-marker",
    "compliance.export": SELLER_NAME, "core.user_edit": PERSON,
    "qc.order_inspect": None, "qc.order_amend": None, "qc.plan_run": SELLER_NAME,
    "compliance.notice_detail": NOTICE_SUBJECT, "compliance.notice_pdf": None,
    "webhooks.endpoint_detail": HOOK_URL,
    "compliance.buyer_edit": BUYER_NAME, "compliance.buyer_retire": BUYER_NAME,
}


def object_rules(app: Flask) -> Iterator[Rule]:
    """Every staff page whose URL names an object (has arguments).

    Public pages and the token API are left out: any token with the read scope may read every
    seller by design, and sessions get 401 there (tests/web/test_access.py)."""
    for rule in app.url_map.iter_rules():
        if rule.arguments and not isinstance(ACCESS_TABLE[rule.endpoint], Public | Token):
            yield rule


def url_for_ids(rule: Rule, ids: dict[str, str]) -> str:
    unknown = set(rule.arguments) - ids.keys()
    assert not unknown, f"{rule.endpoint}: add an object for {unknown} to the world fixture"
    return rule.build({a: ids[a] for a in rule.arguments}, append_unknown=False)[1]


def allowed(endpoint: str, roles: frozenset[str]) -> bool:
    declaration = ACCESS_TABLE[endpoint]
    return isinstance(declaration, Roles) and bool(declaration.names & roles)


def staff_client(app: Flask, *roles: str) -> FlaskClient:
    user = UserFactory(email=f"{'-'.join(roles)}.guesser@example.test", roles=list(roles))
    db.session.commit()
    client = app.test_client()
    assert sign_in(client, user.email).status_code == 302
    return client


def audit_count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def without_tokens(data: bytes) -> str:
    """A page without its form tokens (they carry a timestamp, so differ from second to
    second) and its request id (new for every request)."""
    page = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", text_of(data))
    return re.sub(r"<code data-request-id>[^<]*</code>", "", page)


def text_of(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


@pytest.mark.parametrize("role", ROLES)
def test_real_ids_show_content_only_to_the_roles_allowed(role: str, app: Flask,
                                                          world: World) -> None:
    client = staff_client(app, role)
    token = csrf_token(client, "/")
    seen = refused = 0
    for rule in object_rules(app):
        url = url_for_ids(rule, world.ids)
        may = allowed(rule.endpoint, frozenset({role}))
        if "GET" in (rule.methods or ()):
            response = client.get(url)
            if may:
                assert response.status_code in (200, 302), (rule.endpoint, response.status_code)
                marker = SHOWS.get(rule.endpoint, "")
                marker = world.order_ref if marker == "order_ref" else marker
                assert rule.endpoint in SHOWS, f"say what {rule.endpoint} shows in SHOWS"
                if marker:
                    assert response.status_code == 200, rule.endpoint
                    assert marker in text_of(response.data), rule.endpoint
                seen += 1
            else:
                assert response.status_code == 403, (rule.endpoint, response.status_code)
                assert not [m for m in world.markers if m in text_of(response.data)], url
                refused += 1
        if "POST" in (rule.methods or ()) and not may:
            before = audit_count()
            response = client.post(url, headers={"X-CSRFToken": token})
            assert response.status_code == 403, (rule.endpoint, "POST", response.status_code)
            assert not [m for m in world.markers if m in text_of(response.data)], url
            assert audit_count() == before, rule.endpoint
            refused += 1
    assert seen > 0
    assert refused > 0


def test_a_refused_role_cannot_tell_real_ids_from_missing_ones(app: Flask,
                                                                world: World) -> None:
    missing = {k: (str(MISSING) if v.isdigit() else v) for k, v in world.ids.items()}
    missing["document_id"] = "FFFFFFFFFFFFFFFF"
    for role in ROLES:
        client = staff_client(app, role)
        for rule in object_rules(app):
            if allowed(rule.endpoint, frozenset({role})):
                continue
            method = "GET" if "GET" in (rule.methods or ()) else "POST"
            real = client.open(url_for_ids(rule, world.ids), method=method)
            fake = client.open(url_for_ids(rule, missing), method=method)
            assert real.status_code == fake.status_code == 403, (role, rule.endpoint)
            assert without_tokens(real.data) == without_tokens(fake.data), (role, rule.endpoint)


def test_missing_objects_are_404_without_leaking_others(app: Flask, world: World) -> None:
    client = staff_client(app, *ROLES)
    token = csrf_token(client, "/")
    checked = 0
    for rule in object_rules(app):
        for arg in rule.arguments:
            if not world.ids[arg].isdigit():
                continue
            ids = {**world.ids, arg: str(MISSING)}
            url = url_for_ids(rule, ids)
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                response = client.open(url, method=method, headers={"X-CSRFToken": token})
                assert response.status_code == 404, (rule.endpoint, arg, method,
                                                     response.status_code)
                assert "Page not found" in text_of(response.data)
                assert not [m for m in world.markers if m in text_of(response.data)], url
                checked += 1
    assert checked >= 30


@pytest.mark.parametrize("document_id", [
    "FFFFFFFFFFFFFFFF", DOCUMENT_ID.lower(), DOCUMENT_ID + "0", DOCUMENT_ID[:-1], "%00",
    "..%2F..%2Fetc%2Fpasswd", "x" * 400, "5EC2E7D0C0FFEE42%00", "%25"])
def test_report_urls_with_wrong_document_ids_are_404(document_id: str, app: Flask,
                                                     world: World) -> None:
    client = staff_client(app, "compliance")
    for suffix in ("", "/download"):
        response = client.get(f"/compliance/reports/{document_id}{suffix}")
        # NUL is refused for every address before any view runs (400 saying why)
        assert response.status_code == (400 if "%00" in document_id else 404), document_id
        assert "report-marker" not in text_of(response.data)


def test_files_whose_row_exists_but_content_is_gone_are_404(app: Flask, world: World) -> None:
    client = staff_client(app, "vetting", "inspector", "compliance")
    report = db.session.execute(select(Report)).scalar_one()
    report_path(report).unlink()
    for sha in {e.sha256 for e in db.session.execute(select(Evidence)).scalars()} | {
            p.sha256 for p in db.session.execute(select(InspectionPhoto)).scalars()}:
        evidence_store.evidence_path(Path(app.config["EVIDENCE_DIR"]), sha).unlink()
    for url in (f"/vetting/evidence/{world.ids['evidence_id']}",
                f"/qc/photos/{world.ids['photo_id']}",
                f"/compliance/reports/{DOCUMENT_ID}/download"):
        assert client.get(url).status_code == 404, url


def test_an_unfinished_report_cannot_be_downloaded(app: Flask, world: World) -> None:
    client = staff_client(app, "compliance")
    report = db.session.execute(select(Report)).scalar_one()
    report.status = "rendering"
    db.session.commit()
    response = client.get(f"/compliance/reports/{DOCUMENT_ID}/download")
    assert response.status_code == 404
    assert "report-marker" not in text_of(response.data)


BAD_IDS = ["0", "-1", "-0", "2147483647", "2147483648", "99999999999999999999", "abc", "1.5",
           "1e3", "0x1", "%201", "1%20", "+1", "%EF%BC%91", "%D9%A1", "1_0"]


def test_record_ids_out_of_range_or_not_plain_digits_are_404(app: Flask,
                                                             world: World) -> None:
    """0 and 2^31-1 match the converter but name no row; the rest never reach a view.
    Fullwidth and Arabic-Indic digits (%EF%BC%91, %D9%A1 are "1") are not ids either."""
    client = staff_client(app, *ROLES)
    tried = 0
    for rule in object_rules(app):
        if "GET" not in (rule.methods or ()):
            continue
        for arg in rule.arguments:
            if not world.ids[arg].isdigit():
                continue
            for bad in BAD_IDS:
                url = _replace_arg(rule, world.ids, arg, bad)
                response = client.get(url)
                assert response.status_code == 404, (rule.endpoint, bad, response.status_code)
                assert not [m for m in world.markers if m in text_of(response.data)], url
                tried += 1
    assert tried >= 100


def _replace_arg(rule: Rule, ids: dict[str, str], arg: str, raw: str) -> str:
    """The rule's URL with `arg` replaced by the raw (already URL-encoded) text `raw`."""
    placeholder = "424242424"
    url = url_for_ids(rule, {**ids, arg: placeholder})
    return url.replace(placeholder, raw, 1)


def test_an_item_of_another_application_is_404_and_changes_nothing(app: Flask,
                                                                    world: World) -> None:
    client = staff_client(app, "vetting")
    other_seller = SellerFactory()
    staff = UserFactory(email="other.builder@example.test", roles=["vetting"])
    other = application_service.create_application(other_seller, staff)
    db.session.commit()
    foreign = other.items[0].id
    before = audit_count()
    base = f"/vetting/applications/{world.ids['application_id']}/items/{foreign}"
    token = csrf_token(client, "/")
    response = client.post(base, data={f"item{foreign}-csrf_token": token,
                                       f"item{foreign}-result": "pass"})
    assert response.status_code == 404
    response = client.post(base + "/evidence", data={
        f"ev{foreign}-csrf_token": token,
        f"ev{foreign}-file": (io.BytesIO(EVIDENCE_BYTES), "e.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(type(other), other.id).items[0].result is None
    assert audit_count() == before


@pytest.mark.parametrize("period", [
    "%00", "2000-01%00", "2000-1", "2000-01-01", "x" * 400, "%EF%BC%92000-01", "2000-13"])
def test_plan_urls_with_wrong_periods_are_404(period: str, app: Flask, world: World) -> None:
    client = staff_client(app, "compliance")
    assert client.get("/qc/plan/2000-01").status_code == 200
    response = client.get(f"/qc/plan/{period}")
    assert response.status_code == (400 if "%00" in period else 404), period
    assert SELLER_NAME not in text_of(response.data)
