from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from ..i18n import LOCALES, supported


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[InputRequired(message=_l("请输入用户名。")), Length(max=50)])
    password = PasswordField(_l("密码"), validators=[InputRequired(message=_l("请输入密码。")), Length(max=200)])


class SecondFactorForm(FlaskForm):
    code = StringField(_l("验证码"), validators=[InputRequired(message=_l("请输入验证器上的 6 位验证码或一个恢复码。")),
                                          Length(max=20, message=_l("验证码格式不正确。"))])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("当前密码"), validators=[InputRequired(message=_l("请输入当前密码。")),
                                                         Length(max=200)])
    new_password = PasswordField(_l("新密码"), validators=[InputRequired(message=_l("请输入新密码。")),
                                                    Length(max=200, message=_l("密码不能超过 200 个字符。"))])
    confirm = PasswordField(_l("再次输入新密码"), validators=[InputRequired(message=_l("请再次输入新密码。")),
                                                    EqualTo("new_password", message=_l("两次输入的新密码不一致。"))])


class TotpEnrolForm(FlaskForm):
    code = StringField(_l("验证码"), validators=[InputRequired(message=_l("请输入验证器显示的 6 位验证码。")),
                                          Length(max=20, message=_l("验证码格式不正确。"))])


class PasswordConfirmForm(FlaskForm):
    """Re-enter the password before a sensitive change (new recovery codes, turning the second factor off)."""

    password = PasswordField(_l("当前密码"), validators=[InputRequired(message=_l("请输入当前密码。")), Length(max=200)])


class LanguageForm(FlaskForm):
    """The user's own interface language (User.locale); the choices are app.i18n.LOCALES."""

    locale = SelectField(_l("界面语言"), choices=[SelectChoice(k, v) for k, v in LOCALES.items()], validate_choice=False,
                         validators=[InputRequired(message=_l("请选择界面语言。"))])

    def validate_locale(self, field) -> None:
        if not supported(field.data):
            raise ValidationError(gettext("请选择列出的界面语言之一。"))
