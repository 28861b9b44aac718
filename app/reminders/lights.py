"""Traffic lights (红黄绿灯) for reporting items, with rules from ``workflows/lights.yaml``.

:func:`light_for` is pure: it takes the due date, today, whether the report is in, the
working days left (from :meth:`WorkCalendar.workdays_between`) and optionally an
indicator's progress, and returns the colour, the rule that chose it and a Chinese
sentence that names the inputs.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from app.reminders.workdays import WORKFLOWS_DIR, ConfigFileError, YamlReader

DEFAULT_LIGHTS_PATH = WORKFLOWS_DIR / "lights.yaml"

COLOURS: dict[str, str] = {"green": "绿灯", "yellow": "黄灯", "red": "红灯", "grey": "未开始"}
COMPARATORS = (">=", "<=", "~")

_BOOL_CONDITIONS = ("not_started", "overdue", "submitted", "cumulative")
_THRESHOLD_CONDITIONS = {"ratio_below": ">=", "ratio_above": "<=", "deviation_above": "~"}
_CONDITIONS = (*_BOOL_CONDITIONS, "due_within_workdays", *_THRESHOLD_CONDITIONS, "always")

_BASE_VARS = frozenset({"due", "today", "workdays_left", "overdue_workdays"})
_INDICATOR_VARS = frozenset({"name", "figure", "target", "expected", "unit", "ratio", "pace", "deviation"})
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class LightsFileError(ConfigFileError):
    """``lights.yaml`` is malformed."""


@dataclass(frozen=True)
class LightRule:
    """One rule: if every condition in ``when`` holds, the item gets ``colour``."""

    key: str
    colour: str
    when: dict[str, Any]
    explanation: str


@dataclass(frozen=True)
class LightRules:
    """The rules in the order they are tried; the last one always matches."""

    rules: tuple[LightRule, ...]


@dataclass(frozen=True)
class IndicatorProgress:
    """An indicator figure with what it is measured against.

    For a cumulative indicator, ``start`` is when accumulation begins (pace 0) and ``due``
    the target's due date (pace 100 %); the pace counts calendar days, both ends included,
    up to ``as_of`` (the date the figure refers to, e.g. the reported period's end;
    today when not given). A non-cumulative figure is compared to the target directly.
    """

    figure: float | Decimal | int
    target: float | Decimal | int
    comparator: str  # ">=" more is better, "<=" less is better, "~" about
    cumulative: bool = True
    start: date | None = None
    due: date | None = None
    as_of: date | None = None
    unit: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        if self.comparator not in COMPARATORS:
            raise ValueError(f"comparator must be one of {COMPARATORS}, got {self.comparator!r}")
        if self.cumulative:
            if self.start is None or self.due is None:
                raise ValueError("a cumulative indicator needs its start and due dates for the pace")
            if self.start > self.due:
                raise ValueError(f"indicator start {self.start} is after its due date {self.due}")


@dataclass(frozen=True)
class Light:
    """The light of one item."""

    colour: str  # green | yellow | red | grey
    rule: str  # key of the rule that chose it
    explanation: str  # Chinese sentence naming the inputs
    inputs: dict[str, Any] = field(default_factory=dict)  # JSON-friendly: dates as ISO text

    @property
    def label(self) -> str:
        return COLOURS[self.colour]


# --------------------------------------------------------------------------- loading


def load_lights(path: str | Path = DEFAULT_LIGHTS_PATH) -> LightRules:
    """Load and validate the lights file; raises :class:`LightsFileError` with file and line."""
    reader = YamlReader(path, LightsFileError)
    root = reader.mapping(reader.load(), "lights file", required=("rules",))
    rules: list[LightRule] = []
    nodes = reader.sequence(root["rules"], "rules", allow_empty=False)
    for node in nodes:
        fields = reader.mapping(node, "rule", required=("key", "colour", "when", "explanation"))
        key = reader.string(fields["key"], "rule key")
        if not _KEY.match(key):
            reader.fail(fields["key"], f"rule key '{key}' must be lower-case ASCII (a-z, 0-9, _)")
        if key in {r.key for r in rules}:
            reader.fail(fields["key"], f"rule key '{key}' is used twice")
        colour = reader.string(fields["colour"], f"rule {key}: colour")
        if colour not in COLOURS:
            reader.fail(
                fields["colour"], f"rule {key}: colour must be one of {', '.join(COLOURS)}, got '{colour}'"
            )
        when = _read_when(reader, fields["when"], key)
        explanation = reader.string(fields["explanation"], f"rule {key}: explanation")
        _check_template(reader, fields["explanation"], key, explanation, when)
        rules.append(LightRule(key, colour, when, explanation))
    if "always" not in rules[-1].when:
        reader.fail(
            nodes[-1],
            f"the last rule ({rules[-1].key}) must be `when: {{always: true}}` so every item gets a light",
        )
    return LightRules(tuple(rules))


def _read_when(reader: YamlReader, node: yaml.Node, key: str) -> dict[str, Any]:
    fields = reader.mapping(node, f"rule {key}: when", optional=_CONDITIONS)
    if not fields:
        reader.fail(node, f"rule {key}: when needs at least one condition")
    when: dict[str, Any] = {}
    for name, value_node in fields.items():
        what = f"rule {key}: {name}"
        if name in _BOOL_CONDITIONS:
            when[name] = reader.boolean(value_node, what)
        elif name == "always":
            if not reader.boolean(value_node, what) or len(fields) > 1:
                reader.fail(value_node, f"rule {key}: `always` must be true and stand alone")
            when[name] = True
        elif name == "due_within_workdays":
            when[name] = reader.integer(value_node, what, low=0, high=60)
        else:
            when[name] = reader.number(value_node, what, low=0.0, high=10.0)
    thresholds = [c for c in when if c in _THRESHOLD_CONDITIONS]
    if len(thresholds) > 1:
        reader.fail(node, f"rule {key}: use only one of {', '.join(thresholds)} per rule")
    return when


def _check_template(reader: YamlReader, node: yaml.Node, key: str, text: str, when: dict[str, Any]) -> None:
    allowed = set(_BASE_VARS)
    if "not_started" in when:
        allowed.add("period_start")
    if "due_within_workdays" in when:
        allowed.add("within")
    if "cumulative" in when or any(c in when for c in _THRESHOLD_CONDITIONS):
        allowed |= _INDICATOR_VARS
    if any(c in when for c in _THRESHOLD_CONDITIONS):
        allowed.add("threshold")
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        reader.fail(node, f"rule {key}: explanation has unbalanced braces ({exc})")
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in allowed:
            reader.fail(
                node,
                f"rule {key}: explanation uses {{{name}}}, which this rule does not provide "
                f"(available: {', '.join(sorted(allowed))})",
            )
        if spec or conversion:
            reader.fail(node, f"rule {key}: write {{{name}}} without a format")


# --------------------------------------------------------------------------- deciding


def light_for(
    *,
    due: date,
    today: date,
    submitted: bool,
    workdays_left: int,
    rules: LightRules,
    period_start: date | None = None,
    indicator: IndicatorProgress | None = None,
) -> Light:
    """The light of one item: the first rule of ``rules`` whose conditions all hold.

    ``workdays_left`` is ``calendar.workdays_between(today, due)``: negative once overdue.
    """
    metrics = _metrics(indicator, today) if indicator is not None else None
    state = {
        "not_started": period_start is not None and today < period_start,
        "overdue": not submitted and workdays_left < 0,
        "submitted": submitted,
    }
    for rule in rules.rules:
        if _matches(rule.when, state, workdays_left, indicator, metrics):
            values = _template_values(rule, due, today, workdays_left, period_start, indicator, metrics)
            inputs: dict[str, Any] = {
                "due": due.isoformat(),
                "today": today.isoformat(),
                "submitted": submitted,
                "workdays_left": workdays_left,
                "period_start": period_start.isoformat() if period_start else None,
            }
            if indicator is not None and metrics is not None:
                inputs["indicator"] = _indicator_inputs(indicator, metrics, today)
            return Light(rule.colour, rule.key, rule.explanation.format(**values), inputs)
    raise ValueError("no light rule matched; the last rule must be `always`")


@dataclass(frozen=True)
class _Metrics:
    pace: float  # share of the span elapsed (1 for non-cumulative)
    expected: float
    ratio: float | None  # figure / expected, None when not defined
    deviation: float | None  # |ratio − 1|


def _metrics(ind: IndicatorProgress, today: date) -> _Metrics:
    figure, target = float(ind.figure), float(ind.target)
    pace = 1.0
    if ind.cumulative:
        assert ind.start is not None and ind.due is not None  # checked in __post_init__
        as_of = ind.as_of or today
        total = (ind.due - ind.start).days + 1
        elapsed = min(max((as_of - ind.start).days + 1, 0), total)
        pace = elapsed / total
    expected = target * pace
    if expected:
        ratio: float | None = figure / expected
    else:
        ratio = math.inf if figure > 0 and ind.comparator == "<=" else None
    deviation = abs(ratio - 1) if ratio is not None and math.isfinite(ratio) else None
    return _Metrics(pace, expected, ratio, deviation)


def _matches(
    when: dict[str, Any],
    state: dict[str, bool],
    workdays_left: int,
    ind: IndicatorProgress | None,
    m: _Metrics | None,
) -> bool:
    for name, value in when.items():
        if name == "always":
            continue
        if name in state:
            ok = state[name] == value
        elif name == "due_within_workdays":
            ok = not state["submitted"] and 0 <= workdays_left <= value
        elif name == "cumulative":
            ok = ind is not None and ind.cumulative == value
        elif ind is None or m is None or ind.comparator != _THRESHOLD_CONDITIONS[name]:
            ok = False
        elif name == "ratio_below":
            ok = m.ratio is not None and m.ratio < value
        elif name == "ratio_above":
            ok = m.ratio is not None and m.ratio > value
        else:  # deviation_above
            ok = m.deviation is not None and m.deviation > value
        if not ok:
            return False
    return True


def _template_values(
    rule: LightRule,
    due: date,
    today: date,
    workdays_left: int,
    period_start: date | None,
    ind: IndicatorProgress | None,
    m: _Metrics | None,
) -> dict[str, str]:
    threshold = next((v for c, v in rule.when.items() if c in _THRESHOLD_CONDITIONS), None)
    values = {
        "due": due.isoformat(),
        "today": today.isoformat(),
        "workdays_left": str(workdays_left),
        "overdue_workdays": str(max(0, -workdays_left)),
        "period_start": period_start.isoformat() if period_start else "",
        "within": str(rule.when.get("due_within_workdays", "")),
        "threshold": _percent(threshold) if threshold is not None else "",
    }
    if ind is not None and m is not None:
        values |= {
            "name": ind.name,
            "figure": _number(float(ind.figure)),
            "target": _number(float(ind.target)),
            "expected": _number(m.expected),
            "unit": ind.unit,
            # `near`: shown beside a threshold, 59.6 % must not read as "60%, below 60%".
            "ratio": _percent(m.ratio, near=rule.when.get("ratio_below", rule.when.get("ratio_above"))),
            "pace": _percent(m.pace),
            "deviation": _percent(m.deviation, near=rule.when.get("deviation_above")),
        }
    return values


def _indicator_inputs(ind: IndicatorProgress, m: _Metrics, today: date) -> dict[str, Any]:
    def rounded(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(x) else round(x, 6)

    return {
        "name": ind.name,
        "figure": float(ind.figure),
        "target": float(ind.target),
        "unit": ind.unit,
        "comparator": ind.comparator,
        "cumulative": ind.cumulative,
        "start": ind.start.isoformat() if ind.start else None,
        "due": ind.due.isoformat() if ind.due else None,
        "as_of": (ind.as_of or today).isoformat(),
        "pace": rounded(m.pace),
        "expected": rounded(m.expected),
        "ratio": rounded(m.ratio),
        "deviation": rounded(m.deviation),
    }


def _number(x: float) -> str:
    """At most two decimals, no trailing zeros: 18 → "18", 10.5 → "10.5", 10.4873 → "10.49"."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _percent(x: float | None, near: float | None = None) -> str:
    """A share as a whole percentage; one decimal when rounding would make it equal ``near``."""
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "∞"
    text = f"{x * 100:.0f}%"
    if near is not None and x != near and text == f"{near * 100:.0f}%":
        text = f"{x * 100:.1f}%"
    return text
