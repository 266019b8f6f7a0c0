"""Server-side SVG chart of a seller's CUSUM path (pure).

The chart is embedded in HTML pages served under a strict Content-Security-Policy and in
WeasyPrint PDFs, so it is one self-contained ``<svg>`` element: no scripts, no external
references, no ``style`` attributes (only presentation attributes such as ``stroke`` and
``fill``), and the same input always gives the same string.

Pure module: no Flask, no SQLAlchemy; plain values in, a string out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

__all__ = ["render_cusum_svg"]

_LINE = "#1f4e79"
_SUSPEND = "#c0392b"
_TIGHTEN = "#b9770e"
_AXIS = "#555555"
_GRID = "#dddddd"
_TEXT = "#222222"
_FONT = 'font-family="sans-serif"'

_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 16, 26, 38
_NICE = (1, 2, 5)


def _n(value: float) -> str:
    # One decimal place keeps the output deterministic and small; -0.0 would print as "-0.0".
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _label(value: float) -> str:
    # 5.19, 1.0, 1.2: two decimals, a trailing zero dropped, always one decimal kept.
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


def _nice_step(span: float, max_ticks: int) -> float:
    # The smallest 1-2-5 step that draws at most max_ticks intervals over span.
    if span <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(span / max_ticks))
    for factor in (*_NICE, 10):
        step = factor * magnitude
        if span / step <= max_ticks:
            return step
    return 10.0 * magnitude


def _ticks(top: float, max_ticks: int, integer: bool) -> list[float]:
    step = _nice_step(top, max_ticks)
    if integer:
        step = max(1.0, float(round(step)))
    count = int(math.floor(top / step + 1e-9))
    return [i * step for i in range(count + 1)]


def _check(path: Sequence[float], h: float, tighten_at: float | None, width: int,
           height: int, s0: float) -> None:
    if not (math.isfinite(h) and h > 0):
        raise ValueError("The threshold h must be a positive number.")
    if tighten_at is not None and not (math.isfinite(tighten_at) and tighten_at >= 0):
        raise ValueError("The tightening level must be a non-negative number.")
    if width < 200 or height < 120:
        raise ValueError("The chart must be at least 200 x 120.")
    if not all(math.isfinite(v) and v >= 0 for v in (*path, s0)):
        raise ValueError("CUSUM values must be non-negative numbers.")


def render_cusum_svg(path: Sequence[float], h: float, tighten_at: float | None = 1.0,
                     width: int = 640, height: int = 220, title: str = "CUSUM",
                     s0: float = 0.0) -> str:
    """A self-contained SVG plotting S over order number with the suspend and tighten lines."""
    _check(path, h, tighten_at, width, height, s0)
    safe_title = escape(title)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)}>'
            f"<title>{safe_title}</title>"
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
            f'<text x="{_LEFT}" y="17" {_FONT} font-size="13" font-weight="bold" '
            f'fill="{_TEXT}">{safe_title}</text>')
    if not path:
        return (head
                + f'<text x="{_n(width / 2)}" y="{_n(height / 2)}" {_FONT} font-size="13" '
                f'text-anchor="middle" fill="{_AXIS}">No inspected orders yet</text></svg>')

    values = (s0, *path)
    orders = len(path)
    plot_w = width - _LEFT - _RIGHT
    plot_h = height - _TOP - _BOTTOM
    y_top = max(h * 1.15, max(values) * 1.05, (tighten_at or 0.0) * 1.15)

    def x_at(order: float) -> float:
        return _LEFT + plot_w * order / orders

    def y_at(s: float) -> float:
        return _TOP + plot_h * (1.0 - s / y_top)

    bottom, right = _TOP + plot_h, _LEFT + plot_w
    parts = [head]
    # Grid and y ticks.
    for s in _ticks(y_top, 4, integer=False):
        y = _n(y_at(s))
        parts.append(f'<line x1="{_LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="{_GRID}" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{_LEFT - 5}" y="{y}" {_FONT} font-size="10" text-anchor="end" '
                     f'dominant-baseline="middle" fill="{_AXIS}">{_label(s)}</text>')
    # Axes.
    parts.append(f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" '
                 f'stroke="{_AXIS}" stroke-width="1"/>')
    parts.append(f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" '
                 f'stroke="{_AXIS}" stroke-width="1"/>')
    # X ticks.
    for order in _ticks(float(orders), 8, integer=True):
        x = _n(x_at(order))
        parts.append(f'<line x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 4}" '
                     f'stroke="{_AXIS}" stroke-width="1"/>')
        parts.append(f'<text x="{x}" y="{bottom + 15}" {_FONT} font-size="10" '
                     f'text-anchor="middle" fill="{_AXIS}">{int(order)}</text>')
    parts.append(f'<text x="{_n(_LEFT + plot_w / 2)}" y="{height - 4}" {_FONT} font-size="11" '
                 f'text-anchor="middle" fill="{_TEXT}">order number</text>')
    parts.append(f'<text x="12" y="{_n(_TOP + plot_h / 2)}" {_FONT} font-size="11" '
                 f'text-anchor="middle" fill="{_TEXT}" '
                 f'transform="rotate(-90 12 {_n(_TOP + plot_h / 2)})">S</text>')
    # Threshold lines, labelled at the right end, just above the line.
    lines = [(h, _SUSPEND, f"suspend h = {_label(h)}")]
    if tighten_at is not None:
        lines.append((tighten_at, _TIGHTEN, f"tighten {_label(tighten_at)}"))
    for level, colour, text in lines:
        level_y = y_at(level)
        parts.append(f'<line x1="{_LEFT}" y1="{_n(level_y)}" x2="{right}" y2="{_n(level_y)}" '
                     f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{right - 2}" y="{_n(level_y - 4)}" {_FONT} font-size="10" '
                     f'text-anchor="end" fill="{colour}">{escape(text)}</text>')
    # The path and the orders at or above h.
    points = " ".join(f"{_n(x_at(i))},{_n(y_at(s))}" for i, s in enumerate(values))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{_LINE}" '
                 'stroke-width="2" stroke-linejoin="round"/>')
    for i, s in enumerate(values):
        if i > 0 and s >= h:
            parts.append(f'<circle cx="{_n(x_at(i))}" cy="{_n(y_at(s))}" r="3.5" '
                         f'fill="{_SUSPEND}" stroke="#ffffff" stroke-width="1"/>')
    parts.append("</svg>")
    return "".join(parts)
