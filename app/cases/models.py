"""Cases (核查 / 问责): who looked at which figures, what the unit said, what was found and what followed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

CASE_STATES = ("open", "closed")
CASE_STATE_LABELS = {"open": "核查中", "closed": "已办结"}
OUTCOMES = ("cleared", "corrected", "accountability_referred")
OUTCOME_LABELS = {"cleared": "经核查无问题", "corrected": "已更正数据", "accountability_referred": "移交问责"}


class Case(db.Model):
    """A verification case on figures of one unit, opened by leading-group staff."""

    __tablename__ = "verification_case"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'closed')", name="state"),
        CheckConstraint("outcome IS NULL OR outcome IN ('cleared', 'corrected', 'accountability_referred')",
                        name="outcome"),
        Index("ix_verification_case_unit_state", "unit_id", "state"),
        Index("ix_verification_case_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    title: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(Text)  # why the case was opened
    state: Mapped[str] = mapped_column(String(20), default="open")
    findings: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(30))
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    opened_at: Mapped[datetime]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    unit = relationship("Unit")
    opened_by = relationship("User", foreign_keys=[opened_by_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])
    figures: Mapped[list[CaseFigure]] = relationship(back_populates="case", order_by="CaseFigure.id")
    requests: Mapped[list[CaseRequest]] = relationship(back_populates="case", order_by="CaseRequest.id")
    attachments: Mapped[list[CaseAttachment]] = relationship(back_populates="case", order_by="CaseAttachment.id")
    audit_links: Mapped[list[CaseAuditLink]] = relationship(back_populates="case", order_by="CaseAuditLink.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def state_label(self) -> str:
        return CASE_STATE_LABELS.get(self.state, self.state)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome or "", "")


class CaseFigure(db.Model):
    """A figure under a case, with both people answerable for it (一案双查): who entered the value in force
    and who reviewed and accepted the report, as they stood when the figure was put under the case."""

    __tablename__ = "case_figure"
    __table_args__ = (UniqueConstraint("case_id", "figure_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("verification_case.id"))
    figure_id: Mapped[int] = mapped_column(ForeignKey("figure.id"), index=True)
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("flag.id"), index=True)
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))  # the value in force when added
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    entered_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    accepted_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="figures")
    figure = relationship("Figure")
    flag = relationship("Flag")
    entered_by = relationship("User", foreign_keys=[entered_by_id])
    accepted_by = relationship("User", foreign_keys=[accepted_by_id])


class CaseRequest(db.Model):
    """A question the office puts to the unit, and the unit's answer."""

    __tablename__ = "case_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("verification_case.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    asked_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    answered_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="requests")
    asked_by = relationship("User", foreign_keys=[asked_by_id])
    answered_by = relationship("User", foreign_keys=[answered_by_id])


class CaseAttachment(db.Model):
    """A document attached to a case: stored under instance/attachments/ by a random name, never the
    uploaded one; the SHA-256 of its bytes is recorded at upload."""

    __tablename__ = "case_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("verification_case.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(200))  # shown and offered as the download name only
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="attachments")
    uploaded_by = relationship("User")


class CaseAuditLink(db.Model):
    """An audit event the office names as part of a case, beyond those found from its figures."""

    __tablename__ = "case_audit_link"
    __table_args__ = (UniqueConstraint("case_id", "audit_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("verification_case.id"))
    audit_seq: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))
    note: Mapped[str | None] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    added_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="audit_links")
    added_by = relationship("User")
