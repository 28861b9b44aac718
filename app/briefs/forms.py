"""Forms of the brief pages, with Chinese messages beside their fields (translated through Flask-Babel)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


class IssueForm(FlaskForm):
    """Issue a brief: the plan, the kind and the period. The choices are checked by the service (a period of
    another plan or of the wrong kind gets its message beside the field)."""

    plan = SelectField(_l("实施方案"), coerce=_int_or_none, validate_choice=False)
    kind = SelectField(_l("简报类型"), choices=[SelectChoice("monthly", _l("月度简报")),
                                                 SelectChoice("quarterly", _l("季度分析")),
                                                 SelectChoice("annual", _l("年度评估评分表"))], validate_choice=False)
    period = SelectField(_l("报送周期"), coerce=_int_or_none, validate_choice=False)


class PracticeMarkForm(FlaskForm):
    """Mark a report as a good practice: a title and a short note (checked by the service)."""

    title = StringField(_l("标题"))
    note = TextAreaField(_l("简要说明"))


class PostForm(FlaskForm):
    """A button that only needs the CSRF token (take a mark away)."""
