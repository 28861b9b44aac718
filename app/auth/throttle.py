"""Login throttling that holds across every worker and machine: the state is in the database.

Per account name (as typed, lower-cased, whether or not such an account exists, so the answers never
tell which names exist): LOGIN_ACCOUNT_MAX_FAILURES failures within LOGIN_ACCOUNT_WINDOW_MINUTES lock
the name for LOGIN_LOCKOUT_MINUTES. Per IP: LOGIN_IP_MAX_FAILURES failed or refused attempts within
LOGIN_IP_WINDOW_MINUTES refuse every login from that address until the window has moved on.

Wrong passwords and wrong second-factor codes both count. The account's row in login_lock is locked
(SELECT … FOR UPDATE) while a failure is counted, so concurrent workers count every failure once."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..audit import services as audit
from ..extensions import db
from ..i18n import N_
from . import clock
from .models import LoginFailure, LoginLock, User

EPOCH = datetime(2000, 1, 1)
# msgids, translated when a refusal is made (gettext)
LOCKED_MESSAGE = N_("登录失败次数过多，该账号已被暂时锁定。请 %(minutes)s 分钟后再试，或联系系统管理员解锁。")
IP_MESSAGE = N_("来自您所在网络地址的登录失败次数过多，请稍后再试。")
COUNTED = ("password", "second_factor")


def account_key(username: str) -> str:
    return (username or "").strip().lower()[:50]


def _config(key: str) -> int:
    return int(current_app.config[key])


def _lock_row(key: str, *, for_update: bool) -> LoginLock | None:
    query = select(LoginLock).where(LoginLock.username == key)
    if for_update:
        query = query.with_for_update()
    return db.session.execute(query).scalar_one_or_none()


def _lock_row_for_update(key: str) -> LoginLock:
    """The account's row, locked; created if missing (another worker may create it at the same time)."""
    row = _lock_row(key, for_update=True)
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            db.session.add(LoginLock(username=key, counted_from=EPOCH, locked_until=None))
    except IntegrityError:
        pass
    row = _lock_row(key, for_update=True)
    assert row is not None
    return row


def _ip_failures(ip: str, since: datetime, cap: int) -> int:
    """Failures from this IP since `since`, counted up to `cap` (the count stays bounded under attack)."""
    inner = (select(LoginFailure.id).where(LoginFailure.ip == ip, LoginFailure.at >= since).limit(cap)
             .subquery())
    return db.session.execute(select(func.count()).select_from(inner)).scalar_one()


def locked_message() -> str:
    return gettext(LOCKED_MESSAGE, minutes=_config("LOGIN_LOCKOUT_MINUTES"))


def is_ip_refusal(message: str) -> bool:
    return message == gettext(IP_MESSAGE)


def refusal(username: str, ip: str | None) -> str | None:
    """Why an attempt for this account name from this IP is refused before any password is checked."""
    moment = clock.now()
    row = _lock_row(account_key(username), for_update=False)
    if row is not None and row.locked_until is not None and row.locked_until > moment:
        return locked_message()
    if ip:
        limit = _config("LOGIN_IP_MAX_FAILURES")
        since = moment - timedelta(minutes=_config("LOGIN_IP_WINDOW_MINUTES"))
        if _ip_failures(ip, since, limit) >= limit:
            return gettext(IP_MESSAGE)
    return None


def record_failure(username: str, ip: str | None, reason: str) -> bool:
    """Count one failed or refused attempt; True if it locked the account (an auth.lockout event)."""
    key = account_key(username)
    moment = clock.now()
    db.session.add(LoginFailure(username=key, ip=ip, at=moment, reason=reason))
    db.session.flush()
    locked = False
    if reason in COUNTED:
        row = _lock_row_for_update(key)
        since = max(moment - timedelta(minutes=_config("LOGIN_ACCOUNT_WINDOW_MINUTES")), row.counted_from)
        failures = db.session.execute(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.username == key, LoginFailure.at > since, LoginFailure.reason.in_(COUNTED))).scalar_one()
        if failures >= _config("LOGIN_ACCOUNT_MAX_FAILURES") and not (
                row.locked_until is not None and row.locked_until > moment):
            row.locked_until = moment + timedelta(minutes=_config("LOGIN_LOCKOUT_MINUTES"))
            row.counted_from = row.locked_until
            user_id = db.session.execute(select(User.id).where(func.lower(User.username) == key)).scalar()
            audit.record("auth.lockout", "user", user_id, {}, actor=(None, None, None),
                         extra={"username": key, "failures": failures, "until": row.locked_until})
            locked = True
    if ip:
        limit = _config("LOGIN_IP_MAX_FAILURES")
        since = moment - timedelta(minutes=_config("LOGIN_IP_WINDOW_MINUTES"))
        if _ip_failures(ip, since, limit + 1) == limit:
            audit.record("auth.ip_throttled", None, None, {}, actor=(None, None, None),
                         extra={"ip": ip, "failures": limit})
    db.session.flush()
    return locked


def record_success(username: str) -> None:
    """A full login: the account's failures before now no longer count."""
    row = _lock_row(account_key(username), for_update=True)
    if row is not None:
        row.counted_from = clock.now()
        row.locked_until = None


def unlock(username: str, actor: tuple[int | None, str | None, str | None]) -> bool:
    """End a lockout (`flask users unlock`); True if the account name was locked."""
    key = account_key(username)
    row = _lock_row(key, for_update=True)
    moment = clock.now()
    was_locked = row is not None and row.locked_until is not None and row.locked_until > moment
    if row is not None:
        row.locked_until, row.counted_from = None, moment
    user_id = db.session.execute(select(User.id).where(func.lower(User.username) == key)).scalar()
    audit.record("auth.unlock", "user", user_id, {}, actor=actor, extra={"username": key, "was_locked": was_locked})
    db.session.flush()
    return was_locked


def is_locked(username: str) -> bool:
    row = _lock_row(account_key(username), for_update=False)
    return row is not None and row.locked_until is not None and row.locked_until > clock.now()


def prune(older_than: timedelta) -> int:
    """Delete failures older than this (they no longer count for anything); returns how many."""
    cutoff = clock.now() - older_than
    result = db.session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))
    db.session.execute(delete(LoginLock).where(LoginLock.counted_from < cutoff,
                                               (LoginLock.locked_until.is_(None)) | (LoginLock.locked_until < cutoff)))
    return result.rowcount or 0
