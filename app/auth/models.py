from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db, login_manager

ROLES = ("liaison", "staff", "admin", "auditor")
ROLE_LABELS = {"liaison": "联络员", "staff": "领导小组办公室", "admin": "系统管理员", "auditor": "审计员"}


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (CheckConstraint("role IN ('liaison', 'staff', 'admin', 'auditor')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime]
    # Security (app/auth/passwords.py, sessions.py, mfa.py): an admin-set password must be changed at
    # the next login; the TOTP secret (base32) once enrolled, and the last time step used (no replay).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    password_changed_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    unit = relationship("Unit")

    def set_password(self, password: str) -> None:
        # scrypt (Werkzeug's default) is memory-hard; tests set a cheap method for speed.
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def is_office(self) -> bool:
        """Leading-group office staff (and admins) act on every unit's items."""
        return self.role in ("staff", "admin")

    @property
    def sees_everything(self) -> bool:
        return self.role in ("staff", "admin", "auditor")

    @property
    def has_totp(self) -> bool:
        return self.totp_enabled_at is not None and bool(self.totp_secret)


BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class UserSession(db.Model):
    """A login on the server side (服务器端会话): the cookie carries a random token whose SHA-256 is the id.

    Checked on every request; logout, a password change, disabling the account and the idle and absolute
    timeouts end it, so a copied cookie is worth nothing afterwards."""

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    second_factor: Mapped[str | None] = mapped_column(String(20))  # None, "totp" or "recovery"


class LoginFailure(db.Model):
    """One failed login (password or second factor), by account name and IP, for throttling across workers."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_username_at", "username", "at"),
        Index("ix_login_failure_ip_at", "ip", "at"),
        Index("ix_login_failure_at", "at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(50))  # as typed, lower-cased: unknown names count too
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(20))  # password | second_factor | locked | ip_throttled


class LoginLock(db.Model):
    """Per account name: failures count from `counted_from`; `locked_until` set by a lockout."""

    __tablename__ = "login_lock"

    username: Mapped[str] = mapped_column(String(50), primary_key=True)
    counted_from: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class RecoveryCode(db.Model):
    """One-time recovery code for the second factor, stored as salted SHA-256."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(100))  # "salt$sha256hex"
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of this request's server-side session, or None (anonymous) if it has ended or expired."""
    from .sessions import load_session_user

    return load_session_user(user_id)
