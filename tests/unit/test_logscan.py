"""The session-wide log scan (tests/conftest.py) finds planted secrets."""

from __future__ import annotations

from tests.logscan import find_leaks, mask

LOG = "\n".join([
    '{"message": "GET /login 200", "request_id": "abc"}',
    '{"message": "form received: {\'password\': \'planted-secret-42\'}"}',
])


def test_a_planted_secret_is_found_with_its_line() -> None:
    leaks = find_leaks(LOG, {"planted-secret-42", "not-in-the-log-1"})
    assert leaks == [f"{mask('planted-secret-42')} in log line 2"]
    assert "planted-secret-42" not in leaks[0]


def test_clean_logs_pass() -> None:
    assert find_leaks(LOG, {"correct-horse-battery", "LK-EVIDENCE-MARKER"}) == []


def test_short_values_are_not_scanned_for() -> None:
    assert find_leaks(LOG, {"GET", "200"}) == []
