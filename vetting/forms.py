"""Forms for sellers, imports, applications and the checklist."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.forms import IndexedFieldList, MultiCheckboxField, version_field
from vetting.checklist import ChecklistCategory, ItemResult
from vetting.validation import DEVICE_CATEGORIES, MAX_VOLUME

CATEGORY_CHOICES = [SelectChoice(c, c) for c in sorted(DEVICE_CATEGORIES)]


class SellerForm(FlaskForm):
    legal_name = StringField("Legal name", validators=[DataRequired(), Length(max=200)])
    trading_name = StringField("Trading name", validators=[Optional(), Length(max=200)])
    country = StringField("Country (ISO code, e.g. DE)",
                          validators=[DataRequired(), Length(max=2)])
    registration_number = StringField("Company registration number",
                                      validators=[DataRequired(), Length(max=64)])
    vat_id = StringField("VAT id", validators=[DataRequired(), Length(max=32)])
    contact_email = StringField("Contact email", validators=[DataRequired(), Length(max=254)])
    website = StringField("Website", validators=[Optional(), Length(max=300)])
    device_categories = MultiCheckboxField(
        "Device categories sold", choices=CATEGORY_CHOICES,
        validators=[DataRequired(message="Choose at least one device category.")])
    declared_monthly_volume = IntegerField(
        "Declared monthly volume (units)",
        validators=[InputRequired(), NumberRange(min=0, max=MAX_VOLUME)])
    submit = SubmitField("Save seller")


class SellerEditForm(SellerForm):
    version = version_field()


class SellerImportForm(FlaskForm):
    file = FileField("CSV file (UTF-8)", validators=[FileRequired("Choose a CSV file.")])
    submit = SubmitField("Check and import")


class ApplicationStatusForm(FlaskForm):
    message = TextAreaField("Message to the seller's contact",
                            validators=[Optional(), Length(max=5000)])
    version = version_field()


class ItemResultForm(FlaskForm):
    result = RadioField("Result", choices=[SelectChoice(r.value, r.value) for r in ItemResult],
                        validators=[InputRequired(message="Choose pass, fail or waived.")])
    note = TextAreaField("Note", validators=[Optional(), Length(max=5000)])
    waiver_reason = TextAreaField("Waiver reason", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Record")


class EvidenceForm(FlaskForm):
    file = FileField("Evidence (PDF, PNG or JPEG)", validators=[FileRequired("Choose a file.")])
    submit = SubmitField("Upload")


class DecisionForm(FlaskForm):
    decision = RadioField("Decision", choices=[SelectChoice("approve", "Approve"),
                                               SelectChoice("reject", "Reject")],
                          validators=[InputRequired(message="Choose approve or reject.")])
    reason = TextAreaField("Reason (required to reject)",
                           validators=[Optional(), Length(max=5000)])
    version = version_field()
    submit = SubmitField("Record decision")


class ChecklistItemForm(FlaskForm):
    class Meta:
        csrf = False  # part of ChecklistEditForm, which carries the token

    code = StringField("Code", validators=[Optional(), Length(max=20)])
    title = StringField("Title", validators=[Optional(), Length(max=200)])
    guidance = TextAreaField("Guidance", validators=[Optional(), Length(max=2000)])
    category = SelectField("Category", choices=[SelectChoice(c.value, c.value)
                                                for c in ChecklistCategory])
    required = BooleanField("Required")
    evidence_required = BooleanField("Evidence required")
    remove = BooleanField("Remove")


class ChecklistEditForm(FlaskForm):
    items = IndexedFieldList(FormField(ChecklistItemForm), min_entries=1, max_entries=100)
    note = StringField("What changed", validators=[DataRequired(), Length(max=500)])
    submit = SubmitField("Save as a new version")
