"""Quantitative targets (indicators) and policy parameters of a task's text.

A target is a number with a unit of measure (18万人, 300个, 5.5%) in a sentence that is not a
policy parameter. Comparator: 以上/不少于/至少/突破/超过/提高到… → ">=", 以内/以下/不超过/控制在…
→ "<=", 左右/约 → "~"; a bare quantity ("新认证1万个家庭农牧场") → ">=". Not targets: numbers in
a condition ("对带动就业3人以上…的"), ordinals (第3), from-values (由700元), durations (2年内,
6个月). Policy parameters – a subsidy or standard with an amount or a percentage ("给予2万元…补贴",
"补贴标准…提高至不低于…", "上浮50%") – go to `policy` as text, never to indicators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .dates import parse_deadline

NUMBER_UNIT_RE = re.compile(
    r"(?<![\d.])(?P<value>\d+(?:\.\d+)?)(?P<unit>(?:万亿|万|亿|千|百)?"
    r"(?:人次|人|个(?!月|工作日|小时|百分点)|户|家|元/人|元|所|项|场|次|名|座|条|处|批|套|公里|千米|亩|吨|平方米|张|台"
    r"|辆|间|床|件|份|支|栋|个百分点)|%|‰)")
# durations are targets only when they are limits: "压减至1个工作日以内"
DURATION_RE = re.compile(
    r"(?:压减至|压减到|压缩至|压缩到|缩短至|缩短到|控制在|不超过|减少至|减至|降至)(?P<value>\d+(?:\.\d+)?)"
    r"(?P<unit>个工作日|工作日|个小时|小时|天|日|分钟)(?:以内|之内|内)?")
SENTENCE_SPLIT = re.compile(r"(?<=[。；;！？])")
CLAUSE_SPLIT = re.compile(r"[，,：:]")
POLICY_WORDS = re.compile(r"补贴|补助|奖励|奖补|贴息|资助|标准|上浮|给予|额度|费率|利率")
POLICY_AMOUNT = re.compile(r"\d+(?:\.\d+)?(?:万|亿|千)?元|\d+(?:\.\d+)?%|\d+倍")
CONDITION_RE = re.compile(r"(?:^|(?<=[，,；;。]))(?:对|凡|符合)[^。；;]*?的(?=[，,])")
_BEFORE_WORDS = {
    ">=": ("不少于", "不低于", "至少", "突破", "超过", "达到", "提高到", "提高至", "提升到", "提升至", "增加到", "增加至",
           "增长到", "扩大到", "扩大至", "增至", "力争", "达", "至"),
    "<=": ("不超过", "不高于", "控制在", "低于", "少于", "降至", "降到", "下降到", "下降至", "压减到", "压减至", "压降至",
           "压缩到", "压缩至"),
    "~": ("约", "大约"),
}
_BEFORE_COMPARATOR = {word: comp for comp, words in _BEFORE_WORDS.items() for word in words}
# the earliest start wins, so the longest word ending right before the number decides (不少于, not 少于)
BEFORE_RE = re.compile("(?:" + "|".join(sorted(_BEFORE_COMPARATOR, key=len, reverse=True)) + ")$")
AFTER_RE = re.compile(r"^(及以上|以上|以内|之内|以下|左右)")
PER_UNIT_RE = re.compile(r"每(?:个)?(?:盟市|设区市|地市|市|县|旗县区|旗县|县区|区|盟|地区|乡镇|街道|社区)|各盟市均|每地")
STOCK_WORDS = re.compile(r"率|占比|比重|比例|总量|活跃度|保有量|存量|水平|指数|均|价格")
YEAR_LEAD = re.compile(r"^(?:到|至|截至|在)?\d{4}年(?:底|末|前)?(?:全年)?")
TRIM_LEAD = re.compile(r"^(?:力争|至少|全年|全区|全省|全市|全盟|每年|年内|累计|共|并|还要|要)+")
TRIM_TAIL = re.compile(r"(?:力争|突破|达到|达|不少于|不低于|至少|超过|提高到|提高至|提升到|提升至|增加到|增加至|增长到"
                       r"|扩大到|扩大至|增至|控制在|不超过|不高于|低于|降至|降到|预期目标|目标为|目标|为|约|在现有|现有|在|至"
                       r"|建设|培育)+$")


@dataclass
class Indicator:
    name: str
    comparator: str
    target: int | float
    unit: str
    source: str
    due: date
    cumulative: bool
    per_unit: bool
    position: int = 0  # offset in the task text (for ordering)

    def as_dict(self, key: str, reported_by: list[str]) -> dict[str, Any]:
        return {
            "key": key,
            "name": self.name,
            "comparator": self.comparator,
            "target": self.target,
            "unit": self.unit,
            "due": self.due,
            "cumulative": self.cumulative,
            "per_unit": self.per_unit,
            "reported_by": reported_by,
            "source": self.source,
        }


@dataclass
class TextFigures:
    indicators: list[Indicator] = field(default_factory=list)
    policy: list[str] = field(default_factory=list)


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _policy_segments(sentence: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Policy parameters of one sentence, and their spans (to keep their numbers out of targets).

    The sentence is cut before each "，对…" / "，将…"; a piece that opens with 对/将/凡/按 and has a
    clause naming a subsidy or standard with an amount or a percentage is a policy parameter as a
    whole (the condition and the amount); in other pieces only such clauses (and a 的-condition
    just before them) are."""
    body = sentence.rstrip("。；;！？")
    cuts = [0] + [m.start() + 1 for m in re.finditer(r"[，,](?=对|将)", body)] + [len(body) + 1]
    pieces = [(cuts[i], cuts[i + 1] - 1) for i in range(len(cuts) - 1)]
    found: list[tuple[int, int]] = []
    for start, end in pieces:
        clauses, offset = [], start
        for clause in re.split(r"(?<=[，,])", body[start:end]):
            clauses.append((offset, offset + len(clause)))
            offset += len(clause)
        qualifying = [(s, e) for s, e in clauses if POLICY_WORDS.search(body[s:e]) and POLICY_AMOUNT.search(body[s:e])]
        if not qualifying:
            continue
        if body[start:end].lstrip("，, ").startswith(("对", "将", "凡", "按")):
            found.append((start, qualifying[-1][1]))  # the condition up to the last amount
            continue
        for s, e in qualifying:
            index = clauses.index((s, e))
            if index > 0 and body[clauses[index - 1][0]:clauses[index - 1][1]].rstrip("，, ").endswith("的"):
                s = clauses[index - 1][0]
            found.append((s, e))
    if found:  # a subsidy clause without an amount, in a sentence of subsidies
        for start, end in pieces:
            piece = body[start:end].strip("，, ")
            if piece.startswith(("对", "将")) and POLICY_WORDS.search(piece) \
                    and not any(s < end and start < e for s, e in found):
                found.append((start, end))
    found.sort()
    return [body[s:e].strip("，, ") for s, e in found], found


def _clause_bounds(sentence: str, pos: int) -> tuple[int, int]:
    start = 0
    for m in CLAUSE_SPLIT.finditer(sentence, 0, pos):
        start = m.end()
    m = CLAUSE_SPLIT.search(sentence, pos)
    end = m.start() if m else len(sentence.rstrip("。；;！？"))
    return start, end


def _comparator(before: str, after: str) -> str:
    m = AFTER_RE.match(after)
    if m:
        word = m.group(1)
        return ">=" if "以上" in word else ("~" if word == "左右" else "<=")
    m = BEFORE_RE.search(before)
    return _BEFORE_COMPARATOR[m.group()] if m else ">="


def _name(before: str, after_object: str, carried_verb: str) -> tuple[str, str]:
    text = YEAR_LEAD.sub("", before)
    text = PER_UNIT_RE.sub("", text)
    text = re.split(r"(?<![高平中同相对均])等(?![级次同])|、", text)[-1]
    text = TRIM_TAIL.sub("", TRIM_LEAD.sub("", text))
    verb = text
    if not text and carried_verb:
        text = carried_verb
    name = (text + after_object).strip("，,、 ")
    if len(name) > 30:
        name = name[-30:]
    return name or "指标", verb


def extract_figures(text: str, default_due: date, plan_year: int, task_due: date | None = None) -> TextFigures:
    """Indicators and policy parameters of a task's text (title and body, without the unit list)."""
    result = TextFigures()
    offset = 0
    for sentence in SENTENCE_SPLIT.split(text):
        if not sentence:
            continue
        policy, policy_spans = _policy_segments(sentence)
        result.policy.extend(policy)
        conditions = [(m.start(), m.end()) for m in CONDITION_RE.finditer(sentence)]
        carried_verb = ""
        last_clause: tuple[int, int] | None = None
        matches = sorted([*NUMBER_UNIT_RE.finditer(sentence), *DURATION_RE.finditer(sentence)],
                         key=lambda x: x.start("value"))
        for m in matches:
            pos = m.start("value")
            if any(s <= pos < e for s, e in policy_spans) or any(s <= pos < e for s, e in conditions):
                continue
            if sentence[max(0, pos - 1):pos] in ("第", "由") or sentence[m.end():m.end() + 1] in ("-", "～", "~"):
                continue
            after = sentence[m.end():]
            if re.match(r"(?:及以上|以上|以下)?的", after):
                continue
            c_start, c_end = _clause_bounds(sentence, pos)
            if (c_start, c_end) != last_clause:
                carried_verb = ""
            last_clause = (c_start, c_end)
            # several numbers in one clause ("扶持600个…、200家…"): each keeps its 、 part
            in_clause = [x for x in matches if c_start <= x.start("value") < c_end]
            s_start, s_end = c_start, c_end
            if len(in_clause) > 1:
                s_start = max([c_start] + [i + 1 for i in range(c_start, pos) if sentence[i] == "、"])
                nxt = sentence.find("、", m.end(), c_end)
                s_end = nxt if nxt >= 0 else c_end
            before = sentence[s_start:pos]
            after_clause = sentence[m.end():s_end]
            after_word = AFTER_RE.match(after_clause)
            after_object = after_clause[after_word.end() if after_word else 0:]
            after_object = re.split(r"[，,。；;（(]|基础上|的", after_object)[0][:20]
            comparator = "<=" if m.re is DURATION_RE else _comparator(before, after_clause)
            name, verb = _name(before, after_object, carried_verb)
            if verb:
                carried_verb = verb
            source = sentence[s_start:s_end].strip("，,、；;。 ")
            if "基础上" in after_clause or "基础上" in sentence[m.end():c_end + 8]:
                source = sentence[c_start:c_end].strip("，,、；;。 ")
                prev = sentence.rfind("，", 0, c_start - 1)
                if re.search(r"扩大|提高|增加", sentence[prev + 1:c_start]):
                    source = sentence[prev + 1:c_end].strip("，,、 ")
                    name = _name(sentence[prev + 1:c_start - 1], "", "")[0]
            unit = m.group("unit")
            per_unit = bool(PER_UNIT_RE.search(sentence[c_start:pos]))
            due = parse_deadline(sentence[c_start:c_end], plan_year) or task_due
            if due is None:
                due = parse_deadline(sentence[:pos], plan_year) if re.search(r"\d{4}年|月底|月末|年底", sentence[:pos]) \
                    else None
            cumulative = not (unit in ("%", "‰", "个百分点") or STOCK_WORDS.search(name + before)
                              or m.re is DURATION_RE)
            result.indicators.append(Indicator(
                name=name, comparator=comparator, target=_number(m.group("value")), unit=unit, source=source,
                due=due or default_due, cumulative=cumulative, per_unit=per_unit, position=offset + pos))
        offset += len(sentence)
    return result
