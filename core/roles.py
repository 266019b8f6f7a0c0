"""Staff roles and the declaration of which roles may use an endpoint (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

ACCESS_ATTR = "labelkeeper_access"
PUBLIC = "public"


class Role(StrEnum):
    """A staff role; a person may hold several."""

    VETTING = "vetting"
    INSPECTOR = "inspector"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.VETTING: "Vetting staff",
    Role.INSPECTOR: "Quality inspector",
    Role.COMPLIANCE: "Compliance officer",
    Role.ADMIN: "Administrator",
}

ALL_ROLES: frozenset[Role] = frozenset(Role)


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Turn role names into roles; raise ValueError naming the first unknown one."""
    roles = set()
    for value in values:
        try:
            roles.add(Role(value.strip().lower()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {value!r} (known: {known})") from None
    return frozenset(roles)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Declare the roles that may use a view; a user needs any one of them."""
    if not roles:
        raise ValueError("roles_required needs at least one role; use public() for open pages")
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTR, allowed)
        return view

    return decorate


def any_role(view: F) -> F:
    """Declare a view open to every signed-in staff member, whatever their role."""
    setattr(view, ACCESS_ATTR, ALL_ROLES)
    return view


def public(view: F) -> F:
    """Declare a view open without signing in (login, health check)."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


WRITES_ATTR = "labelkeeper_writes"


def writes(view: F) -> F:
    """Declare that a GET view writes (e.g. records a download in the audit trail)."""
    setattr(view, WRITES_ATTR, True)
    return view


def declared_access(view: Callable[..., Any]) -> frozenset[Role] | str | None:
    """Return the roles declared on a view, PUBLIC, or None when nothing was declared."""
    value = getattr(view, ACCESS_ATTR, None)
    if value == PUBLIC:
        return PUBLIC
    if isinstance(value, frozenset):
        return value
    return None


def may_access(held: Iterable[str], declared: frozenset[Role] | str | None) -> bool:
    """True when a user holding `held` roles may use a view declared as `declared`."""
    if declared is None:
        return False
    if isinstance(declared, frozenset):
        return bool(declared.intersection(held))
    return declared == PUBLIC
