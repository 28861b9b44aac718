"""Forms of the ranking pages, with Chinese messages beside their fields (through Flask-Babel)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length

from ..forms_common import length_message
from .services import NOTE_MAX


class PublishForm(FlaskForm):
    period = SelectField(_l("截至报送周期"), coerce=str, validate_choice=False)
    note = TextAreaField(_l("发布说明"), validators=[Length(max=NOTE_MAX, message=length_message(NOTE_MAX))])
