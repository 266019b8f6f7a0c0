"""The whole vetting flow through the web client, with its bad inputs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core import audit
from core.db import db
from core.models import AuditEntry
from tests.conftest import post_form, sign_in
from tests.factories import UserFactory
from tests.web.vetting_helpers import (
    PDF,
    act,
    complete_checklist,
    create_seller,
    decide,
    record,
    start_application,
    upload,
)
from vetting.models import Application, ApplicationEvent, Evidence, LabelEvent, Seller


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def switch_user(client: FlaskClient, email: str) -> None:
    post_form(client, "/logout", {})
    assert sign_in(client, email).status_code == 302


def test_application_from_draft_to_active_label(app: Flask, client: FlaskClient,
                                                login: Callable[..., object]) -> None:
    app.config["CLOCK"] = lambda: datetime(2026, 3, 10, 9, 30)
    login("vetting", email="reviewer@example.test")
    UserFactory(email="approver@example.test", roles=["vetting"])
    seller = create_seller(client)
    assert seller.country == "NL"
    assert seller.vat_id == "NL123456789B01"
    application = start_application(client, seller)
    assert application.status == "draft"
    assert len(application.items) == 15
    assert [i.spec.code for i in application.items][:3] == ["LEGAL-1", "LEGAL-2", "LEGAL-3"]

    assert act(client, application, "submit").status_code == 302
    assert act(client, application, "review").status_code == 302
    db.session.refresh(application)
    assert application.status == "in_review"

    complete_checklist(client, application)
    page = client.get(f"/vetting/applications/{application.id}").get_data(as_text=True)
    assert "Every required item has passed" in page
    first = db.session.execute(select(Evidence).order_by(Evidence.id)).scalars().first()
    assert first.sha256 in page

    # the reviewer cannot approve their own work
    response = decide(client, application, "approve")
    assert response.status_code == 400
    assert "four-eyes" in response.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == "in_review"

    switch_user(client, "approver@example.test")
    response = decide(client, application, "approve", "All items verified.")
    assert response.status_code == 302
    db.session.refresh(application)
    seller = db.session.get(Seller, seller.id)
    assert application.status == "approved"
    assert seller.label_status == "active"
    assert seller.label_valid_from == date(2026, 3, 10)
    assert seller.label_valid_until == date(2027, 3, 10)
    assert seller.sampling_state == "onboarding"
    event = db.session.execute(select(LabelEvent)).scalar_one()
    assert (event.from_status, event.to_status, event.actor) == (
        None, "active", "approver@example.test")
    detail = client.get(f"/vetting/sellers/{seller.id}").get_data(as_text=True)
    assert "valid 2026-03-10 – 2027-03-10" in detail
    assert "All items verified." in detail

    actions = list(db.session.execute(select(AuditEntry.action)).scalars())
    for expected in ("seller.created", "application.created", "application.submitted",
                     "application.in_review", "application.evidence_added",
                     "application.item_recorded", "application.approved", "label.changed"):
        assert expected in actions, expected
    assert audit.verify_chain().ok


def _in_review(client: FlaskClient) -> Application:
    seller = create_seller(client)
    application = start_application(client, seller)
    act(client, application, "submit")
    act(client, application, "review")
    db.session.refresh(application)
    return application


def test_approval_refused_with_a_failed_required_item(client: FlaskClient,
                                                      login: Callable[..., object]) -> None:
    login("vetting", email="reviewer@example.test")
    UserFactory(email="approver@example.test", roles=["vetting"])
    application = _in_review(client)
    complete_checklist(client, application)
    legal1 = application.items[0]
    failed = record(client, application, legal1.id, "fail", "Extract is 3 years old")
    assert failed.status_code == 302
    switch_user(client, "approver@example.test")
    response = decide(client, application, "approve")
    assert response.status_code == 400
    assert "LEGAL-1 company registration extract: required item is not passed" in \
        response.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == "in_review"
    assert count(LabelEvent) == 0


def test_approval_refused_without_required_evidence(client: FlaskClient,
                                                    login: Callable[..., object]) -> None:
    login("vetting", email="reviewer@example.test")
    UserFactory(email="approver@example.test", roles=["vetting"])
    application = _in_review(client)
    for item in application.items:
        record(client, application, item.id, "pass")
    switch_user(client, "approver@example.test")
    response = decide(client, application, "approve")
    assert "evidence is required but no file is attached" in response.get_data(as_text=True)
    assert count(LabelEvent) == 0


def test_rejection_needs_a_reason_and_is_four_eyes(client: FlaskClient,
                                                   login: Callable[..., object]) -> None:
    login("vetting", email="reviewer@example.test")
    UserFactory(email="approver@example.test", roles=["vetting"])
    application = _in_review(client)
    record(client, application, application.items[0].id, "fail")
    assert "four-eyes" in decide(client, application, "reject", "No").get_data(as_text=True)
    switch_user(client, "approver@example.test")
    response = decide(client, application, "reject", "")
    assert "Give the reason for the rejection." in response.get_data(as_text=True)
    assert decide(client, application, "reject", "No facility shown.").status_code == 302
    db.session.refresh(application)
    assert application.status == "rejected"
    assert application.decision_reason == "No facility shown."
    assert db.session.get(Seller, application.seller_id).label_status is None


def test_waiver_only_on_optional_items_with_a_reason(client: FlaskClient,
                                                     login: Callable[..., object]) -> None:
    login("vetting")
    application = _in_review(client)
    required = application.items[0]
    optional = next(i for i in application.items if i.spec.code == "CERT-1")
    response = record(client, application, required.id, "waived", waiver="not needed")
    assert "only allowed on optional items" in response.get_data(as_text=True)
    response = record(client, application, optional.id, "waived", waiver="")
    assert "needs a reason" in response.get_data(as_text=True)
    assert record(client, application, optional.id, "waived",
                  waiver="No certificate yet; ISO 9001 audit booked").status_code == 302
    db.session.refresh(required)
    db.session.refresh(optional)
    assert required.result is None
    assert (optional.result, optional.waiver_reason) == (
        "waived", "No certificate yet; ISO 9001 audit booked")


def test_results_only_while_in_review(client: FlaskClient,
                                      login: Callable[..., object]) -> None:
    login("vetting")
    application = start_application(client, create_seller(client))
    response = record(client, application, application.items[0].id, "pass")
    assert "only be recorded while the application is in review" in \
        response.get_data(as_text=True)
    db.session.refresh(application.items[0])
    assert application.items[0].result is None


def test_evidence_checked_by_content_and_size(app: Flask, client: FlaskClient,
                                              login: Callable[..., object]) -> None:
    login("vetting")
    application = _in_review(client)
    item = application.items[0]
    fake = upload(client, application, item.id, b"just some text", "extract.pdf")
    assert fake.status_code == 400
    assert "not a PDF, PNG or JPEG" in fake.get_data(as_text=True)
    empty = upload(client, application, item.id, b"", "extract.pdf")
    assert "empty" in empty.get_data(as_text=True)
    app.config["EVIDENCE_MAX_BYTES"] = 1024
    big = upload(client, application, item.id, PDF + b" " * 2000, "big.pdf")
    assert "too large" in big.get_data(as_text=True)
    assert count(Evidence) == 0
    app.config["MAX_CONTENT_LENGTH"] = 4096
    huge = upload(client, application, item.id, PDF + b" " * 10000, "huge.pdf")
    assert huge.status_code == 413
    assert "Upload too large" in huge.get_data(as_text=True)
    assert count(Evidence) == 0
    assert "application.evidence_added" not in db.session.execute(
        select(AuditEntry.action)).scalars().all()


def test_evidence_download_and_hash_in_audit(client: FlaskClient,
                                             login: Callable[..., object]) -> None:
    login("vetting", "compliance")
    application = _in_review(client)
    content = PDF + b"registration extract"
    assert upload(client, application, application.items[0].id, content,
                  "../../etc/extract.pdf").status_code == 302
    evidence = db.session.execute(select(Evidence)).scalar_one()
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.filename == "extract.pdf"
    response = client.get(f"/vetting/evidence/{evidence.id}")
    assert response.status_code == 200
    assert response.data == content
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "application.evidence_added")).scalar_one()
    assert evidence.sha256 in entry.payload


def test_double_submitted_forms_change_nothing_twice(client: FlaskClient,
                                                     login: Callable[..., object]) -> None:
    login("vetting", email="reviewer@example.test")
    UserFactory(email="approver@example.test", roles=["vetting"])
    application = _in_review(client)
    complete_checklist(client, application)
    switch_user(client, "approver@example.test")
    db.session.refresh(application)
    version = application.version
    assert decide(client, application, "approve", version=version).status_code == 302
    again = decide(client, application, "approve", version=version)
    assert again.status_code == 400
    assert "changed since you opened the page" in again.get_data(as_text=True)
    assert count(LabelEvent) == 1
    # a stale workflow button is refused the same way
    stale = act(client, application, "withdraw", version=version)
    assert stale.status_code == 302
    db.session.refresh(application)
    assert application.status == "approved"


def test_second_open_application_is_refused(client: FlaskClient,
                                            login: Callable[..., object]) -> None:
    login("vetting")
    seller = create_seller(client)
    first = start_application(client, seller)
    response = post_form(client, f"/vetting/sellers/{seller.id}/applications", {},
                         follow_redirects=True)
    assert f"already has an open application (#{first.id}" in response.get_data(as_text=True)
    assert count(Application) == 1


def test_changes_requested_are_recorded_with_the_recipient(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    application = _in_review(client)
    response = act(client, application, "request-changes", "")
    assert response.status_code == 302
    db.session.refresh(application)
    assert application.status == "in_review"
    act(client, application, "request-changes", "Please send the WEEE registration.")
    db.session.refresh(application)
    assert application.status == "changes_requested"
    event = db.session.execute(select(ApplicationEvent).where(
        ApplicationEvent.to_status == "changes_requested")).scalar_one()
    assert event.recipient == "qa@phoenix-refurb.example"
    assert event.message == "Please send the WEEE registration."
    page = client.get(f"/vetting/applications/{application.id}").get_data(as_text=True)
    assert "to qa@phoenix-refurb.example: Please send the WEEE registration." in page
    assert act(client, application, "submit").status_code == 302
    db.session.refresh(application)
    assert application.status == "submitted"
    assert act(client, application, "withdraw").status_code == 302
    db.session.refresh(application)
    assert application.status == "withdrawn"


def test_checklist_edit_creates_a_version_and_old_applications_keep_theirs(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("vetting")
    seller = create_seller(client)
    old = start_application(client, seller)
    page = client.get("/vetting/checklist/edit").get_data(as_text=True)
    assert "Saving creates version 2" in page
    from vetting.services.checklists import current_template
    items = current_template().items
    data: dict[str, object] = {"note": "Add repair-shop licence"}
    for n, item in enumerate(items):
        data.update({f"items-{n}-code": item.code, f"items-{n}-title": item.title,
                     f"items-{n}-guidance": item.guidance, f"items-{n}-category": item.category})
        if item.required:
            data[f"items-{n}-required"] = "y"
        if item.evidence_required:
            data[f"items-{n}-evidence_required"] = "y"
    n = len(items)
    data.update({f"items-{n}-code": "OPS-4", f"items-{n}-title": "Repair licence",
                 f"items-{n}-category": "operations", f"items-{n}-required": "y"})
    data["items-0-remove"] = "y"
    response = post_form(client, "/vetting/checklist/edit", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    template = current_template()
    assert template.version == 2
    codes = [i.code for i in template.items]
    assert "OPS-4" in codes
    assert "LEGAL-1" not in codes
    assert len(codes) == 15
    db.session.refresh(old)
    assert old.template.version == 1
    assert len(old.items) == 15
    act(client, old, "withdraw")
    new = start_application(client, seller)
    assert new.template.version == 2
    assert "OPS-4" in [i.spec.code for i in new.items]


def test_checklist_edit_refuses_duplicate_codes(client: FlaskClient,
                                                login: Callable[..., object]) -> None:
    login("vetting")
    response = post_form(client, "/vetting/checklist/edit", {
        "note": "dup", "items-0-code": "A-1", "items-0-title": "One",
        "items-0-category": "legal", "items-1-code": "a-1", "items-1-title": "Two",
        "items-1-category": "legal"})
    assert "Item codes must be unique; repeated: A-1." in response.get_data(as_text=True)
    from vetting.models import ChecklistTemplate
    assert count(ChecklistTemplate) <= 1


def test_reading_the_checklist_stores_nothing_and_a_first_edit_keeps_the_default_as_v1(
        client: FlaskClient, login: Callable[..., object]) -> None:
    from vetting.models import ChecklistTemplate

    login("vetting")
    audit_before = count(AuditEntry)
    page = client.get("/vetting/checklist").get_data(as_text=True)
    assert "saved as version 1 with the first application or edit" in page
    assert "Saving creates version 2" in client.get("/vetting/checklist/edit").get_data(
        as_text=True)
    assert count(ChecklistTemplate) == 0
    assert count(AuditEntry) == audit_before
    response = post_form(client, "/vetting/checklist/edit", {
        "note": "One item", "items-0-code": "LEGAL-1", "items-0-title": "Registration extract",
        "items-0-category": "legal", "items-0-required": "y"})
    assert response.status_code == 302
    versions = db.session.execute(select(ChecklistTemplate.version, ChecklistTemplate.note)
                                  .order_by(ChecklistTemplate.version)).all()
    assert [tuple(v) for v in versions] == [(1, "Default checklist"), (2, "One item")]
