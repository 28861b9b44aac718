"""Reporting periods and their due dates, from ``workflows/cadence.yaml``.

Periods follow the calendar year: months, quarters, half-years and the year. A plan's
reporting span selects the periods that overlap it; each period's due date comes from
its kind's due rule, counted in working days on a :class:`WorkCalendar`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from app.reminders.workdays import WORKFLOWS_DIR, ConfigFileError, WorkCalendar, YamlReader

DEFAULT_CADENCE_PATH = WORKFLOWS_DIR / "cadence.yaml"

#: Period kind → length in months. The kinds are fixed; their labels and due rules are data.
KIND_MONTHS: dict[str, int] = {"monthly": 1, "quarterly": 3, "half_year": 6, "annual": 12}

#: Due rule forms → Chinese description, {n} being the rule's number.
DUE_RULE_FORMS: dict[str, str] = {
    "nth_workday_of_next_month": "周期结束后次月第{n}个工作日",
    "workdays_after_end": "周期结束后第{n}个工作日",
}
_MAX_DUE_N = 60


class CadenceFileError(ConfigFileError):
    """``cadence.yaml`` is malformed."""


@dataclass(frozen=True)
class DueRule:
    """When a period's report is due: ``form`` (a key of :data:`DUE_RULE_FORMS`) and its number."""

    form: str
    n: int

    def describe(self) -> str:
        """Chinese wording for the UI, e.g. "周期结束后次月第5个工作日"."""
        return DUE_RULE_FORMS[self.form].format(n=self.n)


@dataclass(frozen=True)
class PeriodKind:
    """One kind of reporting period as the cadence file defines it."""

    key: str  # monthly | quarterly | half_year | annual
    label: str  # 月度报告 …
    plan_term: str  # 月调度 …
    due: DueRule
    second_half: bool = True  # half_year only: also ask for the 下半年 report

    @property
    def months(self) -> int:
        return KIND_MONTHS[self.key]


@dataclass(frozen=True)
class PeriodSpec:
    """One concrete period, e.g. quarterly 2025-01-01..2025-03-31 "2025年第1季度"."""

    kind: str
    start: date
    end: date
    label: str

    @property
    def key(self) -> str:
        """Stable ASCII key, unique per kind: "2025-03", "2025-Q1", "2025-H1", "2025"."""
        year, month = self.start.year, self.start.month
        if self.kind == "monthly":
            return f"{year}-{month:02d}"
        if self.kind == "quarterly":
            return f"{year}-Q{(month - 1) // 3 + 1}"
        if self.kind == "half_year":
            return f"{year}-H{(month - 1) // 6 + 1}"
        return str(year)


def load_cadence(path: str | Path = DEFAULT_CADENCE_PATH) -> dict[str, PeriodKind]:
    """Load and validate the cadence file; raises :class:`CadenceFileError` with file and line."""
    reader = YamlReader(path, CadenceFileError)
    root = reader.mapping(reader.load(), "cadence file", required=("kinds",))
    kinds: dict[str, PeriodKind] = {}
    pairs = reader.pairs(root["kinds"], "kinds")
    if not pairs:
        reader.fail(root["kinds"], "kinds must name at least one period kind")
    for key_node, body in pairs:
        key = key_node.value
        if key not in KIND_MONTHS:
            reader.fail(key_node, f"unknown period kind '{key}' (known: {', '.join(KIND_MONTHS)})")
        if key in kinds:
            reader.fail(key_node, f"period kind '{key}' is listed twice")
        optional = ("plan_term", "second_half") if key == "half_year" else ("plan_term",)
        fields = reader.mapping(
            body, f"kind {key}", required=("label", "due"), optional=optional, owner=key_node
        )
        label = reader.string(fields["label"], f"kind {key}: label")
        plan_term = (
            reader.string(fields["plan_term"], f"kind {key}: plan_term") if "plan_term" in fields else ""
        )
        rule_fields = reader.pairs(fields["due"], f"kind {key}: due")
        if len(rule_fields) != 1:
            reader.fail(
                fields["due"],
                f"kind {key}: due must hold exactly one rule, one of: {', '.join(DUE_RULE_FORMS)}",
            )
        [(form_node, n_node)] = rule_fields
        if form_node.value not in DUE_RULE_FORMS:
            reader.fail(
                form_node,
                f"kind {key}: unknown due rule '{form_node.value}' (known: {', '.join(DUE_RULE_FORMS)})",
            )
        n = reader.integer(n_node, f"kind {key}: {form_node.value}", low=1, high=_MAX_DUE_N)
        second_half = (
            reader.boolean(fields["second_half"], f"kind {key}: second_half")
            if "second_half" in fields
            else True
        )
        kinds[key] = PeriodKind(key, label, plan_term, DueRule(form_node.value, n), second_half)
    return kinds


def periods_for_span(
    kinds: Mapping[str, PeriodKind] | Iterable[PeriodKind], start: date, end: date
) -> list[PeriodSpec]:
    """Every period of the given kinds that overlaps ``start``..``end`` (both inclusive).

    Periods keep their full calendar bounds (Q1 is Jan–Mar even when the span starts in
    February). The list is ordered by end date, shorter kinds first, so March, Q1 and
    then H1/annual line up in the order their reports fall due.
    """
    if start > end:
        raise ValueError(f"span start {start} is after its end {end}")
    kind_defs = list(kinds.values()) if isinstance(kinds, Mapping) else list(kinds)
    periods: list[PeriodSpec] = []
    for kind in kind_defs:
        months = kind.months
        for year in range(start.year, end.year + 1):
            for first_month in range(1, 13, months):
                if kind.key == "half_year" and first_month == 7 and not kind.second_half:
                    continue
                p_start = date(year, first_month, 1)
                p_end = _add_months(p_start, months) - timedelta(days=1)
                if p_end >= start and p_start <= end:
                    periods.append(PeriodSpec(kind.key, p_start, p_end, _label(kind.key, p_start)))
    periods.sort(key=lambda p: (p.end, KIND_MONTHS[p.kind]))
    return periods


def due_date(period: PeriodSpec, calendar: WorkCalendar, kind_def: PeriodKind) -> date:
    """The day the report for ``period`` is due under ``kind_def``'s rule."""
    if period.kind != kind_def.key:
        raise ValueError(f"period is {period.kind}, but the rule given is for {kind_def.key}")
    rule = kind_def.due
    if rule.form == "nth_workday_of_next_month":
        following = period.end + timedelta(days=1)
        return calendar.nth_workday_of_month(following.year, following.month, rule.n)
    if rule.form == "workdays_after_end":
        return calendar.add_workdays(period.end, rule.n)
    raise ValueError(f"unknown due rule {rule.form}")


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def _label(kind: str, start: date) -> str:
    year, month = start.year, start.month
    if kind == "monthly":
        return f"{year}年{month}月"
    if kind == "quarterly":
        return f"{year}年第{(month - 1) // 3 + 1}季度"
    if kind == "half_year":
        return f"{year}年{'上' if month == 1 else '下'}半年"
    return f"{year}年度"
