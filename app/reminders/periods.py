"""Concrete reporting periods of a plan, with due dates, from the cadence and the calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..workflow import workflows
from .deadlines import due_date, periods_for_span


@dataclass(frozen=True)
class PlanPeriod:
    kind: str
    start: date
    end: date
    label: str
    due: date


def plan_periods(cadence: list[str], start: date, end: date) -> list[PlanPeriod]:
    wf = workflows()
    kinds = {k: wf.cadence[k] for k in cadence if k in wf.cadence}
    unknown = [k for k in cadence if k not in wf.cadence]
    if unknown:
        raise ValueError(f"unknown period kind(s) in plan cadence: {', '.join(unknown)}")
    return [
        PlanPeriod(p.kind, p.start, p.end, p.label, due_date(p, wf.calendar, kinds[p.kind]))
        for p in periods_for_span(kinds, start, end)
    ]
