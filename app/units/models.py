from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

UNIT_KINDS = ("department", "league_city", "external")
UNIT_KIND_LABELS = {"department": "自治区部门", "league_city": "盟市政府", "external": "其他单位"}


class Unit(db.Model):
    __tablename__ = "unit"
    __table_args__ = (CheckConstraint("kind IN ('department', 'league_city', 'external')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="department")
    head_name: Mapped[str | None] = mapped_column(String(50))
    head_email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<Unit {self.name}>"


class UnitGroup(db.Model):
    __tablename__ = "unit_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    members: Mapped[list[UnitGroupMember]] = relationship(back_populates="group", cascade="all, delete-orphan")


class UnitGroupMember(db.Model):
    __tablename__ = "unit_group_member"
    __table_args__ = (UniqueConstraint("group_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("unit_group.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    group: Mapped[UnitGroup] = relationship(back_populates="members")
    unit: Mapped[Unit] = relationship()


class LiaisonTerm(db.Model):
    """Who was a unit's liaison officer when: the open term (ended_at NULL) is the current one."""

    __tablename__ = "liaison_term"
    __table_args__ = (Index("ix_liaison_term_unit_current", "unit_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    unit: Mapped[Unit] = relationship()
    user = relationship("User", foreign_keys=[user_id])
    set_by = relationship("User", foreign_keys=[set_by_id])
