"""Briefs: issuing one (gather → render → store → audit), reading the stored ones, and the good-practice marks.

Plain functions; the caller commits. Every change records its audit event in the same transaction."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..audit import services as audit
from ..audit.chain import canonical_json
from ..auth.models import User
from ..extensions import db
from ..plans.models import Assignment, Period, Plan
from ..reports.models import Report
from ..timeutil import to_local, utcnow
from ..workflow import workflows
from . import content as briefs_content
from .content import BRIEF_KIND_LABELS, BriefError
from .docx import render
from .models import BRIEF_KINDS, Brief, PracticeMark

TITLE_MAX = 200
NOTE_MAX = 2000

__all__ = ["BriefError", "issue_brief", "mark_practice", "unmark_practice"]


def _now() -> datetime:
    return utcnow().replace(tzinfo=None)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_sha256(content: dict[str, Any]) -> str:
    """The hash of a brief's content in the audit log's canonical form (keys sorted, numbers as text)."""
    return sha256(canonical_json(content))


# --------------------------------------------------------------------------- choosing what to issue


def resolve(plan_id: Any, kind: Any, period_id: Any) -> tuple[Plan, str, Period]:
    """The plan, kind and period named by a form, or BriefError (with the field) when one does not fit."""
    plan = db.session.get(Plan, plan_id) if isinstance(plan_id, int) else None
    if plan is None:
        raise BriefError(gettext("请选择实施方案。"), "plan")
    if kind not in BRIEF_KINDS:
        raise BriefError(gettext("请选择简报类型。"), "kind")
    period = db.session.get(Period, period_id) if isinstance(period_id, int) else None
    if period is None:
        raise BriefError(gettext("报送周期不存在，请重新选择。"), "period")
    if period.plan_id != plan.id:
        raise BriefError(gettext("该报送周期不属于所选实施方案。"), "period")
    briefs_content.span_of(kind, period)  # raises when the period is of the wrong kind
    return plan, kind, period


def next_number(plan_id: int, kind: str) -> int:
    """The issue number of the plan's next brief of this kind (第 N 期)."""
    held = db.session.execute(
        select(func.max(Brief.number)).where(Brief.plan_id == plan_id, Brief.kind == kind)).scalar()
    return (held or 0) + 1


def issue_brief(plan: Plan, kind: str, period: Period, user: User, *, today: date | None = None) -> Brief:
    """Gather the brief's content, render its Word document and store both with their hashes and the audit
    head at issue; record the issue. The stored brief never changes afterwards."""
    from ..timeutil import today as local_today

    if not user.is_office:
        raise BriefError(gettext("只有领导小组办公室可以印发简报。"))
    if period.plan_id != plan.id:
        raise BriefError(gettext("该报送周期不属于所选实施方案。"), "period")
    # One issue at a time per plan, so two issues never get the same number (a no-op on SQLite, which
    # serialises writers anyway).
    db.session.execute(select(Plan.id).where(Plan.id == plan.id).with_for_update())
    content = briefs_content.gather(plan, kind, period, today or local_today())
    now = _now()
    number = next_number(plan.id, kind)
    content.update({
        "number": number,
        "issued_at": now.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        "issued_on": to_local(now).date().isoformat(),
        "issued_by": user.name,
    })
    document = render(content)
    digest, content_digest = sha256(document), content_sha256(content)
    brief = Brief(plan_id=plan.id, period_id=period.id, kind=kind, number=number, title=content["title"],
                  content=content, docx=document, sha256=digest, audit_seq=content["audit"]["seq"],
                  audit_hash=content["audit"]["hash"], issued_by_id=user.id, issued_at=now)
    db.session.add(brief)
    db.session.flush()
    audit.record("brief.issue", "brief", brief.id, {"number": [None, number]}, actor=audit.actor_of(user), extra={
        "plan": plan.slug, "kind": kind, "period": period.label, "title": brief.title, "sha256": digest,
        "content_sha256": content_digest, "audit_head": f"{brief.audit_hash}@{brief.audit_seq}"})
    return brief


def record_download(brief: Brief, user: User) -> None:
    """A download of an issued brief is an export, recorded as a security event."""
    audit.record("brief.download", "brief", brief.id, {}, actor=audit.actor_of(user),
                 extra={"what": "brief.docx", "sha256": brief.sha256, "kind": brief.kind, "number": brief.number})


def download_name(brief: Brief) -> str:
    label = (brief.content or {}).get("span", {}).get("label", "")
    return f"{BRIEF_KIND_LABELS.get(brief.kind, brief.kind)}-{label}-第{brief.number}期.docx"


# --------------------------------------------------------------------------- reading


def briefs_page(plan_id: int | None, page: int = 1, per_page: int = 50) -> tuple[list[Brief], int]:
    """Issued briefs, newest first (one plan's, or all), one page and the count. The stored documents are not
    loaded."""
    from sqlalchemy.orm import defer

    base = select(Brief)
    if plan_id is not None:
        base = base.where(Brief.plan_id == plan_id)
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = db.session.execute(
        base.options(defer(Brief.docx), defer(Brief.content), joinedload(Brief.plan), joinedload(Brief.issued_by))
        .order_by(Brief.issued_at.desc(), Brief.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).scalars().all()
    return list(rows), total


# --------------------------------------------------------------------------- good-practice marks


def practice_marks_for(report_ids: list[int]) -> dict[int, PracticeMark]:
    """Report id → its good-practice mark, for the reports given (one query)."""
    if not report_ids:
        return {}
    rows = db.session.execute(select(PracticeMark).where(PracticeMark.report_id.in_(report_ids))).scalars()
    return {m.report_id: m for m in rows}


def practice_rows(periods: list[Period], reports: dict[int, Report]) -> list[tuple[Period, Report, PracticeMark | None]]:
    """(period, report, mark) of each report that may carry a mark, in the periods' order (one query)."""
    submitted = workflows().report.submitted_states()
    rows = [(p, reports[p.id]) for p in periods if p.id in reports and reports[p.id].state in submitted]
    marks = practice_marks_for([r.id for _, r in rows])
    return [(p, r, marks.get(r.id)) for p, r in rows]


def may_mark(report: Report) -> bool:
    return report.state in workflows().report.submitted_states()


def _check_text(title: str | None, note: str | None) -> tuple[str, str]:
    title, note = (title or "").strip(), (note or "").strip()
    if not title:
        raise BriefError(gettext("请填写典型经验的标题。"), "title")
    if len(title) > TITLE_MAX:
        raise BriefError(gettext("标题不能超过 %(n)s 个字。", n=TITLE_MAX), "title")
    if not note:
        raise BriefError(gettext("请填写典型经验的简要说明。"), "note")
    if len(note) > NOTE_MAX:
        raise BriefError(gettext("说明不能超过 %(n)s 个字。", n=NOTE_MAX), "note")
    return title, note


def mark_practice(report: Report, user: User, title: str | None, note: str | None) -> PracticeMark:
    """Mark a submitted or accepted report as a good practice (典型经验), or change the mark's title and note.
    One mark per report."""
    if not user.is_office:
        raise BriefError(gettext("只有领导小组办公室可以标记典型经验。"))
    if not may_mark(report):
        raise BriefError(gettext("只有已报送或已通过的报告可以标记为典型经验。"))
    title, note = _check_text(title, note)
    mark = practice_marks_for([report.id]).get(report.id)
    extra = {"report": report.id, "unit": report.assignment.unit.name, "period": report.period.label}
    if mark is None:
        mark = PracticeMark(report_id=report.id, title=title, note=note, marked_by_id=user.id, marked_at=_now())
        db.session.add(mark)
        db.session.flush()
        audit.record("practice.mark", "practice_mark", mark.id, {"title": [None, title], "note": [None, note]},
                     extra=extra, actor=audit.actor_of(user))
        return mark
    changes = audit.diff({"title": mark.title, "note": mark.note}, {"title": title, "note": note})
    if changes:
        mark.title, mark.note, mark.marked_by_id, mark.marked_at = title, note, user.id, _now()
        db.session.flush()
        audit.record("practice.update", "practice_mark", mark.id, changes, extra=extra, actor=audit.actor_of(user))
    return mark


def unmark_practice(report: Report, user: User) -> None:
    """Take a report's good-practice mark away (briefs already issued keep it: they hold their own text)."""
    if not user.is_office:
        raise BriefError(gettext("只有领导小组办公室可以取消典型经验标记。"))
    mark = practice_marks_for([report.id]).get(report.id)
    if mark is None:
        raise BriefError(gettext("该报告未被标记为典型经验。"))
    audit.record("practice.unmark", "practice_mark", mark.id, {"title": [mark.title, None], "note": [mark.note, None]},
                 extra={"report": report.id, "unit": report.assignment.unit.name, "period": report.period.label},
                 actor=audit.actor_of(user))
    db.session.delete(mark)
    db.session.flush()


def issue_choices(plan: Plan) -> list[Period]:
    """The periods a brief can be issued for, in order (the form shows them)."""
    return list(db.session.execute(
        select(Period).where(Period.plan_id == plan.id).order_by(Period.start, Period.kind)).scalars())


def report_for_mark(report_id: int) -> Report | None:
    return db.session.execute(
        select(Report).where(Report.id == report_id)
        .options(joinedload(Report.assignment).joinedload(Assignment.unit), joinedload(Report.period),
                 joinedload(Report.assignment).joinedload(Assignment.task))
    ).scalar_one_or_none()
