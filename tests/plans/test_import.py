"""Importing plan files: the employment plan as data, idempotence, in-place updates, refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Indicator, Period, Plan, Task
from app.plans.planfile import PlanFileError
from app.plans.services import derive_assignments, find_plan, import_plan_file, plan_as_dict
from tests.conftest import MINI_PLAN, NMG_PLAN

LEAGUE_CITIES = ["呼和浩特市", "包头市", "呼伦贝尔市", "兴安盟", "通辽市", "赤峰市", "锡林郭勒盟",
                 "乌兰察布市", "鄂尔多斯市", "巴彦淖尔市", "乌海市", "阿拉善盟"]

# Task titles and lead/co units of the document, written from the text independently of the YAML.
EXPECTED_TASKS = {
    1: ("推动产业与就业互促共进", ["自治区发展改革委", "自治区商务厅", "自治区自然资源厅", "自治区能源局",
                                 "自治区人力资源社会保障厅", "各行业主管部门"]),
    2: ("提高第二产业就业比重", ["自治区工业和信息化厅", "各行业主管部门"]),
    3: ("扩大第三产业就业规模", ["各行业主管部门"]),
    5: ("激发经营主体活力", ["自治区市场监管局", "自治区发展改革委", "自治区工业和信息化厅", "自治区财政厅",
                          "自治区人力资源社会保障厅", "自治区地方金融管理局", "内蒙古税务局",
                          "中国人民银行内蒙古自治区分行"]),
    6: ("培育壮大新业态新就业群体", ["自治区党委社会工作部", "自治区党委网信办", "自治区商务厅",
                                  "自治区市场监管局", "自治区交通运输厅", "自治区团委", "内蒙古邮政管理局"]),
    12: ("提升培训质效", ["各行业主管部门"]),
    19: ("引导社会力量广泛开展促就业服务", ["自治区人力资源社会保障厅", "各行业主管部门"]),
}


def _show_json(app, ident: str) -> dict:
    result = app.test_cli_runner().invoke(args=["plan", "show", ident, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_employment_plan_as_json(app, ctx, factory):
    import_plan_file(NMG_PLAN)
    factory.group_members("各行业主管部门", "自治区工业和信息化厅", "自治区文化和旅游厅")
    data = _show_json(app, "nmg-2025-employment")
    assert data["id"] == "nmg-2025-employment"
    assert data["code"] == "内政发〔2025〕7号"
    assert data["title"] == "内蒙古自治区就业促进行动实施方案"
    assert [t["number"] for t in data["tasks"]] == list(range(1, 20))
    assert [s["number"] for s in data["sections"]] == ["一", "二", "三", "四", "五"]
    # the document code works as the id too
    assert _show_json(app, "内政发〔2025〕7号")["id"] == "nmg-2025-employment"
    for number, (title, units) in EXPECTED_TASKS.items():
        task = data["tasks"][number - 1]
        assert task["title"] == title
        named = [u["name"] for u in task["units"] if "via" not in u]
        assert named == units, number
        assert task["units"][0]["role"] == "lead"
        assert all(u["role"] == "co" for u in task["units"][1:] if u.get("via") != "各行业主管部门")
        leagues = [u["name"] for u in task["units"] if u.get("via") == "各盟行政公署、市人民政府"]
        assert leagues == LEAGUE_CITIES
    # the group is listed by name and expanded to its members
    task3 = data["tasks"][2]
    assert {"name": "各行业主管部门", "role": "lead", "group": True} in task3["units"]
    members = [u["name"] for u in task3["units"] if u.get("via") == "各行业主管部门"]
    assert members == ["自治区工业和信息化厅", "自治区文化和旅游厅"]
    assert all(u["role"] == "lead" for u in task3["units"] if u.get("via") == "各行业主管部门")
    # task 1 names 工业和信息化厅 only through the group: expanded as co
    assert {"name": "自治区文化和旅游厅", "role": "co", "via": "各行业主管部门"} in data["tasks"][0]["units"]


def test_employment_plan_indicators(app, ctx):
    import_plan_file(NMG_PLAN)
    data = _show_json(app, "nmg-2025-employment")
    targets = {t["name"]: t for t in data["targets"]}
    assert targets["城镇新增就业"]["target"] == 18 and targets["城镇新增就业"]["unit"] == "万人"
    assert targets["城镇新增就业"]["comparator"] == ">="
    assert targets["城镇调查失业率"]["target"] == 5.5 and targets["城镇调查失业率"]["comparator"] == "~"

    def indicators(number):
        return {(i["target"], i["unit"], i["comparator"]) for i in data["tasks"][number - 1]["indicators"]}

    assert (15, "万个", ">=") in indicators(2)
    assert (35, "万个", ">=") in indicators(3)
    assert (35, "万人次", ">=") in indicators(12)
    assert (300, "个", ">=") in indicators(17)
    studio = data["tasks"][8]["indicators"][0]
    assert (studio["target"], studio["per_unit"], studio["reported_by"]) == (1, True, ["implementing"])
    assert all(i["due"] == "2025-12-31" for t in data["tasks"] for i in t["indicators"])
    # subsidy amounts are policy text, not indicators
    assert data["tasks"][7]["indicators"] == []
    assert any("2万元" in p for p in data["tasks"][7]["policy"])


def test_second_import_changes_nothing(app, ctx):
    import_plan_file(NMG_PLAN)
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (Plan, Task, Assignment, Indicator, Period, AuditEvent)]
    result = import_plan_file(NMG_PLAN)
    assert not result.changed
    again = [db.session.scalar(select(func.count()).select_from(m)) for m in (Plan, Task, Assignment, Indicator, Period, AuditEvent)]
    assert again == counts
    assert counts[1] == 19


def test_edited_file_updates_in_place_and_is_recorded(ctx, tmp_path):
    import_plan_file(MINI_PLAN)
    data = yaml.safe_load(MINI_PLAN.read_text(encoding="utf-8"))
    data["tasks"][1]["title"] = "提高第二产业就业比重（修订）"
    data["tasks"][1]["indicators"][0]["target"] = 16
    data["tasks"][2]["units"] = ["自治区人力资源社会保障厅"]  # 教育厅 no longer co-owns task 3
    edited = tmp_path / "mini.yaml"
    edited.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    plan_id = find_plan("mini-2025").id
    result = import_plan_file(edited)
    assert result.changed and not result.created
    assert find_plan("mini-2025").id == plan_id
    assert db.session.scalar(select(func.count()).select_from(Plan)) == 1
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    assert task2.title == "提高第二产业就业比重（修订）"
    assert db.session.execute(select(Indicator.target).where(Indicator.key == "t2-jobs")).scalar_one() == 16
    edu = db.session.execute(select(Assignment).join(Assignment.unit).join(Task)
                             .where(Task.number == 3, Assignment.unit.has(name="自治区教育厅"))).scalar_one()
    assert edu.active is False  # kept, with its reports, but no longer tracked
    events = db.session.execute(select(AuditEvent.action, AuditEvent.content).where(
        AuditEvent.action.in_(["task.update", "indicator.update", "assignment.update"]))).all()
    actions = {a for a, _ in events}
    assert actions == {"task.update", "indicator.update", "assignment.update"}
    assert any("提高第二产业就业比重（修订）" in c for a, c in events if a == "task.update")


BROKEN = [
    ("id: Bad Id\n", "id"),
    ("tasks: []\n", "tasks"),
    ("comparator: '>>'\n", "comparator"),
    ("target: lots\n", "target"),
    ("due: 2025-13-45\n", "not a valid date"),
    ("duplicate_task\n", "appears twice"),
    ("unknown_section\n", "unknown section"),
    ("unknown_group\n", "not declared"),
    ("yaml_syntax\n", "not valid YAML"),
]


def _broken_file(tmp_path: Path, kind: str) -> Path:
    text = MINI_PLAN.read_text(encoding="utf-8")
    if kind.startswith("id:"):
        text = text.replace("id: mini-2025", "id: Bad Id")
    elif kind.startswith("tasks"):
        text = text[: text.index("tasks:")] + "tasks: []\n"
    elif kind.startswith("comparator"):
        text = text.replace('comparator: ">=", target: 15', 'comparator: ">>", target: 15')
    elif kind.startswith("target"):
        text = text.replace("target: 15,", "target: lots,")
    elif kind.startswith("due"):
        text = text.replace("target: 15,", "target: 15, due: 2025-13-45,")
    elif kind.startswith("duplicate_task"):
        text = text.replace("  - number: 3\n", "  - number: 2\n")
    elif kind.startswith("unknown_section"):
        text = text.replace("    section: 二\n", "    section: 九\n")
    elif kind.startswith("unknown_group"):
        text = text.replace("{group: 各行业主管部门}]\n    indicators", "{group: 各部门}]\n    indicators")
    elif kind.startswith("yaml_syntax"):
        text = text.replace("title: 优化创业服务", "title: [优化创业服务")
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    assert text != MINI_PLAN.read_text(encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "words"), BROKEN)
def test_malformed_file_is_refused_with_line_and_nothing_loaded(app, ctx, tmp_path, kind, words):
    path = _broken_file(tmp_path, kind)
    with pytest.raises(PlanFileError) as err:
        import_plan_file(path)
    message = str(err.value)
    assert str(path) in message and ", line " in message and words in message
    assert db.session.scalar(select(func.count()).select_from(Plan)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    result = app.test_cli_runner().invoke(args=["plan", "import", str(path)])
    assert result.exit_code == 2
    assert "line" in result.output and "nothing was imported" in result.output


def test_failure_midway_rolls_back_everything(app, ctx, tmp_path):
    """A plan whose cadence names an unknown period kind fails after tasks were written: none stay."""
    text = MINI_PLAN.read_text(encoding="utf-8").replace("cadence: [monthly,", "cadence: [weekly, monthly,")
    path = tmp_path / "bad-cadence.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="weekly"):
        import_plan_file(path)
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_periods_follow_the_cadence(ctx):
    plan = import_plan_file(MINI_PLAN).plan
    periods = db.session.execute(select(Period).where(Period.plan_id == plan.id)).scalars().all()
    kinds = {}
    for p in periods:
        kinds.setdefault(p.kind, []).append(p)
    assert len(kinds["monthly"]) == 11  # February to December
    assert len(kinds["quarterly"]) == 4 and len(kinds["half_year"]) == 1 and len(kinds["annual"]) == 1
    september = next(p for p in kinds["monthly"] if p.start.month == 9)
    assert str(september.due) == "2025-10-14"  # 5th working day after the National Day holiday


@pytest.mark.parametrize(("entries", "members", "implementing", "expected"), [
    ([("A", "lead", False, 0), ("B", "co", False, 100)], {}, [], {"A": ("lead", None), "B": ("co", None)}),
    ([("G", "lead", True, 0)], {"G": ["X", "Y"]}, [], {"X": ("lead", "G"), "Y": ("lead", "G")}),
    ([("A", "lead", False, 0), ("G", "co", True, 100)], {"G": ["A", "Y"]}, [],
     {"A": ("lead", None), "Y": ("co", "G")}),  # named directly wins over the group
    ([("A", "lead", False, 0)], {}, ["M1", "M2"], {"A": ("lead", None), "M1": ("co", "IMP"), "M2": ("co", "IMP")}),
    ([("G", "lead", True, 0)], {"G": []}, ["M1"], {"M1": ("co", "IMP")}),
])
def test_derive_assignments(entries, members, implementing, expected):
    got = derive_assignments(entries, members, implementing, "IMP")
    assert {k: (v[0], v[1]) for k, v in got.items()} == expected


def test_group_membership_change_updates_assignments(ctx, factory):
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")

    def holders(number):
        return {a.unit.name: a.active for a in db.session.execute(
            select(Assignment).join(Task).where(Task.number == number)).scalars()}

    assert holders(2)["自治区商务厅"] is True
    factory.group_members("各行业主管部门", "自治区农牧厅")
    assert holders(2)["自治区商务厅"] is False
    assert holders(2)["自治区农牧厅"] is True
    assert plan_as_dict(plan)["tasks"][1]["units"][-1]["name"] in ("自治区农牧厅", "乙盟")


def test_plan_list_cli(app, ctx):
    import_plan_file(MINI_PLAN)
    out = app.test_cli_runner().invoke(args=["plan", "list"]).output
    assert "mini-2025" in out and "测政发〔2025〕1号" in out
    missing = app.test_cli_runner().invoke(args=["plan", "show", "nope"])
    assert missing.exit_code == 1
