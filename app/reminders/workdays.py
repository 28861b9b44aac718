"""China's official working-day calendar, loaded from ``workflows/calendar.yaml``.

A day is a working day when it is Monday to Friday and not a listed day off, or when
it is a listed make-up working day (调休上班). Years the file does not know fall back
to Monday to Friday; the calendar records each such year and logs a warning once.

This module also holds :class:`YamlReader`, the small line-aware YAML reader the other
reminder loaders (cadence, ladder, lights) share, so every bad file is reported with
its path, line and what is wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn

import yaml

logger = logging.getLogger(__name__)

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / "workflows"
DEFAULT_CALENDAR_PATH = WORKFLOWS_DIR / "calendar.yaml"

_MIN_YEAR, _MAX_YEAR = 1949, 2200
_DAY = timedelta(days=1)


# --------------------------------------------------------------------------- errors


class ConfigFileError(ValueError):
    """A workflow file is malformed; the message names the file, the line and the problem."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {message}")


class CalendarFileError(ConfigFileError):
    """``calendar.yaml`` is malformed."""


# --------------------------------------------------------------------------- YAML reading


class YamlReader:
    """Reads a YAML file as a node tree so that every value keeps its line number.

    Loaders walk the nodes with the typed accessors below; each accessor fails with
    ``error_cls(path, line, message)`` naming what was expected.
    """

    def __init__(self, path: str | Path, error_cls: type[ConfigFileError]) -> None:
        self.path = str(path)
        self.error_cls = error_cls
        self._constructor = yaml.SafeLoader("")

    def load(self) -> yaml.Node:
        """Parse the file and return its root node."""
        try:
            text = Path(self.path).read_text(encoding="utf-8")
        except OSError as exc:
            raise self.error_cls(self.path, None, f"cannot read the file ({exc.strerror or exc})") from exc
        except UnicodeDecodeError as exc:
            raise self.error_cls(self.path, None, "the file is not UTF-8 text") from exc
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise self.error_cls(self.path, line, f"not valid YAML: {exc.problem or exc}") from exc
        except yaml.YAMLError as exc:
            raise self.error_cls(self.path, None, f"not valid YAML: {exc}") from exc
        if root is None:
            self.fail(None, "the file is empty")
        return root

    def fail(self, node: yaml.Node | None, message: str) -> NoReturn:
        raise self.error_cls(self.path, line_of(node), message)

    def mapping(
        self,
        node: yaml.Node,
        what: str,
        *,
        required: Iterable[str] = (),
        optional: Iterable[str] | None = (),
        owner: yaml.Node | None = None,
    ) -> dict[str, yaml.Node]:
        """A mapping with string keys; unknown keys are refused unless ``optional`` is None.

        ``owner``: the key node that opens this mapping, named by a missing-key error
        (a nested block mapping itself starts on the line of its first key).
        """
        required = tuple(required)
        result: dict[str, yaml.Node] = {}
        for key_node, value_node in self.pairs(node, what):
            # The raw text, so that keys such as "on"/"off"/"no" stay words (YAML 1.1 reads them as booleans).
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, f"{what}: a key must be a word")
            key = key_node.value
            if key in result:
                self.fail(key_node, f"{what}: key '{key}' appears twice")
            result[key] = value_node
        if optional is not None:
            allowed = set(required) | set(optional)
            for key_node, _ in node.value:
                if key_node.value not in allowed:
                    self.fail(
                        key_node,
                        f"{what}: unknown key '{key_node.value}' (allowed: {', '.join(sorted(allowed))})",
                    )
        for key in required:
            if key not in result:
                self.fail(owner or node, f"{what}: missing key '{key}'")
        return result

    def pairs(self, node: yaml.Node, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
        """The (key node, value node) pairs of a mapping, in file order."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping (key: value lines)")
        return list(node.value)

    def sequence(self, node: yaml.Node, what: str, *, allow_empty: bool = True) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what} must be a list")
        if not allow_empty and not node.value:
            self.fail(node, f"{what} must not be empty")
        return list(node.value)

    def value(self, node: yaml.Node) -> Any:
        """The plain Python value of a scalar node (dates, numbers, booleans resolved)."""
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, "expected a single value, not a list or mapping")
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError) as exc:
            self.fail(node, f"bad value '{node.value}': {exc}")

    def string(self, node: yaml.Node, what: str) -> str:
        value = self.value(node)
        if not isinstance(value, str) or not value.strip():
            self.fail(node, f"{what} must be non-empty text, got {node.value!r}")
        return value.strip()

    def date(self, node: yaml.Node, what: str) -> date:
        """An ISO date (YYYY-MM-DD), written bare or quoted."""
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{what} must be a date YYYY-MM-DD")
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError) as exc:
            self.fail(node, f"{what}: bad date '{node.value}' ({exc})")
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value.strip())
            except ValueError:
                self.fail(node, f"{what}: bad date '{node.value}', expected YYYY-MM-DD")
        if not isinstance(value, date) or hasattr(value, "hour"):
            self.fail(node, f"{what}: bad date '{node.value}', expected YYYY-MM-DD")
        return value

    def integer(self, node: yaml.Node, what: str, *, low: int | None = None, high: int | None = None) -> int:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(node, f"{what} must be a whole number, got {node.value!r}")
        self._check_range(node, what, value, low, high)
        return value

    def number(
        self, node: yaml.Node, what: str, *, low: float | None = None, high: float | None = None
    ) -> float:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(node, f"{what} must be a number, got {node.value!r}")
        self._check_range(node, what, value, low, high)
        return float(value)

    def boolean(self, node: yaml.Node, what: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            self.fail(node, f"{what} must be true or false, got {node.value!r}")
        return value

    def _check_range(
        self, node: yaml.Node, what: str, value: float, low: float | None, high: float | None
    ) -> None:
        if low is not None and value < low:
            self.fail(node, f"{what} must be at least {low}, got {value}")
        if high is not None and value > high:
            self.fail(node, f"{what} must be at most {high}, got {value}")


def line_of(node: yaml.Node | None) -> int | None:
    """1-based line where a node starts."""
    return node.start_mark.line + 1 if node is not None and node.start_mark is not None else None


# --------------------------------------------------------------------------- calendar

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class WorkCalendar:
    """Working days on China's official calendar, Monday to Friday for years it does not know.

    ``fallback_years_used`` collects the unknown years a query touched, so a page or a
    health check can say that a deadline was counted without the official schedule.
    """

    def __init__(
        self,
        holidays: Mapping[date, str],
        makeup_workdays: Mapping[date, str],
        known_years: Iterable[int] | None = None,
        *,
        source: str = "<dict>",
    ) -> None:
        """``holidays``: day off → holiday name; ``makeup_workdays``: weekend working day → holiday name.

        ``known_years`` defaults to the years the dates fall in.
        """
        both = sorted(set(holidays) & set(makeup_workdays))
        if both:
            raise ValueError(f"{both[0]} is listed both as a day off and as a make-up working day")
        self._holidays = dict(holidays)
        self._makeup = dict(makeup_workdays)
        years = {d.year for d in (*holidays, *makeup_workdays)} if known_years is None else set(known_years)
        stray = sorted(d for d in (*holidays, *makeup_workdays) if d.year not in years)
        if stray:
            raise ValueError(f"{stray[0]} falls in {stray[0].year}, which is not a known year")
        self._known = frozenset(years)
        self.source = source
        self.fallback_years_used: set[int] = set()
        # year -> prefix counts: _prefix[y][i] = working days among the first i days of year y
        self._prefix: dict[int, list[int]] = {}

    # ----------------------------------------------------------------- loading

    @classmethod
    def from_yaml(cls, path: str | Path = DEFAULT_CALENDAR_PATH) -> WorkCalendar:
        """Load and validate ``calendar.yaml``; raises :class:`CalendarFileError`."""
        reader = YamlReader(path, CalendarFileError)
        root = reader.mapping(reader.load(), "calendar file", required=("years",))
        holidays: dict[date, str] = {}
        makeup: dict[date, str] = {}
        seen_at: dict[date, int | None] = {}
        years: set[int] = set()
        for year_node, body in reader.pairs(root["years"], "years"):
            year = reader.value(year_node)
            if isinstance(year, str) and year.isdigit():
                year = int(year)
            if isinstance(year, bool) or not isinstance(year, int) or not _MIN_YEAR <= year <= _MAX_YEAR:
                reader.fail(year_node, f"year must be a four-digit year, got {year_node.value!r}")
            if year in years:
                reader.fail(year_node, f"year {year} is listed twice")
            years.add(year)
            fields = reader.mapping(
                body, f"year {year}", required=("holidays",), optional=("notice",), owner=year_node
            )
            if "notice" in fields:
                reader.string(fields["notice"], f"year {year}: notice")
            blocks = reader.sequence(fields["holidays"], f"year {year}: holidays")
            if not blocks:
                reader.fail(
                    fields["holidays"],
                    f"year {year} lists no holidays; leave the year out until its schedule is published",
                )
            for block in blocks:
                _read_holiday_block(reader, block, year, holidays, makeup, seen_at)
        return cls(holidays, makeup, years, source=str(path))

    # ----------------------------------------------------------------- queries

    @property
    def known_years(self) -> tuple[int, ...]:
        """The years with an official schedule, ascending."""
        return tuple(sorted(self._known))

    def is_known(self, year: int) -> bool:
        return year in self._known

    def is_workday(self, day: date) -> bool:
        if day.year in self._known:
            if day in self._holidays:
                return False
            if day in self._makeup:
                return True
        else:
            self._note_fallback(day.year)
        return day.weekday() < 5

    def holiday_name(self, day: date) -> str | None:
        """The holiday a day off or a make-up working day belongs to, e.g. "国庆节、中秋节"."""
        return self._holidays.get(day) or self._makeup.get(day)

    def is_makeup_workday(self, day: date) -> bool:
        return day in self._makeup

    def add_workdays(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (before it when n < 0).

        n = 0 gives ``day`` itself when it is a working day, else the next working day.
        """
        if n == 0:
            while not self.is_workday(day):
                day += _DAY
            return day
        step = _DAY if n > 0 else -_DAY
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Signed number of working days in (start, end].

        With ``start`` = today and ``end`` = a due date: tomorrow gives 1, today 0, and a
        due date already passed gives minus the working days since (yesterday → −1 on a
        working day).
        """
        if start == end:
            return 0
        if start > end:
            return -self.workdays_between(end, start)
        if start.year == end.year:
            return self._count_through(end) - self._count_through(start)
        total = self._year_total(start.year) - self._count_through(start)
        total += sum(self._year_total(y) for y in range(start.year + 1, end.year))
        return total + self._count_through(end)

    def nth_workday_of_month(self, year: int, month: int, n: int) -> date:
        """The n-th working day of a month (n ≥ 1), or counted from the month's end (n ≤ −1)."""
        if n == 0:
            raise ValueError("n must be 1 or more, or -1 or less")
        first = date(year, month, 1)
        last = (first + timedelta(days=32)).replace(day=1) - _DAY
        day, step = (first, _DAY) if n > 0 else (last, -_DAY)
        remaining = abs(n)
        while first <= day <= last:
            if self.is_workday(day):
                remaining -= 1
                if not remaining:
                    return day
            day += step
        raise ValueError(f"{year}-{month:02d} has fewer than {abs(n)} working days")

    # ----------------------------------------------------------------- internals

    def _note_fallback(self, year: int) -> None:
        if year not in self.fallback_years_used:
            self.fallback_years_used.add(year)
            logger.warning(
                "Working-day calendar %s has no schedule for %d; counting Monday to Friday as working days",
                self.source,
                year,
            )

    def _year_prefix(self, year: int) -> list[int]:
        prefix = self._prefix.get(year)
        if prefix is None:
            prefix = [0]
            day = date(year, 1, 1)
            while day.year == year:
                prefix.append(prefix[-1] + self.is_workday(day))
                day += _DAY
            self._prefix[year] = prefix
        elif year not in self._known:
            self._note_fallback(year)
        return prefix

    def _count_through(self, day: date) -> int:
        """Working days from 1 January of ``day``'s year up to and including ``day``."""
        return self._year_prefix(day.year)[day.timetuple().tm_yday]

    def _year_total(self, year: int) -> int:
        return self._year_prefix(year)[-1]


def _read_holiday_block(
    reader: YamlReader,
    block: yaml.Node,
    year: int,
    holidays: dict[date, str],
    makeup: dict[date, str],
    seen_at: dict[date, int | None],
) -> None:
    """Read one holiday of a year into ``holidays`` / ``makeup``, refusing clashes."""
    entry = reader.mapping(
        block, f"year {year}: holiday", required=("name", "days_off"), optional=("makeup_workdays",)
    )
    name = reader.string(entry["name"], f"year {year}: holiday name")
    what = f"{year} {name}"
    for key, target in (("days_off", holidays), ("makeup_workdays", makeup)):
        is_off = key == "days_off"
        if key not in entry:
            continue
        for node in reader.sequence(entry[key], f"{what}: {key}", allow_empty=not is_off):
            day = reader.date(node, f"{what}: {key}")
            if day.year != year:
                reader.fail(node, f"{what}: {day} is not in {year}; list it under {day.year}")
            if day in holidays or day in makeup:
                earlier = "a day off" if day in holidays else "a make-up working day"
                problem = (
                    "is listed twice"
                    if is_off == (day in holidays)
                    else "is listed both as a day off and as a make-up working day"
                )
                reader.fail(node, f"{what}: {day} {problem} (already {earlier} on line {seen_at[day]})")
            if not is_off and day.weekday() < 5:
                reader.fail(
                    node,
                    f"{what}: make-up working day {day} is a {_WEEKDAYS[day.weekday()]}; "
                    "it must be a Saturday or Sunday",
                )
            target[day] = name
            seen_at[day] = line_of(node)


__all__ = [
    "DEFAULT_CALENDAR_PATH",
    "WORKFLOWS_DIR",
    "CalendarFileError",
    "ConfigFileError",
    "WorkCalendar",
    "YamlReader",
    "line_of",
]
