from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

ASSIGNMENT_STATUSES = ("not_started", "in_progress", "completed", "blocked")
STATUS_LABELS = {"not_started": "未启动", "in_progress": "推进中", "completed": "已完成", "blocked": "受阻"}
ROLE_LABELS = {"lead": "牵头", "co": "配合"}
COMPARATOR_LABELS = {">=": "≥", "<=": "≤", "~": "≈"}


class Plan(db.Model):
    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(100))
    issued: Mapped[date]
    reporting_start: Mapped[date]
    reporting_end: Mapped[date]
    cadence: Mapped[list] = mapped_column(JSON, default=list)
    implementing_group: Mapped[str | None] = mapped_column(String(100))
    implementing_note: Mapped[str | None] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64))

    sections: Mapped[list[Section]] = relationship(back_populates="plan", order_by="Section.position")
    tasks: Mapped[list[Task]] = relationship(back_populates="plan", order_by="Task.number")


class Section(db.Model):
    __tablename__ = "section"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    number: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    part: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int]
    plan: Mapped[Plan] = relationship(back_populates="sections")


class Task(db.Model):
    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("section.id"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    policy: Mapped[list] = mapped_column(JSON, default=list)

    plan: Mapped[Plan] = relationship(back_populates="tasks")
    section: Mapped[Section | None] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(back_populates="task", order_by="Assignment.position")
    groups: Mapped[list[TaskGroup]] = relationship(order_by="TaskGroup.position")
    indicators: Mapped[list[Indicator]] = relationship(back_populates="task", order_by="Indicator.position")


class TaskGroup(db.Model):
    """A task given to a unit group: each member of the group holds an assignment through it."""

    __tablename__ = "task_group"
    __table_args__ = (UniqueConstraint("task_id", "group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("unit_group.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    position: Mapped[int]
    group = relationship("UnitGroup")


class Indicator(db.Model):
    __tablename__ = "indicator"
    __table_args__ = (
        UniqueConstraint("plan_id", "key"),
        CheckConstraint("comparator IN ('>=', '<=', '~')", name="comparator"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"), index=True)  # NULL: plan-level target
    key: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    comparator: Mapped[str] = mapped_column(String(2))
    target: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    unit: Mapped[str] = mapped_column(String(30))
    due: Mapped[date]
    cumulative: Mapped[bool] = mapped_column(default=True)
    per_unit: Mapped[bool] = mapped_column(default=False)
    allow_negative: Mapped[bool] = mapped_column(default=False)
    reported_by: Mapped[list] = mapped_column(JSON, default=list)
    source: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    task: Mapped[Task | None] = relationship(back_populates="indicators")

    @property
    def target_text(self) -> str:
        return f"{COMPARATOR_LABELS[self.comparator]} {self.target.normalize():f} {self.unit}"


class Period(db.Model):
    __tablename__ = "period"
    __table_args__ = (
        UniqueConstraint("plan_id", "kind", "start"),
        Index("ix_period_plan_due", "plan_id", "due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    kind: Mapped[str] = mapped_column(String(20))
    start: Mapped[date]
    end: Mapped[date]
    label: Mapped[str] = mapped_column(String(50))
    due: Mapped[date]
    plan: Mapped[Plan] = relationship()


class Assignment(db.Model):
    """One task for one unit: the tracked work item (责任事项)."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("task_id", "unit_id"),
        CheckConstraint("role IN ('lead', 'co')", name="role"),
        CheckConstraint(
            "status IN ('not_started', 'in_progress', 'completed', 'blocked')", name="status"
        ),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
        Index("ix_assignment_unit_active", "unit_id", "active"),
        Index("ix_assignment_plan", "plan_id", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    role: Mapped[str] = mapped_column(String(10))
    via_group: Mapped[str | None] = mapped_column(String(100))  # the group the unit holds it through
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(20), default="not_started")
    progress: Mapped[int] = mapped_column(default=0)
    status_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    task: Mapped[Task] = relationship(back_populates="assignments")
    unit = relationship("Unit")

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)
