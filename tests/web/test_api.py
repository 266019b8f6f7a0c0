"""The JSON API: tokens and scopes, problem+json errors, cursor pagination, seller
applications and their audit entries, compliance-only test orders, rate limits."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core import services
from core.db import db
from core.models import ApiToken, AuditEntry
from tests.conftest import post_form
from tests.factories import SellerFactory
from tests.web.qc_helpers import buyer_pool, one_order
from vetting.models import Application, LabelEvent, Seller

ONBOARDING = {
    "legal_name": "Zweitleben Elektronik GmbH", "trading_name": "Zweitleben", "country": "DE",
    "registration_number": "HRB 731905", "vat_id": "DE 287 364 519",
    "contact_email": "onboarding@zweitleben.example", "website": "https://zweitleben.example",
    "device_categories": ["smartphone", "tablet"], "declared_monthly_volume": 250,
}
SECRET_RE = re.compile(r"lk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture(autouse=True)
def _buyer_pool(app: Flask) -> None:
    """The planner needs buyer identities to place orders under."""
    buyer_pool()


def issue(*scopes: str, name: str = "marketplace") -> str:
    """Create a token with `scopes` and return its secret."""
    issued = services.create_api_token(name, scopes, None)
    db.session.commit()
    return issued.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status`; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    assert body["instance"] == response.request.path
    return body


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


# ---------------------------------------------------------------- tokens


def test_admin_creates_a_token_whose_secret_is_shown_once_and_stored_hashed(
        client: FlaskClient, login: Callable[..., object]) -> None:
    login("admin")
    response = post_form(client, "/admin/api-tokens",
                         {"name": "Marketplace-Onboarding", "scopes": ["read", "write"]},
                         token_from="/admin/api-tokens")
    assert response.status_code == 200
    secrets_shown = SECRET_RE.findall(response.get_data(as_text=True))
    assert len(secrets_shown) == 1
    secret = secrets_shown[0]
    token = db.session.execute(select(ApiToken)).scalar_one()
    assert token.name == "marketplace-onboarding"
    assert token.scope_set == {"read", "write"}
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = json.dumps([getattr(token, c.key) for c in ApiToken.__table__.columns], default=str)
    trail = json.dumps(list(db.session.execute(select(AuditEntry.payload)).scalars()))
    assert secret.split("_")[-1] not in stored + trail

    listing = client.get("/admin/api-tokens").get_data(as_text=True)
    assert "marketplace-onboarding" in listing
    assert secret not in listing
    assert client.get("/api/v1/sellers", headers=bearer(secret)).status_code == 200


def test_the_cli_prints_a_working_secret_once(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["api", "token", "create", "ci", "--scope", "read",
                                 "--scope", "compliance"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert SECRET_RE.fullmatch(secret)
    listed = runner.invoke(args=["api", "token", "list"]).output
    assert "ci" in listed
    assert "compliance,read" in listed
    assert secret not in listed
    client = app.test_client()
    assert client.get("/api/v1/sellers", headers=bearer(secret)).status_code == 200
    bad = runner.invoke(args=["api", "token", "create", "ci", "--scope", "read"])
    assert bad.exit_code != 0
    assert "exists already" in bad.output


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwdw==",
                                    "Bearer lk_000000000000_" + "a" * 43])
def test_calls_without_a_valid_token_get_401(client: FlaskClient, header: str | None) -> None:
    issue("read")
    headers = {"Authorization": header} if header else {}
    body = assert_problem(client.get("/api/v1/sellers", headers=headers), 401)
    assert "token" in body["detail"].lower()


def test_a_revoked_token_gets_401(client: FlaskClient, login: Callable[..., object]) -> None:
    secret = issue("read")
    assert client.get("/api/v1/sellers", headers=bearer(secret)).status_code == 200
    login("admin")
    token = db.session.execute(select(ApiToken)).scalar_one()
    page = client.get("/admin/api-tokens").get_data(as_text=True)
    csrf = re.search(r'name="revoke-csrf_token"[^>]*value="([^"]+)"', page)
    assert csrf is not None
    response = client.post(f"/admin/api-tokens/{token.id}/revoke",
                           data={"revoke-csrf_token": csrf.group(1)})
    assert response.status_code == 302
    db.session.refresh(token)
    assert token.revoked_at is not None
    assert_problem(client.get("/api/v1/sellers", headers=bearer(secret)), 401)
    actions = list(db.session.execute(select(AuditEntry.action)).scalars())
    assert actions.count("api_token.revoked") == 1


def test_a_read_only_token_writing_gets_403_and_nothing_is_saved(client: FlaskClient) -> None:
    secret = issue("read")
    body = assert_problem(client.post("/api/v1/applications", json=ONBOARDING,
                                      headers=bearer(secret)), 403)
    assert "'write'" in body["detail"]
    assert count(Seller) == 0


def test_test_orders_need_the_compliance_scope(app: Flask, client: FlaskClient) -> None:
    order = one_order(app)
    everything_else = issue("read", "write", name="integration")
    assert_problem(client.get("/api/v1/test-orders?month=2026-06",
                              headers=bearer(everything_else)), 403)
    compliance = issue("compliance", name="compliance-export")
    response = client.get("/api/v1/test-orders?month=2026-06", headers=bearer(compliance))
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert order.id in [i["id"] for i in items]
    assert {i["period"] for i in items} == {"2026-06"}
    empty = client.get("/api/v1/test-orders?month=2026-07", headers=bearer(compliance))
    assert empty.get_json() == {"items": [], "next_cursor": None}
    # Compliance alone reads no sellers: scopes do not imply one another.
    assert_problem(client.get("/api/v1/sellers", headers=bearer(compliance)), 403)


def test_use_of_a_token_is_noted(client: FlaskClient) -> None:
    secret = issue("read")
    assert db.session.execute(select(ApiToken.last_used_at)).scalar_one() is None
    client.get("/api/v1/sellers", headers=bearer(secret))
    assert db.session.execute(select(ApiToken.last_used_at)).scalar_one() is not None


# ---------------------------------------------------------------- problems


def test_malformed_json_is_a_400_problem(client: FlaskClient) -> None:
    secret = issue("write")
    body = assert_problem(client.post("/api/v1/applications", data='{"legal_name": ',
                                      content_type="application/json",
                                      headers=bearer(secret)), 400)
    assert body["errors"] == [{"field": "", "location": "json",
                               "message": "Invalid JSON body."}]


def test_unknown_fields_and_wrong_types_are_422_with_field_errors(client: FlaskClient) -> None:
    secret = issue("write")
    data = {**ONBOARDING, "declared_monthly_volume": "250", "device_categories": "tablet",
            "is_admin": True}
    body = assert_problem(client.post("/api/v1/applications", json=data,
                                      headers=bearer(secret)), 422)
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert fields == {"declared_monthly_volume": "Not a valid integer.",
                      "device_categories": "Not a valid list.", "is_admin": "Unknown field."}
    assert {e["location"] for e in body["errors"]} == {"json"}
    assert count(Seller) == 0


def test_bad_query_parameters_are_422_with_field_errors(client: FlaskClient) -> None:
    secret = issue("read", "compliance")
    body = assert_problem(client.get("/api/v1/sellers?limit=1000&label_status=shiny&page=2",
                                     headers=bearer(secret)), 422)
    assert {(e["field"], e["location"]) for e in body["errors"]} == {
        ("limit", "query"), ("label_status", "query"), ("page", "query")}
    body = assert_problem(client.get("/api/v1/test-orders?month=2026-13",
                                     headers=bearer(secret)), 422)
    assert [e["field"] for e in body["errors"]] == ["month"]


def test_unknown_things_and_methods_are_problems(client: FlaskClient) -> None:
    secret = issue("read")
    assert "#99" in assert_problem(client.get("/api/v1/sellers/99", headers=bearer(secret)),
                                   404)["detail"]
    assert_problem(client.get("/api/v1/nothing-here", headers=bearer(secret)), 404)
    response = client.delete("/api/v1/sellers", headers=bearer(secret))
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


# ---------------------------------------------------------------- pagination and filters


def walk(client: FlaskClient, url: str, secret: str,
         cursor: str | None = None) -> tuple[list[int], int]:
    """Follow next_cursor to the end; return the ids seen and the number of pages."""
    ids: list[int] = []
    pages = 0
    while True:
        sep = "&" if "?" in url else "?"
        response = client.get(url + (f"{sep}cursor={cursor}" if cursor else ""),
                              headers=bearer(secret))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        ids += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


def test_cursor_pagination_walks_every_seller_once(client: FlaskClient) -> None:
    sellers = SellerFactory.create_batch(23)
    db.session.commit()
    secret = issue("read")
    ids, pages = walk(client, "/api/v1/sellers?limit=5", secret)
    assert ids == sorted(s.id for s in sellers)
    assert pages == 5
    default_ids, default_pages = walk(client, "/api/v1/sellers", secret)
    assert default_ids == ids
    assert default_pages == 1


def test_a_seller_created_between_pages_is_neither_lost_nor_repeated(
        client: FlaskClient) -> None:
    SellerFactory.create_batch(4)
    db.session.commit()
    secret = issue("read")
    first = client.get("/api/v1/sellers?limit=2", headers=bearer(secret)).get_json()
    late = SellerFactory()
    db.session.commit()
    rest, _ = walk(client, "/api/v1/sellers?limit=2", secret, first["next_cursor"])
    ids = [i["id"] for i in first["items"]] + rest
    assert len(ids) == len(set(ids)) == 5
    assert late.id in ids


def test_a_cursor_beyond_every_id_is_an_empty_last_page(client: FlaskClient) -> None:
    SellerFactory()
    db.session.commit()
    secret = issue("read")
    response = client.get("/api/v1/sellers?cursor=_________w8", headers=bearer(secret))
    assert response.get_json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("cursor", ["garbage", "AAAAAAAAAAAAAAAA", "%00", "AAAA=AAAAAA"])
def test_a_garbage_cursor_is_a_422_problem(client: FlaskClient, cursor: str) -> None:
    secret = issue("read")
    body = assert_problem(client.get(f"/api/v1/sellers?cursor={cursor}",
                                     headers=bearer(secret)), 422)
    assert body["errors"][0]["field"] == "cursor"


def test_sellers_filter_by_label_status_and_country(client: FlaskClient) -> None:
    active = SellerFactory(label_status="active", sampling_state="normal", country="NL",
                           vat_id="NL123456789B01")
    SellerFactory(label_status="suspended", sampling_state=None)
    unlabelled = SellerFactory()
    db.session.commit()
    secret = issue("read")

    def ids(query: str) -> list[int]:
        body = client.get(f"/api/v1/sellers?{query}", headers=bearer(secret)).get_json()
        return [i["id"] for i in body["items"]]

    assert ids("label_status=active") == [active.id]
    assert ids("country=NL") == [active.id]
    assert ids("label_status=none") == [unlabelled.id]
    assert ids("sampling_state=normal&country=DE") == []


def test_one_seller_shows_its_label_and_events_page(app: Flask, client: FlaskClient) -> None:
    order = one_order(app)
    seller = order.seller
    for i in range(3):
        db.session.add(LabelEvent(seller_id=seller.id, from_status="active",
                                  to_status="active", reason=f"renewal {i}", actor="system"))
    db.session.commit()
    secret = issue("read")
    body = client.get(f"/api/v1/sellers/{seller.id}", headers=bearer(secret)).get_json()
    assert body["label"] == {"status": "active", "valid_from": "2026-01-01",
                             "valid_until": "2027-01-01", "sampling_state": "onboarding"}
    ids, pages = walk(client, f"/api/v1/sellers/{seller.id}/label-events?limit=2", secret)
    expected = db.session.execute(select(LabelEvent.id).where(LabelEvent.seller_id == seller.id)
                                  .order_by(LabelEvent.id)).scalars().all()
    assert ids == list(expected)
    assert len(ids) == 3
    assert pages == 2
    assert_problem(client.get("/api/v1/sellers/12345/label-events", headers=bearer(secret)), 404)


# ---------------------------------------------------------------- applications


def test_an_application_from_the_onboarding_form_is_created_and_audited(
        client: FlaskClient) -> None:
    secret = issue("read", "write", name="marketplace-onboarding")
    response = client.post("/api/v1/applications", json=ONBOARDING, headers=bearer(secret))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    seller = db.session.get(Seller, body["seller"]["id"])
    assert seller is not None
    assert seller.vat_id == "DE287364519"
    assert response.headers["Location"] == f"/api/v1/sellers/{seller.id}"
    application = db.session.get(Application, body["application"]["id"])
    assert application.seller_id == seller.id
    assert application.status == "draft"
    assert body["application"]["status"] == "draft"
    trail = db.session.execute(select(AuditEntry.action, AuditEntry.actor, AuditEntry.payload)
                               .where(AuditEntry.action.in_(["seller.created",
                                                             "application.created"]))
                               .order_by(AuditEntry.seq)).all()
    assert [(a, who) for a, who, _ in trail] == [
        ("seller.created", "api:marketplace-onboarding"),
        ("application.created", "api:marketplace-onboarding")]
    assert json.loads(trail[0][2])["source"] == "api"
    # The actor name does not leak into later work without a token.
    services.create_user("later@example.test", "Later", "long-enough-pass", ["vetting"], None)
    assert db.session.execute(select(AuditEntry.actor).order_by(AuditEntry.seq.desc())
                              .limit(1)).scalar_one() == "system"


def test_a_duplicate_seller_is_a_409_naming_the_existing_one(client: FlaskClient) -> None:
    secret = issue("write")
    first = client.post("/api/v1/applications", json=ONBOARDING, headers=bearer(secret))
    seller_id = first.get_json()["seller"]["id"]
    again = {**ONBOARDING, "registration_number": "hrb731905", "legal_name": "Other name"}
    body = assert_problem(client.post("/api/v1/applications", json=again,
                                      headers=bearer(secret)), 409)
    assert f"seller #{seller_id}" in body["detail"]
    assert count(Seller) == 1
    assert count(Application) == 1


@pytest.mark.parametrize(("change", "field"), [
    ({"vat_id": "FR12345678901"}, "vat_id"),
    ({"country": "UK"}, "country"),
    ({"contact_email": "not-an-address"}, "contact_email"),
    ({"website": "ftp://zweitleben.example"}, "website"),
    ({"legal_name": "   "}, "legal_name"),
])
def test_the_staff_form_rules_refuse_bad_data_with_the_field_named(
        client: FlaskClient, change: dict[str, str], field: str) -> None:
    secret = issue("write")
    body = assert_problem(client.post("/api/v1/applications", json={**ONBOARDING, **change},
                                      headers=bearer(secret)), 422)
    assert [e["field"] for e in body["errors"]] == [field]
    assert count(Seller) == 0
    assert count(AuditEntry) == 1


# ---------------------------------------------------------------- rate limits


def test_each_token_has_its_own_rate_limit(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(API_RATE_LIMIT="3/minute")
    client = app.test_client()
    with app.app_context():
        first = issue("read", name="first")
        second = issue("read", name="second")
    for _ in range(3):
        assert client.get("/api/v1/sellers", headers=bearer(first)).status_code == 200
    response = client.get("/api/v1/sellers", headers=bearer(first))
    with app.test_request_context("/api/v1/sellers"):
        body = assert_problem(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "3 per 1 minute" in body["detail"]
    assert client.get("/api/v1/sellers", headers=bearer(second)).status_code == 200


def test_nul_in_a_query_or_json_value_is_a_field_level_problem(client: FlaskClient) -> None:
    secret = issue("read", "write")
    body = assert_problem(client.get("/api/v1/sellers?country=D%00E", headers=bearer(secret)),
                          422)
    assert body["errors"] == [{"field": "country", "location": "query",
                               "message": "Must not contain a NUL character (code 0)."}]
    before = db.session.execute(select(func.count()).select_from(Seller)).scalar_one()
    body = assert_problem(client.post("/api/v1/applications", headers=bearer(secret),
                                      json={"legal_name": "A\x00B", "country": "DE"}), 422)
    assert [e["field"] for e in body["errors"]] == ["legal_name"]
    assert db.session.execute(select(func.count()).select_from(Seller)).scalar_one() == before
