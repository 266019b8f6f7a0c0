"""Forms for signing in and managing staff accounts, and fields every form page shares."""

from __future__ import annotations

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

from core.roles import ROLE_LABELS, SCOPE_LABELS
from core.services import MIN_PASSWORD_LENGTH

ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]
SCOPE_CHOICES = [SelectChoice(scope.value, label) for scope, label in SCOPE_LABELS.items()]


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
