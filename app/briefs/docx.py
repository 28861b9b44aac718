"""The Word document of a brief, drawn from its content dict only (never from live data).

Chinese text uses the fonts a government office has (仿宋 for the body, 黑体 for titles and headings), named in
the East Asian font attribute of each style; no font file is embedded or fetched. Every table has a header row
that repeats on each page; the audit head at issue closes the text and stands in the footer."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt
from flask_babel import gettext

BODY_FONT = "仿宋"
TITLE_FONT = "黑体"
LATIN_FONT = "Times New Roman"
NUMERALS = "一二三四五六七八九十"
MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _fonts(style_or_run: Any, east_asian: str, size: float | None = None, bold: bool | None = None) -> None:
    font = style_or_run.font
    font.name = LATIN_FONT
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    rpr = style_or_run.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):  # a theme font would win
        fonts.attrib.pop(qn(theme), None)
    for attribute in ("w:ascii", "w:hAnsi"):
        fonts.set(qn(attribute), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), east_asian)


def percent(ratio: str | None) -> str:
    """A share written as text ("0.8333") as a percentage with one decimal ("83.3%")."""
    if ratio in (None, ""):
        return "—"
    return f"{Decimal(ratio) * 100:.1f}%"


_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _xml_text(value: str) -> str:
    """Text for a w:t element: escaped, without the control characters XML cannot hold."""
    return escape(value.translate(_CONTROL))


def _n(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


class _Writer:
    def __init__(self, content: dict[str, Any]) -> None:
        self.content = content
        self.doc = Document()
        styles = self.doc.styles
        _fonts(styles["Normal"], BODY_FONT, 12)
        for name, size in (("Title", 22), ("Heading 1", 16), ("Heading 2", 14)):
            _fonts(styles[name], TITLE_FONT, size, bold=False)
            styles[name].font.color.rgb = None
        self.sections = 0
        props = self.doc.core_properties
        props.title = content.get("title", "")
        props.author = content.get("issued_by") or ""
        props.comments = f"audit {content['audit']['hash']}@{content['audit']['seq']}"
        if content.get("issued_at"):
            moment = datetime.fromisoformat(content["issued_at"].replace("Z", "+00:00"))
            props.created = props.modified = moment

    # -- pieces
    def paragraph(self, text: str = "", *, bold: bool = False, align: Any = None, size: float | None = None):
        p = self.doc.add_paragraph()
        run = p.add_run(text.translate(_CONTROL))
        if bold or size:
            _fonts(run, TITLE_FONT if bold else BODY_FONT, size, bold=bold or None)
        if align is not None:
            p.alignment = align
        return p

    def heading(self, text: str) -> None:
        self.sections += 1
        numeral = NUMERALS[self.sections - 1] if self.sections <= len(NUMERALS) else str(self.sections)
        self.doc.add_heading(f"{numeral}、{text}", level=1)

    def table(self, headers: list[str], rows: list[list[Any]]) -> None:
        table = self.doc.add_table(rows=1, cols=len(headers))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        head = table.rows[0]
        trpr = head._tr.get_or_add_trPr()
        repeat = OxmlElement("w:tblHeader")
        repeat.set(qn("w:val"), "true")
        trpr.append(repeat)
        for cell, title in zip(head.cells, headers, strict=True):
            cell.text = ""
            _fonts(cell.paragraphs[0].add_run(title), TITLE_FONT, 11, bold=True)
        # Rows built as XML in one go: python-docx's cell API costs seconds for a table of a few hundred units.
        widths = [cell._tc.tcPr.tcW.w for cell in head.cells]
        body = "".join(
            "<w:tr>" + "".join(
                f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr><w:p><w:r>'
                f'<w:t xml:space="preserve">{_xml_text(_n(value))}</w:t></w:r></w:p></w:tc>'
                for width, value in zip(widths, row, strict=True)) + "</w:tr>"
            for row in rows)
        if body:
            holder = parse_xml(f"<w:tbl {nsdecls('w')}>{body}</w:tbl>")
            table._tbl.extend(list(holder))
        self.doc.add_paragraph()

    # -- the parts every kind has
    def masthead(self) -> None:
        c = self.content
        self.paragraph(c["kind_label"], bold=True, size=26, align=WD_ALIGN_PARAGRAPH.CENTER)
        if c.get("number"):
            self.paragraph(gettext("第 %(number)s 期", number=c["number"]), align=WD_ALIGN_PARAGRAPH.CENTER)
        issued = (c.get("issued_on") or c["as_of"])
        self.paragraph(f"{c['plan']['code']}　{gettext('领导小组办公室')}　{issued}", align=WD_ALIGN_PARAGRAPH.CENTER)
        self.doc.add_heading(c["title"], level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
        self.paragraph(gettext("统计范围：%(label)s（%(start)s 至 %(end)s）；统计截至 %(as_of)s。只计审核通过的填报数值。",
                               label=c["span"]["label"], start=c["span"]["start"], end=c["span"]["end"],
                               as_of=c["as_of"]))

    def practices(self) -> None:
        self.heading(gettext("典型经验"))
        items = self.content.get("practices") or []
        if not items:
            self.paragraph(gettext("本期无标记的典型经验。"))
        for p in items:
            self.paragraph(f"{p['title']}（{p['unit']}，{gettext('任务')} {p['task_number']}，{p['period']}）", bold=True)
            self.paragraph(p["note"])

    def audit(self) -> None:
        head = self.content["audit"]
        line = gettext("审计链头：第 %(seq)s 条事件，哈希 %(hash)s", seq=head["seq"], hash=head["hash"])
        self.paragraph(line, size=9)
        for section in self.doc.sections:
            footer = section.footer.paragraphs[0]
            footer.text = line
            footer.alignment = WD_ALIGN_PARAGRAPH.CENTER

    # -- the kinds
    def monthly(self) -> None:
        c = self.content
        self.heading(gettext("主要指标完成情况"))
        self.table(
            [gettext("指标"), gettext("目标"), gettext("完成（已通过）"), gettext("占目标"), gettext("按进度应完成"),
             gettext("完成进度比"), gettext("灯"), gettext("填报单位")],
            [[i["name"], f"{_comparator(i['comparator'])} {i['target_total']} {i['unit']}",
              f"{_n(i['total'])} {i['unit']}" if i["total"] is not None else "—", percent(i.get("target_share")),
              f"{_n(i['expected'])} {i['unit']}" if i["expected"] is not None else "—", percent(i["ratio"]),
              i["light_label"] or "—", f"{i['reporters']}/{i['expected_reporters']}"] for i in c["indicators"]])
        notes = [f"{i['name']}：{i['explanation']}" for i in c["indicators"] if i.get("explanation")]
        for note in notes:
            self.paragraph(note)
        r = c["reporting"]
        self.heading(gettext("报送情况"))
        self.paragraph(gettext("本期应报 %(total)s 项：按时报送 %(on_time)s 项，逾期报送 %(late)s 项，退回待改 %(returned)s "
                               "项，逾期未报 %(missing)s 项，未到截止日 %(pending)s 项。", **{k: r[k] for k in (
                                   "total", "on_time", "late", "returned", "missing", "pending")}))
        self.heading(gettext("进度滞后的任务"))
        if c["lagging_tasks"]:
            self.table([gettext("任务"), gettext("名称"), gettext("责任单位数"), gettext("逾期未报"), gettext("红灯")],
                       [[t["number"], t["title"], t["units"], t["overdue"], t["red"]] for t in c["lagging_tasks"]])
        else:
            self.paragraph(gettext("本期无进度滞后的任务。"))
        self.heading(gettext("进度滞后的单位"))
        if c["lagging_units"]:
            self.table([gettext("单位"), gettext("类别"), gettext("事项数"), gettext("逾期未报"), gettext("红灯")],
                       [[u["name"], u["kind_label"], u["items"], u["overdue"], u["red"]] for u in c["lagging_units"]])
        else:
            self.paragraph(gettext("本期无进度滞后的单位。"))
        self.practices()

    def quarterly(self) -> None:
        c = self.content
        self.heading(gettext("主要指标逐月走势"))
        rows = []
        for ind in c["trend"]:
            for m in ind["months"]:
                rows.append([ind["name"], m["label"], f"{_n(m['total'])} {ind['unit']}" if m["total"] else "—",
                             f"{_n(m['expected'])} {ind['unit']}" if m["expected"] else "—", percent(m["ratio"]),
                             m["light_label"] or "—"])
        self.table([gettext("指标"), gettext("月份"), gettext("完成（已通过）"), gettext("按进度应完成"),
                    gettext("完成进度比"), gettext("灯")], rows)
        self.heading(gettext("分类完成情况"))
        self.table([gettext("单位类别"), gettext("应报"), gettext("已报送"), gettext("按时报送"), gettext("已通过"),
                    gettext("逾期未报"), gettext("报送率")],
                   [[k["label"], k["due"], k["submitted"], k["on_time"], k["accepted"], k["missing"], percent(k["rate"])]
                    for k in c["by_kind"]])
        self.heading(gettext("滞后单位"))
        if c["lagging_units"]:
            self.table([gettext("单位"), gettext("类别"), gettext("应报"), gettext("逾期未报"), gettext("逾期报送"),
                        gettext("退回待改")],
                       [[u["name"], u["kind_label"], u["due"], u["missing"], u["late"], u["returned"]]
                        for u in c["lagging_units"]])
        else:
            self.paragraph(gettext("本季度无滞后单位。"))
        self.practices()

    def annual(self) -> None:
        c = self.content
        s = c["scoring"]
        self.heading(gettext("评分办法"))
        parts = "；".join(f"{x['label']} {x['weight']} 分" for x in s["components"])
        bands = "；".join(f"{g['grade']} ≥ {g['min']}" for g in s["grades"])
        self.paragraph(gettext("评分公式 %(version)s 版（%(effective)s 起施行）：%(parts)s。等级：%(bands)s。",
                               version=s["version"], effective=s["effective"], parts=parts, bands=bands))
        self.heading(gettext("各单位得分"))
        keys = [x["key"] for x in s["components"]]
        self.table([gettext("名次"), gettext("单位"), gettext("类别"),
                    *[f"{x['label']}（{x['weight']}）" for x in s["components"]], gettext("总分"), gettext("等级")],
                   [[u["rank"], u["name"], u["kind_label"], *[_n(u["components"][k]["score"]) for k in keys],
                     u["total"], u["grade"]] for u in c["units"]])
        self.paragraph("；".join(f"{g['grade']} {g['units']} 个" for g in c["grade_counts"]))


def _comparator(comparator: str) -> str:
    return {">=": "≥", "<=": "≤", "~": "≈"}.get(comparator, comparator)


def render(content: dict[str, Any]) -> bytes:
    """The .docx bytes of a brief's content."""
    writer = _Writer(content)
    writer.masthead()
    getattr(writer, content["kind"])()
    writer.audit()
    out = io.BytesIO()
    writer.doc.save(out)
    return out.getvalue()
