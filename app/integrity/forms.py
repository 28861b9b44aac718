from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length, Optional

from ..forms_common import length_message
from .services import TEXT_MAX


class ExplainForm(FlaskForm):
    """The unit's explanation of a flag."""

    version = HiddenField()
    explanation = TextAreaField(_l("情况说明"), validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])


class FlagDecisionForm(FlaskForm):
    """The office dismisses or confirms a flag (the button pressed says which)."""

    version = HiddenField()
    note = TextAreaField(_l("处理意见"), validators=[Optional(), Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
