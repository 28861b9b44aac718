from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp

from ..auth.models import ROLE_LABELS
from ..forms_common import length_message
from ..units.models import UNIT_KIND_LABELS


class UnitForm(FlaskForm):
    name = StringField(_l("单位名称"), validators=[InputRequired(message=_l("请填写单位名称。")),
                                            Length(max=100, message=length_message(100))])
    kind = SelectField(_l("单位类别"), choices=[SelectChoice(k, _l(v)) for k, v in UNIT_KIND_LABELS.items()])
    head_name = StringField(_l("单位负责人"), validators=[Optional(), Length(max=50, message=length_message(50))])
    head_email = EmailField(_l("负责人邮箱"), validators=[Optional(), Email(message=_l("邮箱地址格式不正确。")),
                                                   Length(max=200, message=length_message(200))])
    active = BooleanField(_l("启用"), default=True)


class GroupMembersForm(FlaskForm):
    members = SelectMultipleField(_l("成员单位"), coerce=int, validate_choice=True)


class UserForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[
        InputRequired(message=_l("请填写用户名。")), Length(min=2, max=50, message=_l("用户名长度应为 2–50 个字符。")),
        Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("用户名只能包含英文字母、数字和 _ . -。"))])
    name = StringField(_l("姓名"), validators=[InputRequired(message=_l("请填写姓名。")), Length(max=50, message=length_message(50))])
    email = EmailField(_l("邮箱"), validators=[Optional(), Email(message=_l("邮箱地址格式不正确。")),
                                          Length(max=200, message=length_message(200))])
    role = SelectField(_l("角色"), choices=[SelectChoice(k, _l(v)) for k, v in ROLE_LABELS.items()])
    unit_id = SelectField(_l("所属单位"), coerce=int, choices=[])
    password = PasswordField(_l("密码"), validators=[Optional(), Length(min=8, max=200, message=_l("密码长度至少 8 位。"))])
    active = BooleanField(_l("启用"), default=True)


class LiaisonForm(FlaskForm):
    user_id = SelectField(_l("联络员"), coerce=int, choices=[])
