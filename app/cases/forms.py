from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..forms_common import length_message
from .models import OUTCOME_LABELS
from .services import TEXT_MAX, TITLE_MAX


class CaseOpenForm(FlaskForm):
    title = StringField("案件名称", validators=[Length(max=TITLE_MAX, message=length_message(TITLE_MAX))])
    basis = TextAreaField("立案依据", validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])


class AskForm(FlaskForm):
    question = TextAreaField("需单位说明的问题", validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])


class AnswerForm(FlaskForm):
    answer = TextAreaField("答复", validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])


class AttachmentForm(FlaskForm):
    file = FileField("文件")
    description = StringField("说明", validators=[Optional(), Length(max=500, message=length_message(500))])


class LinkForm(FlaskForm):
    seq = IntegerField("审计日志序号", validators=[
        InputRequired(message="请填写审计日志序号（整数）。"),
        NumberRange(min=1, message="序号应为正整数。"),
    ])
    note = StringField("说明", validators=[Optional(), Length(max=500, message=length_message(500))])


class CloseForm(FlaskForm):
    version = HiddenField()
    findings = TextAreaField("核查结论", validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
    outcome = SelectField("处理结果", choices=[SelectChoice("", "请选择"),
                                               *(SelectChoice(k, v) for k, v in OUTCOME_LABELS.items())],
                          validators=[Optional()])
