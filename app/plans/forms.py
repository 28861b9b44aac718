"""Forms of the plan draft pages: the upload, and the corrections of a draft.

The correction form is a container of what a person typed; the rules (dates, numbers,
units, what must be complete before import) are in drafts.py, which returns problems by
field path; `attach_problems` puts each next to its field."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from ..forms_common import length_message
from .drafts import DraftEdits, IndicatorEdit, Problem, TaskEdit, UnitDecision, units_to_text

COMPARATOR_CHOICES = [SelectChoice(">=", _l("≥ 以上")), SelectChoice("<=", _l("≤ 以内")), SelectChoice("~", _l("≈ 左右"))]


class UploadForm(FlaskForm):
    file = FileField(_l("方案原文"), validators=[FileRequired(message=_l("请选择要上传的文件（.docx 或 .txt）。"))])


class IndicatorRowForm(Form):
    key = HiddenField()
    name = StringField(_l("指标名称"), validators=[Length(max=200, message=length_message(200))])
    comparator = SelectField(_l("比较"), choices=COMPARATOR_CHOICES, validate_choice=False)
    target = StringField(_l("目标值"), validators=[Length(max=40, message=length_message(40))])
    unit = StringField(_l("计量单位"), validators=[Length(max=30, message=length_message(30))])
    due = StringField(_l("截止日期"), validators=[Length(max=20, message=length_message(20))])
    cumulative = BooleanField(_l("累计"), default=True)
    delete = BooleanField(_l("删除"))


class TaskForm(Form):
    title = StringField(_l("任务标题"), validators=[Length(max=200, message=length_message(200))])
    units = TextAreaField(_l("责任单位（每行一个，第一行为牵头单位）"))
    indicators = FieldList(FormField(IndicatorRowForm))


class UnitConfirmForm(Form):
    name = HiddenField()
    match = StringField(_l("对应的系统单位"), validators=[Length(max=100, message=length_message(100))])
    create = BooleanField(_l("按原文新建此单位"))


class DraftForm(FlaskForm):
    slug = StringField(_l("方案标识（id）"), validators=[Length(max=60, message=length_message(60))])
    code = StringField(_l("发文字号"), validators=[Length(max=60, message=length_message(60))])
    title = StringField(_l("方案标题"), validators=[Length(max=200, message=length_message(200))])
    issuer = StringField(_l("发文机关"), validators=[Length(max=100, message=length_message(100))])
    issued = StringField(_l("成文日期"), validators=[Length(max=20, message=length_message(20))])
    targets = FieldList(FormField(IndicatorRowForm))
    tasks = FieldList(FormField(TaskForm))
    confirm = FieldList(FormField(UnitConfirmForm))
    confirm_all_new = BooleanField(_l("其余未匹配的单位全部按原文新建"))

    def to_edits(self) -> DraftEdits:
        return DraftEdits(
            slug=self.slug.data or "", code=self.code.data or "", title=self.title.data or "",
            issuer=self.issuer.data or "", issued=self.issued.data or "",
            targets=[_indicator_edit(row.form) for row in self.targets],
            tasks=[TaskEdit(title=t.form.title.data or "", units=t.form.units.data or "",
                            indicators=[_indicator_edit(row.form) for row in t.form.indicators])
                   for t in self.tasks],
            decisions=[UnitDecision(name=c.form.name.data or "", match=c.form.match.data or "",
                                    create=bool(c.form.create.data)) for c in self.confirm],
            confirm_all_new=bool(self.confirm_all_new.data))


def _indicator_edit(row: IndicatorRowForm) -> IndicatorEdit:
    return IndicatorEdit(key=row.key.data or "", name=row.name.data or "", comparator=row.comparator.data or "",
                         target=row.target.data or "", unit=row.unit.data or "", due=row.due.data or "",
                         cumulative=bool(row.cumulative.data), delete=bool(row.delete.data))


def _row_data(ind: dict[str, Any]) -> dict[str, Any]:
    due = ind.get("due")
    return {"key": ind.get("key", ""), "name": ind.get("name", ""), "comparator": ind.get("comparator", ">="),
            "target": "" if ind.get("target") is None else str(ind.get("target")), "unit": ind.get("unit", ""),
            "due": due.isoformat() if hasattr(due, "isoformat") else str(due or ""),
            "cumulative": bool(ind.get("cumulative", True)), "delete": False}


BLANK_ROW = {"key": "", "name": "", "comparator": ">=", "target": "", "unit": "", "due": "", "cumulative": True,
             "delete": False}


def form_data(data: dict[str, Any], unconfirmed: list[str], confirmed_new: list[str]) -> dict[str, Any]:
    """The form's initial values from a stored draft: every row, plus one blank row to add an indicator."""
    issued = data.get("issued")
    return {
        "slug": data.get("id") or "", "code": data.get("code") or "", "title": data.get("title") or "",
        "issuer": data.get("issuer") or "",
        "issued": issued.isoformat() if hasattr(issued, "isoformat") else str(issued or ""),
        "targets": [_row_data(i) for i in data.get("targets") or []] + [dict(BLANK_ROW)],
        "tasks": [{"title": t.get("title") or "", "units": units_to_text(t.get("units") or []),
                   "indicators": [_row_data(i) for i in t.get("indicators") or []] + [dict(BLANK_ROW)]}
                  for t in data.get("tasks") or []],
        "confirm": [{"name": n, "match": "", "create": n in confirmed_new} for n in unconfirmed],
        "confirm_all_new": False,
    }


def add_missing_confirm_rows(form: DraftForm, unconfirmed: list[str]) -> None:
    """After a post: a row for every name that still needs a decision (names typed just now too)."""
    present = {c.form.name.data for c in form.confirm}
    for name in unconfirmed:
        if name not in present:
            form.confirm.append_entry({"name": name, "match": "", "create": False})


def attach_problems(form: DraftForm, problems: list[Problem]) -> None:
    """Each problem next to its field; what has no field goes to the top of the form."""
    for problem in problems:
        target = _field_for(form, problem.path)
        if target is None:
            form.form_errors.append(problem.message)
        else:
            target.errors = [*list(target.errors or []), problem.message]


def _field_for(form: DraftForm, path: tuple) -> Any:
    if not path:
        return None
    head = path[0]
    if head in ("slug", "code", "title", "issuer", "issued"):
        return form[head]
    if head == "confirm" and len(path) > 1:
        row = next((c for c in form.confirm if c.form.name.data == path[1]), None)
        return row.form.match if row is not None else None
    if head == "targets":
        return _row_field(form.targets, path[1:])
    if head == "tasks" and len(path) >= 3 and isinstance(path[1], int) and path[1] < len(form.tasks):
        task = form.tasks[path[1]].form
        if path[2] == "indicators":
            return _row_field(task.indicators, path[3:])
        if path[2] in ("title", "units"):
            return task[path[2]]
    return None


def _row_field(rows: FieldList, rest: tuple) -> Any:
    if len(rest) >= 2 and isinstance(rest[0], int) and rest[0] < len(rows):
        row = rows[rest[0]].form
        if rest[1] in ("name", "comparator", "target", "unit", "due"):
            return row[rest[1]]
    return None
