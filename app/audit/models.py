from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class AuditEvent(db.Model):
    """One append-only, hash-chained record of a change (审计日志).

    `content` holds, as canonical JSON, everything the hash covers besides seq and prev_hash; the columns beside
    it are copies for searching. A trigger (see migrations) refuses UPDATE and DELETE."""

    __tablename__ = "audit_event"
    __table_args__ = (
        # The history pages and the log search filter on these and read the newest first (ORDER BY seq DESC).
        Index("ix_audit_event_entity", "entity_type", "entity_id", "seq"),
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_user", "user_id", "seq"),
        Index("ix_audit_event_unit", "unit_name", "seq"),
        Index("ix_audit_event_action", "action", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[datetime]
    user_id: Mapped[int | None]
    username: Mapped[str | None] = mapped_column(String(50))
    unit_name: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(40))
    content: Mapped[str] = mapped_column(Text)  # canonical JSON, as hashed
    algorithm: Mapped[str] = mapped_column(String(20))
    prev_hash: Mapped[str] = mapped_column(String(128))
    hash: Mapped[str] = mapped_column(String(128))


class AuditHead(db.Model):
    """The chain's head (one row): appending locks it, so concurrent writers make one chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(128))
