"""Read a document into a list of text lines.

- .txt: UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030. Lines are kept as they are
  (a PDF copy breaks lines mid-word; the structure step joins them).
- .docx: paragraphs and tables in document order. A task table (序号 / 重点任务 / 牵头单位 /
  配合单位 / 完成时限 columns in any order, header matched by words) becomes one line per task
  in the written-out form "N.任务（牵头单位：…；配合单位：…；完成时限：…）", so one text
  pipeline parses both. Other tables become one line per row. Automatic Word numbering of
  paragraphs (numPr) is rendered as text ("1." / "（一）").
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import PlanParseError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"

Source = str | Path | bytes | bytearray | memoryview | IO[bytes]


@dataclass
class SourceText:
    lines: list[str]
    kind: str  # "txt" or "docx"
    encoding: str | None = None


def read_bytes(source: Source, filename: str | None) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), filename
    if hasattr(source, "read"):
        data = source.read()  # type: ignore[union-attr]
        if isinstance(data, str):
            data = data.encode("utf-8")
        return bytes(data), filename or getattr(source, "filename", None) or getattr(source, "name", None)
    path = Path(source)  # type: ignore[arg-type]
    try:
        return path.read_bytes(), filename or path.name
    except FileNotFoundError:
        raise PlanParseError(f"找不到文件：{path}") from None
    except OSError as exc:
        raise PlanParseError(f"无法读取文件 {path}：{exc.strerror or exc}") from None


def read_source(source: Source, filename: str | None = None) -> SourceText:
    data, filename = read_bytes(source, filename)
    name = (filename or "").lower()
    if not data or not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise PlanParseError("文件为空：没有可读取的文字。")
    if data.startswith(OLE_MAGIC):
        raise PlanParseError(
            "无法读取：文件是受密码保护（加密）的 Word 文档或旧版 .doc 格式。"
            "请去掉密码，另存为 .docx 或 .txt 后再上传。")
    if data.startswith(b"%PDF"):
        raise PlanParseError("不支持直接读取 PDF：请复制 PDF 中的文字另存为 .txt，或另存为 .docx 后再上传。")
    if data.startswith(ZIP_MAGIC):
        return SourceText(read_docx(data), "docx")
    if name.endswith((".docx", ".doc")):
        raise PlanParseError("Word 文件已损坏或不是有效的 .docx 文件，无法打开。")
    text, encoding = decode_text(data)
    return SourceText(text.splitlines(), "txt", encoding)


def decode_text(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            continue
        return text, encoding
    raise PlanParseError("无法识别文件编码：文件不是 UTF-8 或 GB18030 编码的文本（也可能不是文本文件）。"
                         "请另存为 UTF-8 编码的 .txt 后再上传。")


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    sample = text[:20000]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t\f\v")
    return controls > max(3, len(sample) // 100)


# --- .docx -----------------------------------------------------------------------------------

HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "number": ("序号", "编号"),
    "task": ("重点任务", "工作任务", "主要任务", "具体任务", "任务名称", "任务事项", "任务"),
    "body": ("具体措施", "工作措施", "主要措施", "主要内容", "具体内容", "工作内容", "工作举措", "措施"),
    "lead": ("牵头单位", "牵头部门", "主责单位", "牵头"),
    "co": ("配合单位", "配合部门", "协办单位", "参与单位", "配合"),
    "resp": ("责任单位", "责任部门", "负责单位"),
    "due": ("完成时限", "完成时间", "时间节点", "时间安排", "进度安排", "时限"),
}


def _column_role(text: str) -> str | None:
    cell = re.sub(r"\s+", "", text)
    if not cell or len(cell) > 12:
        return None
    for role, words in HEADER_WORDS.items():
        if any(word in cell for word in words):
            return role
    return None


def _header_columns(cells: list[str]) -> dict[str, int] | None:
    columns: dict[str, int] = {}
    for i, cell in enumerate(cells):
        role = _column_role(cell)
        if role and role not in columns:
            columns[role] = i
    if "task" not in columns and "body" in columns:
        columns["task"] = columns.pop("body")
    if "task" in columns and ({"lead", "co", "resp", "due", "number"} & columns.keys()):
        return columns
    return None


def _unit_cell(text: str) -> str:
    parts = [p.strip(" 　，,、；;") for p in re.split(r"[\r\n]+", text)]
    return "、".join(p for p in parts if p)


def _table_lines(rows: list[list[str]]) -> list[str]:
    """Lines for one table: task rows in written-out form, the rest one line per row."""
    columns: dict[str, int] | None = None
    header: list[str] | None = None
    lines: list[str] = []
    running = 0
    for cells in rows:
        if columns is None:
            columns = _header_columns(cells)
            if columns is not None:
                header = cells
                lines.append("")  # the header row: no text of its own
                continue
            lines.append("　".join(dict.fromkeys(c.strip() for c in cells if c.strip())))
            continue
        if cells == header:  # header repeated on a new page
            lines.append("")
            continue
        distinct = list(dict.fromkeys(c.strip() for c in cells if c.strip()))
        if len(distinct) <= 1:  # a merged row: a section heading such as （一）…
            lines.append(re.sub(r"[\r\n]+", "", distinct[0]) if distinct else "")
            continue

        def cell(role: str, cells: list[str] = cells, columns: dict[str, int] = columns) -> str:
            index = columns.get(role)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        task = re.sub(r"\s*[\r\n]+\s*", "", cell("task"))
        body = re.sub(r"\s*[\r\n]+\s*", "", cell("body")) if "body" in columns else ""
        if not task and not body:
            lines.append("　".join(distinct))
            continue
        if body:
            task = task.rstrip("。；;") + "。" + body
        number_text = re.sub(r"\s+", "", cell("number"))
        match = re.match(r"\d+", number_text)
        running = int(match.group()) if match else running + 1
        labels = []
        if cell("lead"):
            labels.append("牵头单位：" + _unit_cell(cell("lead")))
        if cell("resp"):
            labels.append("责任单位：" + _unit_cell(cell("resp")))
        if cell("co"):
            labels.append("配合单位：" + _unit_cell(cell("co")))
        if cell("due"):
            labels.append("完成时限：" + re.sub(r"\s+", "", cell("due")))
        suffix = "（" + "；".join(labels) + "）" if labels else ""
        lines.append(f"{running}.{task}{suffix}")
    return lines


_CHINESE_DIGITS = "零一二三四五六七八九"


def _chinese_number(n: int) -> str:
    if n < 10:
        return _CHINESE_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CHINESE_DIGITS[tens]
    return head + "十" + (_CHINESE_DIGITS[ones] if ones else "")


class _Numbering:
    """Renders automatic Word numbering (w:numPr on a paragraph) as text."""

    def __init__(self, document: Any) -> None:
        from docx.oxml.ns import qn

        self.qn = qn
        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}
        self.counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
        for an in root.findall(qn("w:abstractNum")):
            levels = {}
            for lvl in an.findall(qn("w:lvl")):
                fmt = lvl.find(qn("w:numFmt"))
                text = lvl.find(qn("w:lvlText"))
                start = lvl.find(qn("w:start"))
                levels[int(lvl.get(qn("w:ilvl")))] = (
                    fmt.get(qn("w:val")) if fmt is not None else "decimal",
                    text.get(qn("w:val")) if text is not None else "",
                    int(start.get(qn("w:val"))) if start is not None else 1,
                )
            abstract[an.get(qn("w:abstractNumId"))] = levels
        for num in root.findall(qn("w:num")):
            ref = num.find(qn("w:abstractNumId"))
            if ref is None:
                continue
            for ilvl, spec in abstract.get(ref.get(qn("w:val")), {}).items():
                self.levels[(num.get(qn("w:numId")), ilvl)] = spec

    def label(self, paragraph_element: Any) -> str:
        qn = self.qn
        ppr = paragraph_element.find(qn("w:pPr"))
        numpr = ppr.find(qn("w:numPr")) if ppr is not None else None
        if numpr is None:
            return ""
        num_id_el, ilvl_el = numpr.find(qn("w:numId")), numpr.find(qn("w:ilvl"))
        if num_id_el is None:
            return ""
        num_id = num_id_el.get(qn("w:val"))
        ilvl = int(ilvl_el.get(qn("w:val"))) if ilvl_el is not None else 0
        spec = self.levels.get((num_id, ilvl))
        if spec is None or spec[0] in ("bullet", "none"):
            return ""
        counters = self.counters.setdefault(num_id, [0] * 9)
        counters[ilvl] = counters[ilvl] + 1 if counters[ilvl] else spec[2]
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        text = spec[1]
        for level in range(ilvl + 1):
            level_spec = self.levels.get((num_id, level), ("decimal", "", 1))
            value = counters[level] or level_spec[2]
            rendered = _chinese_number(value) if level_spec[0].startswith(("chinese", "ideograph", "japanese")) \
                else str(value)
            text = text.replace(f"%{level + 1}", rendered)
        return text


def read_docx(data: bytes) -> list[str]:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise PlanParseError(f"Word 文件已损坏或不是有效的 .docx 文件，无法打开（{type(exc).__name__}）。") from None
    numbering = _Numbering(document)
    lines: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            lines.append(numbering.label(child) + paragraph.text)
        elif tag == "tbl":
            table = Table(child, document)
            rows = [[cell.text for cell in row.cells] for row in table.rows]
            lines.extend(_table_lines(rows))
    return lines
