from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, gettext, refresh
from flask_login import current_user, login_required, logout_user

from ..audit import services as audit
from ..extensions import db
from ..i18n import DEFAULT_LOCALE, html_lang
from . import clock, mfa, sessions
from .forms import (
    LanguageForm,
    LoginForm,
    PasswordChangeForm,
    PasswordConfirmForm,
    SecondFactorForm,
    TotpEnrolForm,
)
from .models import User
from .services import (
    PasswordChangeError,
    UserError,
    begin_login,
    change_own_password,
    confirm_password,
    finish_login,
    set_locale,
    verify_second_factor,
)

bp = Blueprint("auth", __name__)


@bp.app_context_processor
def _helpers() -> dict:
    return {"local_time": _local_time, "html_lang": _html_lang}


def _html_lang() -> str:
    return html_lang(get_locale())


@bp.app_template_global("tr")
def translate_label(text: str | None) -> str:
    """A label kept as data (a workflow file's state name, a *_LABELS value) in the user's language.

    Unlike Jinja's ``_()``, which marks its result safe, this returns a plain string that autoescaping
    still escapes, so a value that is not a msgid can never inject markup."""
    return gettext(text) if text else ""


def _local_time(moment) -> str:
    from ..timeutil import to_local

    local = to_local(moment)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""

PENDING_KEY = "mfa_pending"
ENROL_KEY = "mfa_enrol_secret"


def _safe_target(target: str | None) -> str | None:
    """A local path to go back to after login, or None (no open redirect)."""
    target = target or ""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target or parts.netloc or parts.scheme:
        return None
    return target


def _after_login(user: User, target: str | None):
    if user.must_change_password:  # the page says why
        return redirect(url_for(".password"))
    if not user.has_totp and mfa.required_for(user):
        return redirect(url_for(".mfa"))
    return redirect(target or url_for(".home"))


@bp.route("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for(".login"))
    if current_user.role == "liaison":
        return redirect(url_for("reports.my_items"))
    if current_user.role == "admin":
        return redirect(url_for("admin.units"))
    return redirect(url_for("plans.index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(".home"))
    form = LoginForm()
    if form.validate_on_submit():
        outcome = begin_login(form.username.data, form.password.data)
        if outcome.error:
            form.form_errors.append(outcome.error)
        elif outcome.second_factor_needed and outcome.user is not None:
            session.clear()
            session[PENDING_KEY] = {"uid": outcome.user.id, "at": clock.now().isoformat(),
                                    "next": _safe_target(request.args.get("next"))}
            return redirect(url_for(".login_verify"))
        elif outcome.user is not None:
            return _after_login(outcome.user, _safe_target(request.args.get("next")))
    return render_template("auth/login.html", form=form)


def _pending_user() -> tuple[User | None, dict]:
    from datetime import datetime, timedelta

    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, {}
    try:
        started = datetime.fromisoformat(str(pending.get("at")))
        user = db.session.get(User, int(pending.get("uid")))
    except (TypeError, ValueError):
        return None, {}
    limit = timedelta(seconds=int(current_app.config["MFA_PENDING_SECONDS"]))
    if user is None or not user.active or not user.has_totp or clock.now() - started > limit:
        return None, {}
    return user, pending


@bp.route("/login/verify", methods=["GET", "POST"])
def login_verify():
    """The second step of a login: a TOTP code or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for(".home"))
    user, pending = _pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(gettext("请重新输入用户名和密码。"), "warning")
        return redirect(url_for(".login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        method, error = verify_second_factor(user, form.code.data)
        if error:
            form.code.errors = [*list(form.code.errors), error]
        else:
            finish_login(user, method)
            if method == "recovery":
                left = mfa.recovery_codes_left(user)
                flash(gettext("您使用了一个恢复码，还剩 %(n)s 个。恢复码不多时请在“两步验证”页面重新生成。", n=left), "warning")
            return _after_login(user, _safe_target(pending.get("next")))
    return render_template("auth/verify.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    audit.record("auth.logout", "user", current_user.id, {})
    sessions.end_current_session("logout")
    db.session.commit()
    logout_user()
    session.clear()
    flash(gettext("您已退出登录。"), "info")
    return redirect(url_for(".login"))


@bp.route("/account")
@login_required
def account():
    return _account_page(LanguageForm(formdata=None, locale=current_user.locale or DEFAULT_LOCALE))


def _account_page(language_form: LanguageForm, status: int = 200):
    current = sessions.current_session()
    return render_template("auth/account.html", open_sessions=sessions.open_sessions(current_user.id),
                           current_id=current.id if current else None,
                           mfa_required=mfa.required_for(current_user), language_form=language_form), status


@bp.route("/account/language", methods=["POST"])
@login_required
def language():
    """The user's own interface language: Chinese (the default) or English."""
    form = LanguageForm()
    if form.validate_on_submit():
        try:
            changed = set_locale(current_user._get_current_object(), form.locale.data)
        except UserError as exc:
            db.session.rollback()
            form.locale.errors = [*list(form.locale.errors), exc.message]
        else:
            db.session.commit()
            refresh()  # this response's own messages in the new language
            if changed:
                flash(gettext("界面语言已切换为中文。") if form.locale.data == "zh"
                      else gettext("界面语言已切换为英文。"), "success")
            return redirect(url_for(".account"))
    return _account_page(form, 400)


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    current = sessions.current_session()
    count = sessions.end_user_sessions(current_user.id, "ended_by_user", keep=current.id if current else None)
    db.session.commit()
    flash(gettext("已退出其他 %(n)s 处登录。", n=count), "success")
    return redirect(url_for(".account"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            ended = change_own_password(current_user, form.current_password.data, form.new_password.data)
            db.session.commit()
        except PasswordChangeError as exc:
            db.session.rollback()
            field = getattr(form, exc.field)
            field.errors = [*list(field.errors), exc.message]
        else:
            flash(gettext("密码已修改。") + (gettext("其他 %(n)s 处登录已退出。", n=ended) if ended else ""), "success")
            return _after_login(current_user, None)
    return render_template("auth/password.html", form=form,
                           min_length=current_app.config["PASSWORD_MIN_LENGTH"])


@bp.route("/account/mfa", methods=["GET", "POST"], endpoint="mfa")
@login_required
def mfa_page():
    """Two-step verification: enrol (secret as text and QR code, confirm with a code), or its status."""
    user = current_user._get_current_object()
    if user.has_totp:
        session.pop(ENROL_KEY, None)
        return _mfa_status(user)
    secret = session.get(ENROL_KEY)
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session[ENROL_KEY] = mfa.new_secret()
    form = TotpEnrolForm()
    if form.validate_on_submit():
        codes = mfa.enrol(user, secret, form.code.data)
        if codes is None:
            form.code.errors = [*list(form.code.errors), gettext("验证码不正确，请核对手机时间后输入验证器当前显示的 6 位数字。")]
        else:
            db.session.commit()
            session.pop(ENROL_KEY, None)
            return render_template("auth/recovery_codes.html", codes=codes, enrolled=True)
    uri = mfa.provisioning_uri(user, secret)
    return render_template("auth/mfa_enrol.html", form=form, secret=mfa.formatted_secret(secret), uri=uri,
                           qr=mfa.qr_svg(uri), required=mfa.required_for(user))


def _mfa_status(user: User, recovery_form: PasswordConfirmForm | None = None,
                disable_form: PasswordConfirmForm | None = None):
    return render_template("auth/mfa_status.html", left=mfa.recovery_codes_left(user),
                           required=mfa.required_for(user),
                           recovery_form=recovery_form or PasswordConfirmForm(prefix="recovery", formdata=None),
                           disable_form=disable_form or PasswordConfirmForm(prefix="disable", formdata=None))


@bp.route("/account/mfa/recovery-codes", methods=["POST"])
@login_required
def mfa_recovery_codes():
    """New recovery codes (the old ones stop working), after the password is re-entered."""
    user = current_user._get_current_object()
    if not user.has_totp:
        return redirect(url_for(".mfa"))
    form = PasswordConfirmForm(prefix="recovery")
    if form.validate_on_submit():
        if confirm_password(user, form.password.data):
            codes = mfa.regenerate_recovery_codes(user)
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes, enrolled=False)
        form.password.errors = [*list(form.password.errors), gettext("当前密码不正确。")]
    return _mfa_status(user, recovery_form=form)


@bp.route("/account/mfa/disable", methods=["POST"])
@login_required
def mfa_disable():
    """Turn the second factor off (only where the role does not require it), after the password."""
    user = current_user._get_current_object()
    if not user.has_totp:
        return redirect(url_for(".mfa"))
    if mfa.required_for(user):
        flash(gettext("您的角色必须启用两步验证，不能关闭。如手机丢失，请联系系统管理员重置。"), "danger")
        return redirect(url_for(".mfa"))
    form = PasswordConfirmForm(prefix="disable")
    if form.validate_on_submit():
        if confirm_password(user, form.password.data):
            mfa.turn_off(user)
            db.session.commit()
            flash(gettext("两步验证已关闭。"), "success")
            return redirect(url_for(".mfa"))
        form.password.errors = [*list(form.password.errors), gettext("当前密码不正确。")]
    return _mfa_status(user, disable_form=form)
