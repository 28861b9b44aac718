"""Write a draft as a plan file (YAML in the layout of workflows/plans/FORMAT.md)."""

from __future__ import annotations

import re
from typing import Any

import yaml


class _FlowList(list):
    """A list written on one line: [a, b, c]."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # no &id001 anchors for repeated dates
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # "- " items indented under their key


def _flow_list(dumper: yaml.SafeDumper, data: _FlowList) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_Dumper.add_representer(_FlowList, _flow_list)

# lists of plain names written on one line; task units stay one per line (the first one leads)
FLOW_PATHS = {("cadence",), ("implementing", "units"), ("reported_by",)}


def _prepare(value: Any, path: tuple[str, ...] = ()) -> Any:
    if isinstance(value, dict):
        return {k: _prepare(v, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        items = [_prepare(v, path) for v in value]
        flow = path[-2:] in FLOW_PATHS or path[-1:] in FLOW_PATHS
        if flow and all(isinstance(v, str) for v in items):
            return _FlowList(items)
        return items
    return value


def draft_to_yaml(draft: dict[str, Any]) -> str:
    """The draft as YAML text, keys in the order of FORMAT.md, Chinese unescaped."""
    body = yaml.dump(_prepare(draft), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    lines: list[str] = []
    in_tasks = False
    for line in body.splitlines():
        # a blank line before each top-level key of substance and before each task
        if lines and (re.match(r"(groups|targets|sections|tasks|implementing):", line)
                      or (line.startswith("  - number:") and in_tasks and lines[-1] != "tasks:")):
            lines.append("")
        if not line.startswith(" "):
            in_tasks = line.startswith("tasks:")
        lines.append(line)
    head = "# 方案草稿：由程序从原文生成，请逐项核对后再导入（格式见 workflows/plans/FORMAT.md）"
    return head + "\n" + "\n".join(lines) + "\n"
