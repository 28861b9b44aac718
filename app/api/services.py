"""API tokens (API 令牌): create, list, revoke, and the lookup behind `Authorization: Bearer`.

A token is `ptk_` and 43 characters of a 32-byte random secret. Only its SHA-256 is stored,
with the first 12 characters (the prefix) for telling tokens apart in lists; the token itself
is shown once, when created. Creation and revocation each write an audit event in the same
transaction; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from ..timeutil import local_tz
from .models import ApiToken

TOKEN_PREFIX = "ptk_"
PREFIX_LENGTH = 12  # "ptk_" and 8 characters of the secret
NAME_MAX = 100
MAX_ACTIVE_TOKENS = 20
MAX_YEARS = 5
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


class TokenError(Exception):
    """A token change that is not allowed; the message is for the user (Chinese)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def utcnow() -> datetime:
    """Naive UTC, as the database keeps times. Token expiry runs on the real clock, never a frozen TODAY."""
    return datetime.now(UTC).replace(tzinfo=None)


def local_today() -> date:
    return datetime.now(local_tz()).date()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def expiry_moment(day: date) -> datetime:
    """The end of `day` in the configured time zone, as naive UTC: a token expiring on a day works all that day."""
    local_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=local_tz())
    return local_end.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the whole token: shown to its owner once, never stored


def create_token(user: User, name: str | None, expires_on: date | None) -> NewToken:
    """A new token for `user` (who creates it for themselves). Raises TokenError for a bad name or expiry."""
    name = " ".join((name or "").split())
    if not name:
        raise TokenError(gettext("请填写令牌名称，例如“统计系统推送”。"), "name")
    if len(name) > NAME_MAX:
        raise TokenError(gettext("令牌名称不能超过 %(n)s 个字。", n=NAME_MAX), "name")
    today = local_today()
    if expires_on is not None:
        if expires_on < today:
            raise TokenError(gettext("有效期不能早于今天。"), "expires_on")
        if expires_on > today + timedelta(days=365 * MAX_YEARS):
            raise TokenError(gettext("有效期不能超过 %(n)s 年；不填表示长期有效。", n=MAX_YEARS), "expires_on")
    if not user.active:
        raise TokenError(gettext("账号已停用，不能创建令牌。"))
    active = db.session.execute(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalar_one()
    if active >= MAX_ACTIVE_TOKENS:
        raise TokenError(gettext("每个账号最多保留 %(n)s 个有效令牌，请先吊销不用的令牌。", n=MAX_ACTIVE_TOKENS))
    secret = new_secret()
    token = ApiToken(user_id=user.id, name=name, prefix=secret[:PREFIX_LENGTH], token_hash=hash_token(secret),
                     created_at=utcnow(), expires_at=expiry_moment(expires_on) if expires_on else None)
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.create", "api_token", token.id,
                 audit.diff({}, {"user_id": user.id, "name": name, "prefix": token.prefix,
                                 "expires_on": expires_on}),
                 extra={"owner": user.username}, actor=audit.actor_of(user))
    return NewToken(token, secret)


def may_manage(actor: User, token: ApiToken) -> bool:
    """The owner manages their own tokens; an admin manages everybody's."""
    return token.user_id == actor.id or actor.role == "admin"


def revoke_token(token: ApiToken, actor: User, reason: str | None = None) -> ApiToken:
    if not may_manage(actor, token):
        raise TokenError(gettext("您无权吊销该令牌。"))
    if token.revoked_at is not None:
        raise TokenError(gettext("该令牌已吊销。"))
    reason = " ".join((reason or "").split())[:500] or None
    token.revoked_at, token.revoked_by_id = utcnow(), actor.id
    db.session.flush()
    audit.record("api_token.revoke", "api_token", token.id, {"revoked_at": [None, token.revoked_at]},
                 reason=reason, extra={"owner": token.user.username, "prefix": token.prefix, "name": token.name},
                 actor=audit.actor_of(actor))
    return token


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.revoked_at.is_not(None),
                                                                     ApiToken.id.desc())
    ).scalars())


def tokens_page(username: str | None, include_revoked: bool, page: int, per_page: int = 50) -> tuple[list[ApiToken], int]:
    """Every user's tokens, for the admin: newest first, optionally one user's."""
    query = select(ApiToken).join(User, User.id == ApiToken.user_id)
    if username:
        query = query.where(func.lower(User.username) == username.strip().lower())
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.options(joinedload(ApiToken.user).joinedload(User.unit)).order_by(ApiToken.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).scalars().all()
    return list(rows), total


def get_token(token_id: int) -> ApiToken | None:
    if not 1 <= token_id <= 2**31 - 1:
        return None
    return db.session.get(ApiToken, token_id)


def authenticate_token(secret: str) -> tuple[ApiToken, User] | None:
    """The token and its user for a presented secret, or None: unknown, revoked, expired, or the
    user disabled. Marks when it was last used (at most once a minute, and commits that alone)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(secret))
    ).scalar_one_or_none()
    now = utcnow()
    if token is None or not secrets.compare_digest(token.token_hash, hash_token(secret)) or not token.is_usable(now):
        return None
    user = db.session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        token.last_used_at = now
        db.session.commit()  # bookkeeping only (no domain data): not an audit event
    return token, user
