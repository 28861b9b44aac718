"""National-scale synthetic data for benchmarks: bulk inserts (COPY on PostgreSQL), no audit
events. 300 plans × 20 tasks × ~17 units ≈ 100,000 assignments; 12 monthly periods; about
85 % of assignment-months reported ≈ 1,000,000 reports."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Table, func, select

from ..auth.models import User
from ..extensions import db
from ..plans.models import Assignment, Indicator, Period, Plan, Section, Task
from ..reminders.periods import plan_periods
from ..reports.models import Report
from ..units.models import LiaisonTerm, Unit

SYNTH_PASSWORD = "synth-pass-1"


def _next_id(model) -> int:
    return (db.session.execute(select(func.max(model.id))).scalar() or 0) + 1


def bulk_insert(table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert many rows fast: COPY on PostgreSQL, executemany elsewhere."""
    conn = db.session.connection()
    rows = list(rows)
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        quoted = ", ".join('"' + c + '"' for c in columns)
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
    return len(rows)


def synthesize(*, plans: int = 300, tasks: int = 20, units: int = 3000, units_per_task: int = 17,
               months: int = 12, report_share: float = 0.85, year: int = 2025, seed: int = 7,
               echo: Callable[[str], None] = print) -> dict[str, int]:
    rng = random.Random(seed)
    started = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    unit0, plan0, section0, task0 = _next_id(Unit), _next_id(Plan), _next_id(Section), _next_id(Task)
    ind0, asg0, period0, report0, user0 = (_next_id(Indicator), _next_id(Assignment), _next_id(Period),
                                          _next_id(Report), _next_id(User))
    tag = f"{plan0:05d}"
    unit_ids = list(range(unit0, unit0 + units))
    leagues = max(1, units // 10)
    bulk_insert(Unit.__table__, ("id", "name", "kind", "active"),
                ((uid, f"合成单位{tag}-{i:05d}", "league_city" if i < leagues else "department", True)
                 for i, uid in enumerate(unit_ids)))
    probe = User(username="x", name="x", role="liaison", created_at=now)
    probe.set_password(SYNTH_PASSWORD)
    bulk_insert(User.__table__, ("id", "username", "name", "email", "password_hash", "role", "unit_id", "active",
                                 "created_at"),
                ((user0 + i, f"syn{tag}-{i:05d}", f"联络员{i}", f"syn{i}@example.org", probe.password_hash, "liaison",
                  uid, True, now) for i, uid in enumerate(unit_ids)))
    bulk_insert(LiaisonTerm.__table__, ("id", "unit_id", "user_id", "started_at"),
                ((_next_id(LiaisonTerm) + i, uid, user0 + i, now) for i, uid in enumerate(unit_ids)))
    specs = plan_periods(["monthly"], date(year, 1, 1), date(year, months, 28))
    plan_rows, section_rows, task_rows, ind_rows, asg_rows, period_rows, report_rows = [], [], [], [], [], [], []
    task_id, asg_id, period_id, report_id = task0, asg0, period0, report0
    last_month = len(specs) - 1
    for p in range(plans):
        pid = plan0 + p
        plan_rows.append((pid, f"synth-{tag}-{p:04d}", f"合成政发〔{year}〕{tag}{p}号", f"合成实施方案 {p}",
                          "合成人民政府", date(year, 1, 10), date(year, 1, 1), date(year, 12, 31), '["monthly"]'))
        section_rows.append((section0 + p, pid, "一", "重点任务", 0))
        plan_periods_ids = []
        for spec in specs:
            period_rows.append((period_id, pid, spec.kind, spec.start, spec.end, spec.label, spec.due))
            plan_periods_ids.append(period_id)
            period_id += 1
        for t in range(tasks):
            task_rows.append((task_id, pid, section0 + p, t + 1, f"合成任务 {t + 1}", "合成任务正文。", "[]"))
            ind_rows.append((ind0 + len(ind_rows), pid, task_id, f"t{t + 1}", f"指标 {t + 1}", ">=", Decimal(100),
                             "个", date(year, 12, 31), True, False, False, '["lead"]', None, t))
            holders = rng.sample(unit_ids, units_per_task)
            lagging = rng.random() < 0.1
            for k, uid in enumerate(holders):
                asg_rows.append((asg_id, pid, task_id, uid, "lead" if k == 0 else "co", None, k * 100, True,
                                 "in_progress", rng.randrange(0, 100), 1))
                for m, per_id in enumerate(plan_periods_ids):
                    if rng.random() >= report_share or (lagging and m >= last_month - 1):
                        continue
                    state = "accepted" if m < last_month else rng.choice(("submitted", "accepted", "draft", "returned"))
                    report_rows.append((report_id, asg_id, per_id, state, "合成进展。", "", "", now, now, now, 1))
                    report_id += 1
                asg_id += 1
            task_id += 1
    bulk_insert(Plan.__table__, ("id", "slug", "code", "title", "issuer", "issued", "reporting_start", "reporting_end",
                                 "cadence"), plan_rows)
    bulk_insert(Section.__table__, ("id", "plan_id", "number", "title", "position"), section_rows)
    bulk_insert(Task.__table__, ("id", "plan_id", "section_id", "number", "title", "text", "policy"), task_rows)
    bulk_insert(Indicator.__table__, ("id", "plan_id", "task_id", "key", "name", "comparator", "target", "unit",
                                      "due", "cumulative", "per_unit", "allow_negative", "reported_by", "source",
                                      "position"), ind_rows)
    bulk_insert(Period.__table__, ("id", "plan_id", "kind", "start", "end", "label", "due"), period_rows)
    bulk_insert(Assignment.__table__, ("id", "plan_id", "task_id", "unit_id", "role", "via_group", "position",
                                       "active", "status", "progress", "version"), asg_rows)
    echo(f"inserting {len(report_rows):,} reports …")
    bulk_insert(Report.__table__, ("id", "assignment_id", "period_id", "state", "progress_text", "problems_text",
                                   "next_steps_text", "submitted_at", "created_at", "updated_at", "version"),
                report_rows)
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        for table in ("unit", "user", "liaison_term", "plan", "section", "task", "indicator", "period", "assignment",
                      "report"):
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                 f"(SELECT max(id) FROM \"{table}\"))")
        conn.exec_driver_sql("ANALYZE")
    else:
        conn.exec_driver_sql("ANALYZE")
    db.session.commit()
    return {"plans": plans, "tasks": len(task_rows), "units": units, "assignments": len(asg_rows),
            "periods": len(period_rows), "reports": len(report_rows), "seconds": round(time.perf_counter() - started, 1),
            "first_user": f"syn{tag}-00000", "largest_plan": f"synth-{tag}-0000"}
