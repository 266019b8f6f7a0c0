"""The one scheduler process: APScheduler 3, a persistent job store, and a lock.

Only `flask --app app scheduler` runs this; web workers never do. The process first takes a
lock (a PostgreSQL advisory lock, or a file lock next to a SQLite database) so that a second
copy waits instead of running jobs twice. Every job is idempotent and also a CLI command; at
start the scheduler runs each job once to catch up on anything missed while it was down.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from filelock import FileLock, Timeout
from flask import Flask
from sqlalchemy import text

from core.db import db
from core.logs import log_context

ADVISORY_LOCK_KEY = 72_411_903  # any constant unique to Labelkeeper's scheduler
JOB_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class Job:
    """A scheduled job: what it runs and when (a cron schedule in UTC)."""

    name: str
    func: Callable[[], Any]
    cron: Mapping[str, Any]


_runtime: dict[str, Any] = {}


def run_job(name: str) -> None:
    """Run one registered job inside an app context (the job store's textual reference)."""
    app: Flask = _runtime["app"]
    job: Job = _runtime["jobs"][name]
    with app.app_context(), log_context(f"job-{name}-{uuid.uuid4().hex[:12]}"):
        app.logger.info("job %s started", name)
        try:
            result = job.func()
        except Exception:
            db.session.rollback()
            app.logger.exception("job %s failed", name)
            raise
        count = len(result) if isinstance(result, list) else result
        app.logger.info("job %s done: %s", name, count)


@contextmanager
def scheduler_lock(app: Flask, poll_seconds: float = 2.0,
                   on_wait: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the single-scheduler lock for the duration; wait while another process has it."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        try:
            told = False
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                   {"k": ADVISORY_LOCK_KEY}).scalar():
                conn.commit()
                if not told:
                    on_wait("another scheduler holds the lock; waiting for the scheduler lock")
                    told = True
                time.sleep(poll_seconds)
            conn.commit()
            yield
        finally:
            conn.close()  # ends the session, which releases the advisory lock
        return
    lock = FileLock(app.config["SCHEDULER_LOCK_FILE"])
    told = False
    while True:
        try:
            lock.acquire(timeout=0)
            break
        except Timeout:
            if not told:
                on_wait("another scheduler holds the lock; waiting for the scheduler lock")
                told = True
            time.sleep(poll_seconds)
    try:
        yield
    finally:
        lock.release()


def run_scheduler(app: Flask, jobs: list[Job], exit_after: float | None = None,
                  on_wait: Callable[[str], None] = print) -> None:
    """Take the lock, catch up on every job once, then run them on schedule until stopped."""
    Path(app.config["SCHEDULER_LOCK_FILE"]).parent.mkdir(parents=True, exist_ok=True)
    with scheduler_lock(app, on_wait=on_wait):
        _runtime.update(app=app, jobs={j.name: j for j in jobs})
        for job in jobs:
            try:
                run_job(job.name)
            except Exception:  # logged by run_job; the other jobs and the schedule go on
                app.logger.error("catch-up run of %s failed; it runs again on schedule",
                                 job.name)
        with app.app_context():
            url = db.engine.url
        scheduler = BlockingScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=url.render_as_string(
                hide_password=False), tablename=JOB_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
            timezone="UTC")
        for job in jobs:
            scheduler.add_job(f"{__name__}:run_job", trigger="cron", args=[job.name],
                              id=job.name, name=job.name, replace_existing=True, **job.cron)
        if exit_after is not None:
            timer = threading.Timer(exit_after, lambda: scheduler.shutdown(wait=False))
            timer.daemon = True
            timer.start()
        app.logger.info("scheduler started with jobs: %s", ", ".join(j.name for j in jobs))
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
