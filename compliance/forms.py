"""Forms for reviews, appeals and corrective-action plans, reinstatement and revocation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from core.forms import version_field


class ReviewForm(FlaskForm):
    decision = RadioField("Decision", choices=[SelectChoice("confirm", "Confirm the suspension"),
                                               SelectChoice("overturn", "Overturn it")],
                          validators=[InputRequired(message="Choose confirm or overturn.")])
    reason = TextAreaField("Reason",
                           validators=[Optional(), Length(max=5000)])
    version = version_field()


class CaseForm(FlaskForm):
    kind = SelectField("Kind", choices=[SelectChoice("appeal", "Appeal"),
                                        SelectChoice("corrective_action",
                                                     "Corrective-action plan")])
    received_on = DateField("Received on", validators=[InputRequired()])
    summary = TextAreaField("Summary", validators=[InputRequired(), Length(max=5000)])


class CaseDecisionForm(FlaskForm):
    decision = RadioField("Decision", choices=[SelectChoice("accept", "Accept"),
                                               SelectChoice("reject", "Reject")],
                          validators=[InputRequired(message="Choose accept or reject.")])
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=5000)])
    version = version_field()


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=5000)])


class ReportForm(FlaskForm):
    kind = SelectField("Report", choices=[SelectChoice("dossier", "Seller audit dossier"),
                                          SelectChoice("period", "Period compliance report")])
    seller_id = IntegerField("Seller number (for a dossier)", validators=[
        Optional(), NumberRange(min=1, max=2**31 - 1, message="Not a seller number.")])
    date_from = DateField("From", validators=[InputRequired()])
    date_to = DateField("To", validators=[InputRequired()])


class VerifyForm(FlaskForm):
    file = FileField("Report (PDF)", validators=[FileRequired("Choose the PDF to check.")])
    submit = SubmitField("Check")


class NoticeSendAgainForm(FlaskForm):
    """Queue a dead or sent notice once more (the CSRF token is the whole form)."""
