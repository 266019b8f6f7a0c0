"""Scanning collected log output for secrets that must never be logged (used by conftest)."""

from __future__ import annotations

from collections.abc import Iterable

# Shorter values would match ordinary words; every secret the suite registers is longer.
MIN_SECRET_LENGTH = 8


def mask(secret: str) -> str:
    """Enough of a secret to recognise it in a failure message, not enough to reuse it."""
    return secret[:3] + "…" + f"({len(secret)} chars)"


def find_leaks(text: str, secrets: Iterable[str]) -> list[str]:
    """One line per secret found in `text`: the masked secret and the first line holding it."""
    lines = text.splitlines()
    leaks = []
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}):
        if secret in text:
            number = next((i for i, line in enumerate(lines, 1) if secret in line), 0)
            leaks.append(f"{mask(secret)} in log line {number}")
    return leaks
