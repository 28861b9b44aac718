"""Login and account services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app, has_request_context, request
from flask_babel import gettext
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit import services as audit
from ..extensions import db
from ..i18n import DEFAULT_LOCALE, N_
from . import clock, mfa, sessions, throttle
from .models import User
from .passwords import password_problem

GENERIC_FAILURE = N_("用户名或密码不正确。")  # msgids: translated when returned
SECOND_FACTOR_FAILURE = N_("验证码或恢复码不正确，或已使用过。")
_DUMMY_HASHES: dict[str, str] = {}


@dataclass
class LoginOutcome:
    """The password step: a user and whether a second factor is still needed, or a message for the form."""

    user: User | None
    error: str | None = None
    second_factor_needed: bool = False


def _client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def _burn_time(password: str) -> None:
    """Check against a dummy hash so an unknown name takes as long as a wrong password."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("dummy-password-for-timing", method=method)
    check_password_hash(_DUMMY_HASHES[method], password)


def _find_user(username: str) -> User | None:
    return db.session.execute(select(User).where(func.lower(User.username) == username.strip().lower())
                              ).scalar_one_or_none()


def begin_login(username: str, password: str, ip: str | None = None) -> LoginOutcome:
    """The password step, throttled per account name and per IP. Commits (failures must be kept).

    Every failure answers with the same words whether or not the account exists; a lockout applies to
    any name, so even it tells nothing about which names exist."""
    ip = ip or _client_ip()
    refused = throttle.refusal(username, ip)
    if refused:
        throttle.record_failure(username, ip, "ip_throttled" if throttle.is_ip_refusal(refused) else "locked")
        db.session.commit()
        return LoginOutcome(None, refused)
    user = _find_user(username)
    if user is None:
        _burn_time(password)
    if user is None or not user.check_password(password) or not user.active:
        audit.record("auth.login_failed", "user", user.id if user else None, {},
                     extra={"username": username.strip()[:50]}, actor=(None, None, None))
        locked = throttle.record_failure(username, ip, "password")
        db.session.commit()
        return LoginOutcome(None, throttle.locked_message() if locked else gettext(GENERIC_FAILURE))
    if user.has_totp:
        return LoginOutcome(user, None, second_factor_needed=True)
    finish_login(user)
    return LoginOutcome(user)


def verify_second_factor(user: User, code: str, ip: str | None = None) -> tuple[str | None, str | None]:
    """The second step: (method, None) on success — "totp" or "recovery" — or (None, message). Commits."""
    ip = ip or _client_ip()
    refused = throttle.refusal(user.username, ip)
    if refused:
        throttle.record_failure(user.username, ip, "ip_throttled" if throttle.is_ip_refusal(refused) else "locked")
        db.session.commit()
        return None, refused
    method = None
    if mfa.verify_totp(user, code):
        method = "totp"
    elif mfa.use_recovery_code(user, code):
        method = "recovery"
    if method is None:
        audit.record("auth.mfa_failed", "user", user.id, {}, actor=audit.actor_of(user))
        locked = throttle.record_failure(user.username, ip, "second_factor")
        db.session.commit()
        if locked:
            return None, throttle.locked_message()
        return None, gettext(SECOND_FACTOR_FAILURE)
    return method, None


def finish_login(user: User, second_factor: str | None = None) -> None:
    """Both steps passed: a new server-side session, the failures forgotten, an auth.login event. Commits."""
    throttle.record_success(user.username)
    sessions.start_session(user, second_factor)
    extra = {"second_factor": second_factor} if second_factor else None
    audit.record("auth.login", "user", user.id, {}, extra=extra, actor=audit.actor_of(user))
    if second_factor == "recovery":
        audit.record("auth.recovery_code_used", "user", user.id, {}, actor=audit.actor_of(user),
                     extra={"left": mfa.recovery_codes_left(user)})
    db.session.commit()


def authenticate(username: str, password: str) -> User | None:
    """The user for these credentials if the password step passes (throttled and audited), or None."""
    outcome = begin_login(username, password)
    return outcome.user if outcome.error is None else None


def confirm_password(user: User, password: str) -> bool:
    """Re-entered password before a sensitive change; a wrong one counts as a failed login. Commits then."""
    if user.check_password(password):
        return True
    _failed_reauth(user, "auth.reauth_failed")
    return False


def _failed_reauth(user: User, action: str) -> None:
    """A wrong password typed by a signed-in user: audited and counted; a lockout ends the sessions."""
    audit.record(action, "user", user.id, {})
    if throttle.record_failure(user.username, _client_ip(), "password"):
        sessions.end_user_sessions(user.id, "locked")
    db.session.commit()


class PasswordChangeError(Exception):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message, self.field = message, field


def change_own_password(user: User, current: str, new: str) -> int:
    """The user's own change: the current password, the rules; ends the user's other sessions.

    Returns how many other sessions ended. Raises PasswordChangeError for a field."""
    if not user.check_password(current):
        _failed_reauth(user, "auth.password_change_failed")
        raise PasswordChangeError(gettext("当前密码不正确。"), "current_password")
    problem = password_problem(new, user.username)
    if problem:
        raise PasswordChangeError(problem, "new_password")
    if user.check_password(new):
        raise PasswordChangeError(gettext("新密码不能与当前密码相同。"), "new_password")
    user.set_password(new)
    user.must_change_password = False
    user.password_changed_at = clock.now()
    audit.record("auth.password_change", "user", user.id, {"password": ["***", "***(changed)"]})
    current = sessions.current_session()
    return sessions.end_user_sessions(user.id, "password", keep=current.id if current else None)


def create_user(username: str, name: str, role: str, password: str, *, email: str | None = None,
                unit_id: int | None = None, must_change_password: bool = False,
                check_rules: bool = False) -> User:
    """A new account. An admin's form passes check_rules (the password rules) and must_change_password
    (the admin knows the password, so the user sets their own at the first login)."""
    if check_rules:
        problem = password_problem(password, username)
        if problem:
            raise UserError(problem, "password")
    user = User(username=username, name=name, role=role, email=email, unit_id=unit_id,
                created_at=datetime.now(UTC).replace(tzinfo=None), active=True,
                must_change_password=must_change_password)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, audit.diff({}, {
        "username": username, "name": name, "role": role, "email": email, "unit_id": unit_id,
        "must_change_password": must_change_password}))
    return user


USER_FIELDS = ("username", "name", "email", "role", "unit_id", "active")


class UserError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def update_user(user: User, values: dict, password: str | None = None) -> User:
    """An admin's change. A new password must follow the rules and be changed by the user at the next
    login; a new password or disabling the account ends the account's sessions (but the admin's own)."""
    if values.get("role") == "liaison" and not values.get("unit_id"):
        raise UserError(gettext("联络员账号必须属于一个单位。"), "unit_id")
    if password:
        problem = password_problem(password, values.get("username") or user.username)
        if problem:
            raise UserError(problem, "password")
    was_active = user.active
    before = audit.snapshot(user, USER_FIELDS)
    for key, value in values.items():
        setattr(user, key, value)
    changes = audit.diff(before, audit.snapshot(user, USER_FIELDS))
    current = sessions.current_session()
    own = current is not None and current.user_id == user.id
    if password:
        user.set_password(password)
        user.password_changed_at = clock.now()
        changes["password"] = ["***", "***(changed)"]
        if not own:
            user.must_change_password = True
            changes["must_change_password"] = [False, True]
    if changes:
        action = "user.role_change" if "role" in changes else "user.update"
        audit.record(action, "user", user.id, changes)
    keep = current.id if own and current is not None else None
    if was_active and not user.active:
        sessions.end_user_sessions(user.id, "disabled", keep=keep)
    elif password:
        sessions.end_user_sessions(user.id, "password", keep=keep)
    db.session.flush()
    return user


def set_locale(user: User, locale: str) -> bool:
    """The user's own interface language. Returns whether it changed; an unsupported code is a UserError.
    Audited as a change of the account (the caller commits)."""
    from ..i18n import supported

    if not supported(locale):
        raise UserError(gettext("请选择列出的界面语言之一。"), "locale")
    before = user.locale or DEFAULT_LOCALE
    if before == locale:
        return False
    user.locale = locale
    audit.record("user.update", "user", user.id, {"locale": [before, locale]})
    return True
