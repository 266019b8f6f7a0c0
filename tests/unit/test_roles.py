"""Role declarations on views."""

from __future__ import annotations

import pytest

from core.roles import (
    ALL_ROLES,
    PUBLIC,
    Role,
    any_role,
    declared_access,
    may_access,
    parse_roles,
    public,
    roles_required,
)


def test_parse_roles_accepts_known_names_case_insensitively() -> None:
    assert parse_roles(["Admin", " vetting "]) == {Role.ADMIN, Role.VETTING}


def test_parse_roles_names_the_unknown_role() -> None:
    with pytest.raises(ValueError, match="'superuser'"):
        parse_roles(["admin", "superuser"])


def test_declarations_are_read_back() -> None:
    @roles_required(Role.COMPLIANCE)
    def a() -> None: ...

    @any_role
    def b() -> None: ...

    @public
    def c() -> None: ...

    def d() -> None: ...

    assert declared_access(a) == {Role.COMPLIANCE}
    assert declared_access(b) == ALL_ROLES
    assert declared_access(c) == PUBLIC
    assert declared_access(d) is None


def test_roles_required_needs_a_role() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        roles_required()


@pytest.mark.parametrize(("held", "declared", "expected"), [
    ({"admin"}, frozenset({Role.ADMIN}), True),
    ({"vetting"}, frozenset({Role.ADMIN}), False),
    ({"vetting", "admin"}, frozenset({Role.COMPLIANCE, Role.ADMIN}), True),
    (set(), ALL_ROLES, False),
    (set(), PUBLIC, True),
    ({"admin"}, None, False),
])
def test_may_access(held: set[str], declared: object, expected: bool) -> None:
    assert may_access(held, declared) is expected  # type: ignore[arg-type]
