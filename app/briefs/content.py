"""What a brief says: a plain, JSON-able dict built from the database in a fixed number of set-based
statements, whatever the size of the plan.

Three kinds: the monthly brief (月度简报), the quarterly analysis (季度分析) and the annual evaluation score
sheet (年度评估评分表). The rules are the application's own: only accepted figures count; an indicator's
pace is the linear share of days from the plan's start to the target's due date (``reminders.lights``);
an item's light is the one its page shows (``reminders.services``); a report is due by its effective due
date (overrides included). Every number is text (a ``Decimal`` written plainly) so the dict hashes
canonically and an issued brief holds exactly the figures it printed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from flask_babel import gettext
from sqlalchemy import and_, func, select

from ..audit.services import current_head
from ..extensions import db
from ..integrity.models import Flag
from ..plans.models import Assignment, Indicator, Period, Plan, Task
from ..reminders.lights import COLOURS, IndicatorProgress, light_for
from ..reminders.models import LadderStep
from ..reminders.services import effective_due_joins, indicators_for_light
from ..reports.models import Figure, FigureRestatement, Report
from ..reports.services import indicator_applies
from ..timeutil import to_local
from ..units.models import Unit
from ..workflow import workflows
from .models import PracticeMark
from .scoring import UnitFacts, attainment, number_text, score_unit

BRIEF_KIND_LABELS = {"monthly": "月度简报", "quarterly": "季度分析", "annual": "年度评估评分表"}
UNIT_KIND_LABELS = {"department": "部门", "league_city": "盟市", "external": "其他单位"}


def unit_kind_label(kind: str) -> str:
    labels = {"department": gettext("部门"), "league_city": gettext("盟市"), "external": gettext("其他单位")}
    return labels.get(kind, kind)


def status_labels() -> dict[str, str]:
    """The reporting statuses' names in the interface's language, in STATUS_KEYS order."""
    return {"on_time": gettext("按时报送"), "late": gettext("逾期报送"), "returned": gettext("退回待改"),
            "missing": gettext("逾期未报"), "pending": gettext("未到截止日")}
STATUS_KEYS = ("on_time", "late", "returned", "missing", "pending")
STATUS_LABELS = {"on_time": "按时报送", "late": "逾期报送", "returned": "退回待改", "missing": "逾期未报",
                 "pending": "未到截止日"}
SCHEMA = 1


class BriefError(Exception):
    """A brief that cannot be made; the message is for the user (Chinese), ``field`` the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --------------------------------------------------------------------------- pure helpers


def text(value: Decimal | float | int | None, places: int = 4) -> str | None:
    """A number as plain text (None stays None): floats rounded to ``places`` decimals first."""
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(str(round(value, places)))
    value = Decimal(value)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:  # a quotient: figures themselves have at most 4 places
        value = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return number_text(value)


def report_status(state: str | None, submitted_on: date | None, due: date, today: date,
                  submitted_states: Iterable[str]) -> str:
    """Pure rule: one item's reporting status for a period, as of ``today``.

    on_time / late: a report counting as submitted, first sent by / after its effective due date;
    returned: sent back for correction; missing: nothing submitted and the due date passed;
    pending: nothing submitted yet and still before the due date."""
    if state in submitted_states:
        return "late" if submitted_on is not None and submitted_on > due else "on_time"
    if state == "returned":
        return "returned"
    return "missing" if due < today else "pending"


@dataclass(frozen=True)
class QuarterSpan:
    label: str
    start: date
    end: date


def span_of(kind: str, period: Period) -> tuple[str, date, date]:
    """The dates a brief of ``kind`` covers for the chosen period, or BriefError when the period does not fit.

    monthly: a monthly period; quarterly: a quarterly period, or the last month of a quarter (for plans
    reporting monthly only); annual: an annual period, or December."""
    if kind == "monthly":
        if period.kind != "monthly":
            raise BriefError(gettext("月度简报须选择月度报送周期。"), "period")
        return period.label, period.start, period.end
    if kind == "quarterly":
        if period.kind == "quarterly":
            return period.label, period.start, period.end
        if period.kind == "monthly" and period.end.month % 3 == 0:
            quarter = period.end.month // 3
            return (gettext("%(year)s年第%(quarter)s季度", year=period.end.year, quarter=quarter),
                    date(period.end.year, period.end.month - 2, 1), period.end)
        raise BriefError(gettext("季度分析须选择季度报送周期（或季度最后一个月）。"), "period")
    if kind == "annual":
        if period.kind == "annual":
            return period.label, period.start, period.end
        if period.kind == "monthly" and period.end.month == 12:
            return (gettext("%(year)s年度", year=period.end.year), date(period.end.year, 1, 1), period.end)
        raise BriefError(gettext("年度评估须选择年度报送周期（或12月）。"), "period")
    raise BriefError(gettext("请选择简报类型。"), "kind")


# --------------------------------------------------------------------------- reading the database


class Item(NamedTuple):
    """One active assignment in one period, with its report and effective due date."""

    assignment_id: int
    task_id: int
    task_number: int
    task_title: str
    unit_id: int
    unit_name: str
    unit_kind: str
    role: str
    via_group: str | None
    period_id: int
    period_start: date
    period_end: date
    report_id: int | None
    state: str | None
    submitted_on: date | None
    due: date


def _local_date(moment: datetime | None) -> date | None:
    local = to_local(moment)
    return local.date() if local is not None else None


def _items(plan_id: int, period_ids: list[int]) -> list[Item]:
    """Active assignments × the periods, with report state and effective due date: one SELECT."""
    if not period_ids:
        return []
    query, due = effective_due_joins(
        select(Assignment.id, Assignment.task_id, Task.number, Task.title, Assignment.unit_id, Unit.name, Unit.kind,
               Assignment.role, Assignment.via_group, Period.id, Period.start, Period.end, Report.id, Report.state,
               func.coalesce(Report.first_submitted_at, Report.submitted_at))
        .select_from(Assignment)
        .join(Period, and_(Period.plan_id == Assignment.plan_id, Period.id.in_(period_ids)))
    )
    query = (query.add_columns(due)
             .join(Task, Task.id == Assignment.task_id)
             .join(Unit, Unit.id == Assignment.unit_id)
             .outerjoin(Report, and_(Report.assignment_id == Assignment.id, Report.period_id == Period.id))
             .where(Assignment.plan_id == plan_id, Assignment.active)
             .order_by(Task.number, Assignment.position, Assignment.id, Period.start))
    rows = db.session.execute(query).all()
    return [Item(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
                 _local_date(r[14]), r[15]) for r in rows]


def _indicators(plan_id: int) -> list[Indicator]:
    """The plan's indicators: plan-level targets first, then by task and position."""
    rows = db.session.execute(
        select(Indicator, Task.number).outerjoin(Task, Task.id == Indicator.task_id)
        .where(Indicator.plan_id == plan_id)
    ).all()
    rows.sort(key=lambda r: (r[1] is not None, r[1] or 0, r[0].position, r[0].id))
    return [r[0] for r in rows]


def _accepted_figures(plan_id: int, period_ids: list[int]) -> dict[tuple[int, int], dict[int, Decimal]]:
    """(assignment, period) → {indicator: value} of the accepted reports: one SELECT."""
    if not period_ids:
        return {}
    final = [s for s, d in workflows().report.states.items() if d.get("final")]
    rows = db.session.execute(
        select(Report.assignment_id, Report.period_id, Figure.indicator_id, Figure.value)
        .join(Report, Report.id == Figure.report_id)
        .join(Assignment, Assignment.id == Report.assignment_id)
        .where(Assignment.plan_id == plan_id, Report.period_id.in_(period_ids), Report.state.in_(final),
               Figure.value.is_not(None))
    ).all()
    result: dict[tuple[int, int], dict[int, Decimal]] = defaultdict(dict)
    for assignment_id, period_id, indicator_id, value in rows:
        result[(assignment_id, period_id)][indicator_id] = Decimal(value)
    return result


def _practices(plan_id: int, period_ids: list[int]) -> list[dict[str, Any]]:
    """The good practices marked on reports of the periods: one SELECT."""
    if not period_ids:
        return []
    rows = db.session.execute(
        select(PracticeMark.id, PracticeMark.report_id, PracticeMark.title, PracticeMark.note, Period.label,
               Unit.name, Task.number, Task.title)
        .join(Report, Report.id == PracticeMark.report_id)
        .join(Assignment, Assignment.id == Report.assignment_id)
        .join(Period, Period.id == Report.period_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.plan_id == plan_id, Report.period_id.in_(period_ids))
        .order_by(Period.start, Task.number, Assignment.position, PracticeMark.id)
    ).all()
    return [{"report_id": r[1], "title": r[2], "note": r[3], "period": r[4], "unit": r[5], "task_number": r[6],
             "task_title": r[7]} for r in rows]


def _periods(plan_id: int) -> list[Period]:
    return list(db.session.execute(
        select(Period).where(Period.plan_id == plan_id).order_by(Period.start, Period.kind)).scalars())


def _audit_head() -> dict[str, Any]:
    seq, digest = current_head()
    return {"seq": seq, "hash": digest}


# --------------------------------------------------------------------------- indicators and lights


class _UnitView(NamedTuple):
    name: str


class _AssignmentView(NamedTuple):
    """What reminders.services.indicators_for_light reads of an assignment."""

    unit: _UnitView
    role: str


def _progress(ind: Indicator, figure: Decimal, target: Decimal, plan: Plan, as_of: date) -> IndicatorProgress:
    """The figure measured as the item page measures it (reminders.services.item_status)."""
    return IndicatorProgress(figure=figure, target=target, comparator=ind.comparator, cumulative=ind.cumulative,
                             start=min(plan.reporting_start, ind.due), due=ind.due, as_of=min(as_of, ind.due),
                             unit=ind.unit, name=ind.name)


def _indicator_light(progress: IndicatorProgress, today: date):
    """The light of a figure alone: only the lights rules about figures can choose it (it is 'submitted')."""
    wf = workflows()
    return light_for(due=progress.due or today, today=today, submitted=True, workdays_left=0, rules=wf.lights,
                     indicator=progress)


def _expected_reporters(indicators: list[Indicator], items: list[Item], plan: Plan) -> dict[int, set[int]]:
    """Indicator → the units that report it (reports.services.indicator_applies), from the items."""
    first_task: dict[int, int] = {}
    for it in sorted(items, key=lambda i: i.task_number):
        first_task.setdefault(it.unit_id, it.task_id)
    result: dict[int, set[int]] = {i.id: set() for i in indicators}
    seen: set[tuple[int, int]] = set()
    for it in items:
        if (it.assignment_id, it.task_id) in seen:
            continue
        seen.add((it.assignment_id, it.task_id))
        for ind in indicators:
            if ind.task_id is not None and ind.task_id != it.task_id:
                continue
            if ind.task_id is None and first_task.get(it.unit_id) != it.task_id:
                continue
            if indicator_applies(ind.reported_by, it.role, it.via_group, it.unit_name, plan.implementing_group):
                result[ind.id].add(it.unit_id)
    return result


def indicator_summary(ind: Indicator, values: dict[int, Decimal], expected_units: int, plan: Plan, as_of: date,
                      today: date) -> dict[str, Any]:
    """One indicator in one period: the accepted figures added up (a per-unit target times the units; a
    non-cumulative figure averaged), against the target and against the pace at ``as_of``."""
    reporters = len(values)
    base: dict[str, Any] = {
        "key": ind.key, "name": ind.name, "unit": ind.unit, "comparator": ind.comparator,
        "target": text(ind.target), "cumulative": ind.cumulative, "per_unit": ind.per_unit,
        "reporters": reporters, "expected_reporters": expected_units,
        "aggregate": "mean" if not ind.cumulative and not ind.per_unit else "sum",
        "total": None, "target_total": None, "target_share": None, "pace": None, "expected": None, "ratio": None,
        "light": None, "light_label": None, "explanation": None, "units_on_pace": None,
    }
    target_total = ind.target * max(expected_units, reporters, 1) if ind.per_unit else ind.target
    base["target_total"] = text(target_total)
    if not values:
        return base
    if base["aggregate"] == "mean":
        total = sum(values.values(), Decimal(0)) / reporters
    else:
        total = sum(values.values(), Decimal(0))
    light = _indicator_light(_progress(ind, total, target_total, plan, as_of), today)
    inputs = light.inputs.get("indicator", {})
    base.update({
        "total": text(total), "target_share": text(total / target_total) if target_total else None,
        "pace": text(inputs.get("pace")), "expected": text(inputs.get("expected")),
        "ratio": text(inputs.get("ratio")), "light": light.colour, "light_label": light.label,
        "explanation": light.explanation if light.rule != "submitted" else None,
    })
    if ind.per_unit:
        base["units_on_pace"] = sum(
            1 for v in values.values()
            if _indicator_light(_progress(ind, v, ind.target, plan, as_of), today).colour == "green")
    return base


def _item_lights(items: list[Item], indicators: list[Indicator], figures: dict[tuple[int, int], dict[int, Decimal]],
                 plan: Plan, today: date) -> dict[tuple[int, int], str]:
    """(assignment, period) → the colour of the item's light, as its page shows it (accepted figures)."""
    wf = workflows()
    submitted = set(wf.report.submitted_states())
    calendar = wf.calendar
    by_id = {i.id: i for i in indicators}
    measured_cache: dict[tuple[str, str], list[Indicator]] = {}
    result = {}
    for it in items:
        key = (it.unit_name, it.role)
        if key not in measured_cache:
            measured_cache[key] = indicators_for_light(_AssignmentView(_UnitView(it.unit_name), it.role), indicators)
        measured = [i for i in measured_cache[key] if i.task_id in (None, it.task_id)]
        values = figures.get((it.assignment_id, it.period_id), {})
        progress = None
        for ind in measured:
            if ind.id in values:
                progress = _progress(by_id[ind.id], values[ind.id], ind.target, plan, it.period_end)
                break
        light = light_for(due=it.due, today=today, submitted=it.state in submitted,
                          workdays_left=calendar.workdays_between(today, it.due), rules=wf.lights,
                          period_start=it.period_start, indicator=progress)
        result[(it.assignment_id, it.period_id)] = light.colour
    return result


def _statuses(items: list[Item], today: date) -> dict[tuple[int, int], str]:
    submitted = workflows().report.submitted_states()
    return {(it.assignment_id, it.period_id): report_status(it.state, it.submitted_on, it.due, today, submitted)
            for it in items}


def kind_label(kind: str) -> str:
    """The kind's name in the interface's language (BRIEF_KIND_LABELS holds the Chinese)."""
    labels = {"monthly": gettext("月度简报"), "quarterly": gettext("季度分析"), "annual": gettext("年度评估评分表")}
    return labels.get(kind, kind)


def _header(plan: Plan, kind: str, period: Period, label: str, start: date, end: date, today: date) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "kind": kind, "kind_label": kind_label(kind),
        "plan": {"id": plan.id, "slug": plan.slug, "code": plan.code, "title": plan.title, "issuer": plan.issuer},
        "period": {"id": period.id, "kind": period.kind, "label": period.label, "start": period.start.isoformat(),
                   "end": period.end.isoformat(), "due": period.due.isoformat()},
        "span": {"label": label, "start": start.isoformat(), "end": end.isoformat()},
        "as_of": today.isoformat(),
        "lights": dict(COLOURS),
    }


# --------------------------------------------------------------------------- the three kinds


def monthly(plan: Plan, period: Period, today: date) -> dict[str, Any]:
    """The monthly brief: headline indicators, reporting status, lagging tasks and units, good practices."""
    label, start, end = span_of("monthly", period)
    indicators = _indicators(plan.id)
    items = _items(plan.id, [period.id])
    figures = _accepted_figures(plan.id, [period.id])
    reporters = _expected_reporters(indicators, items, plan)
    headline = []
    for ind in indicators:
        values: dict[int, Decimal] = {}
        for it in items:
            v = figures.get((it.assignment_id, it.period_id), {}).get(ind.id)
            if v is not None:
                values[it.unit_id] = values.get(it.unit_id, Decimal(0)) + v
        headline.append(indicator_summary(ind, values, len(reporters[ind.id]), plan, min(end, ind.due), today))
    statuses = _statuses(items, today)
    lights = _item_lights(items, indicators, figures, plan, today)
    counts = dict.fromkeys(STATUS_KEYS, 0)
    tasks: dict[int, dict[str, Any]] = {}
    units: dict[int, dict[str, Any]] = {}
    for it in items:
        key = (it.assignment_id, it.period_id)
        status, colour = statuses[key], lights[key]
        counts[status] += 1
        t = tasks.setdefault(it.task_id, {"number": it.task_number, "title": it.task_title, "units": 0, "overdue": 0,
                                          "red": 0})
        u = units.setdefault(it.unit_id, {"name": it.unit_name, "kind": it.unit_kind,
                                          "kind_label": unit_kind_label(it.unit_kind),
                                          "items": 0, "overdue": 0, "red": 0})
        for row in (t, u):
            row["overdue"] += status == "missing"
            row["red"] += colour == "red"
        t["units"] += 1
        u["items"] += 1
    lagging_tasks = sorted((t for t in tasks.values() if t["red"] or t["overdue"]),
                           key=lambda t: (-t["red"], -t["overdue"], t["number"]))
    lagging_units = sorted((u for u in units.values() if u["red"] or u["overdue"]),
                           key=lambda u: (-u["overdue"], -u["red"], u["name"]))
    content = _header(plan, "monthly", period, label, start, end, today)
    content.update({
        "title": gettext("%(plan)s工作简报（%(period)s）", plan=plan.title, period=label),
        "indicators": headline,
        "reporting": {"total": len(items), **counts, "labels": status_labels()},
        "lagging_tasks": lagging_tasks,
        "lagging_units": lagging_units,
        "practices": _practices(plan.id, [period.id]),
        "audit": _audit_head(),
    })
    return content


def quarterly(plan: Plan, period: Period, today: date) -> dict[str, Any]:
    """The quarterly analysis: each indicator month by month against pace, completion per kind of unit,
    lagging units, good practices."""
    label, start, end = span_of("quarterly", period)
    periods = _periods(plan.id)
    months = [p for p in periods if p.kind == "monthly" and start <= p.start and p.end <= end]
    ids = [p.id for p in months]
    indicators = _indicators(plan.id)
    items = _items(plan.id, ids)
    figures = _accepted_figures(plan.id, ids)
    reporters = _expected_reporters(indicators, items, plan)
    trend = []
    for ind in indicators:
        row = {"key": ind.key, "name": ind.name, "unit": ind.unit, "comparator": ind.comparator,
               "target": text(ind.target), "months": []}
        for month in months:
            values: dict[int, Decimal] = {}
            for it in items:
                if it.period_id != month.id:
                    continue
                v = figures.get((it.assignment_id, month.id), {}).get(ind.id)
                if v is not None:
                    values[it.unit_id] = values.get(it.unit_id, Decimal(0)) + v
            s = indicator_summary(ind, values, len(reporters[ind.id]), plan, min(month.end, ind.due), today)
            row["months"].append({"label": month.label, **{k: s[k] for k in (
                "total", "target_total", "pace", "expected", "ratio", "light", "light_label", "reporters")}})
        trend.append(row)
    statuses = _statuses(items, today)
    final = {s for s, d in workflows().report.states.items() if d.get("final")}
    kinds: dict[str, dict[str, Any]] = {}
    units: dict[int, dict[str, Any]] = {}
    for it in items:
        status = statuses[(it.assignment_id, it.period_id)]
        k = kinds.setdefault(it.unit_kind, {"kind": it.unit_kind, "label": unit_kind_label(it.unit_kind),
                                            "due": 0, "submitted": 0, "on_time": 0, "accepted": 0, "missing": 0})
        u = units.setdefault(it.unit_id, {"name": it.unit_name, "kind_label": unit_kind_label(it.unit_kind),
                                          "due": 0, "missing": 0, "late": 0, "returned": 0})
        if status == "pending":
            continue
        for row in (k, u):
            row["due"] += 1
            row["missing"] += status == "missing"
        k["submitted"] += status in ("on_time", "late")
        k["on_time"] += status == "on_time"
        k["accepted"] += it.state in final
        u["late"] += status == "late"
        u["returned"] += status == "returned"
    order = {"department": 0, "league_city": 1, "external": 2}
    by_kind = []
    for k in sorted(kinds.values(), key=lambda k: order.get(k["kind"], 9)):
        k["rate"] = text(Decimal(k["submitted"]) / k["due"]) if k["due"] else None
        k["on_time_rate"] = text(Decimal(k["on_time"]) / k["due"]) if k["due"] else None
        by_kind.append(k)
    lagging_units = sorted((u for u in units.values() if u["missing"] or u["late"] or u["returned"]),
                           key=lambda u: (-u["missing"], -u["late"], -u["returned"], u["name"]))
    content = _header(plan, "quarterly", period, label, start, end, today)
    content.update({
        "title": gettext("%(plan)s季度分析（%(quarter)s）", plan=plan.title, quarter=label),
        "months": [{"id": m.id, "label": m.label} for m in months],
        "trend": trend,
        "by_kind": by_kind,
        "lagging_units": lagging_units,
        "practices": _practices(plan.id, ids + ([period.id] if period.id not in ids else [])),
        "audit": _audit_head(),
    })
    return content


def annual(plan: Plan, period: Period, today: date) -> dict[str, Any]:
    """The annual evaluation score sheet: each unit's score by the formula in workflows/scoring.yaml."""
    label, start, end = span_of("annual", period)
    wf = workflows()
    scoring = wf.scoring
    periods = _periods(plan.id)
    months = [p for p in periods if p.kind == "monthly" and start <= p.start and p.end <= end]
    year_ids = [p.id for p in periods if start <= p.start and p.end <= end]
    ids = [p.id for p in months]
    indicators = _indicators(plan.id)
    items = _items(plan.id, ids)
    figures = _accepted_figures(plan.id, ids)
    statuses = _statuses(items, today)
    calendar = wf.calendar
    flags = dict(db.session.execute(
        select(Flag.unit_id, func.count()).where(Flag.plan_id == plan.id, Flag.period_id.in_(year_ids or [-1]),
                                                 Flag.state.in_(("open", "explained")))
        .group_by(Flag.unit_id)).all())
    restated = dict(db.session.execute(
        select(Assignment.unit_id, func.count(FigureRestatement.id))
        .join(Figure, Figure.id == FigureRestatement.figure_id)
        .join(Report, Report.id == Figure.report_id)
        .join(Assignment, Assignment.id == Report.assignment_id)
        .where(Assignment.plan_id == plan.id, Report.period_id.in_(year_ids or [-1]),
               FigureRestatement.state == "approved")
        .group_by(Assignment.unit_id)).all())
    urge = next((c for c in scoring.components if c.measure == "urge_response"), None)
    urge_steps = list(urge.params["steps"]) if urge else ["urge"]
    within = urge.params["within_workdays"] if urge else 5
    urges = db.session.execute(
        select(LadderStep.assignment_id, LadderStep.period_id, LadderStep.day)
        .where(LadderStep.period_id.in_(ids or [-1]), LadderStep.step.in_(urge_steps))).all()
    by_item = {(it.assignment_id, it.period_id): it for it in items}
    submitted = set(wf.report.submitted_states())
    facts: dict[int, dict[str, Any]] = {}
    names: dict[int, tuple[str, str]] = {}
    for it in items:
        names[it.unit_id] = (it.unit_name, it.unit_kind)
        f = facts.setdefault(it.unit_id, {"due": 0, "on_time": 0, "latest": {}, "urges": 0, "answered": 0})
        if it.due < today:
            f["due"] += 1
            f["on_time"] += statuses[(it.assignment_id, it.period_id)] == "on_time"
    measured_cache: dict[tuple[str, str], list[Indicator]] = {}
    for it in items:  # items come in period order within each assignment: the last accepted figure wins
        key = (it.unit_name, it.role)
        if key not in measured_cache:
            measured_cache[key] = indicators_for_light(_AssignmentView(_UnitView(it.unit_name), it.role), indicators)
        values = figures.get((it.assignment_id, it.period_id), {})
        for ind in measured_cache[key]:
            if ind.task_id in (None, it.task_id) and ind.id in values:
                latest = facts[it.unit_id]["latest"]
                held = latest.get(ind.id)
                if held is None or held[0] <= it.period_end:
                    latest[ind.id] = (it.period_end, values[ind.id], ind)
    for assignment_id, period_id, day in urges:
        it = by_item.get((assignment_id, period_id))
        if it is None:
            continue
        f = facts[it.unit_id]
        f["urges"] += 1
        if it.state in submitted and (it.submitted_on is None or calendar.workdays_between(day, it.submitted_on)
                                      <= within):
            f["answered"] += 1
    rows = []
    for unit_id, f in facts.items():
        attainments = []
        for as_of, value, ind in f["latest"].values():
            light = _indicator_light(_progress(ind, value, ind.target, plan, as_of), today)
            inputs = light.inputs.get("indicator", {})
            a = attainment(ind.comparator, inputs.get("ratio"), inputs.get("deviation"))
            if a is not None:
                attainments.append(a)
        unit_facts = UnitFacts(due=f["due"], on_time=f["on_time"], attainments=tuple(attainments),
                               open_flags=flags.get(unit_id, 0), restatements=restated.get(unit_id, 0),
                               urges=f["urges"], answered=f["answered"])
        score = score_unit(unit_facts, scoring)
        name, kind = names[unit_id]
        rows.append({
            "name": name, "kind_label": unit_kind_label(kind),
            "components": {c.key: {"score": None if c.score is None else f"{c.score:.1f}", "detail": c.detail}
                           for c in score.components},
            "total": f"{score.total:.1f}", "grade": score.grade,
        })
    rows.sort(key=lambda r: (-Decimal(r["total"]), r["name"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    grades = {g.grade: 0 for g in scoring.grades}
    for row in rows:
        grades[row["grade"]] += 1
    content = _header(plan, "annual", period, label, start, end, today)
    content.update({
        "title": gettext("%(plan)s年度评估评分表（%(year)s）", plan=plan.title, year=label),
        "scoring": scoring.describe(),
        "units": rows,
        "grade_counts": [{"grade": g, "units": n} for g, n in grades.items()],
        "audit": _audit_head(),
    })
    return content


GATHER = {"monthly": monthly, "quarterly": quarterly, "annual": annual}


def gather(plan: Plan, kind: str, period: Period, today: date) -> dict[str, Any]:
    """The content of a brief of ``kind`` for ``period`` (checked: BriefError when it does not fit)."""
    if kind not in GATHER:
        raise BriefError(gettext("请选择简报类型。"), "kind")
    if period.plan_id != plan.id:
        raise BriefError(gettext("该报送周期不属于所选实施方案。"), "period")
    return GATHER[kind](plan, period, today)
