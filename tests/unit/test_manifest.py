"""Backup manifests: round trip, malformed input, file checks, PostgreSQL commands."""

from __future__ import annotations

import json

import pytest

from core.manifest import (
    Manifest,
    ManifestError,
    PgTarget,
    check_relative_path,
    compute_file_problems,
    compute_manifest_json,
    compute_pg_dump_command,
    compute_pg_restore_command,
    parse_manifest,
)

A, B = "a" * 64, "b" * 64
MANIFEST = Manifest(created_at="2026-06-10T12:00:00+00:00", engine="sqlite",
                    revision="0e10c7bf9393", row_counts={"sellers": 3, "audit_entries": 18},
                    audit_head_hash=B, audit_entries=18,
                    files={"labelkeeper.sqlite3": A, "evidence/ab/" + B: B, "reports/X.pdf": A},
                    database_file="labelkeeper.sqlite3")


def test_round_trip() -> None:
    parsed = parse_manifest(compute_manifest_json(MANIFEST))
    assert parsed == MANIFEST
    assert parsed.total_rows == 21
    assert parsed.count_files("evidence") == 1
    assert parsed.count_files("reports") == 1


def edited(**changes: object) -> str:
    data = json.loads(compute_manifest_json(MANIFEST))
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not valid JSON"),
    ("[]", "not a JSON object"),
    (edited(format=2), "Unknown manifest format"),
    (edited(engine="mysql"), "Unknown database engine"),
    (edited(row_counts={"sellers": -1}), "row counts"),
    (edited(row_counts={"sellers": True}), "row counts"),
    (edited(files={"../../etc/passwd": A, "labelkeeper.sqlite3": A}), "outside the backup"),
    (edited(files={"/etc/passwd": A, "labelkeeper.sqlite3": A}), "outside the backup"),
    (edited(files={"labelkeeper.sqlite3": "xyz"}), "hash of labelkeeper.sqlite3"),
    (edited(database_file="other.sqlite3"), "database file"),
    (edited(database_file=None), "names no database file"),
    (edited(alembic_revision=None), "alembic_revision"),
    (edited(audit={"head_hash": B}), "'entries'"),
])
def test_malformed_manifests_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(text)


@pytest.mark.parametrize("name", ["", "a//b", "./a", "a/../b", "a\\b", "a\x00b", "/a"])
def test_unsafe_relative_paths(name: str) -> None:
    with pytest.raises(ManifestError):
        check_relative_path(name)


def test_file_problems_name_missing_extra_and_changed_files() -> None:
    actual = {"labelkeeper.sqlite3": B, "reports/X.pdf": A, "evidence/new": A}
    assert compute_file_problems(MANIFEST.files, actual) == [
        "evidence/ab/" + B + " is missing",
        "evidence/new is not in the manifest",
        "labelkeeper.sqlite3 does not match its SHA-256 in the manifest",
    ]
    assert compute_file_problems(MANIFEST.files, dict(MANIFEST.files)) == []


def test_pg_commands_quote_and_carry_no_password() -> None:
    target = PgTarget(database="lk prod", host="db.internal", port=5433, user="labelkeeper")
    dump = compute_pg_dump_command(target, "/backups/2026 06/labelkeeper.dump")
    assert dump == ("pg_dump --format=custom --no-owner --no-privileges "
                    "'--file=/backups/2026 06/labelkeeper.dump' --host=db.internal --port=5433 "
                    "--username=labelkeeper 'lk prod'")
    restore = compute_pg_restore_command(PgTarget(database="lk"), "/b/labelkeeper.dump")
    assert restore == ("pg_restore --clean --if-exists --no-owner --no-privileges "
                       "--single-transaction --exit-on-error --dbname=lk /b/labelkeeper.dump")
