"""A plan drafted from an issued document, kept on the server between the steps of the draft page.

The client never carries the draft: the page posts the corrections, the server applies them to
the YAML stored here. A draft belongs to the person who uploaded the document (token + user)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

DRAFT_STATUSES = ("open", "imported", "discarded")


class PlanDraft(db.Model):
    __tablename__ = "plan_draft"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'imported', 'discarded')", name="status"),
        Index("ix_plan_draft_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # random; the id in URLs
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    filename: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # txt | docx
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_lines: Mapped[list] = mapped_column(JSON, default=list)  # the document's text lines
    source_spans: Mapped[dict] = mapped_column(JSON, default=dict)  # {"task number": [first, last]} 1-based
    warnings: Mapped[list] = mapped_column(JSON, default=list)  # the parser's, in Chinese
    confirmed_new: Mapped[list] = mapped_column(JSON, default=list)  # unit names confirmed as new units
    yaml_text: Mapped[str] = mapped_column(Text)  # the draft plan file, as last saved
    status: Mapped[str] = mapped_column(String(10), default="open")
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    user = relationship("User")
    plan = relationship("Plan")
