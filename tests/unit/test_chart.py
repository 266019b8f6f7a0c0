"""CUSUM chart (qc/chart.py): a self-contained, CSP-safe, deterministic SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qc.chart import render_cusum_svg
from qc.stats import DEFAULT_PLAN, compute_increments, replay

INC = compute_increments(DEFAULT_PLAN)
SVG = "{http://www.w3.org/2000/svg}"
HISTORY = [False, True, False, True, True, True, False, False, True] + [False] * 20
PATH = replay(HISTORY, INC).path


def _parse(svg: str) -> ET.Element:
    # Our own output, not untrusted input: the stdlib parser is fine here.
    return ET.fromstring(svg)  # noqa: S314


def _texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{SVG}text")]

def test_chart_is_valid_svg_with_lines_labels_and_axes() -> None:
    svg = render_cusum_svg(PATH, INC.h)
    root = _parse(svg)
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("640", "220")
    texts = _texts(root)
    assert "suspend h = 5.19" in texts
    assert "tighten 1.0" in texts
    assert "order number" in texts
    assert "S" in texts
    assert "CUSUM" in texts
    dashed = [el for el in root.iter(f"{SVG}line") if el.get("stroke-dasharray")]
    assert len(dashed) == 2
    # x ticks include the start and stay within the number of orders.
    ticks = [int(t) for t in texts if t.isdigit()]
    assert 0 in ticks
    assert max(ticks) <= len(PATH)
    assert 3 <= len(ticks) <= 9


def test_path_starts_at_zero_and_has_one_point_per_order() -> None:
    root = _parse(render_cusum_svg(PATH, INC.h))
    polyline = next(root.iter(f"{SVG}polyline"))
    points = (polyline.get("points") or "").split()
    assert len(points) == len(PATH) + 1
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] == max(ys)  # S_0 = 0 is the lowest value, drawn at the bottom


def test_points_marked_where_s_reaches_h() -> None:
    root = _parse(render_cusum_svg(PATH, INC.h))
    above = sum(1 for s in PATH if s >= INC.h)
    assert above > 0
    assert len(list(root.iter(f"{SVG}circle"))) == above
    below = _parse(render_cusum_svg([1.0, 0.5, 0.0], INC.h))
    assert list(below.iter(f"{SVG}circle")) == []


def test_no_scripts_styles_or_external_references() -> None:
    svg = render_cusum_svg(PATH, INC.h, title="Seller 42")
    lowered = svg.lower()
    assert "<script" not in lowered
    assert "style=" not in lowered
    assert "<style" not in lowered
    assert "href" not in lowered
    assert "url(" not in lowered
    assert "on" + "load" not in lowered


def test_empty_path_renders_a_message() -> None:
    svg = render_cusum_svg([], INC.h)
    root = _parse(svg)
    assert "No inspected orders yet" in _texts(root)
    assert list(root.iter(f"{SVG}polyline")) == []


def test_title_is_escaped() -> None:
    title = 'Refurb & Co <b>"best"</b>'
    svg = render_cusum_svg(PATH, INC.h, title=title)
    root = _parse(svg)
    assert "<b>" not in svg
    assert title in _texts(root)
    assert root.get("aria-label") == title


def test_tighten_line_can_be_left_out_and_head_start_drawn() -> None:
    root = _parse(render_cusum_svg(PATH, INC.h, tighten_at=None, s0=INC.h / 2))
    assert not any(t.startswith("tighten") for t in _texts(root))
    points = (next(root.iter(f"{SVG}polyline")).get("points") or "").split()
    assert len(points) == len(PATH) + 1


def test_output_is_deterministic() -> None:
    assert render_cusum_svg(PATH, INC.h) == render_cusum_svg(list(PATH), INC.h)
    assert render_cusum_svg([], INC.h) == render_cusum_svg((), INC.h)


def test_size_is_honoured() -> None:
    root = _parse(render_cusum_svg(PATH, INC.h, width=400, height=160))
    assert root.get("viewBox") == "0 0 400 160"


@pytest.mark.parametrize(("path", "h"), [([1.0], 0.0), ([-1.0], 5.0), ([float("nan")], 5.0)])
def test_bad_input_is_refused(path: list[float], h: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        render_cusum_svg(path, h)


@given(st.lists(st.booleans(), max_size=300))
def test_any_history_renders_valid_svg(history: list[bool]) -> None:
    path = replay(history, INC).path
    root = _parse(render_cusum_svg(path, INC.h))
    assert root.tag == f"{SVG}svg"
