"""Lagging-units ranking: the measures of every unit of a plan read from the data in a fixed
number of set-based statements, scored by the formula version in force, published frozen with
the inputs and formula it used, and recomputed later from those inputs and from the data.

Cut-off ("as of"): a moment. The periods ranked are those ending on or before the chosen
period's end; a report is due when its effective due date is before the cut-off's local day.
Facts that time brings are counted up to the cut-off (first submission, ladder steps); the
office's verdicts on those reports are read as they stand now (returns, flags, a report that
now stands returned), so a correction after publication shows in the recompute.

Plain functions; the caller commits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import gettext, lazy_gettext
from sqlalchemy import DateTime, and_, case, cast, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from ..audit import services as audit
from ..audit.chain import GENESIS_HASH
from ..audit.models import AuditEvent
from ..auth.models import User
from ..extensions import db
from ..integrity.models import Flag
from ..plans.models import Assignment, Period, Plan, Task
from ..reminders.models import LadderStep
from ..reminders.services import effective_due_joins
from ..reports.models import Report, ReportTransition
from ..timeutil import local_tz, to_local, utcnow
from ..units.models import UNIT_KINDS, Unit
from ..workflow import workflows
from .formula import COUNT_KEYS, Formula, RankedRow, RankingDefinitions, UnitInputs, compare_rows, rank_units
from .models import RankingPublication

NOTE_MAX = 500
KIND_LABELS = {"department": lazy_gettext("自治区部门"), "league_city": lazy_gettext("盟市政府"),
               "external": lazy_gettext("其他单位")}


class RankingError(Exception):
    """A request that cannot be carried out; the message is for the user (Chinese)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def definitions() -> RankingDefinitions:
    return workflows().ranking


def formula_for(day: date) -> Formula:
    formula = definitions().current(day)
    if formula is None:
        raise RankingError(gettext("%(day)s 没有生效的排名公式（见 workflows/ranking.yaml）。", day=day.isoformat()))
    return formula


def formula_words(formula: Formula) -> list[str]:
    """The formula in words, one line per part, for the page."""
    total = formula.total_weight
    lines = []
    for m in formula.measures:
        share = _plain(m.weight * 100 / total, "0.1")
        if m.direction == "higher_better":
            lines.append(gettext("%(label)s：权重 %(weight)s（占 %(share)s%%），落后程度 = 1 − %(label)s",
                                 label=m.label, weight=_plain(m.weight), share=share))
        else:
            lines.append(gettext("%(label)s：权重 %(weight)s（占 %(share)s%%），落后程度 = 每份应报报告的%(label)s次数"
                                 " ÷ %(cap)s，最高为 1", label=m.label, weight=_plain(m.weight), share=share,
                                 cap=_plain(m.cap)))
    lines.append(gettext("落后指数 = 100 × Σ（权重 × 落后程度）÷ 权重之和；指数越高，排名越靠前（第 1 名最落后）"))
    if formula.tie_break:
        names = "、".join(formula.measure(k).label for k in formula.tie_break if formula.measure(k))
        lines.append(gettext("指数相同时依次比较：%(names)s（较差者在前）；仍相同者并列", names=names))
    lines.append(gettext("应报报告少于 %(n)s 份的单位列出但不排名", n=formula.min_due_reports))
    return lines


def _plain(value: Decimal, places: str | None = None) -> str:
    if places:
        value = value.quantize(Decimal(places))
    return format(value.normalize(), "f")


# --------------------------------------------------------------------------- cut-off and periods


def cutoff(day: date, now: datetime | None = None) -> datetime:
    """The cut-off moment (naive UTC) for a ranking on a local day: now, or the day's end when
    the day is already over (a frozen clock, a ranking for a past day)."""
    tz = local_tz()
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
    now = now or utcnow().replace(tzinfo=None)
    return min(now, end - timedelta(microseconds=1))


def local_day(moment: datetime) -> date:
    return to_local(moment).date()


def plan_periods(plan: Plan) -> list[Period]:
    return list(db.session.execute(
        select(Period).where(Period.plan_id == plan.id).order_by(Period.end, Period.start, Period.kind)).scalars())


def default_period(periods: Sequence[Period], day: date) -> Period | None:
    """The latest period due before the day (the last one, if none is due yet: nothing is due)."""
    due = [p for p in periods if p.due < day]
    if due:
        return max(due, key=lambda p: (p.end, p.due, p.id))
    return periods[0] if periods else None


def scope_period_ids(periods: Sequence[Period], period: Period | None) -> list[int]:
    """The periods a ranking up to ``period`` covers: every one ending on or before it ends."""
    if period is None:
        return []
    return [p.id for p in periods if p.end <= period.end]


# --------------------------------------------------------------------------- measures from the data


def _deadline(due: Any) -> Any:
    """SQL: the end of the (local) due day as naive UTC, the moment a submission becomes late."""
    offset = timedelta(days=1) - local_tz().utcoffset(datetime(2025, 1, 1))
    if db.session.get_bind().dialect.name == "sqlite":
        return func.datetime(due, f"+{int(offset.total_seconds() // 60)} minutes", type_=DateTime)
    return cast(due, DateTime) + offset


def _submitted_at(submitted: Sequence[str]) -> Any:
    """SQL: when the report was first submitted (older rows keep only submitted_at)."""
    return func.coalesce(Report.first_submitted_at,
                         case((Report.state.in_(submitted), Report.submitted_at), else_=None))


@dataclass
class Scope:
    plan_id: int
    period_ids: list[int]
    as_of: datetime  # naive UTC
    unit_kind: str | None = None
    unit_id: int | None = None

    @property
    def day(self) -> date:
        return local_day(self.as_of)


def _report_counts(scope: Scope, by: InstrumentedAttribute) -> dict[int, Any]:
    """Due, on-time and overdue reports grouped by ``by`` (Assignment.unit_id or Assignment.id)."""
    submitted = workflows().report.submitted_states()
    query, due = effective_due_joins(
        select(by.label("key"), func.count().label("due"))
        .select_from(Assignment)
        .join(Period, and_(Period.plan_id == Assignment.plan_id, Period.id.in_(scope.period_ids))))
    sent = _submitted_at(submitted)
    on_time = and_(sent.is_not(None), sent < _deadline(due), sent <= scope.as_of)
    overdue = or_(Report.id.is_(None), Report.state.not_in(submitted), sent.is_(None), sent > scope.as_of)
    query = (query.add_columns(func.sum(case((on_time, 1), else_=0)).label("on_time"),
                               func.sum(case((overdue, 1), else_=0)).label("overdue"))
             .outerjoin(Report, and_(Report.assignment_id == Assignment.id, Report.period_id == Period.id))
             .where(Assignment.plan_id == scope.plan_id, Assignment.active, due < scope.day)
             .group_by(by))
    query = _narrow(query, scope)
    return {r.key: r for r in db.session.execute(query)}


def _narrow(query: Any, scope: Scope) -> Any:
    if scope.unit_kind:
        query = query.where(Assignment.unit_id.in_(select(Unit.id).where(Unit.kind == scope.unit_kind)))
    if scope.unit_id is not None:
        query = query.where(Assignment.unit_id == scope.unit_id)
    return query


def _urge_counts(scope: Scope, steps: Sequence[str], by: InstrumentedAttribute) -> dict[int, int]:
    query = (select(by.label("key"), func.count(LadderStep.id))
             .select_from(LadderStep).join(Assignment, Assignment.id == LadderStep.assignment_id)
             .where(Assignment.plan_id == scope.plan_id, Assignment.active, LadderStep.period_id.in_(scope.period_ids),
                    LadderStep.step.in_(list(steps)), LadderStep.taken_at <= scope.as_of)
             .group_by(by))
    return dict(db.session.execute(_narrow(query, scope)).all())


def _return_counts(scope: Scope, by: InstrumentedAttribute) -> dict[int, int]:
    query = (select(by.label("key"), func.count(ReportTransition.id))
             .select_from(ReportTransition).join(Report, Report.id == ReportTransition.report_id)
             .join(Assignment, Assignment.id == Report.assignment_id)
             .where(Assignment.plan_id == scope.plan_id, Assignment.active, Report.period_id.in_(scope.period_ids),
                    ReportTransition.to_state == "returned")
             .group_by(by))
    return dict(db.session.execute(_narrow(query, scope)).all())


def _flag_counts(scope: Scope, states: Sequence[str]) -> dict[int, int]:
    query = (select(Flag.unit_id, func.count(Flag.id))
             .where(Flag.plan_id == scope.plan_id, Flag.period_id.in_(scope.period_ids), Flag.state.in_(list(states)))
             .group_by(Flag.unit_id))
    if scope.unit_id is not None:
        query = query.where(Flag.unit_id == scope.unit_id)
    return dict(db.session.execute(query).all())


def measure_inputs(scope: Scope, formula: Formula) -> list[UnitInputs]:
    """Every unit's raw measures: five statements (units, reports, urges, returns, flags),
    whatever the number of units, assignments and reports."""
    if not scope.period_ids:
        return []
    reports = _report_counts(scope, Assignment.unit_id)
    if not reports:
        return []
    units = {u.id: u for u in db.session.execute(
        select(Unit.id, Unit.name, Unit.kind).where(Unit.id.in_(list(reports))))}
    urges_measure, flags_measure = formula.measure("urges"), formula.measure("open_flags")
    urges = _urge_counts(scope, urges_measure.steps, Assignment.unit_id) if urges_measure else {}
    returned = _return_counts(scope, Assignment.unit_id) if formula.measure("returned") else {}
    flags = _flag_counts(scope, flags_measure.states) if flags_measure else {}
    result = []
    for unit_id, r in reports.items():
        unit = units[unit_id]
        result.append(UnitInputs(unit_id, unit.name, unit.kind, int(r.due), int(r.on_time or 0), int(r.overdue or 0),
                                 urges.get(unit_id, 0), flags.get(unit_id, 0), returned.get(unit_id, 0)))
    result.sort(key=lambda u: (u.unit, u.unit_id))
    return result


@dataclass
class Ranking:
    plan: Plan
    period: Period | None
    formula: Formula
    as_of: datetime
    inputs: list[UnitInputs]
    rows: list[RankedRow]
    unit_kind: str | None = None

    @property
    def ranked(self) -> int:
        return sum(1 for r in self.rows if r.rank is not None)


def live_ranking(plan: Plan, periods: Sequence[Period], period: Period | None, day: date,
                 unit_kind: str | None = None, *, now: datetime | None = None) -> Ranking:
    """The ranking from the data now, by the formula in force on the day (units of one kind:
    ranked among themselves)."""
    formula = formula_for(day)
    scope = Scope(plan.id, scope_period_ids(periods, period), cutoff(day, now), unit_kind)
    inputs = measure_inputs(scope, formula)
    return Ranking(plan, period, formula, scope.as_of, inputs, rank_units(formula, inputs), unit_kind)


# --------------------------------------------------------------------------- the items behind a unit's figures


@dataclass
class ItemMeasures:
    assignment_id: int
    task_number: int
    task_title: str
    role: str
    due: int = 0
    on_time: int = 0
    overdue: int = 0
    urges: int = 0
    returned: int = 0


def unit_items(plan: Plan, periods: Sequence[Period], period: Period | None, unit: Unit, day: date,
               formula: Formula, *, now: datetime | None = None) -> list[ItemMeasures]:
    """One unit's assignments in the plan with the counts behind its ranking figures (four statements)."""
    scope = Scope(plan.id, scope_period_ids(periods, period), cutoff(day, now), unit_id=unit.id)
    items = db.session.execute(
        select(Assignment.id, Task.number, Task.title, Assignment.role).join(Task, Task.id == Assignment.task_id)
        .where(Assignment.plan_id == plan.id, Assignment.unit_id == unit.id, Assignment.active)
        .order_by(Task.number)).all()
    if not items or not scope.period_ids:
        return [ItemMeasures(i.id, i.number, i.title, i.role) for i in items]
    reports = _report_counts(scope, Assignment.id)
    urges_measure = formula.measure("urges")
    urges = _urge_counts(scope, urges_measure.steps, Assignment.id) if urges_measure else {}
    returned = _return_counts(scope, Assignment.id)
    result = []
    for i in items:
        r = reports.get(i.id)
        result.append(ItemMeasures(i.id, i.number, i.title, i.role, int(r.due) if r else 0,
                                   int(r.on_time or 0) if r else 0, int(r.overdue or 0) if r else 0,
                                   urges.get(i.id, 0), returned.get(i.id, 0)))
    return result


# --------------------------------------------------------------------------- publishing and recomputing


def digest(value: Any) -> str:
    """sha256 of a JSON value in canonical form (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def publish(plan: Plan, period: Period | None, user: User, note: str | None, day: date, *,
            now: datetime | None = None) -> RankingPublication:
    """Issue the ranking of the plan's units up to the period: stored with the formula version and
    the whole formula, the inputs, the rows, the cut-off and the audit head, and recorded in the
    audit log with a sha256 of the inputs and of the rows."""
    if not user.is_office:
        raise RankingError(gettext("只有领导小组办公室可以发布排名。"))
    note = (note or "").strip() or None
    if note and len(note) > NOTE_MAX:
        raise RankingError(gettext("说明不能超过 %(n)s 个字。", n=NOTE_MAX), "note")
    if period is None or period.plan_id != plan.id:
        raise RankingError(gettext("请选择该方案的报送周期。"), "period")
    periods = plan_periods(plan)
    ranking = live_ranking(plan, periods, period, day, now=now)
    if not ranking.rows:
        raise RankingError(gettext("截至所选周期还没有到期的报告，无可排名的单位。"), "period")
    seq, head = audit.current_head()
    inputs = [u.to_dict() for u in ranking.inputs]
    rows = [r.to_dict() for r in ranking.rows]
    publication = RankingPublication(
        plan_id=plan.id, period_id=period.id, formula_version=ranking.formula.version,
        formula=ranking.formula.to_dict(), inputs=inputs, rows=rows, as_of=ranking.as_of, audit_seq=seq,
        audit_hash=head, note=note, published_by_id=user.id,
        published_at=now or utcnow().replace(tzinfo=None))
    db.session.add(publication)
    db.session.flush()
    audit.record("ranking.publish", "ranking_publication", publication.id, extra={
        "plan": plan.slug, "period": period.label, "formula_version": ranking.formula.version,
        "as_of": ranking.as_of, "units": len(rows), "inputs_sha256": digest(inputs), "rows_sha256": digest(rows),
        "formula_sha256": digest(publication.formula), "audit_seq": seq, "audit_hash": head, "note": note},
        actor=audit.actor_of(user))
    return publication


def publications(plan: Plan, limit: int = 50) -> list[RankingPublication]:
    return list(db.session.execute(
        select(RankingPublication).where(RankingPublication.plan_id == plan.id)
        .order_by(RankingPublication.published_at.desc(), RankingPublication.id.desc()).limit(limit)).scalars())


@dataclass
class Recompute:
    formula: Formula
    rows_from_inputs_equal: bool  # the stored inputs, scored again by the stored formula, give the stored rows
    logged: dict[str, Any] | None  # the audit event of the publication (its recorded digests)
    digests_equal: bool | None  # the stored inputs and rows still have the digests the log recorded
    formula_in_file: str  # "same" | "changed" | "missing": the version as workflows/ranking.yaml has it now
    head_in_log: bool  # the audit log still holds, at the recorded position, the head recorded at issue
    data_inputs: list[dict[str, Any]]  # measures read from the data now, for the same cut-off
    data_rows: list[dict[str, Any]]
    input_changes: list[dict[str, Any]] = field(default_factory=list)
    row_changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def data_equal(self) -> bool:
        return not self.input_changes and not self.row_changes


def recompute(publication: RankingPublication) -> Recompute:
    """Check a publication: its rows again from its stored inputs and formula; its digests against
    the audit log; and the measures again from the data as it stands now, for the same periods and
    cut-off, listing every unit and figure that differs (e.g. a report returned or a figure
    questioned after issue)."""
    formula = Formula.from_dict(publication.formula)
    stored_inputs = [UnitInputs.from_dict(d) for d in publication.inputs]
    again = [r.to_dict() for r in rank_units(formula, stored_inputs)]
    event = db.session.execute(
        select(AuditEvent.content).where(AuditEvent.entity_type == "ranking_publication",
                                         AuditEvent.entity_id == str(publication.id),
                                         AuditEvent.action == "ranking.publish")
        .order_by(AuditEvent.seq).limit(1)).scalar_one_or_none()
    logged = (json.loads(event).get("extra") or {}) if event else None
    digests_equal = None
    if logged is not None:
        digests_equal = (logged.get("inputs_sha256") == digest(publication.inputs)
                         and logged.get("rows_sha256") == digest(publication.rows))
    if publication.audit_seq == 0:
        head_in_log = publication.audit_hash == GENESIS_HASH
    else:
        at_issue = db.session.execute(select(AuditEvent.hash).where(AuditEvent.seq == publication.audit_seq))
        head_in_log = at_issue.scalar_one_or_none() == publication.audit_hash
    in_file = definitions().get(publication.formula_version)
    formula_in_file = "missing" if in_file is None else ("same" if in_file == formula else "changed")
    periods = plan_periods(publication.plan)
    period = next((p for p in periods if p.id == publication.period_id), None)
    scope = Scope(publication.plan_id, scope_period_ids(periods, period), publication.as_of)
    fresh = measure_inputs(scope, formula)
    data_inputs = [u.to_dict() for u in fresh]
    data_rows = [r.to_dict() for r in rank_units(formula, fresh)]
    return Recompute(
        formula, again == publication.rows, logged, digests_equal, formula_in_file, head_in_log, data_inputs,
        data_rows,
        compare_rows(publication.inputs, data_inputs, ("due", *COUNT_KEYS)),
        compare_rows(publication.rows, data_rows, ("score", "rank")))


FIELD_LABELS = {"due": lazy_gettext("应报报告数"), "on_time": lazy_gettext("按时报送数"),
                "overdue": lazy_gettext("逾期未报"), "urges": lazy_gettext("被催办"),
                "open_flags": lazy_gettext("未结疑点"), "returned": lazy_gettext("被退回"),
                "score": lazy_gettext("落后指数"), "rank": lazy_gettext("排名"), "unit": lazy_gettext("单位")}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def valid_kind(value: str | None) -> str | None:
    return value if value in UNIT_KINDS else None
