"""Plausibility rules (疑点): pure functions that question series of reported figures.

No Flask, no database. A rule takes figure points (``FigurePoint``), its parameters and a small context, and
returns flags (``Flag``) with a Chinese message for the review pages and the evidence behind it. A flag is a
question to the reporting unit, not a finding: the review workflow decides what follows.

Parameters live in ``workflows/plausibility.yaml`` (``load_rules``): defaults for every indicator, then
per-indicator overrides, merged parameter by parameter over the defaults written in the code below.
``run_rules`` applies every enabled rule to every indicator present in the points.

Rules
    ``cumulative_decrease``   a year-to-date figure below the one before it in the same year;
    ``jump``                  change from the previous period above a relative threshold (and a minimum
                              absolute change); for year-to-date series it compares the monthly additions;
    ``out_of_bounds``         a figure outside [min, max];
    ``sum_mismatch``          the league/city figures do not add up to the region's figure;
    ``late_upward_revision``  an upward revision entered shortly before an evaluation deadline;
    ``repeated_value``        one non-zero value over several consecutive periods, or from several units in
                              one period;
    ``round_heaping``         far more round figures (multiples of a base) than chance would give.

Evidence holds JSON-ready values only: Decimals as plain-notation strings, dates as ISO strings, so a flag can
be stored in a JSON column or an audit event as is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CHINA_TZ",
    "RULES",
    "CumulativeDecreaseParams",
    "FigurePoint",
    "Flag",
    "IndicatorConfig",
    "JumpParams",
    "LateUpwardRevisionParams",
    "OutOfBoundsParams",
    "RepeatedValueParams",
    "RoundHeapingParams",
    "Rule",
    "RuleConfigError",
    "RuleContext",
    "RulesConfig",
    "SumMismatchParams",
    "cumulative_decrease",
    "jump",
    "late_upward_revision",
    "load_rules",
    "out_of_bounds",
    "parse_rules",
    "repeated_value",
    "round_heaping",
    "run_rules",
    "sum_mismatch",
]

# China Standard Time has no daylight saving: a fixed offset needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "CST")


# --- inputs and outputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FigurePoint:
    """One reported figure of one unit for one indicator and period.

    ``cumulative``: the figure is year-to-date (累计), e.g. 城镇新增就业 through May. ``revised_from``: the
    value it replaced when it was last changed, ``entered_at`` when that change (or the first entry) was made.
    """

    unit: str
    indicator: str
    period_end: date
    value: Decimal
    entered_at: datetime | None = None
    revised_from: Decimal | None = None
    cumulative: bool = False


@dataclass(frozen=True)
class Flag:
    """A figure a rule questions (疑点). ``period_end`` is the period of the questioned figure."""

    rule: str
    unit: str
    indicator: str
    period_end: date
    message_zh: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a rule needs besides points and parameters.

    ``measure`` is the unit of measure for messages (万人, %, 个). ``region_unit`` reports the region-level
    figure that ``league_units`` (the 12 leagues/cities) should add up to."""

    measure: str = ""
    region_unit: str | None = None
    league_units: tuple[str, ...] = ()


# --- parameters -----------------------------------------------------------------------------------------------
# Each field's metadata says how the YAML value is read and checked: kind is one of bool, int, decimal,
# decimal? (a number or null) and dates (a list of dates); ge / gt / le / lt bound numbers.


def _kind(kind: str, **bounds: Any) -> dict[str, Any]:
    return {"kind": kind, **bounds}


_ENABLED = _kind("bool")


@dataclass(frozen=True)
class CumulativeDecreaseParams:
    enabled: bool = field(default=True, metadata=_ENABLED)
    # Decreases up to this amount are let pass (e.g. 0.1 when a figure in 万人 is rounded to one decimal).
    min_decrease: Decimal = field(default=Decimal(0), metadata=_kind("decimal", ge=0))


@dataclass(frozen=True)
class JumpParams:
    enabled: bool = field(default=True, metadata=_ENABLED)
    # Relative change that makes a jump: 0.5 = 50 %.
    max_relative_change: Decimal = field(default=Decimal("0.5"), metadata=_kind("decimal", gt=0))
    # Smaller absolute changes are let pass, however large relatively: tiny bases.
    min_absolute_change: Decimal = field(default=Decimal(0), metadata=_kind("decimal", ge=0))


@dataclass(frozen=True)
class OutOfBoundsParams:
    enabled: bool = field(default=True, metadata=_ENABLED)
    min: Decimal | None = field(default=None, metadata=_kind("decimal?"))
    max: Decimal | None = field(default=None, metadata=_kind("decimal?"))

    def check(self) -> str | None:
        if self.min is not None and self.max is not None and self.min > self.max:
            return f"min {self.min} is greater than max {self.max}"
        return None


@dataclass(frozen=True)
class SumMismatchParams:
    enabled: bool = field(default=True, metadata=_ENABLED)
    # Relative difference let pass: 0.01 = 1 % of the region's figure.
    tolerance: Decimal = field(default=Decimal("0.01"), metadata=_kind("decimal", ge=0, lt=1))


@dataclass(frozen=True)
class LateUpwardRevisionParams:
    enabled: bool = field(default=True, metadata=_ENABLED)
    days_before_deadline: int = field(default=10, metadata=_kind("int", ge=0))
    deadlines: tuple[date, ...] = field(default=(), metadata=_kind("dates"))


@dataclass(frozen=True)
class RepeatedValueParams:
    enabled: bool = field(default=True, metadata=_ENABLED)
    # The same value over this many consecutive periods of one unit ...
    min_periods: int = field(default=3, metadata=_kind("int", ge=2))
    # ... or from this many units in one period.
    min_units: int = field(default=4, metadata=_kind("int", ge=2))
    # Values below this (in absolute terms) are ignored: small counts (1 studio, 2 stations) coincide honestly.
    ignore_below: Decimal = field(default=Decimal(0), metadata=_kind("decimal", ge=0))


@dataclass(frozen=True)
class RoundHeapingParams:
    enabled: bool = field(default=True, metadata=_ENABLED)
    # A figure is round when it is a multiple of base ...
    base: Decimal = field(default=Decimal(100), metadata=_kind("decimal", gt=0))
    # ... and figures are reported in steps of resolution (1 for persons, 0.1 for 万人 with one decimal).
    resolution: Decimal = field(default=Decimal(1), metadata=_kind("decimal", gt=0))
    max_share: Decimal = field(default=Decimal("0.5"), metadata=_kind("decimal", gt=0, lt=1))
    min_figures: int = field(default=6, metadata=_kind("int", ge=2))

    @property
    def chance_share(self) -> Decimal:
        """Share of multiples of ``base`` expected when the last digits are arbitrary: resolution / base."""
        return min(self.resolution / self.base, Decimal(1))

    def check(self) -> str | None:
        if self.max_share <= self.chance_share:
            return (
                f"max_share {self.max_share} is not above the share expected by chance "
                f"(resolution / base = {self.chance_share}): every unit would be flagged"
            )
        return None


# --- helpers ----------------------------------------------------------------------------------------------------


def _dec(value: Decimal) -> str:
    """Plain notation, as entered: Decimal('8.20') -> '8.20'."""
    return format(value, "f")


def _amount(value: Decimal, measure: str) -> str:
    text = _dec(value)
    if not measure:
        return text
    return text + measure if measure.startswith(("%", "‰")) else f"{text} {measure}"


def _percent(ratio: Decimal) -> str:
    text = _dec((ratio * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _period(day: date) -> str:
    """2025-05-31 -> 2025年5月 (a month-end is the month); any other day is written in full."""
    if (day + timedelta(days=1)).day == 1:
        return f"{day.year}年{day.month}月"
    return f"{day.year}年{day.month}月{day.day}日"


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _months(day: date) -> int:
    return day.year * 12 + day.month


def _places(*values: Decimal) -> int:
    """Decimal places the figures were entered with (at least 0)."""
    return max(0, *(-v.as_tuple().exponent for v in values if isinstance(v.as_tuple().exponent, int)))


def _series(points: Iterable[FigurePoint]) -> dict[tuple[str, str], list[FigurePoint]]:
    """Points by (unit, indicator), each list in period order. A second figure for the same period is an
    error upstream (one figure per report), not something to guess about."""
    by_key: dict[tuple[str, str], list[FigurePoint]] = defaultdict(list)
    for point in points:
        by_key[point.unit, point.indicator].append(point)
    for (unit, indicator), series in by_key.items():
        series.sort(key=lambda p: p.period_end)
        for a, b in pairwise(series):
            if a.period_end == b.period_end:
                raise ValueError(f"two figures for {unit} / {indicator} / {a.period_end.isoformat()}")
    return dict(sorted(by_key.items()))


def _flag(rule: str, point: FigurePoint, message: str, evidence: dict[str, Any]) -> Flag:
    return Flag(rule, point.unit, point.indicator, point.period_end, message, evidence)


# --- the rules ----------------------------------------------------------------------------------------------------


def cumulative_decrease(
    points: Iterable[FigurePoint],
    params: CumulativeDecreaseParams | None = None,
    context: RuleContext | None = None,
) -> list[Flag]:
    """A year-to-date figure lower than the unit's previous one in the same year (January starts afresh)."""
    params = params or CumulativeDecreaseParams()
    measure = (context or RuleContext()).measure
    flags = []
    for series in _series(points).values():
        ytd = [p for p in series if p.cumulative]
        for before, point in pairwise(ytd):
            if before.period_end.year != point.period_end.year:
                continue
            decrease = before.value - point.value
            if decrease > params.min_decrease:
                message = (
                    f"累计值下降：{_period(point.period_end)} {_amount(point.value, measure)}，"
                    f"低于上期（{_period(before.period_end)}）{_amount(before.value, measure)}"
                )
                flags.append(
                    _flag(
                        "cumulative_decrease",
                        point,
                        message,
                        {
                            "value": _dec(point.value),
                            "previous_value": _dec(before.value),
                            "previous_period_end": before.period_end.isoformat(),
                            "decrease": _dec(decrease),
                        },
                    )
                )
    return flags


def _monthly_additions(
    series: Sequence[FigurePoint],
) -> list[tuple[FigurePoint, FigurePoint | None, Decimal]]:
    """(point, the point before it or None, average addition per month) for a year-to-date series.

    A year-to-date figure at month m covers months 1..m, so the first figure of a year adds value / m and a
    later one adds (value - previous) / (months between): a missing month does not look like a doubling."""
    out = []
    before: FigurePoint | None = None
    for point in series:
        if before is None or before.period_end.year != point.period_end.year:
            out.append((point, None, point.value / point.period_end.month))
        else:
            months = _months(point.period_end) - _months(before.period_end)
            out.append((point, before, (point.value - before.value) / months))
        before = point
    return out


def jump(
    points: Iterable[FigurePoint],
    params: JumpParams | None = None,
    context: RuleContext | None = None,
) -> list[Flag]:
    """Change from the previous period above ``max_relative_change`` and at least ``min_absolute_change``.

    For year-to-date series, comparing the totals would flag every February (about twice January): the
    monthly additions are compared instead, within one year."""
    params = params or JumpParams()
    measure = (context or RuleContext()).measure
    flags = []

    def over(change: Decimal, base: Decimal) -> Decimal | None:
        """The relative change if it is a jump (``Decimal('Infinity')`` from a zero base), else None."""
        if change == 0 or abs(change) < params.min_absolute_change:
            return None
        if base == 0:
            return Decimal("Infinity") if change > 0 else Decimal("-Infinity")
        relative = change / abs(base)
        return relative if abs(relative) > params.max_relative_change else None

    def wording(relative: Decimal) -> str:
        if relative.is_infinite():
            return "由零增加" if relative > 0 else "降至负值"
        return f"{'增长' if relative > 0 else '下降'} {_percent(abs(relative))}"

    for series in _series(points).values():
        flows = [p for p in series if not p.cumulative]
        for before, point in pairwise(flows):
            relative = over(point.value - before.value, before.value)
            if relative is None:
                continue
            message = (
                f"环比跳变：{_period(point.period_end)} {_amount(point.value, measure)}，"
                f"上期（{_period(before.period_end)}）{_amount(before.value, measure)}，{wording(relative)}"
            )
            flags.append(
                _flag(
                    "jump",
                    point,
                    message,
                    {
                        "basis": "value",
                        "value": _dec(point.value),
                        "previous_value": _dec(before.value),
                        "previous_period_end": before.period_end.isoformat(),
                        "change": _dec(point.value - before.value),
                        "relative_change": None
                        if relative.is_infinite()
                        else _dec(relative.quantize(Decimal("0.0001"))),
                    },
                )
            )

        additions = _monthly_additions([p for p in series if p.cumulative])
        for (before, _, rate_before), (point, point_before, rate) in pairwise(additions):
            if point_before is not before:  # a new year starts: no addition before it to compare with
                continue
            if rate < 0 or rate_before < 0:  # a falling year-to-date figure: cumulative_decrease's business
                continue
            relative = over(rate - rate_before, rate_before)
            if relative is None:
                continue
            # An average over months may not terminate: one place more than the figures, trailing zeros off.
            step = Decimal(1).scaleb(-(_places(point.value, before.value) + 1))
            shown, shown_before = (r.quantize(step).normalize() for r in (rate, rate_before))
            message = (
                f"月增量跳变：{_period(point.period_end)} 月均新增 {_amount(shown, measure)}，"
                f"上期（{_period(before.period_end)}）月均新增 {_amount(shown_before, measure)}，"
                f"{wording(relative)}"
            )
            flags.append(
                _flag(
                    "jump",
                    point,
                    message,
                    {
                        "basis": "monthly_addition",
                        "value": _dec(point.value),
                        "previous_value": _dec(before.value),
                        "previous_period_end": before.period_end.isoformat(),
                        "monthly_addition": _dec(shown),
                        "previous_monthly_addition": _dec(shown_before),
                        "relative_change": None
                        if relative.is_infinite()
                        else _dec(relative.quantize(Decimal("0.0001"))),
                    },
                )
            )
    return flags


def out_of_bounds(
    points: Iterable[FigurePoint],
    params: OutOfBoundsParams | None = None,
    context: RuleContext | None = None,
) -> list[Flag]:
    """A figure below ``min`` or above ``max`` (bounds included in the allowed range)."""
    params = params or OutOfBoundsParams()
    measure = (context or RuleContext()).measure
    flags = []
    for series in _series(points).values():
        for point in series:
            if params.min is not None and point.value < params.min:
                side, bound = "低于下限", params.min
            elif params.max is not None and point.value > params.max:
                side, bound = "高于上限", params.max
            else:
                continue
            message = f"超出合理范围：{_period(point.period_end)} {_amount(point.value, measure)}，{side} {_amount(bound, measure)}"
            evidence = {
                "value": _dec(point.value),
                "min": None if params.min is None else _dec(params.min),
                "max": None if params.max is None else _dec(params.max),
            }
            flags.append(_flag("out_of_bounds", point, message, evidence))
    return flags


def sum_mismatch(
    points: Iterable[FigurePoint],
    params: SumMismatchParams | None = None,
    context: RuleContext | None = None,
) -> list[Flag]:
    """The league/city figures of a period do not add up to the region's figure within ``tolerance``.

    Compared only when the region's figure and every league/city figure of the period are in: a partial sum
    says nothing about plausibility (missing reports are the reminder ladder's business). The flag is the
    region unit's."""
    params = params or SumMismatchParams()
    context = context or RuleContext()
    if context.region_unit is None or not context.league_units:
        return []
    leagues = set(context.league_units)
    cells: dict[tuple[str, date], dict[str, FigurePoint]] = defaultdict(dict)
    for series in _series(points).values():
        for point in series:
            if point.unit == context.region_unit or point.unit in leagues:
                cells[point.indicator, point.period_end][point.unit] = point
    flags = []
    for (_indicator, _period_end), by_unit in sorted(cells.items()):
        region = by_unit.get(context.region_unit)
        if region is None or not leagues <= by_unit.keys():
            continue
        total = sum((by_unit[u].value for u in context.league_units), Decimal(0))
        difference = total - region.value
        if difference == 0:
            continue
        relative = abs(difference) / abs(region.value) if region.value else None
        if relative is not None and relative <= params.tolerance:
            continue
        gap = _amount(abs(difference), context.measure)
        if relative is not None:
            gap += f"（{_percent(relative)}）"
        message = (
            f"汇总不一致：{_period(region.period_end)} 各盟市合计 {_amount(total, context.measure)}，"
            f"{region.unit}填报 {_amount(region.value, context.measure)}，相差 {gap}"
        )
        evidence = {
            "region_value": _dec(region.value),
            "league_sum": _dec(total),
            "difference": _dec(difference),
            "relative_difference": None if relative is None else _dec(relative.quantize(Decimal("0.0001"))),
            "tolerance": _dec(params.tolerance),
            "league_values": {u: _dec(by_unit[u].value) for u in context.league_units},
        }
        flags.append(_flag("sum_mismatch", region, message, evidence))
    return flags


def _entered_day(moment: datetime) -> date:
    """The calendar day in China of an entry time; a naive time is taken as already local."""
    return moment.astimezone(CHINA_TZ).date() if moment.tzinfo is not None else moment.date()


def late_upward_revision(
    points: Iterable[FigurePoint],
    params: LateUpwardRevisionParams | None = None,
    context: RuleContext | None = None,
) -> list[Flag]:
    """A figure revised upward (``revised_from`` < ``value``) on a day 0..N days before an evaluation
    deadline, N = ``days_before_deadline``. The first such deadline is named; one flag per figure."""
    params = params or LateUpwardRevisionParams()
    measure = (context or RuleContext()).measure
    deadlines = sorted(params.deadlines)
    flags = []
    for series in _series(points).values():
        for point in series:
            if point.revised_from is None or point.entered_at is None or not point.revised_from < point.value:
                continue
            entered = _entered_day(point.entered_at)
            for deadline in deadlines:
                days = (deadline - entered).days
                if 0 <= days <= params.days_before_deadline:
                    break
            else:
                continue
            increase = point.value - point.revised_from
            share = f"（+{_percent(increase / abs(point.revised_from))}）" if point.revised_from else ""
            message = (
                f"临近考核上调：{_period(point.period_end)} 由 {_amount(point.revised_from, measure)} "
                f"上调为 {_amount(point.value, measure)}{share}，修改于 {_day(entered)}，"
                f"距考核截止日 {_day(deadline)} {days} 天"
            )
            evidence = {
                "value": _dec(point.value),
                "revised_from": _dec(point.revised_from),
                "increase": _dec(increase),
                "entered_at": point.entered_at.isoformat(),
                "deadline": deadline.isoformat(),
                "days_before_deadline": days,
            }
            flags.append(_flag("late_upward_revision", point, message, evidence))
    return flags


def repeated_value(
    points: Iterable[FigurePoint],
    params: RepeatedValueParams | None = None,
    context: RuleContext | None = None,
) -> list[Flag]:
    """One non-zero value over ``min_periods`` consecutive periods of a unit (one flag per run, at its last
    period), or from ``min_units`` units in one period (one flag per unit, so each unit answers for its own
    figure). ``run_rules`` skips indicators marked ``expected_flat``; a direct caller decides for itself."""
    params = params or RepeatedValueParams()
    measure = (context or RuleContext()).measure
    series_by_key = _series(points)

    def counts(value: Decimal) -> bool:
        return value != 0 and abs(value) >= params.ignore_below

    flags = []
    for series in series_by_key.values():
        run: list[FigurePoint] = []
        for point in [*series, None]:
            if point is not None and run and point.value == run[0].value:
                run.append(point)
                continue
            if len(run) >= params.min_periods and counts(run[0].value):
                last = run[-1]
                message = (
                    f"数值重复：{_period(run[0].period_end)}至{_period(last.period_end)} 连续 {len(run)} 期"
                    f"均为 {_amount(run[0].value, measure)}"
                )
                evidence = {
                    "kind": "over_time",
                    "value": _dec(run[0].value),
                    "periods": [p.period_end.isoformat() for p in run],
                }
                flags.append(_flag("repeated_value", last, message, evidence))
            run = [point] if point is not None else []

    cells: dict[tuple[str, date], list[FigurePoint]] = defaultdict(list)
    for series in series_by_key.values():
        for point in series:
            cells[point.indicator, point.period_end].append(point)
    for (_indicator, period_end), cell in sorted(cells.items()):
        by_value: dict[Decimal, list[FigurePoint]] = defaultdict(list)
        for point in cell:
            if counts(point.value):
                by_value[point.value].append(point)
        for value, same in by_value.items():
            if len(same) < params.min_units:
                continue
            units = [p.unit for p in same]
            named = "、".join(units[:3]) + (
                f"等 {len(units)} 个单位" if len(units) > 3 else f" {len(units)} 个单位"
            )
            message = f"数值雷同：{_period(period_end)} {named}均填报 {_amount(value, measure)}"
            for point in same:
                evidence = {"kind": "across_units", "value": _dec(point.value), "units": units}
                flags.append(_flag("repeated_value", point, message, evidence))
    return flags


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), 0 < p < 1, summed in log space (no overflow for long series).

    Floats are fine here: the result is evidence shown to two significant digits, not a figure."""
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = [
        log_n - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * log_p + (n - j) * log_q
        for j in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def round_heaping(
    points: Iterable[FigurePoint],
    params: RoundHeapingParams | None = None,
    context: RuleContext | None = None,
) -> list[Flag]:
    """Of a unit's non-zero figures (at least ``min_figures``), the share that are multiples of ``base`` is
    above ``max_share`` and above the share chance gives (``resolution / base``).

    The evidence gives the share, the chance share and the binomial probability of so many round figures by
    chance. One flag per unit and indicator, at its latest period."""
    params = params or RoundHeapingParams()
    chance = params.chance_share
    flags = []
    for (_unit, _indicator), series in _series(points).items():
        figures = [p for p in series if p.value != 0]
        if len(figures) < params.min_figures:
            continue
        round_ones = [p for p in figures if p.value % params.base == 0]
        share = Decimal(len(round_ones)) / len(figures)
        if share <= params.max_share or share <= chance:
            continue
        p_value = _binomial_tail(len(round_ones), len(figures), float(chance))
        latest = series[-1]
        message = (
            f"取整堆积：{latest.unit} {len(figures)} 个填报值中有 {len(round_ones)} 个是 {_dec(params.base)} 的整数倍"
            f"（{_percent(share)}），随机情况下约为 {_percent(chance)}"
        )
        evidence = {
            "figures": len(figures),
            "round_figures": len(round_ones),
            "share": _dec(share.quantize(Decimal("0.0001"))),
            "chance_share": _dec(chance),
            "p_value": f"{p_value:.2E}",
            "base": _dec(params.base),
            "round_periods": [p.period_end.isoformat() for p in round_ones],
        }
        flags.append(_flag("round_heaping", latest, message, evidence))
    return flags


# --- the registry -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    label_zh: str
    check: Callable[..., list[Flag]]
    params: type


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in [
        Rule("cumulative_decrease", "累计值下降", cumulative_decrease, CumulativeDecreaseParams),
        Rule("jump", "环比跳变", jump, JumpParams),
        Rule("out_of_bounds", "超出合理范围", out_of_bounds, OutOfBoundsParams),
        Rule("sum_mismatch", "汇总不一致", sum_mismatch, SumMismatchParams),
        Rule("late_upward_revision", "临近考核上调", late_upward_revision, LateUpwardRevisionParams),
        Rule("repeated_value", "数值重复", repeated_value, RepeatedValueParams),
        Rule("round_heaping", "取整堆积", round_heaping, RoundHeapingParams),
    ]
}


# --- configuration --------------------------------------------------------------------------------------------


class RuleConfigError(ValueError):
    """A bad plausibility file; the message starts with ``file:line:``."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source, self.line, self.detail = source, line, message
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")


@dataclass(frozen=True)
class IndicatorConfig:
    """Everything the rules need about one indicator: every rule's parameters, resolved."""

    key: str
    measure: str
    expected_flat: bool
    params: Mapping[str, Any]


@dataclass(frozen=True)
class RulesConfig:
    source: str
    defaults: Mapping[str, Any]
    indicators: Mapping[str, IndicatorConfig]

    def for_indicator(self, key: str) -> IndicatorConfig:
        """The indicator's settings; one the file does not name gets the defaults."""
        found = self.indicators.get(key)
        return found if found is not None else IndicatorConfig(key, "", False, self.defaults)


def default_config() -> RulesConfig:
    """The rules with the parameters written in this module, as if the file were empty."""
    return RulesConfig("<defaults>", {name: rule.params() for name, rule in RULES.items()}, {})


_INDICATOR_FIELDS = {"measure": "str", "expected_flat": "bool"}


class _Reader:
    """Walks the composed YAML nodes, so every error can name the line it is about."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.loader = yaml.SafeLoader(text)
        try:
            self.root = self.loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise RuleConfigError(
                source, mark.line + 1 if mark else None, f"not valid YAML: {problem}"
            ) from None

    def error(self, node: yaml.Node | None, message: str) -> RuleConfigError:
        return RuleConfigError(self.source, node.start_mark.line + 1 if node is not None else None, message)

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            return []  # "indicators:" with nothing under it yet
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping (key: value lines)")
        items, seen = [], set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise self.error(key_node, f"{what}: keys must be plain names, got {key_node.value!r}")
            if key_node.value in seen:
                raise self.error(key_node, f"{what}: {key_node.value!r} is given twice")
            seen.add(key_node.value)
            items.append((key_node.value, key_node, value_node))
        return items

    def scalar(self, node: yaml.Node, kind: str, what: str) -> Any:
        if kind == "dates":
            if not isinstance(node, yaml.SequenceNode):
                raise self.error(node, f"{what} must be a list of dates like [2025-06-30, 2025-12-31]")
            days = [self.scalar(item, "date", f"{what} item") for item in node.value]
            return tuple(sorted(days))
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, f"{what} must be a single value")
        tag, text = node.tag.rsplit(":", 1)[-1], node.value
        if kind == "decimal?" and tag == "null":
            return None
        if kind in ("decimal", "decimal?"):
            if tag == "int":
                return Decimal(self.loader.construct_yaml_int(node))
            if tag == "float":
                try:
                    number = Decimal(text.replace("_", ""))
                except InvalidOperation:  # 1:30.5 (base 60) and the like
                    number = None
                if number is not None and number.is_finite():
                    return number
            raise self.error(node, f"{what} must be a number, got {text!r}")
        if kind == "int":
            if tag == "int":
                return self.loader.construct_yaml_int(node)
            raise self.error(node, f"{what} must be a whole number, got {text!r}")
        if kind == "bool":
            if tag == "bool":
                return self.loader.construct_yaml_bool(node)
            raise self.error(node, f"{what} must be true or false, got {text!r}")
        if kind == "date":
            try:
                value = self.loader.construct_yaml_timestamp(node) if tag == "timestamp" else None
            except ValueError:  # 2025-13-01 looks like a date to YAML
                value = None
            if isinstance(value, date) and not isinstance(value, datetime):
                return value
            raise self.error(node, f"{what} must be a date like 2025-12-31, got {text!r}")
        if kind == "str":
            if tag == "str" and text.strip():
                return text
            raise self.error(node, f"{what} must be text, got {text!r}")
        raise AssertionError(kind)

    def rule_params(self, rule_name: str, key_node: yaml.Node, node: yaml.Node, base: Any, where: str) -> Any:
        """``base`` with the parameters this node sets; ``rule: false`` is short for ``{enabled: false}``."""
        rule = RULES.get(rule_name)
        if rule is None:
            raise self.error(key_node, f"{where}: unknown rule {rule_name!r} (rules: {', '.join(RULES)})")
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool"):
            return replace(base, enabled=self.loader.construct_yaml_bool(node))
        specs = {f.name: f for f in fields(rule.params)}
        changes = {}
        for name, name_node, value_node in self.mapping(node, f"{where}.{rule_name}"):
            spec = specs.get(name)
            if spec is None:
                raise self.error(
                    name_node,
                    f"{where}.{rule_name}: unknown parameter {name!r} (parameters: {', '.join(specs)})",
                )
            value = self.scalar(value_node, spec.metadata["kind"], f"{where}.{rule_name}.{name}")
            problem = _out_of_range(value, spec.metadata)
            if problem:
                raise self.error(value_node, f"{where}.{rule_name}.{name}: {problem}, got {value}")
            changes[name] = value
        params = replace(base, **changes)
        problem = params.check() if hasattr(params, "check") else None
        if problem:
            raise self.error(key_node, f"{where}.{rule_name}: {problem}")
        return params


def _out_of_range(value: Any, bounds: Mapping[str, Any]) -> str | None:
    if value is None or isinstance(value, tuple | bool):
        return None
    checks = [
        ("ge", lambda b: value >= b, "at least"),
        ("gt", lambda b: value > b, "greater than"),
        ("le", lambda b: value <= b, "at most"),
        ("lt", lambda b: value < b, "less than"),
    ]
    for key, ok, words in checks:
        if bounds.get(key) is not None and not ok(bounds[key]):
            return f"must be {words} {bounds[key]}"
    return None


def parse_rules(text: str, source: str = "<plausibility>") -> RulesConfig:
    """Read and check a plausibility file's text; ``source`` names it in errors."""
    reader = _Reader(text, source)
    root = reader.root
    if root is None:
        return replace(default_config(), source=source)
    defaults: dict[str, Any] = {name: rule.params() for name, rule in RULES.items()}
    indicators_node = None
    for key, key_node, value_node in reader.mapping(root, "the file"):
        if key == "defaults":
            for rule_name, rule_key, rule_node in reader.mapping(value_node, "defaults"):
                base = defaults.get(rule_name)
                defaults[rule_name] = reader.rule_params(rule_name, rule_key, rule_node, base, "defaults")
        elif key == "indicators":
            indicators_node = value_node
        else:
            raise reader.error(key_node, f"unknown section {key!r} (sections: defaults, indicators)")

    indicators: dict[str, IndicatorConfig] = {}
    if indicators_node is not None:
        for key, _key_node, node in reader.mapping(indicators_node, "indicators"):
            attributes: dict[str, Any] = {"measure": "", "expected_flat": False}
            params = dict(defaults)
            for name, name_node, value_node in reader.mapping(node, f"indicators.{key}"):
                if name in _INDICATOR_FIELDS:
                    attributes[name] = reader.scalar(
                        value_node, _INDICATOR_FIELDS[name], f"indicators.{key}.{name}"
                    )
                elif name in RULES:
                    params[name] = reader.rule_params(
                        name, name_node, value_node, defaults[name], f"indicators.{key}"
                    )
                else:
                    raise reader.error(
                        name_node,
                        f"indicators.{key}: unknown rule or setting {name!r} "
                        f"(settings: {', '.join(_INDICATOR_FIELDS)}; rules: {', '.join(RULES)})",
                    )
            indicators[key] = IndicatorConfig(key, attributes["measure"], attributes["expected_flat"], params)
    return RulesConfig(source, defaults, indicators)


def load_rules(path: str | Path) -> RulesConfig:
    """Read and check ``workflows/plausibility.yaml`` (or another file); errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleConfigError(str(path), None, f"cannot read: {exc}") from None
    return parse_rules(text, str(path))


# --- running ----------------------------------------------------------------------------------------------------


def run_rules(
    points: Iterable[FigurePoint],
    config: RulesConfig | None = None,
    *,
    region_unit: str | None = None,
    league_units: Sequence[str] = (),
    measures: Mapping[str, str] | None = None,
) -> list[Flag]:
    """Every enabled rule over every indicator in ``points``, with that indicator's parameters.

    ``measures`` (indicator -> unit of measure, e.g. from the plan's targets) fills in what the file does
    not give. Flags come sorted by indicator, unit, period and rule (in ``RULES`` order)."""
    config = config or default_config()
    by_indicator: dict[str, list[FigurePoint]] = defaultdict(list)
    for point in points:
        by_indicator[point.indicator].append(point)
    order = {name: i for i, name in enumerate(RULES)}
    flags: list[Flag] = []
    for indicator, group in sorted(by_indicator.items()):
        settings = config.for_indicator(indicator)
        measure = settings.measure or (measures or {}).get(indicator, "")
        context = RuleContext(measure, region_unit, tuple(league_units))
        for name, rule in RULES.items():
            params = settings.params[name]
            if not params.enabled or (name == "repeated_value" and settings.expected_flat):
                continue
            flags.extend(rule.check(group, params, context))
    flags.sort(key=lambda f: (f.indicator, f.unit, f.period_end, order[f.rule]))
    return flags
