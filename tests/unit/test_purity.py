"""Pure domain modules must not pull in Flask or SQLAlchemy.

The list of pure modules is kept once, as the files mypy checks strictly (`[tool.mypy] files`
in pyproject.toml): adding a module there covers both checks.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pure_modules() -> list[str]:
    """The module names of the files listed under [tool.mypy] files."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    files = config["tool"]["mypy"]["files"]
    return [file.removesuffix(".py").replace("/", ".") for file in files]


PURE_MODULES = pure_modules()


def test_the_list_names_existing_modules() -> None:
    assert len(PURE_MODULES) > 20
    for module in PURE_MODULES:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_neither_flask_nor_sqlalchemy(module: str) -> None:
    code = (f"import sys, {module}; "
            "bad = [m for m in ('flask', 'sqlalchemy', 'flask_sqlalchemy') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
