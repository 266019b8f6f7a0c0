"""Pure domain modules must not pull in Flask or SQLAlchemy.

The list of pure modules is kept once, as the files mypy checks strictly (`[tool.mypy] files`
in pyproject.toml): adding a module there puts it under mypy --strict, this test and the
import contract of `tests/import_contracts.py`, which reads the same list.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.import_contracts import pure_modules

ROOT = Path(__file__).resolve().parents[2]
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
