"""What every page's edge shares: call a service, then commit once or roll back and say why.

A service that refuses raises `ServiceError`; the page shows its message next to the field it
names or as a flash message, and nothing of the attempt is stored. `run_service` is that
pattern for every view, `run_csv_import` its variant for the CSV import pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, overload

from flask import flash, redirect
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from core.db import db
from core.errors import ServiceError

T = TypeVar("T")
Message = str | Callable[[T], str]


@overload
def run_service(call: Callable[[], T], *, form: FlaskForm | None = None,
                success: Message[T] | None = None,
                redirect_to: Message[T]) -> Response | None: ...


@overload
def run_service(call: Callable[[], T], *, form: FlaskForm | None = None,
                success: Message[T] | None = None, redirect_to: None = None) -> T | None: ...


def run_service(call: Callable[[], T], *, form: FlaskForm | None = None,
                success: Message[T] | None = None,
                redirect_to: Message[T] | None = None) -> Response | T | None:
    """Call a service and commit, then flash `success` and redirect to `redirect_to` (each
    a text or a function of the service's result); without `redirect_to`, return the result.
    On ServiceError roll back, show the message on `form` (or flash it) and return None."""
    try:
        result = call()
    except ServiceError as exc:
        db.session.rollback()
        if form is None:
            flash(exc.message, "danger")
        else:
            show_service_error(form, exc)
        return None
    db.session.commit()
    if success is not None:
        flash(success(result) if callable(success) else success, "success")
    if redirect_to is None:
        return result
    return redirect(redirect_to(result) if callable(redirect_to) else redirect_to)


def show_service_error(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service's refusal next to the field it names, or as a flash message."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        flash(exc.message, "danger")


def flash_form_errors(form: FlaskForm) -> None:
    """Flash why a form was refused, for pages that may not show that form (a decided
    application, an order past that step) or not its hidden fields."""
    for name, errors in form.errors.items():
        label = form[name].label.text if name in form else name
        for error in errors if isinstance(errors, list) else [errors]:
            text = error if label == "Version" or not isinstance(error, str) \
                else f"{label}: {error}"
            flash(f"Nothing was saved. {text}", "danger")


class _ImportOutcome(Protocol):
    @property
    def errors(self) -> Sequence[Any]: ...


Outcome = TypeVar("Outcome", bound=_ImportOutcome)


def run_csv_import(form: FlaskForm, service: Callable[[bytes, str, Any], Outcome],
                   default_name: str, summary: Callable[[Outcome], str]) -> Outcome | None:
    """The edge of a CSV import page: hand the upload to `service`, commit only an import
    without errors (one bad row: nothing stored) and flash `summary`; the outcome, for the
    page to list the problems, or None when nothing was posted."""
    if not form.validate_on_submit():
        return None
    upload = form.file.data
    outcome = service(upload.read(), upload.filename or default_name, current_user)
    if outcome.errors:
        db.session.rollback()
    else:
        db.session.commit()
        flash(summary(outcome), "success")
    return outcome
