"""Compare a parsed draft with a hand-written plan file (the truth), field by field.

Used by the tests (differences in the assertion message) and by bench/bench_parser.py
(precision and recall per field). Indicators are paired by task and target value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FIELDS = ("header", "sections", "task_numbers", "titles", "units", "roles", "implementing",
          "indicator_values", "indicator_units", "comparators", "deadlines")


@dataclass
class FieldScore:
    true_positive: int = 0
    predicted: int = 0
    expected: int = 0
    missing: list[Any] = field(default_factory=list)  # in the truth, not in the draft
    extra: list[Any] = field(default_factory=list)  # in the draft, not in the truth

    def add(self, predicted: Iterable[Any], expected: Iterable[Any]) -> None:
        p, e = Counter(predicted), Counter(expected)
        self.true_positive += sum((p & e).values())
        self.predicted += sum(p.values())
        self.expected += sum(e.values())
        self.missing.extend(sorted((e - p).elements(), key=str))
        self.extra.extend(sorted((p - e).elements(), key=str))

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.expected if self.expected else 1.0


def _value(v: Any) -> str:
    return str(Decimal(str(v)).normalize())


def _units(task: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, role) of a task's units; groups as 'group:NAME'."""
    out = []
    for i, item in enumerate(task.get("units") or []):
        role = "lead" if i == 0 else "co"
        if isinstance(item, dict):
            role = item.get("role", role)
            name = f"group:{item['group']}" if item.get("group") else str(item.get("name"))
        else:
            name = str(item)
        out.append((name, role))
    return out


def _indicators(plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = [("plan", ind) for ind in plan.get("targets") or []]
    for task in plan.get("tasks") or []:
        out.extend((str(task["number"]), ind) for ind in task.get("indicators") or [])
    return out


def compare_plans(draft: dict[str, Any], truth: dict[str, Any]) -> dict[str, FieldScore]:
    scores = {name: FieldScore() for name in FIELDS}
    header_keys = ("code", "title", "issuer", "issued", "cadence")
    scores["header"].add(
        [(k, str(draft.get(k))) for k in header_keys if draft.get(k)],
        [(k, str(truth.get(k))) for k in header_keys if truth.get(k)])
    scores["sections"].add(
        [(s["number"], s.get("title"), s.get("part")) for s in draft.get("sections") or []],
        [(s["number"], s.get("title"), s.get("part")) for s in truth.get("sections") or []])
    d_imp, t_imp = draft.get("implementing") or {}, truth.get("implementing") or {}
    scores["implementing"].add(d_imp.get("units") or [], t_imp.get("units") or [])
    d_tasks = {t["number"]: t for t in draft.get("tasks") or []}
    t_tasks = {t["number"]: t for t in truth.get("tasks") or []}
    scores["task_numbers"].add(list(d_tasks), list(t_tasks))
    scores["titles"].add([(n, t["title"]) for n, t in d_tasks.items()], [(n, t["title"]) for n, t in t_tasks.items()])
    scores["units"].add([(n, u) for n, t in d_tasks.items() for u, _ in _units(t)],
                        [(n, u) for n, t in t_tasks.items() for u, _ in _units(t)])
    scores["roles"].add([(n, u, r) for n, t in d_tasks.items() for u, r in _units(t)],
                        [(n, u, r) for n, t in t_tasks.items() for u, r in _units(t)])
    d_ind, t_ind = _indicators(draft), _indicators(truth)
    scores["indicator_values"].add([(t, _value(i["target"])) for t, i in d_ind],
                                   [(t, _value(i["target"])) for t, i in t_ind])
    scores["indicator_units"].add([(t, _value(i["target"]), i.get("unit")) for t, i in d_ind],
                                  [(t, _value(i["target"]), i.get("unit")) for t, i in t_ind])
    scores["comparators"].add([(t, _value(i["target"]), i.get("comparator")) for t, i in d_ind],
                              [(t, _value(i["target"]), i.get("comparator")) for t, i in t_ind])
    d_due = [(t, _value(i["target"]), str(i.get("due"))) for t, i in d_ind]
    t_due = [(t, _value(i["target"]), str(i.get("due"))) for t, i in t_ind]
    d_due += [(str(n), "task", str(t["due"])) for n, t in d_tasks.items() if t.get("due")]
    t_due += [(str(n), "task", str(t["due"])) for n, t in t_tasks.items() if t.get("due")]
    scores["deadlines"].add(d_due, t_due)
    return scores


def describe_differences(scores: dict[str, FieldScore]) -> str:
    """A readable list of what differs, field by field (empty when the draft equals the truth)."""
    lines = []
    for name, score in scores.items():
        for item in score.missing:
            lines.append(f"{name}: missing from the draft (in the truth): {item}")
        for item in score.extra:
            lines.append(f"{name}: in the draft, not in the truth: {item}")
    return "\n".join(lines)
