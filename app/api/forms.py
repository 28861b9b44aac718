from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length, Optional

from ..forms_common import length_message
from ..reminders.forms import DateText
from .services import NAME_MAX


class TokenForm(FlaskForm):
    name = StringField(_l("令牌名称"), validators=[InputRequired(message=_l("请填写令牌名称，例如“统计系统推送”。")),
                                           Length(max=NAME_MAX, message=length_message(NAME_MAX))])
    expires_on = DateText(_l("有效期至（含当天；不填为长期有效）"), render_kw={"placeholder": "2026-12-31"})


class RevokeForm(FlaskForm):
    reason = StringField(_l("吊销原因（可不填）"), validators=[Optional(), Length(max=500, message=length_message(500))])
