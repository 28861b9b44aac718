from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
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
    revisions: Mapped[list[FigureRevision]] = relationship(back_populates="figure", order_by="FigureRevision.id")
    restatements: Mapped[list[FigureRestatement]] = relationship(
        back_populates="figure", order_by="FigureRestatement.id"
    )


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


REVISION_KINDS = ("entry", "revision", "restatement")
REVISION_KIND_LABELS = {"entry": "填报", "revision": "修改", "restatement": "更正"}
RESTATEMENT_STATES = ("pending", "approved", "rejected")
RESTATEMENT_STATE_LABELS = {"pending": "待审核", "approved": "已批准", "rejected": "已驳回"}


class FigureRevision(db.Model):
    """One value a figure had: every value it ever held, with who, when and why.

    kind: ``entry`` while the report was never submitted, ``revision`` once it was (a reason is
    required), ``restatement`` when an approved restatement of an accepted report set it.
    ``stated_at``: the time of entry a bulk-load file gave for the value (the row's own time)."""

    __tablename__ = "figure_revision"
    __table_args__ = (
        CheckConstraint("kind IN ('entry', 'revision', 'restatement')", name="kind"),
        Index("ix_figure_revision_figure", "figure_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    figure_id: Mapped[int] = mapped_column(ForeignKey("figure.id"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    previous_value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="form")  # form | import
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime]
    stated_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    restatement_id: Mapped[int | None] = mapped_column(ForeignKey("figure_restatement.id"))

    figure: Mapped[Figure] = relationship(back_populates="revisions")
    user = relationship("User", foreign_keys=[user_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])

    @property
    def kind_label(self) -> str:
        return REVISION_KIND_LABELS.get(self.kind, self.kind)

    @property
    def entered_at(self) -> datetime:
        """When the value was entered: the file's own time for a loaded row, else when it was saved."""
        return self.stated_at or self.at


class FigureRestatement(db.Model):
    """A unit's request to correct a figure of an accepted report (更正申请).

    The figure keeps its value until leading-group staff approve; one pending request per figure."""

    __tablename__ = "figure_restatement"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'approved', 'rejected')", name="state"),
        Index("ix_figure_restatement_state", "state", "requested_at"),
        Index("uq_figure_restatement_pending", "figure_id", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    figure_id: Mapped[int] = mapped_column(ForeignKey("figure.id"), index=True)
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    previous_value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    source: Mapped[str] = mapped_column(String(20), default="form")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    requested_at: Mapped[datetime]
    stated_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    figure: Mapped[Figure] = relationship(back_populates="restatements")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def state_label(self) -> str:
        return RESTATEMENT_STATE_LABELS.get(self.state, self.state)
