"""Plausibility rules: a planted case each rule must flag, a clean case it must not, and the YAML checks."""

from __future__ import annotations

import calendar
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from app.integrity.rules import (
    RULES,
    CumulativeDecreaseParams,
    FigurePoint,
    JumpParams,
    LateUpwardRevisionParams,
    OutOfBoundsParams,
    RepeatedValueParams,
    RoundHeapingParams,
    RuleConfigError,
    RuleContext,
    SumMismatchParams,
    cumulative_decrease,
    jump,
    late_upward_revision,
    load_rules,
    out_of_bounds,
    parse_rules,
    repeated_value,
    round_heaping,
    run_rules,
    sum_mismatch,
)

PLAUSIBILITY_FILE = Path(__file__).resolve().parents[2] / "workflows" / "plausibility.yaml"
REGION = "自治区人力资源社会保障厅"
LEAGUES = ("呼和浩特市", "包头市", "呼伦贝尔市", "兴安盟", "通辽市", "赤峰市", "锡林郭勒盟", "乌兰察布市",
           "鄂尔多斯市", "巴彦淖尔市", "乌海市", "阿拉善盟")  # fmt: skip
CST = timezone(timedelta(hours=8))
CTX = RuleContext(measure="万人", region_unit=REGION, league_units=LEAGUES)
D = Decimal


def month_end(period: str) -> date:
    year, month = (int(x) for x in period.split("-"))
    return date(year, month, calendar.monthrange(year, month)[1])


def fig(
    period: str,
    value: str,
    unit: str = "呼和浩特市",
    *,
    ytd: bool = False,
    indicator: str = "urban-new-jobs",
    revised_from: str | None = None,
    entered_at: datetime | None = None,
) -> FigurePoint:
    return FigurePoint(
        unit=unit,
        indicator=indicator,
        period_end=month_end(period),
        value=D(value),
        entered_at=entered_at,
        revised_from=None if revised_from is None else D(revised_from),
        cumulative=ytd,
    )


def ytd(*pairs: tuple[str, str], unit: str = "呼和浩特市") -> list[FigurePoint]:
    return [fig(p, v, unit, ytd=True) for p, v in pairs]


def flows(*pairs: tuple[str, str], unit: str = "呼和浩特市") -> list[FigurePoint]:
    return [fig(p, v, unit) for p, v in pairs]


def monthly(*values: str) -> list[FigurePoint]:
    """One unit's figures for January, February, ... 2025."""
    return flows(*((f"2025-{month:02d}", value) for month, value in enumerate(values, start=1)))


def region_and_leagues(period: str, region: str, leagues: list[str]) -> list[FigurePoint]:
    return [fig(period, region, REGION)] + [fig(period, v, u) for u, v in zip(LEAGUES, leagues, strict=False)]


DEADLINES = LateUpwardRevisionParams(
    days_before_deadline=10, deadlines=(date(2025, 7, 15), date(2025, 12, 31))
)


def revised(entered_at: datetime, before: str = "8.2", after: str = "9.1") -> list[FigurePoint]:
    return [fig("2025-11", after, revised_from=before, entered_at=entered_at)]


# --- planted cases: each must be flagged, at the right figure ----------------------------------------------------
# (rule function, points, params, expected (unit, period_end) of the flags, words in the first message)

PLANTED = [
    pytest.param(
        cumulative_decrease, ytd(("2025-04", "9.1"), ("2025-05", "8.2")), None,
        [("呼和浩特市", "2025-05")], "累计值下降：2025年5月 8.2 万人，低于上期（2025年4月）9.1 万人",
        id="cumulative_decrease",
    ),
    pytest.param(
        cumulative_decrease, ytd(("2025-03", "9.1"), ("2025-05", "8.2")), None,
        [("呼和浩特市", "2025-05")], "低于上期（2025年3月）9.1 万人", id="cumulative_decrease-across-a-gap",
    ),
    pytest.param(
        cumulative_decrease, ytd(("2025-04", "9.1"), ("2025-05", "8.9")), CumulativeDecreaseParams(min_decrease=D("0.1")),
        [("呼和浩特市", "2025-05")], "8.9 万人", id="cumulative_decrease-beyond-rounding",
    ),
    pytest.param(
        jump, flows(("2025-04", "5.1"), ("2025-05", "8.2")), None,
        [("呼和浩特市", "2025-05")], "环比跳变：2025年5月 8.2 万人，上期（2025年4月）5.1 万人，增长 60.8%", id="jump-up",
    ),
    pytest.param(
        jump, flows(("2025-04", "8"), ("2025-05", "3")), None,
        [("呼和浩特市", "2025-05")], "下降 62.5%", id="jump-down",
    ),
    pytest.param(
        jump, flows(("2025-04", "0"), ("2025-05", "5")), JumpParams(min_absolute_change=D(1)),
        [("呼和浩特市", "2025-05")], "由零增加", id="jump-from-zero",
    ),
    pytest.param(
        jump, ytd(("2025-02", "2"), ("2025-03", "3"), ("2025-04", "6")), None,
        [("呼和浩特市", "2025-04")], "月增量跳变：2025年4月 月均新增 3 万人，上期（2025年3月）月均新增 1 万人，增长 200%",
        id="jump-in-year-to-date-additions",
    ),
    pytest.param(
        out_of_bounds, flows(("2025-05", "35")), OutOfBoundsParams(min=D(0), max=D(30)),
        [("呼和浩特市", "2025-05")], "超出合理范围：2025年5月 35 万人，高于上限 30 万人", id="out_of_bounds-above",
    ),
    pytest.param(
        out_of_bounds, flows(("2025-05", "-0.1")), OutOfBoundsParams(min=D(0)),
        [("呼和浩特市", "2025-05")], "低于下限 0 万人", id="out_of_bounds-below",
    ),
    pytest.param(
        sum_mismatch, region_and_leagues("2025-05", "17.0", ["1.5"] * 12), None,
        [(REGION, "2025-05")], f"汇总不一致：2025年5月 各盟市合计 18.0 万人，{REGION}填报 17.0 万人，相差 1.0 万人（5.9%）",
        id="sum_mismatch",
    ),
    pytest.param(
        sum_mismatch, region_and_leagues("2025-05", "0", ["0"] * 11 + ["0.3"]), None,
        [(REGION, "2025-05")], f"{REGION}填报 0 万人，相差 0.3 万人", id="sum_mismatch-zero-region",
    ),
    pytest.param(
        late_upward_revision, revised(datetime(2025, 12, 28, 10, 0, tzinfo=CST)), DEADLINES,
        [("呼和浩特市", "2025-11")],
        "临近考核上调：2025年11月 由 8.2 万人 上调为 9.1 万人（+11%），修改于 2025年12月28日，距考核截止日 2025年12月31日 3 天",
        id="late_upward_revision",
    ),
    pytest.param(
        late_upward_revision, revised(datetime(2025, 12, 21, 9, 0)), DEADLINES,
        [("呼和浩特市", "2025-11")], "距考核截止日 2025年12月31日 10 天", id="late_upward_revision-exactly-N-days",
    ),
    pytest.param(
        late_upward_revision, revised(datetime(2025, 12, 20, 17, 0, tzinfo=UTC)), DEADLINES,
        [("呼和浩特市", "2025-11")], "修改于 2025年12月21日", id="late_upward_revision-utc-is-next-day-in-china",
    ),
    pytest.param(
        late_upward_revision, revised(datetime(2025, 7, 15, 23, 0, tzinfo=CST)), DEADLINES,
        [("呼和浩特市", "2025-11")], "2025年7月15日 0 天", id="late_upward_revision-on-the-deadline",
    ),
    pytest.param(
        repeated_value, flows(("2025-03", "8.2"), ("2025-04", "8.20"), ("2025-05", "8.2"), ("2025-06", "8.3")), None,
        [("呼和浩特市", "2025-05")], "数值重复：2025年3月至2025年5月 连续 3 期均为 8.2 万人", id="repeated_value-over-time",
    ),
    pytest.param(
        repeated_value, [fig("2025-05", "1.25", u) for u in LEAGUES[:4]] + [fig("2025-05", "1.3", LEAGUES[5])], None,
        sorted((u, "2025-05") for u in LEAGUES[:4]), "等 4 个单位均填报 1.25 万人", id="repeated_value-across-units",
    ),
    pytest.param(
        round_heaping, monthly("1200", "3400", "800", "500", "2000", "1234"),
        None, [("呼和浩特市", "2025-06")], "取整堆积：呼和浩特市 6 个填报值中有 5 个是 100 的整数倍（83.3%），随机情况下约为 1%",
        id="round_heaping",
    ),
    pytest.param(
        round_heaping, monthly("8.00", "9.00", "10.50", "12.00", "13.00", "14.00", "15.37", "16.00"),
        RoundHeapingParams(base=D(1), resolution=D("0.01")), [("呼和浩特市", "2025-08")], "6 个是 1 的整数倍（75%）",
        id="round_heaping-whole-wan",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "points", "params", "expected", "words"), PLANTED)
def test_planted_case_is_flagged(rule, points, params, expected, words):
    flags = rule(points, params, CTX)
    assert sorted((f.unit, f.period_end) for f in flags) == [(u, month_end(p)) for u, p in expected]
    assert words in flags[0].message_zh
    assert {f.rule for f in flags} == {rule.__name__}
    for flag in flags:
        assert flag.indicator == "urban-new-jobs"
        json.dumps(flag.evidence, ensure_ascii=False)  # JSON-ready: Decimals and dates as strings


# --- clean cases: none may be flagged --------------------------------------------------------------------------------

CLEAN = [
    pytest.param(cumulative_decrease, ytd(("2025-04", "8.2"), ("2025-05", "9.1"), ("2025-06", "9.1")), None,
                 id="cumulative_decrease-rising-or-flat"),
    pytest.param(cumulative_decrease, ytd(("2024-12", "18.3"), ("2025-01", "1.2")), None,
                 id="cumulative_decrease-january-starts-afresh"),
    pytest.param(cumulative_decrease, flows(("2025-04", "9.1"), ("2025-05", "8.2")), None,
                 id="cumulative_decrease-not-a-year-to-date-figure"),
    pytest.param(cumulative_decrease, ytd(("2025-04", "9.1"), ("2025-05", "9.0")), CumulativeDecreaseParams(min_decrease=D("0.1")),
                 id="cumulative_decrease-within-rounding"),
    pytest.param(cumulative_decrease, ytd(("2025-04", "9.1")) + ytd(("2025-05", "8.2"), unit="包头市"), None,
                 id="cumulative_decrease-other-unit"),
    pytest.param(jump, flows(("2025-04", "5.1"), ("2025-05", "7.0"), ("2025-06", "5.0")), None, id="jump-below-threshold"),
    pytest.param(jump, flows(("2025-04", "0.1"), ("2025-05", "0.3")), JumpParams(min_absolute_change=D("0.5")),
                 id="jump-tiny-base"),
    pytest.param(jump, flows(("2025-04", "5"), ("2025-05", "7.5")), None, id="jump-exactly-50-percent"),
    pytest.param(jump, ytd(("2025-02", "2"), ("2025-03", "3"), ("2025-04", "4"), ("2025-05", "5.2")), None,
                 id="jump-year-to-date-doubling-of-february-is-not-a-jump"),
    pytest.param(jump, ytd(("2025-02", "2"), ("2025-03", "3"), ("2025-05", "5")), None,
                 id="jump-year-to-date-missing-month-is-not-a-jump"),
    pytest.param(jump, ytd(("2024-11", "16.5"), ("2024-12", "18"), ("2025-01", "3"), ("2025-02", "4.5")), None,
                 id="jump-year-to-date-new-year"),
    pytest.param(out_of_bounds, flows(("2025-04", "0"), ("2025-05", "30")), OutOfBoundsParams(min=D(0), max=D(30)),
                 id="out_of_bounds-bounds-included"),
    pytest.param(out_of_bounds, flows(("2025-05", "-5"), ("2025-06", "1000")), OutOfBoundsParams(), id="out_of_bounds-no-bounds"),
    pytest.param(sum_mismatch, region_and_leagues("2025-05", "18.0", ["1.5"] * 12), None, id="sum_mismatch-adds-up"),
    pytest.param(sum_mismatch, region_and_leagues("2025-05", "18.1", ["1.5"] * 12), None, id="sum_mismatch-within-tolerance"),
    pytest.param(sum_mismatch, region_and_leagues("2025-05", "17.0", ["1.5"] * 11), None,
                 id="sum_mismatch-league-missing-is-not-judged"),
    pytest.param(sum_mismatch, [fig("2025-05", "1.5", u) for u in LEAGUES], None, id="sum_mismatch-region-missing"),
    pytest.param(sum_mismatch, [*region_and_leagues("2025-05", "18.0", ["1.5"] * 12)[1:], fig("2025-04", "17.0", REGION)], None,
                 id="sum_mismatch-periods-not-mixed"),
    pytest.param(late_upward_revision, revised(datetime(2025, 12, 28, tzinfo=CST), before="9.1", after="8.2"), DEADLINES,
                 id="late_upward_revision-downward"),
    pytest.param(late_upward_revision, revised(datetime(2025, 12, 20, 12, 0, tzinfo=CST)), DEADLINES,
                 id="late_upward_revision-N-plus-one-days-before"),
    pytest.param(late_upward_revision, revised(datetime(2025, 12, 31, 17, 0, tzinfo=UTC)), DEADLINES,
                 id="late_upward_revision-after-the-deadline-in-china"),
    pytest.param(late_upward_revision, [fig("2025-11", "9.1", entered_at=datetime(2025, 12, 28, tzinfo=CST))], DEADLINES,
                 id="late_upward_revision-not-a-revision"),
    pytest.param(late_upward_revision, [fig("2025-11", "9.1", revised_from="8.2")], DEADLINES,
                 id="late_upward_revision-no-entry-time"),
    pytest.param(late_upward_revision, revised(datetime(2025, 12, 28, tzinfo=CST)), LateUpwardRevisionParams(),
                 id="late_upward_revision-no-deadlines"),
    pytest.param(repeated_value, flows(("2025-03", "8.2"), ("2025-04", "8.2"), ("2025-05", "8.3"), ("2025-06", "8.2")), None,
                 id="repeated_value-two-in-a-row"),
    pytest.param(repeated_value, flows(("2025-03", "0"), ("2025-04", "0"), ("2025-05", "0"), ("2025-06", "0")), None,
                 id="repeated_value-zeros"),
    pytest.param(repeated_value, [fig("2025-05", "1.25", u) for u in LEAGUES[:3]], None, id="repeated_value-three-units"),
    pytest.param(repeated_value, [fig("2025-05", "1.25", u) for u in LEAGUES[:2]] + [fig("2025-06", "1.25", u) for u in LEAGUES[2:4]],
                 None, id="repeated_value-units-in-different-periods"),
    pytest.param(repeated_value, [fig("2025-05", "3", u) for u in LEAGUES], RepeatedValueParams(ignore_below=D(10)),
                 id="repeated_value-small-counts-ignored"),
    pytest.param(round_heaping, monthly("1234", "1187", "2200", "1450", "998", "1300"),
                 None, id="round_heaping-a-third-round"),
    pytest.param(round_heaping, monthly("1200", "3400", "800", "500", "2000"),
                 None, id="round_heaping-too-few-figures"),
    pytest.param(round_heaping, monthly("0", "0", "0", "0", "1200", "1234", "1187"),
                 None, id="round_heaping-zeros-do-not-count"),
    pytest.param(round_heaping, monthly("1200", "3400", "800", "517", "2033", "1234"),
                 None, id="round_heaping-exactly-half"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "points", "params"), CLEAN)
def test_clean_case_is_not_flagged(rule, points, params):
    assert rule(points, params, CTX) == []


def test_every_rule_has_a_planted_and_a_clean_case():
    assert {p.values[0].__name__ for p in PLANTED} == set(RULES)
    assert {p.values[0].__name__ for p in CLEAN} == set(RULES)


def test_rules_work_without_params_and_context():
    flags = cumulative_decrease(ytd(("2025-04", "9.1"), ("2025-05", "8.2")))
    assert flags[0].message_zh == "累计值下降：2025年5月 8.2，低于上期（2025年4月）9.1"


def test_sum_mismatch_needs_the_region_and_leagues():
    points = region_and_leagues("2025-05", "17.0", ["1.5"] * 12)
    assert sum_mismatch(points, None, RuleContext("万人")) == []


def test_percent_measure_has_no_space():
    flags = out_of_bounds([fig("2025-05", "12.5")], OutOfBoundsParams(max=D(10)), RuleContext("%"))
    assert flags[0].message_zh == "超出合理范围：2025年5月 12.5%，高于上限 10%"


def test_two_figures_for_one_period_is_an_error():
    with pytest.raises(ValueError, match="two figures for 呼和浩特市 / urban-new-jobs / 2025-05-31"):
        jump(flows(("2025-05", "1"), ("2025-05", "2")))


def test_round_heaping_evidence_compares_with_chance():
    points = monthly("1200", "3400", "800", "500", "2000", "1234")
    evidence = round_heaping(points)[0].evidence
    assert evidence["share"] == "0.8333"
    assert evidence["chance_share"] == "0.01"
    assert evidence["round_figures"] == 5
    assert evidence["figures"] == 6
    assert float(evidence["p_value"]) < 1e-8  # 5 of 6 round figures at 1 % each: not chance


def test_sum_mismatch_evidence_lists_every_league():
    flag = sum_mismatch(region_and_leagues("2025-05", "17.0", ["1.5"] * 12), None, CTX)[0]
    assert flag.evidence["league_sum"] == "18.0"
    assert flag.evidence["relative_difference"] == "0.0588"
    assert list(flag.evidence["league_values"]) == list(LEAGUES)


# --- configuration -------------------------------------------------------------------------------------------------


def test_the_shipped_file_loads():
    config = load_rules(PLAUSIBILITY_FILE)
    jobs = config.for_indicator("urban-new-jobs")
    assert jobs.measure == "万人"
    assert jobs.params["out_of_bounds"] == OutOfBoundsParams(min=D(0), max=D(30))
    assert config.for_indicator("urban-surveyed-unemployment-rate").params["sum_mismatch"].enabled is False
    assert config.defaults["late_upward_revision"].deadlines == (date(2025, 7, 15), date(2025, 12, 31))


@pytest.mark.parametrize(
    "text", ["", "# nothing yet\n", "defaults:\nindicators:\n", "indicators:\n  urban-new-jobs:\n"]
)
def test_empty_file_gives_the_code_defaults(text):
    config = parse_rules(text, "empty.yaml")
    assert config.defaults["jump"] == JumpParams()
    assert config.for_indicator("urban-new-jobs").params["round_heaping"] == RoundHeapingParams()


def test_conflict_between_defaults_and_an_indicator_names_the_indicator():
    text = "defaults:\n  out_of_bounds: {max: 5}\nindicators:\n  x:\n    out_of_bounds:\n      min: 10\n"
    with pytest.raises(
        RuleConfigError, match=r"^p.yaml:5: indicators.x.out_of_bounds: min 10 is greater than max 5$"
    ):
        parse_rules(text, "p.yaml")


def test_indicator_overrides_merge_over_the_file_defaults():
    config = parse_rules(
        """
indicators:
  urban-new-jobs:
    jump: {min_absolute_change: 0.05}
    round_heaping: false
defaults:
  jump: {max_relative_change: 0.8}
  sum_mismatch: {tolerance: 0.02}
"""
    )
    jobs = config.for_indicator("urban-new-jobs").params
    assert jobs["jump"] == JumpParams(max_relative_change=D("0.8"), min_absolute_change=D("0.05"))
    assert jobs["round_heaping"].enabled is False
    assert jobs["sum_mismatch"] == SumMismatchParams(tolerance=D("0.02"))
    assert config.for_indicator("other").params["jump"] == JumpParams(max_relative_change=D("0.8"))


def test_decimals_are_read_exactly():
    config = parse_rules(
        "defaults:\n  sum_mismatch: {tolerance: 0.1}\n  out_of_bounds: {min: -1.5e+1, max: 1_000}\n"
    )
    assert config.defaults["sum_mismatch"].tolerance == D("0.1")
    assert str(config.defaults["sum_mismatch"].tolerance) == "0.1"  # not 0.1000000000000000055511151231257827
    assert config.defaults["out_of_bounds"] == OutOfBoundsParams(min=D(-15), max=D(1000))


BAD_FILES = [
    # (file text, line the error must name, words it must say)
    pytest.param("defaults:\n  jmp:\n    max_relative_change: 0.5\n", 2, "defaults: unknown rule 'jmp' (rules: cumulative_decrease, jump", id="unknown-rule"),
    pytest.param("indicators:\n  x:\n    jmp: false\n", 3, "indicators.x: unknown rule or setting 'jmp'", id="unknown-rule-in-indicator"),
    pytest.param("defaults:\n  jump:\n    max_change: 0.5\n", 3, "defaults.jump: unknown parameter 'max_change' (parameters: enabled, max_relative_change", id="unknown-parameter"),
    pytest.param("defaults:\n  jump:\n    max_relative_change: abc\n", 3, "defaults.jump.max_relative_change must be a number, got 'abc'", id="not-a-number"),
    pytest.param("defaults:\n  jump:\n    max_relative_change: 50%\n", 3, "must be a number, got '50%'", id="percent-sign"),
    pytest.param("defaults:\n  jump:\n    max_relative_change: .inf\n", 3, "must be a number", id="infinite"),
    pytest.param("defaults:\n  jump:\n    max_relative_change: 0\n", 3, "must be greater than 0, got 0", id="zero-threshold"),
    pytest.param("defaults:\n  sum_mismatch:\n    tolerance: 1.5\n", 3, "must be less than 1, got 1.5", id="tolerance-above-one"),
    pytest.param("defaults:\n  repeated_value:\n    min_periods: 2.5\n", 3, "must be a whole number, got '2.5'", id="not-whole"),
    pytest.param("defaults:\n  repeated_value:\n    min_periods: 1\n", 3, "must be at least 2, got 1", id="too-small"),
    pytest.param("defaults:\n  jump:\n    enabled: maybe\n", 3, "must be true or false, got 'maybe'", id="not-a-bool"),
    pytest.param("defaults:\n  late_upward_revision:\n    deadlines: 2025-12-31\n", 3, "must be a list of dates", id="deadlines-not-a-list"),
    pytest.param("defaults:\n  late_upward_revision:\n    deadlines:\n      - 2025-12-31\n      - 2025-13-01\n", 5,
                 "must be a date like 2025-12-31, got '2025-13-01'", id="impossible-date"),
    pytest.param("defaults:\n  late_upward_revision:\n    deadlines: [2025-12-31 10:00:00]\n", 3, "must be a date", id="datetime-not-date"),
    pytest.param("defaults:\n  late_upward_revision:\n    deadlines: [soon]\n", 3, "got 'soon'", id="deadline-text"),
    pytest.param("indicators:\n  x:\n    out_of_bounds:\n      min: 10\n      max: 2\n", 3, "indicators.x.out_of_bounds: min 10 is greater than max 2",
                 id="min-above-max"),
    pytest.param("defaults:\n  round_heaping:\n    base: 100\n    max_share: 0.005\n", 2, "not above the share expected by chance",
                 id="heaping-threshold-below-chance"),
    pytest.param("indicators:\n  x:\n    meassure: 万人\n", 3, "unknown rule or setting 'meassure'", id="misspelt-setting"),
    pytest.param("indicators:\n  x:\n    expected_flat: yes please\n", 3, "must be true or false", id="flat-not-bool"),
    pytest.param("indicators:\n  x:\n    measure: [万人]\n", 3, "must be a single value", id="measure-list"),
    pytest.param("indicators:\n  x: 5\n", 2, "indicators.x must be a mapping", id="indicator-not-mapping"),
    pytest.param("defaults:\n  jump: 0.5\n", 2, "defaults.jump must be a mapping", id="rule-not-mapping"),
    pytest.param("rules:\n  jump: {}\n", 1, "unknown section 'rules'", id="unknown-section"),
    pytest.param("defaults:\n  jump: {}\n  jump: {}\n", 3, "'jump' is given twice", id="duplicate-key"),
    pytest.param("- jump\n", 1, "the file must be a mapping", id="top-level-list"),
    pytest.param("defaults:\n  jump: {max_relative_change: 0.5\n", 3, "not valid YAML", id="syntax-error"),
    pytest.param("defaults:\n\tjump: {}\n", 2, "not valid YAML", id="tab-indent"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "words"), BAD_FILES)
def test_bad_file_names_file_line_and_problem(tmp_path, text, line, words):
    path = tmp_path / "plausibility.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleConfigError) as caught:
        load_rules(path)
    assert str(caught.value) == f"{path}:{line}: {caught.value.detail}"
    assert caught.value.line == line
    assert words in caught.value.detail


def test_missing_file():
    with pytest.raises(RuleConfigError, match="cannot read"):
        load_rules("/nonexistent/plausibility.yaml")


# --- run_rules ------------------------------------------------------------------------------------------------------


def test_run_rules_applies_each_indicators_parameters():
    config = parse_rules(
        """
indicators:
  urban-new-jobs:
    measure: 万人
    out_of_bounds: {max: 30}
  urban-surveyed-unemployment-rate:
    expected_flat: true
    out_of_bounds: {min: 2, max: 10}
    sum_mismatch: false
"""
    )
    rate = "urban-surveyed-unemployment-rate"
    points = [
        *ytd(("2025-04", "9.1"), ("2025-05", "8.2"), ("2025-06", "8.9"), ("2025-07", "35")),
        *(fig(p, "5.5", indicator=rate) for p in ("2025-04", "2025-05", "2025-06")),  # flat: expected
        *(fig("2025-06", "5.5", u, indicator=rate) for u in LEAGUES[1:5]),  # identical across units: expected
        fig("2025-06", "5.5", REGION, indicator=rate),
    ]
    flags = run_rules(points, config, region_unit=REGION, league_units=LEAGUES)
    assert [(f.indicator, f.rule, f.period_end) for f in flags] == [
        ("urban-new-jobs", "cumulative_decrease", month_end("2025-05")),
        ("urban-new-jobs", "jump", month_end("2025-07")),
        ("urban-new-jobs", "out_of_bounds", month_end("2025-07")),
    ]
    assert flags[0].message_zh == "累计值下降：2025年5月 8.2 万人，低于上期（2025年4月）9.1 万人"


def test_run_rules_without_expected_flat_flags_repetition():
    points = [fig(p, "5.5", indicator="other") for p in ("2025-04", "2025-05", "2025-06")]
    assert [f.rule for f in run_rules(points, parse_rules(""))] == ["repeated_value"]


def test_run_rules_takes_measures_from_the_plan():
    points = ytd(("2025-04", "9.1"), ("2025-05", "8.2"))
    flags = run_rules(points, measures={"urban-new-jobs": "万人"})
    assert flags[0].message_zh.endswith("9.1 万人")


def test_jump_leaves_falling_year_to_date_figures_to_cumulative_decrease():
    points = ytd(("2025-04", "9.1"), ("2025-05", "8.2"), ("2025-06", "8.9"))
    assert jump(points) == []
    assert [f.rule for f in run_rules(points)] == ["cumulative_decrease"]


def test_identical_league_figures_are_flagged_by_the_shipped_file():
    points = region_and_leagues("2025-05", "18.0", ["1.5"] * 12)
    flags = run_rules(points, load_rules(PLAUSIBILITY_FILE), region_unit=REGION, league_units=LEAGUES)
    assert {(f.rule, f.evidence["kind"]) for f in flags} == {("repeated_value", "across_units")}
    assert sorted(f.unit for f in flags) == sorted(LEAGUES)


def test_run_rules_skips_disabled_rules():
    config = parse_rules("defaults:\n  cumulative_decrease: false\n")
    assert run_rules(ytd(("2025-04", "9.1"), ("2025-05", "8.2")), config) == []


def test_run_rules_sum_mismatch_with_the_shipped_file():
    leagues = ["0.95", "1.05", "1.15", "1.25", "1.35", "1.45", "1.55", "1.65", "1.75", "1.85", "1.95", "2.05"]
    points = region_and_leagues("2025-05", "17.0", leagues)
    flags = run_rules(points, load_rules(PLAUSIBILITY_FILE), region_unit=REGION, league_units=LEAGUES)
    assert [(f.rule, f.unit) for f in flags] == [("sum_mismatch", REGION)]
    assert "各盟市合计 18.00 万人" in flags[0].message_zh


def test_late_upward_revision_with_the_shipped_deadlines():
    point = replace(revised(datetime(2025, 7, 10, 16, 0, tzinfo=CST))[0], period_end=month_end("2025-06"))
    flags = run_rules([point], load_rules(PLAUSIBILITY_FILE))
    assert [f.rule for f in flags] == ["late_upward_revision"]
    assert flags[0].evidence["deadline"] == "2025-07-15"
