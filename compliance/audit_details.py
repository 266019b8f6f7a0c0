"""An audit entry's payload as short key-value lines a reader can take in at a glance.

Pure: the dossier's audit-trail table shows these lines instead of the raw JSON. The full
payload and the full hashes stay in the audit trail itself; only the printed copy shortens
SHA-256 values (to SHORT_HASH characters, as in the table's hash column).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

SHORT_HASH = 12  # characters of a SHA-256 printed in the dossier (the full one is 64)
_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")


def short_hash(value: str) -> str:
    """The first SHORT_HASH characters of a hash."""
    return value[:SHORT_HASH]


def _value_text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return "; ".join(f"{_label(k)}: {_value_text(v)}" for k, v in value.items())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(_value_text(v) for v in value)
    return _SHA256.sub(lambda m: short_hash(m.group(0)) + "…", str(value))


def _label(key: object) -> str:
    return str(key).replace("_", " ")


def compute_detail_lines(payload: str | Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of an entry's payload, in the payload's key order; a payload
    that is not a JSON object becomes one ("details", text) pair."""
    data = json.loads(payload) if isinstance(payload, str) else payload
    if not isinstance(data, Mapping):
        return [("details", _value_text(data))]
    return [(_label(k), _value_text(v)) for k, v in data.items()]
