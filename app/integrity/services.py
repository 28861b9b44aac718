"""Plausibility scans and the life of a flag (疑点): open → explained by the unit → dismissed or confirmed.

The rules themselves are pure (``rules.py``); this module feeds them the stored figures and keeps their flags.
A scan loads the figures with one query (streamed plan by plan, so memory follows the largest plan, not the
whole database), runs every rule, and stores each new flag once: a flag is identified by its rule, unit,
indicator and period, and a later scan that raises the same question finds it already there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app
from flask_babel import gettext
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from ..forms_common import plain_id
from ..i18n import N_
from ..plans.models import Assignment, Indicator, Period, Plan
from ..reports.models import Figure, FigureRevision, Report
from ..timeutil import utcnow
from ..units.models import Unit
from ..workflow import WorkflowFileError
from . import rules
from .models import FLAG_STATES, Flag

TEXT_MAX = 2000


class FlagError(Exception):
    """A flag change that is not allowed; the message is for the user (Chinese)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class FlagConflict(FlagError):
    """Someone else changed the flag first."""


# --- configuration ------------------------------------------------------------------------------------------


def load_config(app: Flask) -> rules.RulesConfig:
    """Read workflows/plausibility.yaml at start-up; a bad file stops start-up with its line."""
    path = Path(app.config["WORKFLOWS_DIR"]) / "plausibility.yaml"
    if not path.exists():
        return rules.default_config()
    try:
        return rules.load_rules(path)
    except rules.RuleConfigError as exc:
        raise WorkflowFileError(str(exc)) from exc


def rules_config() -> rules.RulesConfig:
    return current_app.extensions["plausibility"]


def _now() -> datetime:
    return utcnow().replace(tzinfo=None)


# --- scanning -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredFigure:
    """A stored figure as the scan sees it."""

    figure_id: int
    plan_id: int
    unit_id: int
    unit: str
    indicator_id: int
    indicator: str
    measure: str
    cumulative: bool
    period_id: int
    period_kind: str
    period_end: date
    value: Decimal
    entered_at: datetime | None
    revised_from: Decimal | None


@dataclass
class RaisedFlag:
    """One flag a scan raised: the rule's finding, where it sits, and whether it is new."""

    found: rules.Flag
    plan_id: int
    unit_id: int
    indicator_id: int
    period_id: int
    period_kind: str
    figure_id: int | None
    figure_ids: list[int]
    new: bool = False
    flag_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.flag_id, "new": self.new, "rule": self.found.rule, "unit": self.found.unit,
            "indicator": self.found.indicator, "period_kind": self.period_kind,
            "period_end": self.found.period_end.isoformat(), "message": self.found.message_zh,
            "evidence": self.found.evidence, "figure_ids": self.figure_ids,
        }


@dataclass
class ScanResult:
    figures: int = 0
    raised: list[RaisedFlag] = field(default_factory=list)

    @property
    def new(self) -> list[RaisedFlag]:
        return [r for r in self.raised if r.new]


def figures_query() -> Select:
    """Every figure a unit has stated (its report was submitted at least once), with its latest revision:
    one statement, ordered by plan so a scan can take the plans one at a time."""
    latest = (select(FigureRevision.figure_id, func.max(FigureRevision.id).label("revision_id"))
              .group_by(FigureRevision.figure_id).subquery())
    return (
        select(Figure.id, Assignment.plan_id, Assignment.unit_id, Unit.name, Indicator.id, Indicator.key,
               Indicator.unit, Indicator.cumulative, Period.id, Period.kind, Period.end, Figure.value,
               FigureRevision.kind, FigureRevision.previous_value, FigureRevision.at, FigureRevision.stated_at)
        .join(Report, Report.id == Figure.report_id)
        .join(Assignment, Assignment.id == Report.assignment_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Indicator, Indicator.id == Figure.indicator_id)
        .join(Period, Period.id == Report.period_id)
        .outerjoin(latest, latest.c.figure_id == Figure.id)
        .outerjoin(FigureRevision, FigureRevision.id == latest.c.revision_id)
        .where(Figure.value.is_not(None), Report.first_submitted_at.is_not(None))
        .order_by(Assignment.plan_id, Figure.id)
    )


def _plain(value: Any) -> Decimal:
    """A stored Numeric(20, 4) as the figure reads: 12.0000 → 12, 8.5000 → 8.5 (shown in messages)."""
    number = Decimal(value)
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def _stored(row: Any) -> StoredFigure:
    (figure_id, plan_id, unit_id, unit, indicator_id, key, measure, cumulative, period_id, kind, end, value,
     revision_kind, previous, at, stated_at) = row
    moment = stated_at or at
    return StoredFigure(
        figure_id, plan_id, unit_id, unit, indicator_id, key, measure or "", bool(cumulative), period_id, kind, end,
        _plain(value),
        moment.replace(tzinfo=UTC) if moment is not None else None,
        _plain(previous) if revision_kind in ("revision", "restatement") and previous is not None else None,
    )


def stored_figures_by_plan() -> Iterator[tuple[int, list[StoredFigure]]]:
    """(plan id, its figures), streaming the one query."""
    current: int | None = None
    batch: list[StoredFigure] = []
    result = db.session.execute(figures_query().execution_options(yield_per=5000))
    for row in result:
        figure = _stored(row)
        if current is not None and figure.plan_id != current:
            yield current, batch
            batch = []
        current = figure.plan_id
        batch.append(figure)
    if current is not None:
        yield current, batch


@dataclass
class PlanContext:
    """Who reports the region's figure of each indicator, and the leagues/cities that add up to it."""

    league_units: tuple[str, ...]
    region_units: dict[int, str | None]  # indicator id → unit


def plan_contexts(plan_ids: Iterable[int]) -> dict[int, PlanContext]:
    """For each plan: its implementing governments and, per indicator, the unit whose figure is the
    region's (a unit named in reported_by, else the task's single lead). Three queries."""
    plan_ids = list(plan_ids)
    if not plan_ids:
        return {}
    plans = {p.id: p for p in db.session.execute(select(Plan).where(Plan.id.in_(plan_ids))).scalars()}
    leagues: dict[int, set[str]] = defaultdict(set)
    for plan_id, name in db.session.execute(
        select(Assignment.plan_id, Unit.name).join(Unit, Unit.id == Assignment.unit_id)
        .join(Plan, Plan.id == Assignment.plan_id)
        .where(Assignment.plan_id.in_(plan_ids), Assignment.active, Assignment.via_group == Plan.implementing_group)
        .distinct()
    ):
        leagues[plan_id].add(name)
    leads: dict[int, list[str]] = defaultdict(list)
    for task_id, name in db.session.execute(
        select(Assignment.task_id, Unit.name).join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.plan_id.in_(plan_ids), Assignment.active, Assignment.role == "lead",
               Assignment.via_group.is_(None))
    ):
        leads[task_id].append(name)
    region: dict[int, dict[int, str | None]] = defaultdict(dict)
    for ind in db.session.execute(select(Indicator).where(Indicator.plan_id.in_(plan_ids))).scalars():
        named = [w for w in ind.reported_by if w not in ("implementing", "lead", "co")]
        unit = named[0] if named else None
        if unit is None and "lead" in ind.reported_by and ind.task_id is not None and len(leads[ind.task_id]) == 1:
            unit = leads[ind.task_id][0]
        region[ind.plan_id][ind.id] = unit
    return {
        pid: PlanContext(tuple(sorted(leagues[pid])) if plans[pid].implementing_group else (), region[pid])
        for pid in plans
    }


def _related_figures(found: rules.Flag, kind: str, index: dict[tuple[str, str, str, date], int]) -> list[int]:
    """The figures a flag's evidence names: the questioned one first, then those it was compared with."""
    def at(unit: str, end: date | str) -> int | None:
        day = end if isinstance(end, date) else date.fromisoformat(end)
        return index.get((unit, found.indicator, kind, day))

    ids = [at(found.unit, found.period_end)]
    evidence = found.evidence
    if "previous_period_end" in evidence:
        ids.append(at(found.unit, evidence["previous_period_end"]))
    if found.rule == "sum_mismatch":
        ids += [at(u, found.period_end) for u in evidence.get("league_values", {})]
    if found.rule == "repeated_value":
        if evidence.get("kind") == "over_time":
            ids += [at(found.unit, p) for p in evidence.get("periods", [])]
        else:
            ids += [at(u, found.period_end) for u in evidence.get("units", [])]
    if found.rule == "round_heaping":
        ids += [at(found.unit, p) for p in evidence.get("round_periods", [])]
    seen: list[int] = []
    for i in ids:
        if i is not None and i not in seen:
            seen.append(i)
    return seen


def evaluate(plan_id: int, figures: list[StoredFigure], context: PlanContext,
             config: rules.RulesConfig) -> list[RaisedFlag]:
    """Run every rule over one plan's figures, per period kind and indicator (pure: no database)."""
    # One figure per unit, indicator and period: should a unit hold two (an assignment moved), the newest counts.
    latest: dict[tuple[int, int, int], StoredFigure] = {}
    for f in figures:
        key = (f.unit_id, f.indicator_id, f.period_id)
        if key not in latest or latest[key].figure_id < f.figure_id:
            latest[key] = f
    groups: dict[tuple[str, int], list[StoredFigure]] = defaultdict(list)
    for f in latest.values():
        groups[f.period_kind, f.indicator_id].append(f)
    index = {(f.unit, f.indicator, f.period_kind, f.period_end): f.figure_id for f in latest.values()}
    where = {(f.unit, f.indicator, f.period_kind, f.period_end): f for f in latest.values()}
    raised: list[RaisedFlag] = []
    for (kind, indicator_id), group in sorted(groups.items()):
        points = [rules.FigurePoint(f.unit, f.indicator, f.period_end, f.value, f.entered_at, f.revised_from,
                                    f.cumulative) for f in group]
        measure = group[0].measure
        found_flags = rules.run_rules(points, config, region_unit=context.region_units.get(indicator_id),
                                      league_units=context.league_units, measures={group[0].indicator: measure})
        for found in found_flags:
            figure = where.get((found.unit, found.indicator, kind, found.period_end))
            if figure is None:  # a rule names only figures it was given; guard all the same
                continue
            raised.append(RaisedFlag(found, plan_id, figure.unit_id, figure.indicator_id, figure.period_id, kind,
                                     figure.figure_id, _related_figures(found, kind, index)))
    return raised


def scan(store: bool = True, actor: User | None = None) -> ScanResult:
    """Run all rules over all stated figures; store the flags not stored before (one per rule, unit,
    indicator and period), each with an audit event. The caller commits."""
    config = rules_config()
    result = ScanResult()
    contexts = plan_contexts(db.session.execute(select(Plan.id)).scalars().all())
    by_plan: list[tuple[int, list[RaisedFlag]]] = []
    for plan_id, figures in stored_figures_by_plan():  # evaluated as the rows stream in, a plan at a time
        result.figures += len(figures)
        raised = evaluate(plan_id, figures, contexts[plan_id], config)
        by_plan.append((plan_id, raised))
        result.raised.extend(raised)
    if store:
        for plan_id, raised in by_plan:
            _store(plan_id, raised, actor)
    if store:
        audit.record("integrity.scan", None, None, {},
                     extra={"figures": result.figures, "raised": len(result.raised), "new": len(result.new),
                            "rules_file": config.source},
                     actor=audit.actor_of(actor) if actor else (None, "integrity-scan", None))
    db.session.flush()
    return result


def _store(plan_id: int, raised: list[RaisedFlag], actor: User | None) -> None:
    existing = {
        (rule, unit, ind, period): fid
        for fid, rule, unit, ind, period in db.session.execute(
            select(Flag.id, Flag.rule, Flag.unit_id, Flag.indicator_id, Flag.period_id).where(Flag.plan_id == plan_id))
    }
    now = _now()
    who = audit.actor_of(actor) if actor else (None, "integrity-scan", None)
    new: list[tuple[RaisedFlag, Flag]] = []
    for item in raised:
        key = (item.found.rule, item.unit_id, item.indicator_id, item.period_id)
        if key in existing:
            item.flag_id = existing[key]
            continue
        flag = Flag(rule=item.found.rule, plan_id=plan_id, unit_id=item.unit_id, indicator_id=item.indicator_id,
                    period_id=item.period_id, figure_id=item.figure_id, figure_ids=item.figure_ids,
                    message=item.found.message_zh, evidence=item.found.evidence, state="open", raised_at=now)
        existing[key] = 0
        new.append((item, flag))
    db.session.add_all([flag for _, flag in new])
    db.session.flush()  # one round of INSERTs for the plan's new flags, then their audit events
    for item, flag in new:
        item.flag_id, item.new = flag.id, True
        audit.record("flag.raise", "flag", flag.id, {"state": [None, "open"]},
                     extra={"rule": flag.rule, "unit": item.found.unit, "indicator": item.found.indicator,
                            "period_end": item.found.period_end, "figures": item.figure_ids,
                            "message": flag.message, "evidence": flag.evidence},
                     actor=who)


# --- access -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """What access to flags depends on, detached from the session (a streamed export outlives it)."""

    sees_everything: bool
    role: str
    unit_id: int | None

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.sees_everything, user.role, user.unit_id)


def scope_flags(query: Select, user: User | Viewer) -> Select:
    """Restrict a query over Flag to what the user may see: a liaison only their unit's flags."""
    if user.sees_everything:
        return query
    if user.role == "liaison" and user.unit_id:
        return query.where(Flag.unit_id == user.unit_id)
    return query.where(False)


def get_flag_or_404(flag_id: int, user: User) -> Flag:
    flag = db.session.get(Flag, flag_id)
    if flag is None or not (user.sees_everything or (user.role == "liaison" and user.unit_id == flag.unit_id)):
        abort(404)
    return flag


def may_explain(user: User, flag: Flag) -> bool:
    return user.role == "liaison" and user.unit_id == flag.unit_id and flag.state in ("open", "explained")


def may_decide(user: User, flag: Flag) -> bool:
    return user.is_office and flag.state in ("open", "explained")


# --- the life of a flag -----------------------------------------------------------------------------------


def _check_version(flag: Flag, expected_version: int | None) -> None:
    if expected_version is not None and flag.version != expected_version:
        raise FlagConflict(gettext("该疑点已被他人处理，请刷新页面后再操作。"))


def _text(value: str | None, what: str, field_name: str, required: bool) -> str | None:
    text = (value or "").strip() or None
    if required and not text:
        raise FlagError(gettext("请填写%(what)s。", what=gettext(what)), field_name)
    if text and len(text) > TEXT_MAX:
        raise FlagError(gettext("%(what)s不能超过 %(n)s 个字。", what=gettext(what), n=TEXT_MAX), field_name)
    return text


def explain(flag: Flag, user: User, text: str | None, expected_version: int | None = None) -> Flag:
    """The unit answers the question (open → explained; a second explanation replaces the first)."""
    _check_version(flag, expected_version)
    if not may_explain(user, flag):
        raise FlagError(gettext("只有被提出疑点的单位可以说明，且疑点尚未处理完毕。"))
    explanation = _text(text, N_("情况说明"), "explanation", required=True)
    before = {"state": flag.state, "explanation": flag.explanation}
    flag.state, flag.explanation = "explained", explanation
    flag.explained_by_id, flag.explained_at = user.id, _now()
    audit.record("flag.explain", "flag", flag.id, audit.diff(before, {"state": flag.state,
                                                                     "explanation": flag.explanation}),
                 extra={"rule": flag.rule, "unit_id": flag.unit_id}, actor=audit.actor_of(user))
    db.session.flush()
    return flag


def decide(flag: Flag, user: User, decision: str, note: str | None, expected_version: int | None = None) -> Flag:
    """Office staff dismiss the flag (the figure stands) or confirm it (the figure is wrong or suspect).

    A confirmation needs a note; so does dismissing a flag the unit has not explained."""
    _check_version(flag, expected_version)
    if decision not in ("dismiss", "confirm"):
        raise FlagError(gettext("未知的操作。"))
    if not may_decide(user, flag):
        raise FlagError(gettext("该疑点已处理完毕，或您无权处理。"))
    required = decision == "confirm" or flag.state == "open"
    note_text = _text(note, N_("处理意见"), "note", required=required)
    target = "dismissed" if decision == "dismiss" else "confirmed"
    old = flag.state
    flag.state, flag.decision_note = target, note_text
    flag.decided_by_id, flag.decided_at = user.id, _now()
    audit.record(f"flag.{decision}", "flag", flag.id, {"state": [old, target]}, reason=note_text,
                 extra={"rule": flag.rule, "unit_id": flag.unit_id}, actor=audit.actor_of(user))
    db.session.flush()
    return flag


# --- lists and exports --------------------------------------------------------------------------------------


@dataclass
class FlagFilters:
    state: str | None = None
    rule: str | None = None
    unit_id: int | None = None
    plan_id: int | None = None

    @classmethod
    def from_args(cls, args: Any) -> FlagFilters:
        def number(name: str) -> int | None:
            return plain_id(args.get(name, ""))

        state = args.get("state") or None
        rule = args.get("rule") or None
        return cls(state if state in FLAG_STATES or state == "pending" else None,
                   rule if rule in rules.RULES else None, number("unit"), number("plan"))

    def as_args(self) -> dict[str, Any]:
        return {k: v for k, v in (("state", self.state), ("rule", self.rule), ("unit", self.unit_id),
                                  ("plan", self.plan_id)) if v is not None}


def flags_query(user: User | Viewer, filters: FlagFilters) -> Select:
    query = select(Flag)
    if filters.state == "pending":
        query = query.where(Flag.state.in_(("open", "explained")))
    elif filters.state:
        query = query.where(Flag.state == filters.state)
    if filters.rule:
        query = query.where(Flag.rule == filters.rule)
    if filters.unit_id:
        query = query.where(Flag.unit_id == filters.unit_id)
    if filters.plan_id:
        query = query.where(Flag.plan_id == filters.plan_id)
    return scope_flags(query, user)


def list_flags(user: User, filters: FlagFilters, page: int, per_page: int) -> tuple[list[Flag], int]:
    """One page of flags (newest first) with the total: two queries, whatever the data size."""
    query = flags_query(user, filters)
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = db.session.execute(
        query.options(joinedload(Flag.unit), joinedload(Flag.indicator), joinedload(Flag.period))
        .order_by(Flag.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).scalars().all()
    return list(rows), total


EXPORT_HEADER = [N_("编号"), N_("规则"), N_("单位"), N_("指标"), N_("指标代码"), N_("周期"), N_("状态"), N_("疑点"),
                 N_("证据"), N_("涉及数值"), N_("提出时间(UTC)"), N_("单位说明"), N_("说明人"), N_("处理意见"),
                 N_("处理人"), N_("处理时间(UTC)")]  # translated when written


def export_batch(user: User | Viewer, filters: FlagFilters, after_id: int = 0,
                 size: int = 2000) -> tuple[list[list[str]], int | None]:
    """One batch of CSV rows (flags with id > after_id, in id order) and the last id, None at the end.

    Batches by key, so each runs in a short app context of its own while the response is sent."""
    import json

    from sqlalchemy.orm import aliased

    explainer, decider = aliased(User), aliased(User)
    query = (
        flags_query(user, filters).where(Flag.id > after_id)
        .add_columns(Unit.name, Indicator.name, Indicator.key, Period.label, explainer.name, decider.name)
        .join(Unit, Unit.id == Flag.unit_id).join(Indicator, Indicator.id == Flag.indicator_id)
        .join(Period, Period.id == Flag.period_id)
        .outerjoin(explainer, explainer.id == Flag.explained_by_id).outerjoin(decider, decider.id == Flag.decided_by_id)
        .order_by(Flag.id).limit(size)
    )
    rows, last = [], None
    for flag, unit, indicator, key, period, explained_by, decided_by in db.session.execute(query):
        last = flag.id
        rows.append([str(flag.id), flag.rule_label, unit, indicator, key, period, flag.state_label, flag.message,
                     json.dumps(flag.evidence, ensure_ascii=False, sort_keys=True),
                     " ".join(str(i) for i in flag.figure_ids or []),
                     flag.raised_at.strftime("%Y-%m-%d %H:%M:%S"), flag.explanation or "", explained_by or "",
                     flag.decision_note or "", decided_by or "",
                     flag.decided_at.strftime("%Y-%m-%d %H:%M:%S") if flag.decided_at else ""])
    return rows, (last if len(rows) == size else None)


def record_export(user: User, filters: FlagFilters) -> int:
    """Count what an export will hold and write its audit event (an export is a security event)."""
    count = db.session.execute(
        select(func.count()).select_from(flags_query(user, filters).order_by(None).subquery())).scalar_one()
    audit.record("flag.export", None, None, {}, extra={"filters": filters.as_args(), "rows": count},
                 actor=audit.actor_of(user))
    return count


def flags_for_report(unit_id: int, period_id: int, indicator_ids: Iterable[int]) -> dict[int, list[Flag]]:
    """Indicator id → the flags on the unit's figures of that period (one query)."""
    ids = list(indicator_ids)
    result: dict[int, list[Flag]] = {i: [] for i in ids}
    if not ids:
        return result
    for flag in db.session.execute(
        select(Flag).where(Flag.unit_id == unit_id, Flag.period_id == period_id, Flag.indicator_id.in_(ids))
        .order_by(Flag.id)
    ).scalars():
        result[flag.indicator_id].append(flag)
    return result


def figures_named(flag: Flag) -> list[Figure]:
    """The figures a flag names, with their report, unit, indicator and period (one query)."""
    ids = list(flag.figure_ids or ([flag.figure_id] if flag.figure_id else []))
    if not ids:
        return []
    rows = db.session.execute(
        select(Figure).where(Figure.id.in_(ids)).options(
            joinedload(Figure.indicator), joinedload(Figure.report).joinedload(Report.period),
            joinedload(Figure.report).joinedload(Report.assignment).joinedload(Assignment.unit))
    ).scalars().all()
    order = {fid: i for i, fid in enumerate(ids)}
    return sorted(rows, key=lambda f: order.get(f.id, 0))


def changed_since_raised(flag: Flag, figures: list[Figure]) -> bool:
    """Whether the questioned figure's value differs from the value the flag's evidence names."""
    raised = (flag.evidence or {}).get("value")
    figure = next((f for f in figures if f.id == flag.figure_id), None)
    if raised is None or figure is None or figure.value is None:
        return False
    try:
        return Decimal(str(raised)) != figure.value
    except ArithmeticError:
        return False
