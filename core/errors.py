"""Errors that services raise for input a user can correct."""

from __future__ import annotations


class ServiceError(Exception):
    """A request that breaks a rule; the message is shown to the user as is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(ServiceError):
    """The record changed since the user loaded it, or the request clashes with one that
    exists (a duplicate)."""
