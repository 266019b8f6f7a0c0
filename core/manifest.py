"""The manifest of a backup folder and the checks on it (pure: values in, values out).

A backup folder holds `manifest.json`, the database copy (SQLite) and the `evidence/` and
`reports/` files. The manifest names every file with its SHA-256, so a restore can refuse a
folder in which anything was changed, added or lost.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MANIFEST_NAME = "manifest.json"
DATABASE_NAME = "labelkeeper.sqlite3"
DUMP_NAME = "labelkeeper.dump"
FORMAT_VERSION = 1
ENGINES = ("sqlite", "postgresql")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(Exception):
    """The manifest is missing, unreadable or does not describe the folder."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: when, which schema revision, how many rows, which files."""

    created_at: str
    engine: str
    revision: str
    row_counts: Mapping[str, int]
    audit_head_hash: str
    audit_entries: int
    files: Mapping[str, str] = field(default_factory=dict)  # relative path -> SHA-256
    database_file: str | None = None  # relative path of the SQLite copy; None on PostgreSQL

    @property
    def total_rows(self) -> int:
        """Rows over all tables."""
        return sum(self.row_counts.values())

    def count_files(self, folder: str) -> int:
        """How many files the backup holds under `folder` (e.g. "evidence")."""
        return sum(1 for name in self.files if name.startswith(folder + "/"))


def check_relative_path(name: str) -> str:
    """Return `name` if it is a plain relative POSIX path inside the folder; else raise."""
    parts = name.split("/")
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name
            or any(p in ("", ".", "..") for p in parts)):
        raise ManifestError(f"The manifest names a file outside the backup folder: {name!r}.")
    return name


def compute_manifest_json(manifest: Manifest) -> str:
    """The manifest as stable, indented JSON."""
    return json.dumps({
        "format": FORMAT_VERSION,
        "created_at": manifest.created_at,
        "engine": manifest.engine,
        "alembic_revision": manifest.revision,
        "database_file": manifest.database_file,
        "row_counts": dict(sorted(manifest.row_counts.items())),
        "audit": {"head_hash": manifest.audit_head_hash, "entries": manifest.audit_entries},
        "files": dict(sorted(manifest.files.items())),
    }, indent=2) + "\n"


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ManifestError(f"The manifest's {key!r} is missing or malformed.")
    return value


def parse_manifest(text: str) -> Manifest:
    """Read manifest JSON; raise ManifestError naming what is wrong."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ManifestError("The manifest is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ManifestError("The manifest is not a JSON object.")
    if data.get("format") != FORMAT_VERSION:
        raise ManifestError(f"Unknown manifest format {data.get('format')!r} "
                            f"(this version reads format {FORMAT_VERSION}).")
    engine = _require(data, "engine", str)
    if engine not in ENGINES:
        raise ManifestError(f"Unknown database engine {engine!r} in the manifest.")
    counts = _require(data, "row_counts", dict)
    audit = _require(data, "audit", dict)
    files = _require(data, "files", dict)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
               for v in counts.values()):
        raise ManifestError("The manifest's row counts are malformed.")
    for name, digest in files.items():
        check_relative_path(name)
        if not isinstance(digest, str) or _SHA256.fullmatch(digest) is None:
            raise ManifestError(f"The manifest's hash of {name} is malformed.")
    database_file = data.get("database_file")
    if database_file is not None:
        if not isinstance(database_file, str) or database_file not in files:
            raise ManifestError("The manifest's database file is not among its files.")
    elif engine == "sqlite":
        raise ManifestError("The manifest of a SQLite backup names no database file.")
    return Manifest(
        created_at=_require(data, "created_at", str),
        engine=engine,
        revision=_require(data, "alembic_revision", str),
        row_counts=dict(counts),
        audit_head_hash=_require(audit, "head_hash", str),
        audit_entries=_require(audit, "entries", int),
        files=dict(files),
        database_file=database_file,
    )


def compute_file_problems(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """Compare the manifest's hashes with the folder's; one sentence per problem, sorted."""
    problems = []
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual:
            problems.append(f"{name} is missing")
        elif name not in expected:
            problems.append(f"{name} is not in the manifest")
        elif expected[name] != actual[name]:
            problems.append(f"{name} does not match its SHA-256 in the manifest")
    return problems


@dataclass(frozen=True)
class PgTarget:
    """Where a PostgreSQL database lives (no password: pg_dump reads PGPASSWORD or ~/.pgpass)."""

    database: str
    host: str | None = None
    port: int | None = None
    user: str | None = None


def _connection_args(target: PgTarget) -> list[str]:
    args = []
    if target.host:
        args.append(f"--host={target.host}")
    if target.port:
        args.append(f"--port={target.port}")
    if target.user:
        args.append(f"--username={target.user}")
    return args


def compute_pg_dump_command(target: PgTarget, dump_path: str) -> str:
    """The pg_dump command that writes a custom-format dump of `target` to `dump_path`."""
    args = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
            f"--file={dump_path}", *_connection_args(target), target.database]
    return shlex.join(args)


def compute_pg_restore_command(target: PgTarget, dump_path: str) -> str:
    """The pg_restore command that replaces `target`'s contents with the dump, all or nothing."""
    args = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
            "--single-transaction", "--exit-on-error", *_connection_args(target),
            f"--dbname={target.database}", dump_path]
    return shlex.join(args)
