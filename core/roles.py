"""Staff roles, API token scopes and the declaration of who may use an endpoint (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


E = TypeVar("E", bound=StrEnum)


def _parse_names(kind: type[E], noun: str, values: Iterable[str]) -> frozenset[E]:
    members = set()
    for value in values:
        try:
            members.add(kind(value.strip().lower()))
        except ValueError:
            known = ", ".join(m.value for m in kind)
            raise ValueError(f"unknown {noun} {value!r} (known: {known})") from None
    return frozenset(members)


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Turn role names into roles; raise ValueError naming the first unknown one."""
    return _parse_names(Role, "role", values)


class Scope(StrEnum):
    """What an API token may do; a token holds one or more scopes."""

    READ = "read"
    WRITE = "write"
    COMPLIANCE = "compliance"


SCOPE_LABELS: dict[Scope, str] = {
    Scope.READ: "read: sellers, labels and label events",
    Scope.WRITE: "write: create seller applications",
    Scope.COMPLIANCE: "compliance: test orders",
}


@dataclass(frozen=True)
class ApiScope:
    """The declaration of an API endpoint: callers need a bearer token holding `scope`."""

    scope: Scope


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """Turn scope names into scopes; raise ValueError naming the first unknown one."""
    return _parse_names(Scope, "scope", values)


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


def api_scope(scope: Scope | str) -> Callable[[F], F]:
    """Declare an API endpoint: token-authenticated, needing `scope`; no staff session may
    use it."""
    declaration = ApiScope(Scope(scope))

    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTR, declaration)
        return view

    return decorate


WRITES_ATTR = "labelkeeper_writes"


def writes(view: F) -> F:
    """Declare that a GET view writes (e.g. records a download in the audit trail)."""
    setattr(view, WRITES_ATTR, True)
    return view


Access = frozenset[Role] | str | ApiScope | None


def declared_access(view: Callable[..., Any]) -> Access:
    """Return the roles declared on a view, PUBLIC, an ApiScope, or None when nothing was
    declared."""
    value = getattr(view, ACCESS_ATTR, None)
    if value == PUBLIC:
        return PUBLIC
    if isinstance(value, ApiScope):
        return value
    if isinstance(value, frozenset):
        return value
    return None


def may_access(held: Iterable[str], declared: Access) -> bool:
    """True when a user holding `held` roles may use a view declared as `declared` (API
    endpoints take tokens, never staff roles)."""
    if declared is None or isinstance(declared, ApiScope):
        return False
    if isinstance(declared, frozenset):
        return bool(declared.intersection(held))
    return declared == PUBLIC
