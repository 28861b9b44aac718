"""Find the structure of a plan in the text stream: header (code, title, issuer, date), parts
(一、), sections (（一）), numbered tasks (1. / 1． / 1、 / （1） / 一是…二是…) and their spans.

Markers count only where a source line begins, and only in sequence: a marker is taken when its
number follows the last one of its level, or is 1 after a marker of a higher level (numbering
that restarts in each section). The task level is the Arabic "1." level when the document has
one, else "（1）"; a section with no numbered task whose 一是/二是… clauses name responsible
units yields one task per clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dates import CN_DATE_RE, DATE_RE, chinese_to_int
from .stream import Stream

PART_RE = re.compile(r"([一二三四五六七八九十]{1,3})、")
SECTION_RE = re.compile(r"[（(]([一二三四五六七八九十]{1,3})[）)]")
ARABIC_RE = re.compile(r"(\d{1,3})[.．、](?![\d%])")
PAREN_ARABIC_RE = re.compile(r"[（(](\d{1,3})[）)]")
ORDINAL_CLAUSE_RE = re.compile(r"([一二三四五六七八九十]{1,3})是")
ORDINAL_BEFORE = "。；;：:！？，,）)"
END_RE = re.compile(r"附件\s*(?:\d+|[一二三四五六七八九十]+)?\s*[:：]?|抄送[:：]|[（(]此件(?:公开发布|不公开)[)）]")
FULL_DATE_LINE = re.compile(r"^(?:\d{4}年\d{1,2}月\d{1,2}日|[〇○零一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月"
                            r"[一二三四五六七八九十]{1,3}日)$")
UNITS_PAREN_RE = re.compile(r"[（(]\s*(?:责任单位|牵头单位|主责单位|负责单位|责任部门|牵头部门|牵头)[：:]")
LABEL_START_RE = re.compile(r"(?:责任单位|牵头单位|主责单位|负责单位|责任部门|牵头部门)[：:]")
DUE_PAREN_RE = re.compile(r"[（(]([^（）()]{0,30}?(?:前完成|底前|底完成|末前|月底|年底|长期坚持|持续推进)[^（）()]{0,10})[）)]")
CODE_RE = re.compile(r"([\u4e00-\u9fff]{1,12})[〔\[［【(（]\s*(\d{4})\s*[〕\]］】)）]\s*(\d{1,4})\s*号")
PLAN_WORDS = ("实施方案", "工作方案", "行动方案", "方案", "行动计划", "工作计划", "计划", "任务清单", "工作要点", "若干措施",
              "措施", "实施意见")
ORG_END = re.compile(r"(?:人民政府|办公厅|办公室|委员会|领导小组|厅|局|委|政府|党委)$")

LEVELS = ("part", "section", "arabic", "paren")
REGEXES = {"part": PART_RE, "section": SECTION_RE, "arabic": ARABIC_RE, "paren": PAREN_ARABIC_RE}


@dataclass
class Marker:
    level: str
    number: int
    label: str  # the numeral as printed: 一 / 1
    start: int  # offset of the marker in the stream
    body: int  # offset just after the marker
    line_index: int  # index into stream.starts


@dataclass
class Header:
    code: str | None = None
    code_year: int | None = None
    code_number: int | None = None
    title: str | None = None
    title_end: int | None = None  # stream offset after the plan's own title line
    issuer: str | None = None
    issued: object = None  # datetime.date | None
    issued_line: int | None = None


@dataclass
class RawTask:
    printed: int | None  # number as printed (None for 一是… clauses)
    start: int
    body: int
    end: int
    section: Marker | None
    part: Marker | None
    ordinal_clause: bool = False


@dataclass
class Structure:
    markers: list[Marker] = field(default_factory=list)
    tasks: list[RawTask] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # offsets where the plan text ends (附件, 抄送, date)
    task_level: str | None = None


def find_markers(stream: Stream) -> tuple[list[Marker], list[int]]:
    candidates: list[Marker] = []
    ends: list[int] = []
    text = stream.text
    for index, start in enumerate(stream.starts):
        line = stream.line_text(index)
        if FULL_DATE_LINE.match(line) or END_RE.match(line):
            ends.append(start)
            continue
        for level in LEVELS:
            m = REGEXES[level].match(text, start)
            if m:
                raw = m.group(1)
                number = int(raw) if raw.isdigit() else chinese_to_int(raw)
                if number:
                    candidates.append(Marker(level, number, raw, start, m.end(), index))
                break
    accepted: list[Marker] = []
    last = dict.fromkeys(LEVELS, 0)
    restart = dict.fromkeys(LEVELS, False)
    for marker in candidates:
        level = marker.level
        if marker.number == last[level] + 1 or (marker.number == 1 and (last[level] == 0 or restart[level])):
            accepted.append(marker)
            last[level] = marker.number
            restart[level] = False
            for deeper in LEVELS[LEVELS.index(level) + 1:]:
                restart[deeper] = True
    return accepted, ends


def heading_title(stream: Stream, marker: Marker, full_width: int) -> str:
    """The heading text after a part/section marker: the rest of its line (continued while the
    line is full, i.e. wrapped), cut at the first 。"""
    index = marker.line_index
    text = stream.line_text(index)[marker.body - marker.start:]
    line = stream.line_text(index)
    while (len(line) >= full_width and "。" not in text and index + 1 < len(stream.starts)
           and not any(r.match(stream.text, stream.starts[index + 1]) for r in REGEXES.values())):
        index += 1
        line = stream.line_text(index)
        text += line
    return re.split(r"[。；;]", text, maxsplit=1)[0].strip("：: ，,")


def full_line_width(stream: Stream) -> int:
    lengths = sorted(len(stream.line_text(i)) for i in range(len(stream.starts)))
    if not lengths:
        return 0
    return max(8, lengths[int(len(lengths) * 0.8)] - 1)


def find_structure(stream: Stream) -> Structure:
    markers, ends = find_markers(stream)
    structure = Structure(markers=markers, ends=ends)
    levels_present = {m.level for m in markers}
    task_level = "arabic" if "arabic" in levels_present else ("paren" if "paren" in levels_present else None)
    structure.task_level = task_level
    boundary_levels = {"part", "section"} | ({task_level} if task_level else set())
    boundaries = sorted({m.start for m in markers if m.level in boundary_levels} | set(ends) | {len(stream.text)})

    def next_boundary(offset: int) -> int:
        import bisect

        return boundaries[bisect.bisect_right(boundaries, offset)]

    part: Marker | None = None
    section: Marker | None = None
    headings = [m for m in markers if m.level in ("part", "section")]
    line_starts = set(stream.starts)
    tasks_by_heading: dict[int, int] = {}
    for marker in markers:
        if marker.level == "part":
            part, section = marker, None
        elif marker.level == "section":
            section = marker
        elif marker.level == task_level:
            end = next_boundary(marker.start)
            structure.tasks.append(RawTask(marker.number, marker.start, marker.body, end, section or part,
                                           part if section else None))
            owner = section or part
            if owner is not None:
                tasks_by_heading[owner.start] = tasks_by_heading.get(owner.start, 0) + 1
    # sections without numbered tasks: 一是…二是… clauses that name responsible units
    for heading in headings:
        if tasks_by_heading.get(heading.start):
            continue
        if heading.level == "part":
            part_end = next_part_start(markers, heading)
            if any(s.level == "section" and heading.start < s.start < part_end for s in headings):
                continue
        end = next_boundary(heading.start)
        clauses = ordinal_clauses(stream.text, heading_end(stream, heading), end, line_starts)
        if len(clauses) >= 2 and any(UNITS_PAREN_RE.search(stream.text, s, e) for s, b, e in clauses):
            owner_part = None
            if heading.level == "section":
                owner_part = max((m for m in markers if m.level == "part" and m.start < heading.start),
                                 key=lambda m: m.start, default=None)
            for s, b, e in clauses:
                structure.tasks.append(RawTask(None, s, b, e, heading, owner_part, ordinal_clause=True))
    if not structure.tasks and not headings:
        # no headings at all: 一是…二是… clauses with responsible units over the whole text
        clauses = ordinal_clauses(stream.text, 0, boundaries[-1], line_starts)
        if len(clauses) >= 2 and any(UNITS_PAREN_RE.search(stream.text, s, e) for s, b, e in clauses):
            structure.tasks = [RawTask(None, s, b, e, None, None, ordinal_clause=True) for s, b, e in clauses]
    structure.tasks.sort(key=lambda t: t.start)
    return structure


def heading_end(stream: Stream, marker: Marker) -> int:
    """Where the body under a heading begins: after the heading's 。, else at the next line."""
    line_end = stream.starts[marker.line_index + 1] if marker.line_index + 1 < len(stream.starts) else len(stream.text)
    stop = stream.text.find("。", marker.body, line_end)
    return stop + 1 if stop >= 0 else line_end


def next_part_start(markers: list[Marker], part: Marker) -> int:
    later = [m.start for m in markers if m.level == "part" and m.start > part.start]
    return min(later) if later else 1 << 60


def ordinal_clauses(text: str, start: int, end: int, line_starts: set[int]) -> list[tuple[int, int, int]]:
    """(start, body, end) of each 一是/二是… clause in text[start:end], in sequence; a clause
    begins a line or follows a punctuation mark."""
    found: list[tuple[int, int]] = []
    expected = 1
    for m in ORDINAL_CLAUSE_RE.finditer(text, start, end):
        number = chinese_to_int(m.group(1))
        at_start = m.start() == start or m.start() in line_starts or text[m.start() - 1] in ORDINAL_BEFORE
        if number == expected and at_start:
            found.append((m.start(), m.end()))
            expected += 1
    return [(s, b, found[i + 1][0] if i + 1 < len(found) else end) for i, (s, b) in enumerate(found)]


def find_header(stream: Stream, first_marker: int) -> Header:
    header = Header()
    text = stream.text
    head = text[:max(first_marker, 0) or 3000][:3000]
    # document code: prefer one on a line of its own
    for index in range(min(len(stream.starts), 60)):
        m = CODE_RE.fullmatch(stream.line_text(index))
        if m:
            break
    else:
        m = CODE_RE.search(head)
    if m:
        prefix = m.group(1)[-8:]
        header.code = f"{prefix}〔{m.group(2)}〕{m.group(3)}号"
        header.code_year, header.code_number = int(m.group(2)), int(m.group(3))
    # issuer and title from "X关于印发《Y》的通知"
    notice = re.search(r"([\u4e00-\u9fff（）]{0,40}?)关于印发(.{2,80}?)的通知", text[:600])
    notice_title = None
    if notice:
        # "…文件内政发〔2025〕7号内蒙古自治区人民政府关于印发…": the body named just before 关于印发
        issuer = re.split(r"文件|号", notice.group(1))[-1]
        header.issuer = issuer if len(issuer) >= 2 else None
        notice_title = notice.group(2).strip("《》“”")
    quoted = re.search(r"(?:现将|关于印发|印发)《([^》]{2,80})》", text[:2000])
    if quoted:
        header.title = quoted.group(1)
    elif notice_title:
        header.title = notice_title
    # the plan's own title line (ends the notice; ends with 方案/计划…)
    for index in range(len(stream.starts)):
        if stream.starts[index] >= (first_marker if first_marker > 0 else len(text)):
            break
        line = stream.line_text(index)
        is_title_line = len(line) <= 60 and line.endswith(PLAN_WORDS) and "关于印发" not in line \
            and "的通知" not in line
        if is_title_line and (header.title is None or line.endswith(header.title) or header.title.endswith(line)):
            # the longer of the quoted title and the title line: 自治区…方案 → 内蒙古自治区…方案
            header.title = header.title if header.title and len(header.title) >= len(line) else line
            header.title_end = stream.starts[index] + len(line)
            break
    if header.title is None and stream.starts:
        first = stream.line_text(0)
        header.title = first if len(first) <= 60 else first[:60]
    # date: a line of its own
    for index in range(len(stream.starts)):
        line = stream.line_text(index)
        if FULL_DATE_LINE.match(line):
            from .dates import parse_full_date

            header.issued = parse_full_date(line)
            header.issued_line = index
            break
    else:
        m = DATE_RE.search(head) or CN_DATE_RE.search(head)
        if m:
            from .dates import parse_full_date

            header.issued = parse_full_date(m.group())
    # issuer from the signature above the date
    if header.issuer is None and header.issued_line is not None:
        for index in range(header.issued_line - 1, max(-1, header.issued_line - 3), -1):
            line = stream.line_text(index)
            if len(line) <= 30 and ORG_END.search(line) and not re.search(r"[。，；]", line):
                header.issuer = line
                break
    return header
