"""Helpers for the soak and fault tests: fresh databases, a real gunicorn server, scheduler
processes, a small HTTP client with CSRF, a TCP proxy that can cut the database off, and the
consistency checks (statistics equal a replay, the audit chain verifies).

Durations come from the environment so that `make test` runs them in seconds and `make soak`
for minutes: SOAK_SECONDS (load per run), SOAK_INSPECTORS (simulated inspectors).
"""

from __future__ import annotations

import html.parser
import http.client
import http.cookiejar
import itertools
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flask_migrate
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url

from app import create_app
from core.audit import verify_chain
from core.db import db
from tests.conftest import TEST_PASSWORD, make_config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("DATABASE_URL")
USER_AGENT = "labelkeeper-soak/1"
_counter = itertools.count(1)


def env_number(name: str, default: float) -> float:
    """A duration or size from the environment (SOAK_SECONDS, SOAK_INSPECTORS...)."""
    return float(os.environ.get(name, default))


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             interval: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# ---------------------------------------------------------------- databases


@contextmanager
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """A new empty database for one test: a temp SQLite file, or (DATABASE_URL set) a scratch
    PostgreSQL database on the same server, named after DATABASE_URL's and dropped afterwards."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'soak.sqlite3'}"
        return
    base = make_url(PG_URL)
    name = f"{base.database}_soak{os.getpid()}_{next(_counter)}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def dirs(tmp_path: Path) -> dict[str, str]:
    """The file locations the app, its server and its scheduler share in a test."""
    return {"EVIDENCE_DIR": str(tmp_path / "evidence"),
            "PLAN_SEED_DIR": str(tmp_path / "plan-seeds"),
            "REPORT_DIR": str(tmp_path / "reports"),
            "SCHEDULER_LOCK_FILE": str(tmp_path / "scheduler.lock")}


def migrated_app(url: str, tmp_path: Path, **extra: object) -> Flask:
    """An app on `url` (test configuration), with the schema migrated to head."""
    app = create_app(make_config(url, **dirs(tmp_path), **extra))
    with app.app_context():
        flask_migrate.upgrade()
    return app


def dispose(app: Flask) -> None:
    """Close the app's session and pooled connections (before a database is dropped)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def process_env(url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a server or scheduler process on `url`."""
    env = dict(os.environ)
    env.update({f"FLASK_{k}": v for k, v in dirs(tmp_path).items()})
    env.update({"FLASK_SECRET_KEY": "soak-secret", "FLASK_SESSION_COOKIE_SECURE": "false",
                "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    return env


# ---------------------------------------------------------------- consistency


@dataclass(frozen=True)
class Consistency:
    """What a replay and the audit walk found."""

    sellers: int
    corrections: list[Any]
    chain_ok: bool
    chain_entries: int


def check_consistency(app: Flask) -> Consistency:
    """Replay every seller's history without fixing anything, and walk the audit chain."""
    from qc.services.label_decisions import evaluate_fleet

    with app.app_context():
        sellers, corrections = evaluate_fleet(fix=False)
        db.session.rollback()
        report = verify_chain()
        db.session.rollback()
    return Consistency(sellers, corrections, report.ok, report.entries)


def audit_count(app: Flask, action: str) -> int:
    """How many audit entries of one action the trail holds."""
    from sqlalchemy import func

    from core.models import AuditEntry

    with app.app_context():
        n = db.session.execute(sql_select(func.count()).select_from(AuditEntry)
                               .where(AuditEntry.action == action)).scalar_one()
        db.session.rollback()
    return int(n)


def has_uncommitted_writes(url: str) -> bool:
    """PostgreSQL: another session's open transaction has written something (has an xid)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()")).scalar())
    finally:
        engine.dispose()


# ---------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_ticks(pid: int) -> int:
    """User + system CPU ticks a process has used (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


class Server:
    """`gunicorn -w N` on 127.0.0.1 and a free port, with its log in a file."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 2,
                 timeout: int = 60) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        cmd = [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               "--timeout", str(timeout), "--graceful-timeout", "5", "app:create_app()"]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self) -> Server:
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def wait_healthy(self, timeout: float = 120.0) -> None:
        """Wait until /healthz answers 200 (the workers have booted)."""
        def healthy() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5) as resp:  # noqa: S310 - loopback
                    return resp.status == 200
            except (OSError, http.client.HTTPException):
                return False
        wait_for(healthy, timeout, "/healthz", interval=0.2)

    def workers(self) -> list[int]:
        """The master's children: the worker pids."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return sorted(int(p) for p in path.read_text().split())
        except OSError:
            return []

    def busiest_worker(self, sample: float = 0.3) -> int:
        """The worker that used the most CPU over `sample` seconds (the one busy with a
        request while the other waits)."""
        pids = self.workers()
        before = {pid: cpu_ticks(pid) for pid in pids}
        time.sleep(sample)
        return max(pids, key=lambda pid: cpu_ticks(pid) - before[pid])

    def kill_worker(self, pid: int) -> None:
        """kill -9 one worker (the master boots a new one)."""
        assert pid in self.workers(), f"{pid} is not a worker of this server"
        os.kill(pid, signal.SIGKILL)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


class Scheduler:
    """`flask --app app scheduler` as a child process whose output is collected."""

    def __init__(self, env: dict[str, str], exit_after: float | None = None) -> None:
        cmd = [sys.executable, "-m", "flask", "--app", "app", "scheduler"]
        if exit_after is not None:
            cmd += ["--exit-after", str(exit_after)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def logged(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def kill(self) -> None:
        """kill -9, as a crash or an OOM kill would."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the scheduler did not exit within {timeout:.0f} s:\n"
                                 + self.output()[-3000:]) from None
        self._reader.join(timeout=10)
        return code


# ---------------------------------------------------------------- HTTP


@dataclass
class Reply:
    """One HTTP answer as a user agent sees it (redirects are not followed)."""

    status: int
    body: str
    headers: dict[str, str]
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """A signed-in user: a cookie jar, CSRF tokens from the forms, bounded timeouts."""

    def __init__(self, base: str, timeout: float = 60.0) -> None:
        self.base = base
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def request(self, path: str, data: dict[str, str] | None = None) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=body, timeout=self.timeout) as resp:
                return Reply(resp.status, resp.read().decode(errors="replace"),
                             dict(resp.headers), time.perf_counter() - started)
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read().decode(errors="replace"), dict(exc.headers),
                         time.perf_counter() - started)

    def get(self, path: str) -> Reply:
        return self.request(path)

    def post(self, path: str, data: dict[str, str]) -> Reply:
        return self.request(path, data)

    def post_multipart(self, path: str, fields: dict[str, str],
                       files: dict[str, tuple[str, bytes, str]]) -> Reply:
        """POST a multipart/form-data form (as a browser sends a file upload)."""
        boundary = f"----soak{time.monotonic_ns()}"
        parts: list[bytes] = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                         f"\r\n\r\n{value}\r\n".encode())
        for name, (filename, content, mimetype) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                         f'filename="{filename}"\r\nContent-Type: {mimetype}\r\n\r\n'
                         .encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(  # noqa: S310 - loopback http
            self.base + path, data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=self.timeout) as resp:
                return Reply(resp.status, resp.read().decode(errors="replace"),
                             dict(resp.headers), time.perf_counter() - started)
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read().decode(errors="replace"), dict(exc.headers),
                         time.perf_counter() - started)

    def sign_in(self, email: str, password: str = TEST_PASSWORD) -> None:
        form = parse_form(self.get("/login").body)
        reply = self.post("/login", {**form.values, "email": email, "password": password})
        failed = f"sign-in of {email} failed: {reply.status} {reply.body[:500]}"
        assert reply.status == 302, failed
        assert "/login" not in reply.location, failed


@dataclass
class Form:
    """The fields of the first POST form of a page: plain values and radio choices."""

    values: dict[str, str] = field(default_factory=dict)
    radios: dict[str, list[str]] = field(default_factory=dict)


class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str | None, Form]] = []  # (action attribute, fields)
        self.form: Form | None = None
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.form = Form()
            self.forms.append((dict(attrs).get("action"), self.form))
            return
        form, name = self.form, a.get("name")
        if form is None or not name and tag != "option":
            return
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind == "radio":
                form.radios.setdefault(name, []).append(a.get("value", ""))
            elif kind == "checkbox":
                if "checked" in a:
                    form.values[name] = a.get("value", "y")
            elif kind not in ("file", "submit"):
                form.values[name] = a.get("value", "")
        elif tag == "select" and name:
            self.select = name
        elif tag == "option" and self.select:
            if self.select not in form.values or "selected" in a:
                form.values[self.select] = a.get("value", "")
        elif tag == "textarea" and name:
            self.textarea = name
            form.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.form = None

    def handle_data(self, data: str) -> None:
        if self.textarea and self.form is not None:
            self.form.values[self.textarea] += data


def parse_form(page: str, action: str | None = None) -> Form:
    """The POST form of an HTML page that posts to `action` (None: to the page itself, i.e.
    the first form with no or an empty action attribute, such as the inspection form)."""
    parser = _FormParser()
    parser.feed(page)
    for form_action, form in parser.forms:
        if (form_action or None) == (action or None):
            return form
    raise AssertionError(f"no POST form with action {action!r} on the page")


def looks_like_traceback(body: str) -> bool:
    """A Python stack trace or an unstyled server error leaked into a page."""
    return bool(re.search(r"Traceback \(most recent call last\)|File \"/|"
                          r"Internal Server Error|sqlalchemy\.exc|psycopg\.", body))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


# ---------------------------------------------------------------- a database proxy


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of a database server. `cut()` drops every
    connection and refuses new ones (closes them at once), as a server restart does;
    `restore()` lets connections through again."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.open = True
        self.closed = False
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.5)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self.open = False
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()
