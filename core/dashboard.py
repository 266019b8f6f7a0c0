"""The home dashboard: each feature package contributes panels for the roles it serves."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from core.roles import Role


@dataclass(frozen=True)
class Panel:
    """A dashboard panel: who sees it, its partial template and the function that fills it."""

    title: str
    roles: frozenset[Role]
    template: str
    context: Callable[[], Mapping[str, Any]]


def register_panel(app: Flask, panel: Panel) -> None:
    """Add a panel to the app's home dashboard."""
    app.extensions.setdefault("labelkeeper_panels", []).append(panel)


def panels_for(roles: Iterable[str]) -> list[tuple[Panel, Mapping[str, Any]]]:
    """The panels a user with `roles` sees, each with its filled-in context."""
    held = set(roles)
    return [(p, p.context()) for p in current_app.extensions.get("labelkeeper_panels", [])
            if p.roles.intersection(held)]
