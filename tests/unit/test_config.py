"""The README's configuration table and core.config's defaults say the same thing."""

from __future__ import annotations

import re
from pathlib import Path

from core.config import defaults

README = Path(__file__).resolve().parents[2] / "README.md"
INSTANCE = "/srv/labelkeeper/instance"


def _table_rows() -> list[tuple[list[str], str]]:
    """(setting names, default column) of each row of the README's configuration table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            names = [n for n in re.findall(r"`([A-Z_]+)`", cells[0]) if n != "DATABASE_URL"]
            rows.append((names, cells[1]))
    return rows


def _as_written(value: object) -> str:
    """A default as the README writes it: paths relative to the project, not the instance."""
    text = str(value)
    if text.startswith(INSTANCE):
        return "instance" + text[len(INSTANCE):]
    return text.replace("sqlite:///" + INSTANCE, "sqlite:///instance")


def test_every_setting_in_the_readme_has_its_default_in_core_config() -> None:
    settings = defaults(INSTANCE)
    rows = _table_rows()
    assert len(rows) > 30
    for names, _ in rows:
        assert names
        for name in names:
            assert name in settings, f"{name} is in the README but not in core/config.py"


def test_the_readme_shows_the_same_default_values() -> None:
    settings = defaults(INSTANCE)
    checked = 0
    for names, column in _table_rows():
        if not re.fullmatch(r"`[^`]*`(, `[^`]*`)*", column):  # in words: "8 hours", "empty"
            continue
        written = re.findall(r"`([^`]*)`", column)
        for name, text in zip(names, written, strict=True):
            assert _as_written(settings[name]) == text, name
            checked += 1
    assert checked > 25
