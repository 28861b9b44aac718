"""Build nmg-2025-business-env.docx: a plan in Word paragraphs with automatic numbering.

Run from the repository root: .venv/bin/python tests/data/plans/make_docx_autonumber_plan.py
Section headings carry Word numbering "（一）" (chineseCounting) and tasks "1．" (decimal,
running through the sections), so the numbers are not in the paragraph text. Units are
written "X牵头，Y配合", deadlines follow in the same parentheses, one task says 长期坚持.
"""

from __future__ import annotations

from pathlib import Path

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

HERE = Path(__file__).resolve().parent

BEFORE = [
    "内蒙古自治区人民政府办公厅关于印发2025年全区优化营商环境重点任务清单的通知",
    "内政办发〔2025〕21号",
    "各盟行政公署、市人民政府，自治区各委、办、厅、局，各大企业、事业单位：",
    "经自治区人民政府同意，现将《2025年全区优化营商环境重点任务清单》印发给你们，请认真贯彻执行。",
    "内蒙古自治区人民政府办公厅",
    "2025年4月2日",
    "2025年全区优化营商环境重点任务清单",
    "一、主要目标",
    "到2025年底，全区经营主体突破300万户，政务服务事项网上可办率达到98%以上。",
    "二、重点任务",
]

# ("section", text) gets "（一）" numbering, ("task", text) gets "1．" numbering
BODY = [
    ("section", "提升政务服务效能"),
    ("task", "深化“高效办成一件事”改革。6月底前实现新生儿出生、企业开办等13个重点事项“一件事一次办”。"
             "（自治区政务服务与数据管理局牵头，自治区公安厅、卫生健康委、市场监管局配合；2025年6月底前完成）"),
    ("task", "压减企业开办时间。将企业开办全流程时间压减至1个工作日以内。"
             "（自治区市场监管局牵头，各盟市负责落实；2025年9月底前完成）"),
    ("section", "优化市场环境"),
    ("task", "加大助企纾困力度。全年为经营主体减税降费200亿元以上。对首次贷款的小微企业给予贷款额1%的贴息支持。"
             "（自治区财政厅、内蒙古税务局牵头，中国人民银行内蒙古自治区分行配合；长期坚持）"),
    ("task", "规范涉企检查。推行“综合查一次”，全年涉企行政检查频次同比下降20%以上。"
             "（自治区司法厅牵头，各有关部门按职责分工负责；2025年12月底前完成）"),
    ("task", "清理拖欠企业账款。做到应清尽清，拖欠账款动态清零。"
             "（自治区工业和信息化厅、国资委牵头，自治区财政厅配合；2025年11月底前完成）"),
]

AFTER = [
    "三、保障措施",
    "（一）强化统筹推进。自治区优化营商环境工作专班实行“周调度、月通报、季评估”，每半年向自治区人民政府报告进展情况。",
]


def _abstract(abstract_id: int, fmt: str, text: str) -> OxmlElement:
    an = OxmlElement("w:abstractNum")
    an.set(qn("w:abstractNumId"), str(abstract_id))
    lvl = OxmlElement("w:lvl")
    lvl.set(qn("w:ilvl"), "0")
    for tag, value in (("w:start", "1"), ("w:numFmt", fmt), ("w:lvlText", text)):
        el = OxmlElement(tag)
        el.set(qn("w:val"), value)
        lvl.append(el)
    an.append(lvl)
    return an


def _num(num_id: int, abstract_id: int) -> OxmlElement:
    num = OxmlElement("w:num")
    num.set(qn("w:numId"), str(num_id))
    ref = OxmlElement("w:abstractNumId")
    ref.set(qn("w:val"), str(abstract_id))
    num.append(ref)
    return num


def _number(paragraph: docx.text.paragraph.Paragraph, num_id: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    numpr = OxmlElement("w:numPr")
    for tag, value in (("w:ilvl", "0"), ("w:numId", str(num_id))):
        el = OxmlElement(tag)
        el.set(qn("w:val"), value)
        numpr.append(el)
    ppr.append(numpr)


def build(path: Path) -> None:
    document = docx.Document()
    numbering = document.part.numbering_part.element
    # abstractNum elements must precede num elements
    first_num = numbering.find(qn("w:num"))
    for abstract in (_abstract(90, "chineseCounting", "（%1）"), _abstract(91, "decimal", "%1．")):
        first_num.addprevious(abstract)
    numbering.append(_num(90, 90))
    numbering.append(_num(91, 91))
    for text in BEFORE:
        document.add_paragraph(text)
    for kind, text in BODY:
        _number(document.add_paragraph(text), 90 if kind == "section" else 91)
    for text in AFTER:
        document.add_paragraph(text)
    document.save(path)


if __name__ == "__main__":
    build(HERE / "nmg-2025-business-env.docx")
