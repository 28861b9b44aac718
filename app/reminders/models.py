"""Reminder tables: due-date overrides, ladder steps taken, the outbox of notices, the in-app
inbox and the scheduler's job locks and heartbeat."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

NOTICE_CHANNELS = ("mail", "webhook", "inbox")
NOTICE_STATUSES = ("pending", "sent", "failed")
STATUS_LABELS = {"pending": "待发送", "sent": "已发送", "failed": "发送失败"}
CHANNEL_LABELS = {"mail": "邮件", "webhook": "群机器人", "inbox": "站内"}


class DueOverride(db.Model):
    """A due date set by the leading-group office instead of the cadence's rule.

    ``assignment_id`` set: for one assignment in one period; NULL: for the whole period.
    The assignment's override wins over the period's, which wins over ``Period.due``."""

    __tablename__ = "due_override"
    __table_args__ = (
        Index("uq_due_override_assignment_period", "assignment_id", "period_id", unique=True,
              sqlite_where=text("assignment_id IS NOT NULL"),
              postgresql_where=text("assignment_id IS NOT NULL")),
        Index("uq_due_override_period", "period_id", unique=True,
              sqlite_where=text("assignment_id IS NULL"), postgresql_where=text("assignment_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id"))
    due: Mapped[date]
    reason: Mapped[str] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    set_at: Mapped[datetime]

    period = relationship("Period")
    set_by = relationship("User")


class LadderStep(db.Model):
    """A rung of the escalation ladder taken for one assignment and period (each step once).

    ``by_user_id`` NULL: taken by the daily sweep; set: a manual urge by that user, with
    ``message``."""

    __tablename__ = "ladder_step"
    __table_args__ = (
        UniqueConstraint("assignment_id", "period_id", "step"),
        Index("ix_ladder_step_period_step", "period_id", "step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id"))
    step: Mapped[str] = mapped_column(String(30))
    due: Mapped[date]  # the effective due date the step was counted from
    day: Mapped[date]  # the (Asia/Shanghai) day it was taken
    taken_at: Mapped[datetime]
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    message: Mapped[str | None] = mapped_column(Text)

    by_user = relationship("User")


class Notice(db.Model):
    """One message in the outbox: a digest for one recipient, one day and one kind.

    The unique key (channel, recipient, day, kind) means a second sweep, or two at once,
    adds nothing. ``claimed_by``/``claimed_until`` is a sender's lease on a pending row."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("channel", "recipient", "day", "kind"),
        CheckConstraint("channel IN ('mail', 'webhook', 'inbox')", name="channel"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_notice_status_next", "status", "next_attempt_at"),
        Index("ix_notice_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(200))  # e-mail address, "webhook" or "user:<id>"
    day: Mapped[date]
    kind: Mapped[str] = mapped_column(String(60))  # ladder step key, "audit_head", "urge_manual:<a>:<p>"
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    items: Mapped[dict] = mapped_column(JSON)  # {"total": n, "items": [...]}
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str] = mapped_column(String(200))

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)


class InboxEntry(db.Model):
    """A notice as it appears in one user's in-app inbox."""

    __tablename__ = "inbox_entry"
    __table_args__ = (
        UniqueConstraint("user_id", "notice_id"),
        Index("ix_inbox_entry_user_read", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    notice: Mapped[Notice] = relationship()


class SchedulerJob(db.Model):
    """One row per scheduler job: the lock that keeps a second scheduler idle, and what the
    last run did. The row named "scheduler" is the heartbeat of the running scheduler."""

    __tablename__ = "scheduler_job"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_ok_day: Mapped[date | None]
    last_result: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
