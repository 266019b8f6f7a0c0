"""Masking secrets in log text."""

from __future__ import annotations

import pytest

from core.redact import MASK, is_sensitive_field, redact_text

SIGNED = "IjE2ZTNhYjg0ZDM5MjQ5ZWI5NmYxYmYzOTQ0MTQ1ZDQ0Ig.Z0Vhxw.Xq4kq1Qe7dRk1yJmB3lqYHcGm3c"


@pytest.mark.parametrize(("text", "secret"), [
    ("password=hunter2-secret&email=a@b.c", "hunter2-secret"),
    ('{"password": "with spaces inside", "email": "a@b.c"}', "with spaces inside"),
    ("ImmutableMultiDict([('pw-password', 'tuple-secret-1'), ('x', '1')])", "tuple-secret-1"),
    ("{'csrf_token': 'abc123def456'}", "abc123def456"),
    ("Authorization: Bearer some.opaque-token_value", "some.opaque-token_value"),
    ("Cookie: labelkeeper_session=abcdefgh; theme=dark", "abcdefgh"),
    ("calling the API with bearer AbCdEf0123456789", "AbCdEf0123456789"),
    ("token lk_live_9f8e7d6c5b4a3210 was revoked", "lk_live_9f8e7d6c5b4a3210"),
    (f"session cookie {SIGNED} expired", SIGNED),
    ("api_key: zz-top-secret-key", "zz-top-secret-key"),
    ("(sqlite3.IntegrityError) UNIQUE constraint failed\n[SQL: INSERT INTO t VALUES (?)]\n"
     "[parameters: ('evidence bytes', 'p4ssw0rd-value')]\n(Background on this error at: x)",
     "p4ssw0rd-value"),
])
def test_secrets_are_masked(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert MASK in out


def test_known_values_are_masked_wherever_they_appear() -> None:
    out = redact_text("could not handle ('pat@example.test', 'plain-value-99')",
                      known=["plain-value-99", "abc"])
    assert out == f"could not handle ('pat@example.test', '{MASK}')"


@pytest.mark.parametrize("text", [
    "GET /vetting/sellers 200",
    "job planning done: 12",
    "endpoint core.login declares no roles; refused",
    "database unavailable: database is locked",
    "seller Phoenix Refurb B.V. suspended after CUSUM S = 5.55 against h = 5.19",
    "the basic statistics of a token bucket",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text, known=["abc"]) == text


@pytest.mark.parametrize(("name", "sensitive"), [
    ("password", True), ("pw-confirm", True), ("csrf_token", True), ("item3-csrf_token", True),
    ("api_key", True), ("email", False), ("legal_name", False), ("version", False),
])
def test_sensitive_form_fields(name: str, sensitive: bool) -> None:
    assert is_sensitive_field(name) is sensitive


def test_webhook_signing_secrets_are_masked() -> None:
    from core.redact import redact_text

    secret = "whsec_" + "Ab3_dE9-" * 5
    assert secret not in redact_text(f"endpoint 4 signs with {secret} now")
