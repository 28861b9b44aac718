"""Join the lines of a document into one text stream that remembers where each line began.

A PDF copy breaks lines in the middle of words and unit names and adds blank lines at page
breaks, so the parser works on one stream of text: blank lines and page-number lines are
dropped, whitespace between Chinese characters and numbers is removed ("18 万人" → "18万人",
"7 号" → "7号"), full-width digits become ASCII, and each kept line is appended without a
separator. Structure markers (一、 （一） 1. （1）) are only looked for where a line begins.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

_FULLWIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "％": "%", "\u00a0": " "})
_SPACES = re.compile(r"(?<![A-Za-z0-9])[ \t\u3000\u00a0\u2002\u2003\u200b]+|[ \t\u3000\u00a0\u2002\u2003\u200b]+(?![A-Za-z0-9])")
_PAGE_NUMBER = re.compile(r"^(?:[-—–－‐─]+\s*\d{1,4}\s*[-—–－‐─]+|第\s*\d+\s*页(?:\s*[，,/]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+)$")
ABRIDGED_NOTE = re.compile(r"^[（(]\s*本文有删减\s*[)）]$")


def normalize_line(line: str) -> str:
    return _SPACES.sub("", line.translate(_FULLWIDTH)).strip()


@dataclass
class Stream:
    text: str = ""
    starts: list[int] = field(default_factory=list)  # offset in `text` of each kept line
    line_numbers: list[int] = field(default_factory=list)  # 1-based source line of each kept line
    notes: list[str] = field(default_factory=list)  # notes found and dropped, e.g. （本文有删减）

    def index_at(self, offset: int) -> int:
        """Index (into starts) of the kept line holding `offset`."""
        return max(0, bisect.bisect_right(self.starts, offset) - 1)

    def line_at(self, offset: int) -> int:
        if not self.line_numbers:
            return 0
        return self.line_numbers[self.index_at(offset)]

    def line_text(self, index: int) -> str:
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[index]:end]

    def span_lines(self, start: int, end: int) -> tuple[int, int]:
        """Source lines (first, last) covering text[start:end]."""
        return self.line_at(start), self.line_at(max(start, end - 1))


def build_stream(lines: list[str]) -> Stream:
    stream = Stream()
    parts: list[str] = []
    offset = 0
    for number, raw in enumerate(lines, start=1):
        line = normalize_line(raw)
        if not line or _PAGE_NUMBER.match(line):
            continue
        if ABRIDGED_NOTE.match(line):
            stream.notes.append(line)
            continue
        stream.starts.append(offset)
        stream.line_numbers.append(number)
        parts.append(line)
        offset += len(line)
    stream.text = "".join(parts)
    return stream
