"""Login and account services."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from ..audit import services as audit
from ..extensions import db
from .models import User


def authenticate(username: str, password: str) -> User | None:
    """The user for these credentials, or None; both outcomes are audited."""
    user = db.session.execute(select(User).where(func.lower(User.username) == username.strip().lower())).scalar_one_or_none()
    if user is None or not user.active or not user.check_password(password):
        audit.record("auth.login_failed", "user", user.id if user else None, {},
                     extra={"username": username.strip()[:50]}, actor=(None, None, None))
        db.session.commit()
        return None
    audit.record("auth.login", "user", user.id, {},
                 actor=(user.id, user.username, user.unit.name if user.unit else None))
    db.session.commit()
    return user


def create_user(username: str, name: str, role: str, password: str, *, email: str | None = None,
                unit_id: int | None = None) -> User:
    user = User(username=username, name=name, role=role, email=email, unit_id=unit_id,
                created_at=datetime.now(UTC).replace(tzinfo=None), active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, audit.diff({}, {
        "username": username, "name": name, "role": role, "email": email, "unit_id": unit_id}))
    return user


USER_FIELDS = ("name", "email", "role", "unit_id", "active")


class UserError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def update_user(user: User, values: dict, password: str | None = None) -> User:
    if values.get("role") == "liaison" and not values.get("unit_id"):
        raise UserError("联络员账号必须属于一个单位。", "unit_id")
    before = audit.snapshot(user, USER_FIELDS)
    for key, value in values.items():
        setattr(user, key, value)
    changes = audit.diff(before, audit.snapshot(user, USER_FIELDS))
    if password:
        user.set_password(password)
        changes["password"] = ["***", "***(changed)"]
    if changes:
        action = "user.role_change" if "role" in changes else "user.update"
        audit.record(action, "user", user.id, changes)
    db.session.flush()
    return user
