"""Forms for listings, the sampling plan, test orders and inspections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.forms import version_field
from qc.models import Checkpoint
from qc.orders import FAILURE_SIDE_LABELS, Disposition, PackageCondition
from qc.scoring import GRADE_ORDER


class NumberField(DecimalField):
    """A decimal number that is finite and has at most ``places`` decimals.

    ``Decimal`` also reads "sNaN", which WTForms' NumberRange cannot compare (a 500), and
    "Infinity"; more decimals than the field shows would be cut off silently when stored.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if not valuelist or self.data is None:
            return
        if not self.data.is_finite():
            self.data = None
            raise ValueError("Not a valid number.")
        _, digits, exponent = self.data.as_tuple()
        assert isinstance(exponent, int)  # noqa: S101 - finite numbers have an int exponent
        while exponent < 0 and digits and digits[-1] == 0:  # 450.10 has one decimal
            digits, exponent = digits[:-1], exponent + 1
        if not any(digits):
            exponent = 0
        if isinstance(self.places, int) and -exponent > self.places:
            self.data = None
            raise ValueError(f"Give at most {self.places} decimals.")


def _version() -> IntegerField:
    return version_field()


def _rate(label: str) -> NumberField:
    return NumberField(label, places=2, validators=[
        InputRequired(), NumberRange(min=0, max=31, message="Between 0 and 31 a month.")])


def _probability(label: str) -> NumberField:
    return NumberField(label, places=4, validators=[
        InputRequired(), NumberRange(min=0, max=1, message="A probability between 0 and 1.")])


class ListingImportForm(FlaskForm):
    file = FileField("CSV file (UTF-8)", validators=[FileRequired("Choose a CSV file.")])
    submit = SubmitField("Check and import")


class SignalImportForm(FlaskForm):
    file = FileField("CSV file (UTF-8)", validators=[FileRequired("Choose a CSV file.")])
    submit = SubmitField("Check and import")


class SamplingSettingsForm(FlaskForm):
    # The rules (budget at least the floor's cost, floor at most 1, a reason with an
    # override...) live in plan_settings.check_allocation; the form checks shape only.
    budget_orders = IntegerField("Monthly budget (test orders)", validators=[
        InputRequired(), NumberRange(min=0, max=100_000)],
        description="Never exceeded: the plan shares these orders out by risk.")
    budget_eur = NumberField("Monthly budget (euros)", places=2, validators=[
        InputRequired(), NumberRange(min=0, max=100_000_000)],
        description="Whichever budget binds first decides; orders over it are cut, the "
                    "least valuable first.")
    floor_rate = NumberField("Floor (orders a month per seller)", places=4,
                             validators=[InputRequired()],
                             description="Every seller in force keeps this expected rate, "
                                         "so nobody is untestable.")
    block_max = IntegerField("Block size (orders)", validators=[InputRequired()],
                             description="The most orders one seller gets beyond the floor "
                                         "in a month.")
    min_auc = NumberField("Signal's minimum AUC", places=3, validators=[InputRequired()],
                          description="Returns and claims sharpen the allocation only when "
                                      "they predict verdicts at least this well.")
    h_override = NumberField("Override the threshold h", places=2, validators=[Optional()],
                             description="Leave empty to use the budget's choice.")
    h_reason = TextAreaField("Reason for the override", validators=[Optional(),
                                                                     Length(max=2000)])
    rate_onboarding = _rate("Onboarding")
    rate_normal = _rate("Normal")
    rate_reduced = _rate("Reduced")
    rate_tightened = _rate("Tightened (also probation)")
    p0 = _probability("Acceptable defect rate p0")
    p1 = _probability("Rejectable defect rate p1")
    alpha = _probability("alpha (chance of suspending a seller at p0)")
    beta = _probability("beta (chance of missing a seller at p1)")
    preview = SubmitField("Preview")
    submit = SubmitField("Save settings")


class PlaceOrderForm(FlaskForm):
    marketplace_ref = StringField("Marketplace order reference",
                                  validators=[DataRequired(), Length(max=64)])
    price_paid = NumberField("Price paid (euros)", places=2, validators=[
        InputRequired(), NumberRange(min=0.01, max=100_000)])
    buyer_account = StringField("Buyer account", validators=[DataRequired(), Length(max=120)])
    version = _version()
    submit = SubmitField("Record as placed")


class ReceiveOrderForm(FlaskForm):
    received_on = DateField("Arrived on", validators=[InputRequired()])
    package_condition = SelectField("Package condition", choices=[
        SelectChoice(c.value, c.value) for c in PackageCondition])
    version = _version()
    submit = SubmitField("Record arrival")


class ReasonForm(FlaskForm):
    """Cancel an order, or report it lost: why, and on whose side."""

    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])
    side = RadioField("Whose side", choices=[
        SelectChoice(side.value, label) for side, label in FAILURE_SIDE_LABELS.items()],
        validators=[InputRequired("Say whose side the order failed on: the seller's or not.")])
    version = _version()


class CloseOrderForm(FlaskForm):
    disposition = SelectField("Device", choices=[
        SelectChoice(d.value, d.value.replace("_", " ")) for d in Disposition])
    version = _version()
    submit = SubmitField("Close order")


class CriticalDecisionForm(FlaskForm):
    decision = RadioField("Your finding on the device", choices=[
        SelectChoice("confirm", "Confirm: the critical defect is there"),
        SelectChoice("reject", "Reject: no critical defect on the device")],
        validators=[InputRequired(message="Choose confirm or reject.")])
    reason = TextAreaField("What you found (the reason)",
                           validators=[Optional(), Length(max=2000)])
    version = _version()
    submit = SubmitField("Record decision")


def checkpoint_field(code: str) -> str:
    """The form field name of a checkpoint's pass/fail choice."""
    return "cp_" + code.replace("-", "_")


class InspectionForm(FlaskForm):
    observed_grade = SelectField("Observed cosmetic grade", choices=[
        SelectChoice(g.value, g.value) for g in GRADE_ORDER])
    battery_percent = IntegerField("Battery health (%)", validators=[
        Optional(), NumberRange(min=0, max=100, message="Battery health is between 0 and 100%%.")])
    battery_cycles = IntegerField("Battery cycles", validators=[
        Optional(), NumberRange(min=0, max=100_000)])
    battery_swollen = BooleanField("Battery swollen")
    cable_missing = BooleanField("Charging cable missing")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    photos = MultipleFileField("Photos (PNG or JPEG)")
    amend_reason = TextAreaField("Reason for the amendment",
                                 validators=[Optional(), Length(max=2000)])
    version = _version()
    submit = SubmitField("Submit inspection")


def inspection_form(checkpoints: Sequence[Checkpoint], **kwargs: object) -> InspectionForm:
    """An inspection form with a pass/fail choice and a note for each checkpoint."""

    class Form(InspectionForm):
        pass

    for c in checkpoints:
        setattr(Form, checkpoint_field(c.code), RadioField(
            c.code, choices=[SelectChoice("pass", "pass"), SelectChoice("fail", "fail")],
            validators=[InputRequired(message=f"{c.code}: choose pass or fail.")]))
        setattr(Form, checkpoint_field(c.code) + "_note", StringField(
            f"{c.code} note", validators=[Optional(), Length(max=500)]))
    return Form(**kwargs)  # type: ignore[arg-type]
