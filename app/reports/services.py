"""Report services: one function per state change, each writing its audit events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from ..plans.models import Assignment, Indicator, Period, Plan, Task
from ..timeutil import utcnow
from ..workflow import workflows
from .models import Figure, FigureRestatement, FigureRevision, Report, ReportTransition

TEXT_FIELDS = ("progress_text", "problems_text", "next_steps_text")


class ReportError(Exception):
    """A report change that is not allowed; the message is for the user (translated when raised)."""

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
    """The current period of each plan, in one query (see current_period).

    The database picks each plan's one period (a window ranking: the started ones first, latest start
    first; else the earliest), so a liaison in many plans loads one period per plan, not all of them."""
    if not plan_ids:
        return {}
    started = Period.start <= on
    ranked = (
        select(Period.id, func.row_number().over(
            partition_by=Period.plan_id,
            order_by=(case((started, 0), else_=1), case((started, Period.start)).desc(), Period.start,
                      Period.id.desc())).label("rank"))
        .where(Period.plan_id.in_(sorted(plan_ids)), Period.kind == kind)
        .subquery()
    )
    rows = db.session.execute(select(Period).join(ranked, ranked.c.id == Period.id).where(ranked.c.rank == 1))
    return {p.plan_id: p for p in rows.scalars()}


def current_period(plan: Plan, today: date, kind: str = "monthly") -> Period | None:
    """The period of `kind` that contains today, else the last one that started, else the first."""
    periods = db.session.execute(
        select(Period).where(Period.plan_id == plan.id, Period.kind == kind).order_by(Period.start)
    ).scalars().all()
    return current_among(periods, today, kind)


def current_among(periods: list[Period], today: date, kind: str = "monthly") -> Period | None:
    """current_period, chosen among periods already loaded (any kinds, any order): no query."""
    of_kind = sorted((p for p in periods if p.kind == kind), key=lambda p: p.start)
    if not of_kind:
        return None
    started = [p for p in of_kind if p.start <= today]
    return started[-1] if started else of_kind[0]


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
    return utcnow().replace(tzinfo=None)


@dataclass
class ReportInput:
    progress_text: str
    problems_text: str
    next_steps_text: str
    figures: Mapping[int, Decimal | None]  # indicator id → value
    revision_reason: str | None = None  # why figures change in a report that was submitted before


REASON_MAX = 2000


def save_report(assignment: Assignment, period: Period, user: User, data: ReportInput,
                expected_version: int | None) -> Report:
    """Create or update the unit's report as a draft (or keep its returned state).

    `expected_version` is the version the user's form was loaded with: if someone saved in
    between, ConflictError is raised and nothing is written. Every figure value goes into the
    figure's revision history; changing a figure of a report submitted before needs a reason."""
    if period.plan_id != assignment.plan_id:
        raise ReportError(gettext("报送周期与责任事项不属于同一实施方案。"), "period")
    actor = audit.actor_of(user)
    report = get_report(assignment, period)
    if not may_edit_report(user, assignment, report):
        raise ReportError(gettext("该报告当前状态下不能由本单位修改。"))
    if report is not None and expected_version is not None and report.version != expected_version:
        raise ConflictError(gettext("该报告已被他人修改（您打开后有新的保存），为避免覆盖，本次保存未生效。请刷新页面查看最新内容后再修改。"))
    if report is None and expected_version not in (None, 0):
        raise ConflictError(gettext("该报告已被删除或不存在，请刷新后重试。"))
    allowed = {ind.id: ind for ind in indicators_for(assignment)}
    for indicator_id in data.figures:
        if indicator_id not in allowed:
            raise ReportError(gettext("该指标不由本单位填报。"), f"figure_{indicator_id}")
    reason = revision_reason(report, _changed_figures(report, data.figures), data.revision_reason)
    now = _now()
    if report is None:
        report = _create_report(assignment, period, user, now)
    before = {f: getattr(report, f) for f in TEXT_FIELDS}
    for f in TEXT_FIELDS:
        setattr(report, f, getattr(data, f))
    changes = audit.diff(before, {f: getattr(report, f) for f in TEXT_FIELDS})
    set_figures(report, user, {i: FigureEntry(v) for i, v in data.figures.items()}, reason, allowed, now=now)
    if changes:
        report.updated_at, report.updated_by_id = now, user.id
        audit.record("report.update", "report", report.id, changes, actor=actor)
    else:
        report.updated_at = now
    db.session.flush()
    return report


def _create_report(assignment: Assignment, period: Period, user: User, now: datetime) -> Report:
    report = Report(assignment_id=assignment.id, period_id=period.id, state=workflows().report.initial,
                    created_at=now, updated_at=now, updated_by_id=user.id,
                    progress_text="", problems_text="", next_steps_text="")
    db.session.add(report)
    try:
        db.session.flush()
    except IntegrityError:  # someone created it between our read and this insert (the caller rolls back)
        raise ConflictError(gettext("该报告已被他人同时创建，为避免覆盖，本次保存未生效。请刷新页面查看最新内容后再修改。")) from None
    audit.record("report.create", "report", report.id,
                 {"assignment": [None, assignment.id], "period": [None, period.label]}, actor=audit.actor_of(user))
    return report


def _changed_figures(report: Report | None, figures: Mapping[int, Decimal | None]) -> list[int]:
    """The indicators whose value would change (a new figure with no value changes nothing)."""
    existing = {f.indicator_id: f.value for f in report.figures} if report is not None else {}
    return [i for i, v in figures.items() if not _same(existing.get(i), v)]


def revision_reason(report: Report | None, changed: list[int], given: str | None) -> str | None:
    """The reason recorded for changing figures, or ReportError when one is needed and missing.

    A report never submitted needs none. Once submitted, a change needs the unit's reason; when the
    unit gives none for a report the office returned with a reason, the return is the reason
    (“按退回意见修改：…”), so the correction stays tied to what asked for it."""
    reason = (given or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise ReportError(gettext("修改原因不能超过 %(n)s 个字。", n=REASON_MAX), "revision_reason")
    if report is None or report.first_submitted_at is None or not changed:
        return reason
    if reason:
        return reason
    if report.state == "returned" and (report.return_reason or "").strip():
        return f"按退回意见修改：{report.return_reason.strip()}"
    raise ReportError(gettext("该报告已报送过，修改指标数值须填写修改原因。"), "revision_reason")


@dataclass(frozen=True)
class FigureEntry:
    value: Decimal | None
    stated_at: datetime | None = None  # the time of entry a bulk-load file gave


def set_figures(report: Report, user: User, entries: Mapping[int, FigureEntry], reason: str | None,
                indicators: Mapping[int, Indicator], *, now: datetime | None = None, source: str = "form") -> int:
    """Write figure values into an editable report: each change becomes a revision and an audit event.

    The kind is `entry` before the report was first submitted, `revision` after (with `reason`).
    Returns the number of figures changed."""
    now = now or _now()
    assignment = report.assignment
    kind = "revision" if report.first_submitted_at is not None else "entry"
    existing = {f.indicator_id: f for f in report.figures}
    changed = 0
    for indicator_id, entry in entries.items():
        fig = existing.get(indicator_id)
        old = fig.value if fig else None
        if fig is None:
            if entry.value is None:
                continue
            fig = Figure(report=report, indicator_id=indicator_id, value=entry.value)
            db.session.add(fig)
        elif _same(old, entry.value):
            continue
        else:
            fig.value = entry.value
        db.session.flush()
        db.session.add(FigureRevision(figure_id=fig.id, kind=kind, value=entry.value, previous_value=old,
                                      reason=reason if kind == "revision" else None, source=source,
                                      user_id=user.id, at=now, stated_at=entry.stated_at))
        extra = {"report": report.id, "indicator": indicators[indicator_id].key, "unit": assignment.unit.name,
                 "period": report.period.label, "kind": kind, "source": source}
        if entry.stated_at is not None:
            extra["stated_at"] = entry.stated_at
        audit.record("figure.set", "figure", fig.id, {"value": [old, entry.value]},
                     reason=reason if kind == "revision" else None, extra=extra, actor=audit.actor_of(user))
        changed += 1
    return changed


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
        raise ReportError(gettext("未知的操作。"))
    if expected_version is not None and report.version != expected_version:
        raise ConflictError(gettext("该报告已被他人修改，请刷新页面后再操作。"))
    if actor_kind(user, assignment) != move.by or not assignment.active:
        raise ReportError(gettext("您无权执行此操作。"))
    if report.state not in move.sources:
        raise ReportError(gettext("报告当前为“%(state)s”，不能%(action)s。", state=gettext(wf.label(report.state)), action=gettext(move.label)))
    reason = (reason or "").strip() or None
    if move.reason_required and not reason:
        raise ReportError(gettext("请填写原因。"), "reason")
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
        raise ReportError(gettext("报送前请填写“进展情况”。"), "progress_text")
    values = {f.indicator_id: f.value for f in report.figures}
    missing = [ind for ind in indicators_for(report.assignment) if values.get(ind.id) is None]
    if missing:
        raise ReportError(gettext("报送前请填写指标“%(name)s”的数值。", name=missing[0].name), f"figure_{missing[0].id}")


def update_assignment(assignment: Assignment, user: User, status: str, progress: int, note: str | None,
                      expected_version: int | None) -> Assignment:
    """Update an assignment's status and progress (the liaison's running account of the work)."""
    from ..plans.access import may_edit_assignment

    if not may_edit_assignment(user, assignment):
        raise ReportError(gettext("您无权修改该责任事项。"))
    if expected_version is not None and assignment.version != expected_version:
        raise ConflictError(gettext("该责任事项已被他人修改，请刷新页面后再保存。"))
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


# --- restatements: correcting a figure of an accepted report ------------------------------------------------


def is_locked(report: Report) -> bool:
    """An accepted (final) report is locked: its figures change only through approved restatements."""
    return bool(workflows().report.states.get(report.state, {}).get("final"))


def may_request_restatement(user: User, assignment: Assignment) -> bool:
    """The unit's liaison files restatements; the office may file one on the unit's behalf (e.g. from a
    letter or a loaded file), and another staff member then decides it."""
    return assignment.active and (is_unit_user(user, assignment) or user.is_office)


def pending_restatement(figure: Figure) -> FigureRestatement | None:
    return db.session.execute(
        select(FigureRestatement).where(FigureRestatement.figure_id == figure.id,
                                        FigureRestatement.state == "pending")
    ).scalar_one_or_none()


def request_restatement(figure: Figure, user: User, value: Decimal | None, reason: str | None, *,
                        source: str = "form", stated_at: datetime | None = None) -> FigureRestatement:
    """File a restatement (更正申请) of a figure in an accepted report: the new value waits for approval
    and the figure keeps its value until then. One pending restatement per figure."""
    report = figure.report
    assignment = report.assignment
    if not may_request_restatement(user, assignment):
        raise ReportError(gettext("您无权为该数值申请更正。"))
    if not is_locked(report):
        raise ReportError(gettext("只有审核通过的报告才需申请更正；未通过的报告可直接修改。"))
    if value is None:
        raise ReportError(gettext("请填写更正后的数值。"), "value")
    reason = (reason or "").strip()
    if not reason:
        raise ReportError(gettext("请填写更正原因。"), "reason")
    if len(reason) > REASON_MAX:
        raise ReportError(gettext("更正原因不能超过 %(n)s 个字。", n=REASON_MAX), "reason")
    # Lock the figure row so two requests for one figure cannot both pass the checks.
    db.session.execute(select(Figure.id).where(Figure.id == figure.id).with_for_update())
    if _same(figure.value, value):
        raise ReportError(gettext("更正后的数值与现值相同。"), "value")
    if pending_restatement(figure) is not None:
        raise ReportError(gettext("该数值已有待审核的更正申请，请等待审核结果。"), "value")
    now = _now()
    restatement = FigureRestatement(figure_id=figure.id, value=value, previous_value=figure.value, reason=reason,
                                    state="pending", source=source, requested_by_id=user.id, requested_at=now,
                                    stated_at=stated_at)
    db.session.add(restatement)
    db.session.flush()
    audit.record("restatement.request", "figure_restatement", restatement.id,
                 {"state": [None, "pending"], "value": [None, value]}, reason=reason,
                 extra={"figure": figure.id, "report": report.id, "indicator": figure.indicator.key,
                        "unit": assignment.unit.name, "period": report.period.label,
                        "value_in_force": figure.value, "source": source},
                 actor=audit.actor_of(user))
    return restatement


def decide_restatement(restatement: FigureRestatement, user: User, decision: str, note: str | None,
                       expected_version: int | None = None) -> FigureRestatement:
    """Approve (the figure takes the new value, recorded as a `restatement` revision) or reject a pending
    restatement. Office staff decide, never the person who filed it; a rejection needs a note."""
    if decision not in ("approve", "reject"):
        raise ReportError(gettext("未知的操作。"))
    if not user.is_office:
        raise ReportError(gettext("只有领导小组办公室可以审核更正申请。"))
    if expected_version is not None and restatement.version != expected_version:
        raise ConflictError(gettext("该更正申请已被他人处理，请刷新页面。"))
    if restatement.state != "pending":
        raise ReportError(gettext("该更正申请已%(state)s，不能重复审核。", state=gettext(restatement.state_label)))
    if restatement.requested_by_id == user.id:
        raise ReportError(gettext("不能审核本人提交的更正申请。"))
    note = (note or "").strip() or None
    if decision == "reject" and not note:
        raise ReportError(gettext("驳回更正申请须填写意见。"), "note")
    if note and len(note) > REASON_MAX:
        raise ReportError(gettext("审核意见不能超过 %(n)s 个字。", n=REASON_MAX), "note")
    figure = restatement.figure
    now = _now()
    restatement.state = "approved" if decision == "approve" else "rejected"
    restatement.decided_by_id, restatement.decided_at, restatement.decision_note = user.id, now, note
    actor = audit.actor_of(user)
    report = figure.report
    extra = {"figure": figure.id, "report": report.id, "indicator": figure.indicator.key,
             "unit": report.assignment.unit.name, "period": report.period.label}
    audit.record(f"restatement.{decision}", "figure_restatement", restatement.id,
                 {"state": ["pending", restatement.state]}, reason=note, extra=extra, actor=actor)
    if decision == "approve":
        old = figure.value
        figure.value = restatement.value
        db.session.add(FigureRevision(figure_id=figure.id, kind="restatement", value=restatement.value,
                                      previous_value=old, reason=restatement.reason, source=restatement.source,
                                      user_id=restatement.requested_by_id, at=now, stated_at=restatement.stated_at,
                                      approved_by_id=user.id, restatement_id=restatement.id))
        audit.record("figure.restate", "figure", figure.id, {"value": [old, restatement.value]},
                     reason=restatement.reason,
                     extra={**extra, "kind": "restatement", "restatement": restatement.id}, actor=actor)
    db.session.flush()
    return restatement


# --- what the report page shows about each figure ---------------------------------------------------------


@dataclass
class FigureHistory:
    """A figure's values over time and its restatements, for the report and review pages."""

    figure: Figure
    revisions: list[FigureRevision]
    restatements: list[FigureRestatement]

    @property
    def pending(self) -> FigureRestatement | None:
        return next((r for r in self.restatements if r.state == "pending"), None)

    @property
    def revised(self) -> bool:
        return any(r.kind == "revision" for r in self.revisions)

    @property
    def restated(self) -> bool:
        return any(r.kind == "restatement" for r in self.revisions)


def figure_histories(report: Report | None) -> dict[int, FigureHistory]:
    """Indicator id → history of each figure in the report (two queries, whatever the number of figures)."""
    if report is None or not report.figures:
        return {}
    from sqlalchemy.orm import selectinload

    ids = [f.id for f in report.figures]
    revisions: dict[int, list[FigureRevision]] = {i: [] for i in ids}
    for rev in db.session.execute(
        select(FigureRevision).where(FigureRevision.figure_id.in_(ids)).order_by(FigureRevision.id)
        .options(selectinload(FigureRevision.user), selectinload(FigureRevision.approved_by))
    ).scalars():
        revisions[rev.figure_id].append(rev)
    restatements: dict[int, list[FigureRestatement]] = {i: [] for i in ids}
    for rs in db.session.execute(
        select(FigureRestatement).where(FigureRestatement.figure_id.in_(ids)).order_by(FigureRestatement.id)
        .options(selectinload(FigureRestatement.requested_by), selectinload(FigureRestatement.decided_by))
    ).scalars():
        restatements[rs.figure_id].append(rs)
    return {f.indicator_id: FigureHistory(f, revisions[f.id], restatements[f.id]) for f in report.figures}


def pending_restatements(page: int = 1, per_page: int = 50) -> tuple[list[FigureRestatement], int]:
    """Pending restatements, oldest first, one page (with the total), for the office's list."""
    from sqlalchemy import func
    from sqlalchemy.orm import joinedload

    total = db.session.execute(
        select(func.count()).select_from(FigureRestatement).where(FigureRestatement.state == "pending")
    ).scalar_one()
    rows = db.session.execute(
        select(FigureRestatement).where(FigureRestatement.state == "pending")
        .order_by(FigureRestatement.requested_at, FigureRestatement.id)
        .options(joinedload(FigureRestatement.requested_by),
                 joinedload(FigureRestatement.figure).joinedload(Figure.indicator),
                 joinedload(FigureRestatement.figure).joinedload(Figure.report).joinedload(Report.period),
                 joinedload(FigureRestatement.figure).joinedload(Figure.report).joinedload(Report.assignment)
                 .joinedload(Assignment.unit))
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).scalars().all()
    return list(rows), total


def assignment_for_indicator(unit_id: int, unit_name: str, indicator: Indicator) -> Assignment | None:
    """The unit's active assignment whose reports carry this indicator's figure, or None (see indicators_for)."""
    plan = db.session.get(Plan, indicator.plan_id)
    query = (select(Assignment).join(Task, Task.id == Assignment.task_id)
             .where(Assignment.unit_id == unit_id, Assignment.plan_id == indicator.plan_id, Assignment.active))
    if indicator.task_id is not None:
        query = query.where(Assignment.task_id == indicator.task_id)
    assignment = db.session.execute(query.order_by(Task.number).limit(1)).scalar_one_or_none()
    if assignment is None or not indicator_applies(indicator.reported_by, assignment.role, assignment.via_group,
                                                   unit_name, plan.implementing_group):
        return None
    return assignment
