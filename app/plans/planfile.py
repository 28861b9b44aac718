"""Read and validate a plan file (workflows/plans/*.yaml, format in FORMAT.md).

Pure: no Flask, no database. Errors name the file, the line and what is wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from ..workflow import WorkflowFileError, _first_bad_timestamp, fail, load_yaml_with_lines

COMPARATORS = (">=", "<=", "~")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,58}$")
REPORTER_WORDS = ("lead", "co", "implementing")


class PlanFileError(WorkflowFileError):
    """A plan file is malformed."""


@dataclass
class UnitEntry:
    name: str
    role: str
    is_group: bool = False


def _date(value: Any, path: Path, root: yaml.Node, keys: tuple, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _err(path, root, keys, f"{what} must be a date YYYY-MM-DD, not {value!r}") from None


def _err(path: Path, root: yaml.Node, keys: tuple, message: str) -> PlanFileError:
    base = fail(path, root, keys, message)
    return PlanFileError(str(base))


def _text(d: dict, key: str, path: Path, root: yaml.Node, keys: tuple, required: bool = True) -> str | None:
    value = d.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _err(path, root, keys, f"'{key}' is required")
        return None
    if not isinstance(value, (str, int)):
        raise _err(path, root, (*keys, key), f"'{key}' must be text")
    return str(value).strip()


def _indicator(raw: Any, path: Path, root: yaml.Node, keys: tuple, default_due: date,
               task_units: set[str] | None) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _err(path, root, keys, "an indicator must be a mapping")
    key = _text(raw, "key", path, root, keys)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}", key):
        raise _err(path, root, (*keys, "key"), f"indicator key {key!r} must be ASCII letters, digits, - _ .")
    comparator = str(raw.get("comparator", ">="))
    if comparator not in COMPARATORS:
        raise _err(path, root, (*keys, "comparator"), f"comparator must be one of >=, <=, ~, not {comparator!r}")
    target = raw.get("target")
    if isinstance(target, bool) or target is None:
        raise _err(path, root, (*keys, "target"), "target must be a number")
    try:
        target_dec = Decimal(str(target))
    except InvalidOperation:
        raise _err(path, root, (*keys, "target"), f"target must be a number, not {target!r}") from None
    if not target_dec.is_finite():
        raise _err(path, root, (*keys, "target"), "target must be a finite number")
    reported_by = raw.get("reported_by") or ["lead"]
    if not isinstance(reported_by, list) or not all(isinstance(r, str) for r in reported_by):
        raise _err(path, root, (*keys, "reported_by"), "reported_by must be a list of names")
    for i, who in enumerate(reported_by):
        if who not in REPORTER_WORDS and task_units is not None and who not in task_units:
            raise _err(path, root, (*keys, "reported_by", i),
                       f"reported_by names {who!r}, which is neither lead, co, implementing nor a unit of the task")
    return {
        "key": key,
        "name": _text(raw, "name", path, root, keys),
        "comparator": comparator,
        "target": target_dec,
        "unit": _text(raw, "unit", path, root, keys),
        "due": _date(raw.get("due", default_due), path, root, (*keys, "due"), "due"),
        "cumulative": bool(raw.get("cumulative", True)),
        "per_unit": bool(raw.get("per_unit", False)),
        "allow_negative": bool(raw.get("allow_negative", False)),
        "reported_by": list(reported_by),
        "source": raw.get("source"),
    }


def _units(raw: Any, path: Path, root: yaml.Node, keys: tuple) -> list[UnitEntry]:
    if not isinstance(raw, list) or not raw:
        raise _err(path, root, keys, "a task needs a non-empty list of responsible units")
    entries: list[UnitEntry] = []
    for i, item in enumerate(raw):
        role = "lead" if i == 0 else "co"
        if isinstance(item, str) and item.strip():
            entries.append(UnitEntry(item.strip(), role))
        elif isinstance(item, dict) and (item.get("group") or item.get("name")):
            role = item.get("role", role)
            if role not in ("lead", "co"):
                raise _err(path, root, (*keys, i, "role"), f"role must be lead or co, not {role!r}")
            if item.get("group"):
                entries.append(UnitEntry(str(item["group"]).strip(), role, is_group=True))
            else:
                entries.append(UnitEntry(str(item["name"]).strip(), role))
        else:
            raise _err(path, root, (*keys, i), "a unit must be a name or {group: NAME} / {name: NAME, role: …}")
    names = [e.name for e in entries]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise _err(path, root, keys, f"unit named twice: {', '.join(sorted(dupes))}")
    return entries


def load_plan_file(path: str | Path) -> dict[str, Any]:
    """Validate a plan file and return it normalised (Decimals, dates, UnitEntry lists)."""
    path = Path(path)
    try:
        data, root = load_yaml_with_lines(path)
    except WorkflowFileError as exc:
        raise PlanFileError(str(exc)) from exc
    return _validate_plan(data, root, path)


def load_plan_text(text: str, name: str = "plan.yaml") -> dict[str, Any]:
    """Validate a plan file given as text (e.g. a draft corrected on a page), as load_plan_file
    does; errors name `name` and the line of `text`."""
    path = Path(name)
    root: yaml.Node | None = None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise PlanFileError(f"{name}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    except ValueError as exc:  # a date like 2025-13-45 that YAML reads as a timestamp
        bad = _first_bad_timestamp(root)
        line = f", line {bad.start_mark.line + 1}" if bad is not None else ""
        raise PlanFileError(f"{name}{line}: not a valid date: {exc}") from exc
    return _validate_plan(data, root, path)


def _validate_plan(data: Any, root: yaml.Node | None, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _err(path, root, (), "a plan file must be a mapping (id, code, title, …)")
    out: dict[str, Any] = {}
    for key in ("id", "code", "title", "issuer"):
        out[key] = _text(data, key, path, root, ())
    if not SLUG_RE.match(out["id"]):
        raise _err(path, root, ("id",), f"id {out['id']!r} must be lower-case ASCII letters, digits and -")
    out["code"] = re.sub(r"\s+", "", out["code"])
    out["issued"] = _date(data.get("issued"), path, root, ("issued",), "issued")
    reporting = data.get("reporting") or {}
    if not isinstance(reporting, dict):
        raise _err(path, root, ("reporting",), "reporting must be a mapping with start and end")
    out["reporting_start"] = _date(reporting.get("start", out["issued"].replace(day=1)), path, root,
                                   ("reporting", "start"), "reporting.start")
    out["reporting_end"] = _date(reporting.get("end", date(out["issued"].year, 12, 31)), path, root,
                                 ("reporting", "end"), "reporting.end")
    if out["reporting_end"] < out["reporting_start"]:
        raise _err(path, root, ("reporting",), "reporting.end is before reporting.start")
    cadence = data.get("cadence") or ["monthly"]
    if not isinstance(cadence, list) or not all(isinstance(c, str) for c in cadence):
        raise _err(path, root, ("cadence",), "cadence must be a list of period kinds")
    out["cadence"] = cadence
    implementing = data.get("implementing") or {}
    if not isinstance(implementing, dict):
        raise _err(path, root, ("implementing",), "implementing must be a mapping with group and units")
    imp_units = implementing.get("units") or []
    if not isinstance(imp_units, list) or not all(isinstance(u, str) for u in imp_units):
        raise _err(path, root, ("implementing", "units"), "implementing.units must be a list of names")
    out["implementing"] = {
        "group": implementing.get("group") or ("各地政府" if imp_units else None),
        "note": implementing.get("note"),
        "units": [u.strip() for u in imp_units],
    }
    groups = data.get("groups") or []
    if not isinstance(groups, list):
        raise _err(path, root, ("groups",), "groups must be a list")
    out["groups"] = []
    for i, g in enumerate(groups):
        name = g.get("name") if isinstance(g, dict) else g
        if not isinstance(name, str) or not name.strip():
            raise _err(path, root, ("groups", i), "a group needs a name")
        out["groups"].append(name.strip())
    default_due = out["reporting_end"]
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        raise _err(path, root, ("sections",), "'sections' must be a non-empty list")
    out["sections"] = []
    for i, s in enumerate(sections):
        if not isinstance(s, dict):
            raise _err(path, root, ("sections", i), "a section must be a mapping with number and title")
        out["sections"].append({
            "number": _text(s, "number", path, root, ("sections", i)),
            "title": _text(s, "title", path, root, ("sections", i)),
            "part": s.get("part"),
        })
    section_numbers = [s["number"] for s in out["sections"]]
    if len(set(section_numbers)) != len(section_numbers):
        raise _err(path, root, ("sections",), "section numbers must be unique")
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise _err(path, root, ("tasks",), "'tasks' must be a non-empty list")
    out["tasks"] = []
    seen_numbers: set[int] = set()
    keys_seen: set[str] = set()
    for i, t in enumerate(tasks):
        keys = ("tasks", i)
        if not isinstance(t, dict):
            raise _err(path, root, keys, "a task must be a mapping")
        number = t.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise _err(path, root, (*keys, "number"), f"task number must be a positive whole number, not {number!r}")
        if number in seen_numbers:
            raise _err(path, root, (*keys, "number"), f"task number {number} appears twice")
        seen_numbers.add(number)
        section = t.get("section")
        if section is not None and str(section) not in section_numbers:
            raise _err(path, root, (*keys, "section"), f"task {number} names unknown section {section!r}")
        units = _units(t.get("units"), path, root, (*keys, "units"))
        for u in units:
            if u.is_group and u.name not in out["groups"]:
                raise _err(path, root, (*keys, "units"), f"group {u.name!r} is not declared under groups")
        indicators = []
        for j, ind in enumerate(t.get("indicators") or []):
            parsed = _indicator(ind, path, root, (*keys, "indicators", j), default_due, {u.name for u in units})
            if parsed["key"] in keys_seen:
                raise _err(path, root, (*keys, "indicators", j, "key"), f"indicator key {parsed['key']!r} appears twice")
            keys_seen.add(parsed["key"])
            indicators.append(parsed)
        policy = t.get("policy") or []
        if not isinstance(policy, list):
            raise _err(path, root, (*keys, "policy"), "policy must be a list of texts")
        out["tasks"].append({
            "number": number,
            "section": None if section is None else str(section),
            "title": _text(t, "title", path, root, keys),
            "text": str(t.get("text") or ""),
            "units": units,
            "indicators": indicators,
            "policy": [str(p) for p in policy],
        })
    out["targets"] = []
    for j, ind in enumerate(data.get("targets") or []):
        parsed = _indicator(ind, path, root, ("targets", j), default_due, None)
        if parsed["key"] in keys_seen:
            raise _err(path, root, ("targets", j, "key"), f"indicator key {parsed['key']!r} appears twice")
        keys_seen.add(parsed["key"])
        out["targets"].append(parsed)
    return out
