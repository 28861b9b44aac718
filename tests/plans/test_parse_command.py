"""`flask plan parse DOC [--out plan.yaml]`: the issued document drafted as a plan file.

The draft of our own plan, imported with `flask plan import` into an empty database, gives
the same plan as the hand-written workflows/plans/nmg-2025-employment.yaml, field by field."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from app.extensions import db
from app.plans.models import Plan
from app.plans.planfile import load_plan_text
from app.plans.services import find_plan, get_or_create_unit, import_plan_file, plan_as_dict
from tests.conftest import NMG_PLAN, _empty_database

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "plans"
NMG_DOCUMENT = DATA / "nmg-2025-employment-plan.txt"
DOCX_DOCUMENT = DATA / "nmg-hrss-skills-2025.docx"


def plan_fields(data: dict[str, Any]) -> dict[str, Any]:
    """What a parsed plan must share with the hand-written one (plan_as_dict): the header,
    the sections, and per task its title, units (name, role, via group, group) and
    indicators (target, unit, comparator, due, per unit, cumulative). Indicator names are
    not compared: the parser's are rough (建立新型…服务中心 for 新型…服务中心)."""

    def indicators(items: list[dict[str, Any]]) -> list[tuple]:
        return sorted((i["target"], i["unit"], i["comparator"], i["due"], i["per_unit"], i["cumulative"])
                      for i in items)

    return {
        "header": {k: data[k] for k in ("code", "title", "issuer", "issued", "reporting", "cadence")},
        "sections": data["sections"],
        "targets": indicators(data["targets"]),
        "tasks": {t["number"]: {
            "title": t["title"], "section": t["section"], "text": t["text"],
            "units": [(u["name"], u["role"], u.get("via"), bool(u.get("group"))) for u in t["units"]],
            "indicators": indicators(t["indicators"]),
        } for t in data["tasks"]},
    }


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("header", "sections", "targets"):
        if got[key] != want[key]:
            problems.append(f"{key}: {got[key]} != {want[key]}")
    if set(got["tasks"]) != set(want["tasks"]):
        problems.append(f"task numbers: {sorted(got['tasks'])} != {sorted(want['tasks'])}")
    for number in sorted(set(got["tasks"]) & set(want["tasks"])):
        for name, value in want["tasks"][number].items():
            if got["tasks"][number][name] != value:
                problems.append(f"task {number} {name}: {got['tasks'][number][name]} != {value}")
    return problems


def hand_written_fields(app) -> dict[str, Any]:
    """plan_as_dict of the hand-written plan file, imported into an emptied database."""
    db.session.rollback()  # the test's own transaction would hold locks the emptying waits for (PostgreSQL)
    db.session.remove()
    _empty_database(app)
    plan = import_plan_file(NMG_PLAN).plan
    return plan_fields(plan_as_dict(plan))


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=["plan", *args])


def test_parsed_plan_imports_like_the_hand_written_one(app, ctx, tmp_path):
    out = tmp_path / "plan.yaml"
    result = invoke(app, "parse", str(NMG_DOCUMENT), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the plan file went to --out; messages to stderr
    assert "已生成方案草稿 nmg-2025-7" in result.stderr and "19 项任务" in result.stderr
    # an empty database knows no units: every name is kept as written and listed for a person to confirm
    assert "待确认单位" in result.stderr and "内蒙古税务局" in result.stderr
    assert "本文有删减" in result.stderr

    imported = invoke(app, "import", str(out))
    assert imported.exit_code == 0, imported.output
    assert "imported nmg-2025-7" in imported.output
    parsed = plan_fields(plan_as_dict(find_plan("nmg-2025-7")))

    want = hand_written_fields(app)
    assert parsed["tasks"].keys() == set(range(1, 20))
    assert differences(parsed, want) == []
    # the comparison is not empty: units, roles and targets are really there
    assert parsed["tasks"][5]["units"][0] == ("自治区市场监管局", "lead", None, False)
    assert ("内蒙古税务局", "co", None, False) in parsed["tasks"][5]["units"]
    assert ("各行业主管部门", "lead", None, True) in parsed["tasks"][3]["units"]
    assert ("阿拉善盟", "co", "各盟行政公署、市人民政府", False) in parsed["tasks"][1]["units"]
    assert (15, "万个", ">=", "2025-12-31", False, True) in parsed["tasks"][2]["indicators"]
    assert (5.5, "%", "~", "2025-12-31", False, False) in parsed["targets"]


def test_parse_to_stdout_matches_units_already_in_the_system(app, ctx):
    import_plan_file(NMG_PLAN)
    result = invoke(app, "parse", str(NMG_DOCUMENT))
    assert result.exit_code == 0, result.output
    draft = load_plan_text(result.stdout, "stdout.yaml")  # loads as `flask plan import` would
    assert [t["number"] for t in draft["tasks"]] == list(range(1, 20))
    assert "待确认单位" not in result.stderr  # every name is a unit of the system
    assert "草稿还不能直接导入" not in result.stderr


def test_unit_names_matched_through_the_alias_table(app, ctx):
    # the system writes the full names; the document writes 自治区发展改革委 and 内蒙古税务局
    get_or_create_unit("内蒙古自治区发展和改革委员会", "department")
    get_or_create_unit("国家税务总局内蒙古自治区税务局", "external")
    db.session.commit()
    result = invoke(app, "parse", str(NMG_DOCUMENT))
    assert result.exit_code == 0, result.output
    tasks = {t["number"]: t for t in yaml.safe_load(result.stdout)["tasks"]}
    assert tasks[1]["units"][0] == "内蒙古自治区发展和改革委员会"
    assert "国家税务总局内蒙古自治区税务局" in tasks[5]["units"]
    assert "内蒙古税务局" not in tasks[5]["units"]
    assert "自治区发展改革委、" not in result.stderr.split("待确认单位")[1]


def test_gb18030_text_and_docx(app, ctx, tmp_path):
    gb = tmp_path / "plan-gb18030.txt"
    gb.write_bytes(NMG_DOCUMENT.read_text(encoding="utf-8").encode("gb18030"))
    result = invoke(app, "parse", str(gb))
    assert result.exit_code == 0, result.output
    assert len(yaml.safe_load(result.stdout)["tasks"]) == 19
    result = invoke(app, "parse", str(DOCX_DOCUMENT), "--out", str(tmp_path / "skills.yaml"))
    assert result.exit_code == 0, result.output
    load_plan_text((tmp_path / "skills.yaml").read_text(encoding="utf-8"))
    truth = yaml.safe_load((DATA / "nmg-hrss-skills-2025.yaml").read_text(encoding="utf-8"))
    drafted = yaml.safe_load((tmp_path / "skills.yaml").read_text(encoding="utf-8"))
    assert [t["number"] for t in drafted["tasks"]] == [t["number"] for t in truth["tasks"]]


def _docx_bytes() -> bytes:
    return DOCX_DOCUMENT.read_bytes()


def _zip_without_document() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a word file")
    return buffer.getvalue()


BAD_DOCUMENTS = [
    ("empty.txt", b"", "文件为空"),
    ("blank.txt", "  \r\n\u3000\n".encode(), "文件为空"),
    ("notice.txt", "关于做好就业工作的通知\n各单位要高度重视，认真落实。\n2025年2月13日\n".encode("gb18030"),
     "未找到编号的任务"),
    ("binary.txt", bytes(range(128, 256)) * 20, "无法识别文件编码"),
    ("broken.docx", _docx_bytes()[:3000], "Word 文件已损坏"),
    ("other.docx", _zip_without_document(), "Word 文件已损坏"),
    ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2048, "受密码保护"),
    ("plan.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "不支持直接读取 PDF"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS])
def test_bad_documents_exit_2_with_a_chinese_message(app, ctx, tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "plan.yaml"
    result = invoke(app, "parse", str(path), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "未生成方案文件" in result.stderr
    assert result.stdout == ""
    assert not out.exists()
    assert db.session.scalar(select(func.count()).select_from(Plan)) == 0


def test_missing_document_and_unwritable_output(app, ctx, tmp_path):
    result = invoke(app, "parse", str(tmp_path / "nope.txt"))
    assert result.exit_code == 2 and "找不到文件" in result.stderr
    result = invoke(app, "parse", str(NMG_DOCUMENT), "--out", str(tmp_path / "no-such-dir" / "plan.yaml"))
    assert result.exit_code == 2 and "无法写入" in result.stderr


def test_draft_that_needs_work_says_so(app, ctx, tmp_path):
    # no document code and no date: the draft is written, and stderr says what to fill in
    path = tmp_path / "plan.txt"
    path.write_text("稳就业工作方案\n一、重点任务\n1.稳定企业岗位。新增岗位5000个以上。（责任单位：市人社局）\n", encoding="utf-8")
    result = invoke(app, "parse", str(path))
    assert result.exit_code == 0, result.output
    assert "未找到发文字号" in result.stderr
    assert "草稿还不能直接导入" in result.stderr
    assert yaml.safe_load(result.stdout)["tasks"][0]["title"] == "稳定企业岗位"
