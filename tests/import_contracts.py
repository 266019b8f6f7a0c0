"""An import-linter contract type for the pure domain modules.

The pure modules are listed once, as the `[tool.mypy] files` of pyproject.toml (mypy checks
them strictly); this contract reads that list, so adding a module there also puts it under
the rule that it imports neither Flask nor SQLAlchemy, directly or through another module.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from grimp import ImportGraph
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.domain import fields
from importlinter.domain.contract import ContractCheck
from importlinter.domain.imports import ModuleExpression

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def pure_modules() -> list[str]:
    """The dotted names of the pure domain modules (pyproject.toml, `[tool.mypy] files`)."""
    files = tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]["files"]
    return [f.removesuffix(".py").replace("/", ".") for f in files]


class PureModulesContract(ForbiddenContract):
    """A forbidden contract whose source modules are the pure modules of pyproject.toml."""

    type_name = "pure"
    source_modules = fields.SetField(subfield=fields.ModuleExpressionField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        """Check the forbidden imports from every module of the `[tool.mypy] files` list."""
        self.source_modules = {ModuleExpression(m) for m in pure_modules()}
        return super().check(graph, verbose)
