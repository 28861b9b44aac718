from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Report(db.Model):
    """One unit's report for one assignment and period (进展报告)."""

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("assignment_id", "period_id"),
        Index("ix_report_period_state", "period_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    state: Mapped[str] = mapped_column(String(20), default="draft")
    progress_text: Mapped[str] = mapped_column(Text, default="")
    problems_text: Mapped[str] = mapped_column(Text, default="")
    next_steps_text: Mapped[str] = mapped_column(Text, default="")
    return_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None]
    first_submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    version: Mapped[int] = mapped_column(default=1)

    assignment = relationship("Assignment")
    period = relationship("Period")
    figures: Mapped[list[Figure]] = relationship(back_populates="report", cascade="all, delete-orphan")
    transitions: Mapped[list[ReportTransition]] = relationship(
        back_populates="report", order_by="ReportTransition.id"
    )

    __mapper_args__ = {"version_id_col": version}


class Figure(db.Model):
    """One indicator value inside a report (填报数值)."""

    __tablename__ = "figure"
    __table_args__ = (UniqueConstraint("report_id", "indicator_id"), Index("ix_figure_indicator", "indicator_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id"))
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    report: Mapped[Report] = relationship(back_populates="figures")
    indicator = relationship("Indicator")


class ReportTransition(db.Model):
    """A move of a report from one state to another: who, when and why."""

    __tablename__ = "report_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    report: Mapped[Report] = relationship(back_populates="transitions")
    user = relationship("User")
