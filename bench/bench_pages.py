"""Load benchmark of the busiest pages under `gunicorn -w 2`, measured with wrk.

    .venv/bin/python bench/bench_pages.py --database-url URL [--duration 20] [--connections 8]
                                          [--threads 2] [--workers 2] [--timeout 10]
                                          [--json PATH]

1. Starts `gunicorn -w 2 -b 127.0.0.1:<free port> 'app:create_app()'` from the project folder
   with FLASK_SECRET_KEY=bench, FLASK_SESSION_COOKIE_SECURE=false and both DATABASE_URL and
   FLASK_SQLALCHEMY_DATABASE_URI set to URL, and waits for /healthz.
2. Creates (`flask --app app users create ... --password ...`) or reuses a bench account that
   holds every role, and signs in with urllib and a cookie jar (GET /login, the form's
   csrf_token, POST) to get the session cookie. Sessions are "strong"-protected by
   Flask-Login (bound to the client address and User-Agent), so the same User-Agent is sent
   by urllib and by wrk.
3. Picks the pages from the database: the filtered, paginated seller list, the seller page of
   the seller with the most test orders, the inspector queues (to inspect, to place), the
   compliance review queue and the home dashboard. Each is fetched once (without following
   redirects) and must answer 200, so a lost session cannot pass for a fast page.
4. Runs `wrk -t2 -c<connections> -d<duration>s --latency` on each page in turn, with a Lua
   script whose done() prints p50/p95/p99, requests and errors (responses that are not 2xx,
   counted in response(), plus wrk's connect/read/write/timeout errors). Each wrk run is
   bounded by a subprocess timeout.
5. After the load, reads VmRSS (and VmHWM, the peak) of each gunicorn worker (the master's
   children) from /proc.
6. Stops gunicorn and prints the machine, a table (page, requests/s, p50, p95, p99, errors)
   and the worker RSS, with the targets (p95 < 150 ms, RSS < 250 MB) marked met or missed.
"""

from __future__ import annotations

import argparse
import html.parser
import http.cookiejar
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
USER_AGENT = "labelkeeper-bench-pages/1"
BENCH_EMAIL = "bench-pages@labelkeeper.example"
BENCH_PASSWORD = "bench-pages-load-2026"  # noqa: S105 - a throwaway account for local benches
ROLES = ("vetting", "inspector", "compliance", "admin")
SESSION_COOKIE = "labelkeeper_session"
P95_TARGET_MS = 150.0
RSS_TARGET_MB = 250.0

LUA = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d duration_s=%.3f "
    .. "non2xx=%d status=%d connect=%d read=%d write=%d timeout=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    summary.duration / 1e6, bad, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass
class PageResult:
    """One page's wrk run."""

    name: str
    path: str
    bytes: int = 0
    requests: int = 0
    duration_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    non2xx: int = 0
    socket_errors: int = 0
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors


@dataclass
class Run:
    """Everything one benchmark run measured."""

    database: str
    machine: dict[str, str]
    command: str
    data: dict[str, int] = field(default_factory=dict)
    pages: list[PageResult] = field(default_factory=list)
    rss_before_mb: dict[int, float] = field(default_factory=dict)
    rss_after_mb: dict[int, float] = field(default_factory=dict)
    hwm_after_mb: dict[int, float] = field(default_factory=dict)
    worker_boots: int = 0
    log_problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- helpers


def redact(url: str) -> str:
    """The database URL without its password."""
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20,  # noqa: S603 - fixed argv
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    lines = (out.stdout + out.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def machine_info(wrk: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "gunicorn": tool_version([str(VENV_BIN / "gunicorn"), "--version"]).removeprefix(
            "gunicorn ").strip("()").removeprefix("version "),
        "wrk": tool_version([wrk, "-v"]).split(" Copyright")[0].removeprefix("wrk "),
    }


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found; installing it with apt-get", flush=True)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True,  # noqa: S603, S607 - installs the load tool
                   timeout=600, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not available")
    return found


def bench_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "FLASK_SECRET_KEY": "bench",
        "FLASK_SESSION_COOKIE_SECURE": "false",
        "DATABASE_URL": database_url,
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "PYTHONUNBUFFERED": "1",
    })
    return env


# ---------------------------------------------------------------- data


def count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def describe_data(engine: Engine) -> dict[str, int]:
    """The sizes that matter to the pages, for the record."""
    return {
        "sellers": count(engine, "SELECT count(*) FROM sellers"),
        "sellers_DE_active": count(
            engine, "SELECT count(*) FROM sellers WHERE country = 'DE' "
                    "AND label_status = 'active'"),
        "test_orders": count(engine, "SELECT count(*) FROM test_orders"),
        "inspections": count(engine, "SELECT count(*) FROM inspections"),
        "label_events": count(engine, "SELECT count(*) FROM label_events"),
        "audit_entries": count(engine, "SELECT count(*) FROM audit_entries"),
        "pending_reviews": count(
            engine, "SELECT count(*) FROM suspension_reviews WHERE status = 'pending'"),
        "queue_inspect": count(
            engine, "SELECT count(*) FROM test_orders WHERE status = 'received'"),
        "queue_place": count(
            engine, "SELECT count(*) FROM test_orders WHERE status = 'planned' "
                    "AND planned_at <= :now", now=datetime.now(UTC).replace(tzinfo=None)),
    }


def busiest_seller(engine: Engine) -> tuple[int, int]:
    """The seller with the most test orders, and how many it has."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT seller_id, count(*) AS n FROM test_orders GROUP BY seller_id "
            "ORDER BY n DESC, seller_id LIMIT 1")).first()
        if row is not None:
            return int(row[0]), int(row[1])
        first = conn.execute(text("SELECT min(id) FROM sellers")).scalar()
    if first is None:
        raise SystemExit("the database has no sellers")
    return int(first), 0


def pages(engine: Engine) -> list[tuple[str, str]]:
    seller_id, orders = busiest_seller(engine)
    return [
        ("seller list (DE, active, page 2)",
         "/vetting/sellers?country=DE&label_status=active&page=2"),
        (f"seller page #{seller_id} ({orders} orders)", f"/vetting/sellers/{seller_id}"),
        ("inspector queue: to inspect", "/qc/orders?queue=inspect"),
        ("inspector queue: to place", "/qc/orders?queue=place"),
        ("compliance review queue", "/compliance/reviews"),
        ("home dashboard", "/"),
    ]


# ---------------------------------------------------------------- gunicorn


def start_gunicorn(env: dict[str, str], port: int, workers: int,
                   log: Path) -> subprocess.Popen[bytes]:
    cmd = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
           "app:create_app()"]
    print("$ " + " ".join(cmd[:-1]) + " 'app:create_app()'", flush=True)
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out,  # noqa: S603 - fixed argv
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path,
                 timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as resp:  # noqa: S310 - local http
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"/healthz did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop_gunicorn(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's children (its workers)."""
    children = Path(f"/proc/{master}/task/{master}/children")
    try:
        return sorted(int(p) for p in children.read_text().split())
    except OSError:
        pass
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- sign-in


class CsrfFinder(html.parser.HTMLParser):
    """The value of the first <input name="csrf_token">."""

    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name") == "csrf_token" and self.token is None:
            self.token = values.get("value")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def ensure_user(env: dict[str, str]) -> None:
    flask = str(VENV_BIN / "flask")
    listing = subprocess.run([flask, "--app", "app", "users", "list"], cwd=ROOT, env=env,  # noqa: S603 - fixed argv
                             capture_output=True, text=True, timeout=120, check=True)
    for line in listing.stdout.splitlines():
        email, _, rest = line.partition("\t")
        if email == BENCH_EMAIL:
            state, _, roles = rest.partition("\t")
            missing = set(ROLES) - set(roles.split(","))
            if state != "active" or missing:
                raise SystemExit(f"{BENCH_EMAIL} exists but is {state} / lacks {missing}")
            print(f"reusing {BENCH_EMAIL} ({roles})", flush=True)
            return
    cmd = [flask, "--app", "app", "users", "create", BENCH_EMAIL, "--name", "Bench pages",
           "--password", BENCH_PASSWORD]
    for role in ROLES:
        cmd += ["--role", role]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603 - fixed argv
                         timeout=120, check=False)
    if out.returncode != 0:
        raise SystemExit(f"users create failed:\n{out.stdout}{out.stderr}")
    print(out.stdout.strip(), flush=True)


def sign_in(base: str) -> str:
    """Sign in as the bench account; the Cookie header value of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    with opener.open(base + "/login", timeout=30) as resp:
        finder = CsrfFinder()
        finder.feed(resp.read().decode())
    if not finder.token:
        raise SystemExit("no csrf_token on /login")
    body = urllib.parse.urlencode({"email": BENCH_EMAIL, "password": BENCH_PASSWORD,
                                   "csrf_token": finder.token}).encode()
    with opener.open(base + "/login", data=body, timeout=60) as resp:
        landed = urllib.parse.urlsplit(resp.geturl()).path
    if landed == "/login":
        raise SystemExit("sign-in failed (still on /login)")
    cookies = {c.name: c.value for c in jar}
    if SESSION_COOKIE not in cookies:
        raise SystemExit(f"no {SESSION_COOKIE} cookie after sign-in")
    return f"{SESSION_COOKIE}={cookies[SESSION_COOKIE]}"


def check_page(base: str, path: str, cookie: str) -> int:
    """Fetch a page once as the bench user; it must answer 200 itself. Its size in bytes."""
    opener = urllib.request.build_opener(NoRedirect())
    request = urllib.request.Request(base + path,  # noqa: S310 - local http
                                     headers={"Cookie": cookie, "User-Agent": USER_AGENT})
    try:
        with opener.open(request, timeout=120) as resp:
            return len(resp.read())
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{path} answered {exc.code} {exc.headers.get('Location', '')}") \
            from None


# ---------------------------------------------------------------- wrk


def run_wrk(wrk: str, lua: Path, url: str, cookie: str,
            args: argparse.Namespace) -> dict[str, float]:
    cmd = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
           f"--timeout={args.timeout}s", "--latency", "-H", f"Cookie: {cookie}",
           "-H", f"User-Agent: {USER_AGENT}", "-s", str(lua), url]
    out = subprocess.run(cmd, capture_output=True, text=True,  # noqa: S603 - fixed argv
                         timeout=args.duration + args.timeout + 60, check=False)
    match = re.search(r"^BENCH (.*)$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return {k: float(v) for k, v in (kv.split("=") for kv in match.group(1).split())}


# ---------------------------------------------------------------- report


def render(run: Run, args: argparse.Namespace) -> str:
    lines = [f"database: {run.database}", "machine: " + ", ".join(
        f"{k} {v}" for k, v in run.machine.items()),
        f"command: {run.command}",
        "data: " + ", ".join(f"{k} {v}" for k, v in run.data.items()), "",
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s per page "
        f"(gunicorn -w {args.workers}):", "",
        "| page | URL | bytes | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors "
        "| p95 < 150 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for p in run.pages:
        ok = "met" if p.p95_ms < P95_TARGET_MS and p.errors == 0 else "MISSED"
        lines.append(f"| {p.name} | `{p.path}` | {p.bytes} | {p.rps:.1f} | {p.p50_ms:.1f} | "
                     f"{p.p95_ms:.1f} | {p.p99_ms:.1f} | {p.max_ms:.1f} | {p.errors} | {ok} |")
    lines += ["", "| worker pid | RSS before load MB | RSS after load MB | peak RSS (VmHWM) MB "
              "| RSS < 250 MB |", "|---:|---:|---:|---:|---|"]
    for pid, rss in sorted(run.rss_after_mb.items()):
        ok = "met" if rss < RSS_TARGET_MB else "MISSED"
        lines.append(f"| {pid} | {run.rss_before_mb.get(pid, 0):.1f} | {rss:.1f} | "
                     f"{run.hwm_after_mb.get(pid, 0):.1f} | {ok} |")
    lines += ["", f"gunicorn booted {run.worker_boots} worker(s) in all "
              f"({args.workers} expected: more means a worker died and was replaced); "
              f"{len(run.log_problems)} error line(s) in its log"]
    lines += [f"    {line}" for line in run.log_problems]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per page")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=10, help="wrk's per-request timeout, s")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    wrk = ensure_wrk()
    env = bench_env(args.database_url)
    engine = create_engine(args.database_url)
    run = Run(database=redact(args.database_url), machine=machine_info(wrk),
              command=" ".join([Path(sys.executable).name, *sys.argv]).replace(
                  args.database_url, redact(args.database_url)))
    run.data = describe_data(engine)
    targets = pages(engine)
    engine.dispose()
    print("data:", run.data, flush=True)

    ensure_user(env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        log = Path(tmp) / "gunicorn.log"
        lua = Path(tmp) / "report.lua"
        lua.write_text(LUA)
        proc = start_gunicorn(env, port, args.workers, log)
        try:
            wait_healthy(base, proc, log)
            cookie = sign_in(base)
            results = []
            for name, path in targets:
                size = check_page(base, path, cookie)
                results.append(PageResult(name=name, path=path, bytes=size))
            # Both workers have served something before the "before" RSS is read.
            for _ in range(4):
                for _name, path in targets:
                    check_page(base, path, cookie)
            workers = worker_pids(proc.pid)
            run.rss_before_mb = {pid: status_mb(pid, "VmRSS") for pid in workers}
            for result in results:
                print(f"wrk {result.path} ...", flush=True)
                stats = run_wrk(wrk, lua, base + result.path, cookie, args)
                result.requests = int(stats["requests"])
                result.duration_s = stats["duration_s"]
                result.p50_ms, result.p95_ms = stats["p50_ms"], stats["p95_ms"]
                result.p99_ms, result.max_ms = stats["p99_ms"], stats["max_ms"]
                result.non2xx = int(stats["non2xx"])
                result.socket_errors = int(stats["connect"] + stats["read"] + stats["write"]
                                           + stats["timeout"])
                print(f"  {result.rps:.1f} req/s p50 {result.p50_ms:.1f} ms "
                      f"p95 {result.p95_ms:.1f} ms p99 {result.p99_ms:.1f} ms "
                      f"errors {result.errors}", flush=True)
            run.pages = results
            workers = worker_pids(proc.pid)
            run.rss_after_mb = {pid: status_mb(pid, "VmRSS") for pid in workers}
            run.hwm_after_mb = {pid: status_mb(pid, "VmHWM") for pid in workers}
        finally:
            stop_gunicorn(proc)
            gunicorn_log = log.read_text(errors="replace").splitlines()
            run.worker_boots = sum("Booting worker" in line for line in gunicorn_log)
            run.log_problems = [line for line in gunicorn_log if re.search(
                r"ERROR|CRITICAL|WORKER TIMEOUT|Traceback|Exception", line)][:20]
    print()
    print(render(run, args))
    if args.json:
        payload = asdict(run)
        for page, result in zip(payload["pages"], run.pages, strict=True):
            page["rps"], page["errors"] = result.rps, result.errors
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
