"""Reporting periods and due dates from the cadence file."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import date
from pathlib import Path

import pytest

from app.reminders.deadlines import (
    DEFAULT_CADENCE_PATH,
    CadenceFileError,
    DueRule,
    PeriodKind,
    PeriodSpec,
    due_date,
    load_cadence,
    periods_for_span,
)
from app.reminders.workdays import DEFAULT_CALENDAR_PATH, WorkCalendar

D = date.fromisoformat


@pytest.fixture(scope="module")
def kinds() -> dict[str, PeriodKind]:
    return load_cadence(DEFAULT_CADENCE_PATH)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar.from_yaml(DEFAULT_CALENDAR_PATH)


@pytest.mark.parametrize(
    ("key", "label", "plan_term", "rule", "second_half"),
    [
        ("monthly", "月度报告", "月调度", DueRule("nth_workday_of_next_month", 5), True),
        ("quarterly", "季度报告", "季分析", DueRule("workdays_after_end", 10), True),
        ("half_year", "半年报告", "半年总结", DueRule("nth_workday_of_next_month", 15), False),
        ("annual", "年度报告", "年度评估", DueRule("nth_workday_of_next_month", 20), True),
    ],
)
def test_default_cadence(
    kinds: dict[str, PeriodKind], key: str, label: str, plan_term: str, rule: DueRule, second_half: bool
) -> None:
    kind = kinds[key]
    assert (kind.label, kind.plan_term, kind.due, kind.second_half) == (label, plan_term, rule, second_half)


def test_due_rule_description() -> None:
    assert DueRule("nth_workday_of_next_month", 5).describe() == "周期结束后次月第5个工作日"
    assert DueRule("workdays_after_end", 10).describe() == "周期结束后第10个工作日"


def test_plan_span_2025(kinds: dict[str, PeriodKind]) -> None:
    periods = periods_for_span(kinds, D("2025-02-01"), D("2025-12-31"))
    by_kind: dict[str, list[str]] = {}
    for p in periods:
        by_kind.setdefault(p.kind, []).append(p.label)
    assert by_kind == {
        "monthly": [f"2025年{m}月" for m in range(2, 13)],
        "quarterly": [f"2025年第{q}季度" for q in range(1, 5)],
        "half_year": ["2025年上半年"],  # second_half: false
        "annual": ["2025年度"],
    }
    ends = [p.end for p in periods]
    assert ends == sorted(ends)
    # March, then Q1 (same end, shorter first); June, Q2, H1
    labels = [p.label for p in periods]
    assert labels[labels.index("2025年3月") + 1] == "2025年第1季度"
    assert labels[labels.index("2025年6月") + 1 : labels.index("2025年6月") + 3] == [
        "2025年第2季度",
        "2025年上半年",
    ]


def test_second_half_is_a_cadence_option(kinds: dict[str, PeriodKind]) -> None:
    both = dataclasses.replace(kinds["half_year"], second_half=True)
    periods = periods_for_span([both], D("2025-02-01"), D("2025-12-31"))
    assert [(p.label, p.start, p.end) for p in periods] == [
        ("2025年上半年", D("2025-01-01"), D("2025-06-30")),
        ("2025年下半年", D("2025-07-01"), D("2025-12-31")),
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # a period is included when it overlaps the span, keeping its full bounds
        ("2025-03-15", "2025-04-10", ["2025-03", "2025-Q1", "2025-04", "2025-Q2", "2025-H1", "2025"]),
        ("2025-06-30", "2025-06-30", ["2025-06", "2025-Q2", "2025-H1", "2025"]),
        ("2025-07-01", "2025-07-01", ["2025-07", "2025-Q3", "2025"]),  # no H2 by default
        (
            "2025-11-20",
            "2026-01-05",
            ["2025-11", "2025-12", "2025-Q4", "2025", "2026-01", "2026-Q1", "2026-H1", "2026"],
        ),
    ],
)
def test_periods_overlapping_a_span(
    kinds: dict[str, PeriodKind], start: str, end: str, expected: list[str]
) -> None:
    assert [p.key for p in periods_for_span(kinds, D(start), D(end))] == expected


@pytest.mark.parametrize(
    ("kind", "start", "end", "label", "key"),
    [
        ("monthly", "2025-03-01", "2025-03-31", "2025年3月", "2025-03"),
        ("monthly", "2024-02-01", "2024-02-29", "2024年2月", "2024-02"),
        ("quarterly", "2025-01-01", "2025-03-31", "2025年第1季度", "2025-Q1"),
        ("quarterly", "2025-10-01", "2025-12-31", "2025年第4季度", "2025-Q4"),
        ("half_year", "2025-01-01", "2025-06-30", "2025年上半年", "2025-H1"),
        ("annual", "2025-01-01", "2025-12-31", "2025年度", "2025"),
    ],
)
def test_period_bounds_labels_and_keys(
    kinds: dict[str, PeriodKind], kind: str, start: str, end: str, label: str, key: str
) -> None:
    [period] = [p for p in periods_for_span([kinds[kind]], D(start), D(end))]
    assert (period.start, period.end, period.label, period.key) == (D(start), D(end), label, key)


def test_span_must_not_be_reversed(kinds: dict[str, PeriodKind]) -> None:
    with pytest.raises(ValueError):
        periods_for_span(kinds, D("2025-12-31"), D("2025-01-01"))


@pytest.mark.parametrize(
    ("kind", "start", "end", "due"),
    [
        # 5th working day of October 2025: Oct 1–8 off; 9, 10, Sat 11 (make-up), 13, 14
        ("monthly", "2025-09-01", "2025-09-30", "2025-10-14"),
        # 5th working day of February 2025: 5, 6, 7, Sat 8 (make-up), 10
        ("monthly", "2025-01-01", "2025-01-31", "2025-02-10"),
        ("monthly", "2025-06-01", "2025-06-30", "2025-07-07"),
        # 5th working day of March 2026 (after Spring Festival 2026)
        ("monthly", "2026-02-01", "2026-02-28", "2026-03-06"),
        # 10th working day after 2025-09-30: 10-9 … 10-21, the holiday skipped
        ("quarterly", "2025-07-01", "2025-09-30", "2025-10-21"),
        ("quarterly", "2025-01-01", "2025-03-31", "2025-04-15"),
        # 15th working day of July 2025
        ("half_year", "2025-01-01", "2025-06-30", "2025-07-21"),
        # 20th working day of January 2026: Sun 1-4 is a make-up working day
        ("annual", "2025-01-01", "2025-12-31", "2026-01-29"),
    ],
)
def test_due_date(
    kinds: dict[str, PeriodKind], cal: WorkCalendar, kind: str, start: str, end: str, due: str
) -> None:
    [period] = periods_for_span([kinds[kind]], D(start), D(end))
    assert due_date(period, cal, kinds[kind]) == D(due)
    assert cal.fallback_years_used == set()


def test_due_date_in_an_unknown_year_falls_back(kinds: dict[str, PeriodKind], cal: WorkCalendar) -> None:
    period = PeriodSpec("monthly", D("2026-12-01"), D("2026-12-31"), "2026年12月")
    assert due_date(period, cal, kinds["monthly"]) == D("2027-01-07")  # Fri 1-1 counted, Mon–Fri rule
    assert cal.fallback_years_used == {2027}


def test_due_date_refuses_the_wrong_kind(kinds: dict[str, PeriodKind], cal: WorkCalendar) -> None:
    period = PeriodSpec("monthly", D("2025-09-01"), D("2025-09-30"), "2025年9月")
    with pytest.raises(ValueError):
        due_date(period, cal, kinds["quarterly"])


# ------------------------------------------------------------------ malformed files

MALFORMED = [
    pytest.param(
        """\
kinds:
  weekly:  # <-
    label: 周报
    due: {workdays_after_end: 2}
""",
        "unknown period kind 'weekly'",
        id="unknown-kind",
    ),
    pytest.param(
        """\
kinds:
  monthly:
    label: 月度报告
    due: {fifth_of_next_month: 5}  # <-
""",
        "unknown due rule 'fifth_of_next_month'",
        id="unknown-rule",
    ),
    pytest.param(
        """\
kinds:
  monthly:
    label: 月度报告
    due: {nth_workday_of_next_month: 5, workdays_after_end: 3}  # <-
""",
        "exactly one rule",
        id="two-rules",
    ),
    pytest.param(
        """\
kinds:
  monthly:
    label: 月度报告
    due:
      nth_workday_of_next_month: 0  # <-
""",
        "at least 1",
        id="zero",
    ),
    pytest.param(
        """\
kinds:
  monthly:
    label: 月度报告
    due:
      nth_workday_of_next_month: five  # <-
""",
        "whole number",
        id="not-a-number",
    ),
    pytest.param(
        """\
kinds:
  monthly:
    label: 月度报告
    due: {nth_workday_of_next_month: 5}
    second_half: true  # <-
""",
        "unknown key 'second_half'",
        id="second-half-on-monthly",
    ),
    pytest.param(
        """\
kinds:
  half_year:
    label: 半年报告
    due: {nth_workday_of_next_month: 15}
    second_half: maybe  # <-
""",
        "true or false",
        id="second-half-not-bool",
    ),
    pytest.param(
        """\
kinds:
  annual:  # <-
    due: {nth_workday_of_next_month: 20}
""",
        "missing key 'label'",
        id="missing-label",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_cadence_names_file_line_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cadence.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "# <-" in row)
    with pytest.raises(CadenceFileError) as info:
        load_cadence(path)
    assert info.value.line == line, str(info.value)
    assert message in info.value.message
    assert str(path) in str(info.value)
