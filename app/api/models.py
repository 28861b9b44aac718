from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class ApiToken(db.Model):
    """A user's API token (API 令牌). Only the SHA-256 of the token is kept; the short prefix
    identifies it in lists without revealing it."""

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_user", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    user = relationship("User", foreign_keys=[user_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])

    def is_usable(self, now: datetime) -> bool:
        """Not revoked and not expired (naive UTC times)."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
