"""The audit log search form (GET; filters only, so no CSRF token)."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from ..forms_common import DateText, length_message
from .queries import ENTITY_LABELS, LogFilter, action_choices


class LogSearchForm(FlaskForm):
    class Meta:
        csrf = False

    user = StringField(_l("用户名"), validators=[Optional(), Length(max=50, message=length_message(50))])
    unit = StringField(_l("单位"), validators=[Optional(), Length(max=100, message=length_message(100))])
    entity_type = SelectField(_l("对象类型"), validate_choice=False)
    entity_id = StringField(_l("对象编号"), validators=[Optional(), Length(max=40, message=length_message(40))])
    action = SelectField(_l("操作"), validate_choice=False)
    start = DateText(_l("起始日期"), validators=[Length(max=20, message=length_message(20))])
    end = DateText(_l("结束日期"), validators=[Length(max=20, message=length_message(20))])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.entity_type.choices = [SelectChoice("", gettext("（全部）")),
                                    *(SelectChoice(k, gettext(v)) for k, v in sorted(ENTITY_LABELS.items()))]
        self.action.choices = [SelectChoice(value, label) for value, label in action_choices()]

    def validate_entity_type(self, field: SelectField) -> None:
        if field.data and field.data not in ENTITY_LABELS:
            raise ValidationError(gettext("请选择列表中的对象类型。"))

    def validate_action(self, field: SelectField) -> None:
        if field.data and field.data not in {value for value, _ in action_choices()}:
            raise ValidationError(gettext("请选择列表中的操作。"))

    def validate_end(self, field: DateText) -> None:
        if field.date and self.start.date and field.date < self.start.date:
            raise ValidationError(gettext("结束日期不能早于起始日期。"))

    def validate_entity_id(self, field: StringField) -> None:
        if field.data and not self.entity_type.data:
            raise ValidationError(gettext("填写对象编号时请同时选择对象类型。"))

    def to_filter(self) -> LogFilter:
        return LogFilter(
            username=(self.user.data or "").strip() or None,
            unit_name=(self.unit.data or "").strip() or None,
            entity_type=self.entity_type.data or None,
            entity_id=(self.entity_id.data or "").strip() or None,
            action=self.action.data or None,
            start=self.start.date,
            end=self.end.date,
        )
