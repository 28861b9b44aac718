"""Forms of the review pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..forms_common import DateText
from .queue import ACTIONS


class QueueActionForm(FlaskForm):
    """The bulk action on the queue's selected items (the checkboxes, named "item", are read
    from the request: their values are "<assignment id>-<period id>"). Which fields an action
    needs is checked by queue.bulk_act, which puts its messages beside these fields."""

    action = RadioField(_l("操作"), choices=[SelectChoice(k, v) for k, v in ACTIONS.items()], default="urge",
                        validate_choice=False)
    message = TextAreaField(_l("催办留言"))
    due = DateText(_l("新的截止日期"))
    reason = TextAreaField(_l("原因"))
