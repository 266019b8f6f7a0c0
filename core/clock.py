"""The application clock: naive UTC datetimes, replaceable in tests through config["CLOCK"]."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, has_app_context


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime (microsecond precision)."""
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            return clock()  # type: ignore[no-any-return]
    return datetime.now(UTC).replace(tzinfo=None)
