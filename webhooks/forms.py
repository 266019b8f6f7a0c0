"""Forms for registering webhook endpoints."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional


class WebhookEndpointCreateForm(FlaskForm):
    url = StringField("URL", validators=[DataRequired(), Length(max=500)],
                      description="Where the marketplace receives events, e.g. "
                                  "https://marketplace.example/hooks/labelkeeper")
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Register endpoint")
