"""Dates and deadlines as documents write them."""

from __future__ import annotations

import calendar
import re
from datetime import date

_CN_DIGIT = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
             "九": 9, "十": 10}

CN_NUMERAL = "一二三四五六七八九十"


def chinese_to_int(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十 → 20, 二十三 → 23; None when not a numeral."""
    if not text or any(ch not in _CN_DIGIT for ch in text):
        return None
    if "十" not in text:
        value = 0
        for ch in text:
            value = value * 10 + _CN_DIGIT[ch]
        return value
    tens, _, ones = text.partition("十")
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)


def _cn_year(text: str) -> int | None:
    digits = "".join(str(_CN_DIGIT[ch]) for ch in text if ch in _CN_DIGIT and _CN_DIGIT[ch] < 10)
    return int(digits) if len(digits) == 4 else None


DATE_RE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
CN_DATE_RE = re.compile(r"([〇○零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日")


def parse_full_date(text: str) -> date | None:
    """2025年2月13日 or 二〇二五年二月十三日."""
    m = DATE_RE.search(text)
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = CN_DATE_RE.search(text)
        if m:
            year, month, day = _cn_year(m.group(1)), chinese_to_int(m.group(2)), chinese_to_int(m.group(3))
            if year and month and day:
                return date(year, month, day)
    except ValueError:
        return None
    return None


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


_QUARTER_END = {"一": 3, "1": 3, "二": 6, "2": 6, "三": 9, "3": 9, "四": 12, "4": 12}

DEADLINE_RE = re.compile(
    r"(?:(?P<y>\d{4})年)?(?:"
    r"(?P<m>\d{1,2})月(?:(?P<d>\d{1,2})日|(?P<me>底|末|中旬|上旬|下旬))?"
    r"|(?P<ye>底|末|内|年底|年末|全年)"
    r"|(?P<h>上半年|下半年)"
    r"|第?(?P<q>[一二三四1234])季度(?:末|底)?"
    r")(?P<before>前|以前|之前)?(?:完成|实现|落实|到位|建成)?"
)
_YEAR_ONLY_RE = re.compile(r"(?:到|至|截至|在)?(?P<y>\d{4})年(?![\d一二三四上下第])")
ONGOING_RE = re.compile(r"长期(?:坚持|推进|实施)|持续(?:推进|实施|开展)|常态化")


def parse_deadline(text: str, default_year: int) -> date | None:
    """The deadline a phrase names: 到2025年底 → 2025-12-31, 6月底前 → <year>-06-30,
    2025年9月15日前 → 2025-09-15, 上半年 → 06-30, 三季度 → 09-30; None when there is none."""
    for m in DEADLINE_RE.finditer(text):
        year = int(m.group("y")) if m.group("y") else default_year
        if m.group("m") is None and m.group("ye") is None and m.group("h") is None and m.group("q") is None:
            continue
        if m.group("ye") and not m.group("y") and m.group("ye") in ("底", "末", "内"):
            # "底/末/内" need a year or 年 before them; a bare 底 is not a deadline
            continue
        try:
            if m.group("m"):
                month = int(m.group("m"))
                if m.group("d"):
                    return date(year, month, int(m.group("d")))
                if m.group("me") in ("上旬",):
                    return date(year, month, 10)
                if m.group("me") in ("中旬",):
                    return date(year, month, 20)
                return month_end(year, month)
            if m.group("ye"):
                return date(year, 12, 31)
            if m.group("h"):
                return date(year, 6, 30) if m.group("h") == "上半年" else date(year, 12, 31)
            if m.group("q"):
                return month_end(year, _QUARTER_END[m.group("q")])
        except ValueError:
            continue
    m = _YEAR_ONLY_RE.search(text)
    if m:
        return date(int(m.group("y")), 12, 31)
    return None
