"""The lagging-units formula: pure rules, no Flask and no database.

A ``Formula`` is one version of workflows/ranking.yaml. ``rank_units`` turns each unit's raw
measures (``UnitInputs``: counts read from the data) into a score and a rank. Arithmetic is
decimal and rounded at fixed places, so the same inputs give the same rows on every machine
and a stored ranking can be recomputed exactly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

MEASURE_KEYS = ("on_time_rate", "overdue", "urges", "open_flags", "returned")
COUNT_KEYS = ("on_time", "overdue", "urges", "open_flags", "returned")  # what the data gives per unit
DIRECTIONS = ("higher_better", "lower_better")
NORMALISATIONS = ("per_due_report",)
FLAG_STATES = ("open", "explained", "dismissed", "confirmed")
SCORE_PLACES = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")


class FormulaError(ValueError):
    """A formula definition that is not valid; ``keys`` is the path to the bad value."""

    def __init__(self, keys: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.keys = keys
        self.message = message


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    weight: Decimal
    direction: str
    cap: Decimal = Decimal(1)
    steps: tuple[str, ...] = ()
    states: tuple[str, ...] = ()


@dataclass(frozen=True)
class Formula:
    version: str
    effective: date
    description: str
    normalise: str
    min_due_reports: int
    measures: tuple[Measure, ...]
    tie_break: tuple[str, ...] = ()

    def measure(self, key: str) -> Measure | None:
        return next((m for m in self.measures if m.key == key), None)

    @property
    def total_weight(self) -> Decimal:
        return sum((m.weight for m in self.measures), Decimal(0))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, stored with each publication."""
        data = asdict(self)
        data["effective"] = self.effective.isoformat()
        data["measures"] = [_measure_dict(m) for m in self.measures]
        data["tie_break"] = list(self.tie_break)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Formula:
        """The inverse of ``to_dict`` (and the reader of one version of the YAML file)."""
        return parse_version(data, ())


def _measure_dict(m: Measure) -> dict[str, Any]:
    data: dict[str, Any] = {"key": m.key, "label": m.label, "weight": str(m.weight), "direction": m.direction}
    if m.direction == "lower_better":
        data["cap"] = str(m.cap)
    if m.steps:
        data["steps"] = list(m.steps)
    if m.states:
        data["states"] = list(m.states)
    return data


# --------------------------------------------------------------------------- parsing


def _decimal(value: Any, keys: tuple, what: str, *, positive: bool = True) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise FormulaError(keys, f"{what} must be a number, not {value!r}")
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise FormulaError(keys, f"{what} must be a number, not {value!r}") from exc
    if not number.is_finite() or (positive and number <= 0):
        raise FormulaError(keys, f"{what} must be a number above 0, not {value!r}")
    return number


def _date(value: Any, keys: tuple) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise FormulaError(keys, f"'effective' must be a date YYYY-MM-DD, not {value!r}") from exc


def _text_list(value: Any, keys: tuple, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise FormulaError(keys, f"{what} must be a non-empty list of names")
    return tuple(value)


def parse_measure(data: Any, keys: tuple) -> Measure:
    if not isinstance(data, Mapping):
        raise FormulaError(keys, "a measure must be a mapping with key, label, weight and direction")
    missing = [k for k in ("key", "label", "weight", "direction") if k not in data]
    if missing:
        raise FormulaError(keys, f"a measure needs {', '.join(missing)}")
    key = data["key"]
    if key not in MEASURE_KEYS:
        raise FormulaError((*keys, "key"), f"unknown measure {key!r}; known: {', '.join(MEASURE_KEYS)}")
    unknown = set(data) - {"key", "label", "weight", "direction", "cap", "steps", "states"}
    if unknown:
        raise FormulaError((*keys, sorted(unknown)[0]), f"unknown field {sorted(unknown)[0]!r} in measure {key!r}")
    if not isinstance(data["label"], str) or not data["label"].strip():
        raise FormulaError((*keys, "label"), "'label' must be a non-empty text")
    direction = data["direction"]
    if direction not in DIRECTIONS:
        raise FormulaError((*keys, "direction"), f"'direction' must be higher_better or lower_better, not {direction!r}")
    if key == "on_time_rate" and direction != "higher_better":
        raise FormulaError((*keys, "direction"), "on_time_rate is a share: its direction is higher_better")
    if key != "on_time_rate" and direction != "lower_better":
        raise FormulaError((*keys, "direction"), f"{key} is a count: its direction is lower_better")
    if "cap" in data and direction == "higher_better":
        raise FormulaError((*keys, "cap"), "'cap' applies to lower_better measures only")
    cap = _decimal(data.get("cap", 1), (*keys, "cap"), "'cap'")
    steps: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    if key == "urges":
        steps = _text_list(data.get("steps"), (*keys, "steps"), "'steps' of urges")
    elif "steps" in data:
        raise FormulaError((*keys, "steps"), "'steps' applies to urges only")
    if key == "open_flags":
        states = _text_list(data.get("states"), (*keys, "states"), "'states' of open_flags")
        bad = [s for s in states if s not in FLAG_STATES]
        if bad:
            raise FormulaError((*keys, "states"), f"unknown flag state {bad[0]!r}; known: {', '.join(FLAG_STATES)}")
    elif "states" in data:
        raise FormulaError((*keys, "states"), "'states' applies to open_flags only")
    return Measure(key, data["label"].strip(), _decimal(data["weight"], (*keys, "weight"), "'weight'"), direction,
                   cap, steps, states)


def parse_version(data: Any, keys: tuple) -> Formula:
    if not isinstance(data, Mapping):
        raise FormulaError(keys, "a version must be a mapping")
    missing = [k for k in ("version", "effective", "description", "normalise", "measures") if k not in data]
    if missing:
        raise FormulaError(keys, f"a version needs {', '.join(missing)}")
    version = data["version"]
    if not isinstance(version, str) or not version.strip() or len(version) > 40:
        raise FormulaError((*keys, "version"), f"'version' must be a text of 1 to 40 characters (quote it), "
                                               f"not {version!r}")
    if data["normalise"] not in NORMALISATIONS:
        raise FormulaError((*keys, "normalise"), f"'normalise' must be one of {', '.join(NORMALISATIONS)}, "
                                                 f"not {data['normalise']!r}")
    if not isinstance(data["description"], str) or not data["description"].strip():
        raise FormulaError((*keys, "description"), "'description' must be a non-empty text")
    min_due = data.get("min_due_reports", 1)
    if isinstance(min_due, bool) or not isinstance(min_due, int) or min_due < 1:
        raise FormulaError((*keys, "min_due_reports"), f"'min_due_reports' must be a whole number ≥ 1, not {min_due!r}")
    raw_measures = data["measures"]
    if not isinstance(raw_measures, list) or not raw_measures:
        raise FormulaError((*keys, "measures"), "'measures' must be a non-empty list")
    measures = []
    for i, raw in enumerate(raw_measures):
        measure = parse_measure(raw, (*keys, "measures", i))
        if any(m.key == measure.key for m in measures):
            raise FormulaError((*keys, "measures", i, "key"), f"measure {measure.key!r} is listed twice")
        measures.append(measure)
    tie_break = data.get("tie_break", [])
    if not isinstance(tie_break, list):
        raise FormulaError((*keys, "tie_break"), "'tie_break' must be a list of measure keys")
    for i, key in enumerate(tie_break):
        if key not in {m.key for m in measures}:
            raise FormulaError((*keys, "tie_break", i), f"tie_break names {key!r}, which is not a measure of "
                                                        f"this version")
    return Formula(version.strip(), _date(data["effective"], (*keys, "effective")), data["description"].strip(),
                   data["normalise"], min_due, tuple(measures), tuple(tie_break))


@dataclass(frozen=True)
class RankingDefinitions:
    """Every version of the formula, oldest first."""

    versions: tuple[Formula, ...]

    def current(self, on: date) -> Formula | None:
        """The version in force on a day: the newest one effective on or before it."""
        valid = [f for f in self.versions if f.effective <= on]
        return valid[-1] if valid else None

    def get(self, version: str) -> Formula | None:
        return next((f for f in self.versions if f.version == version), None)


def parse_definitions(data: Any) -> RankingDefinitions:
    if not isinstance(data, Mapping) or "versions" not in data:
        raise FormulaError((), "expected a mapping with 'versions'")
    raw = data["versions"]
    if not isinstance(raw, list) or not raw:
        raise FormulaError(("versions",), "'versions' must be a non-empty list")
    versions: list[Formula] = []
    for i, item in enumerate(raw):
        formula = parse_version(item, ("versions", i))
        if any(f.version == formula.version for f in versions):
            raise FormulaError(("versions", i, "version"), f"version {formula.version!r} is listed twice")
        if any(f.effective == formula.effective for f in versions):
            raise FormulaError(("versions", i, "effective"), f"two versions take effect on {formula.effective}")
        versions.append(formula)
    return RankingDefinitions(tuple(sorted(versions, key=lambda f: f.effective)))


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class UnitInputs:
    """One unit's raw measures, as read from the data (all counts)."""

    unit_id: int
    unit: str
    kind: str
    due: int  # due reports: assignments × periods whose effective due date has passed
    on_time: int = 0
    overdue: int = 0
    urges: int = 0
    open_flags: int = 0
    returned: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"unit_id": self.unit_id, "unit": self.unit, "kind": self.kind, "due": self.due,
                **{k: getattr(self, k) for k in COUNT_KEYS}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnitInputs:
        return cls(**{k: data[k] for k in ("unit_id", "unit", "kind", "due", *COUNT_KEYS)})


@dataclass
class RankedRow:
    unit_id: int
    unit: str
    kind: str
    due: int
    values: dict[str, str]  # measure key → its value: a share (on_time_rate) or a count
    lagging: dict[str, str]  # measure key → lagging degree 0–1 after normalisation
    score: str | None  # None: not ranked (too few due reports)
    rank: int | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"unit_id": self.unit_id, "unit": self.unit, "kind": self.kind, "due": self.due,
                "values": dict(self.values), "lagging": dict(self.lagging), "score": self.score, "rank": self.rank,
                "counts": dict(self.counts)}


def _q(value: Decimal, places: Decimal) -> Decimal:
    return value.quantize(places, ROUND_HALF_UP)


def measure_value(measure: Measure, unit: UnitInputs) -> Decimal:
    """The measure's value for a unit: a share for on_time_rate, else the count."""
    if measure.key == "on_time_rate":
        return _q(Decimal(unit.on_time) / unit.due, RATE_PLACES) if unit.due else Decimal(0)
    return Decimal(getattr(unit, measure.key))


def lagging_degree(formula: Formula, measure: Measure, unit: UnitInputs) -> Decimal:
    """How far a unit lags on one measure, from 0 (not at all) to 1."""
    if unit.due <= 0:
        return Decimal(0)
    if measure.direction == "higher_better":
        return _q(Decimal(1) - measure_value(measure, unit), RATE_PLACES)
    per = Decimal(getattr(unit, measure.key)) / unit.due  # normalise: per_due_report
    return _q(min(per / measure.cap, Decimal(1)), RATE_PLACES)


def score(formula: Formula, unit: UnitInputs, lagging: Mapping[str, Decimal] | None = None) -> Decimal:
    """The lagging score 0–100 (``lagging``: the degrees already computed, by measure key)."""
    if lagging is None:
        lagging = {m.key: lagging_degree(formula, m, unit) for m in formula.measures}
    weighted = sum((m.weight * lagging[m.key] for m in formula.measures), Decimal(0))
    return _q(weighted * 100 / formula.total_weight, SCORE_PLACES)


def rank_units(formula: Formula, inputs: Iterable[UnitInputs]) -> list[RankedRow]:
    """Score and rank: rank 1 lags most. Ties: the tie-break measures, each the worse first;
    units still equal share a rank (1, 2, 2, 4) and are listed by name. Units with too few due
    reports come last, unranked."""
    rows: list[tuple[tuple, RankedRow]] = []
    unranked: list[RankedRow] = []
    for unit in inputs:
        values = {m.key: str(measure_value(m, unit)) for m in formula.measures}
        degrees = {m.key: lagging_degree(formula, m, unit) for m in formula.measures}
        lagging = {k: str(v) for k, v in degrees.items()}
        counts = {k: getattr(unit, k) for k in COUNT_KEYS}
        if unit.due < formula.min_due_reports:
            unranked.append(RankedRow(unit.unit_id, unit.unit, unit.kind, unit.due, values, lagging, None, None,
                                      counts))
            continue
        s = score(formula, unit, degrees)
        ties = tuple(-degrees[k] for k in formula.tie_break)
        row = RankedRow(unit.unit_id, unit.unit, unit.kind, unit.due, values, lagging, str(s), None, counts)
        rows.append(((-s, *ties), row))
    rows.sort(key=lambda pair: (pair[0], pair[1].unit, pair[1].unit_id))
    previous: tuple | None = None
    for position, (key, row) in enumerate(rows, start=1):
        row.rank = position if key != previous else rows[position - 2][1].rank
        previous = key
    unranked.sort(key=lambda r: (r.unit, r.unit_id))
    return [r for _, r in rows] + unranked


def compare_rows(stored: Sequence[Mapping[str, Any]], fresh: Sequence[Mapping[str, Any]],
                 fields: Sequence[str] = ("due", "score", "rank")) -> list[dict[str, Any]]:
    """The differences between two sets of rows (or inputs), unit by unit: one entry per unit and
    field that differs, plus units present in one set only."""
    old = {r["unit_id"]: r for r in stored}
    new = {r["unit_id"]: r for r in fresh}
    out: list[dict[str, Any]] = []
    for unit_id in sorted(old.keys() | new.keys(), key=lambda u: (old.get(u) or new.get(u))["unit"]):
        a, b = old.get(unit_id), new.get(unit_id)
        name = (a or b)["unit"]
        if a is None or b is None:
            out.append({"unit_id": unit_id, "unit": name, "field": "unit", "stored": a is not None,
                        "now": b is not None})
            continue
        for f in fields:
            va, vb = _field(a, f), _field(b, f)
            if va != vb:
                out.append({"unit_id": unit_id, "unit": name, "field": f, "stored": va, "now": vb})
    return out


def _field(row: Mapping[str, Any], name: str) -> Any:
    if name in row:
        return row[name]
    return (row.get("counts") or {}).get(name)
