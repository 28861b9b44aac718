"""The office's review queue (督办队列): every open item — an assignment in a period whose report
is not submitted — that is overdue, escalated or returned, with its age in working days, the
furthest ladder step reached and the last contact; and the bulk actions on selected items
(urge with a message, extend the due date with a reason, mark for referral).

A page runs a fixed number of set-based statements whatever the data size: the period ids
first, the count (capped), one page of rows, then the ladder steps and report transitions of
that page's items, one query each.

Definitions:

- overdue: the effective due date (an override of the office wins over the cadence's rule)
  has passed and no report is submitted;
- escalated: a ladder step that puts the item in the office's queue or on the referral list
  (``flags: [review_queue]`` / ``[export]`` in workflows/ladder.yaml: 督办, 移交) was taken
  against the current effective due date — an extension past that date supersedes it;
- returned: the item's report for the period was returned and not submitted again;
- age: working days since the effective due date; for a returned report, since the return
  when that came later (or when the item is not overdue);
- last contact: the latest of the ladder steps taken for the item (each one a notice about it:
  提醒, 催办, 督办, 移交, or a manual urge) and the moves of its report (报送, 退回, 通过)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, false, func, or_, select, union_all
from sqlalchemy.orm import joinedload

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from ..forms_common import DATE_MESSAGE
from ..plans.models import Assignment, Period, Plan, Task
from ..reminders import notices
from ..reminders import services as reminders
from ..reminders.models import DueOverride, LadderStep
from ..reminders.sweep import take_steps
from ..reminders.workdays import WorkCalendar
from ..reports.models import Report, ReportTransition
from ..timeutil import to_local
from ..units.models import Unit
from ..workflow import workflows

COUNT_CAP = 1000
PER_PAGE = 50
REASONS = {"overdue": _l("逾期未报"), "escalated": _l("已督办或移交"), "returned": _l("已退回")}
UNIT_KINDS = {"department": _l("自治区部门"), "league_city": _l("盟市"), "external": _l("其他单位")}
ACTIONS = {"urge": _l("催办（附留言）"), "extend": _l("顺延截止日期（附原因）"), "refer": _l("列入移交监督平台清单（附原因）")}
REFER_STEP = "refer"  # the ladder's step for the supervision platform (flags: [export])
QUEUE_FLAGS = frozenset({"review_queue", "export"})


# --------------------------------------------------------------------------- pure rules


def age_start(due: date, today: date, returned_on: date | None) -> date:
    """The day an item's age counts from: its effective due date; for a returned report the
    return, when that came after the due date or the item is not yet overdue."""
    if returned_on is None:
        return due
    if due >= today:
        return returned_on
    return max(due, returned_on)


def age_workdays(calendar: WorkCalendar, due: date, today: date, returned_on: date | None) -> int:
    """Working days an item has waited in the queue (never negative)."""
    return max(0, calendar.workdays_between(age_start(due, today, returned_on), today))


def reasons_of(overdue: bool, escalated: bool, returned: bool) -> list[str]:
    """Why an item is in the queue, in a fixed order (empty: it is not)."""
    return [key for key, why in (("overdue", overdue), ("escalated", escalated), ("returned", returned)) if why]


@dataclass(frozen=True)
class Contact:
    day: date
    kind: str  # what it was, for the page: a step's label or a report move's label
    by: str | None = None  # who, when a person did it


def last_contact(steps: list[tuple[LadderStep, str]], moves: list[tuple[ReportTransition, str]]) -> Contact | None:
    """The latest ladder step taken for the item or move of its report (ties: the step)."""
    order = {k: i for i, k in enumerate(workflows().ladder.keys)}
    candidates: list[tuple[Any, int, int, Contact]] = []
    for s, label in steps:  # steps taken at once (after an outage): the furthest
        manual = s.by_user_id is not None
        kind = _("人工催办") if manual and s.step != REFER_STEP else (_("人工移交") if manual else label)
        candidates.append((s.taken_at, 1, order.get(s.step, -1),
                           Contact(s.day, kind, s.by_user.name if manual and s.by_user else None)))
    for t, label in moves:
        local = to_local(t.at)
        candidates.append((t.at, 0, t.id or 0, Contact(local.date() if local else t.at.date(), label,
                                                       t.user.name if t.user else None)))
    if not candidates:
        return None
    return max(candidates, key=lambda c: (_naive(c[0]), c[1], c[2]))[3]


def _naive(moment):
    return moment.replace(tzinfo=None) if getattr(moment, "tzinfo", None) else moment


# --------------------------------------------------------------------------- the queue query


def escalation_steps() -> tuple[str, ...]:
    """Ladder steps that put an item in the queue (督办) or on the referral list (移交)."""
    return tuple(s.key for s in workflows().ladder if s.flags & QUEUE_FLAGS)


def steps_from(key: str) -> tuple[str, ...]:
    """The step and every later one: "reached at least this step"."""
    keys = workflows().ladder.keys
    return keys[keys.index(key):] if key in keys else ()


def current_period_ids(today: date, plan_id: int | None = None) -> list[int]:
    """Each plan's current periods: its latest period already due and the started periods due
    after it (where a report can be returned before its due date). A plan with no period due
    yet: its started periods. One small query, so that the queue's planner sees plain ids."""
    latest = select(Period.plan_id, func.max(Period.due).label("due")).where(Period.due < today)
    if plan_id is not None:
        latest = latest.where(Period.plan_id == plan_id)
    latest = latest.group_by(Period.plan_id).subquery()
    query = (select(Period.id).outerjoin(latest, latest.c.plan_id == Period.plan_id)
             .where(Period.start <= today, or_(latest.c.due.is_(None), Period.due >= latest.c.due)))
    if plan_id is not None:
        query = query.where(Period.plan_id == plan_id)
    return list(db.session.execute(query).scalars())


def _past_due_periods_clause(today: date):
    """Periods whose rule's due date, or an override's, is before today (a sargable pre-filter)."""
    return or_(Period.due < today, Period.id.in_(select(DueOverride.period_id).where(DueOverride.due < today)))


@dataclass
class _Items:
    """A query of open items (no submitted report) and the expressions of its reasons."""

    query: Select
    due: Any
    overdue: Any
    escalated: Any
    returned: Any

    @property
    def any_reason(self):
        return or_(self.overdue, self.escalated, self.returned)


def _items(today: date, drive: str, *, period_ids: list[int] | None, plan_id: int | None,
           unit_kind: str | None = None, steps: tuple[str, ...] = (), count_only: bool = False) -> _Items:
    """Open items with the columns of a queue row, read from what ``drive`` names:

    - "pairs": assignments × the periods in scope already due (the overdue items; read in due
      order, each report looked up as the rows come, as the overdue list does);
    - "returned": the returned reports in scope (by the report's (period, state) index);
    - "steps": the items with one of ``steps`` taken in scope (by the ladder steps' index).

    ``unit_kind``: the returned reports and the steps of that kind of unit only, chosen at the
    source, before any report is looked up. ``count_only`` (pairs): the overdue items' ids only,
    for their count."""
    of_kind = (select(Assignment.id).where(Assignment.unit_id.in_(select(Unit.id).where(Unit.kind == unit_kind)))
               if unit_kind else None)
    submitted = workflows().report.submitted_states()
    columns = (Assignment.id.label("assignment_id"), Assignment.plan_id, Assignment.unit_id, Assignment.task_id,
               Assignment.role, Assignment.position, Task.number.label("task_number"), Period.id.label("period_id"),
               Period.label.label("period_label"), Period.due.label("rule_due"), Report.id.label("report_id"),
               Report.state, func.coalesce(Report.decided_at, Report.updated_at).label("returned_at"))
    if drive == "pairs":
        scope = and_(Period.plan_id == Assignment.plan_id, _past_due_periods_clause(today))
        if period_ids is not None:
            scope = and_(scope, Period.id.in_(period_ids))
        if count_only:  # each report looked up by a subquery: the count stops at its limit, whatever the plan
            state = select(Report.state).where(Report.assignment_id == Assignment.id,
                                               Report.period_id == Period.id).scalar_subquery()
            query = (select(Assignment.id).select_from(Assignment).join(Period, scope)
                     .where(func.coalesce(state, "").not_in(submitted)))
        else:
            query = (select(*columns).select_from(Assignment).join(Period, scope)
                     .outerjoin(Report, and_(Report.assignment_id == Assignment.id, Report.period_id == Period.id))
                     .where(or_(Report.id.is_(None), Report.state.not_in(submitted))))
    elif drive == "returned":
        query = (select(*columns).select_from(Report).join(Assignment, Assignment.id == Report.assignment_id)
                 .join(Period, Period.id == Report.period_id).where(Report.state == "returned"))
        if period_ids is not None:
            query = query.where(Report.period_id.in_(period_ids))
        if of_kind is not None:
            query = query.where(Report.assignment_id.in_(of_kind))
    else:
        taken = select(LadderStep.assignment_id, LadderStep.period_id).where(LadderStep.step.in_(steps))
        if period_ids is not None:
            taken = taken.where(LadderStep.period_id.in_(period_ids))
        elif plan_id is not None:
            taken = taken.where(LadderStep.period_id.in_(select(Period.id).where(Period.plan_id == plan_id)))
        if of_kind is not None:
            taken = taken.where(LadderStep.assignment_id.in_(of_kind))
        taken = taken.distinct().subquery("taken")
        query = (select(*columns).select_from(taken).join(Assignment, Assignment.id == taken.c.assignment_id)
                 .join(Period, Period.id == taken.c.period_id)
                 .outerjoin(Report, and_(Report.assignment_id == Assignment.id, Report.period_id == Period.id))
                 .where(or_(Report.id.is_(None), Report.state.not_in(submitted))))
    query, due = reminders.effective_due_joins(query)
    keys = escalation_steps()
    escalated = exists().where(LadderStep.assignment_id == Assignment.id, LadderStep.period_id == Period.id,
                               LadderStep.step.in_(keys), LadderStep.due >= due) if keys else false()
    overdue = due < today
    if count_only:
        query = query.where(Assignment.active)
    else:
        query = (query.add_columns(due.label("due"), overdue.label("is_overdue"), escalated.label("is_escalated"))
                 .join(Task, Task.id == Assignment.task_id).where(Assignment.active))
    if plan_id is not None:
        query = query.where(Assignment.plan_id == plan_id)
    return _Items(query, due, overdue, escalated, Report.state == "returned")


def _ordered(*parts: Select) -> Select:
    """The rows of the parts (disjoint), in the queue's order: due date, plan, task, unit's place."""
    sub = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("queue_part")
    return select(*sub.c).order_by(sub.c.due, sub.c.plan_id, sub.c.task_number, sub.c.position, sub.c.assignment_id,
                                   sub.c.period_id)


def queue_arms(today: date, *, period_ids: list[int] | None = None, plan_id: int | None = None,
               unit_kind: str | None = None, reason: str | None = None, step: str | None = None,
               assignment_ids: list[int] | None = None) -> list[tuple[Select, Select]]:
    """The queue as one or two arms whose rows, each sorted, follow each other: per arm the
    SELECT of its rows and the SELECT of its count (stopping at COUNT_CAP + 1).

    An item not overdue has its due date today or later, so every overdue item sorts before every
    other one: first the overdue items, then the returned or escalated ones not overdue. A reason
    or a step filter reads only what it can show. ``period_ids`` None: every period."""
    reason = reason if reason in REASONS else None
    scope = {"period_ids": period_ids, "plan_id": plan_id, "unit_kind": unit_kind}

    def filtered(items: _Items, *conditions) -> Select:
        query = items.query.where(*conditions)
        if unit_kind:
            query = query.where(Assignment.unit_id.in_(select(Unit.id).where(Unit.kind == unit_kind)))
        if assignment_ids is not None:
            query = query.where(Assignment.id.in_(assignment_ids))
        return query

    def arm(rows: Select, count: Select | None = None) -> tuple[Select, Select]:
        counted = (count if count is not None else rows.order_by(None)).limit(COUNT_CAP + 1).subquery()
        return rows, select(func.count()).select_from(counted)

    if step:
        items = _items(today, "steps", steps=steps_from(step), **scope)
        return [arm(_ordered(filtered(items, {"overdue": items.overdue, "escalated": items.escalated,
                                              "returned": items.returned}.get(reason, items.any_reason))))]
    if reason == "returned":
        return [arm(_ordered(filtered(_items(today, "returned", **scope))))]
    if reason == "escalated":
        items = _items(today, "steps", steps=escalation_steps(), **scope)
        return [arm(_ordered(filtered(items, items.escalated)))]
    overdue = _items(today, "pairs", **scope)
    counted = _items(today, "pairs", count_only=True, **scope)
    arms = [arm(_ordered(filtered(overdue, overdue.overdue)), filtered(counted, counted.overdue))]
    if reason is None:  # then the returned or escalated items not overdue, in two disjoint parts
        returned = _items(today, "returned", **scope)
        parts = [filtered(returned, ~returned.overdue)]
        if escalation_steps():
            escalated = _items(today, "steps", steps=escalation_steps(), **scope)
            parts.append(filtered(escalated, ~escalated.overdue, escalated.escalated,
                                  or_(Report.id.is_(None), Report.state != "returned")))
        arms.append(arm(_ordered(*parts)))
    return arms


def queue_query(today: date, *, period_ids: list[int] | None = None, plan_id: int | None = None,
                unit_kind: str | None = None, reason: str | None = None, step: str | None = None,
                assignment_ids: list[int] | None = None) -> Select:
    """The queue as one SELECT (the arms of queue_arms one after the other), for a few known
    items (the bulk actions' check) and for tests."""
    arms = queue_arms(today, period_ids=period_ids, plan_id=plan_id, unit_kind=unit_kind, reason=reason,
                      step=step, assignment_ids=assignment_ids)
    return arms[0][0] if len(arms) == 1 else union_all(*(rows.order_by(None) for rows, _count in arms))


@dataclass
class QueueRow:
    assignment_id: int
    period_id: int
    plan_id: int
    plan_slug: str
    plan_title: str
    task_id: int
    task_number: int
    task_title: str
    unit_id: int
    unit_name: str
    unit_kind: str
    role: str
    period_label: str
    due: date  # effective
    rule_due: date | None  # Period.due, when an override changed it
    state: str | None
    reasons: list[str]
    age: int  # working days
    returned_on: date | None = None
    step: str | None = None  # the furthest ladder step taken
    step_label: str | None = None
    step_day: date | None = None
    contact: Contact | None = None

    @property
    def key(self) -> str:
        return f"{self.assignment_id}-{self.period_id}"


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int  # capped at COUNT_CAP + 1
    page: int
    per_page: int = PER_PAGE

    @property
    def more(self) -> bool:
        return self.total > self.page * self.per_page


def _returned_day(r) -> date | None:
    if r.state != "returned" or r.returned_at is None:
        return None
    local = to_local(r.returned_at)
    return local.date() if local else None


def _rows(result: list, today: date) -> list[QueueRow]:
    """Queue rows with names, age, steps and last contact: three more queries, for the given rows only
    (each runs even for an empty page, so that a page runs the same statements whatever it shows)."""
    wf = workflows()
    order = {k: i for i, k in enumerate(wf.ladder.keys)}
    pairs = {(r.assignment_id, r.period_id) for r in result}
    names = {n.id: n for n in db.session.execute(
        select(Assignment.id, Plan.slug, Plan.title.label("plan_title"), Task.title.label("task_title"),
               Unit.name.label("unit_name"), Unit.kind.label("unit_kind"))
        .join(Plan, Plan.id == Assignment.plan_id).join(Task, Task.id == Assignment.task_id)
        .join(Unit, Unit.id == Assignment.unit_id).where(Assignment.id.in_({a for a, _p in pairs})))}
    steps: dict[tuple[int, int], list[tuple[LadderStep, str]]] = {}
    for s in db.session.execute(
        select(LadderStep).options(joinedload(LadderStep.by_user))
        .where(LadderStep.assignment_id.in_({a for a, _p in pairs}), LadderStep.period_id.in_({p for _a, p in pairs}))
    ).scalars():
        if (s.assignment_id, s.period_id) in pairs:
            steps.setdefault((s.assignment_id, s.period_id), []).append((s, _step_label(s.step)))
    report_ids = [r.report_id for r in result if r.report_id is not None]
    moves: dict[int, list[tuple[ReportTransition, str]]] = {}
    for t in db.session.execute(
        select(ReportTransition).options(joinedload(ReportTransition.user))
        .where(ReportTransition.report_id.in_(report_ids)).order_by(ReportTransition.id)
    ).scalars():
        move = wf.report.transitions.get(t.action)
        moves.setdefault(t.report_id, []).append((t, move.label if move else t.action))
    rows = []
    for r in result:
        n = names[r.assignment_id]
        taken = steps.get((r.assignment_id, r.period_id), [])
        furthest = max(taken, key=lambda s: order.get(s[0].step, -1)) if taken else None
        returned_on = _returned_day(r)
        rows.append(QueueRow(
            r.assignment_id, r.period_id, r.plan_id, n.slug, n.plan_title, r.task_id, r.task_number, n.task_title,
            r.unit_id, n.unit_name, n.unit_kind, r.role, r.period_label, r.due,
            r.rule_due if r.rule_due != r.due else None, r.state,
            reasons_of(bool(r.is_overdue), bool(r.is_escalated), r.state == "returned"),
            age_workdays(wf.calendar, r.due, today, returned_on), returned_on,
            step=furthest[0].step if furthest else None, step_label=furthest[1] if furthest else None,
            step_day=furthest[0].day if furthest else None,
            contact=last_contact(taken, moves.get(r.report_id, []) if r.report_id is not None else [])))
    return rows


def _step_label(key: str) -> str:
    try:
        return workflows().ladder.step(key).label
    except KeyError:
        return key


def queue_page(today: date, *, period_ids: list[int] | None = None, plan_id: int | None = None,
               unit_kind: str | None = None, reason: str | None = None, step: str | None = None,
               page: int = 1, per_page: int | None = PER_PAGE) -> QueuePage:
    """One page of the queue, longest overdue first (by effective due date), and the count.

    The count stops at COUNT_CAP + 1 ("more than 1000"): an arm is counted only while the arms
    before it hold no more than that. An arm is read only for the part of the page it holds;
    a page past the first thousand items of an arm counts that arm exactly, once.
    ``per_page`` None: every row (an export)."""
    arms = queue_arms(today, period_ids=period_ids, plan_id=plan_id, unit_kind=unit_kind, reason=reason,
                      step=step)
    counts: list[int | None] = []
    for _rows_query, count in arms:
        known = sum(c or 0 for c in counts)
        counts.append(db.session.execute(count).scalar_one() if known <= COUNT_CAP and None not in counts else None)
    total = COUNT_CAP + 1 if None in counts else min(sum(c or 0 for c in counts), COUNT_CAP + 1)
    page = max(page, 1)
    result: list = []
    if per_page is None:
        for query, _count in arms:
            result += db.session.execute(query).all()
        return QueuePage(_rows(result, today), total, page, 0)
    offset, before = (page - 1) * per_page, 0  # before: the rows of the arms already passed
    for n, ((query, _count_query), count) in enumerate(zip(arms, counts, strict=True)):
        wanted = per_page - len(result)
        if wanted <= 0:
            break
        start = max(0, offset - before)
        got = db.session.execute(query.limit(wanted).offset(start)).all()
        result += got
        if n < len(arms) - 1 and len(result) < per_page:  # this arm ends before the page does: its size
            if got:
                before += start + len(got)
            elif count is not None and count <= COUNT_CAP:
                before += count
            else:
                before += db.session.execute(
                    select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    return QueuePage(_rows(result, today), total, page, per_page)


# --------------------------------------------------------------------------- bulk actions


class QueueActionError(Exception):
    """The selection or the input is not acceptable; ``errors`` maps a form field ("items",
    "action", "message", "due", "reason") to its Chinese messages. Nothing was saved."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


@dataclass
class BulkResult:
    action: str
    count: int
    due: date | None = None
    units: set[str] = field(default_factory=set)


def parse_keys(values: list[str]) -> tuple[list[tuple[int, int]], list[str]]:
    """"<assignment id>-<period id>" values → distinct pairs in order, and the values not understood."""
    pairs: list[tuple[int, int]] = []
    bad: list[str] = []
    for value in values:
        a, _sep, p = (value or "").strip().partition("-")
        if not all(part.isascii() and part.isdigit() and len(part) <= 9 for part in (a, p)):  # ids fit an int4
            bad.append(value)
            continue
        pair = (int(a), int(p))
        if pair not in pairs:
            pairs.append(pair)
    return pairs, bad


def _text(value: str | None, empty: str, maximum: int, too_long: str) -> tuple[str, str | None]:
    text = (value or "").strip()
    if not text:
        return text, empty
    if len(text) > maximum:
        return text, too_long
    return text, None


def _name(row) -> str:
    return _("%(unit)s 任务%(task)s（%(period)s）", unit=row.unit_name, task=row.task_number, period=row.period_label)


def bulk_act(user: User, action: str | None, values: list[str], *, today: date, message: str | None = None,
             due: date | None = None, due_text: str | None = None, reason: str | None = None,
             plan_id: int | None = None) -> BulkResult:
    """Urge, extend or refer the selected queue items, all or nothing.

    Every check runs before anything is written; a refusal raises QueueActionError with the
    messages per field. One audit event per item (ladder.urge, due_override.set, ladder.refer).
    ``plan_id``: the plan the page was filtered by; an item of another plan is refused.
    The caller commits, or rolls back on an error."""
    errors: dict[str, list[str]] = {}

    def fail(where: str, text: str) -> None:
        errors.setdefault(where, []).append(text)

    if not user.is_office:
        raise QueueActionError({"items": [_("只有领导小组办公室可以处理督办队列。")]})
    if action not in ACTIONS:
        fail("action", _("请选择要执行的操作。"))
    pairs, bad = parse_keys(values)
    if bad:
        fail("items", _("所选事项无法识别：%(values)s。", values="、".join(v[:30] for v in bad[:5])))
    elif not pairs:
        fail("items", _("请至少选择一个事项。"))
    text = ""
    if action == "urge":
        text, problem = _text(message, _("请填写催办留言。"), reminders.MESSAGE_MAX,
                              _("催办留言不能超过 %(n)s 个字。", n=reminders.MESSAGE_MAX))
        if problem:
            fail("message", problem)
    elif action in ("extend", "refer"):
        text, problem = _text(reason, _("请填写原因。"), reminders.REASON_MAX,
                              _("原因不能超过 %(n)s 个字。", n=reminders.REASON_MAX))
        if problem:
            fail("reason", problem)
        if action == "extend" and due is None:
            fail("due", _(DATE_MESSAGE) if (due_text or "").strip() else
                 _("请填写新的截止日期，格式为 年-月-日，例如 2025-12-05。"))
    rows: dict[tuple[int, int], Any] = {}
    if pairs:
        rows = _check_selection(pairs, today, plan_id, fail)
    if not errors:
        _check_action(action, rows, today, due, fail)
    if errors:
        raise QueueActionError(errors)
    result = BulkResult(action, len(rows), due if action == "extend" else None, {r.unit_name for r in rows.values()})
    try:
        if action == "urge":
            _urge(user, rows, text, today)
        elif action == "extend":
            _extend(user, rows, due, text)
        else:
            _refer(user, rows, text, today)
    except reminders.ReminderError as exc:  # a change between the checks and the write (another user)
        raise QueueActionError({exc.field if exc.field in ("message", "due", "reason") else "items": [exc.message]}
                               ) from None
    return result


def _check_selection(pairs: list[tuple[int, int]], today: date, plan_id: int | None, fail) -> dict:
    """The selected items, each an existing active item of its own plan and in the queue now."""
    assignments = {a.id: a for a in db.session.execute(
        select(Assignment.id, Assignment.plan_id, Assignment.active).where(
            Assignment.id.in_({a for a, _p in pairs}))).all()}
    periods = {p.id: p for p in db.session.execute(
        select(Period.id, Period.plan_id).where(Period.id.in_({p for _a, p in pairs}))).all()}
    valid = []
    for a_id, p_id in pairs:
        a, p = assignments.get(a_id), periods.get(p_id)
        if a is None or p is None or not a.active:
            fail("items", _("所选事项不存在或已撤销（编号 %(key)s）。", key=f"{a_id}-{p_id}"))
        elif p.plan_id != a.plan_id:
            fail("items", _("所选报送周期不属于该事项的实施方案（编号 %(key)s）。", key=f"{a_id}-{p_id}"))
        elif plan_id is not None and a.plan_id != plan_id:
            fail("items", _("所选事项不属于当前筛选的实施方案（编号 %(key)s）。", key=f"{a_id}-{p_id}"))
        else:
            valid.append((a_id, p_id))
    if not valid:
        return {}
    found = {(r.assignment_id, r.period_id): r for r in _rows(db.session.execute(
        queue_query(today, period_ids=sorted({p for _a, p in valid}), assignment_ids=sorted({a for a, _p in valid}))
    ).all(), today)}
    rows = {}
    for pair in valid:
        row = found.get(pair)
        if row is None:
            fail("items", _("编号 %(key)s 的事项不在督办队列中（可能已报送或截止日期已顺延），请刷新页面。",
                            key=f"{pair[0]}-{pair[1]}"))
        else:
            rows[pair] = row
    return rows


def _check_action(action: str, rows: dict, today: date, due: date | None, fail) -> None:
    """What each action needs of every item (all checked before anything is written)."""
    if action == "urge":
        manual = reminders.manual_step()
        taken = _taken(rows, manual.key)
        for pair, r in rows.items():
            if "overdue" not in r.reasons:
                fail("items", _("%(item)s 尚未逾期（截止 %(due)s），不能催办。", item=_name(r), due=r.due.isoformat()))
            elif pair in taken:
                fail("items", _("%(item)s 已于 %(day)s %(step)s，不能重复催办。", item=_name(r),
                                day=taken[pair].isoformat(), step=manual.label))
    elif action == "extend" and due is not None:
        for r in rows.values():
            if due <= r.due:
                fail("due", _("新的截止日期应晚于 %(item)s 当前的截止日期 %(due)s。", item=_name(r),
                              due=r.due.isoformat()))
        latest = db.session.execute(select(func.min(Period.end)).where(
            Period.id.in_({p for _a, p in rows}))).scalar_one() if rows else None
        if latest is not None and due > latest + timedelta(days=366):
            fail("due", _("新的截止日期不能晚于 %(day)s。", day=(latest + timedelta(days=366)).isoformat()))
    elif action == "refer":
        taken = _taken(rows, REFER_STEP)
        for pair, r in rows.items():
            if pair in taken:
                fail("items", _("%(item)s 已于 %(day)s 列入移交清单。", item=_name(r), day=taken[pair].isoformat()))


def _taken(rows: dict, step: str) -> dict[tuple[int, int], date]:
    if not rows:
        return {}
    found = db.session.execute(select(LadderStep.assignment_id, LadderStep.period_id, LadderStep.day).where(
        LadderStep.assignment_id.in_({a for a, _p in rows}), LadderStep.period_id.in_({p for _a, p in rows}),
        LadderStep.step == step)).all()
    return {(a, p): day for a, p, day in found if (a, p) in rows}


def _loaded(rows: dict) -> tuple[dict[int, Assignment], dict[int, Period]]:
    """The selected items' assignments and periods, by id, in two statements."""
    assignments = {a.id: a for a in db.session.execute(
        select(Assignment).where(Assignment.id.in_({a for a, _p in rows}))).scalars()}
    periods = {p.id: p for p in db.session.execute(
        select(Period).where(Period.id.in_({p for _a, p in rows}))).scalars()}
    return assignments, periods


def _urge(user: User, rows: dict, message: str, today: date) -> None:
    """Each item urged as on the overdue list: a ladder step, a notice per item, an audit event."""
    assignments, periods = _loaded(rows)
    for a_id, p_id in rows:
        reminders.manual_urge(user, assignments[a_id], periods[p_id], message, today)


def _extend(user: User, rows: dict, due: date, reason: str) -> None:
    """A due-date override per item (assignment and period), through the reminder services."""
    assignments, periods = _loaded(rows)
    for a_id, p_id in rows:
        reminders.set_due_override(user, periods[p_id], assignments[a_id], due, reason)


def _refer(user: User, rows: dict, reason: str, today: date) -> None:
    """The ladder's refer step taken by hand for every item, the reason as its message; its
    notices (office, copy to the unit's head) as the sweep's would be, one digest per person."""
    ladder = workflows().ladder
    wanted = [notices.TakenStep(r.assignment_id, r.period_id, REFER_STEP, r.due, r.unit_id, r.task_id, r.plan_id)
              for r in rows.values()]
    written = take_steps(wanted, today, by_user_id=user.id, message=reason)
    if len(written) != len(wanted):
        raise reminders.ReminderError(_("部分事项已被他人列入移交清单，请刷新页面后重试。"))
    notices.store(notices.step_digests(written, {s.key: s for s in ladder}), today)
    for t in written:
        audit.record("ladder.refer", "assignment", t.assignment_id, {"step": [None, REFER_STEP]}, reason=reason,
                     extra={"period_id": t.period_id, "due": t.due, "manual": True})
