"""The annual evaluation's scoring formula (``workflows/scoring.yaml``) and the pure rules that apply it.

``load_scoring`` validates the file at start-up (a bad file stops start-up naming the file and the line);
``score_unit`` turns one unit's facts for the year into component scores, a total and a grade. Pure code: no
Flask, no database; every number is a ``Decimal``, so an issued score sheet holds exact text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

MEASURES: dict[str, dict[str, tuple[type, float, float]]] = {
    # measure → the params it takes: name → (type, lowest, highest)
    "on_time_rate": {},
    "target_completion": {},
    "data_quality": {"per_open_flag": (float, 0, 100), "per_restatement": (float, 0, 100)},
    "urge_response": {"within_workdays": (int, 0, 60), "steps": (list, 0, 0)},
}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "data_quality": {"per_open_flag": Decimal(10), "per_restatement": Decimal(5)},
    "urge_response": {"within_workdays": 5, "steps": ("urge",)},
}
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
HUNDRED = Decimal(100)
ONE_DECIMAL = Decimal("0.1")


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    weight: Decimal
    measure: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Grade:
    grade: str
    min: Decimal


@dataclass(frozen=True)
class Scoring:
    version: str
    effective: date
    components: tuple[Component, ...]
    grades: tuple[Grade, ...]

    def describe(self) -> dict[str, Any]:
        """The formula as the score sheet prints it (JSON-able, numbers as text)."""
        return {
            "version": self.version,
            "effective": self.effective.isoformat(),
            "components": [{"key": c.key, "label": c.label, "weight": number_text(c.weight), "measure": c.measure,
                            "params": {k: list(v) if isinstance(v, tuple) else
                                       (number_text(v) if isinstance(v, Decimal) else v)
                                       for k, v in c.params.items()}}
                           for c in self.components],
            "grades": [{"grade": g.grade, "min": number_text(g.min)} for g in self.grades],
        }


# --------------------------------------------------------------------------- loading


def load_scoring(path: str | Path) -> Scoring:
    """Load and validate the scoring file; raises WorkflowFileError naming the file and the line."""
    from ..workflow import WorkflowFileError, fail, load_yaml_with_lines

    path = Path(path)
    data, root = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise fail(path, root, (), "expected a mapping with version, effective, components and grades")
    unknown = [k for k in data if k not in ("version", "effective", "components", "grades")]
    if unknown:
        key_node = next((k for k, _ in getattr(root, "value", []) if k.value == unknown[0]), None)
        line = f", line {key_node.start_mark.line + 1}" if key_node is not None else ""
        raise WorkflowFileError(f"{path}{line}: unknown key {unknown[0]!r} (allowed: version, effective, "
                                "components, grades)")
    version = data.get("version")
    if not isinstance(version, (str, int, float)) or isinstance(version, bool) or not str(version).strip():
        raise fail(path, root, ("version",), "'version' must be a non-empty text, e.g. \"2025.1\"")
    effective = data.get("effective")
    if not isinstance(effective, date):
        raise fail(path, root, ("effective",), "'effective' must be a date written YYYY-MM-DD")
    components = _components(path, root, data.get("components"))
    grades = _grades(path, root, data.get("grades"))
    return Scoring(str(version).strip(), effective, components, grades)


def _number(path: Path, root: Any, keys: tuple, value: Any, what: str, low: float, high: float) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail_at(path, root, keys, f"{what} must be a number, not {value!r}")
    if not low <= value <= high:
        raise fail_at(path, root, keys, f"{what} must be between {low:g} and {high:g}, not {value!r}")
    return Decimal(str(value))


def fail_at(path: Path, root: Any, keys: tuple, message: str):
    from ..workflow import fail

    return fail(path, root, keys, message)


def _components(path: Path, root: Any, nodes: Any) -> tuple[Component, ...]:
    if not isinstance(nodes, list) or not nodes:
        raise fail_at(path, root, ("components",), "'components' must be a non-empty list")
    result: list[Component] = []
    for i, c in enumerate(nodes):
        keys = ("components", i)
        if not isinstance(c, dict):
            raise fail_at(path, root, keys, "a component must be a mapping with key, label, weight and measure")
        missing = [k for k in ("key", "label", "weight", "measure") if k not in c]
        if missing:
            raise fail_at(path, root, keys, f"component needs {', '.join(missing)}")
        extra = sorted(set(c) - {"key", "label", "weight", "measure", "params"})
        if extra:
            raise fail_at(path, root, (*keys, extra[0]), f"unknown key {extra[0]!r} in a component")
        key = c["key"]
        if not isinstance(key, str) or not _KEY.match(key):
            raise fail_at(path, root, (*keys, "key"), f"component key {key!r} must be lower-case ASCII (a-z, 0-9, _)")
        if key in {r.key for r in result}:
            raise fail_at(path, root, (*keys, "key"), f"component key {key!r} is used twice")
        label = c["label"]
        if not isinstance(label, str) or not label.strip():
            raise fail_at(path, root, (*keys, "label"), f"component {key}: label must be a non-empty text")
        weight = _number(path, root, (*keys, "weight"), c["weight"], f"component {key}: weight", 0, 100)
        if weight <= 0:
            raise fail_at(path, root, (*keys, "weight"), f"component {key}: weight must be above 0")
        measure = c["measure"]
        if measure not in MEASURES:
            raise fail_at(path, root, (*keys, "measure"),
                          f"component {key}: unknown measure {measure!r} (known: {', '.join(MEASURES)})")
        params = _params(path, root, keys, key, measure, c.get("params"))
        result.append(Component(key, label.strip(), weight, measure, params))
    total = sum((c.weight for c in result), Decimal(0))
    if total != HUNDRED:
        raise fail_at(path, root, ("components",), f"the weights add up to {number_text(total)}, not 100")
    return tuple(result)


def _params(path: Path, root: Any, keys: tuple, key: str, measure: str, given: Any) -> dict[str, Any]:
    params = dict(DEFAULT_PARAMS.get(measure, {}))
    if given is None:
        return params
    if not isinstance(given, dict):
        raise fail_at(path, root, (*keys, "params"), f"component {key}: params must be a mapping")
    allowed = MEASURES[measure]
    for name, value in given.items():
        where = (*keys, "params", name)
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise fail_at(path, root, where, f"component {key}: measure {measure} takes no param {name!r} "
                                             f"(it takes: {known})")
        kind, low, high = allowed[name]
        if kind is list:
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise fail_at(path, root, where, f"component {key}: {name} must be a non-empty list of names")
            params[name] = tuple(value)
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise fail_at(path, root, where, f"component {key}: {name} must be a whole number between "
                                                 f"{low} and {high}, not {value!r}")
            params[name] = value
        else:
            params[name] = _number(path, root, where, value, f"component {key}: {name}", low, high)
    return params


def _grades(path: Path, root: Any, nodes: Any) -> tuple[Grade, ...]:
    if not isinstance(nodes, list) or not nodes:
        raise fail_at(path, root, ("grades",), "'grades' must be a non-empty list, from the best grade down")
    result: list[Grade] = []
    for i, g in enumerate(nodes):
        keys = ("grades", i)
        if not isinstance(g, dict) or set(g) != {"grade", "min"}:
            raise fail_at(path, root, keys, "a grade must be a mapping with exactly grade and min")
        name = g["grade"]
        if not isinstance(name, str) or not name.strip():
            raise fail_at(path, root, (*keys, "grade"), "grade must be a non-empty text")
        if name in {r.grade for r in result}:
            raise fail_at(path, root, (*keys, "grade"), f"grade {name!r} is named twice")
        low = _number(path, root, (*keys, "min"), g["min"], f"grade {name}: min", 0, 100)
        if result and low >= result[-1].min:
            raise fail_at(path, root, (*keys, "min"), f"grade {name}: min {number_text(low)} must be below the "
                                                      f"grade before it ({number_text(result[-1].min)})")
        result.append(Grade(name.strip(), low))
    if result[-1].min != 0:
        raise fail_at(path, root, ("grades", len(result) - 1, "min"), "the last grade's min must be 0")
    return tuple(result)


# --------------------------------------------------------------------------- scoring (pure)


@dataclass(frozen=True)
class UnitFacts:
    """What the year shows of one unit, as counts (see the measures in workflows/scoring.yaml)."""

    due: int = 0  # reports due in the year
    on_time: int = 0  # of those, submitted by their due date
    attainments: tuple[Decimal, ...] = ()  # one per measured indicator, each 0–1
    open_flags: int = 0
    restatements: int = 0
    urges: int = 0
    answered: int = 0  # urges answered by a submitted report in time


@dataclass(frozen=True)
class ComponentScore:
    key: str
    score: Decimal | None  # 0–100, None: does not apply to this unit
    detail: str  # the inputs, e.g. "11/12"


@dataclass(frozen=True)
class UnitScore:
    components: tuple[ComponentScore, ...]
    total: Decimal
    grade: str


def number_text(value: Decimal | int | None) -> str | None:
    """A decimal as plain text without trailing zeros: 18.5000 → "18.5", 100 → "100"."""
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _share(part: int, whole: int) -> Decimal:
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(ONE_DECIMAL, ROUND_HALF_UP)


def component_score(component: Component, facts: UnitFacts) -> ComponentScore:
    """One component's score, 0–100 with one decimal, or None where it does not apply."""
    m, p = component.measure, component.params
    if m == "on_time_rate":
        if facts.due == 0:
            return ComponentScore(component.key, None, "0/0")
        return ComponentScore(component.key, _share(facts.on_time, facts.due), f"{facts.on_time}/{facts.due}")
    if m == "target_completion":
        if not facts.attainments:
            return ComponentScore(component.key, None, "—")
        capped = [min(max(a, Decimal(0)), Decimal(1)) for a in facts.attainments]
        mean = sum(capped, Decimal(0)) / len(capped) * HUNDRED
        return ComponentScore(component.key, mean.quantize(ONE_DECIMAL, ROUND_HALF_UP), f"{len(capped)}")
    if m == "data_quality":
        score = HUNDRED - p["per_open_flag"] * facts.open_flags - p["per_restatement"] * facts.restatements
        return ComponentScore(component.key, max(score, Decimal(0)).quantize(ONE_DECIMAL, ROUND_HALF_UP),
                              f"{facts.open_flags}/{facts.restatements}")
    if m == "urge_response":
        if facts.urges == 0:
            return ComponentScore(component.key, HUNDRED.quantize(ONE_DECIMAL), "0/0")
        return ComponentScore(component.key, _share(facts.answered, facts.urges), f"{facts.answered}/{facts.urges}")
    raise ValueError(f"unknown measure {m!r}")


def grade_for(total: Decimal, grades: tuple[Grade, ...]) -> str:
    return next(g.grade for g in grades if total >= g.min)


def score_unit(facts: UnitFacts, scoring: Scoring) -> UnitScore:
    """Each component's score, the total (weighted over the components that apply) and the grade."""
    parts = tuple(component_score(c, facts) for c in scoring.components)
    weights = {c.key: c.weight for c in scoring.components}
    applied = [(weights[s.key], s.score) for s in parts if s.score is not None]
    weight = sum((w for w, _ in applied), Decimal(0))
    total = (sum((w * s for w, s in applied), Decimal(0)) / weight) if weight else Decimal(0)
    total = total.quantize(ONE_DECIMAL, ROUND_HALF_UP)
    return UnitScore(parts, total, grade_for(total, scoring.grades))


def attainment(comparator: str, ratio: float | None, deviation: float | None) -> Decimal | None:
    """How far one figure meets what was expected of it by then, 0–1 (see target_completion)."""
    if comparator == ">=":
        return None if ratio is None else Decimal(str(round(min(max(ratio, 0.0), 1.0), 6)))
    if comparator == "<=":
        if ratio is None:
            return None
        return Decimal(1) if ratio <= 1 else Decimal(str(round(1 / ratio, 6)))
    if deviation is None:
        return None
    return Decimal(str(round(max(0.0, 1 - deviation), 6)))
