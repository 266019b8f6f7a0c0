"""Forms for reviews, appeals and corrective-action plans, reinstatement and revocation, and
buyer identities."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

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


class BuyerIdentityForm(FlaskForm):
    name = StringField("Name", validators=[
        InputRequired(message="Give the buyer's name."), Length(max=120)],
        description="As sellers see it on an order; each test order records it.")
    address = TextAreaField("Shipping address", validators=[
        InputRequired(message="Give the shipping address."), Length(max=1000)],
        description="One line per address line, the country last.")
    payment_reference = StringField("Payment reference", validators=[
        InputRequired(message="Give the payment reference."), Length(max=64)],
        description='Masked, such as "card ****1234"; never a full card or account number.')
    submit = SubmitField("Add to the pool")


class BuyerIdentityEditForm(BuyerIdentityForm):
    version = version_field()
    submit = SubmitField("Save changes")


NO_SELLER = ""


class BuyerRetireForm(FlaskForm):
    """Retire an identity; the choices of `flagged_by` (sellers the identity bought from) are
    set by the view."""

    reason = TextAreaField("Reason", validators=[
        InputRequired(message="Give the reason for retiring this identity."), Length(max=5000)],
        description="For example how the seller showed that it recognised the buyer.")
    flagged_by = SelectField("Flagged by", default=NO_SELLER,
                             choices=[SelectChoice(NO_SELLER, "No seller / not known")],
                             description="Sellers this identity has bought from.")
    flagged_by_number = IntegerField("Or another seller's number", validators=[
        Optional(), NumberRange(min=1, max=2**31 - 1, message="Not a seller number.")])
    irreversible = BooleanField("I understand that a retired identity is never used again and "
                                "cannot be reactivated", validators=[
        DataRequired(message="Tick the box to confirm: retiring cannot be undone.")])
    version = version_field()
    submit = SubmitField("Retire for good")

    def validate_flagged_by_number(self, field: IntegerField) -> None:
        chosen = self.flagged_by.data or NO_SELLER
        if field.data is not None and chosen != NO_SELLER and chosen != str(field.data):
            raise ValidationError("Choose a seller in the list or give a number, not both.")

    def flagging_seller_id(self) -> int | None:
        """The seller chosen in the list, or else the number typed, or None."""
        chosen = self.flagged_by.data or NO_SELLER
        return int(chosen) if chosen != NO_SELLER else self.flagged_by_number.data
