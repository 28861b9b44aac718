from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..forms_common import DecimalTextField, length_message
from ..plans.models import STATUS_LABELS

TEXT_MAX = 5000
REASON_MAX = 2000


class ReportForm(FlaskForm):
    version = HiddenField()
    progress_text = TextAreaField(_l("进展情况"), validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
    problems_text = TextAreaField(_l("存在问题"), validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
    next_steps_text = TextAreaField(_l("下步计划"), validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
    revision_reason = TextAreaField(_l("修改原因"), validators=[Length(max=REASON_MAX, message=length_message(REASON_MAX))])


def report_form_class(indicators, max_abs: Decimal) -> type[ReportForm]:
    """A ReportForm with one decimal field per indicator the unit reports (figure_<id>)."""
    attrs = {}
    for ind in indicators:
        attrs[f"figure_{ind.id}"] = DecimalTextField(
            f"{ind.name}（{ind.unit}）", allow_negative=ind.allow_negative, max_abs=max_abs
        )
    return type("DynamicReportForm", (ReportForm,), attrs)


class DecisionForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField(_l("退回原因"), validators=[Optional(), Length(max=2000, message=length_message(2000))])


class SubmitForm(FlaskForm):
    version = HiddenField()


class AssignmentForm(FlaskForm):
    version = HiddenField()
    status = SelectField(_l("工作状态"), choices=[SelectChoice(k, _l(v)) for k, v in STATUS_LABELS.items()],
                         validators=[InputRequired(message=_l("请选择工作状态。"))])
    progress = IntegerField(_l("完成进度（%）"), validators=[
        InputRequired(message=_l("请填写 0–100 之间的整数。")),
        NumberRange(min=0, max=100, message=_l("完成进度应在 0 到 100 之间。")),
    ])
    status_note = TextAreaField(_l("情况说明"), validators=[Optional(), Length(max=2000, message=length_message(2000))])


def restatement_form_class(indicator, max_abs: Decimal) -> type[FlaskForm]:
    """The form a unit files a restatement with: the new value (checked like a report figure) and why."""

    class RestatementForm(FlaskForm):
        value = DecimalTextField(_l("更正后的数值（%(unit)s）", unit=indicator.unit), allow_negative=indicator.allow_negative,
                                 max_abs=max_abs)
        reason = TextAreaField(_l("更正原因"), validators=[
            InputRequired(message=_l("请填写更正原因。")),
            Length(max=REASON_MAX, message=length_message(REASON_MAX)),
        ])

    return RestatementForm


class RestatementDecisionForm(FlaskForm):
    version = HiddenField()
    note = TextAreaField(_l("审核意见"), validators=[Optional(), Length(max=REASON_MAX, message=length_message(REASON_MAX))])


class FigureImportForm(FlaskForm):
    file = FileField(_l("数据文件（CSV 或 Excel .xlsx）"))
