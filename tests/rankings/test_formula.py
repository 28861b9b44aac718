"""The lagging-units formula: pure rules, table-driven (no app, no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.rankings.formula import (
    Formula,
    FormulaError,
    RankingDefinitions,
    UnitInputs,
    compare_rows,
    parse_definitions,
    rank_units,
    score,
)

BASE = {
    "version": "t.1", "effective": date(2025, 1, 1), "description": "测试", "normalise": "per_due_report",
    "min_due_reports": 1,
    "measures": [
        {"key": "on_time_rate", "label": "按时报送率", "weight": 40, "direction": "higher_better"},
        {"key": "overdue", "label": "逾期未报", "weight": 25, "direction": "lower_better", "cap": 1},
        {"key": "urges", "label": "被催办", "weight": 15, "direction": "lower_better", "steps": ["urge"]},
        {"key": "open_flags", "label": "未结疑点", "weight": 10, "direction": "lower_better", "cap": 0.5,
         "states": ["open"]},
        {"key": "returned", "label": "被退回", "weight": 10, "direction": "lower_better", "cap": 0.5},
    ],
    "tie_break": ["overdue", "on_time_rate"],
}
FORMULA = Formula.from_dict(BASE)


def unit(uid: int, name: str, due: int, on_time: int = 0, overdue: int = 0, urges: int = 0, flags: int = 0,
         returned: int = 0) -> UnitInputs:
    return UnitInputs(uid, name, "department", due, on_time, overdue, urges, flags, returned)


@pytest.mark.parametrize(("inputs", "expected"), [
    # everything on time, nothing else: 0
    (unit(1, "甲", 10, on_time=10), "0.00"),
    # nothing on time, everything overdue, one urge per report, flags and returns at their caps: 100
    (unit(1, "甲", 4, on_time=0, overdue=4, urges=4, flags=2, returned=2), "100.00"),
    # half on time (40 × 0.5 = 20), a quarter overdue (25 × 0.25 = 6.25): 26.25
    (unit(1, "甲", 4, on_time=2, overdue=1), "26.25"),
    # counts per due report: 1 flag in 4 reports = 0.25 ÷ cap 0.5 = 0.5 → 10 × 0.5 = 5
    (unit(1, "甲", 4, on_time=4, flags=1), "5.00"),
    # above the cap counts as the cap: 3 returns in 2 reports → 1 → 10
    (unit(1, "甲", 2, on_time=2, returned=3), "10.00"),
    # a big unit and a small one with the same shares score the same
    # (40 × 0.25 + 25 × 0.25 + 15 × 0.5 = 23.75)
    (unit(1, "甲", 40, on_time=30, overdue=10, urges=20), "23.75"),
    (unit(1, "甲", 4, on_time=3, overdue=1, urges=2), "23.75"),
    # rounding: 1/3 on time → lagging 0.6667 × 40 = 26.668 → 26.67
    (unit(1, "甲", 3, on_time=1), "26.67"),
])
def test_score(inputs, expected):
    assert score(FORMULA, inputs) == Decimal(expected)


@pytest.mark.parametrize(("units", "order", "ranks"), [
    # higher score lags more: rank 1
    ([unit(1, "甲", 4, on_time=4), unit(2, "乙", 4, on_time=0, overdue=4)], ["乙", "甲"], [1, 2]),
    # a unit with no due report scores 0 and is not ranked below min_due_reports (1)
    ([unit(1, "甲", 0), unit(2, "乙", 4, on_time=4)], ["乙", "甲"], [1, None]),
    # equal in everything: same rank, listed by name
    ([unit(2, "乙", 4, on_time=2), unit(1, "丙", 4, on_time=2), unit(3, "甲", 4, on_time=4)],
     ["丙", "乙", "甲"], [1, 1, 3]),
])
def test_rank(units, order, ranks):
    rows = rank_units(FORMULA, units)
    assert [r.unit for r in rows] == order
    assert [r.rank for r in rows] == ranks


def test_tie_break_decides_between_equal_scores():
    # both 20.00: 甲 by on-time (40 × 0.5); 乙 by overdue (25 × 0.8)
    a, b = unit(1, "甲", 10, on_time=5), unit(2, "乙", 10, on_time=10, overdue=8)
    assert score(FORMULA, a) == score(FORMULA, b) == Decimal("20.00")
    rows = rank_units(FORMULA, [a, b])
    assert [r.unit for r in rows] == ["乙", "甲"]  # overdue is the first tie-break
    assert [r.rank for r in rows] == [1, 2]
    swapped = Formula.from_dict({**BASE, "tie_break": ["on_time_rate"]})
    assert [r.unit for r in rank_units(swapped, [a, b])] == ["甲", "乙"]


def test_units_with_too_few_due_reports_are_listed_but_not_ranked():
    formula = Formula.from_dict({**BASE, "min_due_reports": 3})
    rows = rank_units(formula, [unit(1, "甲", 2, overdue=2), unit(2, "乙", 3, on_time=3)])
    assert [(r.unit, r.rank, r.score) for r in rows] == [("乙", 1, "0.00"), ("甲", None, None)]


def test_row_values_are_shares_and_counts():
    row = rank_units(FORMULA, [unit(1, "甲", 4, on_time=3, overdue=1, urges=2)])[0]
    assert row.values == {"on_time_rate": "0.7500", "overdue": "1", "urges": "2", "open_flags": "0", "returned": "0"}
    assert row.lagging["on_time_rate"] == "0.2500" and row.lagging["urges"] == "0.5000"


def test_formula_round_trips_through_its_stored_form():
    assert Formula.from_dict(FORMULA.to_dict()) == FORMULA


def test_version_in_force_is_the_newest_effective_one():
    later = {**BASE, "version": "t.2", "effective": date(2025, 7, 1)}
    defs = parse_definitions({"versions": [later, BASE]})  # order in the file does not matter
    assert isinstance(defs, RankingDefinitions)
    assert defs.current(date(2024, 12, 31)) is None
    assert defs.current(date(2025, 1, 1)).version == "t.1"
    assert defs.current(date(2025, 6, 30)).version == "t.1"
    assert defs.current(date(2025, 7, 1)).version == "t.2"
    assert defs.current(date(2026, 1, 1)).version == "t.2"
    assert defs.get("t.1").effective == date(2025, 1, 1)


def _measure(i: int, **changes):
    measures = [dict(m) for m in BASE["measures"]]
    measures[i].update(changes)
    return {**BASE, "measures": measures}


@pytest.mark.parametrize(("version", "keys", "words"), [
    ({**BASE, "version": 2025.1}, ("version",), "text"),
    ({**BASE, "effective": "2025-13-01"}, ("effective",), "date"),
    ({**BASE, "normalise": "none"}, ("normalise",), "normalise"),
    ({**BASE, "min_due_reports": 0}, ("min_due_reports",), "whole number"),
    ({**BASE, "measures": []}, ("measures",), "non-empty"),
    (_measure(1, key="late"), ("measures", 1, "key"), "unknown measure"),
    (_measure(1, weight=0), ("measures", 1, "weight"), "above 0"),
    (_measure(1, weight="x"), ("measures", 1, "weight"), "number"),
    (_measure(1, direction="higher_better"), ("measures", 1, "direction"), "lower_better"),
    (_measure(0, cap=2), ("measures", 0, "cap"), "lower_better measures only"),
    (_measure(2, steps=[]), ("measures", 2, "steps"), "non-empty list"),
    (_measure(3, states=["gone"]), ("measures", 3, "states"), "unknown flag state"),
    (_measure(1, steps=["urge"]), ("measures", 1, "steps"), "urges only"),
    (_measure(1, colour="red"), ("measures", 1, "colour"), "unknown field"),
    ({**BASE, "measures": [*BASE["measures"], BASE["measures"][1]]}, ("measures", 5, "key"), "listed twice"),
    ({**BASE, "tie_break": ["speed"]}, ("tie_break", 0), "not a measure"),
])
def test_bad_definitions_name_the_place(version, keys, words):
    with pytest.raises(FormulaError) as caught:
        parse_definitions({"versions": [version]})
    assert caught.value.keys == ("versions", 0, *keys)
    assert words in caught.value.message


def test_two_versions_with_one_id_or_one_date_are_refused():
    with pytest.raises(FormulaError, match="listed twice"):
        parse_definitions({"versions": [BASE, {**BASE, "effective": date(2025, 2, 1)}]})
    with pytest.raises(FormulaError, match="take effect on"):
        parse_definitions({"versions": [BASE, {**BASE, "version": "t.2"}]})


def test_compare_rows_names_each_changed_field_and_missing_units():
    old = [{"unit_id": 1, "unit": "甲", "due": 3, "overdue": 1}, {"unit_id": 2, "unit": "乙", "due": 3, "overdue": 0}]
    new = [{"unit_id": 1, "unit": "甲", "due": 3, "overdue": 2}, {"unit_id": 3, "unit": "丙", "due": 1, "overdue": 0}]
    changes = compare_rows(old, new, ("due", "overdue"))
    assert {(c["unit"], c["field"], c["stored"], c["now"]) for c in changes} == {
        ("甲", "overdue", 1, 2), ("乙", "unit", True, False), ("丙", "unit", False, True)}
    assert compare_rows(old, old, ("due", "overdue")) == []
