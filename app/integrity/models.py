"""Plausibility flags (疑点): a figure a rule questions, and its life open → explained → dismissed / confirmed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

FLAG_STATES = ("open", "explained", "dismissed", "confirmed")
FLAG_STATE_LABELS = {"open": "待说明", "explained": "单位已说明", "dismissed": "已排除", "confirmed": "已确认"}


class Flag(db.Model):
    """A figure questioned by a plausibility rule. One flag per rule, unit, indicator and period:
    a later scan that raises the same question does not raise it twice."""

    __tablename__ = "flag"
    __table_args__ = (
        UniqueConstraint("rule", "unit_id", "indicator_id", "period_id"),
        CheckConstraint("state IN ('open', 'explained', 'dismissed', 'confirmed')", name="state"),
        Index("ix_flag_state", "state", "id"),
        Index("ix_flag_unit_period", "unit_id", "period_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    figure_id: Mapped[int | None] = mapped_column(ForeignKey("figure.id"), index=True)  # the questioned figure
    figure_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # every figure the evidence names
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(20), default="open")
    raised_at: Mapped[datetime]
    explanation: Mapped[str | None] = mapped_column(Text)
    explained_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    explained_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    plan = relationship("Plan")
    unit = relationship("Unit")
    indicator = relationship("Indicator")
    period = relationship("Period")
    figure = relationship("Figure")
    explained_by = relationship("User", foreign_keys=[explained_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def state_label(self) -> str:
        return FLAG_STATE_LABELS.get(self.state, self.state)

    @property
    def rule_label(self) -> str:
        from .rules import RULES

        rule = RULES.get(self.rule)
        return rule.label_zh if rule else self.rule

    @property
    def is_settled(self) -> bool:
        return self.state in ("dismissed", "confirmed")
