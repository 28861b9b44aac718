from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[InputRequired(message="请输入用户名。"), Length(max=50)])
    password = PasswordField("密码", validators=[InputRequired(message="请输入密码。"), Length(max=200)])


class SecondFactorForm(FlaskForm):
    code = StringField("验证码", validators=[InputRequired(message="请输入验证器上的 6 位验证码或一个恢复码。"),
                                          Length(max=20, message="验证码格式不正确。")])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[InputRequired(message="请输入当前密码。"),
                                                         Length(max=200)])
    new_password = PasswordField("新密码", validators=[InputRequired(message="请输入新密码。"),
                                                    Length(max=200, message="密码不能超过 200 个字符。")])
    confirm = PasswordField("再次输入新密码", validators=[InputRequired(message="请再次输入新密码。"),
                                                    EqualTo("new_password", message="两次输入的新密码不一致。")])


class TotpEnrolForm(FlaskForm):
    code = StringField("验证码", validators=[InputRequired(message="请输入验证器显示的 6 位验证码。"),
                                          Length(max=20, message="验证码格式不正确。")])


class PasswordConfirmForm(FlaskForm):
    """Re-enter the password before a sensitive change (new recovery codes, turning the second factor off)."""

    password = PasswordField("当前密码", validators=[InputRequired(message="请输入当前密码。"), Length(max=200)])
