"""The daily sweep: which ladder steps fall due, the steps taken, and one digest per recipient
per day per kind in the outbox.

Set-based. For each step, :func:`due_cutoff` gives the latest effective due date for which
the step has come by today (from :func:`ladder.step_date`, so the decision is the one
:func:`ladder.steps_due` makes). One INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING then
writes every step that fell due, for every open item (assignment × period, not submitted,
the step not yet taken) at once; of two sweeps at once each step is written by exactly one,
and only that one puts it in a digest. A dry run makes the same decision in Python from one
SELECT of the open items, and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Select,
    String,
    and_,
    exists,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)

from ..audit import services as audit
from ..audit.models import AuditHead
from ..extensions import db
from ..plans.models import Assignment, Period
from ..reports.models import Report
from ..workflow import workflows
from . import notices
from .dbutil import insert_ignore, insert_ignore_many, utcnow
from .ladder import Ladder, Step, step_date, steps_due
from .models import DueOverride, LadderStep
from .services import effective_due_joins
from .workdays import WorkCalendar

SYSTEM_ACTOR = (None, "system:sweep", None)
_FLAGS_AT = 6  # candidate rows: assignment, unit, task, plan, period, due, then one flag per step


@dataclass
class SweepResult:
    day: date
    dry_run: bool
    decided: Counter = field(default_factory=Counter)  # step key → steps decided (dry run)
    taken: Counter = field(default_factory=Counter)  # step key → steps written by this sweep
    notices: list[dict[str, Any]] = field(default_factory=list)  # what was (or would be) sent

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "dry_run": self.dry_run, "decided": dict(self.decided),
                "taken": dict(self.taken), "notices": self.notices}


def due_cutoff(today: date, step: Step, calendar: WorkCalendar) -> date:
    """The latest due date for which ``step`` has fallen due by ``today``.

    step_date(due) never decreases as ``due`` grows, so the due dates whose step has come
    are those up to this cut-off. It is found near ``today`` only (so that no far year is
    looked up in the calendar), checked, and searched for if the check fails."""
    one = timedelta(days=1)
    n = step.offset
    if n > 0:  # n working days in (due, today]
        cutoff = calendar.add_workdays(today + one, -n) - one
    elif n == 0:  # the last working day up to today
        cutoff = calendar.add_workdays(today + one, -1)
    else:  # at most |n| − 1 working days in (today, due)
        cutoff = calendar.add_workdays(today, -n)
    if step_date(cutoff, step, calendar) <= today < step_date(cutoff + one, step, calendar):
        return cutoff
    low, high = today - timedelta(days=400), today + timedelta(days=400)  # pragma: no cover - safety net
    while low < high:
        mid = low + timedelta(days=(high - low).days // 2 + 1)
        if step_date(mid, step, calendar) <= today:
            low = mid
        else:
            high = mid - one
    return low


def _open_items(today: date, ladder: Ladder, calendar: WorkCalendar, columns: list[Any]) -> tuple[Select, Any]:
    """Assignment × period pairs that may have a step to take: not submitted, due early enough
    for the first step, the last step not yet taken. Returns the query and the effective due."""
    cutoff = max(due_cutoff(today, s, calendar) for s in ladder)
    submitted = workflows().report.submitted_states()
    query, due = effective_due_joins(
        select(*columns).select_from(Period)
        .join(Assignment, and_(Assignment.plan_id == Period.plan_id, Assignment.active))
    )
    early_override = select(DueOverride.period_id).where(DueOverride.due <= cutoff)
    query = (
        query.outerjoin(Report, and_(Report.assignment_id == Assignment.id, Report.period_id == Period.id))
        .where(
            or_(Period.due <= cutoff, Period.id.in_(early_override)),
            due <= cutoff,
            or_(Report.id.is_(None), Report.state.not_in(submitted)),
            ~_taken(literal(ladder.steps[-1].key)),
        )
    )
    return query, due


def _taken(step: Any) -> Any:
    return exists().where(LadderStep.assignment_id == Assignment.id, LadderStep.period_id == Period.id,
                          LadderStep.step == step)


def candidates(today: date, ladder: Ladder, calendar: WorkCalendar) -> list[Any]:
    """The open items with one flag per step already taken: one SELECT (for dry runs).

    Each row: assignment, unit, task, plan, period, effective due, then the flags."""
    query, due = _open_items(today, ladder, calendar, [
        Assignment.id.label("assignment_id"), Assignment.unit_id, Assignment.task_id, Assignment.plan_id,
        Period.id.label("period_id")])
    flags = [_taken(s.key).label(f"taken_{i}") for i, s in enumerate(ladder.steps)]
    return db.session.execute(query.add_columns(due.label("due"), *flags)).all()


def decide(rows: list[Any], today: date, ladder: Ladder, calendar: WorkCalendar) -> list[notices.TakenStep]:
    """The steps to take, by :func:`ladder.steps_due` computed once per distinct due date."""
    due_now: dict[date, list[Step]] = {}
    keys = ladder.keys
    decided: list[notices.TakenStep] = []
    for row in rows:
        steps = due_now.get(row.due)
        if steps is None:
            steps = due_now[row.due] = steps_due(row.due, today, frozenset(), False, calendar, ladder)
        if not steps:
            continue
        taken = {keys[i] for i in range(len(keys)) if row[_FLAGS_AT + i]}
        for s in steps:
            if s.key not in taken:
                decided.append(notices.TakenStep(row.assignment_id, row.period_id, s.key, row.due, row.unit_id,
                                                 row.task_id, row.plan_id))
    decided.sort(key=lambda t: (t.assignment_id, t.period_id, t.step))
    return decided


def take_due_steps(today: date, ladder: Ladder, calendar: WorkCalendar) -> list[notices.TakenStep]:
    """Decide and write the day's steps in one INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING.

    A step falls due for an item when its effective due date is on or before the step's
    cut-off (:func:`due_cutoff`, from :func:`ladder.step_date`), the same decision as
    :func:`ladder.steps_due`, made in the database for every item at once. Returns the steps
    this call wrote, in no particular order (of two sweeps at once, each step is written by one)."""
    query, due = _open_items(today, ladder, calendar, [
        Assignment.id.label("assignment_id"), Period.id.label("period_id")])
    open_items = query.add_columns(due.label("due")).cte("open_items").prefix_with("MATERIALIZED")
    now = utcnow()
    arms = []
    for s in ladder:  # one arm per step over the open items, computed once
        taken = exists().where(LadderStep.assignment_id == open_items.c.assignment_id,
                               LadderStep.period_id == open_items.c.period_id, LadderStep.step == s.key)
        arms.append(select(open_items.c.assignment_id, open_items.c.period_id, literal(s.key, String(30)),
                           open_items.c.due, literal(today, Date), literal(now, DateTime))
                    .where(open_items.c.due <= due_cutoff(today, s, calendar), ~taken))
    steps_due_now = union_all(*arms).order_by(literal_column("1"), literal_column("2"), literal_column("3"))
    stmt = insert_ignore(LadderStep, ["assignment_id", "period_id", "step"]).from_select(
        ["assignment_id", "period_id", "step", "due", "day", "taken_at"], steps_due_now
    ).returning(LadderStep.assignment_id, LadderStep.period_id, LadderStep.step, LadderStep.due)
    written = db.session.execute(stmt).all()
    details: dict[int, tuple[int, int, int]] = {}
    ids = sorted({w[0] for w in written})
    for start in range(0, len(ids), 20000):
        for a, unit, task, plan in db.session.execute(
                select(Assignment.id, Assignment.unit_id, Assignment.task_id, Assignment.plan_id)
                .where(Assignment.id.in_(ids[start:start + 20000]))):
            details[a] = (unit, task, plan)
    make = notices.TakenStep._make
    return [make((a, p, step, due, *details[a])) for a, p, step, due in written]


def take_steps(decided: list[notices.TakenStep], today: date, *, by_user_id: int | None = None,
               message: str | None = None) -> list[notices.TakenStep]:
    """Write given steps (ON CONFLICT DO NOTHING); the ones this call wrote, in the given order."""
    if not decided:
        return []
    now = utcnow()
    columns = ("assignment_id", "period_id", "step", "due", "day", "taken_at", "by_user_id", "message")
    rows = [(t.assignment_id, t.period_id, t.step, t.due, today, now, by_user_id, message) for t in decided]
    written = set(insert_ignore_many(LadderStep.__table__, columns, rows, ("assignment_id", "period_id", "step"),
                                     ("assignment_id", "period_id", "step")))
    return [t for t in decided if (t.assignment_id, t.period_id, t.step) in written]


def sweep(today: date, dry_run: bool = False) -> SweepResult:
    """Take every ladder step that has fallen due by ``today`` and write the digests.

    Safe to run twice, or twice at once: a step already taken is not taken again and a
    digest key already used adds nothing. The caller commits (the CLI and the scheduler do).
    With ``dry_run`` nothing is written; the result says what would be sent."""
    wf = workflows()
    ladder, calendar = wf.ladder, wf.calendar
    steps = {s.key: s for s in ladder}
    result = SweepResult(today, dry_run)
    if dry_run:
        taken = decide(candidates(today, ladder, calendar), today, ladder, calendar)
        result.decided.update(t.step for t in taken)
    else:
        taken = take_due_steps(today, ladder, calendar)
    result.taken.update(t.step for t in taken)
    digests = notices.step_digests(taken, steps)
    result.notices = [{"channel": d.channel, "recipient": d.recipient, "kind": d.kind, "items": len(d.items)}
                      for d in digests]
    if dry_run:
        return result
    notice_ids = notices.store(digests, today)
    if taken:
        audit.record("reminders.sweep", "sweep", today.isoformat(), {},
                     extra={"day": today, "steps": dict(result.taken), "notices": len(notice_ids)},
                     actor=SYSTEM_ACTOR)
    mail_audit_head(today)
    return result


def mail_audit_head(today: date) -> list[int]:
    """Put today's audit head (seq, hash) in the office's outbox, once a day."""
    head = db.session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        return []
    return notices.store(notices.audit_head_digests(head.seq, head.hash, today), today, exclusive=False)
