"""The plan dashboard: what the page, its JSON and its item lists show, from a fixed number of
set-based statements whatever the size of the plan.

Scope. The filters (section, task, unit, unit kind, period, light) choose a set of active
assignments of one plan; every figure of the dashboard is computed over that set, for the chosen
period (default: the plan's current monthly period, as on the review matrix). The light filter
keeps the assignments whose traffic light in the chosen period has that colour.

Traffic lights. An assignment's light in the period is the one its item page shows
(``app.reminders.services.item_status``): the rules of ``workflows/lights.yaml`` given the
effective due date (overrides included), whether its report counts as submitted, the working
days left and the figure of the first indicator it reports against the whole target.

Indicator totals. Only figures of *accepted* reports (the final state) of the chosen period
count; a draft, submitted-but-not-accepted or returned report's figures never do. For a
cumulative indicator each figure is already year-to-date as of its period's end (plan file
FORMAT: "monthly figures are year-to-date"), for a non-cumulative one it is the level at that
date: in both cases the total for a period is made from that period's figures alone, never
summed over periods (the period's kind — monthly, quarterly … — is the chosen period's). Across
units, a unit whose figure by itself measures the whole target (named in ``reported_by``, or the
lead when ``lead`` reports, or any unit of a per-unit target: the rule of
``reminders.services.indicators_for_light``) reports *the whole*; the others (co-owners,
implementing league/city governments) report *parts*. The total is the sum of the whole
figures when at least one is in scope (normally exactly one: the region's), else the sum of the
parts (e.g. with the unit kind filter set to league/city). A per-unit target is multiplied by
the number of units in scope that report it. The expected value for the date is the target
times the pace — the share of calendar days from the plan's reporting start to the target's due
date elapsed by the chosen period's end (capped at the due date); for a non-cumulative
indicator the pace is 1 — computed by ``reminders.lights.light_for`` itself, which also gives
the indicator's light.

Trend. Per period of the chosen period's kind: the share of the assignments in scope whose
report was first submitted on or before the effective due date (local day), the share
accepted, and each indicator's total by the rule above."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext
from sqlalchemy import Date, and_, case, cast, exists, func, literal, select

from ..extensions import db
from ..forms_common import plain_id
from ..integrity.models import Flag
from ..plans.models import Assignment, Indicator, Period, Plan, Section, Task
from ..reminders.lights import COLOURS, IndicatorProgress, Light, light_for
from ..reminders.models import LadderStep
from ..reminders.services import effective_due_joins, indicators_for_light
from ..reports.models import Figure, Report
from ..reports.services import indicator_applies
from ..review.services import CELL_LEGEND, cell_colour
from ..timeutil import local_tz, to_local
from ..units.models import UNIT_KIND_LABELS, UNIT_KINDS, Unit
from ..workflow import workflows

OPEN_FLAG_STATES = ("open", "explained")  # not yet dismissed or confirmed
WHAT_LABELS = {
    "all": "全部责任事项",
    "overdue": "逾期未报",
    "escalated": "已督办",
    "flagged": "有待处理数据疑点",
    "light": "按信号灯",
    "accepted": "已审核通过",
    "on_time": "按时报送",
    "indicator": "计入指标合计",
}
KIND_ORDER = {"department": 0, "external": 1, "league_city": 2}


class FilterError(ValueError):
    """A request the dashboard cannot answer; the message is for the user (Chinese)."""


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    section_id: int | None = None
    task_id: int | None = None
    unit_id: int | None = None
    unit_kind: str | None = None
    period_id: int | None = None
    light: str | None = None

    def as_args(self) -> dict[str, Any]:
        """The query-string form, for links that keep the filters."""
        pairs = (("section", self.section_id), ("task", self.task_id), ("unit", self.unit_id),
                 ("kind", self.unit_kind), ("period", self.period_id), ("light", self.light))
        return {k: v for k, v in pairs if v is not None}


@dataclass
class Options:
    """What the filter form offers: the plan's sections, tasks, units and periods."""

    sections: list[Section]
    tasks: list[Task]
    units: list[tuple[int, str, str]]  # (id, name, kind)
    periods: list[Period]


FILTER_LABELS = {"section": "部分", "task": "任务", "unit": "单位", "kind": "单位类别", "period": "报送周期",
                 "light": "信号灯"}


def plan_options(plan: Plan) -> Options:
    """The filter choices of a plan: four statements."""
    sections = db.session.execute(
        select(Section).where(Section.plan_id == plan.id).order_by(Section.position)).scalars().all()
    tasks = db.session.execute(select(Task).where(Task.plan_id == plan.id).order_by(Task.number)).scalars().all()
    units = db.session.execute(
        select(Unit.id, Unit.name, Unit.kind).where(
            Unit.id.in_(select(Assignment.unit_id).where(Assignment.plan_id == plan.id, Assignment.active)))
    ).all()
    units = sorted(((u.id, u.name, u.kind) for u in units), key=lambda u: (KIND_ORDER.get(u[2], 3), u[1]))
    periods = db.session.execute(
        select(Period).where(Period.plan_id == plan.id).order_by(Period.start, Period.kind)).scalars().all()
    return Options(list(sections), list(tasks), units, list(periods))


def as_id(raw: str | None) -> int | None:
    """A database id from query-string text, None for anything else ("²", "-1", 5000 digits …)."""
    return plain_id((raw or "").strip())


def parse_filters(args: Any, options: Options) -> tuple[Filters, list[str]]:
    """Filters from the query string. A value that names nothing of this plan is ignored; the
    returned notes say which (Chinese, shown on the page)."""
    notes: list[str] = []

    def pick(name: str, allowed: set) -> Any:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        value: Any = as_id(raw) if name not in ("kind", "light") else raw
        if value in allowed:
            return value
        notes.append(gettext("筛选条件“%(name)s”的值“%(value)s”无效，已忽略。", name=gettext(FILTER_LABELS[name]),
                             value=raw[:40]))
        return None

    filters = Filters(
        section_id=pick("section", {s.id for s in options.sections}),
        task_id=pick("task", {t.id for t in options.tasks}),
        unit_id=pick("unit", {u[0] for u in options.units}),
        unit_kind=pick("kind", set(UNIT_KINDS)),
        period_id=pick("period", {p.id for p in options.periods}),
        light=pick("light", set(COLOURS)),
    )
    return filters, notes


def chosen_period(plan: Plan, options: Options, filters: Filters, today: date) -> Period | None:
    if filters.period_id is not None:
        return next(p for p in options.periods if p.id == filters.period_id)
    if not options.periods:
        return None
    # reports.services.current_period's rule, on the periods already loaded: the monthly period
    # that started last by today, else the first (any kind when the plan has no monthly periods)
    kind = "monthly" if any(p.kind == "monthly" for p in options.periods) else options.periods[0].kind
    candidates = sorted((p for p in options.periods if p.kind == kind), key=lambda p: p.start)
    started = [p for p in candidates if p.start <= today]
    return started[-1] if started else candidates[0]


def _scoped(query, plan: Plan, filters: Filters, ids: list[int] | None = None, *, joined: bool = True):
    """Restrict a query over Assignment to the dashboard's scope. ``joined``: the query already joins
    Task and Unit; else they are joined here only when a filter needs them."""
    if not joined:
        if filters.section_id is not None:
            query = query.join(Task, Task.id == Assignment.task_id)
        if filters.unit_kind is not None:
            query = query.join(Unit, Unit.id == Assignment.unit_id)
    query = query.where(Assignment.plan_id == plan.id, Assignment.active)
    if joined or filters.section_id is not None:
        query = query.where(Task.plan_id == plan.id)  # lets the database read the plan's tasks by index
    if filters.section_id is not None:
        query = query.where(Task.section_id == filters.section_id)
    if filters.task_id is not None:
        query = query.where(Assignment.task_id == filters.task_id)
    if filters.unit_id is not None:
        query = query.where(Assignment.unit_id == filters.unit_id)
    if filters.unit_kind is not None:
        query = query.where(Unit.kind == filters.unit_kind)
    if ids is not None:
        query = query.where(Assignment.id.in_(ids))
    return query


# --------------------------------------------------------------------------- pure rules


def reports_whole(indicator: Indicator, unit_name: str, role: str) -> bool:
    """Does this unit's figure by itself measure the indicator's whole target? (The rule of the
    item lights: reminders.services.indicators_for_light.)"""
    holder = SimpleNamespace(unit=SimpleNamespace(name=unit_name), role=role)
    return bool(indicators_for_light(holder, [indicator]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Total:
    value: Decimal | None  # None: no accepted figure in scope
    basis: str | None  # "whole" | "parts" | None
    counted: tuple[int, ...]  # the assignments whose figures make the total


def total_of(figures: list[tuple[int, Decimal, bool]]) -> Total:
    """Pure rule: the total of accepted figures (assignment id, value, reports the whole?).

    The whole figures when there are any, else the sum of the parts."""
    whole = [(a, v) for a, v, w in figures if w]
    chosen, basis = (whole, "whole") if whole else ([(a, v) for a, v, w in figures if not w], "parts")
    if not chosen:
        return Total(None, None, ())
    return Total(sum((Decimal(v) for _, v in chosen), Decimal(0)), basis, tuple(sorted(a for a, _ in chosen)))


def local_day_sql(column):
    """The local calendar day (config TIMEZONE) of a naive-UTC timestamp column, in SQL."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return cast(func.timezone(local_tz().key, func.timezone("UTC", column)), Date)
    offset = local_tz().utcoffset(datetime.now()) or 0
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.date(column, f"{minutes:+d} minutes")


def on_time(first_submitted_at: datetime | None, state: str | None, due: date | None,
            submitted_states: set[str] | frozenset[str]) -> bool:
    """Pure rule: a report counts as on time when it counts as submitted and was first submitted
    on or before the effective due date (local day)."""
    if first_submitted_at is None or due is None or state not in submitted_states:
        return False
    return to_local(first_submitted_at).date() <= due


# --------------------------------------------------------------------------- the rows


@dataclass
class ItemRow:
    """One assignment in scope, in the chosen period."""

    assignment_id: int
    task_id: int
    task_number: int
    task_title: str
    section_id: int | None
    unit_id: int
    unit_name: str
    unit_kind: str
    role: str
    via_group: str | None
    status: str
    progress: int
    report_id: int | None
    state: str | None
    first_submitted_at: datetime | None
    due: date | None
    escalated: bool
    open_flags: int
    light: Light | None = None
    carried: list[Indicator] = field(default_factory=list)

    submitted: bool = False
    accepted: bool = False
    overdue: bool = False
    on_time: bool = False
    cell: str = "open"  # review.services.cell_colour


def escalation_steps() -> tuple[str, ...]:
    """The ladder's `escalate` step and those after it: reaching any means it was escalated."""
    keys = workflows().ladder.keys
    return keys[keys.index("escalate"):] if "escalate" in keys else ()


def _rows(plan: Plan, period: Period | None, filters: Filters, today: date) -> list[ItemRow]:
    """The assignments in scope with their report, due date, ladder and flags in the period: one SELECT."""
    period_id = period.id if period else -1
    steps = escalation_steps()
    escalated = exists().where(LadderStep.assignment_id == Assignment.id, LadderStep.period_id == period_id,
                               LadderStep.step.in_(steps)) if steps else literal(False)
    flags = (select(func.count(Flag.id)).join(Figure, Figure.id == Flag.figure_id)
             .where(Figure.report_id == Report.id, Flag.state.in_(OPEN_FLAG_STATES)).scalar_subquery())
    base = (select(Assignment.id, Assignment.task_id, Task.number, Task.title, Task.section_id, Assignment.unit_id,
                   Unit.name, Unit.kind, Assignment.role, Assignment.via_group, Assignment.status, Assignment.progress,
                   Report.id.label("report_id"), Report.state, Report.first_submitted_at,
                   escalated.label("escalated"), flags.label("open_flags"))
            .select_from(Assignment)
            .join(Task, Task.id == Assignment.task_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .outerjoin(Period, Period.id == period_id)
            .outerjoin(Report, and_(Report.assignment_id == Assignment.id, Report.period_id == Period.id)))
    query, due = effective_due_joins(base)
    query = _scoped(query.add_columns(due.label("due")), plan, filters)
    query = query.order_by(Task.number, Assignment.position, Assignment.id)
    return [ItemRow(r.id, r.task_id, r.number, r.title, r.section_id, r.unit_id, r.name, r.kind, r.role, r.via_group,
                    r.status, r.progress, r.report_id, r.state, r.first_submitted_at, r.due, bool(r.escalated),
                    int(r.open_flags or 0))
            for r in db.session.execute(query)]


def _plan_indicators(plan: Plan) -> tuple[list[Indicator], dict[int, int]]:
    """The plan's indicators (plan-level first, then by position, as reports.services.indicators_for
    orders them) and, when it has plan-level targets, each unit's first task number."""
    indicators = db.session.execute(
        select(Indicator).where(Indicator.plan_id == plan.id)
        .order_by(Indicator.task_id.is_(None).desc(), Indicator.position, Indicator.id)).scalars().all()
    first_task: dict[int, int] = {}
    if any(i.task_id is None for i in indicators):
        first_task = dict(db.session.execute(
            select(Assignment.unit_id, func.min(Task.number)).join(Task, Task.id == Assignment.task_id)
            .where(Assignment.plan_id == plan.id, Assignment.active).group_by(Assignment.unit_id)).all())
    return list(indicators), first_task


def carried_indicators(row: ItemRow, indicators: list[Indicator], first_task: dict[int, int],
                       implementing_group: str | None,
                       by_task: dict[int | None, list[Indicator]] | None = None) -> list[Indicator]:
    """reports.services.indicators_for, for a row: a task's indicators by `reported_by`, a plan-level
    target by the unit's first task. ``by_task`` (indicators grouped by task id, None: plan-level, in
    the same order) spares looking at every indicator of the plan for each row."""
    if by_task is None:
        by_task = group_by_task(indicators)
    candidates = by_task.get(None, []) if first_task.get(row.unit_id) == row.task_number else []
    candidates = [*candidates, *by_task.get(row.task_id, [])]
    return [ind for ind in candidates
            if indicator_applies(ind.reported_by or [], row.role, row.via_group, row.unit_name, implementing_group)]


def group_by_task(indicators: list[Indicator]) -> dict[int | None, list[Indicator]]:
    grouped: dict[int | None, list[Indicator]] = defaultdict(list)
    for ind in indicators:
        grouped[ind.task_id].append(ind)
    return grouped


def _period_figures(plan: Plan, period: Period | None, filters: Filters) -> dict[int, list[tuple[int, Decimal, str]]]:
    """Assignment id → [(indicator id, value, report state)] of the period's figures in scope: one SELECT
    (from the scope's assignments to their reports to the figures, each by index)."""
    result: dict[int, list[tuple[int, Decimal, str]]] = defaultdict(list)
    if period is None:
        return result
    query = _scoped(
        select(Report.assignment_id, Figure.indicator_id, Figure.value, Report.state)
        .select_from(Assignment)
        .join(Task, Task.id == Assignment.task_id).join(Unit, Unit.id == Assignment.unit_id)
        .join(Report, and_(Report.assignment_id == Assignment.id, Report.period_id == period.id))
        .join(Figure, Figure.report_id == Report.id)
        .where(Figure.value.is_not(None)), plan, filters)
    for assignment_id, indicator_id, value, state in db.session.execute(query):
        result[assignment_id].append((indicator_id, value, state))
    return result


def _light(row: ItemRow, plan: Plan, period: Period, figures: list[tuple[int, Decimal, str]], today: date,
           workdays: dict[date, int], seen: dict[tuple, Light]) -> Light:
    """The item page's light (reminders.services.item_status) for one row. ``light_for`` is pure, so
    rows with the same inputs share one call (``seen``)."""
    wf = workflows()
    measured = indicators_for_light(
        SimpleNamespace(unit=SimpleNamespace(name=row.unit_name), role=row.role), row.carried)  # type: ignore[arg-type]
    progress = None
    if row.report_id is not None and measured:
        order = [i.id for i in measured]
        present = [(ind_id, value) for ind_id, value, _ in figures if ind_id in order]
        if present:
            ind_id, value = min(present, key=lambda f: order.index(f[0]))
            ind = measured[order.index(ind_id)]
            progress = IndicatorProgress(
                figure=value, target=ind.target, comparator=ind.comparator, cumulative=ind.cumulative,
                start=min(plan.reporting_start, ind.due), due=ind.due, as_of=min(period.end, ind.due), unit=ind.unit,
                name=ind.name)
    due = row.due or period.due
    if due not in workdays:
        workdays[due] = wf.calendar.workdays_between(today, due)
    key = (due, row.submitted, progress)
    if key not in seen:
        seen[key] = light_for(due=due, today=today, submitted=row.submitted, workdays_left=workdays[due],
                              rules=wf.lights, period_start=period.start, indicator=progress)
    return seen[key]


# --------------------------------------------------------------------------- the dashboard


@dataclass
class Bullet:
    """A bullet bar's geometry on a 0…WIDTH scale (SVG attributes, drawn by the template)."""

    width: int
    value_x: float  # the bar's end (the total)
    expected_x: float | None  # pace marker
    target_x: float  # target marker


BULLET_WIDTH = 320


def bullet(total: Decimal | None, expected: float | None, target: Decimal) -> Bullet:
    """Pure: scale the total, the pace's expected value and the target to the bar's width."""
    values = [float(target), float(total or 0), float(expected or 0)]
    top = max(values) * 1.1 or 1.0

    def x(v: float) -> float:
        return round(max(v, 0.0) / top * BULLET_WIDTH, 1)

    return Bullet(BULLET_WIDTH, x(float(total or 0)), x(expected) if expected is not None else None, x(float(target)))


@dataclass
class IndicatorPanel:
    indicator: Indicator
    task_number: int | None
    carriers: int  # assignments in scope that report it
    target: Decimal  # the whole target (× units in scope for a per-unit target)
    total: Total
    accepted: int  # accepted figures of the period in scope (whole and parts)
    pace: float | None
    expected: float | None
    ratio: float | None
    light: Light | None
    bar: Bullet


@dataclass
class TrendPoint:
    period: Period
    items: int
    submitted: int
    on_time: int
    accepted: int

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.items if self.items else None

    @property
    def accepted_share(self) -> float | None:
        return self.accepted / self.items if self.items else None


@dataclass
class Trend:
    points: list[TrendPoint]
    indicator_totals: dict[int, dict[int, Total]]  # indicator id → period id → total
    chart: dict[str, Any]  # SVG geometry: width, height, x per period, polylines
    sparklines: dict[int, str] = field(default_factory=dict)  # indicator id → polyline points


@dataclass
class Dashboard:
    plan: Plan
    today: date
    options: Options
    filters: Filters
    notes: list[str]
    period: Period | None
    rows: list[ItemRow]  # in scope (after the light filter)
    light_counts: dict[str, int]
    counts: dict[str, int]  # overdue, escalated, flagged, items, accepted, on_time, submitted
    indicators: list[IndicatorPanel]
    tasks: list[Task]  # matrix rows
    units: list[tuple[int, str, str]]  # matrix columns
    cells: dict[tuple[int, int], ItemRow]
    trend: Trend | None
    values: dict[tuple[int, int], Decimal] = field(default_factory=dict)  # (assignment, indicator) → accepted
    lines: list[tuple[Task, list[tuple[int, ItemRow | None]]]] = field(default_factory=list)
    """The matrix by task: runs of (1, cell) or (n, None) for n empty columns side by side, so a
    sparse matrix (hundreds of units, a few per task) is drawn with one empty cell per gap."""


def build(plan: Plan, args: Any, today: date, *, trend: bool = True) -> Dashboard:
    """The whole dashboard of a plan for the query-string `args`."""
    options = plan_options(plan)
    filters, notes = parse_filters(args, options)
    period = chosen_period(plan, options, filters, today)
    rows = _rows(plan, period, filters, today)
    indicators, first_task = _plan_indicators(plan)
    figures = _period_figures(plan, period, filters)
    submitted_states = set(workflows().report.submitted_states())
    workdays: dict[date, int] = {}
    seen: dict[tuple, Light] = {}
    by_task = group_by_task(indicators)
    for row in rows:
        row.carried = carried_indicators(row, indicators, first_task, plan.implementing_group, by_task)
        row.submitted = row.state in submitted_states
        row.accepted = row.state == "accepted"
        row.overdue = period is not None and not row.submitted and row.due is not None and row.due < today
        row.on_time = on_time(row.first_submitted_at, row.state, row.due, submitted_states)
        row.cell = cell_colour(row.state, row.due, today) if period else "open"
        if period is not None:
            row.light = _light(row, plan, period, figures.get(row.assignment_id, []), today, workdays, seen)
    light_counts = dict.fromkeys(COLOURS, 0)
    for row in rows:
        if row.light is not None:
            light_counts[row.light.colour] += 1
    if filters.light is not None:
        rows = [r for r in rows if r.light is not None and r.light.colour == filters.light]
    counts = {
        "items": len(rows),
        "overdue": sum(r.overdue for r in rows),
        "escalated": sum(r.escalated for r in rows),
        "flagged": sum(r.open_flags > 0 for r in rows),
        "submitted": sum(r.submitted for r in rows),
        "accepted": sum(r.accepted for r in rows),
        "on_time": sum(r.on_time for r in rows),
    }
    panels = _indicator_panels(plan, period, rows, indicators, figures, today)
    task_ids = {r.task_id for r in rows}
    unit_seen: dict[int, tuple[int, str, str]] = {}
    for r in rows:
        unit_seen.setdefault(r.unit_id, (r.unit_id, r.unit_name, r.unit_kind))
    units = sorted(unit_seen.values(), key=lambda u: (KIND_ORDER.get(u[2], 3), u[0]))
    cells = {(r.task_id, r.unit_id): r for r in rows}
    tasks = [t for t in options.tasks if t.id in task_ids]
    lines = [(t, matrix_runs([cells.get((t.id, u[0])) for u in units])) for t in tasks]
    result = Dashboard(plan, today, options, filters, notes, period, rows, light_counts, counts, panels,
                       tasks, units, cells, None,
                       {(a, i): v for a, found in figures.items() for i, v, state in found if state == "accepted"},
                       lines)
    if trend and period is not None:
        result.trend = _trend(plan, period, options, filters, rows, indicators, panels)
    return result


def matrix_runs(cells: list[ItemRow | None]) -> list[tuple[int, ItemRow | None]]:
    """Pure: a matrix line as runs: (1, cell) for each cell, (n, None) for n empty columns in a row."""
    runs: list[tuple[int, ItemRow | None]] = []
    for cell in cells:
        if cell is None and runs and runs[-1][1] is None:
            runs[-1] = (runs[-1][0] + 1, None)
        else:
            runs.append((1, cell))
    return runs


def _indicator_panels(plan: Plan, period: Period | None, rows: list[ItemRow], indicators: list[Indicator],
                      figures: dict[int, list[tuple[int, Decimal, str]]], today: date) -> list[IndicatorPanel]:
    task_numbers = {r.task_id: r.task_number for r in rows}
    carriers: dict[int, list[ItemRow]] = defaultdict(list)
    for r in rows:
        for ind in r.carried:
            carriers[ind.id].append(r)
    wf = workflows()
    panels = []
    for ind in indicators:
        holders = carriers.get(ind.id)
        if not holders:
            continue
        accepted = []
        for r in holders:
            for ind_id, value, state in figures.get(r.assignment_id, []):
                if ind_id == ind.id and state == "accepted":
                    accepted.append((r.assignment_id, value, reports_whole(ind, r.unit_name, r.role)))
        total = total_of(accepted)
        target = ind.target * (sum(reports_whole(ind, r.unit_name, r.role) for r in holders) if ind.per_unit else 1)
        pace = expected = ratio = None
        light = None
        if period is not None:
            progress = IndicatorProgress(
                figure=total.value or 0, target=target, comparator=ind.comparator, cumulative=ind.cumulative,
                start=min(plan.reporting_start, ind.due), due=ind.due, as_of=min(period.end, ind.due), unit=ind.unit,
                name=ind.name)
            measured = light_for(due=period.due, today=today, submitted=True, workdays_left=0, rules=wf.lights,
                                 indicator=progress)
            metrics = measured.inputs["indicator"]
            pace, expected = metrics["pace"], metrics["expected"]
            if total.value is not None:
                ratio, light = metrics["ratio"], measured
        panels.append(IndicatorPanel(ind, task_numbers.get(ind.task_id) if ind.task_id else None, len(holders),
                                     target, total, len(accepted), pace, expected, ratio, light,
                                     bullet(total.value, expected, target)))
    return panels


CHART_W, CHART_H, CHART_PAD = 560, 160, 24


def _trend(plan: Plan, period: Period, options: Options, filters: Filters, rows: list[ItemRow],
           indicators: list[Indicator], panels: list[IndicatorPanel]) -> Trend:
    """Per period of the chosen period's kind: one GROUP BY over the reports, one over the figures.

    Every period counts the same assignments (those in scope now), so the denominator is their number;
    the GROUP BY reads only the reports there are (by the (assignment, period) index)."""
    periods = [p for p in options.periods if p.kind == period.kind]
    ids = [r.assignment_id for r in rows] if filters.light is not None else None
    submitted_states = list(workflows().report.submitted_states())
    base = (select(Period.id).select_from(Assignment)
            .join(Report, and_(Report.assignment_id == Assignment.id, Report.period_id.in_([p.id for p in periods])))
            .join(Period, Period.id == Report.period_id))
    query, due = effective_due_joins(base)
    is_submitted = Report.state.in_(submitted_states)
    query = _scoped(query.add_columns(
        func.sum(case((is_submitted, 1), else_=0)).label("submitted"),
        func.sum(case((and_(is_submitted, local_day_sql(Report.first_submitted_at) <= due), 1), else_=0))
        .label("on_time"),
        func.sum(case((Report.state == "accepted", 1), else_=0)).label("accepted"),
    ), plan, filters, ids, joined=False).group_by(Period.id)
    found = {r.id: r for r in db.session.execute(query)}
    items = len(rows)
    points = [TrendPoint(p, items, int(found[p.id].submitted or 0), int(found[p.id].on_time or 0),
                         int(found[p.id].accepted or 0)) if p.id in found else TrendPoint(p, items, 0, 0, 0)
              for p in periods]
    # indicator totals per period: the accepted figures of the rows' indicators, one statement
    holders: dict[int, ItemRow] = {r.assignment_id: r for r in rows}
    shown = {panel.indicator.id: panel.indicator for panel in panels}
    per: dict[tuple[int, int], list[tuple[int, Decimal, bool]]] = defaultdict(list)
    if shown:
        fig_query = _scoped(
            select(Report.period_id, Report.assignment_id, Figure.indicator_id, Figure.value)
            .select_from(Figure).join(Report, Report.id == Figure.report_id)
            .join(Assignment, Assignment.id == Report.assignment_id)
            .join(Task, Task.id == Assignment.task_id).join(Unit, Unit.id == Assignment.unit_id)
            .join(Period, Period.id == Report.period_id)
            .where(Period.kind == period.kind, Report.state == "accepted", Figure.value.is_not(None)),
            plan, filters, ids)  # the indicators are picked below: an IN list here costs an index probe each
        for period_id, assignment_id, indicator_id, value in db.session.execute(fig_query):
            row = holders.get(assignment_id)
            ind = shown.get(indicator_id)
            if row is None or ind is None or ind not in row.carried:
                continue
            per[(indicator_id, period_id)].append((assignment_id, value, reports_whole(ind, row.unit_name, row.role)))
    totals = {i: {p.id: total_of(per.get((i, p.id), [])) for p in periods} for i in shown}
    lines = {i: sparkline([totals[i][p.id].value for p in periods]) for i in shown}
    return Trend(points, totals, _chart(points), lines)


def _chart(points: list[TrendPoint]) -> dict[str, Any]:
    """Geometry of the trend chart: x per period, y for shares 0…1, as SVG attribute values."""
    n = len(points)
    inner_w, inner_h = CHART_W - 2 * CHART_PAD, CHART_H - 2 * CHART_PAD
    xs = [CHART_PAD + (inner_w * i / (n - 1) if n > 1 else inner_w / 2) for i in range(n)]

    def y(share: float | None) -> float | None:
        return None if share is None else round(CHART_PAD + inner_h * (1 - share), 1)

    def line(attr: str) -> dict[str, Any]:
        marks = [(round(x, 1), y(getattr(p, attr)), p) for x, p in zip(xs, points, strict=True)]
        return {"points": " ".join(f"{x},{yy}" for x, yy, _ in marks if yy is not None),
                "marks": [(x, yy, p) for x, yy, p in marks if yy is not None]}

    return {"width": CHART_W, "height": CHART_H, "pad": CHART_PAD, "bottom": CHART_H - CHART_PAD,
            "right": CHART_W - CHART_PAD, "mid": round(CHART_PAD + inner_h / 2, 1),
            "xs": [round(x, 1) for x in xs], "on_time": line("on_time_share"), "accepted": line("accepted_share")}


def sparkline(values: list[Decimal | None], width: int = 120, height: int = 28) -> str:
    """Pure: SVG polyline points of a small series (gaps skipped), scaled to its own maximum."""
    known = [float(v) for v in values if v is not None]
    if not known:
        return ""
    top = max(max(known), 0.0) or 1.0
    n = len(values)
    step = width / (n - 1) if n > 1 else 0
    return " ".join(f"{round(i * step, 1)},{round(height - 2 - (height - 4) * max(float(v), 0.0) / top, 1)}"
                    for i, v in enumerate(values) if v is not None)


# --------------------------------------------------------------------------- item lists


def items(dashboard: Dashboard, what: str, indicator_id: int | None = None) -> list[ItemRow]:
    """The assignments behind a number of the dashboard (its length is that number)."""
    rows = dashboard.rows
    if what == "all" or what == "light":
        if what == "light" and dashboard.filters.light is None:
            raise FilterError(gettext("请选择信号灯颜色（light=green/yellow/red/grey）。"))
        return rows
    if what == "overdue":
        return [r for r in rows if r.overdue]
    if what == "escalated":
        return [r for r in rows if r.escalated]
    if what == "flagged":
        return [r for r in rows if r.open_flags > 0]
    if what == "accepted":
        return [r for r in rows if r.accepted]
    if what == "on_time":
        return [r for r in rows if r.on_time]
    if what == "indicator":
        panel = next((p for p in dashboard.indicators if p.indicator.id == indicator_id), None)
        if panel is None:
            raise FilterError(gettext("该指标不在当前筛选范围内，或指标编号无效。"))
        counted = set(panel.total.counted)
        return [r for r in rows if r.assignment_id in counted]
    raise FilterError(gettext("未知的列表类型（what）。"))


# --------------------------------------------------------------------------- JSON


def _num(v: Decimal | float | None) -> float | None:
    return None if v is None else float(v)


def as_dict(d: Dashboard) -> dict[str, Any]:
    """The dashboard as JSON (the same service result the page shows)."""
    def light(x: Light | None) -> dict[str, Any] | None:
        return None if x is None else {"colour": x.colour, "label": x.label, "rule": x.rule,
                                       "explanation": x.explanation}

    out: dict[str, Any] = {
        "plan": {"id": d.plan.id, "slug": d.plan.slug, "code": d.plan.code, "title": d.plan.title},
        "today": d.today.isoformat(),
        "filters": d.filters.as_args(),
        "notes": d.notes,
        "period": None if d.period is None else {"id": d.period.id, "kind": d.period.kind, "label": d.period.label,
                                                 "start": d.period.start.isoformat(), "end": d.period.end.isoformat(),
                                                 "due": d.period.due.isoformat()},
        "counts": d.counts,
        "lights": d.light_counts,
        "indicators": [{
            "id": p.indicator.id, "key": p.indicator.key, "name": p.indicator.name, "task": p.task_number,
            "unit": p.indicator.unit, "comparator": p.indicator.comparator, "cumulative": p.indicator.cumulative,
            "per_unit": p.indicator.per_unit, "due": p.indicator.due.isoformat(), "target": _num(p.target),
            "total": _num(p.total.value), "basis": p.total.basis, "counted": list(p.total.counted),
            "accepted_figures": p.accepted, "reporting_items": p.carriers, "pace": p.pace, "expected": p.expected,
            "ratio": p.ratio, "light": light(p.light)} for p in d.indicators],
        "matrix": [{"assignment": r.assignment_id, "task": r.task_number, "unit": r.unit_name, "unit_kind": r.unit_kind,
                    "role": r.role, "state": r.state, "cell": r.cell, "due": r.due.isoformat() if r.due else None,
                    "overdue": r.overdue, "escalated": r.escalated, "open_flags": r.open_flags,
                    "light": light(r.light)} for r in d.rows],
        "trend": None,
    }
    if d.trend is not None:
        out["trend"] = {
            "periods": [{"id": t.period.id, "label": t.period.label, "items": t.items, "submitted": t.submitted,
                         "on_time": t.on_time, "accepted": t.accepted, "on_time_share": t.on_time_share,
                         "accepted_share": t.accepted_share} for t in d.trend.points],
            "indicator_totals": {str(i): {str(p): _num(t.value) for p, t in per.items()}
                                 for i, per in d.trend.indicator_totals.items()},
        }
    return out


__all__ = [
    "CELL_LEGEND",
    "COLOURS",
    "UNIT_KIND_LABELS",
    "WHAT_LABELS",
    "Dashboard",
    "FilterError",
    "Filters",
    "as_dict",
    "build",
    "items",
    "sparkline",
    "total_of",
]
