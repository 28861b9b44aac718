"""Build nmg-hrss-skills-2025.docx: a plan whose tasks sit in a Word table.

Run from the repository root: .venv/bin/python tests/data/plans/make_docx_table_plan.py
The table's columns are 序号 / 重点任务 / 完成时限 / 牵头单位 / 配合单位 (the deadline column is
not last, to check that columns are found by their header words). Section headings are merged
rows; unit cells hold several lines; one task has two lead units.
"""

from __future__ import annotations

from pathlib import Path

import docx

HERE = Path(__file__).resolve().parent

PARAGRAPHS_BEFORE = [
    "内蒙古自治区人力资源和社会保障厅关于印发《2025年全区技能人才培养工作方案》的通知",
    "内人社发〔2025〕12号",
    "各盟市人力资源社会保障局，厅机关各处室、各直属单位：",
    "现将《2025年全区技能人才培养工作方案》印发给你们，请结合实际认真抓好落实。",
    "内蒙古自治区人力资源和社会保障厅",
    "2025年3月10日",
    "2025年全区技能人才培养工作方案",
    "为深入实施技能中国行动，加快培养高素质技能人才，制定本方案。",
    "一、工作目标",
    "到2025年底，全区新培养高技能人才2万人以上，技能人才占就业人员比例达到30%左右。",
    "二、重点任务",
]

HEADER = ["序号", "重点任务", "完成时限", "牵头单位", "配合单位"]

ROWS: list[list[str] | str] = [
    "（一）扩大技能人才培养规模",
    ["1", "实施职业技能提升行动。面向重点群体开展补贴性职业技能培训，全年培训不少于25万人次。",
     "2025年12月底前", "自治区人力资源社会保障厅", "财政厅\n教育厅"],
    ["2", "推进技工院校扩招。技工院校招生规模达到4.5万人。", "2025年9月底前",
     "自治区人力资源社会保障厅\n自治区教育厅", "发展改革委"],
    ["3", "开展新型学徒制培训。支持企业开展新型学徒制培训，每个盟市至少培育2家示范企业。", "2025年11月底前",
     "自治区人力资源社会保障厅", "各盟市人力资源社会保障局"],
    "（二）完善技能人才评价激励",
    ["4", "推行职业技能等级认定。新增职业技能等级认定备案企业300家以上，对取得高级工证书的给予1000元技能提升补贴。",
     "2025年6月底前", "自治区人力资源社会保障厅", "财政厅、工业和信息化厅、国资委"],
    ["5", "举办全区职业技能大赛。组织开展第二届全区职业技能大赛，设置比赛项目不少于60个。", "2025年第三季度",
     "自治区人力资源社会保障厅", "总工会、团委"],
    ["6", "落实技能人才待遇。引导企业建立技能导向的薪酬分配制度。", "长期坚持",
     "自治区人力资源社会保障厅", "国资委、总工会"],
]

PARAGRAPHS_AFTER = [
    "三、保障措施",
    "（一）加强组织领导。各盟市人力资源社会保障部门要把技能人才培养列入重要日程，明确专人负责。",
    "（二）强化调度督导。实行季度调度、半年总结、年终考核，对工作滞后的及时督促。",
]


def build(path: Path) -> None:
    document = docx.Document()
    for text in PARAGRAPHS_BEFORE:
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=len(HEADER))
    for cell, text in zip(table.rows[0].cells, HEADER, strict=True):
        cell.text = text
    for row in ROWS:
        cells = table.add_row().cells
        if isinstance(row, str):
            merged = cells[0].merge(cells[-1])
            merged.text = row
        else:
            for cell, text in zip(cells, row, strict=True):
                cell.text = text
    for text in PARAGRAPHS_AFTER:
        document.add_paragraph(text)
    document.core_properties.author = "test"
    document.save(path)


if __name__ == "__main__":
    build(HERE / "nmg-hrss-skills-2025.docx")
