"""`flask backup PATH` and `flask restore PATH`: the database, evidence, reports, plan seeds.

SQLite: the database is copied with SQLite's online backup API in one step, which reads a
single consistent snapshot while the web workers and the scheduler go on writing. The files
are copied after the snapshot, so every file the copy refers to is in the backup (evidence
and reports are only ever added). Everything is written into a hidden sibling folder that is
renamed to PATH at the end; a failed backup removes it and leaves nothing behind.

PostgreSQL: the database is dumped by `pg_dump`, whose exact command `backup` prints; the
command copies the files and writes the manifest the same way.

Restore checks the manifest and every file's SHA-256, the copy's `PRAGMA integrity_check` and
its schema revision, then stages the database and the folders next to their targets and
swaps them in by renaming, the database last.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from alembic.script import ScriptDirectory
from filelock import FileLock, Timeout
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect, text

from core.chain import GENESIS_HASH
from core.clock import utcnow
from core.db import db
from core.manifest import (
    DATABASE_NAME,
    DUMP_NAME,
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    PgTarget,
    compute_file_problems,
    compute_manifest_json,
    compute_pg_dump_command,
    compute_pg_restore_command,
    parse_manifest,
)

# Folders copied into a backup: config key -> folder name inside the backup. The plan seeds
# of open months are secret (mode 0600, like the backup folder itself) but needed to close
# those months after a restore.
FILE_FOLDERS = {"EVIDENCE_DIR": "evidence", "REPORT_DIR": "reports",
                "PLAN_SEED_DIR": "plan-seeds"}
# Left out: evidence uploads still being written and report PDFs still being rendered.
_SKIP_DIRS = frozenset({"tmp"})
_SKIP_SUFFIXES = (".tmp", ".part")
# Tables that hold rows in a freshly migrated database (reference data, bookkeeping).
_NOT_DATA = frozenset({"alembic_version", "checkpoints", "apscheduler_jobs"})
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore was refused or failed; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BackupResult:
    """The written manifest and, on PostgreSQL, the commands for the database itself."""

    path: Path
    manifest: Manifest
    pg_dump: str | None = None
    pg_restore: str | None = None


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:  # the app clock gives naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def code_head() -> str:
    """The newest migration revision of this code."""
    migrate = current_app.extensions["migrate"].migrate
    config = migrate.get_config(directory=str(Path(current_app.root_path) / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise BackupError("The code has no migrations.")
    return str(head)


def _sqlite_path() -> Path | None:
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("The configured SQLite database is in memory; nothing to back up.")
    return Path(url.database).absolute()


def _pg_target() -> PgTarget:
    url = db.engine.url
    return PgTarget(database=url.database or "", host=url.host, port=url.port,
                    user=url.username)


# --- reading a database --------------------------------------------------------------------

def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _describe_sqlite(path: Path) -> tuple[str, dict[str, int], str, int]:
    """Revision, row counts, audit head hash and entry count of a SQLite file."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        counts = {t: conn.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0]  # noqa: S608 - names from sqlite_master
                  for t in tables}
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        head = conn.execute(
            "SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1").fetchone()
    if revision is None:
        raise BackupError("The database has no schema revision; run `flask db upgrade` first.")
    return (revision[0], counts, head[1] if head else GENESIS_HASH,
            counts.get("audit_entries", 0))


def _describe_live() -> tuple[str, dict[str, int], str, int]:
    """The same figures read from the configured database in one transaction."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        tables = sorted(inspect(conn).get_table_names())
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {_quote(t)}")).scalar_one()  # noqa: S608 - names from the inspector
                  for t in tables}
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        head = conn.execute(text(
            "SELECT hash FROM audit_entries ORDER BY seq DESC LIMIT 1")).scalar()
    if revision is None:
        raise BackupError("The database has no schema revision; run `flask db upgrade` first.")
    return revision, counts, head or GENESIS_HASH, counts.get("audit_entries", 0)


def _snapshot_sqlite(source: Path, target: Path) -> None:
    """Copy a live SQLite database with the online backup API (one consistent snapshot)."""
    if not source.is_file():
        raise BackupError(f"The database {source} does not exist.")
    timeout = current_app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
    with closing(sqlite3.connect(source, timeout=timeout)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # pages=-1: the whole database in one step, under one read lock
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        (result,) = dst.execute("PRAGMA integrity_check").fetchone()
    if result != "ok":
        raise BackupError(f"The database copy failed its integrity check: {result}")
    _fsync(target)


# --- files ---------------------------------------------------------------------------------

def _iter_files(folder: Path) -> Iterator[Path]:
    """Regular files under `folder`, without partial uploads and renders."""
    if not folder.is_dir():
        return
    for root, dirs, names in os.walk(folder):
        if Path(root) == folder:
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink() and not name.endswith(_SKIP_SUFFIXES):
                yield path


def _copy_folder(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copymode(source, target)  # e.g. the plan seeds' 0700
    for path in _iter_files(source):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


def _hash_folder(folder: Path) -> dict[str, str]:
    """Relative POSIX path -> SHA-256 for every file under `folder` except the manifest."""
    out = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if rel != MANIFEST_NAME:
                out[rel] = sha256_file(path)
    return out


# --- backup --------------------------------------------------------------------------------

def _run_pg_dump(dump: Path) -> None:
    """Run pg_dump into `dump`; the password goes to the child's environment only."""
    command = compute_pg_dump_command(_pg_target(), str(dump))
    env = dict(os.environ)
    if db.engine.url.password:
        env["PGPASSWORD"] = db.engine.url.password
    try:
        done = subprocess.run(shlex.split(command), env=env, capture_output=True, text=True,  # noqa: S603 - our own command line
                              check=False)
    except FileNotFoundError:
        raise BackupError("pg_dump is not installed (or not on PATH).") from None
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[-1000:]}")


def create_backup(path: Path, run_pg_dump: bool = False) -> BackupResult:
    """Write a backup into the new folder `path` (never over an existing one); on PostgreSQL
    with `run_pg_dump`, the dump is taken first and covered by the manifest."""
    target = path.absolute()
    if target.exists() or target.is_symlink():
        raise BackupError(f"{target} exists already; a backup is written into a new folder. "
                          "Choose another path.")
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist.")
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                 dir=target.parent))
    try:
        source = _sqlite_path()
        if source is not None:
            _snapshot_sqlite(source, work / DATABASE_NAME)
            revision, counts, head, entries = _describe_sqlite(work / DATABASE_NAME)
        else:
            if run_pg_dump:
                _run_pg_dump(work / DUMP_NAME)
            revision, counts, head, entries = _describe_live()
        for key, name in FILE_FOLDERS.items():
            _copy_folder(Path(current_app.config[key]), work / name)
        manifest = Manifest(
            created_at=_iso_utc(utcnow()), engine="sqlite" if source else "postgresql",
            revision=revision, row_counts=counts, audit_head_hash=head,
            audit_entries=entries, files=_hash_folder(work),
            database_file=DATABASE_NAME if source else DUMP_NAME if run_pg_dump else None)
        (work / MANIFEST_NAME).write_text(compute_manifest_json(manifest), encoding="utf-8")
        _fsync(work / MANIFEST_NAME)
        if target.exists():
            raise BackupError(f"{target} appeared while the backup was written; not replaced.")
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if source is not None or run_pg_dump:
        return BackupResult(target, manifest)
    dump = str(target / DUMP_NAME)
    return BackupResult(target, manifest, compute_pg_dump_command(_pg_target(), dump),
                        compute_pg_restore_command(_pg_target(), dump))


# --- restore -------------------------------------------------------------------------------

def check_backup(path: Path) -> Manifest:
    """Read the manifest and check every file's hash (and the SQLite copy); raise BackupError."""
    folder = path.absolute()
    if not (folder / MANIFEST_NAME).is_file():
        raise BackupError(f"{folder} is not a Labelkeeper backup: it has no {MANIFEST_NAME}.")
    try:
        manifest = parse_manifest((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (ManifestError, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, ManifestError) else "It is not UTF-8 text."
        raise BackupError(f"The backup's manifest is unusable: {message} "
                          "Nothing was restored.") from None
    # Unless `backup --pg-dump` ran it, pg_dump writes its dump after the manifest.
    actual = {k: v for k, v in _hash_folder(folder).items()
              if not (manifest.engine == "postgresql" and manifest.database_file is None
                      and k == DUMP_NAME)}
    problems = compute_file_problems(manifest.files, actual)
    if problems:
        raise BackupError("The backup was changed or damaged since it was written, so nothing "
                          "was restored:\n  " + "\n  ".join(problems))
    if manifest.engine == "sqlite" and manifest.database_file is not None:
        with closing(sqlite3.connect(f"file:{folder / manifest.database_file}?mode=ro",
                                     uri=True)) as conn:
            try:
                (result,) = conn.execute("PRAGMA integrity_check").fetchone()
            except sqlite3.DatabaseError as exc:
                result = str(exc)
        if result != "ok":
            raise BackupError(f"The backup's database failed its integrity check ({result}); "
                              "nothing was restored.")
        described = _describe_sqlite(folder / manifest.database_file)
        if described != (manifest.revision, dict(manifest.row_counts),
                         manifest.audit_head_hash, manifest.audit_entries):
            raise BackupError("The backup's database does not match its manifest (revision, "
                              "row counts or audit head); nothing was restored.")
    head = code_head()
    if manifest.revision != head:
        raise BackupError(
            f"The backup's database is at schema revision {manifest.revision}, this code is at "
            f"{head}. Restore it with the Labelkeeper version that wrote it; nothing was "
            "restored.")
    return manifest


def _has_rows(path: Path) -> int:
    """Rows in a SQLite file outside reference and bookkeeping tables (0 if no file)."""
    if not path.exists():
        return 0
    _revision, counts, _head, _entries = _describe_sqlite_any(path)
    return sum(n for t, n in counts.items() if t not in _NOT_DATA)


def _describe_sqlite_any(path: Path) -> tuple[str, dict[str, int], str, int]:
    try:
        return _describe_sqlite(path)
    except (sqlite3.DatabaseError, BackupError):
        return "", {"unreadable": 1}, GENESIS_HASH, 0  # an unknown file counts as data


def _count_files(folder: Path) -> int:
    return sum(1 for _ in _iter_files(folder))


@contextmanager
def _scheduler_stopped() -> Iterator[None]:
    """Hold the scheduler's lock (PostgreSQL: its advisory lock; SQLite: its lock file) for
    the restore, refusing when a scheduler runs."""
    if db.engine.dialect.name == "postgresql":
        from core.scheduler import ADVISORY_LOCK_KEY

        with db.engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                {"k": ADVISORY_LOCK_KEY}).scalar():
                raise BackupError("The scheduler is running. Stop it and the web server "
                                  "before restoring; nothing was restored.")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
        return
    lock = FileLock(current_app.config["SCHEDULER_LOCK_FILE"])
    Path(current_app.config["SCHEDULER_LOCK_FILE"]).parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise BackupError("The scheduler is running. Stop it and the web server before "
                          "restoring; nothing was restored.") from None
    try:
        yield
    finally:
        lock.release()


def _swap_folder(staged: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _replace_sqlite(staged: Path, target: Path) -> None:
    """Move the staged copy over the database, leaving no journal of the old one behind."""
    if target.exists():
        with closing(sqlite3.connect(target)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)


def restore_backup(path: Path, force: bool = False) -> Manifest:
    """Check the backup at `path` and put its database (SQLite) and files in place."""
    manifest = check_backup(path)
    folder = path.absolute()
    target_db = _sqlite_path()
    if (target_db is None) != (manifest.engine == "postgresql"):
        raise BackupError(f"This is a {manifest.engine} backup but the configured database is "
                          f"{db.engine.dialect.name}; nothing was restored.")
    folders = {name: Path(current_app.config[key]).absolute()
               for key, name in FILE_FOLDERS.items()}
    if not force:
        rows = _has_rows(target_db) if target_db is not None else 0
        files = sum(_count_files(f) for f in folders.values())
        if rows or files:
            raise BackupError(
                f"The target holds data already ({rows} rows, {files} evidence, report and "
                "seed files); restore refuses to overwrite it. Use --force to replace it.")
    with _scheduler_stopped():
        db.session.remove()
        db.engine.dispose()
        tag = uuid.uuid4().hex[:8]
        staged: list[Path] = []
        try:
            if target_db is not None:
                target_db.parent.mkdir(parents=True, exist_ok=True)
            for name, target in folders.items():
                target.parent.mkdir(parents=True, exist_ok=True)
                stage = target.with_name(f".{target.name}.restore-{tag}")
                staged.append(stage)
                _copy_folder(folder / name, stage)
            if target_db is not None and manifest.database_file is not None:
                stage_db = target_db.with_name(f".{target_db.name}.restore-{tag}")
                staged.append(stage_db)
                shutil.copyfile(folder / manifest.database_file, stage_db)
                if sha256_file(stage_db) != manifest.files[manifest.database_file]:
                    raise BackupError("The database copy changed while it was staged; "
                                      "nothing was restored.")
                _fsync(stage_db)
            for target in folders.values():
                _swap_folder(target.with_name(f".{target.name}.restore-{tag}"), target)
            if target_db is not None:
                _replace_sqlite(target_db.with_name(f".{target_db.name}.restore-{tag}"),
                                target_db)
        finally:
            for stage in staged:
                if stage.is_dir():
                    shutil.rmtree(stage, ignore_errors=True)
                else:
                    stage.unlink(missing_ok=True)
            db.engine.dispose()
    return manifest


# --- commands ------------------------------------------------------------------------------

def _summary(manifest: Manifest) -> str:
    return (f"{len(manifest.row_counts)} tables, {manifest.total_rows} rows; "
            f"{manifest.count_files('evidence')} evidence files, "
            f"{manifest.count_files('reports')} report files, "
            f"{manifest.count_files('plan-seeds')} plan seeds; audit trail "
            f"{manifest.audit_entries} entries, head {manifest.audit_head_hash}")


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--pg-dump", "run_pg_dump", is_flag=True,
              help="PostgreSQL: run pg_dump into the backup first (else print the command).")
@with_appcontext
def backup_command(path: Path, run_pg_dump: bool) -> None:
    """Back up the database, evidence, reports and plan seeds into the new folder PATH."""
    try:
        result = create_backup(path, run_pg_dump=run_pg_dump and _sqlite_path() is None)
    except BackupError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Backup written to {result.path}: {_summary(result.manifest)}.")
    if result.manifest.database_file == DUMP_NAME:
        click.echo(f"The database dump is {result.path / DUMP_NAME}.")
    if result.pg_dump:
        click.echo("The PostgreSQL database itself is dumped by pg_dump. Run now (the password "
                   "comes from PGPASSWORD or ~/.pgpass):")
        click.echo(f"  {result.pg_dump}")
    if result.manifest.engine == "postgresql":
        click.echo("To restore the database later (web server and scheduler stopped):")
        click.echo(f"  {compute_pg_restore_command(_pg_target(), str(result.path / DUMP_NAME))}")


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace a database and files that hold data.")
@with_appcontext
def restore_command(path: Path, force: bool) -> None:
    """Check the backup in PATH and restore it over the configured database and files."""
    try:
        manifest = restore_backup(path, force=force)
    except BackupError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Restored the backup of {manifest.created_at}: {_summary(manifest)}.")
    if manifest.engine == "postgresql":
        dump = str(path.absolute() / DUMP_NAME)
        click.echo("Evidence and report files restored. Restore the database with:")
        click.echo(f"  {compute_pg_restore_command(_pg_target(), dump)}")
    click.echo("Check it with: flask --app app audit verify")


def register_cli(app: Flask) -> None:
    """Attach the `backup` and `restore` commands."""
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
