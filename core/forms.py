"""Forms for signing in and managing staff accounts."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
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

from core.errors import ServiceError
from core.roles import ROLE_LABELS, SCOPE_LABELS
from core.services import MIN_PASSWORD_LENGTH

ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]
SCOPE_CHOICES = [SelectChoice(scope.value, label) for scope, label in SCOPE_LABELS.items()]


def show_service_error(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service's refusal next to the field it names, or as a flash message."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        flash(exc.message, "danger")


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
    version = IntegerField(widget=widgets.HiddenInput(), validators=[InputRequired()])
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
