"""WorkCalendar: the official calendar file, working-day arithmetic, fallback and validation."""

from __future__ import annotations

import logging
import textwrap
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from app.reminders.workdays import DEFAULT_CALENDAR_PATH, CalendarFileError, WorkCalendar

D = date.fromisoformat


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar.from_yaml(DEFAULT_CALENDAR_PATH)


def test_file_knows_2024_to_2026(cal: WorkCalendar) -> None:
    assert cal.known_years == (2024, 2025, 2026)
    assert cal.is_known(2025)
    assert not cal.is_known(2027)


def test_file_agrees_with_chinese_calendar_day_by_day(cal: WorkCalendar) -> None:
    day, mismatches = D("2024-01-01"), []
    while day <= D("2026-12-31"):
        if cal.is_workday(day) != chinese_calendar.is_workday(day):
            mismatches.append(day)
        day += timedelta(days=1)
    assert mismatches == []
    assert cal.fallback_years_used == set()


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        # National Day and Mid-autumn 2025: Oct 1–8 off, Sun 9-28 and Sat 10-11 worked
        ("2025-09-27", False),
        ("2025-09-28", True),
        ("2025-09-30", True),
        *[(f"2025-10-0{d}", False) for d in range(1, 9)],
        ("2025-10-09", True),
        ("2025-10-11", True),
        ("2025-10-12", False),
        # Spring Festival 2025: Jan 28–Feb 4 off, Sun 1-26 and Sat 2-8 worked
        ("2025-01-25", False),
        ("2025-01-26", True),
        ("2025-01-27", True),
        *[(d.isoformat(), False) for d in (D("2025-01-28") + timedelta(days=i) for i in range(8))],
        ("2025-02-05", True),
        ("2025-02-08", True),
        # Spring Festival 2026: Feb 15–23 off, Sat 2-14 and Sat 2-28 worked
        ("2026-02-14", True),
        *[(d.isoformat(), False) for d in (D("2026-02-15") + timedelta(days=i) for i in range(9))],
        ("2026-02-24", True),
        ("2026-02-28", True),
        # New Year 2026: Jan 1–3 off, Sun 1-4 worked
        ("2026-01-02", False),
        ("2026-01-04", True),
        # ordinary days
        ("2025-07-07", True),
        ("2025-07-12", False),
        ("2025-07-13", False),
    ],
)
def test_is_workday(cal: WorkCalendar, day: str, workday: bool) -> None:
    assert cal.is_workday(D(day)) is workday


@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2025-10-06", "国庆节、中秋节"),
        ("2025-09-28", "国庆节、中秋节"),
        ("2025-01-28", "春节"),
        ("2026-02-28", "春节"),
        ("2026-09-25", "中秋节"),
        ("2025-07-07", None),
    ],
)
def test_holiday_name(cal: WorkCalendar, day: str, name: str | None) -> None:
    assert cal.holiday_name(D(day)) == name


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2025-09-30", 1, "2025-10-09"),  # across National Day
        ("2025-09-30", 3, "2025-10-11"),  # Saturday make-up working day
        ("2025-09-30", 4, "2025-10-13"),
        ("2025-10-09", -1, "2025-09-30"),
        ("2025-10-09", -3, "2025-09-28"),  # Sunday make-up working day
        ("2025-10-03", 0, "2025-10-09"),  # n = 0 on a holiday: next working day
        ("2025-10-09", 0, "2025-10-09"),  # n = 0 on a working day: itself
        ("2025-01-27", 1, "2025-02-05"),  # across Spring Festival 2025
        ("2025-02-05", -1, "2025-01-27"),
        ("2026-02-13", 1, "2026-02-14"),  # Saturday make-up before Spring Festival 2026
        ("2026-02-14", 1, "2026-02-24"),
        ("2025-12-31", 2, "2026-01-05"),  # across the year end and New Year 2026
        ("2025-07-11", 1, "2025-07-14"),  # ordinary weekend
    ],
)
def test_add_workdays(cal: WorkCalendar, start: str, n: int, expected: str) -> None:
    assert cal.add_workdays(D(start), n) == D(expected)


@pytest.mark.parametrize(
    ("today", "due", "expected"),
    [
        ("2025-07-07", "2025-07-08", 1),  # due tomorrow
        ("2025-07-07", "2025-07-07", 0),  # due today
        ("2025-07-08", "2025-07-07", -1),  # due yesterday
        ("2025-07-10", "2025-07-07", -3),
        ("2025-09-30", "2025-10-09", 1),  # the holiday does not count
        ("2025-10-09", "2025-09-30", -1),
        ("2025-09-26", "2025-10-13", 7),  # 9-28, 9-29, 9-30, 10-9, 10-10, 10-11, 10-13
        ("2025-12-31", "2026-01-05", 2),  # Sun 1-4 make-up and Mon 1-5
        ("2024-12-31", "2026-12-31", None),  # two whole years, checked against a day count
    ],
)
def test_workdays_between(cal: WorkCalendar, today: str, due: str, expected: int | None) -> None:
    a, b = D(today), D(due)
    lo, hi = min(a, b), max(a, b)
    by_days = sum(cal.is_workday(lo + timedelta(days=i)) for i in range(1, (hi - lo).days + 1))
    by_days = by_days if a <= b else -by_days
    if expected is None:
        expected = by_days
    assert by_days == expected  # the table itself is right
    assert cal.workdays_between(a, b) == expected
    assert cal.workdays_between(b, a) == -expected


def test_workdays_between_agrees_with_add_workdays(cal: WorkCalendar) -> None:
    start = D("2025-09-20")
    for n in range(0, 40):
        end = cal.add_workdays(start, n) if n else start
        assert cal.workdays_between(start, end) == n


@pytest.mark.parametrize(
    ("year", "month", "n", "expected"),
    [
        (2025, 10, 1, "2025-10-09"),
        (2025, 10, 3, "2025-10-11"),
        (2025, 10, 5, "2025-10-14"),
        (2025, 10, -1, "2025-10-31"),
        (2025, 2, 1, "2025-02-05"),
        (2025, 2, 4, "2025-02-08"),
        (2026, 2, 1, "2026-02-02"),
        (2026, 1, 1, "2026-01-04"),
        (2025, 9, -1, "2025-09-30"),
    ],
)
def test_nth_workday_of_month(cal: WorkCalendar, year: int, month: int, n: int, expected: str) -> None:
    assert cal.nth_workday_of_month(year, month, n) == D(expected)


@pytest.mark.parametrize("n", [0, 24, -24])
def test_nth_workday_of_month_out_of_range(cal: WorkCalendar, n: int) -> None:
    with pytest.raises(ValueError):
        cal.nth_workday_of_month(2025, 10, n)


def test_unknown_year_falls_back_to_monday_to_friday(
    cal: WorkCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.reminders.workdays")
    assert cal.is_workday(D("2030-10-01"))  # a Tuesday: the real holiday is not known
    assert not cal.is_workday(D("2030-10-05"))  # a Saturday
    assert cal.add_workdays(D("2030-10-04"), 1) == D("2030-10-07")
    assert cal.workdays_between(D("2030-10-01"), D("2030-10-08")) == 5
    assert cal.fallback_years_used == {2030}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per year, however many queries
    assert "2030" in warnings[0].getMessage()


def test_known_year_queries_record_no_fallback(cal: WorkCalendar, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    cal.workdays_between(D("2024-01-01"), D("2026-12-31"))
    assert cal.fallback_years_used == set()
    assert caplog.records == []


def test_crossing_into_an_unknown_year_is_recorded(cal: WorkCalendar) -> None:
    assert cal.add_workdays(D("2026-12-31"), 1) == D("2027-01-01")  # a Friday, Mon–Fri rule
    assert cal.fallback_years_used == {2027}


def test_constructor_from_dicts() -> None:
    cal = WorkCalendar({D("2025-10-01"): "国庆节"}, {D("2025-09-28"): "国庆节"})
    assert cal.known_years == (2025,)
    assert not cal.is_workday(D("2025-10-01"))
    assert cal.is_workday(D("2025-09-28"))
    assert cal.is_makeup_workday(D("2025-09-28"))


@pytest.mark.parametrize(
    ("holidays", "makeup", "known", "message"),
    [
        ({D("2025-10-01"): "x"}, {D("2025-10-01"): "x"}, None, "both"),
        ({D("2025-10-01"): "x"}, {}, [2026], "not a known year"),
    ],
)
def test_constructor_rejects_bad_dicts(
    holidays: dict[date, str], makeup: dict[date, str], known: list[int] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WorkCalendar(holidays, makeup, known)


# ------------------------------------------------------------------ malformed files
# The line the error must name is marked with "# <-".

_GOOD_HEAD = """\
years:
  2025:
    holidays:
"""

MALFORMED = [
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 春节
        days_off: [2025-01-28, 2025-02-30]  # <-
""",
        "bad date '2025-02-30'",
        id="bad-date",
    ),
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 春节
        days_off:
          - 2025-01-28
          - 2025-1-xx  # <-
""",
        "bad date",
        id="not-a-date",
    ),
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 国庆节
        days_off: [2025-10-01]
      - name: 春节
        days_off: [2026-02-15]  # <-
""",
        "2026-02-15 is not in 2025",
        id="date-not-in-year",
    ),
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 国庆节
        days_off: [2025-10-01, 2025-10-04]
        makeup_workdays:
          - 2025-09-28
          - 2025-10-04  # <-
""",
        "both as a day off and as a make-up working day (already a day off on line 5)",
        id="both-holiday-and-workday",
    ),
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 国庆节
        days_off: [2025-10-01]
      - name: 中秋节
        days_off: [2025-10-01]  # <-
""",
        "listed twice",
        id="day-off-twice",
    ),
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 国庆节
        days_off: [2025-10-01]
        makeup_workdays: [2025-09-29]  # <-
""",
        "must be a Saturday or Sunday",
        id="makeup-on-a-weekday",
    ),
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 国庆节  # <-
        makeup_workdays: [2025-09-28]
""",
        "missing key 'days_off'",
        id="missing-days-off",
    ),
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 国庆节
        days_off: [2025-10-01]
        workdays: [2025-09-28]  # <-
""",
        "unknown key 'workdays'",
        id="unknown-key",
    ),
    pytest.param(
        """\
years:
  twenty-five:  # <-
    holidays: []
""",
        "four-digit year",
        id="bad-year",
    ),
    pytest.param(
        """\
years:
  2027:
    holidays: []  # <-
""",
        "lists no holidays",
        id="empty-year",
    ),
    pytest.param(
        _GOOD_HEAD
        + """\
      - name: 国庆节
        days_off: [2025-10-01
  2026:  # <-
""",
        "not valid YAML",
        id="yaml-syntax",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_file_names_file_line_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "# <-" in row)
    with pytest.raises(CalendarFileError) as info:
        WorkCalendar.from_yaml(path)
    error = info.value
    assert error.line == line, str(error)
    assert message in error.message
    assert str(error).startswith(f"{path}, line {line}: ")


@pytest.mark.parametrize(("text", "message"), [("", "empty"), ("- 2025\n", "must be a mapping")])
def test_malformed_file_without_useful_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarFileError, match=message):
        WorkCalendar.from_yaml(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CalendarFileError, match=r"nothing\.yaml"):
        WorkCalendar.from_yaml(tmp_path / "nothing.yaml")
