from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..forms_common import DecimalTextField, length_message
from ..plans.models import STATUS_LABELS

TEXT_MAX = 5000
REASON_MAX = 2000


class ReportForm(FlaskForm):
    version = HiddenField()
    progress_text = TextAreaField("进展情况", validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
    problems_text = TextAreaField("存在问题", validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
    next_steps_text = TextAreaField("下步计划", validators=[Length(max=TEXT_MAX, message=length_message(TEXT_MAX))])
    revision_reason = TextAreaField("修改原因", validators=[Length(max=REASON_MAX, message=length_message(REASON_MAX))])


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
    reason = TextAreaField("退回原因", validators=[Optional(), Length(max=2000, message=length_message(2000))])


class SubmitForm(FlaskForm):
    version = HiddenField()


class AssignmentForm(FlaskForm):
    version = HiddenField()
    status = SelectField("工作状态", choices=list(STATUS_LABELS.items()),
                         validators=[InputRequired(message="请选择工作状态。")])
    progress = IntegerField("完成进度（%）", validators=[
        InputRequired(message="请填写 0–100 之间的整数。"),
        NumberRange(min=0, max=100, message="完成进度应在 0 到 100 之间。"),
    ])
    status_note = TextAreaField("情况说明", validators=[Optional(), Length(max=2000, message=length_message(2000))])


def restatement_form_class(indicator, max_abs: Decimal) -> type[FlaskForm]:
    """The form a unit files a restatement with: the new value (checked like a report figure) and why."""

    class RestatementForm(FlaskForm):
        value = DecimalTextField(f"更正后的数值（{indicator.unit}）", allow_negative=indicator.allow_negative,
                                 max_abs=max_abs)
        reason = TextAreaField("更正原因", validators=[
            InputRequired(message="请填写更正原因。"),
            Length(max=REASON_MAX, message=length_message(REASON_MAX)),
        ])

    return RestatementForm


class RestatementDecisionForm(FlaskForm):
    version = HiddenField()
    note = TextAreaField("审核意见", validators=[Optional(), Length(max=REASON_MAX, message=length_message(REASON_MAX))])


class FigureImportForm(FlaskForm):
    file = FileField("数据文件（CSV 或 Excel .xlsx）")
