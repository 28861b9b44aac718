"""The parser's rules one by one: unit lists, targets, policy parameters, deadlines, cadence."""

from __future__ import annotations

from datetime import date

import pytest

from app.plans.parsing import parse_document
from app.plans.parsing.dates import parse_deadline
from app.plans.parsing.tables import load_regions
from app.plans.parsing.targets import extract_figures
from app.plans.parsing.units import UnitListParser, UnitMatcher

REGIONS = load_regions()
NMG = next(r for r in REGIONS.regions if r.slug == "nmg")
HEBEI = next(r for r in REGIONS.regions if r.slug == "hebei")
HHHT = next(r for r in REGIONS.regions if r.slug == "hhht")


def units(text: str, region=NMG) -> list[tuple[str, str, bool]]:
    block = UnitListParser(region, REGIONS).parse_block(text)
    return [(e.name, e.role, e.is_group) for e in block.entries]


# --- units --------------------------------------------------------------------------------------

def test_shared_prefix_and_names_outside_it() -> None:
    assert units("责任单位：自治区市场监管局、发展改革委、地方金融管理局，内蒙古税务局、中国人民银行内蒙古自治区分行") == [
        ("自治区市场监管局", "lead", False), ("自治区发展改革委", "co", False), ("自治区地方金融管理局", "co", False),
        ("内蒙古税务局", "co", False), ("中国人民银行内蒙古自治区分行", "co", False)]


def test_prefix_of_a_party_body_is_the_level_only() -> None:
    assert [u[0] for u in units("责任单位：自治区党委社会工作部、党委网信办、团委，内蒙古邮政管理局")] == [
        "自治区党委社会工作部", "自治区党委网信办", "自治区团委", "内蒙古邮政管理局"]


def test_unit_etc_group_and_implementing_governments() -> None:
    parser = UnitListParser(NMG, REGIONS)
    block = parser.parse_block("责任单位：自治区发展改革委、人力资源社会保障厅等各行业主管部门，各盟行政公署、市人民政府"
                               "按职责分工落实。以下任务均涉及各盟行政公署、市人民政府落实，不再单独列出")
    assert [(e.name, e.is_group) for e in block.entries] == [
        ("自治区发展改革委", False), ("自治区人力资源社会保障厅", False), ("各行业主管部门", True)]
    assert block.plan_wide_note == "以下任务均涉及各盟行政公署、市人民政府落实，不再单独列出"
    assert block.implementing.group == "各盟行政公署、市人民政府"
    assert block.implementing.units == list(NMG.implementing_units) and len(block.implementing.units) == 12


def test_hebei_cities_with_included_county_level_cities() -> None:
    block = UnitListParser(HEBEI, REGIONS).parse_block("责任单位：省人力资源社会保障厅、教育厅、团省委，各市（含定州、辛集市）人民政府")
    assert [e.name for e in block.entries] == ["省人力资源社会保障厅", "省教育厅", "团省委"]
    assert block.implementing.units[-2:] == ["定州市", "辛集市"] and len(block.implementing.units) == 13


def test_lead_and_co_labels_and_deadline_inside() -> None:
    block = UnitListParser(NMG, REGIONS).parse_block("牵头单位：自治区人社厅、财政厅；配合单位：教育厅；2025年6月底前完成")
    assert [(e.name, e.role) for e in block.entries] == [
        ("自治区人社厅", "lead"), ("自治区财政厅", "lead"), ("自治区教育厅", "co")]
    assert block.due_text == "2025年6月底前完成"


def test_lead_and_co_written_as_suffixes() -> None:
    assert units("自治区财政厅、内蒙古税务局牵头，中国人民银行内蒙古自治区分行配合；长期坚持") == [
        ("自治区财政厅", "lead", False), ("内蒙古税务局", "lead", False), ("中国人民银行内蒙古自治区分行", "co", False)]
    assert units("自治区司法厅牵头，各有关部门按职责分工负责") == [
        ("自治区司法厅", "lead", False), ("各有关部门", "co", True)]


def test_city_prefix_does_not_eat_market_regulation() -> None:
    assert [u[0] for u in units("牵头单位：市发展改革委、工信局、市场监管局、人民银行呼和浩特市分行", HHHT)] == [
        "市发展改革委", "市工信局", "市市场监管局", "人民银行呼和浩特市分行"]


def test_group_named_like_the_leagues_is_not_the_implementing_phrase() -> None:
    assert units("责任单位：自治区人力资源社会保障厅，各盟市人力资源社会保障局") == [
        ("自治区人力资源社会保障厅", "lead", False), ("各盟市人力资源社会保障局", "co", True)]


@pytest.mark.parametrize(("written", "known"), [
    ("自治区发展改革委", "内蒙古自治区发展和改革委员会"),
    ("自治区人社厅", "内蒙古自治区人力资源和社会保障厅"),
    ("自治区人力资源社会保障厅", "内蒙古自治区人力资源和社会保障厅"),
    ("自治区工信厅", "内蒙古自治区工业和信息化厅"),
    ("自治区市场监管局", "内蒙古自治区市场监督管理局"),
    ("内蒙古税务局", "国家税务总局内蒙古自治区税务局"),
    ("自治区团委", "共青团内蒙古自治区委员会"),
])
def test_alias_matching(written: str, known: str) -> None:
    matcher = UnitMatcher([known, "呼和浩特市市场监督管理局"], None, NMG, REGIONS)
    assert matcher.match(written) == (known, None)


def test_ambiguous_match_is_reported_not_guessed() -> None:
    matcher = UnitMatcher(["内蒙古自治区财政厅", "自治区财政厅"], None, NMG, REGIONS)
    found, reason = matcher.match("财政厅")
    assert found is None and "多个系统单位" in reason


# --- targets and policy -----------------------------------------------------------------------

END = date(2025, 12, 31)


def figures(text: str, task_due: date | None = None):
    return extract_figures(text, END, 2025, task_due)


@pytest.mark.parametrize(("text", "expected"), [
    ("2025年城镇新增就业18万人以上。", (">=", 18, "万人")),
    ("优化升级不少于300个“家门口”就业服务站。", (">=", 300, "个")),
    ("2025年企业总量力争突破71万户。", (">=", 71, "万户")),
    ("城镇调查失业率预期目标5.5%左右。", ("~", 5.5, "%")),
    ("专业占比提高到50%以上。", (">=", 50, "%")),
    ("城镇登记失业率控制在3.5%以内。", ("<=", 3.5, "%")),
    ("月度波动不超过0.5个百分点。", ("<=", 0.5, "个百分点")),
    ("新认证1万个家庭农牧场。", (">=", 1, "万个")),
    ("扩大“三支一扶”计划招募规模至3000人。", (">=", 3000, "人")),
    ("将企业开办时间压减至1个工作日以内。", ("<=", 1, "个工作日")),
])
def test_target_comparator_value_unit(text: str, expected: tuple) -> None:
    found = figures(text).indicators
    assert [(i.comparator, i.target, i.unit) for i in found] == [expected]


def test_per_unit_target() -> None:
    (indicator,) = figures("培育创业指导专业化队伍，每个盟市至少建设1个创业指导大师工作室。").indicators
    assert indicator.per_unit and indicator.target == 1 and indicator.name == "创业指导大师工作室"


def test_cumulative_guess() -> None:
    found = figures("全年培训35万人次以上，企业活跃度突破70%，企业总量突破71万户。").indicators
    assert [i.cumulative for i in found] == [True, False, False]


@pytest.mark.parametrize("text", [
    "对带动就业3人以上并为其缴纳社会保险一年以上的，再给予2万元一次性创业带动就业补贴。",
    "将中小企业人才储备计划人员月补贴标准由700元/人提高至不低于1000元/人。",
    "对培训后6个月内签订1年及以上劳动合同并缴纳社会保险的，课时基准补贴标准上浮50%。",
    "对见习期满留用率达到50%以上的单位，补贴标准提高到100%。",
])
def test_policy_parameters_are_not_targets(text: str) -> None:
    result = figures(text)
    assert result.indicators == []
    assert result.policy == [text.rstrip("。")]


def test_conditions_durations_and_ordinals_are_not_targets() -> None:
    assert figures("高校毕业生在2年择业期内未落实工作的，可以报考。对介绍离校2年内未就业高校毕业生成功就业的，"
                   "各地区可给予一定支持。组织第3届大赛。").indicators == []


def test_target_and_policy_in_one_sentence() -> None:
    result = figures("对吸纳高校毕业生就业的中小微企业按每人1500元给予一次性扩岗补助，全年新增稳岗返还惠及企业5000户以上。",
                     task_due=date(2025, 6, 30))
    assert result.policy == ["对吸纳高校毕业生就业的中小微企业按每人1500元给予一次性扩岗补助"]
    (indicator,) = result.indicators
    assert (indicator.target, indicator.unit, indicator.due) == (5000, "户", END)  # 全年 → year end


def test_indicator_due_dates() -> None:
    found = figures("到2025年底产业规模突破200亿元，6月底前建成20个站点。").indicators
    assert [i.due for i in found] == [date(2025, 12, 31), date(2025, 6, 30)]
    (task_due,) = figures("建成20个站点。", task_due=date(2025, 9, 30)).indicators
    assert task_due.due == date(2025, 9, 30)


@pytest.mark.parametrize(("text", "expected"), [
    ("到2025年底", date(2025, 12, 31)), ("6月底前", date(2025, 6, 30)), ("2025年9月15日前完成", date(2025, 9, 15)),
    ("上半年", date(2025, 6, 30)), ("2025年第三季度", date(2025, 9, 30)), ("年底前完成", date(2025, 12, 31)),
    ("长期坚持", None),
])
def test_deadlines(text: str, expected: date | None) -> None:
    assert parse_deadline(text, 2025) == expected


# --- whole documents: small shapes ----------------------------------------------------------------

def _plan(body: str, tail: str = "") -> bytes:
    head = ("内蒙古自治区人民政府办公厅关于印发测试实施方案的通知\n内政办发〔2025〕3号\n2025年5月6日\n测试实施方案\n"
            "一、重点任务\n（一）第一部分\n")
    return (head + body + tail).encode("utf-8")


def test_cadence_from_the_safeguards() -> None:
    draft = parse_document(_plan("1.做好甲事。具体内容。（责任单位：自治区财政厅）\n",
                                 "二、保障措施\n实行月调度、季分析、半年总结、年度评估。\n")).draft
    assert draft["cadence"] == ["monthly", "quarterly", "half_year", "annual"]
    assert draft["id"] == "nmg-2025-3"
    assert draft["sections"] == [{"number": "一", "title": "第一部分", "part": "一、重点任务"}]


def test_numbering_styles() -> None:
    for marker in ("1.", "1．", "1、"):
        draft = parse_document(_plan(f"{marker}做好甲事。具体内容。（责任单位：自治区财政厅）\n")).draft
        assert [(t["number"], t["title"], t["units"]) for t in draft["tasks"]] == [(1, "做好甲事", ["自治区财政厅"])]
    draft = parse_document(_plan("（1）做好甲事。内容。（责任单位：自治区财政厅）\n（2）做好乙事。内容。（责任单位：自治区教育厅）\n")).draft
    assert [t["title"] for t in draft["tasks"]] == ["做好甲事", "做好乙事"]


def test_decimal_at_a_line_start_is_not_a_task() -> None:
    draft = parse_document(_plan("1.做好甲事。新增就业\n2.5万人以上。（责任单位：自治区财政厅）\n")).draft
    assert [t["number"] for t in draft["tasks"]] == [1]
    assert draft["tasks"][0]["indicators"][0]["target"] == 2.5


def test_task_without_units_is_kept_with_a_warning() -> None:
    result = parse_document(_plan("1.做好甲事。具体内容。\n2.做好乙事。具体内容。（责任单位：自治区财政厅）\n"))
    assert [t["units"] for t in result.draft["tasks"]] == [[], ["自治区财政厅"]]
    assert any("任务1未找到责任单位" in w for w in result.warnings)


def test_section_numbers_restarting_in_each_part_stay_unique() -> None:
    doc = ("内蒙古自治区人民政府文件\n内政发〔2025〕9号\n内蒙古自治区人民政府关于印发测试方案的通知\n2025年1月2日\n测试方案\n"
           "一、重点任务\n（一）甲\n1.做甲事。内容。（责任单位：自治区财政厅）\n（二）乙\n2.做乙事。内容。（责任单位：自治区财政厅）\n"
           "二、改革任务\n（一）丙\n3.做丙事。内容。（责任单位：自治区教育厅）\n")
    result = parse_document(doc.encode("utf-8"))
    assert result.draft["issuer"] == "内蒙古自治区人民政府"  # not "…文件内政发〔2025〕9号…"
    assert [s["number"] for s in result.draft["sections"]] == ["一", "二", "二-一"]
    assert [t["section"] for t in result.draft["tasks"]] == ["一", "二", "二-一"]
    assert any("重复出现" in w for w in result.warnings)


def test_ordinal_clauses_without_any_heading() -> None:
    doc = "测试方案\n一是做甲事，具体。（责任单位：自治区财政厅）二是做乙事，具体。（责任单位：自治区教育厅）\n"
    draft = parse_document(doc.encode("utf-8")).draft
    assert [(t["number"], t["title"], t["section"]) for t in draft["tasks"]] == [(1, "做甲事", "一"), (2, "做乙事", "一")]
