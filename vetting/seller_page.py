"""The seller page's sections that other packages contribute (statistics, test orders, ...).

Vetting owns the seller page but not what quality control or compliance know about a seller;
those packages register a section at start-up (as they register dashboard panels), and the
page renders each section's partial template with the context its function returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, render_template
from markupsafe import Markup

from vetting.models import Seller

_KEY = "labelkeeper_seller_sections"


@dataclass(frozen=True)
class SellerSection:
    """A part of the seller page: its partial template and the function that fills it."""

    template: str
    context: Callable[[Seller], Mapping[str, Any]]


def register_seller_section(app: Flask, section: SellerSection) -> None:
    """Add a section to the seller page, below the label history, in registration order."""
    app.extensions.setdefault(_KEY, []).append(section)


def render_seller_sections(seller: Seller) -> list[Markup]:
    """Every registered section rendered for `seller`, in registration order."""
    return [Markup(render_template(s.template, seller=seller, **s.context(seller)))  # noqa: S704 - a rendered, autoescaped template
            for s in current_app.extensions.get(_KEY, [])]
