"""The escalation ladder: step dates and the pure decision of which steps to take."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.reminders.ladder import (
    DEFAULT_LADDER_PATH,
    Ladder,
    LadderFileError,
    load_ladder,
    step_date,
    steps_due,
)
from app.reminders.workdays import DEFAULT_CALENDAR_PATH, WorkCalendar

D = date.fromisoformat
DUE = D("2025-10-14")  # the monthly report of 2025-09


@pytest.fixture(scope="module")
def ladder() -> Ladder:
    return load_ladder(DEFAULT_LADDER_PATH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_yaml(DEFAULT_CALENDAR_PATH)


@pytest.mark.parametrize(
    ("key", "label", "offset", "notify", "copy", "flags"),
    [
        ("remind", "提醒", -3, ("liaison",), (), set()),
        ("urge", "催办通知", 1, ("liaison",), ("unit_head",), set()),
        ("escalate", "督办", 5, ("liaison", "unit_head"), ("office",), {"review_queue"}),
        ("refer", "移交监督平台", 10, ("office",), ("unit_head",), {"export"}),
    ],
)
def test_default_ladder(
    ladder: Ladder,
    key: str,
    label: str,
    offset: int,
    notify: tuple[str, ...],
    copy: tuple[str, ...],
    flags: set[str],
) -> None:
    step = ladder.step(key)
    assert (step.label, step.offset, step.notify, step.copy, step.flags) == (
        label,
        offset,
        notify,
        copy,
        flags,
    )


def test_default_ladder_order(ladder: Ladder) -> None:
    assert ladder.keys == ("remind", "urge", "escalate", "refer")


@pytest.mark.parametrize(
    ("due", "key", "expected"),
    [
        ("2025-10-14", "remind", "2025-10-10"),  # 13, Sat 11 (make-up), 10
        ("2025-10-14", "urge", "2025-10-15"),
        ("2025-10-14", "escalate", "2025-10-21"),
        ("2025-10-14", "refer", "2025-10-28"),
        ("2025-10-09", "remind", "2025-09-28"),  # back across National Day to the Sunday make-up day
        ("2025-09-30", "urge", "2025-10-09"),  # forward across National Day
        ("2025-01-27", "urge", "2025-02-05"),  # across Spring Festival 2025
    ],
)
def test_step_date(ladder: Ladder, cal: WorkCalendar, due: str, key: str, expected: str) -> None:
    assert step_date(D(due), ladder.step(key), cal) == D(expected)


@pytest.mark.parametrize(
    ("today", "taken", "submitted", "expected"),
    [
        ("2025-10-09", set(), False, []),
        ("2025-10-10", set(), False, ["remind"]),
        ("2025-10-13", {"remind"}, False, []),
        ("2025-10-14", {"remind"}, False, []),  # the due day itself: nothing new
        ("2025-10-15", {"remind"}, False, ["urge"]),
        ("2025-10-15", set(), False, ["remind", "urge"]),  # scheduler was down on 10-10
        ("2025-10-30", set(), False, ["remind", "urge", "escalate", "refer"]),  # long outage: all, in order
        ("2025-10-30", {"remind", "urge"}, False, ["escalate", "refer"]),
        ("2025-10-30", {"remind", "urge", "escalate", "refer"}, False, []),
        ("2025-10-30", {"unknown_step"}, False, ["remind", "urge", "escalate", "refer"]),
        ("2025-10-30", set(), True, []),  # submitted: nothing
        ("2025-10-15", {"remind"}, True, []),
    ],
)
def test_steps_due(
    ladder: Ladder, cal: WorkCalendar, today: str, taken: set[str], submitted: bool, expected: list[str]
) -> None:
    assert [s.key for s in steps_due(DUE, D(today), taken, submitted, cal, ladder)] == expected


def _run_daily_sweeps(
    ladder: Ladder, cal: WorkCalendar, days_down: set[date], submitted_on: date | None = None
) -> list[tuple[str, date]]:
    """Simulate the scheduler running every day of October–November, except ``days_down``."""
    taken: list[tuple[str, date]] = []
    day = D("2025-10-01")
    while day <= D("2025-11-30"):
        if day not in days_down:
            submitted = submitted_on is not None and day >= submitted_on
            for step in steps_due(DUE, day, {k for k, _ in taken}, submitted, cal, ladder):
                taken.append((step.key, day))
        day += timedelta(days=1)
    return taken


def test_daily_sweeps_take_each_step_once_on_its_day(ladder: Ladder, cal: WorkCalendar) -> None:
    assert _run_daily_sweeps(ladder, cal, set()) == [
        ("remind", D("2025-10-10")),
        ("urge", D("2025-10-15")),
        ("escalate", D("2025-10-21")),
        ("refer", D("2025-10-28")),
    ]


def test_sweeps_after_an_outage_catch_up_once_in_order(ladder: Ladder, cal: WorkCalendar) -> None:
    down = {D("2025-10-09") + timedelta(days=i) for i in range(14)}  # 10-09 … 10-22
    assert _run_daily_sweeps(ladder, cal, down) == [
        ("remind", D("2025-10-23")),
        ("urge", D("2025-10-23")),
        ("escalate", D("2025-10-23")),
        ("refer", D("2025-10-28")),
    ]


def test_submission_stops_the_ladder(ladder: Ladder, cal: WorkCalendar) -> None:
    assert _run_daily_sweeps(ladder, cal, set(), submitted_on=D("2025-10-16")) == [
        ("remind", D("2025-10-10")),
        ("urge", D("2025-10-15")),
    ]


# ------------------------------------------------------------------ malformed files

_REMIND = """\
steps:
  - key: remind
    label: 提醒
    offset: -3
    notify: [liaison]
"""

MALFORMED = [
    pytest.param(
        _REMIND
        + """\
  - key: urge
    label: 催办通知
    offset: -3  # <-
    notify: [liaison]
""",
        "must be greater than the previous step's (-3)",
        id="offsets-not-increasing",
    ),
    pytest.param(
        _REMIND
        + """\
  - key: urge
    label: 催办通知
    offset: 1
    notify:
      - liaison
      - mayor  # <-
""",
        "unknown name 'mayor'",
        id="unknown-recipient",
    ),
    pytest.param(
        _REMIND
        + """\
  - key: remind  # <-
    label: 再次提醒
    offset: -1
    notify: [liaison]
""",
        "used twice",
        id="duplicate-key",
    ),
    pytest.param(
        """\
steps:
  - key: Remind Now  # <-
    label: 提醒
    offset: -3
    notify: [liaison]
""",
        "lower-case ASCII",
        id="bad-key",
    ),
    pytest.param(
        """\
steps:
  - key: remind
    label: 提醒
    offset: -3
    notify: []  # <-
""",
        "must not be empty",
        id="nobody-notified",
    ),
    pytest.param(
        """\
steps:
  - key: urge
    label: 催办通知
    offset: 1
    notify: [liaison]
    copy: [liaison]  # <-
""",
        "both notified and copied",
        id="notify-and-copy",
    ),
    pytest.param(
        """\
steps:
  - key: escalate
    label: 督办
    offset: 5
    notify: [unit_head]
    flags: [publish]  # <-
""",
        "unknown name 'publish'",
        id="unknown-flag",
    ),
    pytest.param(
        """\
steps:
  - key: urge
    label: 催办通知
    offset: 1.5  # <-
    notify: [liaison]
""",
        "whole number",
        id="offset-not-integer",
    ),
    pytest.param(
        """\
steps:
  - key: urge  # <-
    offset: 1
    notify: [liaison]
""",
        "missing key 'label'",
        id="missing-label",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_ladder_names_file_line_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "ladder.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "# <-" in row)
    with pytest.raises(LadderFileError) as info:
        load_ladder(path)
    assert info.value.line == line, str(info.value)
    assert message in info.value.message
    assert str(path) in str(info.value)
