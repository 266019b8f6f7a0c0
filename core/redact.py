"""Masking secrets in log text (pure: strings in, strings out).

`redact_text` removes what looks like a secret wherever it appears: values of sensitive keys
(`password=...`, `"csrf_token": "..."`, `Authorization: ...`, `Cookie: ...`), bearer and basic
credentials, Labelkeeper API tokens (`lk_...`), signed tokens (session cookies, CSRF tokens,
JWTs) and the bound parameters SQLAlchemy appends to database errors. `known` adds exact
values to mask, e.g. the password field of the request being logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[REDACTED]"

# Key names whose values are secrets. `session` and `token` also cover `labelkeeper_session`,
# `csrf_token`, `remember_token`, `api_token` and the like.
SENSITIVE_KEY = r"[\w.-]*(?:passw(?:or)?d|pwd|secret|token|csrf|api[_-]?key|authorization|cookie|session)[\w.-]*"  # noqa: E501

# Form field names whose submitted values are masked exactly wherever they show up.
_SENSITIVE_FIELD = re.compile(r"(?i)(passw|pwd|secret|token|csrf|confirm|api[_-]?key)")

# Shortest exact value worth masking: shorter ones would mask ordinary words.
MIN_KNOWN_LENGTH = 6

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # SQLAlchemy's "[parameters: (...)]" block can hold any submitted value.
    (re.compile(r"\[parameters: .*?\](?=\s*(?:\n|\(Background|$))", re.DOTALL),
     f"[parameters: {MASK}]"),
    # Authorization / Cookie headers, whatever their scheme.
    (re.compile(r"(?im)\b(authorization|proxy-authorization|cookie|set-cookie)(\s*[:=]\s*)"
                r"[^\r\n]+"), rf"\1\2{MASK}"),
    # Bearer credentials anywhere in free text.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    # key=value, key: value, "key": "value", 'key': 'value', ('key', 'value').
    (re.compile(rf"(?i)(\b{SENSITIVE_KEY}[\"']?\s*(?:[:=]|,)\s*)([\"'])(.*?)(?<!\\)\2"),
     rf"\1\2{MASK}\2"),
    (re.compile(rf"(?i)(\b{SENSITIVE_KEY}\s*[:=]\s*)(?![\"'\s])[^\s&;,)}}\]]+"), rf"\1{MASK}"),
    # Labelkeeper API tokens and webhook signing secrets.
    (re.compile(r"\blk_[A-Za-z0-9_-]{8,}"), f"lk_{MASK}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9_-]{8,}"), f"whsec_{MASK}"),
    # Signed tokens: itsdangerous (session cookie, CSRF token) and JWT shapes.
    (re.compile(r"\.?[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}"), MASK),
)


def is_sensitive_field(name: str) -> bool:
    """Whether a form field of this name carries a secret (passwords, CSRF tokens, ...)."""
    return _SENSITIVE_FIELD.search(name) is not None


def redact_text(text: str, known: Iterable[str] = ()) -> str:
    """Return `text` with every secret-looking part and every `known` value masked."""
    for value in sorted({v for v in known if len(v) >= MIN_KNOWN_LENGTH}, key=len,
                        reverse=True):
        text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
