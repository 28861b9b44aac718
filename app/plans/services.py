"""Plan services: importing a plan file, deriving assignments, reading a plan back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from ..audit import services as audit
from ..extensions import db
from ..units.models import Unit, UnitGroup, UnitGroupMember
from .models import Assignment, Indicator, Period, Plan, Section, Task, TaskGroup
from .planfile import load_plan_file

PLAN_FIELDS = ("code", "title", "issuer", "issued", "reporting_start", "reporting_end", "cadence",
               "implementing_group", "implementing_note")
TASK_FIELDS = ("section_id", "title", "text", "policy")
INDICATOR_FIELDS = ("task_id", "name", "comparator", "target", "unit", "due", "cumulative", "per_unit",
                    "allow_negative", "reported_by", "source", "position")


@dataclass
class ImportResult:
    plan: Plan
    created: bool
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changes)


def infer_unit_kind(name: str, league_city_names: set[str]) -> str:
    if name in league_city_names:
        return "league_city"
    if name.startswith("自治区") or (name.endswith(("厅", "委", "局", "办", "部")) and not name.startswith(("内蒙古", "中国"))):
        return "department"
    return "external"


def _update(obj: Any, values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, list[Any]]:
    before = {f: getattr(obj, f) for f in fields}
    for f in fields:
        if f in values:
            setattr(obj, f, values[f])
    after = {f: getattr(obj, f) for f in fields}
    return audit.diff(before, after)


def get_or_create_unit(name: str, kind: str) -> Unit:
    unit = db.session.execute(select(Unit).where(Unit.name == name)).scalar_one_or_none()
    if unit is None:
        unit = Unit(name=name, kind=kind)
        db.session.add(unit)
        db.session.flush()
        audit.record("unit.create", "unit", unit.id, {"name": [None, name], "kind": [None, kind]})
    return unit


def get_or_create_group(name: str) -> UnitGroup:
    group = db.session.execute(select(UnitGroup).where(UnitGroup.name == name)).scalar_one_or_none()
    if group is None:
        group = UnitGroup(name=name)
        db.session.add(group)
        db.session.flush()
        audit.record("group.create", "unit_group", group.id, {"name": [None, name]})
    return group


def import_plan_file(path: str | Path) -> ImportResult:
    """Load a plan file into the database, in one transaction; idempotent.

    A second import of the same file changes nothing; an edited file updates the plan in
    place, and each change is written to the audit log. A malformed file raises PlanFileError
    before anything is written."""
    path = Path(path)
    data = load_plan_file(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        result = import_plan_data(data, digest)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def import_plan_data(data: dict[str, Any], digest: str) -> ImportResult:
    """Create or update a plan from its validated data, in the caller's transaction (no commit).

    `digest` is the SHA-256 of the source text, stored so a re-import can tell it is unchanged."""
    plan = db.session.execute(select(Plan).where(or_(Plan.slug == data["id"], Plan.code == data["code"]))).scalar_one_or_none()
    created = plan is None
    changes: list[str] = []
    values = {
        "code": data["code"], "title": data["title"], "issuer": data["issuer"], "issued": data["issued"],
        "reporting_start": data["reporting_start"], "reporting_end": data["reporting_end"],
        "cadence": data["cadence"], "implementing_group": data["implementing"]["group"],
        "implementing_note": data["implementing"]["note"],
    }
    if created:
        plan = Plan(slug=data["id"], source_sha256=digest, **values)
        db.session.add(plan)
        db.session.flush()
        audit.record("plan.create", "plan", plan.id, audit.diff({}, {"slug": plan.slug, **values}))
    else:
        delta = _update(plan, values, PLAN_FIELDS)
        if delta:
            audit.record("plan.update", "plan", plan.id, delta)
            changes.append(f"plan: {', '.join(delta)}")
        if plan.source_sha256 != digest:  # the file changed, even where the plan did not
            audit.record("plan.source", "plan", plan.id, {"source_sha256": [plan.source_sha256, digest]})
        plan.source_sha256 = digest

    league_names = set(data["implementing"]["units"])
    implementing_units = [get_or_create_unit(n, "league_city") for n in data["implementing"]["units"]]
    groups = {name: get_or_create_group(name) for name in data["groups"]}

    sections = {s.number: s for s in plan.sections} if not created else {}
    for pos, s in enumerate(data["sections"]):
        section = sections.get(s["number"])
        if section is None:
            section = Section(plan_id=plan.id, number=s["number"], title=s["title"], part=s["part"], position=pos)
            db.session.add(section)
            db.session.flush()
            sections[s["number"]] = section
            audit.record("section.create", "section", section.id, audit.diff({}, s))
            if not created:
                changes.append(f"section {s['number']} added")
        else:
            delta = _update(section, {"title": s["title"], "part": s["part"], "position": pos},
                            ("title", "part", "position"))
            if delta:
                audit.record("section.update", "section", section.id, delta)
                changes.append(f"section {s['number']}: {', '.join(delta)}")

    tasks = {t.number: t for t in plan.tasks} if not created else {}
    indicators = {i.key: i for i in db.session.execute(
        select(Indicator).where(Indicator.plan_id == plan.id)).scalars()} if not created else {}
    for t in data["tasks"]:
        values = {
            "section_id": sections[t["section"]].id if t["section"] else None,
            "title": t["title"], "text": t["text"], "policy": t["policy"],
        }
        task = tasks.get(t["number"])
        if task is None:
            task = Task(plan_id=plan.id, number=t["number"], **values)
            db.session.add(task)
            db.session.flush()
            tasks[t["number"]] = task
            audit.record("task.create", "task", task.id, audit.diff({}, {"number": t["number"], **values}))
            if not created:
                changes.append(f"task {t['number']} added")
        else:
            delta = _update(task, values, TASK_FIELDS)
            if delta:
                audit.record("task.update", "task", task.id, delta)
                changes.append(f"task {t['number']}: {', '.join(delta)}")
        for u in t["units"]:
            if not u.is_group:
                get_or_create_unit(u.name, infer_unit_kind(u.name, league_names))
        changes += _sync_task_groups(task, t["units"], groups)
        for pos, ind in enumerate(t["indicators"]):
            changes += _upsert_indicator(plan, indicators, ind, task.id, pos, created)
    for pos, ind in enumerate(data["targets"]):
        changes += _upsert_indicator(plan, indicators, ind, None, 1000 + pos, created)
    for number, task in tasks.items():
        changes += sync_task_assignments(task, _spec_of(data, number), implementing_units, plan)
    changes += _sync_periods(plan)
    return ImportResult(plan=plan, created=created, changes=[] if created else changes)


def _spec_of(data: dict[str, Any], number: int) -> list | None:
    return next((t["units"] for t in data["tasks"] if t["number"] == number), None)


def _upsert_indicator(plan: Plan, existing: dict[str, Indicator], ind: dict[str, Any], task_id: int | None,
                      position: int, plan_created: bool) -> list[str]:
    values = {k: ind[k] for k in INDICATOR_FIELDS if k in ind} | {"task_id": task_id, "position": position}
    indicator = existing.get(ind["key"])
    if indicator is None:
        indicator = Indicator(plan_id=plan.id, key=ind["key"], **values)
        db.session.add(indicator)
        db.session.flush()
        existing[ind["key"]] = indicator
        audit.record("indicator.create", "indicator", indicator.id, audit.diff({}, {"key": ind["key"], **values}))
        return [] if plan_created else [f"indicator {ind['key']} added"]
    delta = _update(indicator, values, INDICATOR_FIELDS)
    if delta:
        audit.record("indicator.update", "indicator", indicator.id, delta)
        return [f"indicator {ind['key']}: {', '.join(delta)}"]
    return []


def _sync_task_groups(task: Task, entries: list, groups: dict[str, UnitGroup]) -> list[str]:
    wanted = {(groups[e.name].id, e.role, pos * 100) for pos, e in enumerate(entries) if e.is_group}
    current = {(tg.group_id, tg.role, tg.position): tg for tg in task.groups}
    changes = []
    for key, tg in current.items():
        if key not in wanted:
            db.session.delete(tg)
            changes.append(f"task {task.number}: group removed")
    for key in wanted - current.keys():
        db.session.add(TaskGroup(task_id=task.id, group_id=key[0], role=key[1], position=key[2]))
    if wanted != current.keys():
        audit.record("task.groups", "task", task.id,
                     {"groups": [sorted(list(k) for k in current), sorted(list(k) for k in wanted)]})
    db.session.flush()
    db.session.refresh(task, ["groups"])
    return changes


def task_unit_spec(task: Task) -> list[tuple[str, str, bool]]:
    """The task's responsible units as (name, role, is_group), in the order written."""
    direct = [(a.unit.name, a.role, False, a.position) for a in task.assignments if a.via_group is None and a.active]
    grouped = [(tg.group.name, tg.role, True, tg.position) for tg in task.groups]
    return [(n, r, g) for n, r, g, _ in sorted(direct + grouped, key=lambda x: x[3])]


def derive_assignments(entries: list[tuple[str, str, bool, int]], group_members: dict[str, list[str]],
                       implementing: list[str], implementing_group: str | None) -> dict[str, tuple[str, str | None, int]]:
    """Pure rule: who holds a task, as {unit name: (role, via group, position)}.

    Units named directly come first (in the order written); a group gives the task to each
    of its members unless the member is named directly; the implementing governments hold
    every task as co-owners."""
    result: dict[str, tuple[str, str | None, int]] = {}
    for name, role, is_group, pos in entries:
        if not is_group:
            result[name] = (role, None, pos)
    for name, role, is_group, pos in entries:
        if is_group:
            for k, member in enumerate(group_members.get(name, [])):
                result.setdefault(member, (role, name, pos * 100 + k + 1))
    for k, name in enumerate(implementing):
        result.setdefault(name, ("co", implementing_group, 10000 + k))
    return result


def sync_task_assignments(task: Task, spec: list | None, implementing_units: list[Unit] | None = None,
                          plan: Plan | None = None) -> list[str]:
    """Bring a task's assignments in line with its units, groups and implementing governments.

    An assignment no longer derived is deactivated, not deleted, so its reports stay."""
    plan = plan or task.plan
    if spec is not None:
        entries = [(e.name, e.role, e.is_group, pos * 100) for pos, e in enumerate(spec)]
    else:
        entries = [(n, r, g, pos * 100) for pos, (n, r, g) in enumerate(task_unit_spec(task))]
    group_names = [n for n, _, g, _ in entries if g]
    members: dict[str, list[str]] = {}
    if group_names:
        rows = db.session.execute(
            select(UnitGroup.name, Unit.name).join(UnitGroupMember, UnitGroupMember.group_id == UnitGroup.id)
            .join(Unit, Unit.id == UnitGroupMember.unit_id).where(UnitGroup.name.in_(group_names))
            .order_by(UnitGroupMember.id)
        ).all()
        for gname, uname in rows:
            members.setdefault(gname, []).append(uname)
    if implementing_units is None:
        implementing_units = list(db.session.execute(
            select(Unit).join(Assignment, Assignment.unit_id == Unit.id)
            .where(Assignment.plan_id == plan.id, Assignment.via_group == plan.implementing_group)
            .distinct()).scalars()) if plan.implementing_group else []
        implementing_units.sort(key=lambda u: u.id)
    wanted = derive_assignments(entries, members, [u.name for u in implementing_units], plan.implementing_group)
    units = {u.name: u for u in db.session.execute(select(Unit).where(Unit.name.in_(list(wanted)))).scalars()}
    existing = {a.unit.name: a for a in task.assignments}
    changes = []
    for name, (role, via, pos) in wanted.items():
        a = existing.get(name)
        if a is None:
            a = Assignment(plan_id=plan.id, task_id=task.id, unit_id=units[name].id, role=role, via_group=via,
                           position=pos, active=True, status="not_started", progress=0)
            db.session.add(a)
            db.session.flush()
            audit.record("assignment.create", "assignment", a.id,
                         {"task": [None, task.number], "unit": [None, name], "role": [None, role]})
            changes.append(f"task {task.number}: {name} added")
        else:
            delta = _update(a, {"role": role, "via_group": via, "position": pos, "active": True},
                            ("role", "via_group", "position", "active"))
            if delta:
                audit.record("assignment.update", "assignment", a.id, delta)
                changes.append(f"task {task.number}: {name} {', '.join(delta)}")
    for name, a in existing.items():
        if name not in wanted and a.active:
            a.active = False
            audit.record("assignment.update", "assignment", a.id, {"active": [True, False]})
            changes.append(f"task {task.number}: {name} removed")
    db.session.flush()
    return changes


def sync_group(group: UnitGroup) -> list[str]:
    """After a change of membership: re-derive every task given to the group."""
    tasks = db.session.execute(
        select(Task).join(TaskGroup, TaskGroup.task_id == Task.id).where(TaskGroup.group_id == group.id)
    ).scalars().all()
    changes: list[str] = []
    for task in tasks:
        changes += sync_task_assignments(task, None)
    return changes


def _sync_periods(plan: Plan) -> list[str]:
    from ..reminders.periods import plan_periods

    wanted = {(p.kind, p.start): p for p in plan_periods(plan.cadence, plan.reporting_start, plan.reporting_end)}
    current = {(p.kind, p.start): p for p in db.session.execute(select(Period).where(Period.plan_id == plan.id)).scalars()}
    changes = []
    added = []
    for key, spec in wanted.items():
        period = current.get(key)
        if period is None:
            period = Period(plan_id=plan.id, kind=spec.kind, start=spec.start, end=spec.end, label=spec.label,
                            due=spec.due)
            db.session.add(period)
            added.append(period)
        elif (period.end, period.label) != (spec.end, spec.label):
            audit.record("period.update", "period", period.id,
                         audit.diff({"end": period.end, "label": period.label}, {"end": spec.end, "label": spec.label}))
            period.end, period.label = spec.end, spec.label
            changes.append(f"period {spec.label} changed")
    db.session.flush()
    for period in added:
        audit.record("period.create", "period", period.id, audit.diff({}, {
            "kind": period.kind, "start": period.start, "end": period.end, "label": period.label, "due": period.due}))
    return changes


def find_plan(ident: str) -> Plan | None:
    """A plan by its short id or its document code (spaces ignored)."""
    ident = "".join(ident.split())
    return db.session.execute(select(Plan).where(or_(Plan.slug == ident, Plan.code == ident))).scalar_one_or_none()


def plan_as_dict(plan: Plan) -> dict[str, Any]:
    """The plan as `flask plan show --json` prints it: groups expanded to their members and
    also listed by group name, indicators with target, unit, comparator and due date."""
    sections = db.session.execute(select(Section).where(Section.plan_id == plan.id).order_by(Section.position)).scalars().all()
    section_by_id = {s.id: s.number for s in sections}
    tasks = db.session.execute(select(Task).where(Task.plan_id == plan.id).order_by(Task.number)).scalars().all()
    assignments = db.session.execute(
        select(Assignment.task_id, Unit.name, Assignment.role, Assignment.via_group, Assignment.position)
        .join(Unit, Unit.id == Assignment.unit_id).where(Assignment.plan_id == plan.id, Assignment.active)
        .order_by(Assignment.task_id, Assignment.position)).all()
    groups = db.session.execute(
        select(TaskGroup.task_id, UnitGroup.name, TaskGroup.role, TaskGroup.position)
        .join(UnitGroup, UnitGroup.id == TaskGroup.group_id)
        .join(Task, Task.id == TaskGroup.task_id).where(Task.plan_id == plan.id)).all()
    indicators = db.session.execute(
        select(Indicator).where(Indicator.plan_id == plan.id).order_by(Indicator.position)).scalars().all()

    def ind(i: Indicator) -> dict[str, Any]:
        return {"key": i.key, "name": i.name, "target": _num(i.target), "unit": i.unit,
                "comparator": i.comparator, "due": i.due.isoformat(), "cumulative": i.cumulative,
                "per_unit": i.per_unit, "reported_by": i.reported_by}

    out_tasks = []
    for t in tasks:
        entries = []
        for task_id, name, role, via, pos in assignments:
            if task_id == t.id:
                entry = {"name": name, "role": role}
                if via:
                    entry["via"] = via
                entries.append((pos, entry))
        for task_id, name, role, pos in groups:
            if task_id == t.id:
                entries.append((pos - 0.5, {"name": name, "role": role, "group": True}))
        entries.sort(key=lambda e: e[0])
        out_tasks.append({
            "number": t.number, "title": t.title, "section": section_by_id.get(t.section_id),
            "text": t.text, "units": [e for _, e in entries],
            "indicators": [ind(i) for i in indicators if i.task_id == t.id], "policy": t.policy,
        })
    return {
        "id": plan.slug, "code": plan.code, "title": plan.title, "issuer": plan.issuer,
        "issued": plan.issued.isoformat(),
        "reporting": {"start": plan.reporting_start.isoformat(), "end": plan.reporting_end.isoformat()},
        "cadence": plan.cadence,
        "sections": [{"number": s.number, "title": s.title, "part": s.part} for s in sections],
        "targets": [ind(i) for i in indicators if i.task_id is None],
        "tasks": out_tasks,
    }


def _num(value: Any) -> int | float | str:
    """A Decimal target as a JSON number (int when whole)."""
    from decimal import Decimal

    d = Decimal(value)
    return int(d) if d == d.to_integral_value() else float(d)
