from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..forms_common import length_message
from .models import OUTCOME_LABELS
from .services import TEXT_MAX, TITLE_MAX


class CaseOpenForm(FlaskForm):
    title = StringField(_l("案件名称"), validators=[Length(max=TITLE_MAX, message=length_message(TITLE_MAX))])
    basis = TextAreaField(_l("立案依据"), validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])


class AskForm(FlaskForm):
    question = TextAreaField(_l("需单位说明的问题"), validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("答复"), validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])


class AttachmentForm(FlaskForm):
    file = FileField(_l("文件"))
    description = StringField(_l("说明"), validators=[Optional(), Length(max=500, message=length_message(500))])


class LinkForm(FlaskForm):
    seq = IntegerField(_l("审计日志序号"), validators=[
        InputRequired(message=_l("请填写审计日志序号（整数）。")),
        NumberRange(min=1, message=_l("序号应为正整数。")),
    ])
    note = StringField(_l("说明"), validators=[Optional(), Length(max=500, message=length_message(500))])


class CloseForm(FlaskForm):
    version = HiddenField()
    findings = TextAreaField(_l("核查结论"), validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
    outcome = SelectField(_l("处理结果"), choices=[SelectChoice("", _l("请选择")),
                                                   *(SelectChoice(k, _l(v)) for k, v in OUTCOME_LABELS.items())],
                          validators=[Optional()])
