"""Load and validate the declarative definitions under workflows/ at start-up.

A bad file stops start-up with the file, the line and what is wrong (WorkflowFileError)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from flask import current_app


class WorkflowFileError(ValueError):
    """A definition file under workflows/ is malformed."""


def _line_of(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def load_yaml_with_lines(path: Path) -> tuple[Any, yaml.Node]:
    """Parse YAML, returning the data and the node tree (for line numbers in errors)."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise WorkflowFileError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowFileError(f"{path}: cannot read: {exc}") from exc
    except ValueError as exc:  # e.g. a date like 2025-13-45 that YAML reads as a timestamp
        bad = _first_bad_timestamp(node)
        line = f", line {bad.start_mark.line + 1}" if bad is not None else ""
        value = f" {bad.value!r}" if bad is not None else ""
        raise WorkflowFileError(f"{path}{line}: not a valid date{value}: {exc}") from exc
    return data, node


def _first_bad_timestamp(node: yaml.Node | None) -> yaml.ScalarNode | None:
    from datetime import date

    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:timestamp":
            try:
                date.fromisoformat(node.value[:10])
            except ValueError:
                return node
        return None
    children = node.value if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) else []
    for child in children:
        for sub in child if isinstance(child, tuple) else (child,):
            found = _first_bad_timestamp(sub)
            if found is not None:
                return found
    return None


def node_at(node: yaml.Node | None, *keys: str | int) -> yaml.Node | None:
    """Walk a composed YAML node by mapping keys and sequence indexes."""
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return node
    return node


def fail(path: Path, root: yaml.Node | None, keys: tuple, message: str) -> WorkflowFileError:
    line = _line_of(node_at(root, *keys))
    where = f", line {line}" if line else ""
    return WorkflowFileError(f"{path}{where}: {message}")


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    by: str
    reason_required: bool = False


@dataclass(frozen=True)
class ReportWorkflow:
    states: dict[str, dict[str, Any]]
    initial: str
    transitions: dict[str, Transition] = field(default_factory=dict)

    def label(self, state: str) -> str:
        return self.states.get(state, {}).get("label", state)

    def unit_may_edit(self, state: str) -> bool:
        return bool(self.states.get(state, {}).get("unit_may_edit"))

    def submitted_states(self) -> tuple[str, ...]:
        return tuple(s for s, d in self.states.items() if d.get("counts_as_submitted"))

    def available(self, state: str, actor: str) -> list[Transition]:
        return [t for t in self.transitions.values() if state in t.sources and t.by == actor]


def load_report_workflow(path: Path) -> ReportWorkflow:
    data, root = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise fail(path, root, (), "expected a mapping with states, initial and transitions")
    states = data.get("states")
    if not isinstance(states, dict) or not states:
        raise fail(path, root, ("states",), "'states' must be a non-empty mapping")
    initial = data.get("initial")
    if initial not in states:
        raise fail(path, root, ("initial",), f"initial state {initial!r} is not one of the states")
    transitions: dict[str, Transition] = {}
    for i, t in enumerate(data.get("transitions") or []):
        keys = ("transitions", i)
        if not isinstance(t, dict) or not {"name", "from", "to", "by"} <= t.keys():
            raise fail(path, root, keys, "a transition needs name, from, to and by")
        sources = tuple(t["from"] if isinstance(t["from"], list) else [t["from"]])
        for state in (*sources, t["to"]):
            if state not in states:
                raise fail(path, root, keys, f"unknown state {state!r}")
        if t["by"] not in ("unit", "office"):
            raise fail(path, root, (*keys, "by"), f"'by' must be unit or office, not {t['by']!r}")
        transitions[t["name"]] = Transition(
            t["name"], t.get("label", t["name"]), sources, t["to"], t["by"], bool(t.get("reason_required"))
        )
    return ReportWorkflow(states=states, initial=initial, transitions=transitions)


@dataclass
class Workflows:
    report: ReportWorkflow
    extras: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["extras"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def load_workflows(directory: str | Path) -> Workflows:
    directory = Path(directory)
    wf = Workflows(report=load_report_workflow(directory / "report_states.yaml"))
    from .reminders.definitions import load_reminder_definitions

    wf.extras.update(load_reminder_definitions(directory))
    wf.extras["ranking"] = load_ranking(directory / "ranking.yaml")
    from .briefs.scoring import load_scoring

    wf.extras["scoring"] = load_scoring(directory / "scoring.yaml")  # the annual evaluation (app/briefs/scoring.py)
    return wf


def load_ranking(path: Path) -> Any:
    """workflows/ranking.yaml: the versions of the lagging-units formula (app/rankings/formula.py)."""
    from .rankings.formula import FormulaError, parse_definitions

    data, root = load_yaml_with_lines(path)
    try:
        return parse_definitions(data)
    except FormulaError as exc:
        raise fail(path, root, exc.keys, exc.message) from exc


def workflows() -> Workflows:
    return current_app.extensions["workflows"]
