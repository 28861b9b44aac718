"""Report services: one function per state change, each writing its audit events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from ..plans.models import Assignment, Indicator, Period, Plan, Task
from ..workflow import workflows
from .models import Figure, Report, ReportTransition

TEXT_FIELDS = ("progress_text", "problems_text", "next_steps_text")


class ReportError(Exception):
    """A report change that is not allowed; the message is for the user (Chinese)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(ReportError):
    """Someone else saved the report first (optimistic locking)."""


def indicator_applies(reported_by: list[str], role: str, via_group: str | None, unit_name: str,
                      implementing_group: str | None) -> bool:
    """Pure rule: does an indicator's `reported_by` list include this assignment's unit?"""
    implementing = via_group is not None and via_group == implementing_group
    for who in reported_by:
        if who == "implementing" and implementing:
            return True
        if who == "lead" and role == "lead":
            return True
        if who == "co" and role == "co" and not implementing:
            return True
        if who == unit_name:
            return True
    return False


def indicators_for(assignment: Assignment) -> list[Indicator]:
    """The indicators whose figures this assignment reports.

    A task's indicators apply by `reported_by`; a plan-level target is carried by the first
    task (lowest number) in which the reporting unit holds an active assignment."""
    plan: Plan = assignment.task.plan
    unit_name = assignment.unit.name
    rows = db.session.execute(
        select(Indicator).where(Indicator.plan_id == plan.id,
                                (Indicator.task_id == assignment.task_id) | Indicator.task_id.is_(None))
        .order_by(Indicator.task_id.is_(None).desc(), Indicator.position)
    ).scalars().all()
    result = []
    for ind in rows:
        if not indicator_applies(ind.reported_by, assignment.role, assignment.via_group, unit_name,
                                 plan.implementing_group):
            continue
        if ind.task_id is None:
            first = db.session.execute(
                select(Assignment.task_id).join(Task, Task.id == Assignment.task_id)
                .where(Assignment.unit_id == assignment.unit_id, Assignment.plan_id == plan.id, Assignment.active)
                .order_by(Task.number).limit(1)
            ).scalar_one_or_none()
            if first != assignment.task_id:
                continue
        result.append(ind)
    return result


def current_periods(plan_ids: set[int], on: date, kind: str = "monthly") -> dict[int, Period]:
    """The current period of each plan, in one query (see current_period)."""
    rows = db.session.execute(
        select(Period).where(Period.plan_id.in_(list(plan_ids)), Period.kind == kind).order_by(Period.start)
    ).scalars().all() if plan_ids else []
    result: dict[int, Period] = {}
    for p in rows:
        if p.plan_id not in result or p.start <= on:
            result[p.plan_id] = p
    return result


def current_period(plan: Plan, today: date, kind: str = "monthly") -> Period | None:
    """The period of `kind` that contains today, else the last one that started, else the first."""
    periods = db.session.execute(
        select(Period).where(Period.plan_id == plan.id, Period.kind == kind).order_by(Period.start)
    ).scalars().all()
    if not periods:
        return None
    started = [p for p in periods if p.start <= today]
    return started[-1] if started else periods[0]


def is_overdue(report: Report | None, period: Period, on: date) -> bool:
    """A period is overdue for an assignment when its due date has passed and no report
    counting as submitted exists."""
    submitted = workflows().report.submitted_states()
    return period.due < on and (report is None or report.state not in submitted)


def get_report(assignment: Assignment, period: Period) -> Report | None:
    return db.session.execute(
        select(Report).where(Report.assignment_id == assignment.id, Report.period_id == period.id)
    ).scalar_one_or_none()


def is_unit_user(user: User, assignment: Assignment) -> bool:
    return user.role == "liaison" and user.unit_id == assignment.unit_id


def may_edit_report(user: User, assignment: Assignment, report: Report | None) -> bool:
    if not is_unit_user(user, assignment) or not assignment.active:
        return False
    state = report.state if report else workflows().report.initial
    return workflows().report.unit_may_edit(state)


def actor_kind(user: User, assignment: Assignment) -> str | None:
    if is_unit_user(user, assignment):
        return "unit"
    if user.is_office:
        return "office"
    return None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class ReportInput:
    progress_text: str
    problems_text: str
    next_steps_text: str
    figures: Mapping[int, Decimal | None]  # indicator id → value


def save_report(assignment: Assignment, period: Period, user: User, data: ReportInput,
                expected_version: int | None) -> Report:
    """Create or update the unit's report as a draft (or keep its returned state).

    `expected_version` is the version the user's form was loaded with: if someone saved in
    between, ConflictError is raised and nothing is written."""
    if period.plan_id != assignment.plan_id:
        raise ReportError("报送周期与责任事项不属于同一实施方案。", "period")
    actor = audit.actor_of(user)
    report = get_report(assignment, period)
    if not may_edit_report(user, assignment, report):
        raise ReportError("该报告当前状态下不能由本单位修改。")
    now = _now()
    if report is None:
        if expected_version not in (None, 0):
            raise ConflictError("该报告已被删除或不存在，请刷新后重试。")
        report = Report(assignment_id=assignment.id, period_id=period.id, state=workflows().report.initial,
                        created_at=now, updated_at=now, updated_by_id=user.id,
                        progress_text="", problems_text="", next_steps_text="")
        db.session.add(report)
        db.session.flush()
        audit.record("report.create", "report", report.id,
                     {"assignment": [None, assignment.id], "period": [None, period.label]}, actor=actor)
    elif expected_version is not None and report.version != expected_version:
        raise ConflictError("该报告已被他人修改（您打开后有新的保存），为避免覆盖，本次保存未生效。请刷新页面查看最新内容后再修改。")
    before = {f: getattr(report, f) for f in TEXT_FIELDS}
    for f in TEXT_FIELDS:
        setattr(report, f, getattr(data, f))
    changes = audit.diff(before, {f: getattr(report, f) for f in TEXT_FIELDS})
    allowed = {ind.id: ind for ind in indicators_for(assignment)}
    existing = {f.indicator_id: f for f in report.figures}
    for indicator_id, value in data.figures.items():
        if indicator_id not in allowed:
            raise ReportError("该指标不由本单位填报。", f"figure_{indicator_id}")
        fig = existing.get(indicator_id)
        old = fig.value if fig else None
        if fig is None:
            if value is None:
                continue
            fig = Figure(report=report, indicator_id=indicator_id, value=value)
            db.session.add(fig)
        elif _same(old, value):
            continue
        else:
            fig.value = value
        db.session.flush()
        audit.record("figure.set", "figure", fig.id,
                     {"value": [old, value]},
                     extra={"report": report.id, "indicator": allowed[indicator_id].key,
                            "unit": assignment.unit.name, "period": period.label}, actor=actor)
    if changes:
        report.updated_at, report.updated_by_id = now, user.id
        audit.record("report.update", "report", report.id, changes, actor=actor)
    else:
        report.updated_at = now
    db.session.flush()
    return report


def _same(a: Decimal | None, b: Decimal | None) -> bool:
    if a is None or b is None:
        return a is b
    return Decimal(a) == Decimal(b)


def transition(report: Report, action: str, user: User, reason: str | None = None,
               expected_version: int | None = None) -> Report:
    """Move a report along the workflow (submit, accept, return), if the user may."""
    wf = workflows().report
    move = wf.transitions.get(action)
    assignment = report.assignment
    if move is None:
        raise ReportError("未知的操作。")
    if expected_version is not None and report.version != expected_version:
        raise ConflictError("该报告已被他人修改，请刷新页面后再操作。")
    if actor_kind(user, assignment) != move.by or not assignment.active:
        raise ReportError("您无权执行此操作。")
    if report.state not in move.sources:
        raise ReportError(f"报告当前为“{wf.label(report.state)}”，不能{move.label}。")
    reason = (reason or "").strip() or None
    if move.reason_required and not reason:
        raise ReportError("请填写原因。", "reason")
    if action == "submit":
        _check_complete(report)
    now = _now()
    old = report.state
    report.state = move.target
    if move.target in wf.submitted_states() and move.by == "unit":
        report.submitted_at = now
        report.first_submitted_at = report.first_submitted_at or now
    if move.by == "office":
        report.decided_at = now
        report.return_reason = reason if action == "return" else report.return_reason
    db.session.add(ReportTransition(report=report, action=action, from_state=old, to_state=move.target,
                                    user_id=user.id, at=now, reason=reason))
    audit.record(f"report.{action}", "report", report.id, {"state": [old, move.target]}, reason=reason,
                 actor=audit.actor_of(user))
    db.session.flush()
    return report


def _check_complete(report: Report) -> None:
    if not (report.progress_text or "").strip():
        raise ReportError("报送前请填写“进展情况”。", "progress_text")
    values = {f.indicator_id: f.value for f in report.figures}
    missing = [ind for ind in indicators_for(report.assignment) if values.get(ind.id) is None]
    if missing:
        raise ReportError(f"报送前请填写指标“{missing[0].name}”的数值。", f"figure_{missing[0].id}")


def update_assignment(assignment: Assignment, user: User, status: str, progress: int, note: str | None,
                      expected_version: int | None) -> Assignment:
    """Update an assignment's status and progress (the liaison's running account of the work)."""
    from ..plans.access import may_edit_assignment

    if not may_edit_assignment(user, assignment):
        raise ReportError("您无权修改该责任事项。")
    if expected_version is not None and assignment.version != expected_version:
        raise ConflictError("该责任事项已被他人修改，请刷新页面后再保存。")
    before = {"status": assignment.status, "progress": assignment.progress, "status_note": assignment.status_note}
    assignment.status, assignment.progress, assignment.status_note = status, progress, note or None
    changes = audit.diff(before, {"status": status, "progress": progress, "status_note": note or None})
    if changes:
        audit.record("assignment.update", "assignment", assignment.id, changes, actor=audit.actor_of(user))
    db.session.flush()
    return assignment


def current_report_states(assignments: list[Assignment], on: date) -> dict[int, tuple[Period | None, Report | None]]:
    """For each assignment, its plan's current monthly period and its report in it (two queries)."""
    plan_ids = {a.plan_id for a in assignments}
    periods = current_periods(plan_ids, on)
    reports = {}
    if assignments and periods:
        rows = db.session.execute(
            select(Report).where(Report.assignment_id.in_([a.id for a in assignments]),
                                 Report.period_id.in_([p.id for p in periods.values()]))
        ).scalars()
        reports = {r.assignment_id: r for r in rows}
    return {a.id: (periods.get(a.plan_id), reports.get(a.id)) for a in assignments}
