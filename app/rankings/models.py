"""A published ranking: the formula version, its inputs per unit and the result, frozen at issue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class RankingPublication(db.Model):
    """One issued ranking of a plan's units. Rows are never changed after issue (append-only).

    ``inputs`` holds each unit's raw measures, ``rows`` the computed scores and ranks, and
    ``formula`` the whole formula definition of ``formula_version``, so the ranking can be
    recomputed and compared against the data and the audit log."""

    __tablename__ = "ranking_publication"
    __table_args__ = (Index("ix_ranking_publication_plan", "plan_id", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    period_id: Mapped[int | None] = mapped_column(ForeignKey("period.id"))  # up to and including
    formula_version: Mapped[str] = mapped_column(String(40))
    formula: Mapped[dict] = mapped_column(JSON)
    inputs: Mapped[list] = mapped_column(JSON)
    rows: Mapped[list] = mapped_column(JSON)
    as_of: Mapped[datetime]  # the data cut-off (the date the measures were computed for)
    audit_seq: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))
    audit_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    published_at: Mapped[datetime]

    plan = relationship("Plan")
    period = relationship("Period")
    published_by = relationship("User")
