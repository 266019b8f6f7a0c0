"""Pure domain modules must not pull in Flask or SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_MODULES = [
    "core.chain", "core.roles",
    "vetting.labels", "vetting.checklist", "vetting.validation", "vetting.seller_csv",
    "vetting.evidence", "vetting.applications", "qc.sampling", "qc.catalog", "qc.scoring",
    "qc.orders", "qc.listing_csv", "core.csvtable", "qc.stats", "qc.chart", "qc.decisions",
    "compliance.csvexport", "qc.simulate", "core.backoff", "compliance.statement",
    "webhooks.signing", "webhooks.payloads",
    "qc.signal_csv", "qc.signals",
    "core.redact", "core.manifest",
    "vetting.sellers", "qc.snapshots", "qc.plan_records", "compliance.cases",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_neither_flask_nor_sqlalchemy(module: str) -> None:
    code = (f"import sys, {module}; "
            "bad = [m for m in ('flask', 'sqlalchemy', 'flask_sqlalchemy') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
