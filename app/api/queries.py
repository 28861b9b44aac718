"""What the API reads, as JSON-ready dicts, in a fixed number of set-based statements per page.

Every query over assignments, reports and figures goes through plans.access.scope_assignments,
so a liaison sees exactly what the pages show them: their own unit."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import request, url_for
from sqlalchemy import Select, and_, false, func, select
from sqlalchemy.orm import joinedload

from ..auth.models import User
from ..extensions import db
from ..plans.access import scope_assignments
from ..plans.models import STATUS_LABELS, Assignment, Indicator, Period, Plan, Section, Task
from ..reminders.lights import IndicatorProgress, Light, light_for
from ..reminders.models import DueOverride
from ..reminders.services import indicators_for_light
from ..reports.models import Figure, Report
from ..reports.services import current_periods, indicator_applies
from ..units.models import Unit
from ..workflow import workflows
from .params import clean_text

COUNT_CAP = 10_000  # totals stop counting here (`total_capped`): an exact count of a million rows helps nobody
PERIOD_KINDS = ("monthly", "quarterly", "half_year", "annual")


# --------------------------------------------------------------------------- plain values


def moment(value: datetime | None) -> str | None:
    """A naive UTC time from the database as ISO 8601 with its offset."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def number(value: Decimal | None) -> int | float | None:
    """A Decimal as a JSON number (int when whole); `value_text` beside it keeps the exact digits."""
    if value is None:
        return None
    d = Decimal(value)
    return int(d) if d == d.to_integral_value() else float(d)


def number_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).normalize():f}"


# --------------------------------------------------------------------------- pages


@dataclass
class Page:
    items: list[dict[str, Any]]
    page: int
    per_page: int
    total: int
    capped: bool

    def as_dict(self, **extra: Any) -> dict[str, Any]:
        pages = max(1, math.ceil(self.total / self.per_page)) if self.total else 0
        has_next = self.page * self.per_page < self.total
        args = request.args.to_dict()

        def link(page: int) -> str:
            return url_for(request.endpoint, **(request.view_args or {}), **{**args, "page": page,
                                                                            "per_page": self.per_page})

        return {
            "items": self.items,
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "total_capped": self.capped,
            "pages": pages,
            "links": {
                "self": link(self.page),
                "next": link(self.page + 1) if has_next else None,
                "prev": link(self.page - 1) if self.page > 1 else None,
            },
            **extra,
        }


def count_capped(query: Select, cap: int = COUNT_CAP) -> tuple[int, bool]:
    n = db.session.execute(select(func.count()).select_from(query.limit(cap + 1).subquery())).scalar_one()
    return min(n, cap), n > cap


def page_of(query: Select, page: int, per_page: int) -> tuple[list[Any], int, bool]:
    total, capped = count_capped(query)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).unique().scalars().all()
    return list(rows), total, capped


# --------------------------------------------------------------------------- plans, periods, tasks, units


def plan_summary(plan: Plan, assignments: int) -> dict[str, Any]:
    return {
        "id": plan.slug, "code": plan.code, "title": plan.title, "issuer": plan.issuer,
        "issued": day(plan.issued),
        "reporting": {"start": day(plan.reporting_start), "end": day(plan.reporting_end)},
        "cadence": list(plan.cadence or []),
        "assignments": assignments,
        "url": url_for("api.plan", ident=plan.slug),
    }


def list_plans(page: int, per_page: int) -> Page:
    plans, total, capped = page_of(select(Plan).order_by(Plan.issued.desc(), Plan.id), page, per_page)
    counts = dict(db.session.execute(
        select(Assignment.plan_id, func.count()).where(Assignment.active, Assignment.plan_id.in_([p.id for p in plans]))
        .group_by(Assignment.plan_id)).all()) if plans else {}
    return Page([plan_summary(p, counts.get(p.id, 0)) for p in plans], page, per_page, total, capped)


def period_dict(p: Period, plan_slug: str | None = None) -> dict[str, Any]:
    out = {"id": p.id, "kind": p.kind, "label": p.label, "start": day(p.start), "end": day(p.end), "due": day(p.due)}
    if plan_slug is not None:
        out["plan"] = plan_slug
    return out


def plan_periods(plan: Plan, kind: str | None) -> list[dict[str, Any]]:
    query = select(Period).where(Period.plan_id == plan.id)
    if kind:
        query = query.where(Period.kind == kind)
    rows = db.session.execute(query.order_by(Period.start, Period.kind, Period.id)).scalars().all()
    return [period_dict(p, plan.slug) for p in rows]


def indicator_dict(i: Indicator) -> dict[str, Any]:
    return {"key": i.key, "name": i.name, "comparator": i.comparator, "target": number(i.target),
            "target_text": number_text(i.target), "unit": i.unit, "due": day(i.due), "cumulative": i.cumulative,
            "per_unit": i.per_unit, "allow_negative": i.allow_negative, "reported_by": list(i.reported_by or [])}


def _task_dict(t: Task, plan_slug: str, section: Section | None, indicators: list[Indicator]) -> dict[str, Any]:
    return {
        "id": t.id, "plan": plan_slug, "number": t.number, "title": t.title, "text": t.text,
        "section": {"number": section.number, "title": section.title} if section else None,
        "indicators": [indicator_dict(i) for i in indicators],
    }


def _tasks_out(tasks: list[Task]) -> list[dict[str, Any]]:
    ids = [t.id for t in tasks]
    by_task: dict[int, list[Indicator]] = {}
    if ids:
        for i in db.session.execute(select(Indicator).where(Indicator.task_id.in_(ids))
                                    .order_by(Indicator.position, Indicator.id)).scalars():
            by_task.setdefault(i.task_id, []).append(i)
    return [_task_dict(t, t.plan.slug, t.section, by_task.get(t.id, [])) for t in tasks]


def list_tasks(plan_id: int | None, page: int, per_page: int) -> Page:
    query = (select(Task).options(joinedload(Task.plan), joinedload(Task.section))
             .join(Plan, Plan.id == Task.plan_id).order_by(Plan.issued.desc(), Task.plan_id, Task.number))
    if plan_id is not None:
        query = query.where(Task.plan_id == plan_id)
    tasks, total, capped = page_of(query, page, per_page)
    return Page(_tasks_out(tasks), page, per_page, total, capped)


def task_detail(task: Task) -> dict[str, Any]:
    out = _tasks_out([task])[0]
    rows = db.session.execute(
        select(Assignment.id, Unit.id, Unit.name, Assignment.role, Assignment.via_group)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.task_id == task.id, Assignment.active).order_by(Assignment.position, Assignment.id)).all()
    out["units"] = [{"unit": {"id": uid, "name": name}, "role": role, "via_group": via}
                    for _, uid, name, role, via in rows]
    return out


def list_units(kind: str | None, page: int, per_page: int) -> Page:
    query = select(Unit).where(Unit.active).order_by(Unit.id)
    if kind:
        query = query.where(Unit.kind == kind)
    units, total, capped = page_of(query, page, per_page)
    return Page([{"id": u.id, "name": u.name, "kind": u.kind} for u in units], page, per_page, total, capped)


# --------------------------------------------------------------------------- lights


def light_dict(light: Light) -> dict[str, Any]:
    return {"colour": light.colour, "label": light.label, "rule": light.rule, "explanation": light.explanation}


@dataclass
class CurrentStatus:
    period: Period | None
    due: date | None  # effective due date (an override wins over the cadence's rule)
    report: Report | None
    light: Light | None


def current_statuses(assignments: list[Assignment], today: date) -> dict[int, CurrentStatus]:
    """Each assignment's current monthly period, effective due date, report and traffic light.

    The same rules as the item page (reminders.services.item_status), for a whole page at
    once: six statements whatever the page size."""
    wf = workflows()
    submitted = set(wf.report.submitted_states())
    if not assignments:
        return {}
    plan_ids = {a.plan_id for a in assignments}
    periods = current_periods(plan_ids, today)
    period_ids = [p.id for p in periods.values()]
    ids = [a.id for a in assignments]
    overrides: dict[tuple[int | None, int], date] = {}
    reports: dict[int, Report] = {}
    if period_ids:
        for o in db.session.execute(select(DueOverride).where(
                DueOverride.period_id.in_(period_ids),
                DueOverride.assignment_id.in_(ids) | DueOverride.assignment_id.is_(None))).scalars():
            overrides[(o.assignment_id, o.period_id)] = o.due
        for r in db.session.execute(select(Report).where(Report.assignment_id.in_(ids),
                                                         Report.period_id.in_(period_ids))).scalars():
            reports[r.assignment_id] = r  # a period id belongs to one plan: this is the current one
    indicators = _indicators_by_assignment(assignments)
    measured = {a.id: indicators_for_light(a, indicators[a.id]) for a in assignments}
    figures: dict[int, list[Figure]] = {}
    wanted = {i.id for ms in measured.values() for i in ms}
    if reports and wanted:
        for f in db.session.execute(select(Figure).where(
                Figure.report_id.in_([r.id for r in reports.values()]), Figure.indicator_id.in_(list(wanted)),
                Figure.value.is_not(None))).scalars():
            figures.setdefault(f.report_id, []).append(f)
    result = {}
    for a in assignments:
        p = periods.get(a.plan_id)
        if p is None:
            result[a.id] = CurrentStatus(None, None, None, None)
            continue
        due = overrides.get((a.id, p.id)) or overrides.get((None, p.id)) or p.due
        report = reports.get(a.id)
        progress = None
        if report is not None and figures.get(report.id):
            order = [i.id for i in measured[a.id]]
            fig = min(figures[report.id], key=lambda f: order.index(f.indicator_id))
            ind = next(i for i in measured[a.id] if i.id == fig.indicator_id)
            plan = a.task.plan
            progress = IndicatorProgress(
                figure=fig.value, target=ind.target, comparator=ind.comparator, cumulative=ind.cumulative,
                start=min(plan.reporting_start, ind.due), due=ind.due, as_of=min(p.end, ind.due), unit=ind.unit,
                name=ind.name)
        left = wf.calendar.workdays_between(today, due)
        light = light_for(due=due, today=today, submitted=bool(report and report.state in submitted),
                          workdays_left=left, rules=wf.lights, period_start=p.start, indicator=progress)
        result[a.id] = CurrentStatus(p, due, report, light)
    return result


def _indicators_by_assignment(assignments: list[Assignment]) -> dict[int, list[Indicator]]:
    """reports.services.indicators_for for many assignments: two statements."""
    plan_ids = {a.plan_id for a in assignments}
    task_ids = {a.task_id for a in assignments}
    rows = db.session.execute(select(Indicator).where(
        Indicator.plan_id.in_(list(plan_ids)), Indicator.task_id.in_(list(task_ids)) | Indicator.task_id.is_(None))
    ).scalars().all()
    rows = sorted(rows, key=lambda i: (i.task_id is not None, i.position, i.id))
    first_task = dict(((u, p), n) for u, p, n in db.session.execute(
        select(Assignment.unit_id, Assignment.plan_id, func.min(Task.number))
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.unit_id.in_({a.unit_id for a in assignments}), Assignment.plan_id.in_(list(plan_ids)),
               Assignment.active)
        .group_by(Assignment.unit_id, Assignment.plan_id)).all())
    result: dict[int, list[Indicator]] = {}
    for a in assignments:
        plan = a.task.plan
        out = []
        for ind in rows:
            if ind.plan_id != a.plan_id or ind.task_id not in (a.task_id, None):
                continue
            if not indicator_applies(ind.reported_by, a.role, a.via_group, a.unit.name, plan.implementing_group):
                continue
            if ind.task_id is None and first_task.get((a.unit_id, a.plan_id)) != a.task.number:
                continue
            out.append(ind)
        result[a.id] = out
    return result


# --------------------------------------------------------------------------- assignments


def _assignment_dict(a: Assignment, status: CurrentStatus | None) -> dict[str, Any]:
    wf = workflows().report
    out: dict[str, Any] = {
        "id": a.id, "plan": a.task.plan.slug,
        "task": {"id": a.task_id, "number": a.task.number, "title": a.task.title},
        "unit": {"id": a.unit_id, "name": a.unit.name},
        "role": a.role, "via_group": a.via_group, "active": a.active,
        "status": a.status, "status_label": STATUS_LABELS.get(a.status, a.status), "progress": a.progress,
        "status_note": a.status_note, "version": a.version,
        "current": None,
    }
    if status is not None and status.period is not None:
        r = status.report
        out["current"] = {
            "period": period_dict(status.period, a.task.plan.slug),
            "due": day(status.due),
            "report": {"id": r.id, "state": r.state, "state_label": wf.label(r.state), "version": r.version}
            if r is not None else None,
            "light": light_dict(status.light) if status.light is not None else None,
        }
    return out


def _assignment_query() -> Select:
    return (select(Assignment)
            .options(joinedload(Assignment.task).joinedload(Task.plan), joinedload(Assignment.unit))
            .join(Task, Task.id == Assignment.task_id))


def list_assignments(user: User, today: date, page: int, per_page: int, *, plan_id: int | None = None,
                     unit_id: int | None = None, task_id: int | None = None, status: str | None = None,
                     role: str | None = None, active: bool | None = True) -> Page:
    query = scope_assignments(_assignment_query(), user)
    if plan_id is not None:
        query = query.where(Assignment.plan_id == plan_id)
    if unit_id is not None:
        query = query.where(Assignment.unit_id == unit_id)
    if task_id is not None:
        query = query.where(Assignment.task_id == task_id)
    if status:
        query = query.where(Assignment.status == status)
    if role:
        query = query.where(Assignment.role == role)
    if active is not None:
        query = query.where(Assignment.active == active)
    query = query.order_by(Assignment.plan_id, Task.number, Assignment.position, Assignment.id)
    rows, total, capped = page_of(query, page, per_page)
    statuses = current_statuses(rows, today)
    return Page([_assignment_dict(a, statuses.get(a.id)) for a in rows], page, per_page, total, capped)


def assignment_detail(a: Assignment, today: date) -> dict[str, Any]:
    """One assignment with every period of its plan: effective due date, report state and light."""
    from ..reminders.services import item_status
    from ..reports.services import indicators_for

    out = _assignment_dict(a, current_statuses([a], today).get(a.id))
    periods = db.session.execute(select(Period).where(Period.plan_id == a.plan_id)
                                 .order_by(Period.start, Period.kind, Period.id)).scalars().all()
    reports = {r.period_id: r for r in db.session.execute(
        select(Report).where(Report.assignment_id == a.id)).scalars()}
    indicators = indicators_for(a)
    statuses = item_status(a, list(periods), reports, indicators, today)
    wf = workflows().report
    out["indicators"] = [indicator_dict(i) for i in indicators]
    out["periods"] = []
    for p in periods:
        r = reports.get(p.id)
        s = statuses[p.id]
        out["periods"].append({
            "period": period_dict(p, a.task.plan.slug), "due": day(s.due.due),
            "report": {"id": r.id, "state": r.state, "state_label": wf.label(r.state), "version": r.version}
            if r is not None else None,
            "light": light_dict(s.light),
        })
    return out


# --------------------------------------------------------------------------- reports and figures


def _figures_of(report_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    ids = list(report_ids)
    out: dict[int, list[dict[str, Any]]] = {}
    if not ids:
        return out
    rows = db.session.execute(
        select(Figure, Indicator).join(Indicator, Indicator.id == Figure.indicator_id)
        .where(Figure.report_id.in_(ids)).order_by(Figure.report_id, Indicator.position, Indicator.id)).all()
    for f, i in rows:
        out.setdefault(f.report_id, []).append(
            {"indicator": i.key, "name": i.name, "unit": i.unit, "value": number(f.value),
             "value_text": number_text(f.value)})
    return out


def report_dict(r: Report, figures: list[dict[str, Any]]) -> dict[str, Any]:
    a = r.assignment
    return {
        "id": r.id, "assignment_id": r.assignment_id, "plan": a.task.plan.slug,
        "task": {"id": a.task_id, "number": a.task.number, "title": a.task.title},
        "unit": {"id": a.unit_id, "name": a.unit.name},
        "period": period_dict(r.period),
        "state": r.state, "state_label": workflows().report.label(r.state), "version": r.version,
        "progress_text": r.progress_text, "problems_text": r.problems_text, "next_steps_text": r.next_steps_text,
        "return_reason": r.return_reason,
        "submitted_at": moment(r.submitted_at), "first_submitted_at": moment(r.first_submitted_at),
        "decided_at": moment(r.decided_at), "created_at": moment(r.created_at), "updated_at": moment(r.updated_at),
        "figures": figures,
    }


def _report_query(user: User) -> Select:
    query = (select(Report)
             .options(joinedload(Report.assignment).joinedload(Assignment.task).joinedload(Task.plan),
                      joinedload(Report.assignment).joinedload(Assignment.unit), joinedload(Report.period))
             .join(Assignment, Assignment.id == Report.assignment_id))
    return scope_assignments(query, user)


def list_reports(user: User, page: int, per_page: int, *, plan_id: int | None = None, unit_id: int | None = None,
                 period_id: int | None = None, assignment_id: int | None = None, state: str | None = None,
                 updated_since: datetime | None = None) -> Page:
    query = _report_query(user)
    if plan_id is not None:
        query = query.where(Assignment.plan_id == plan_id)
    if unit_id is not None:
        query = query.where(Assignment.unit_id == unit_id)
    if period_id is not None:
        query = query.where(Report.period_id == period_id)
    if assignment_id is not None:
        query = query.where(Report.assignment_id == assignment_id)
    if state:
        query = query.where(Report.state == state)
    if updated_since is not None:
        query = query.where(Report.updated_at >= updated_since)
    rows, total, capped = page_of(query.order_by(Report.id), page, per_page)
    figures = _figures_of(r.id for r in rows)
    return Page([report_dict(r, figures.get(r.id, [])) for r in rows], page, per_page, total, capped)


def get_report(user: User, report_id: int) -> Report | None:
    return db.session.execute(_report_query(user).where(Report.id == report_id)).unique().scalar_one_or_none()


def report_out(r: Report) -> dict[str, Any]:
    return report_dict(r, _figures_of([r.id]).get(r.id, []))


def list_figures(user: User, page: int, per_page: int, *, plan_id: int | None = None, unit_id: int | None = None,
                 period_id: int | None = None, indicator: str | None = None, state: str | None = None) -> Page:
    query = (select(Figure.id, Figure.value, Figure.report_id, Report.state, Report.assignment_id,
                    Indicator.key, Indicator.name, Indicator.unit, Unit.id.label("unit_id"), Unit.name.label("unit_name"),
                    Plan.slug, Task.number, Period.id.label("period_id"), Period.kind, Period.label)
             .select_from(Figure)
             .join(Report, Report.id == Figure.report_id)
             .join(Assignment, Assignment.id == Report.assignment_id)
             .join(Indicator, Indicator.id == Figure.indicator_id)
             .join(Unit, Unit.id == Assignment.unit_id)
             .join(Task, Task.id == Assignment.task_id)
             .join(Plan, Plan.id == Assignment.plan_id)
             .join(Period, Period.id == Report.period_id))
    query = scope_assignments(query, user)
    if plan_id is not None:
        query = query.where(Assignment.plan_id == plan_id)
    if unit_id is not None:
        query = query.where(Assignment.unit_id == unit_id)
    if period_id is not None:
        query = query.where(Report.period_id == period_id)
    if indicator:
        query = query.where(Indicator.key == indicator if clean_text(indicator) else false())
    if state:
        query = query.where(Report.state == state)
    total, capped = count_capped(query)
    rows = db.session.execute(query.order_by(Figure.id).limit(per_page).offset((page - 1) * per_page)).all()
    items = [{
        "id": r.id, "report_id": r.report_id, "report_state": r.state, "assignment_id": r.assignment_id,
        "plan": r.slug, "task_number": r.number, "unit": {"id": r.unit_id, "name": r.unit_name},
        "period": {"id": r.period_id, "kind": r.kind, "label": r.label},
        "indicator": r.key, "name": r.name, "unit_of_measure": r.unit,
        "value": number(r.value), "value_text": number_text(r.value),
    } for r in rows]
    return Page(items, page, per_page, total, capped)


def report_slot(a: Assignment, period: Period, user: User) -> dict[str, Any]:
    """What a unit's system needs before pushing figures: the report (or none yet), its version,
    the indicators the unit reports with their current values, and whether the user may edit it."""
    from ..reports.services import get_report as find_report
    from ..reports.services import indicators_for, may_edit_report

    report = find_report(a, period)
    indicators = indicators_for(a)
    values = {f.indicator_id: f.value for f in report.figures} if report is not None else {}
    return {
        "assignment_id": a.id, "period": period_dict(period, a.task.plan.slug),
        "version": report.version if report is not None else 0,
        "may_edit": may_edit_report(user, a, report),
        "indicators": [{**indicator_dict(i), "value": number(values.get(i.id)), "value_text": number_text(values.get(i.id))}
                       for i in indicators],
        "report": report_out(report) if report is not None else None,
    }


# --------------------------------------------------------------------------- overdue


def overdue_page(today: date, page: int, per_page: int, *, plan_id: int | None, period_id: int | None,
                 unit_id: int | None, step: str | None, all_periods: bool) -> Page:
    from ..review.services import COUNT_CAP as OVERDUE_CAP
    from ..review.services import overdue_list

    rows, total = overdue_list(today, plan_id=plan_id, period_id=period_id, unit_id=unit_id,
                               step=step, current_only=period_id is None and not all_periods, page=page,
                               per_page=per_page)
    wf = workflows().report
    items = [{
        "assignment_id": r.assignment_id, "plan": r.plan_slug,
        "task": {"number": r.task_number, "title": r.task_title},
        "unit": {"id": r.unit_id, "name": r.unit_name}, "role": r.role,
        "period": {"id": r.period_id, "label": r.period_label},
        "due": day(r.due), "rule_due": day(r.rule_due), "workdays_late": r.days_late,
        "report_state": r.state, "report_state_label": wf.label(r.state) if r.state else None,
        "step": r.step, "step_label": r.step_label, "step_day": day(r.step_day),
    } for r in rows]
    return Page(items, page, per_page, min(total, OVERDUE_CAP), total > OVERDUE_CAP)


def plan_lookup(ident: str) -> Plan | None:
    from ..plans.services import find_plan

    return find_plan(ident)


def period_of(plan_id: int, period_id: int) -> Period | None:
    return db.session.execute(select(Period).where(and_(Period.id == period_id, Period.plan_id == plan_id))
                              ).scalar_one_or_none()
