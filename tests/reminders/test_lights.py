"""Traffic lights: each colour with its explanation, comparators, pace and file validation."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path

import pytest

from app.reminders.lights import (
    DEFAULT_LIGHTS_PATH,
    IndicatorProgress,
    Light,
    LightRules,
    LightsFileError,
    light_for,
    load_lights,
)

D = date.fromisoformat

# Cumulative target of 18 万人 over 2025-01-01 … 2025-12-26 (360 days): by 2025-07-29,
# 210 days (7/12) have passed, so the pace expects 10.5 万人.
START, TARGET_DUE, AS_OF = D("2025-01-01"), D("2025-12-26"), D("2025-07-29")


def jobs(figure: float) -> IndicatorProgress:
    return IndicatorProgress(
        figure,
        18,
        ">=",
        cumulative=True,
        start=START,
        due=TARGET_DUE,
        as_of=AS_OF,
        unit="万人",
        name="城镇新增就业",
    )


def stations(figure: float) -> IndicatorProgress:
    return IndicatorProgress(figure, 12, ">=", cumulative=False, unit="个")


def unemployment(figure: float) -> IndicatorProgress:
    return IndicatorProgress(figure, 5.5, "~", cumulative=False, unit="%")


def ceiling(figure: float) -> IndicatorProgress:
    return IndicatorProgress(figure, 5.5, "<=", cumulative=False, unit="%")


@pytest.fixture(scope="module")
def rules() -> LightRules:
    return load_lights(DEFAULT_LIGHTS_PATH)


DUE = D("2025-08-07")
TODAY = D("2025-08-01")

CASES = [
    # (id, kwargs, colour, rule, explanation)
    pytest.param(
        {"workdays_left": 20, "period_start": D("2025-08-15"), "indicator": jobs(1)},
        "grey",
        "not_started",
        "报送周期尚未开始（2025-08-15 开始）",
        id="grey-not-started",
    ),
    pytest.param(
        {"due": D("2025-07-07"), "today": D("2025-07-10"), "workdays_left": -3},
        "red",
        "overdue",
        "已逾期 3 个工作日（截止 2025-07-07）",
        id="red-overdue",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": jobs(5)},
        "red",
        "far_behind_pace",
        "完成 5 万人，按进度应完成 10.5 万人（48%），低于 60%",
        id="red-far-behind-pace",
    ),
    pytest.param(
        {"workdays_left": 1, "indicator": jobs(5)},
        "red",
        "far_behind_pace",
        "完成 5 万人，按进度应完成 10.5 万人（48%），低于 60%",
        id="red-far-behind-beats-due-soon",
    ),
    pytest.param(
        {"workdays_left": -2, "indicator": jobs(5)},
        "red",
        "overdue",
        "已逾期 2 个工作日（截止 2025-08-07）",
        id="red-overdue-beats-far-behind",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": stations(6)},
        "red",
        "far_below_target",
        "当前 6 个，目标 12 个（50%），低于 60%",
        id="red-non-cumulative",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": unemployment(6.2)},
        "red",
        "far_off_target",
        "当前 6.2 %，目标 5.5 % 左右，偏离 13%，超过 10%",
        id="red-about-far-off",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": ceiling(6.5)},
        "red",
        "far_over_limit",
        "当前 6.5 %，应不高于 5.5 %（118%），高于 110%",
        id="red-over-limit",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": jobs(8.1)},
        "yellow",
        "behind_pace",
        "完成 8.1 万人，按进度应完成 10.5 万人（77%），低于 90%",
        id="yellow-behind-pace",
    ),
    pytest.param(
        {"workdays_left": 0},
        "yellow",
        "due_today",
        "今日截止（2025-08-07），尚未报送",
        id="yellow-due-today",
    ),
    pytest.param(
        {"workdays_left": 3},
        "yellow",
        "due_soon",
        "还有 3 个工作日截止（2025-08-07），尚未报送",
        id="yellow-due-soon",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": stations(10)},
        "yellow",
        "below_target",
        "当前 10 个，目标 12 个（83%），低于 90%",
        id="yellow-non-cumulative",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": unemployment(5.9)},
        "yellow",
        "off_target",
        "当前 5.9 %，目标 5.5 % 左右，偏离 7%，超过 5%",
        id="yellow-about-off",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": ceiling(5.8)},
        "yellow",
        "over_limit",
        "当前 5.8 %，应不高于 5.5 %（105%），高于 100%",
        id="yellow-over-limit",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": jobs(10.7316)},
        "green",
        "submitted",
        "已报送（截止 2025-08-07）",
        id="green-ahead-of-pace",
    ),
    pytest.param(
        {"workdays_left": 4, "submitted": True, "indicator": jobs(0.596 * 10.5)},
        "red",
        "far_behind_pace",
        "完成 6.26 万人，按进度应完成 10.5 万人（59.6%），低于 60%",
        id="red-rounding-never-reads-as-the-threshold",
    ),
    pytest.param(
        {"workdays_left": -2, "submitted": True},
        "green",
        "submitted",
        "已报送（截止 2025-08-07）",
        id="green-submitted",
    ),
    pytest.param(
        {"workdays_left": 5, "indicator": jobs(10)},
        "green",
        "on_track",
        "进度正常，还有 5 个工作日截止（2025-08-07）",
        id="green-on-track",
    ),
    pytest.param(
        {"workdays_left": 5, "indicator": unemployment(5.6)},
        "green",
        "on_track",
        "进度正常，还有 5 个工作日截止（2025-08-07）",
        id="green-about-within-tolerance",
    ),
    pytest.param(
        {"workdays_left": 5, "indicator": ceiling(5.5)},
        "green",
        "on_track",
        "进度正常，还有 5 个工作日截止（2025-08-07）",
        id="green-at-the-limit",
    ),
]


@pytest.mark.parametrize(("kwargs", "colour", "rule", "explanation"), CASES)
def test_light(rules: LightRules, kwargs: dict, colour: str, rule: str, explanation: str) -> None:
    args = {"due": DUE, "today": TODAY, "submitted": False} | kwargs
    light = light_for(rules=rules, **args)
    assert (light.colour, light.rule, light.explanation) == (colour, rule, explanation)


def test_inputs_are_recorded_and_json_friendly(rules: LightRules) -> None:
    light = light_for(due=DUE, today=TODAY, submitted=True, workdays_left=4, rules=rules, indicator=jobs(8.1))
    json.dumps(light.inputs)
    assert light.inputs["due"] == "2025-08-07"
    assert light.inputs["workdays_left"] == 4
    indicator = light.inputs["indicator"]
    assert indicator["pace"] == pytest.approx(7 / 12, abs=1e-6)
    assert indicator["expected"] == pytest.approx(10.5)
    assert indicator["ratio"] == pytest.approx(8.1 / 10.5, abs=1e-6)
    assert indicator["as_of"] == "2025-07-29"
    assert light.label == "黄灯"


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2024-12-31", 0.0),  # before the start: nothing expected yet
        ("2025-01-01", 18 / 360),  # both ends counted
        ("2025-07-29", 10.5),
        ("2025-12-26", 18.0),
        ("2026-03-01", 18.0),  # after the due date: the whole target
    ],
)
def test_pace_is_linear_from_start_to_due(rules: LightRules, as_of: str, expected: float) -> None:
    indicator = IndicatorProgress(1, 18, ">=", start=START, due=TARGET_DUE, as_of=D(as_of))
    light = light_for(due=DUE, today=TODAY, submitted=True, workdays_left=4, rules=rules, indicator=indicator)
    assert light.inputs["indicator"]["expected"] == pytest.approx(expected, abs=1e-6)


def test_nothing_expected_yet_is_not_behind(rules: LightRules) -> None:
    indicator = IndicatorProgress(0, 18, ">=", start=START, due=TARGET_DUE, as_of=D("2024-12-31"))
    light = light_for(due=DUE, today=TODAY, submitted=True, workdays_left=4, rules=rules, indicator=indicator)
    assert light.colour == "green"


def test_pace_defaults_to_today(rules: LightRules) -> None:
    indicator = IndicatorProgress(8.1, 18, ">=", start=START, due=TARGET_DUE)
    light = light_for(due=DUE, today=AS_OF, submitted=True, workdays_left=4, rules=rules, indicator=indicator)
    assert light.inputs["indicator"]["expected"] == pytest.approx(10.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"comparator": "="},
        {"comparator": ">=", "cumulative": True},  # no start or due for the pace
        {"comparator": ">=", "cumulative": True, "start": D("2025-12-31"), "due": D("2025-01-01")},
    ],
)
def test_indicator_progress_is_checked(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        IndicatorProgress(1, 2, **{"cumulative": False} | kwargs)


def test_light_is_a_plain_value() -> None:
    assert Light("green", "on_track", "x", {}).label == "绿灯"


# ------------------------------------------------------------------ malformed files

_LAST = """\
  - key: on_track
    colour: green
    when: {always: true}
    explanation: 进度正常
"""

MALFORMED = [
    pytest.param(
        """\
rules:
  - key: overdue
    colour: purple  # <-
    when: {overdue: true}
    explanation: 已逾期
"""
        + _LAST,
        "colour must be one of",
        id="unknown-colour",
    ),
    pytest.param(
        """\
rules:
  - key: overdue
    colour: red
    when: {late: true}  # <-
    explanation: 已逾期
"""
        + _LAST,
        "unknown key 'late'",
        id="unknown-condition",
    ),
    pytest.param(
        """\
rules:
  - key: overdue
    colour: red
    when: {overdue: true}
    explanation: 完成 {figure}  # <-
"""
        + _LAST,
        "uses {figure}, which this rule does not provide",
        id="variable-not-provided",
    ),
    pytest.param(
        """\
rules:
  - key: overdue
    colour: red
    when: {overdue: true}
    explanation: 已逾期 {overdue_workdays 个工作日  # <-
"""
        + _LAST,
        "unbalanced braces",
        id="unbalanced-braces",
    ),
    pytest.param(
        """\
rules:
  - key: overdue  # <-
    colour: red
    when: {overdue: true}
    explanation: 已逾期
""",
        "must be `when: {always: true}`",
        id="last-rule-not-always",
    ),
    pytest.param(
        """\
rules:
  - key: submitted
    colour: green
    when: {submitted: true}
    explanation: 已报送
  - key: never
    colour: green
    when:
      always: true  # <-
      submitted: false
    explanation: 进度正常
""",
        "must be true and stand alone",
        id="always-not-alone",
    ),
    pytest.param(
        """\
rules:
  - key: odd
    colour: red
    when: {ratio_below: 0.6, deviation_above: 0.1}  # <-
    explanation: 偏离
"""
        + _LAST,
        "only one of",
        id="two-thresholds",
    ),
    pytest.param(
        """\
rules:
  - key: soon
    colour: yellow
    when: {due_within_workdays: -1}  # <-
    explanation: 快到期
"""
        + _LAST,
        "at least 0",
        id="negative-window",
    ),
    pytest.param(
        """\
rules:
  - key: on_track
    colour: green
    when: {submitted: true}
    explanation: 已报送
  - key: on_track  # <-
    colour: green
    when: {always: true}
    explanation: 进度正常
""",
        "used twice",
        id="duplicate-key",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_lights_names_file_line_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lights.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "# <-" in row)
    with pytest.raises(LightsFileError) as info:
        load_lights(path)
    assert info.value.line == line, str(info.value)
    assert message in info.value.message
    assert str(path) in str(info.value)
