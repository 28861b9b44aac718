"""Draft a plan file (workflows/plans/FORMAT.md) from an issued document.

The id suggestion is deterministic: `<region slug>-<year>-<number>` from the document code
(内政发〔2025〕7号 → nmg-2025-7; the slug comes from workflows/regions.yaml, `plan` when the
region is not known); without a code, `<slug>-<year>-<first 6 hex digits of the title's SHA-1>`.
The person importing the draft is expected to correct it (e.g. nmg-2025-employment).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .dates import ONGOING_RE, parse_deadline
from .errors import PlanParseError
from .reading import Source, read_source
from .stream import Stream, build_stream
from .structure import (
    DUE_PAREN_RE,
    LABEL_START_RE,
    UNITS_PAREN_RE,
    Header,
    RawTask,
    Structure,
    find_header,
    find_structure,
    full_line_width,
    heading_end,
    heading_title,
)
from .tables import Region, RegionTable, load_regions
from .targets import Indicator, extract_figures
from .units import ROLE_WORDS_RE, Implementing, UnitListParser, UnitMatcher, UnitRef, UnitsBlock

CADENCE_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("monthly", re.compile(r"月调度|每月|按月|月报|逐月|月度调度|月通报")),
    ("quarterly", re.compile(r"季分析|每季度|按季度|季度调度|季度分析|季报|按季|季通报|季评估|季度评估|季度通报")),
    ("half_year", re.compile(r"半年总结|每半年|半年评估|半年报|半年度")),
    ("annual", re.compile(r"年度评估|年终|年度总结|年底总结|年度考核|年度报告|全年总结|年度通报")),
)


@dataclass
class ParseResult:
    """A drafted plan: `draft` is a dict in the plan file format; `source_spans` maps each task
    number to the (first, last) line of the source it came from (1-based, as in `lines`)."""

    draft: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    unconfirmed_units: list[str] = field(default_factory=list)
    source_spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    kind: str = "txt"


@dataclass
class _TaskDraft:
    number: int
    raw: RawTask
    title: str
    text: str
    units: list[UnitRef]
    due: date | None
    due_text: str | None
    figures_text: str
    indicators: list[Indicator] = field(default_factory=list)
    policy: list[str] = field(default_factory=list)
    block: UnitsBlock | None = None


def _balanced_end(text: str, start: int, limit: int) -> int:
    depth = 0
    for i in range(start, limit):
        if text[i] in "（(":
            depth += 1
        elif text[i] in "）)":
            depth -= 1
            if depth == 0:
                return i + 1
    return limit


def _role_parenthesis(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The first （…） in text[start:end] that lists units by role: （X牵头，Y配合）."""
    position = start
    while True:
        open_at = min((i for i in (text.find("（", position, end), text.find("(", position, end)) if i >= 0),
                      default=-1)
        if open_at < 0:
            return None
        close = _balanced_end(text, open_at, end)
        if ROLE_WORDS_RE.search(text[open_at + 1:close - 1]):
            return open_at, close
        position = open_at + 1


def _split_title(main: str, ordinal_clause: bool) -> tuple[str, str]:
    pattern = r"[。！？；;，,：:]" if ordinal_clause else r"[。！？；;]"
    m = re.search(pattern, main)
    if not m:
        return main.strip("，,。；; "), ""
    return main[:m.start()].strip(), main[m.end():].strip() if not ordinal_clause else main.strip("；; ")


def _region_of(header: Header, regions: RegionTable, text: str) -> Region | None:
    for candidate in (header.issuer or "", header.title or ""):
        region = regions.by_text_start(candidate)
        if region:
            return region
    if header.code:
        region = regions.by_code(header.code)
        if region:
            return region
    counts = Counter()
    for region in regions.regions:
        counts[region.name] = sum(text.count(n) for n in region.names)
    if counts and counts.most_common(1)[0][1] > 0:
        name = counts.most_common(1)[0][0]
        return next(r for r in regions.regions if r.name == name)
    return None


def _cadence(text: str) -> list[str]:
    return [kind for kind, pattern in CADENCE_WORDS if pattern.search(text)]


def _plan_id(header: Header, region: Region | None, year: int) -> str:
    slug = region.slug if region else "plan"
    if header.code_year and header.code_number is not None:
        return f"{slug}-{header.code_year}-{header.code_number}"
    digest = hashlib.sha1((header.title or "").encode("utf-8")).hexdigest()[:6]
    return f"{slug}-{year}-{digest}"


def parse_document(path_or_bytes: Source, filename: str | None = None, known_units: Sequence[str] | None = None,
                   aliases: Mapping[str, object] | None = None) -> ParseResult:
    """Draft a plan from a .txt (UTF-8 / GB18030) or .docx document.

    `known_units`: names of the units of the system; names of the document are matched with
    them through the alias table (workflows/unit_aliases.yaml plus `aliases`, {full name:
    [short forms]}) and replaced by the system's name; a name that matches none is kept as
    written and listed in `unconfirmed_units`. Without `known_units` every name is unconfirmed.
    Raises PlanParseError (Chinese message) when the document cannot be read or has no tasks.
    """
    source = read_source(path_or_bytes, filename)
    stream = build_stream(source.lines)
    if not stream.text.strip():
        raise PlanParseError("文件为空：没有可读取的文字。")
    warnings: list[str] = []
    if stream.notes:
        warnings.append(f"原文注明“{stream.notes[0].strip('（）()')}”：被删减的内容不在草稿中，请对照正式文件核对")
    structure = find_structure(stream)
    if not structure.tasks:
        raise PlanParseError("未找到编号的任务：文中没有“1.”“（1）”或“一是……”形式编号的任务条目，无法生成方案草稿。")
    first_marker = structure.markers[0].start if structure.markers else structure.tasks[0].start
    header = find_header(stream, first_marker)
    regions = load_regions()
    region = _region_of(header, regions, stream.text[:5000])

    plan_year = _plan_year(header, stream, warnings)
    default_due = date(plan_year, 12, 31)
    unit_parser = UnitListParser(region, regions)
    matcher = UnitMatcher(known_units, aliases, region, regions)

    tasks = _draft_tasks(stream, structure, unit_parser, plan_year, warnings)
    implementing, note = _implementing(tasks, unit_parser, warnings)

    # indicators of each task
    for task in tasks:
        figures = extract_figures(task.figures_text, default_due, plan_year, task.due)
        task.indicators = figures.indicators
        task.policy = figures.policy

    # plan-wide targets: the text between the plan's title and the first section with tasks
    first_task = structure.tasks[0]
    pre_end = first_task.section.start if first_task.section else first_task.start
    pre_start = header.title_end if header.title_end is not None and header.title_end < pre_end else None
    if pre_start is None:
        heads = [m.start for m in structure.markers if m.start < pre_end and m.level in ("part", "section")]
        pre_start = heads[0] if heads else pre_end
    targets = extract_figures(_without_headings(stream, structure, pre_start, pre_end), default_due,
                              plan_year).indicators

    # cadence: the safeguards after the last task, else the whole plan
    last_end = max(t.raw.end for t in tasks)
    cadence = _cadence(stream.text[last_end:]) or _cadence(stream.text)
    if not cadence:
        warnings.append("未找到报送周期（月调度、季分析、半年总结、年度评估等），请补填 cadence")

    # units: match with the system
    unconfirmed: list[str] = []
    for task in tasks:
        matched: list[UnitRef] = []
        seen: set[str] = set()
        for ref in task.units:
            name = ref.name
            if not ref.is_group:
                found, reason = matcher.match(name)
                if reason:
                    warnings.append(f"任务{task.number}：{reason}")
                if found:
                    name = found
                elif name not in unconfirmed:
                    unconfirmed.append(name)
            if name in seen:
                continue
            seen.add(name)
            matched.append(UnitRef(name, ref.role, ref.is_group))
        task.units = matched
    if implementing is not None:
        names = []
        for unit in implementing.units:
            found = matcher.match_government(unit)
            if not found and unit not in unconfirmed:
                unconfirmed.append(unit)
            names.append(found or unit)
        implementing.units = names
    if known_units is None and unconfirmed:
        warnings.append("未提供系统单位名单：全部单位名称按原文保留，待人工确认")

    draft = _assemble(header, region, plan_year, cadence, implementing, note, targets, tasks, structure,
                      stream, warnings)
    spans = {t.number: stream.span_lines(t.raw.start, _content_end(stream.text, t.raw.start, t.raw.end))
             for t in tasks}
    return ParseResult(draft=draft, warnings=warnings, unconfirmed_units=unconfirmed, source_spans=spans,
                       lines=list(source.lines), kind=source.kind)


def _without_headings(stream: Stream, structure: Structure, start: int, end: int) -> str:
    """text[start:end] with the part/section headings cut out (each replaced by 。)."""
    pieces, position = [], start
    for marker in structure.markers:
        if marker.level in ("part", "section") and start <= marker.start < end:
            pieces.append(stream.text[position:marker.start])
            position = max(position, min(end, heading_end(stream, marker)))
            pieces.append("。")
    pieces.append(stream.text[position:end])
    return "".join(pieces)


def _content_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " \u3000":
        end -= 1
    return end


def _plan_year(header: Header, stream: Stream, warnings: list[str]) -> int:
    m = re.search(r"(\d{4})年", header.title or "")
    if m:
        return int(m.group(1))
    if header.issued:
        return header.issued.year  # type: ignore[attr-defined]
    if header.code_year:
        return header.code_year
    years = Counter(int(y) for y in re.findall(r"(20\d{2})年", stream.text))
    if years:
        return years.most_common(1)[0][0]
    warnings.append("未找到方案年度，已按当前年份处理")
    return date.today().year


def _draft_tasks(stream: Stream, structure: Structure, unit_parser: UnitListParser, plan_year: int,
                 warnings: list[str]) -> list[_TaskDraft]:
    text = stream.text
    drafts: list[_TaskDraft] = []
    printed = [t.printed for t in structure.tasks]
    renumber = (None in printed or len(set(printed)) != len(printed)
                or printed != sorted(printed))  # type: ignore[type-var]
    if renumber:
        warnings.append("任务编号在各部分重新开始（或以“一是、二是”列出），已按全文顺序重新编号为1、2、3……")
    for index, raw in enumerate(structure.tasks, start=1):
        number = index if renumber else int(raw.printed)  # type: ignore[arg-type]
        body_start, body_end = raw.body, _content_end(text, raw.body, raw.end)
        paren = UNITS_PAREN_RE.search(text, body_start, body_end)
        label = None if paren else LABEL_START_RE.search(text, body_start, body_end)
        units_block_text = ""
        main_end, trailing = body_end, ""
        if paren:
            close = _balanced_end(text, paren.start(), body_end)
            units_block_text = text[paren.start() + 1:close - 1 if text[close - 1] in "）)" else close]
            main_end = paren.start()
            trailing = text[close:body_end].strip("。；; ")
            more = UNITS_PAREN_RE.search(text, close, body_end)
            if more:
                warnings.append(f"任务{number}写有多处责任单位，只取第一处，请核对")
        elif label:
            units_block_text = text[label.start():body_end]
            main_end = label.start()
        else:
            group = _role_parenthesis(text, body_start, body_end)
            if group:
                units_block_text = text[group[0] + 1:group[1] - 1]
                main_end = group[0]
                trailing = text[group[1]:body_end].strip("。；; ")
        main = text[body_start:main_end]
        due_text = None
        due_paren = DUE_PAREN_RE.search(main)
        if due_paren:
            due_text = due_paren.group(1)
            main = (main[:due_paren.start()] + main[due_paren.end():]).strip()
        title, rest = _split_title(main.strip(), raw.ordinal_clause)
        if trailing and not DUE_PAREN_RE.fullmatch(trailing):
            rest = (rest + trailing).strip()
        block = unit_parser.parse_block(units_block_text) if units_block_text else None
        if block is None or not block.entries:
            warnings.append(f"任务{number}未找到责任单位，请补填")
        for message in block.warnings if block else []:
            warnings.append(f"任务{number}：{message}")
        due_text = (block.due_text if block and block.due_text else None) or due_text
        due = parse_deadline(due_text, plan_year) if due_text else None
        if due_text and due is None and ONGOING_RE.search(due_text):
            warnings.append(f"任务{number}完成时限为“{due_text}”，不是具体日期，未填写 due")
        if len(title) > 40:
            warnings.append(f"任务{number}标题较长（{len(title)}字），请核对是否取到第一个句号之前的文字")
        drafts.append(_TaskDraft(number, raw, title, rest, block.entries if block else [], due, due_text,
                                 figures_text=(title + "。" + rest) if rest else title, block=block))
    return drafts


def _implementing(tasks: list[_TaskDraft], unit_parser: UnitListParser,
                  warnings: list[str]) -> tuple[Implementing | None, str | None]:
    found: Implementing | None = None
    note: str | None = None
    mentioned = 0
    for task in tasks:
        block = task.block
        if block is None:
            continue
        if block.implementing is not None:
            mentioned += 1
            found = found or block.implementing
        if block.plan_wide_note and note is None:
            note = block.plan_wide_note
            if block.implementing is not None:
                found = block.implementing
    if found is None:
        return None, None
    if note is None and mentioned < len(tasks):
        # not said for every task: the governments are a group of the tasks that name them
        for task in tasks:
            block = task.block
            if block is None or block.implementing is None:
                continue
            at = min(block.implementing_at, len(task.units))
            task.units.insert(at, UnitRef(block.implementing.group, block.implementing_role, is_group=True))
            if at == 0 and len(task.units) > 1 and task.units[1].role == "lead" and block.implementing_role != "lead":
                task.units.insert(0, task.units.pop(1))
        names = "、".join(found.units)
        warnings.append(f"只有{mentioned}项任务写明“{found.group}”，已作为这些任务的单位组"
                        + (f"（成员可为：{names}）" if names else "") + "，请核对")
        return None, None
    if not found.units:
        warnings.append(f"未能确定“{found.group}”包含哪些地区（workflows/regions.yaml 中没有），请补填 implementing.units")
    return found, note


def _unit_entry(ref: UnitRef, first: bool) -> Any:
    key = "group" if ref.is_group else "name"
    if first:
        return {"group": ref.name} if ref.is_group else ref.name
    if ref.role == "lead":
        return {key: ref.name, "role": "lead"}
    return {"group": ref.name} if ref.is_group else ref.name


def _assemble(header: Header, region: Region | None, plan_year: int, cadence: list[str],
              implementing: Implementing | None, note: str | None, targets: list[Indicator],
              tasks: list[_TaskDraft], structure: Structure, stream: Stream,
              warnings: list[str]) -> dict[str, Any]:
    draft: dict[str, Any] = {"id": _plan_id(header, region, plan_year)}
    if not header.code:
        warnings.append("未找到发文字号（如“内政发〔2025〕7号”），请补填 code")
    draft["code"] = header.code or ""
    draft["title"] = header.title or ""
    if not header.issuer:
        warnings.append("未找到发文机关，请补填 issuer")
    draft["issuer"] = header.issuer or ""
    if header.issued is None:
        warnings.append("未找到成文日期，请补填 issued")
    draft["issued"] = header.issued
    start = header.issued.replace(day=1) if header.issued else date(plan_year, 1, 1)  # type: ignore[attr-defined]
    draft["reporting"] = {"start": start, "end": date(plan_year, 12, 31)}
    if cadence:
        draft["cadence"] = cadence
    if implementing is not None:
        imp: dict[str, Any] = {}
        if note:
            imp["note"] = note
        imp["group"] = implementing.group
        imp["units"] = implementing.units
        draft["implementing"] = imp
    groups = list(dict.fromkeys(u.name for t in tasks for u in t.units if u.is_group))
    if groups:
        draft["groups"] = [{"name": g} for g in groups]

    lead_counts = Counter(t.units[0].name for t in tasks if t.units and not t.units[0].is_group)
    top_lead = lead_counts.most_common(1)[0][0] if lead_counts else None
    plan_reporters = [r for r in (top_lead, "implementing" if implementing else None) if r]
    if targets:
        draft["targets"] = [t.as_dict(f"plan-{i}", plan_reporters) for i, t in enumerate(targets, 1)]
        for target in draft["targets"]:
            if not target["reported_by"]:
                del target["reported_by"]
        if top_lead:
            warnings.append(f"总体目标的报送单位按牵头任务最多的单位（{top_lead}）推定，请核对")

    width = full_line_width(stream)
    sections: list[dict[str, Any]] = []
    section_of: dict[int, str] = {}  # heading offset → section number in the draft
    for task in tasks:
        marker = task.raw.section
        if marker is None or marker.start in section_of:
            continue
        number = marker.label
        if number in section_of.values():  # （一） again under another part: numbers must stay unique
            number = f"{task.raw.part.label}-{marker.label}" if task.raw.part else f"{marker.label}-{len(sections) + 1}"
            warnings.append(f"部分编号“（{marker.label}）”重复出现，草稿中记为“{number}”，请核对")
        section_of[marker.start] = number
        entry: dict[str, Any] = {"number": number, "title": heading_title(stream, marker, width)}
        if task.raw.part is not None:
            entry["part"] = f"{task.raw.part.label}、{heading_title(stream, task.raw.part, width)}"
        sections.append(entry)
    if not sections:
        sections.append({"number": "一", "title": "重点任务"})
        warnings.append("文中没有“一、”或“（一）”形式的部分标题，全部任务归入“一、重点任务”")
    draft["sections"] = sections

    task_dicts = []
    for task in tasks:
        entry = {"number": task.number,
                 "section": section_of[task.raw.section.start] if task.raw.section else sections[0]["number"],
                 "title": task.title, "text": task.text,
                 "units": [_unit_entry(u, i == 0) for i, u in enumerate(task.units)]}
        if task.due:
            entry["due"] = task.due
        if task.indicators:
            lead_word = ["lead"] if task.units else []
            entry["indicators"] = [
                ind.as_dict(f"t{task.number}-{i}",
                            ["implementing"] if ind.per_unit and implementing else
                            (lead_word + (["implementing"] if implementing else [])) or ["lead"])
                for i, ind in enumerate(task.indicators, 1)]
        if task.policy:
            entry["policy"] = task.policy
        task_dicts.append(entry)
    draft["tasks"] = task_dicts
    return draft
