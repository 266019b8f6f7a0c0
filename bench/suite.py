"""The whole benchmark suite on one fleet database, every figure printed beside its target.

    .venv/bin/python bench/suite.py        # SQLite: instance/bench-fleet.sqlite3
    .venv/bin/python bench/suite.py --database-url \
        postgresql+psycopg://postgres@127.0.0.1:5432/lk_fleet
    make bench                             # the first; BENCH_DATABASE_URL=... for the second

1. Builds the fleet (`flask --app app demo fleet --sellers 3000 --years 3 --seed 7`, after
   `flask --app app db upgrade`) when the database has no sellers, and times it; otherwise
   upgrades the schema and reuses the fleet that is there. A PostgreSQL database named in
   the URL is created if missing.
2. Runs `bench/bench_core.py` (evaluation vs the bare scan, planning, incremental decision
   with 10 and 1,000 orders of history, CSV export), `bench/bench_pages.py` (wrk against
   `gunicorn -w 2`, 8 connections, worker RSS), `bench/bench_reports.py` (dossier with 60
   orders, period report for 3,000 sellers, on a database of its own) and
   `bench/bench_planning.py` (planning a month for 3,000 sellers with posteriors, on a
   SQLite database of its own) as child processes, each writing its figures as JSON.
3. Prints one table (figure, measured, target, met/MISSED) and writes it, with the machine
   and the commands, to `bench/results/<sqlite|postgresql>.md`; exits 1 if a target was
   missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FLASK = str(Path(PYTHON).parent / "flask")
DEFAULT_URL = f"sqlite:///{ROOT / 'instance' / 'bench-fleet.sqlite3'}"


@dataclass(frozen=True)
class Figure:
    """One measured figure against its target."""

    number: str
    what: str
    measured: str
    target: str
    met: bool


def child_env(url: str, seeds: Path) -> dict[str, str]:
    """Environment of the flask and benchmark child processes."""
    env = dict(os.environ)
    env.update(FLASK_SECRET_KEY="bench", DATABASE_URL=url,  # noqa: S106 - local bench only
               FLASK_SQLALCHEMY_DATABASE_URI=url, FLASK_PLAN_SEED_DIR=str(seeds))
    return env


def run(cmd: list[str], env: dict[str, str], timeout: int) -> None:
    """Run a child with its output shown as it comes; stop the suite if it fails."""
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=timeout)  # noqa: S603


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it does not exist."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": parsed.database}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def seller_count(url: str) -> int:
    """Sellers in the database (0 when it is not migrated yet)."""
    engine = create_engine(url)
    try:
        if not inspect(engine).has_table("sellers"):
            return 0
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM sellers")).scalar_one())
    finally:
        engine.dispose()


def build_fleet(args: argparse.Namespace, env: dict[str, str]) -> float | None:
    """Build the fleet if the database is empty; its build time, or None when reused."""
    ensure_database(args.database_url)
    run([FLASK, "--app", "app", "db", "upgrade"], env, 600)  # a reused fleet gets new tables too
    sellers = seller_count(args.database_url)
    if sellers:
        print(f"reusing the fleet in the database ({sellers} sellers)", flush=True)
        return None
    started = time.perf_counter()
    run([FLASK, "--app", "app", "demo", "fleet", "--sellers", str(args.sellers),
         "--years", str(args.years), "--seed", str(args.seed)], env, 1800)
    return time.perf_counter() - started


def figures(build_s: float | None, core: dict, pages: dict | None,  # type: ignore[type-arg]
            reports: dict | None,  # type: ignore[type-arg]
            planning: dict | None = None) -> list[Figure]:  # type: ignore[type-arg]
    """The table of figures against the targets of the performance issue."""
    out = []
    if build_s is not None:
        out.append(Figure("fleet", "fleet build (3,000 sellers x 3 years)", f"{build_s:.1f} s",
                          "< 300 s", build_s < 300))
    out.append(Figure("1", "full-fleet evaluation (median)", f"{core['evaluation_s']:.3f} s",
                      "<= 3 s", core["evaluation_s"] <= 3))
    out.append(Figure("1", f"evaluation / bare ordered scan ({core['scan_s']:.3f} s)",
                      f"{core['ratio']:.2f}x", "<= 3x", core["ratio"] <= 3))
    for row in core["submit"]:
        out.append(Figure("2", f"submit + decision, {row['history']} orders of history "
                          "(median)", f"{row['median_ms']:.1f} ms", "< 20 ms",
                          row["median_ms"] < 20))
    short, long_ = core["submit"][0]["median_ms"], core["submit"][-1]["median_ms"]
    out.append(Figure("2", "1,000 vs 10 orders of history", f"{long_ / short:.2f}x",
                      "flat (< 1.5x)", long_ / short < 1.5))
    out.append(Figure("3", f"planning {core['period']} for the fleet (median)",
                      f"{core['planning_s']:.3f} s", "< 2 s", core["planning_s"] < 2))
    if planning is not None:
        out.append(Figure("3", f"planning a month for {planning['sellers']:,} sellers with "
                          "posteriors and signals, SQLite (median; CPU "
                          f"{planning['cpu_s']:.3f} s)", f"{planning['median_s']:.3f} s",
                          "< 2 s", planning["median_s"] < 2))
    if pages is not None:
        for page in pages["pages"]:
            out.append(Figure("4", f"p95 {page['name']} ({page['errors']} errors)",
                              f"{page['p95_ms']:.1f} ms", "< 150 ms, 0 errors",
                              page["p95_ms"] < 150 and page["errors"] == 0))
        for pid, rss in sorted(pages["rss_after_mb"].items()):
            out.append(Figure("6", f"worker {pid} RSS after the load", f"{rss:.1f} MB",
                              "< 250 MB", rss < 250))
    if reports is not None:
        out.append(Figure("5", f"seller dossier, 60 orders ({reports['dossier_pages']} pages)",
                          f"{reports['dossier_s']:.2f} s", "< 3 s", reports["dossier_s"] < 3))
        out.append(Figure("5", "dossier overhead over WeasyPrint alone",
                          f"{reports['dossier_overhead_pct']:.1f} %", "< 15 %",
                          reports["dossier_overhead_pct"] < 15))
        out.append(Figure("5", "period report, 3,000 sellers", f"{reports['period_s']:.2f} s",
                          "< 60 s", reports["period_s"] < 60))
        out.append(Figure("5", "period report peak RSS", f"{reports['period_peak_rss_mb']:.0f} MB",
                          "< 500 MB", reports["period_peak_rss_mb"] < 500))
    out.append(Figure("7", f"CSV export, {core['export_rows']:,} inspections "
                      f"({core['export_mb']:.1f} MB)", f"{core['export_s']:.2f} s", "< 10 s",
                      core["export_s"] < 10))
    out.append(Figure("7", "CSV export peak Python memory", f"{core['export_peak_mb']:.1f} MB",
                      "flat (< 50 MB)", core["export_peak_mb"] < 50))
    return out


def table(rows: list[Figure]) -> str:
    """A Markdown table of the figures."""
    lines = ["| # | figure | measured | target | |", "|---|---|---:|---|---|"]
    lines += [f"| {f.number} | {f.what} | {f.measured} | {f.target} | "
              f"{'met' if f.met else 'MISSED'} |" for f in rows]
    return "\n".join(lines)


def machine() -> str:
    """CPU, cores, memory and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))
        memory = f"{mem_kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration):
        memory = "memory unknown"
    return (f"{os.cpu_count()} CPUs ({cpu}), {memory}, Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.2f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or DEFAULT_URL)
    parser.add_argument("--sellers", type=int, default=3000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page-seconds", type=int, default=10,
                        help="seconds of wrk load per page")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-reports", action="store_true")
    parser.add_argument("--skip-planning", action="store_true")
    args = parser.parse_args()
    dialect = make_url(args.database_url).get_backend_name()
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="labelkeeper-suite-") as tmp:
        work = Path(tmp)
        env = child_env(args.database_url, ROOT / "instance" / f"bench-seeds-{dialect}")
        build_s = build_fleet(args, env)
        run([PYTHON, "bench/bench_core.py", "--database-url", args.database_url,
             "--json", str(work / "core.json")], env, 1800)
        core = json.loads((work / "core.json").read_text())
        pages = reports = None
        if not args.skip_pages:
            run([PYTHON, "bench/bench_pages.py", "--database-url", args.database_url,
                 "--duration", str(args.page_seconds), "--json", str(work / "pages.json")],
                env, 1800)
            pages = json.loads((work / "pages.json").read_text())
        if not args.skip_reports:
            run([PYTHON, "bench/bench_reports.py", "--json", str(work / "reports.json")],
                env, 1800)
            reports = json.loads((work / "reports.json").read_text())
        planning = None
        if not args.skip_planning:
            run([PYTHON, "bench/bench_planning.py", "--json", str(work / "planning.json")],
                env, 1800)
            planning = json.loads((work / "planning.json").read_text())
    rows = figures(build_s, core, pages, reports, planning)
    report = "\n".join([
        f"# Benchmark suite on {dialect}",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"Command: `{Path(PYTHON).name} bench/suite.py --database-url "
        f"{make_url(args.database_url).render_as_string(hide_password=True)}"
        f"{' --skip-pages' if args.skip_pages else ''}"
        f"{' --skip-reports' if args.skip_reports else ''}"
        f"{' --skip-planning' if args.skip_planning else ''}` "
        f"({'fleet built in this run' if build_s is not None else 'fleet reused'}; "
        f"{core['sellers']} sellers, {core['inspections']:,} inspections; "
        f"{args.page_seconds} s of load per page).",
        "",
        table(rows),
        ""])
    print("\n" + report)
    out = ROOT / "bench" / "results" / f"{dialect}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print(f"written to {out.relative_to(ROOT)}")
    sys.exit(0 if all(f.met for f in rows) else 1)


if __name__ == "__main__":
    main()
