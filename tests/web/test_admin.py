"""Administrators manage staff accounts; every change is audited."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import db
from core.models import AuditEntry, User
from tests.conftest import post_form, sign_in
from tests.factories import UserFactory

NEW = {"email": "Newbie@Example.com", "display_name": "New Person",
       "roles": ["inspector", "compliance"], "password": "long-enough-pass",
       "confirm": "long-enough-pass"}


def count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def actions() -> list[str]:
    return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


def edit_data(user: User, **over: object) -> dict[str, object]:
    return {"display_name": user.display_name, "roles": sorted(user.roles),
            "version": user.version, **over}


def test_admin_creates_an_account_that_can_sign_in(client: FlaskClient,
                                                   login: Callable[..., object]) -> None:
    login("admin")
    response = post_form(client, "/admin/users/new", NEW, token_from="/admin/users/new")
    assert response.status_code == 302
    user = db.session.execute(select(User).where(User.email == "newbie@example.com")).scalar_one()
    assert user.roles == {"inspector", "compliance"}
    assert "user.created" in actions()
    client2 = client.application.test_client()
    assert sign_in(client2, "newbie@example.com", "long-enough-pass").status_code == 302


def test_duplicate_email_is_refused_and_nothing_changes(client: FlaskClient,
                                                        login: Callable[..., object]) -> None:
    login("admin")
    post_form(client, "/admin/users/new", NEW, token_from="/admin/users/new")
    before = (count(User), count(AuditEntry))
    response = post_form(client, "/admin/users/new", NEW, token_from="/admin/users/new")
    assert response.status_code == 200
    assert "already exists" in response.get_data(as_text=True)
    assert (count(User), count(AuditEntry)) == before


def test_bad_create_inputs_get_messages(client: FlaskClient,
                                        login: Callable[..., object]) -> None:
    login("admin")
    before = count(User)
    cases = [
        ({"password": "short", "confirm": "short"}, "at least 12"),
        ({"confirm": "something-else-x"}, "The two passwords differ."),
        ({"roles": []}, "Choose at least one role."),
        ({"roles": ["superuser"]}, "is not a valid choice"),
        ({"email": "not-an-email"}, "Invalid email address."),
        ({"display_name": "x" * 121}, "cannot be longer than 120"),
    ]
    for change, message in cases:
        response = post_form(client, "/admin/users/new", {**NEW, **change},
                             token_from="/admin/users/new")
        assert response.status_code == 200
        assert message in response.get_data(as_text=True), message
    assert count(User) == before


def test_admin_changes_roles_and_the_person_is_signed_out(client: FlaskClient, app,  # type: ignore[no-untyped-def]
                                                         login: Callable[..., object]) -> None:
    login("admin")
    target = UserFactory(email="tom@example.test", roles=["vetting"])
    db.session.commit()
    other = app.test_client()
    sign_in(other, "tom@example.test")
    assert other.get("/vetting/sellers").status_code == 200
    response = post_form(client, f"/admin/users/{target.id}",
                         edit_data(target, roles=["inspector"]))
    assert response.status_code == 302
    db.session.refresh(target)
    assert target.roles == {"inspector"}
    assert other.get("/").status_code == 302  # old session no longer valid
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "user.updated")).scalar_one()
    assert '"roles_after":["inspector"]' in entry.payload


def test_stale_edit_is_refused(client: FlaskClient, login: Callable[..., object]) -> None:
    login("admin")
    target = UserFactory(email="ida@example.test", roles=["vetting"])
    db.session.commit()
    stale = edit_data(target)
    post_form(client, f"/admin/users/{target.id}", edit_data(target, display_name="Ida One"))
    response = post_form(client, f"/admin/users/{target.id}",
                         {**stale, "display_name": "Ida Two", "roles": ["admin"]})
    assert "Someone else changed this account" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, target.id).display_name == "Ida One"
    assert db.session.get(User, target.id).roles == {"vetting"}


def test_deactivation_ends_sessions_and_reactivation_restores_access(
        client: FlaskClient, app, login: Callable[..., object]) -> None:  # type: ignore[no-untyped-def]
    login("admin")
    target = UserFactory(email="zed@example.test", roles=["inspector"])
    db.session.commit()
    other = app.test_client()
    sign_in(other, "zed@example.test")
    response = client.post(f"/admin/users/{target.id}/active", data={
        "toggle-csrf_token": _toggle_token(client, target.id)})
    assert response.status_code == 302
    db.session.refresh(target)
    assert target.active is False
    assert other.get("/").status_code == 302
    assert sign_in(other, "zed@example.test").status_code == 200
    client.post(f"/admin/users/{target.id}/active", data={
        "toggle-csrf_token": _toggle_token(client, target.id)})
    db.session.refresh(target)
    assert target.active is True
    assert sign_in(other, "zed@example.test").status_code == 302
    assert actions().count("user.deactivated") == 1
    assert actions().count("user.activated") == 1


def _toggle_token(client: FlaskClient, user_id: int) -> str:
    page = client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    match = re.search(r'id="toggle-csrf_token" name="toggle-csrf_token"[^>]*value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_the_last_admin_cannot_be_removed(client: FlaskClient,
                                         login: Callable[..., object]) -> None:
    me = login("admin")
    response = post_form(client, f"/admin/users/{me.id}", edit_data(me, roles=["vetting"]))  # type: ignore[attr-defined]
    assert "last active administrator" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, me.id).roles == {"admin"}  # type: ignore[attr-defined]


def test_admin_cannot_deactivate_themselves(client: FlaskClient,
                                            login: Callable[..., object]) -> None:
    me = login("admin")
    response = client.post(f"/admin/users/{me.id}/active", data={  # type: ignore[attr-defined]
        "toggle-csrf_token": _toggle_token(client, me.id)}, follow_redirects=True)  # type: ignore[attr-defined]
    assert "cannot deactivate your own account" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, me.id).active is True  # type: ignore[attr-defined]


def test_password_reset_signs_out_and_new_password_works(
        client: FlaskClient, app, login: Callable[..., object]) -> None:  # type: ignore[no-untyped-def]
    login("admin")
    target = UserFactory(email="pat@example.test", roles=["vetting"])
    db.session.commit()
    other = app.test_client()
    sign_in(other, "pat@example.test")
    page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    token = re.search(r'name="pw-csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(f"/admin/users/{target.id}/password", data={
        "pw-csrf_token": token, "pw-password": "brand-new-password",
        "pw-confirm": "brand-new-password"})
    assert response.status_code == 302
    assert other.get("/").status_code == 302
    assert sign_in(other, "pat@example.test", "brand-new-password").status_code == 302
    assert "user.password_reset" in actions()


def test_user_list_is_paginated_and_searchable(client: FlaskClient,
                                               login: Callable[..., object]) -> None:
    login("admin")
    for i in range(30):
        UserFactory(email=f"bulk{i:02d}@example.test")
    db.session.commit()
    page1 = client.get("/admin/users").get_data(as_text=True)
    assert "1–25 of 31" in page1
    page2 = client.get("/admin/users?page=2").get_data(as_text=True)
    assert "26–31 of 31" in page2
    found = client.get("/admin/users?q=bulk07").get_data(as_text=True)
    assert "bulk07@example.test" in found
    assert "bulk08@example.test" not in found
    assert client.get("/admin/users?page=999").status_code == 200


def test_unknown_user_is_404(client: FlaskClient, login: Callable[..., object]) -> None:
    login("admin")
    response = client.get("/admin/users/99999")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
