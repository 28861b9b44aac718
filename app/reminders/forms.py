"""Forms of the reminder pages, with Chinese messages beside their fields (translated through Flask-Babel)."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from ..forms_common import DateText, length_message
from .services import MESSAGE_MAX, REASON_MAX

SCOPE_LABELS = {"assignment": _l("仅本单位本事项"), "period": _l("该周期全部事项")}


class DueOverrideForm(FlaskForm):
    period_id = SelectField(_l("报送周期"), coerce=int, validate_choice=False)
    scope = RadioField(_l("调整范围"), choices=[SelectChoice(k, v) for k, v in SCOPE_LABELS.items()], default="assignment",
                       validators=[InputRequired(message=_l("请选择调整范围。"))])
    due = DateText(_l("新的截止日期"), description=_l("年-月-日，例如 2025-12-05"))
    reason = TextAreaField(_l("调整原因"), validators=[Length(max=REASON_MAX, message=length_message(REASON_MAX))])
    action = StringField(default="set")  # the button pressed: set | clear

    def validate_period_id(self, field) -> None:
        if field.data not in {choice.value for choice in field.choices or []}:
            raise ValidationError(gettext("请选择报送周期。"))


class UrgeForm(FlaskForm):
    assignment_id = HiddenField()
    period_id = HiddenField()
    message = TextAreaField(_l("催办留言"), validators=[
        InputRequired(message=_l("请填写催办留言。")), Length(max=MESSAGE_MAX, message=length_message(MESSAGE_MAX))])


class PostForm(FlaskForm):
    """A button that only needs the CSRF token (re-send, mark all read)."""
