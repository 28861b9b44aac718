"""Server-side sessions (ASVS 3): a record per login, checked on every request.

The signed cookie carries a random token; the table keeps its SHA-256, the user, when it began, when it
was last seen and when it ended. Logout, a password change, disabling the account, an idle timeout and
an absolute timeout end the record, so a copy of the cookie taken before is refused afterwards."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, has_request_context, request, session
from flask_login import login_user
from sqlalchemy import delete, or_, select, update

from ..audit import services as audit
from ..extensions import db
from . import clock
from .models import User, UserSession

SESSION_KEY = "sid"
END_REASONS = ("logout", "idle", "absolute", "password", "disabled", "locked", "admin", "ended_by_user")


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User, second_factor: str | None = None) -> UserSession:
    """Log the user in on a fresh cookie (no fixation) with a new server-side record."""
    token = secrets.token_urlsafe(32)
    moment = clock.now()
    record = UserSession(id=token_id(token), user_id=user.id, created_at=moment, last_seen_at=moment,
                         ip=request.remote_addr if has_request_context() else None,
                         user_agent=(request.user_agent.string or "")[:200] if has_request_context() else None,
                         second_factor=second_factor)
    db.session.add(record)
    db.session.flush()
    session.clear()
    login_user(user)
    session[SESSION_KEY] = token
    g.user_session = record
    return record


def current_session() -> UserSession | None:
    """The record of this request's session, once the user has been loaded."""
    return g.get("user_session")


def end_current_session(reason: str = "logout") -> None:
    record = current_session()
    if record is not None and record.ended_at is None:
        record.ended_at, record.end_reason = clock.now(), reason
    session.clear()


def end_user_sessions(user_id: int, reason: str, *, keep: str | None = None,
                      actor: tuple[int | None, str | None, str | None] | None = None) -> int:
    """End every open session of a user (but `keep`, the current one); returns how many ended."""
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(UserSession.id != keep)
    result = db.session.execute(query.values(ended_at=clock.now(), end_reason=reason)
                                .execution_options(synchronize_session=False))
    count = result.rowcount or 0
    if count:
        audit.record("auth.sessions_ended", "user", user_id, {}, extra={"reason": reason, "count": count},
                     actor=actor)
    return count


def open_sessions(user_id: int) -> list[UserSession]:
    """The user's sessions that have not ended (expired ones are ended when next used)."""
    return list(db.session.execute(select(UserSession).where(UserSession.user_id == user_id,
                                                             UserSession.ended_at.is_(None))
                                   .order_by(UserSession.created_at.desc()).limit(50)).scalars())


def prune(older_than: timedelta) -> int:
    """Delete session records that ended, or were last seen, before this long ago; returns how many."""
    cutoff = clock.now() - older_than
    result = db.session.execute(delete(UserSession).where(or_(UserSession.ended_at < cutoff,
                                                              UserSession.last_seen_at < cutoff)))
    return result.rowcount or 0


def _limits() -> tuple[timedelta, timedelta, timedelta]:
    config = current_app.config
    return (timedelta(minutes=float(config["SESSION_IDLE_MINUTES"])),
            timedelta(hours=float(config["SESSION_ABSOLUTE_HOURS"])),
            timedelta(seconds=float(config["SESSION_TOUCH_SECONDS"])))


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user only while the server-side record is open and fresh.

    Called once per request, early (app/security.py loads the user before any view runs), so the
    commit that records an expiry or the last-seen time carries nothing else."""
    token = session.get(SESSION_KEY)
    if not token or not isinstance(token, str):
        return None
    row = db.session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                             .where(UserSession.id == token_id(token))).first()
    if row is None:
        return None
    record, user = row
    if str(user.id) != str(user_id) or record.ended_at is not None:
        return None
    moment = clock.now()
    idle, absolute, touch = _limits()
    reason = None
    if not user.active:
        reason = "disabled"
    elif moment - record.last_seen_at > idle:
        reason = "idle"
    elif moment - record.created_at > absolute:
        reason = "absolute"
    if reason is not None:
        record.ended_at, record.end_reason = moment, reason
        audit.record("auth.session_expired", "user", user.id, {}, extra={"reason": reason},
                     actor=audit.actor_of(user))
        db.session.commit()
        g.session_end_reason = reason
        return None
    if moment - record.last_seen_at >= touch:
        record.last_seen_at = moment
        db.session.commit()
    g.user_session = record
    return user
