"""Forms for signing in and managing staff accounts, and helpers every form page shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from flask import flash
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    FieldList,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectMultipleField,
    StringField,
    SubmitField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length

from core.db import db
from core.errors import ServiceError
from core.roles import ROLE_LABELS, SCOPE_LABELS
from core.services import MIN_PASSWORD_LENGTH

ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]
SCOPE_CHOICES = [SelectChoice(scope.value, label) for scope, label in SCOPE_LABELS.items()]


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


def show_service_error(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service's refusal next to the field it names, or as a flash message."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        flash(exc.message, "danger")


STALE_FORM = "This page was out of date or incomplete; reload it and try again."


def version_field() -> IntegerField:
    """The hidden version of the record a form edits, with a message a user can act on."""
    return IntegerField(widget=widgets.HiddenInput(), invalid_value_message=STALE_FORM,
                        validators=[InputRequired(message=STALE_FORM)])


class IndexedFieldList(FieldList):
    """A FieldList that reads only ASCII digits as entry indices.

    WTForms takes any key whose index part passes ``str.isdigit``, which "²" does, and then
    fails on ``int("²")``; a hand-made post must not make a 500 of that.
    """

    def _extract_indices(self, prefix, formdata):  # type: ignore[no-untyped-def]
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split(self._field_separator, 1)[0]
                if index.isascii() and index.isdigit():
                    yield int(index)


def flash_form_errors(form: FlaskForm) -> None:
    """Flash why a form was refused, for pages that may not show that form (a decided
    application, an order past that step) or not its hidden fields."""
    for name, errors in form.errors.items():
        label = form[name].label.text if name in form else name
        for error in errors if isinstance(errors, list) else [errors]:
            text = error if label == "Version" or not isinstance(error, str) \
                else f"{label}: {error}"
            flash(f"Nothing was saved. {text}", "danger")


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Sign in")


def _password_fields() -> tuple[PasswordField, PasswordField]:
    return (
        PasswordField("Password", validators=[
            DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=256, message=(
                f"Password must be at least {MIN_PASSWORD_LENGTH} characters "
                "(and at most 256)."))]),
        PasswordField("Repeat password", validators=[
            DataRequired(), EqualTo("password", message="The two passwords differ.")]),
    )


class UserCreateForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    display_name = StringField("Display name", validators=[DataRequired(), Length(max=120)])
    roles = MultiCheckboxField("Roles", choices=ROLE_CHOICES,
                               validators=[DataRequired(message="Choose at least one role.")])
    password, confirm = _password_fields()
    submit = SubmitField("Create account")


class UserEditForm(FlaskForm):
    display_name = StringField("Display name", validators=[DataRequired(), Length(max=120)])
    roles = MultiCheckboxField("Roles", choices=ROLE_CHOICES,
                               validators=[DataRequired(message="Choose at least one role.")])
    version = version_field()
    submit = SubmitField("Save changes")


class PasswordResetForm(FlaskForm):
    password, confirm = _password_fields()
    submit = SubmitField("Set password")


class ConfirmForm(FlaskForm):
    """An empty form: a button that posts with a CSRF token."""

    next = HiddenField()
    submit = SubmitField("Confirm")


class ApiTokenCreateForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=64)],
                       description="Who uses it, e.g. marketplace-onboarding; never reused.")
    scopes = MultiCheckboxField("Scopes", choices=SCOPE_CHOICES,
                                validators=[DataRequired(message="Choose at least one scope.")])
    submit = SubmitField("Create token")
