"""The plan parser against hand-written plan files (the truth), field by field."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
import yaml

from app.plans.parsing import ParseResult, draft_to_yaml, parse_document
from app.plans.parsing.evaluate import compare_plans, describe_differences

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "plans"
REAL_DOCUMENT = DATA / "nmg-2025-employment-plan.txt"
REAL_TRUTH = ROOT / "workflows" / "plans" / "nmg-2025-employment.yaml"

DOCUMENTS = [
    (REAL_DOCUMENT, REAL_TRUTH),
    (DATA / "nmg-hrss-skills-2025.docx", DATA / "nmg-hrss-skills-2025.yaml"),
    (DATA / "hhht-2025-jobs-division.txt", DATA / "hhht-2025-jobs-division.yaml"),
    (DATA / "hebei-2025-jobs-points.txt", DATA / "hebei-2025-jobs-points.yaml"),
    (DATA / "nmg-2025-business-env.docx", DATA / "nmg-2025-business-env.yaml"),
]


def _truth(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def real() -> ParseResult:
    return parse_document(REAL_DOCUMENT)


@pytest.mark.parametrize(("document", "truth"), DOCUMENTS, ids=[d.name for d, _ in DOCUMENTS])
def test_draft_matches_the_hand_written_plan(document: Path, truth: Path) -> None:
    """Every task number, title, unit and role, every indicator's value, unit, comparator and
    due date, the sections, the header and the implementing governments."""
    scores = compare_plans(parse_document(document).draft, _truth(truth))
    differences = describe_differences(scores)
    assert not differences, f"{document.name} differs from {truth.name}:\n{differences}"


def test_real_plan_field_by_field(real: ParseResult) -> None:
    truth = _truth(REAL_TRUTH)
    draft = real.draft
    problems = []
    d_tasks = {t["number"]: t for t in draft["tasks"]}
    for t in truth["tasks"]:
        n = t["number"]
        got = d_tasks.get(n)
        if got is None:
            problems.append(f"task {n}: missing")
            continue
        if got["title"] != t["title"]:
            problems.append(f"task {n}: title {got['title']!r} != {t['title']!r}")
        if got["units"] != t["units"]:
            problems.append(f"task {n}: units {got['units']} != {t['units']}")
        if got["section"] != t["section"]:
            problems.append(f"task {n}: section {got['section']} != {t['section']}")
        if got["text"] != t["text"]:
            problems.append(f"task {n}: text differs:\n  {got['text']}\n  {t['text']}")
        want = {(str(i["target"]), i["unit"], i["comparator"], bool(i.get("per_unit"))) for i in t.get("indicators", [])}
        have = {(str(i["target"]), i["unit"], i["comparator"], i["per_unit"]) for i in got.get("indicators", [])}
        if want != have:
            problems.append(f"task {n}: indicators missing {want - have}, extra {have - want}")
        if got.get("policy", []) != t.get("policy", []):
            problems.append(f"task {n}: policy {got.get('policy')} != {t.get('policy')}")
    assert set(d_tasks) == {t["number"] for t in truth["tasks"]}
    assert not problems, "\n".join(problems)


def test_real_plan_header(real: ParseResult) -> None:
    draft = real.draft
    assert draft["code"] == "内政发〔2025〕7号"  # printed "7 号" in the PDF
    assert draft["title"] == "内蒙古自治区就业促进行动实施方案"
    assert draft["issuer"] == "内蒙古自治区人民政府"
    assert draft["issued"] == date(2025, 2, 13)
    assert draft["id"] == "nmg-2025-7"  # <region slug>-<code year>-<code number>
    assert draft["reporting"] == {"start": date(2025, 2, 1), "end": date(2025, 12, 31)}
    assert draft["cadence"] == ["monthly", "quarterly", "half_year", "annual"]
    assert draft["groups"] == [{"name": "各行业主管部门"}]
    assert draft["implementing"] == _truth(REAL_TRUTH)["implementing"]
    assert [s["number"] for s in draft["sections"]] == ["一", "二", "三", "四", "五"]  # （六）（七）hold no tasks
    assert all(s["part"] == "二、重点任务" for s in draft["sections"])


def test_real_plan_targets_and_notes(real: ParseResult) -> None:
    targets = real.draft["targets"]
    assert [(t["name"], t["comparator"], t["target"], t["unit"], t["cumulative"]) for t in targets] == [
        ("城镇新增就业", ">=", 18, "万人", True), ("城镇调查失业率", "~", 5.5, "%", False)]
    assert any("本文有删减" in w for w in real.warnings)
    keys = [i["key"] for t in real.draft["tasks"] for i in t.get("indicators", [])]
    assert keys[:3] == ["t2-1", "t3-1", "t4-1"] and len(keys) == len(set(keys))


def test_source_spans_point_at_the_task_lines(real: ParseResult) -> None:
    spans = real.source_spans
    assert sorted(spans) == list(range(1, 20))
    assert spans[1] == (51, 71)  # "1.推动产业…" to "单独列出）" across a page break
    assert spans[5] == (103, 115)
    assert spans[19] == (323, 337)
    for number, (first, last) in spans.items():
        assert real.lines[first - 1].startswith(f"{number}.")
        assert first <= last
    assert real.lines[70].endswith("单独列出）")


def test_spans_of_a_docx_table_are_its_rows() -> None:
    result = parse_document(DATA / "nmg-hrss-skills-2025.docx")
    for number, (first, last) in result.source_spans.items():
        assert first == last
        assert result.lines[first - 1].startswith(f"{number}.")


def test_unconfirmed_units_without_a_list_of_known_units(real: ParseResult) -> None:
    assert "自治区发展改革委" in real.unconfirmed_units
    assert "各行业主管部门" not in real.unconfirmed_units  # a group, not a unit
    assert any("未提供系统单位名单" in w for w in real.warnings)


def test_known_units_replace_names_and_unknown_ones_are_kept() -> None:
    known = ["内蒙古自治区发展和改革委员会", "内蒙古自治区人力资源和社会保障厅", "内蒙古自治区工业和信息化厅",
             "内蒙古自治区市场监督管理局", "国家税务总局内蒙古自治区税务局", "呼和浩特市人民政府", "包头市"]
    result = parse_document(REAL_DOCUMENT, known_units=known)
    tasks = {t["number"]: t for t in result.draft["tasks"]}
    assert tasks[2]["units"][0] == "内蒙古自治区工业和信息化厅"
    assert tasks[1]["units"][0] == "内蒙古自治区发展和改革委员会"
    assert "国家税务总局内蒙古自治区税务局" in tasks[5]["units"]
    assert tasks[5]["units"][0] == "内蒙古自治区市场监督管理局"
    # not in the list: kept as written, listed for a person to confirm
    assert "自治区商务厅" in tasks[1]["units"]
    assert "自治区商务厅" in result.unconfirmed_units
    assert "内蒙古自治区发展和改革委员会" not in result.unconfirmed_units
    imp = result.draft["implementing"]["units"]
    assert imp[0] == "呼和浩特市人民政府" and imp[1] == "包头市" and "兴安盟" in imp
    assert "兴安盟" in result.unconfirmed_units


def test_extra_aliases_are_used_for_matching() -> None:
    result = parse_document(REAL_DOCUMENT, known_units=["内蒙古自治区商务厅（口岸办）"],
                            aliases={"商务厅（口岸办）": ["商务厅"]})
    assert result.draft["tasks"][0]["units"][1] == "内蒙古自治区商务厅（口岸办）"


def test_utf8_bom_and_gb18030_give_the_same_draft() -> None:
    text = REAL_DOCUMENT.read_text(encoding="utf-8")
    plain = parse_document(text.encode("utf-8")).draft
    assert parse_document(b"\xef\xbb\xbf" + text.encode("utf-8")).draft == plain
    assert parse_document(text.replace("\n", "\r\n").encode("gb18030")).draft == plain
    assert parse_document(io.BytesIO(text.encode("utf-8")), filename="plan.txt").draft == plain


def test_docx_from_bytes_and_from_a_file_object() -> None:
    path = DATA / "nmg-hrss-skills-2025.docx"
    by_path = parse_document(path).draft
    assert parse_document(path.read_bytes()).draft == by_path
    with path.open("rb") as fh:
        assert parse_document(fh).draft == by_path
    assert by_path["tasks"][1]["units"][1] == {"name": "自治区教育厅", "role": "lead"}
    assert "due" not in by_path["tasks"][5]  # 长期坚持


def test_docx_automatic_numbering_is_read() -> None:
    result = parse_document(DATA / "nmg-2025-business-env.docx")
    assert any(line.startswith("1．深化") for line in result.lines)
    assert any(line.startswith("（二）优化市场环境") for line in result.lines)
    assert [t["number"] for t in result.draft["tasks"]] == [1, 2, 3, 4, 5]


def test_restarting_and_ordinal_numbering_is_renumbered() -> None:
    result = parse_document(DATA / "hebei-2025-jobs-points.txt")
    assert [t["number"] for t in result.draft["tasks"]] == list(range(1, 9))
    assert [t["section"] for t in result.draft["tasks"]] == ["一"] * 3 + ["二"] * 2 + ["三"] * 3
    assert result.draft["tasks"][5]["title"] == "推进就业服务平台建设"  # 一是…
    assert any("重新编号" in w for w in result.warnings)
    assert result.draft["id"] == "hebei-2025-18"


def test_draft_to_yaml_round_trips() -> None:
    for document, _ in DOCUMENTS:
        draft = parse_document(document).draft
        text = draft_to_yaml(draft)
        assert yaml.safe_load(text) == draft
        assert "&id" not in text and "\\u" not in text


def test_draft_loads_with_the_plan_file_loader(tmp_path: Path) -> None:
    planfile = pytest.importorskip("app.plans.planfile")
    for document, _ in DOCUMENTS:
        path = tmp_path / (document.stem + ".yaml")
        path.write_text(draft_to_yaml(parse_document(document).draft), encoding="utf-8")
        loaded = planfile.load_plan_file(path)
        assert loaded["tasks"]
