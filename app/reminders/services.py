"""Reminder services: effective due dates and their overrides, an item's ladder steps and
traffic lights, the manual urge, the in-app inbox and the outbox's admin actions.

Plain functions; the caller commits. Every change writes its audit event in the same
transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import aliased, joinedload

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from ..plans.models import Assignment, Indicator, Period, Plan
from ..reports.models import Figure, Report
from ..workflow import workflows
from .dbutil import utcnow
from .ladder import Step
from .lights import IndicatorProgress, Light, light_for
from .models import DueOverride, InboxEntry, LadderStep, Notice

REASON_MAX = 500
MESSAGE_MAX = 500


class ReminderError(Exception):
    """A change that is not allowed; the message is for the user (Chinese), ``field`` names the
    form field it belongs beside."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --------------------------------------------------------------------------- effective due dates


def effective_due_joins(query: Select) -> tuple[Select, Any]:
    """Join the overrides to a query over Assignment and Period; returns the query and the
    SQL expression of the effective due date (assignment's override > period's > Period.due)."""
    own = aliased(DueOverride, name="due_own")
    whole = aliased(DueOverride, name="due_whole")
    query = query.outerjoin(own, and_(own.assignment_id == Assignment.id, own.period_id == Period.id)).outerjoin(
        whole, and_(whole.period_id == Period.id, whole.assignment_id.is_(None)))
    return query, func.coalesce(own.due, whole.due, Period.due)


@dataclass
class DueInfo:
    due: date  # the effective due date
    rule_due: date  # Period.due, from the cadence
    override: DueOverride | None  # the override that set ``due``, if any

    @property
    def scope(self) -> str | None:
        if self.override is None:
            return None
        return "assignment" if self.override.assignment_id is not None else "period"


def due_infos(assignment_id: int, periods: list[Period]) -> dict[int, DueInfo]:
    """The effective due date of one assignment in each of the periods, in one query."""
    ids = [p.id for p in periods]
    overrides = db.session.execute(
        select(DueOverride).options(joinedload(DueOverride.set_by)).where(
            DueOverride.period_id.in_(ids),
            (DueOverride.assignment_id == assignment_id) | DueOverride.assignment_id.is_(None))
    ).scalars().all() if ids else []
    own = {o.period_id: o for o in overrides if o.assignment_id is not None}
    whole = {o.period_id: o for o in overrides if o.assignment_id is None}
    result = {}
    for p in periods:
        o = own.get(p.id) or whole.get(p.id)
        result[p.id] = DueInfo(o.due if o else p.due, p.due, o)
    return result


def effective_due(assignment: Assignment, period: Period) -> date:
    """Override for the assignment and period > override for the period > Period.due."""
    return due_infos(assignment.id, [period])[period.id].due


def _find_override(period: Period, assignment: Assignment | None) -> DueOverride | None:
    query = select(DueOverride).where(DueOverride.period_id == period.id)
    query = query.where(DueOverride.assignment_id == assignment.id if assignment is not None
                        else DueOverride.assignment_id.is_(None))
    return db.session.execute(query).scalar_one_or_none()


def _check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReminderError(gettext("请填写调整原因。"), "reason")
    if len(reason) > REASON_MAX:
        raise ReminderError(gettext("调整原因不能超过 %(n)s 个字。", n=REASON_MAX), "reason")
    return reason


def set_due_override(user: User, period: Period, assignment: Assignment | None, due: date | None,
                     reason: str | None) -> DueOverride:
    """Set a different due date for one assignment in a period, or for the whole period."""
    if not user.is_office:
        raise ReminderError(gettext("只有领导小组办公室可以调整截止日期。"))
    if assignment is not None and assignment.plan_id != period.plan_id:
        raise ReminderError(gettext("该报送周期不属于本事项的实施方案。"), "period_id")
    if due is None:
        raise ReminderError(gettext("请填写新的截止日期，格式为 年-月-日，例如 2025-12-05。"), "due")
    if due < period.start or due > period.end + timedelta(days=366):
        raise ReminderError(
            gettext("新的截止日期应在 %(start)s 至 %(end)s 之间。", start=period.start.isoformat(),
                    end=(period.end + timedelta(days=366)).isoformat()),
            "due")
    reason = _check_reason(reason)
    override = _find_override(period, assignment)
    before = override.due if override else None
    if override is None:
        override = DueOverride(period_id=period.id, assignment_id=assignment.id if assignment else None, due=due,
                               reason=reason, set_by_id=user.id, set_at=utcnow())
        db.session.add(override)
    else:
        override.due, override.reason, override.set_by_id, override.set_at = due, reason, user.id, utcnow()
    db.session.flush()
    entity = ("assignment", assignment.id) if assignment is not None else ("period", period.id)
    audit.record("due_override.set", *entity, {"due": [before, due]}, reason=reason,
                 extra={"period_id": period.id, "rule_due": period.due})
    return override


def clear_due_override(user: User, period: Period, assignment: Assignment | None, reason: str | None) -> None:
    """Go back to the due date of the cadence's rule (or the period's override)."""
    if not user.is_office:
        raise ReminderError(gettext("只有领导小组办公室可以调整截止日期。"))
    reason = _check_reason(reason)
    override = _find_override(period, assignment)
    if override is None:
        raise ReminderError(gettext("该范围没有调整过截止日期。"), "scope")
    before = override.due
    db.session.delete(override)
    db.session.flush()
    entity = ("assignment", assignment.id) if assignment is not None else ("period", period.id)
    audit.record("due_override.clear", *entity, {"due": [before, None]}, reason=reason,
                 extra={"period_id": period.id, "rule_due": period.due})


# --------------------------------------------------------------------------- one item's periods


@dataclass
class PeriodStatus:
    """What the item page shows for one period: effective due, light and the steps taken."""

    period: Period
    due: DueInfo
    light: Light
    steps: list[tuple[LadderStep, str]] = field(default_factory=list)  # (step taken, its label)
    workdays_late: int = 0


def _step_label(key: str) -> str:
    try:
        return workflows().ladder.step(key).label
    except KeyError:
        return key


def indicators_for_light(assignment: Assignment, indicators: list[Indicator]) -> list[Indicator]:
    """Indicators whose figure, from this unit alone, is measured against the whole target:
    a per-unit target, or one the unit reports for everybody (named, or as the lead)."""
    unit_name = assignment.unit.name
    return [i for i in indicators
            if i.per_unit or unit_name in (i.reported_by or [])
            or (assignment.role == "lead" and "lead" in (i.reported_by or []))]




def item_status(assignment: Assignment, periods: list[Period], reports: dict[int, Report],
                indicators: list[Indicator], today: date) -> dict[int, PeriodStatus]:
    """Effective due date, traffic light and ladder steps of each period, in a few queries."""
    wf = workflows()
    submitted = set(wf.report.submitted_states())
    dues = due_infos(assignment.id, periods)
    steps: dict[int, list[tuple[LadderStep, str]]] = {}
    order = {k: i for i, k in enumerate(wf.ladder.keys)}
    for s in db.session.execute(
        select(LadderStep).options(joinedload(LadderStep.by_user))
        .where(LadderStep.assignment_id == assignment.id)
    ).scalars():
        steps.setdefault(s.period_id, []).append((s, _step_label(s.step)))
    for rows in steps.values():
        rows.sort(key=lambda r: (order.get(r[0].step, 99), r[0].taken_at))
    measured = indicators_for_light(assignment, indicators)
    figures: dict[int, list[Figure]] = {}
    report_ids = [r.id for r in reports.values()]
    if measured and report_ids:
        for f in db.session.execute(
            select(Figure).where(Figure.report_id.in_(report_ids),
                                 Figure.indicator_id.in_([i.id for i in measured]), Figure.value.is_not(None))
        ).scalars():
            figures.setdefault(f.report_id, []).append(f)
    plan = db.session.get(Plan, assignment.plan_id)
    result = {}
    for p in periods:
        info = dues[p.id]
        report = reports.get(p.id)
        progress = None
        if report is not None and figures.get(report.id):
            fig = min(figures[report.id], key=lambda f: [i.id for i in measured].index(f.indicator_id))
            ind = next(i for i in measured if i.id == fig.indicator_id)
            start = plan.reporting_start if plan else date(ind.due.year, 1, 1)
            progress = IndicatorProgress(
                figure=fig.value, target=ind.target, comparator=ind.comparator, cumulative=ind.cumulative,
                start=min(start, ind.due), due=ind.due, as_of=min(p.end, ind.due), unit=ind.unit, name=ind.name)
        left = wf.calendar.workdays_between(today, info.due)
        light = light_for(due=info.due, today=today, submitted=bool(report and report.state in submitted),
                          workdays_left=left, rules=wf.lights, period_start=p.start, indicator=progress)
        result[p.id] = PeriodStatus(p, info, light, steps.get(p.id, []), max(0, -left))
    return result


# --------------------------------------------------------------------------- the manual urge


def manual_step() -> Step:
    """The ladder step a manual urge counts as: "urge", else the first step after the due date."""
    ladder = workflows().ladder
    try:
        return ladder.step("urge")
    except KeyError:
        return next((s for s in ladder if s.offset > 0), ladder.steps[-1])


def manual_urge(user: User, assignment: Assignment, period: Period, message: str | None,
                today: date) -> LadderStep:
    """Staff urge one overdue item by hand, with a message; it counts as the urge step."""
    from . import notices
    from .sweep import take_steps

    if not user.is_office:
        raise ReminderError(gettext("只有领导小组办公室可以催办。"))
    message = (message or "").strip()
    if not message:
        raise ReminderError(gettext("请填写催办留言。"), "message")
    if len(message) > MESSAGE_MAX:
        raise ReminderError(gettext("催办留言不能超过 %(n)s 个字。", n=MESSAGE_MAX), "message")
    if not assignment.active or period.plan_id != assignment.plan_id:
        raise ReminderError(gettext("该事项已撤销，不能催办。"))
    due = effective_due(assignment, period)
    report = db.session.execute(select(Report.state).where(
        Report.assignment_id == assignment.id, Report.period_id == period.id)).scalar_one_or_none()
    if report in workflows().report.submitted_states():
        raise ReminderError(gettext("该周期的报告已报送，无需催办。"))
    if due >= today:
        raise ReminderError(gettext("该事项尚未逾期（截止 %(due)s），不能催办。", due=due.isoformat()))
    step = manual_step()
    wanted = notices.TakenStep(assignment.id, period.id, step.key, due, assignment.unit_id, assignment.task_id,
                               assignment.plan_id)
    if not take_steps([wanted], today, by_user_id=user.id, message=message):
        taken = db.session.execute(select(LadderStep).where(
            LadderStep.assignment_id == assignment.id, LadderStep.period_id == period.id,
            LadderStep.step == step.key)).scalar_one()
        raise ReminderError(gettext("该事项已于 %(day)s %(step)s，不能重复催办。", day=taken.day.isoformat(),
                                     step=gettext(step.label)), "message")
    digests = notices.step_digests([wanted], {step.key: step}, message=message,
                                   kind=f"{notices.MANUAL_URGE_PREFIX}:{assignment.id}:{period.id}")
    notices.store(digests, today)
    audit.record("ladder.urge", "assignment", assignment.id, {"step": [None, step.key]},
                 extra={"period_id": period.id, "message": message, "due": due})
    return db.session.execute(select(LadderStep).where(
        LadderStep.assignment_id == assignment.id, LadderStep.period_id == period.id,
        LadderStep.step == step.key)).scalar_one()


def steps_reached(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[LadderStep, str]]:
    """The furthest ladder step taken for each (assignment, period), in one query."""
    if not pairs:
        return {}
    order = {k: i for i, k in enumerate(workflows().ladder.keys)}
    wanted = set(pairs)
    rows = db.session.execute(
        select(LadderStep).where(LadderStep.assignment_id.in_({a for a, _ in pairs}),
                                 LadderStep.period_id.in_({p for _, p in pairs}))
    ).scalars().all()
    result: dict[tuple[int, int], tuple[LadderStep, str]] = {}
    for s in rows:
        key = (s.assignment_id, s.period_id)
        if key not in wanted:
            continue
        held = result.get(key)
        if held is None or order.get(s.step, -1) > order.get(held[0].step, -1):
            result[key] = (s, _step_label(s.step))
    return result


# --------------------------------------------------------------------------- the inbox


def unread_count(user: User) -> int:
    return db.session.execute(
        select(func.count()).select_from(InboxEntry).where(InboxEntry.user_id == user.id,
                                                           InboxEntry.read_at.is_(None))
    ).scalar_one()


def inbox_page(user: User, page: int = 1, per_page: int = 30) -> tuple[list[InboxEntry], int]:
    base = select(InboxEntry).where(InboxEntry.user_id == user.id)
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    entries = db.session.execute(
        base.options(joinedload(InboxEntry.notice)).join(Notice, Notice.id == InboxEntry.notice_id)
        .order_by(Notice.day.desc(), InboxEntry.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).scalars().all()
    return list(entries), total


def inbox_entry(user: User, entry_id: int) -> InboxEntry | None:
    """One of the user's own inbox entries (another user's answers None)."""
    entry = db.session.get(InboxEntry, entry_id)
    return entry if entry is not None and entry.user_id == user.id else None


def mark_read(entry: InboxEntry) -> None:
    if entry.read_at is None:
        entry.read_at = utcnow()
        db.session.flush()


def mark_all_read(user: User) -> int:
    result = db.session.execute(
        update(InboxEntry).where(InboxEntry.user_id == user.id, InboxEntry.read_at.is_(None))
        .values(read_at=utcnow()))
    return result.rowcount or 0


def visible_items(user: User, notice: Notice) -> list[dict[str, Any]]:
    """A notice's items the user may open: a liaison sees only its own unit's."""
    items = list((notice.items or {}).get("items", []))
    if user.sees_everything:
        return items
    ids = {i["assignment_id"] for i in items}
    own = set(db.session.execute(select(Assignment.id).where(
        Assignment.id.in_(ids), Assignment.unit_id == user.unit_id)).scalars()) if ids and user.unit_id else set()
    return [i for i in items if i["assignment_id"] in own]


# --------------------------------------------------------------------------- the outbox (admin)


def outbox_counts() -> dict[str, int]:
    counts = dict.fromkeys(("pending", "sent", "failed"), 0)
    for status, n in db.session.execute(select(Notice.status, func.count()).group_by(Notice.status)):
        counts[status] = n
    return counts


def outbox_page(status: str | None, page: int = 1, per_page: int = 50) -> tuple[list[Notice], int]:
    base = select(Notice)
    if status:
        base = base.where(Notice.status == status)
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = db.session.execute(
        base.order_by(Notice.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)).scalars().all()
    return list(rows), total


def resend(notice: Notice, user: User) -> None:
    """Put a failed notice back in the queue: pending, attempts from zero, due now."""
    if notice.status != "failed":
        raise ReminderError(gettext("只有发送失败的通知可以重新发送。"))
    before = {"status": notice.status, "attempts": notice.attempts}
    notice.status, notice.attempts, notice.next_attempt_at = "pending", 0, utcnow()
    notice.claimed_by = notice.claimed_until = None
    db.session.flush()
    audit.record("notice.resend", "notice", notice.id,
                 audit.diff(before, {"status": notice.status, "attempts": notice.attempts}),
                 actor=audit.actor_of(user), extra={"last_error": notice.last_error})


def calendar_years(today: date) -> list[dict[str, Any]]:
    """The years the deadlines need (this year, next year and every period's due year), each
    with whether the working-day calendar knows it or falls back to Monday–Friday."""
    cal = workflows().calendar
    low, high = db.session.execute(select(func.min(Period.due), func.max(Period.due))).one()
    years = {today.year, today.year + 1} | set(cal.fallback_years_used)
    if low and high:
        years |= set(range(low.year, high.year + 1))
    return [{"year": y, "known": cal.is_known(y)} for y in sorted(years)]
