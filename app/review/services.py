"""Review queries. Each page runs a fixed number of set-based statements, whatever the data size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, exists, func, or_, select

from ..extensions import db
from ..forms_common import plain_id
from ..i18n import N_
from ..plans.models import Assignment, Period, Plan, Task
from ..reminders.models import DueOverride, LadderStep
from ..reminders.services import effective_due_joins, steps_reached
from ..reports.models import Report
from ..units.models import Unit
from ..workflow import workflows

# Matrix cell colours, from the item's status and its report for the chosen period.
CELL_LEGEND = {  # translated where shown
    "accepted": N_("已通过"),
    "submitted": N_("已报送待审"),
    "returned": N_("已退回"),
    "overdue": N_("逾期未报"),
    "open": N_("未到期"),
    "inactive": "—",
}

def cell_colour(report_state: str | None, period_due: date | None, today: date) -> str:
    """Pure rule for the matrix: what a cell shows for one assignment in one period."""
    submitted = workflows().report.submitted_states()
    if report_state == "accepted":
        return "accepted"
    if report_state in submitted:
        return "submitted"
    if report_state == "returned":
        return "returned"
    if period_due is not None and period_due < today:
        return "overdue"
    return "open"

@dataclass
class Matrix:
    plan: Plan
    period: Period | None
    tasks: list[Task]
    units: list[Unit]
    cells: dict[tuple[int, int], dict]  # (task id, unit id) → {assignment, role, status, colour}
    counts: dict[str, int]

def plan_matrix(plan: Plan, period: Period | None, today: date, unit_kind: str | None = None) -> Matrix:
    tasks = db.session.execute(select(Task).where(Task.plan_id == plan.id).order_by(Task.number)).scalars().all()
    report_join = and_(Report.assignment_id == Assignment.id, Report.period_id == (period.id if period else -1))
    query = (
        select(Assignment.id, Assignment.task_id, Assignment.unit_id, Assignment.role, Assignment.status,
               Assignment.progress, Report.state)
        .outerjoin(Report, report_join)
        .where(Assignment.plan_id == plan.id, Assignment.active)
    )
    if unit_kind:
        query = query.join(Unit, Unit.id == Assignment.unit_id).where(Unit.kind == unit_kind)
    rows = db.session.execute(query).all()
    unit_ids = {r.unit_id for r in rows}
    units = db.session.execute(select(Unit).where(Unit.id.in_(unit_ids))).scalars().all() if unit_ids else []
    kind_order = {"department": 0, "external": 1, "league_city": 2}
    units.sort(key=lambda u: (kind_order.get(u.kind, 3), u.id))
    cells: dict[tuple[int, int], dict] = {}
    counts = dict.fromkeys(CELL_LEGEND, 0)
    for r in rows:
        colour = cell_colour(r.state, period.due if period else None, today)
        counts[colour] += 1
        cells[(r.task_id, r.unit_id)] = {"assignment_id": r.id, "role": r.role, "status": r.status,
                                         "progress": r.progress, "state": r.state, "colour": colour}
    return Matrix(plan, period, list(tasks), units, cells, counts)

@dataclass
class OverdueRow:
    assignment_id: int
    plan_slug: str
    task_number: int
    task_title: str
    unit_name: str
    role: str
    period_id: int
    period_label: str
    due: date  # the effective due date (an override of the office wins over the cadence's rule)
    days_late: int  # working days since the due date
    state: str | None
    rule_due: date | None = None  # Period.due, when an override changed it
    step: str | None = None  # the furthest ladder step taken
    step_label: str | None = None
    step_day: date | None = None
    unit_id: int | None = None


COUNT_CAP = 1000


def current_past_due_periods(today: date, plan_id: int | None = None, kind: str = "monthly"):
    """Each plan's latest period of `kind` whose due date has passed: a subquery of period ids."""
    ranked = (
        select(Period.id, func.row_number().over(partition_by=Period.plan_id, order_by=Period.due.desc()).label("rank"))
        .where(Period.kind == kind, Period.due < today)
    )
    if plan_id is not None:
        ranked = ranked.where(Period.plan_id == plan_id)
    ranked = ranked.subquery()
    return select(ranked.c.id).where(ranked.c.rank == 1)


def _past_due_periods_clause(today: date):
    """Periods whose rule's due date, or an override's, is before today (a sargable pre-filter)."""
    return or_(Period.due < today, Period.id.in_(select(DueOverride.period_id).where(DueOverride.due < today)))


def overdue_query(today: date, plan_id: int | None = None, period_id: int | None = None,
                  unit_id: int | None = None, step: str | None = None, *, current_only: bool = False):
    """Assignments × past-due periods with no submitted report: one set-based SELECT.

    The due date is the effective one (reminders.services.effective_due_joins). ``step``
    keeps the items whose ladder reached that step (e.g. escalate: the office's review queue,
    refer: the list for the supervision platform)."""
    submitted = workflows().report.submitted_states()
    query, due = effective_due_joins(
        select(Assignment.id.label("assignment_id"), Plan.slug.label("plan_slug"), Task.number.label("task_number"),
               Task.title.label("task_title"), Unit.name.label("unit_name"), Assignment.role,
               Period.id.label("period_id"), Period.label.label("period_label"), Period.due.label("rule_due"),
               Report.state, Assignment.unit_id)
        .select_from(Assignment)
        .join(Period, and_(Period.plan_id == Assignment.plan_id, _past_due_periods_clause(today)))
    )
    query = (
        query.add_columns(due.label("due"))
        .join(Task, Task.id == Assignment.task_id)
        .join(Plan, Plan.id == Assignment.plan_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(Report, and_(Report.assignment_id == Assignment.id, Report.period_id == Period.id))
        .where(Assignment.active, due < today, (Report.id.is_(None)) | (Report.state.not_in(submitted)))
    )
    if plan_id is not None:
        query = query.where(Assignment.plan_id == plan_id)
    if period_id is not None:
        query = query.where(Period.id == period_id)
    elif current_only:
        # resolved first (one small query), so the planner sees a plain list of period ids
        ids = db.session.execute(current_past_due_periods(today, plan_id)).scalars().all()
        query = query.where(Period.id.in_(ids))
    if unit_id is not None:
        query = query.where(Assignment.unit_id == unit_id)
    if step:
        query = query.where(exists().where(LadderStep.assignment_id == Assignment.id,
                                           LadderStep.period_id == Period.id, LadderStep.step == step))
    return query


def overdue_list(today: date, *, plan_id: int | None = None, period_id: int | None = None,
                 unit_id: int | None = None, step: str | None = None, current_only: bool = False, page: int = 1,
                 per_page: int | None = 50) -> tuple[list[OverdueRow], int]:
    """The overdue reports, most late first, one page of them (all with per_page None), and the count.

    The count stops at COUNT_CAP + 1 (shown as "more than 1000"): an exact count over every
    period of every plan would read a million rows for a number nobody needs exactly.
    Days late are working days; each row carries the furthest ladder step taken."""
    base = overdue_query(today, plan_id, period_id, unit_id, step, current_only=current_only)
    due = base.selected_columns.due
    total = db.session.execute(select(func.count()).select_from(base.limit(COUNT_CAP + 1).subquery())).scalar_one()
    query = base.order_by(due, Assignment.plan_id, Task.number, Assignment.position, Assignment.id, Period.id)
    if per_page is not None:
        query = query.limit(per_page).offset((max(page, 1) - 1) * per_page)
    rows = db.session.execute(query).all()
    calendar = workflows().calendar
    reached = steps_reached([(r.assignment_id, r.period_id) for r in rows])
    result = []
    for r in rows:
        taken = reached.get((r.assignment_id, r.period_id))
        result.append(OverdueRow(
            r.assignment_id, r.plan_slug, r.task_number, r.task_title, r.unit_name, r.role, r.period_id,
            r.period_label, r.due, calendar.workdays_between(r.due, today), r.state,
            rule_due=r.rule_due if r.rule_due != r.due else None,
            step=taken[0].step if taken else None, step_label=taken[1] if taken else None,
            step_day=taken[0].day if taken else None, unit_id=r.unit_id))
    return result, total

def past_due_periods(plan_id: int, today: date) -> list[Period]:
    """Periods of a plan with a due date (the rule's or an override's) before today."""
    return db.session.execute(
        select(Period).where(Period.plan_id == plan_id, _past_due_periods_clause(today)).order_by(Period.due.desc())
    ).scalars().all()


STEP_FILTERS = ("escalate", "refer")


def overdue_filters(args: Mapping[str, str], today: date) -> dict:
    """The plan, period and ladder-step filters of the overdue list (its page and its exports),
    from the query string; unknown values are ignored as the page ignores them."""
    plans = db.session.execute(select(Plan).order_by(Plan.issued.desc())).scalars().all()
    plan_arg = args.get("plan", "")
    plan_id = plain_id(plan_arg)
    plan = next((p for p in plans if p.id == plan_id), None) if plan_id else (plans[0] if len(plans) == 1 else None)
    periods = past_due_periods(plan.id, today) if plan else []
    period_arg = args.get("period", "")
    period = next((p for p in periods if str(p.id) == period_arg), None)
    current_only = period is None and period_arg != "all"  # default: each plan's current period
    step = args.get("step") if args.get("step") in STEP_FILTERS else None
    return {"plans": plans, "plan": plan, "periods": periods, "period": period, "step": step,
            "current_only": current_only}


def iter_overdue(today: date, *, plan_id: int | None = None, period_id: int | None = None,
                 unit_id: int | None = None, step: str | None = None, current_only: bool = False,
                 batch: int = 2000) -> Iterator[OverdueRow]:
    """Every overdue report in the order of overdue_list, streamed from one query (for exports of
    any size): rows are fetched `batch` at a time and the furthest ladder step taken comes from
    correlated subqueries, so the statements do not grow with the rows."""
    keys = workflows().ladder.keys
    rank = case({key: i for i, key in enumerate(keys)}, value=LadderStep.step, else_=-1) if keys else LadderStep.id
    furthest = (select(LadderStep.step)
                .where(LadderStep.assignment_id == Assignment.id, LadderStep.period_id == Period.id)
                .order_by(rank.desc(), LadderStep.id).limit(1))
    base = overdue_query(today, plan_id, period_id, unit_id, step, current_only=current_only)
    due = base.selected_columns.due
    query = (base.add_columns(furthest.scalar_subquery().label("step_key"),
                              furthest.with_only_columns(LadderStep.day).scalar_subquery().label("step_day"))
             .order_by(due, Assignment.plan_id, Task.number, Assignment.position, Assignment.id, Period.id)
             .execution_options(yield_per=batch))
    calendar = workflows().calendar
    labels: dict[str, str] = {}
    days_late: dict[date, int] = {}  # a few distinct due dates: counted once each
    for r in db.session.execute(query):
        due_day, step_key = r.due, r.step_key
        late = days_late.get(due_day)
        if late is None:
            late = days_late[due_day] = calendar.workdays_between(due_day, today)
        if step_key and step_key not in labels:
            try:
                labels[step_key] = workflows().ladder.step(step_key).label
            except KeyError:
                labels[step_key] = step_key
        yield OverdueRow(
            r.assignment_id, r.plan_slug, r.task_number, r.task_title, r.unit_name, r.role, r.period_id,
            r.period_label, due_day, late, r.state, rule_due=r.rule_due if r.rule_due != due_day else None,
            step=step_key, step_label=labels.get(step_key) if step_key else None, step_day=r.step_day,
            unit_id=r.unit_id)
