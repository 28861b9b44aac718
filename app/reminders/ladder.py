"""The reminder and escalation ladder (提醒 → 催办 → 督办 → 移交), from ``workflows/ladder.yaml``.

Pure decisions only: which steps fell due for one report, given what was already
taken. The scheduler records each step it takes so that a step is never taken twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from app.reminders.workdays import WORKFLOWS_DIR, ConfigFileError, WorkCalendar, YamlReader

DEFAULT_LADDER_PATH = WORKFLOWS_DIR / "ladder.yaml"

#: Who a notice can go to → Chinese label.
RECIPIENTS: dict[str, str] = {"liaison": "联络员", "unit_head": "单位负责人", "office": "领导小组办公室"}
#: Effects a step can have → Chinese label.
FLAGS: dict[str, str] = {"review_queue": "列入办公室督办清单", "export": "列入移交监督平台清单"}

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_OFFSET = 60


class LadderFileError(ConfigFileError):
    """``ladder.yaml`` is malformed."""


@dataclass(frozen=True)
class Step:
    """One rung of the ladder."""

    key: str
    label: str
    offset: int  # working days relative to the due date
    notify: tuple[str, ...]
    copy: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Ladder:
    """The steps in the order they are taken (offsets strictly increasing)."""

    steps: tuple[Step, ...]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)


def load_ladder(path: str | Path = DEFAULT_LADDER_PATH) -> Ladder:
    """Load and validate the ladder file; raises :class:`LadderFileError` with file and line."""
    reader = YamlReader(path, LadderFileError)
    root = reader.mapping(reader.load(), "ladder file", required=("steps",))
    steps: list[Step] = []
    for node in reader.sequence(root["steps"], "steps", allow_empty=False):
        fields = reader.mapping(
            node, "step", required=("key", "label", "offset", "notify"), optional=("copy", "flags")
        )
        key = reader.string(fields["key"], "step key")
        if not _KEY.match(key):
            reader.fail(fields["key"], f"step key '{key}' must be lower-case ASCII (a-z, 0-9, _)")
        if key in {s.key for s in steps}:
            reader.fail(fields["key"], f"step key '{key}' is used twice")
        what = f"step {key}"
        label = reader.string(fields["label"], f"{what}: label")
        offset = reader.integer(fields["offset"], f"{what}: offset", low=-_MAX_OFFSET, high=_MAX_OFFSET)
        if steps and offset <= steps[-1].offset:
            reader.fail(
                fields["offset"],
                f"{what}: offset {offset} must be greater than the previous step's ({steps[-1].offset})",
            )
        notify = _names(reader, fields["notify"], f"{what}: notify", RECIPIENTS, allow_empty=False)
        copy = _names(reader, fields["copy"], f"{what}: copy", RECIPIENTS) if "copy" in fields else ()
        both = set(notify) & set(copy)
        if both:
            reader.fail(fields["copy"], f"{what}: {', '.join(sorted(both))} is both notified and copied")
        flags = _names(reader, fields["flags"], f"{what}: flags", FLAGS) if "flags" in fields else ()
        steps.append(Step(key, label, offset, notify, copy, frozenset(flags)))
    return Ladder(tuple(steps))


def step_date(due: date, step: Step, calendar: WorkCalendar) -> date:
    """The working day a step falls due for a report due on ``due``."""
    return calendar.add_workdays(due, step.offset)


def steps_due(
    due: date,
    today: date,
    taken: set[str] | frozenset[str],
    submitted: bool,
    calendar: WorkCalendar,
    ladder: Ladder,
) -> list[Step]:
    """The steps to take today for one report, in ladder order.

    Every step whose day is today or earlier and whose key is not in ``taken``; after a
    scheduler outage that is several steps at once. Nothing once the report is submitted.
    """
    if submitted:
        return []
    return [s for s in ladder.steps if s.key not in taken and step_date(due, s, calendar) <= today]


def _names(
    reader: YamlReader, node: yaml.Node, what: str, known: dict[str, str], *, allow_empty: bool = True
) -> tuple[str, ...]:
    names: list[str] = []
    for item in reader.sequence(node, what, allow_empty=allow_empty):
        name = reader.string(item, what)
        if name not in known:
            reader.fail(item, f"{what}: unknown name '{name}' (known: {', '.join(known)})")
        if name in names:
            reader.fail(item, f"{what}: '{name}' is listed twice")
        names.append(name)
    return tuple(names)
