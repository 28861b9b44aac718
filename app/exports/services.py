"""What each export holds: the columns (Chinese headers, widths, kinds) and the rows, streamed.

Rows are plain tuples produced by generators over one streamed query each, so an export of any
size runs a fixed number of statements and never holds its rows in memory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import case, func, select, text

from ..extensions import db
from ..forms_common import plain_id
from ..plans.models import Assignment, Indicator, Period, Plan, Task
from ..reports.models import Figure, FigureRevision, Report
from ..review import services as review
from ..timeutil import to_local
from ..units.models import Unit
from ..workflow import workflows
from .writers import Column

FORMATS = ("xlsx", "csv")
UNIT_KINDS = ("department", "league_city", "external")
BATCH = 2000  # rows fetched from the database at a time


class NotFound(LookupError):
    """The export names something that does not exist (a period of another plan)."""


@dataclass
class Sheet:
    """One export: file name (without extension), sheet name, optional title line, columns, rows."""

    name: str
    sheet_title: str
    columns: list[Column]
    rows: Iterator[tuple]
    title: str | None = None
    audit: dict | None = None  # what the audit event says was exported


def local(moment: datetime | None) -> datetime | None:
    """A stored (UTC) moment as Beijing wall-clock time, for people and spreadsheets."""
    return to_local(moment).replace(tzinfo=None) if moment else None


def _period_of(plan: Plan, period_arg: str | None, today: date) -> Period | None:
    """The period named in the query string (it must be one of the plan's), else the current one."""
    from ..reports.services import current_period

    if not period_arg:
        return current_period(plan, today)
    period_id = plain_id(period_arg)
    period = db.session.get(Period, period_id) if period_id is not None else None
    if period is None or period.plan_id != plan.id:
        raise NotFound(period_arg)
    return period


def _file_part(plan: Plan, period: Period | None) -> str:
    return f"{plan.slug}-{period.start.isoformat()}" if period else plan.slug


# --- the task × unit matrix -----------------------------------------------------------------------

def matrix_sheet(plan: Plan, args: Mapping[str, str], today: date) -> Sheet:
    """The matrix of review.plan_matrix: one row per task, one column per unit, the cell's state
    in Chinese (牵头 marks the lead unit); the counts per state in the title line."""
    period = _period_of(plan, args.get("period"), today)
    unit_kind = args.get("kind") if args.get("kind") in UNIT_KINDS else None
    m = review.plan_matrix(plan, period, today, unit_kind)
    labels = {key: _(label) for key, label in review.CELL_LEGEND.items()}
    lead = _("牵头")
    columns = [Column(_("任务编号"), 8, "int"), Column(_("任务名称"), 40)]
    columns += [Column(u.name, max(10, min(24, len(u.name) * 2 + 2))) for u in m.units]

    # plain values taken now: the audit event's commit expires the ORM objects before a CSV streams
    tasks = [(t.id, t.number, t.title) for t in m.tasks]
    unit_ids = [u.id for u in m.units]

    def rows() -> Iterator[tuple]:
        for task_id, number, task_title in tasks:
            cells = []
            for unit_id in unit_ids:
                cell = m.cells.get((task_id, unit_id))
                if cell is None:
                    cells.append(None)
                else:
                    label = labels[cell["colour"]]
                    cells.append(f"{label}（{lead}）" if cell["role"] == "lead" else label)
            yield (number, task_title, *cells)

    counts = "，".join(f"{labels[k]} {m.counts[k]}" for k in review.CELL_LEGEND if k != "inactive")
    when = _("%(period)s，截止 %(due)s", period=period.label, due=period.due.isoformat()) if period else ""
    title = " ".join(part for part in (plan.code, plan.title, when, counts) if part)
    return Sheet(f"{_file_part(plan, period)}-{_('任务落实矩阵')}", _("任务落实矩阵"), columns, rows(), title,
                 audit={"what": "matrix", "plan": plan.slug, "period": period.label if period else None,
                        "kind": unit_kind, "rows": len(m.tasks)})


# --- all figures of a period ----------------------------------------------------------------------

def figure_columns() -> list[Column]:
    return [Column(_("任务编号"), 8, "int"), Column(_("任务名称"), 36), Column(_("责任单位"), 24),
            Column(_("指标"), 30), Column(_("数值"), 14, "decimal"), Column(_("计量单位"), 10),
            Column(_("报告状态"), 10), Column(_("报送时间"), 17, "date"), Column(_("审核通过时间"), 17, "date"),
            Column(_("修改次数"), 9, "int")]


def figures_query(period_ids):
    """The figures of the reports of the given periods (a list or a subquery of ids), in the order
    of the matrix: task, unit, indicator. Revisions count the changes after the first submission."""
    revisions = (select(func.count()).select_from(FigureRevision)
                 .where(FigureRevision.figure_id == Figure.id, FigureRevision.kind != "entry")
                 .scalar_subquery())
    return (
        select(Task.number, Task.title, Unit.name.label("unit_name"), Indicator.name.label("indicator"),
               Figure.value, Indicator.unit.label("measure"), Report.state, Report.submitted_at,
               case((Report.state == "accepted", Report.decided_at), else_=None).label("accepted_at"),
               revisions.label("revisions"))
        .select_from(Figure)
        .join(Report, Report.id == Figure.report_id)
        .join(Assignment, Assignment.id == Report.assignment_id)
        .join(Task, Task.id == Assignment.task_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Indicator, Indicator.id == Figure.indicator_id)
        .where(Report.period_id.in_(period_ids))
        .order_by(Report.period_id, Task.number, Assignment.position, Assignment.id, Indicator.position,
                  Indicator.id)
    )


def whole_result() -> None:
    """Tell PostgreSQL that the next cursor is read to its end: plan for all rows, not the first
    tenth (cursor_tuple_fraction; 4 s instead of 6.5 s for the overdue list of every period)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))


def figure_rows(query) -> Iterator[tuple]:
    """The rows of a figures query, fetched BATCH at a time (a server-side cursor on PostgreSQL)."""
    report_wf = workflows().report
    states: dict[str, str] = {}
    whole_result()
    for r in db.session.execute(query.execution_options(yield_per=BATCH)):
        state = states.get(r.state)
        if state is None:
            state = states[r.state] = _(report_wf.label(r.state))
        yield (r.number, r.title, r.unit_name, r.indicator, r.value, r.measure, state, local(r.submitted_at),
               local(r.accepted_at), r.revisions)


def figures_sheet(plan: Plan, args: Mapping[str, str], today: date) -> Sheet:
    period = _period_of(plan, args.get("period"), today)
    rows = figure_rows(figures_query([period.id])) if period else iter(())
    title = f"{plan.code} {plan.title} {period.label if period else ''} {_('填报数值')}".strip()
    return Sheet(f"{_file_part(plan, period)}-{_('填报数值')}", _("填报数值"), figure_columns(), rows, title,
                 audit={"what": "figures", "plan": plan.slug, "period": period.label if period else None})


# --- the overdue list -----------------------------------------------------------------------------

def overdue_columns() -> list[Column]:
    return [Column(_("方案"), 22), Column(_("任务编号"), 8, "int"), Column(_("任务名称"), 36),
            Column(_("责任单位"), 24), Column(_("报送周期"), 12), Column(_("截止日期"), 11, "date"),
            Column(_("逾期工作日"), 10, "int"), Column(_("报告状态"), 10), Column(_("已采取措施"), 14),
            Column(_("措施日期"), 11, "date")]


def overdue_sheet(args: Mapping[str, str], today: date) -> Sheet:
    """The overdue list with the filters of /review/overdue, most late first, every row streamed."""
    f = review.overdue_filters(args, today)
    plan, period = f["plan"], f["period"]
    report_wf = workflows().report
    states: dict[str | None, str] = {None: _("未报送")}
    plan_id, period_id = (plan.id if plan else None), (period.id if period else None)

    def rows() -> Iterator[tuple]:
        whole_result()
        for r in review.iter_overdue(today, plan_id=plan_id, period_id=period_id, step=f["step"],
                                     current_only=f["current_only"], batch=BATCH):
            state = states.get(r.state)
            if state is None:
                state = states[r.state] = _(report_wf.label(r.state))
            yield (r.plan_slug, r.task_number, r.task_title, r.unit_name, r.period_label, r.due, r.days_late,
                   state, r.step_label, r.step_day)

    scope = period.label if period else (_("各方案当期") if f["current_only"] else _("全部周期"))
    title = " ".join(part for part in (_("逾期未报清单"), plan.title if plan else _("全部方案"), scope,
                                       _("截至 %(day)s", day=today.isoformat())) if part)
    name = f"{plan.slug + '-' if plan else ''}overdue-{f['step'] or 'all'}-{today.isoformat()}-{_('逾期清单')}"
    return Sheet(name, _("逾期清单"), overdue_columns(), rows(), title,
                 audit={"what": "overdue", "plan": plan.slug if plan else None,
                        "period": period.label if period else None, "step": f["step"],
                        "current_only": f["current_only"]})
