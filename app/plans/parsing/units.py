"""Responsible units of a task: split the written list, apply the shared prefix, find groups and
the implementing governments, and match names with the units of the system.

Rules (see workflows/plans/FORMAT.md):
- the first unit leads, the others co-own; 牵头单位：A、B；配合单位：C marks A and B as leads;
- "自治区发展改革委、商务厅…" – the level prefix of a list (自治区 / 省 / 市, from
  workflows/regions.yaml) carries to every later name of the list that has none, so 商务厅 →
  自治区商务厅 and 党委网信办 → 自治区党委网信办; names that start with a region's own name
  (内蒙古税务局), with 中国/国家/中共, or with an implementing government stay as written;
- "…人力资源社会保障厅等各行业主管部门" → the unit, then {group: 各行业主管部门};
  a name starting with 各 (or 有关/相关…部门) is a group;
- "各盟行政公署、市人民政府按职责分工落实" and "以下任务均涉及…落实，不再单独列出" name the
  implementing governments (plan-wide).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .dates import DEADLINE_RE, ONGOING_RE
from .tables import Region, RegionTable, alias_regex, alias_table

OUTSIDE_PREFIXES = ("中国", "国家", "中共", "中央", "全国", "共青团", "民建", "民盟")
LABEL_RE = re.compile(
    r"(?P<label>牵头单位|牵头部门|主责单位|配合单位|配合部门|协办单位|参与单位|责任单位|责任部门|负责单位"
    r"|完成时限|完成时间|时间节点|时限要求|时间要求)[：:]")
LABEL_ROLE = {"牵头单位": "lead", "牵头部门": "lead", "主责单位": "lead", "配合单位": "co", "配合部门": "co",
              "协办单位": "co", "参与单位": "co", "责任单位": "resp", "责任部门": "resp", "负责单位": "resp"}
NOTE_RE = re.compile(r"(?:以下|下列|上述|各项|所有)任务均[^。；;）)]*?"
                     r"(?:落实(?:[，,]?不再(?:单独|一一)?列出)?|不再(?:单独|一一)?列出)")
_TRAILING_DUTY = re.compile(r"(?:按职责分工|按照职责分工|按职责|分别)?(?:负责)?(?:抓好)?(?:落实|负责|推进)$")
_GENERIC_IMPLEMENTING = re.compile(
    r"各(?:[\u4e00-\u9fff]{0,8}?)(?:（含[^）]*）)?(?:人民政府|行政公署|管委会|政府)(?:（[^）]*）)?"
    r"(?:、(?:各)?[\u4e00-\u9fff]{0,6}?(?:人民政府|行政公署|管委会))*")
_GROUP_WORDS = re.compile(r"^(?:有关|相关|其他)(?:部门|单位|机构)|^各")
_ETC_GROUP = re.compile(r"^(?P<unit>.+?)等(?P<group>(?:各|有关|相关|其他).+)$")
_ETC_PLAIN = re.compile(r"^(?P<unit>.+?)等(?:部门|单位)$")
_INCLUDES = re.compile(r"（含([^）]*)）")
ROLE_SUFFIX_RE = re.compile(r"(牵头|配合|参与|协助|协同|共同)(?:负责|落实|推进|实施)?$")
# a parenthesis that lists units without a label: "（X牵头，Y配合；2025年6月底前完成）"
ROLE_WORDS_RE = re.compile(r"(?:牵头|配合|参与|协助|负责落实|分工负责|分别负责)(?:[，,；;]|$)")
# 团省委 / 团市委 and the like carry their level inside the name
_STAYS_AS_WRITTEN = re.compile(r"^团(?:省|市|县|区|自治区)委")


@dataclass
class UnitRef:
    name: str
    role: str  # lead or co
    is_group: bool = False


@dataclass
class Implementing:
    group: str
    units: list[str]
    note: str | None = None


@dataclass
class UnitsBlock:
    entries: list[UnitRef] = field(default_factory=list)
    implementing: Implementing | None = None
    implementing_at: int = 0  # where in `entries` the implementing group was written
    implementing_role: str = "co"
    plan_wide_note: str | None = None  # "以下任务均涉及…" : applies to every task
    due_text: str | None = None
    warnings: list[str] = field(default_factory=list)


def _split_top(text: str, separators: str) -> list[str]:
    """Split on separators outside （…） parentheses."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        if depth == 0 and ch in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _boundary_before(text: str, index: int) -> bool:
    return index == 0 or text[index - 1] in "，,、；;。：:（("


def _boundary_after(text: str, end: int) -> bool:
    return end >= len(text) or text[end] in "，,、；;。）)按负分抓要等"


class UnitListParser:
    """Parses the unit lists of one document (the region decides the shared prefix)."""

    def __init__(self, region: Region | None, regions: RegionTable) -> None:
        self.region = region
        self.regions = regions
        self.stay_names = tuple(regions.all_names())
        phrases: list[str] = []
        for r in ([region] if region else []) + [r for r in regions.regions if r is not region]:
            phrases.extend(r.implementing_phrases)
        self.implementing_phrases = sorted(set(phrases), key=len, reverse=True)

    # -- implementing governments ----------------------------------------------------------
    def implementing_for(self, phrase: str) -> Implementing:
        base = _INCLUDES.sub("", phrase)
        units: list[str] = []
        owner = None
        for r in ([self.region] if self.region else []) + list(self.regions.regions):
            if any(_INCLUDES.sub("", p) == base or p == phrase for p in r.implementing_phrases):
                owner = r
                break
        if owner is None and self.region is not None:
            owner = self.region
        if owner is not None:
            units = list(owner.implementing_units)
        for included in _INCLUDES.findall(phrase):
            for name in re.split(r"[、，,]", included):
                name = name.strip()
                if name and not name.endswith(("市", "县", "区", "旗", "盟")):
                    name += "市"
                if name and name not in units:
                    units.append(name)
        return Implementing(group=phrase, units=units)

    def _find_implementing(self, text: str) -> tuple[str | None, str]:
        for phrase in self.implementing_phrases:
            index = text.find(phrase)
            while index >= 0:
                end = index + len(phrase)
                if _boundary_before(text, index) and _boundary_after(text, end):
                    return phrase, text[:index] + "，" + text[end:]
                index = text.find(phrase, index + 1)
        for m in _GENERIC_IMPLEMENTING.finditer(text):
            if _boundary_before(text, m.start()) and _boundary_after(text, m.end()):
                return m.group(), text[:m.start()] + "，" + text[m.end():]
        return None, text

    # -- one labelled block --------------------------------------------------------------------
    def parse_block(self, content: str) -> UnitsBlock:
        """Parse '责任单位：…' or '牵头单位：…；配合单位：…；完成时限：…' (the parentheses removed)."""
        block = UnitsBlock()
        labels = list(LABEL_RE.finditer(content))
        pieces: list[tuple[str, str]] = []
        if not labels:
            pieces.append(("resp", content))
        for i, m in enumerate(labels):
            end = labels[i + 1].start() if i + 1 < len(labels) else len(content)
            value = content[m.end():end].strip(" ；;。，,")
            role = LABEL_ROLE.get(m.group("label"), "due")
            pieces.append((role, value))
        carried: list[str | None] = [None]
        seen: set[str] = set()
        for role, value in pieces:
            if role == "due":
                block.due_text = value
                continue
            # a deadline written inside the unit list: "…；2025年6月底前完成"
            kept = []
            for part in _split_top(value, "；;"):
                if (DEADLINE_RE.fullmatch(part) or ONGOING_RE.search(part)
                        or re.fullmatch(r"\d{4}年.*(?:前|完成|底|末)", part)):
                    block.due_text = part
                else:
                    kept.append(part)
            self._parse_list("；".join(kept), role, block, carried, seen)
        if block.entries and block.entries[0].role != "lead":
            first = block.entries[0]
            if not any(e.role == "lead" for e in block.entries):
                block.warnings.append(f"未写明牵头单位，已把“{first.name}”作为牵头单位")
                first.role = "lead"
        return block

    def _parse_list(self, text: str, role: str, block: UnitsBlock, carried: list[str | None],
                    seen: set[str]) -> None:
        note = NOTE_RE.search(text)
        if note:
            block.plan_wide_note = note.group().rstrip("。；;，,")
            text = text[:note.start()] + "。" + text[note.end():]
            if block.implementing is None:
                phrase, _ = self._find_implementing(note.group())
                if phrase:
                    block.implementing = self.implementing_for(phrase)
        while True:
            phrase, remaining = self._find_implementing(text)
            if phrase is None:
                break
            if block.implementing is None:
                block.implementing = self.implementing_for(phrase)
                position = text.find(phrase)
                before = text[:position]
                block.implementing_at = len(block.entries) + sum(
                    len(self._expand_item(item)) for clause in _split_top(before, "，,；;。")
                    for item in _split_top(_TRAILING_DUTY.sub("", clause), "、"))
                block.implementing_role = "lead" if role == "lead" or (role == "resp" and not block.entries
                                                                       and not before.strip("，,、；;。 ")) else "co"
            text = remaining
        for clause in _split_top(text, "，,；;。"):
            clause_role = role
            suffix = ROLE_SUFFIX_RE.search(clause)
            if suffix and role == "resp":  # "X、Y牵头，Z配合"
                clause_role = "lead" if suffix.group(1) == "牵头" else "co"
                clause = clause[:suffix.start()]
            clause = _TRAILING_DUTY.sub("", clause)
            for item in _split_top(clause, "、"):
                for name, is_group in self._expand_item(item):
                    self._add(block, name, is_group, clause_role, carried, seen)

    def _expand_item(self, item: str) -> list[tuple[str, bool]]:
        item = _TRAILING_DUTY.sub("", item.strip(" 　：:"))
        if not item:
            return []
        m = _ETC_GROUP.match(item)
        if m and not _GROUP_WORDS.match(item):
            return [(m.group("unit"), False), (m.group("group"), True)]
        m = _ETC_PLAIN.match(item)
        if m:
            return [(m.group("unit"), False)]
        return [(item, bool(_GROUP_WORDS.match(item)))]

    def _has_level_prefix(self, name: str, prefix: str) -> bool:
        if not prefix or not name.startswith(prefix) or len(name) <= len(prefix):
            return False
        return not (prefix == "市" and name.startswith("市场") and not name.startswith("市市场"))

    def _add(self, block: UnitsBlock, name: str, is_group: bool, role: str, carried: list[str | None],
             seen: set[str]) -> None:
        if not is_group:
            name = self.apply_prefix(name, carried)
        if name in seen:
            return
        seen.add(name)
        entry_role = "lead" if role == "lead" else ("lead" if role == "resp" and not block.entries else "co")
        block.entries.append(UnitRef(name, entry_role, is_group))

    def apply_prefix(self, name: str, carried: list[str | None]) -> str:
        prefixes = [self.region.prefix] if self.region and self.region.prefix else ["自治区", "省", "市", "县"]
        for prefix in prefixes:
            if self._has_level_prefix(name, prefix):
                carried[0] = prefix
                return name
        if name.startswith(OUTSIDE_PREFIXES) or _STAYS_AS_WRITTEN.match(name) \
                or any(region_name in name for region_name in self.stay_names):
            return name
        if carried[0]:
            return carried[0] + name
        return name


# --- matching with the units of the system -----------------------------------------------------

class UnitMatcher:
    """Matches names as written with `known_units`, through the alias table and region prefixes."""

    def __init__(self, known_units: Sequence[str] | None, aliases: Mapping[str, object] | None,
                 region: Region | None, regions: RegionTable) -> None:
        self.known = list(dict.fromkeys(u.strip() for u in known_units or [] if u and u.strip()))
        self.enabled = known_units is not None
        self.region = region
        self.pairs = alias_table(aliases)
        self.alias_re = alias_regex(self.pairs)
        self.region_names: list[tuple[str, str]] = sorted(
            ((n, r.slug) for r in regions.regions for n in r.names), key=lambda p: len(p[0]), reverse=True)
        self.index: dict[str, list[tuple[str | None, str]]] = {}
        for unit in self.known:
            slug, rest = self.key(unit)
            self.index.setdefault(rest, []).append((slug, unit))
        self.exact = set(self.known)

    def canonical(self, name: str) -> str:
        if self.alias_re is None:
            return name
        return self.alias_re.sub(lambda m: self.pairs[m.group()], name)

    def key(self, name: str) -> tuple[str | None, str]:
        text = self.canonical(re.sub(r"\s+", "", name))
        for region_name, slug in self.region_names:
            if text.startswith(region_name) and len(text) > len(region_name):
                return slug, self.canonical(text[len(region_name):])
        if self.region and self.region.prefix and text.startswith(self.region.prefix) \
                and len(text) > len(self.region.prefix) \
                and not (self.region.prefix == "市" and text.startswith("市场")):
            return self.region.slug, self.canonical(text[len(self.region.prefix):])
        return None, text

    def match(self, name: str) -> tuple[str | None, str | None]:
        """(known name, None) on a match, (None, reason) otherwise."""
        if not self.enabled:
            return None, None
        if name in self.exact:
            return name, None
        slug, rest = self.key(name)
        candidates = self.index.get(rest, [])
        if slug is not None:
            candidates = [c for c in candidates if c[0] in (slug, None)] or []
        else:
            own = self.region.slug if self.region else None
            candidates = [c for c in candidates if c[0] in (own, None)] or candidates
        names = list(dict.fromkeys(c[1] for c in candidates))
        if len(names) == 1:
            return names[0], None
        if len(names) > 1:
            return None, f"“{name}”可对应多个系统单位（{'、'.join(names)}），请确认"
        return None, None

    def match_government(self, name: str) -> str | None:
        if not self.enabled:
            return None
        for candidate in (name, name + "人民政府", name + "行政公署"):
            if candidate in self.exact:
                return candidate
        found, _ = self.match(name)
        return found
