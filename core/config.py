"""Every setting's default, in one place (pure).

`create_app` starts from `defaults()`, then reads `instance/config.py`, then environment
variables prefixed `FLASK_`, then `DATABASE_URL`, then a test's mapping; later ones win. Code
reads a setting as `current_app.config[KEY]`, never with a second default of its own. The
README's "Configuration" table describes the same settings with the same defaults.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

DEV_SECRET = "dev-only-not-secret"  # noqa: S105 - refused outside debug and testing
MB = 1024 * 1024


def defaults(instance_path: str) -> dict[str, Any]:
    """The default of every setting; files and folders are kept under `instance_path`."""
    instance = Path(instance_path)
    return {
        # ---- sessions, sign-in and requests
        # signs sessions and CSRF tokens; the app refuses to start with this value unless
        # debugging or testing
        "SECRET_KEY": DEV_SECRET,
        "SESSION_COOKIE_NAME": "labelkeeper_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": True,  # HTTPS only; set False for local http
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),  # how long a sign-in lasts
        "REMEMBER_COOKIE_DURATION": timedelta(0),  # no "remember me"
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,  # a form stays valid as long as the sign-in
        "MAX_CONTENT_LENGTH": 12 * MB,  # the largest request accepted
        "BOOTSTRAP_SERVE_LOCAL": True,  # Bootstrap from this server, not a CDN
        "PASSWORD_HASH_METHOD": "scrypt",  # Werkzeug password-hash method
        # failed sign-ins per email, and per address, within the window (seconds) before
        # further attempts are throttled
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_MAX_FAILURES_PER_IP": 30,
        "LOGIN_THROTTLE_WINDOW": 15 * 60,
        # reverse proxies whose X-Forwarded-For/-Proto are believed (1 behind one proxy)
        "TRUSTED_PROXIES": 0,
        "PER_PAGE": 25,  # rows per page in lists

        # ---- database
        # DATABASE_URL in the environment wins; PostgreSQL as postgresql+psycopg://...
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(instance / "labelkeeper.sqlite3"),
        # create_app adds the pool options for the engine; no form values in error messages
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
        "SQLITE_BUSY_TIMEOUT_MS": 15000,  # how long a SQLite writer waits for the lock

        # ---- files
        "EVIDENCE_DIR": str(instance / "evidence"),  # evidence files and photos, by SHA-256
        "EVIDENCE_MAX_BYTES": 10 * MB,  # the largest evidence file or inspection photo
        "PLAN_SEED_DIR": str(instance / "plan-seeds"),  # each open month's secret seed
        "REPORT_DIR": str(instance / "reports"),  # generated PDFs
        "SCHEDULER_LOCK_FILE": str(instance / "scheduler.lock"),  # one scheduler (SQLite)

        # ---- label decisions (README, "Label decisions in short")
        # business days (Monday to Friday) a second inspector has to confirm or reject a
        # critical finding on the device; past them it is shown as overdue and still waits
        "CRITICAL_CONFIRMATION_DAYS": 3,
        # where S restarts after an overturned suspension, as a fraction of h (0.5: h/2)
        "OVERTURN_HEAD_START": 0.5,

        # ---- reports rendered in the background (README, "Reports and exports")
        # a failed render is retried after the base delay, doubling up to the cap (with
        # jitter), and fails for good after N attempts; a render that holds its claim longer
        # than the claim timeout counts as a failed attempt
        "REPORT_MAX_ATTEMPTS": 5,
        "REPORT_RETRY_BASE_SECONDS": 60,
        "REPORT_RETRY_CAP_SECONDS": 3600,
        "REPORT_CLAIM_TIMEOUT_SECONDS": 900,

        # ---- webhooks
        "WEBHOOK_TIMEOUT_SECONDS": 5,  # an endpoint's time to answer one attempt
        # the first retry delay, doubling up to the cap (with jitter); dead after N failures
        "WEBHOOK_RETRY_BASE_SECONDS": 30,
        "WEBHOOK_RETRY_CAP_SECONDS": 3600,
        "WEBHOOK_MAX_ATTEMPTS": 12,

        # ---- seller notices and their e-mail (README, "Seller notices")
        "NOTICE_TRANSPORT": "file",  # "file" (into NOTICE_OUTBOX_DIR) or "smtp"
        "NOTICE_OUTBOX_DIR": str(instance / "outbox"),  # where "file" writes <message-id>.eml
        "NOTICE_APPEAL_DAYS": 30,  # days after a decision a seller may appeal
        "NOTICE_APPEAL_TO": "",  # where appeals go; empty: the MAIL_FROM address
        "NOTICE_MAX_ATTEMPTS": 12,  # failed attempts after which a notice is dead
        "NOTICE_RETRY_BASE_SECONDS": 30,  # the first retry delay, doubling up to the cap
        "NOTICE_RETRY_CAP_SECONDS": 3600,
        "NOTICE_CLAIM_TIMEOUT_SECONDS": 600,  # a notice left "sending" longer is sent again
        "MAIL_SERVER": "localhost",  # the SMTP server of the "smtp" transport
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,  # STARTTLS before sending
        "MAIL_USERNAME": "",  # SMTP login; none when empty
        "MAIL_PASSWORD": "",
        "MAIL_FROM": "Back Label compliance <compliance@labelkeeper.invalid>",
        "MAIL_TIMEOUT": 30,  # seconds before an SMTP connection or reply counts as failed

        # ---- API (README, "API")
        "API_TITLE": "Labelkeeper API",
        "API_VERSION": "1",
        "OPENAPI_VERSION": "3.1.0",
        "API_RATE_LIMIT": "600/minute",  # per token; `limits` syntax, several joined by ";"
        "API_RATE_LIMIT_STORAGE_URI": "memory://",  # e.g. redis://host:6379 for several workers
        "API_PAGE_SIZE": 25,  # page size without `limit` (which may ask for up to 100)

        # ---- logs (README, "Logs")
        "LOG_FORMAT": "json",  # "json": one object per line; "text": one readable line
        "LOG_LEVEL": "INFO",
    }
