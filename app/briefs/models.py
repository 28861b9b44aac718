"""Issued briefs and the good-practice marks staff put on reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

BRIEF_KINDS = ("monthly", "quarterly", "annual")


class Brief(db.Model):
    """An issued brief. ``content`` holds the exact figures and texts it was built from and
    ``docx`` the document as issued, so a later correction of a figure does not change it.
    Rows are never changed after issue (append-only)."""

    __tablename__ = "brief"
    __table_args__ = (Index("ix_brief_plan_kind", "plan_id", "kind", "issued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    period_id: Mapped[int | None] = mapped_column(ForeignKey("period.id"))
    kind: Mapped[str] = mapped_column(String(20))  # one of BRIEF_KINDS
    number: Mapped[int]  # the brief's issue number within its plan and kind (第 N 期)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[dict] = mapped_column(JSON)
    docx: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))  # of ``docx``
    audit_seq: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))
    audit_hash: Mapped[str] = mapped_column(String(64))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    issued_at: Mapped[datetime]

    plan = relationship("Plan")
    period = relationship("Period")
    issued_by = relationship("User")


class PracticeMark(db.Model):
    """A report marked by leading-group staff as a good practice (典型经验) for the briefs."""

    __tablename__ = "practice_mark"
    __table_args__ = (UniqueConstraint("report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"))
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    marked_at: Mapped[datetime]

    report = relationship("Report")
    marked_by = relationship("User")
