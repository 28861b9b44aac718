"""Time to issue a brief for the largest synthetic plan (issue 6, "Paper" part 2).

    .venv/bin/python bench/bench_briefs.py                    # PostgreSQL pt_bench, 5 runs of each kind
    .venv/bin/python bench/bench_briefs.py --repeat 9 --kinds monthly

Uses the national-scale database made by bench/bench_pages.py (pt_bench: 300 plans, ~100,000 assignments,
~1,000,000 reports; TODAY = 2025-12-20) and never writes to it for good: each issue (gather the content,
render the Word document, store the brief, record and chain its audit event) runs in a transaction that is
rolled back. In-process, like bench/bench_pages.py. Prints the median and p95 in ms, the SQL statements of one
issue and the size of the document; then the brief pages (list and one brief) with a brief stored for the while
and deleted after. Target: the monthly brief under 5 s."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from benchlib import PG_URL, TODAY, percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=PG_URL, help="database URL (default: pt_bench on 127.0.0.1)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kinds", default="monthly,quarterly,annual")
    parser.add_argument("--no-pages", action="store_true", help="time the issue only, not the brief pages")
    args = parser.parse_args()
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import event, func, select

    from app import create_app
    from app.audit import services as audit
    from app.auth.models import User
    from app.briefs.services import issue_brief
    from app.extensions import db
    from app.plans.models import Assignment, Period, Plan

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "bench", "TODAY": TODAY, "WTF_CSRF_ENABLED": False,
                      "MFA_REQUIRED_ROLES": ()})
    import logging

    logging.disable(logging.INFO)  # the access log of each request would drown the figures
    with app.app_context():
        plan_id, size = db.session.execute(
            select(Assignment.plan_id, func.count()).where(Assignment.active).group_by(Assignment.plan_id)
            .order_by(func.count().desc(), Assignment.plan_id).limit(1)).one()
        plan = db.session.get(Plan, plan_id)
        months = db.session.execute(select(Period).where(Period.plan_id == plan_id, Period.kind == "monthly")
                                    .order_by(Period.start)).scalars().all()
        past_due = [p for p in months if p.due < TODAY]
        month = past_due[-1]
        quarter_end = next(p for p in reversed(months) if p.end.month % 3 == 0 and p.end < TODAY)
        december = next(p for p in months if p.end.month == 12)
        periods = {"monthly": month, "quarterly": quarter_end, "annual": december}
        staff = db.session.execute(select(User).where(User.role.in_(("staff", "admin")), User.active)
                                   .order_by(User.id)).scalars().first()
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        print(f"plan {plan.slug}: {size} active assignments; today {TODAY}")
        engine = db.engine
        counter = {"n": 0}

        def count(*_args, **_kw):
            counter["n"] += 1

        rows = []
        for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
            period = periods[kind]
            timings, statements, size_bytes = [], 0, 0
            for _ in range(args.repeat + 1):  # the first run warms caches and is not counted
                db.session.rollback()
                user = staff
                if user is None:  # no office account in the database: one for this transaction only
                    user = User(username="bench-briefs", name="bench", role="staff", created_at=db.func.now())
                    db.session.add(user)
                    db.session.flush()
                event.listen(engine, "before_cursor_execute", count)
                counter["n"] = 0
                t0 = time.perf_counter()
                brief = issue_brief(plan, kind, db.session.get(Period, period.id), user)
                audit.flush_events()  # chain and write the issue's event, as the commit would
                elapsed = (time.perf_counter() - t0) * 1000
                event.remove(engine, "before_cursor_execute", count)
                size_bytes, statements = len(brief.docx), counter["n"]
                timings.append(elapsed)
                db.session.rollback()  # nothing stays: no brief row, no audit event
            timings = timings[1:]
            rows.append((kind, period.label, statistics.median(timings), percentile(timings, 0.95), statements,
                         size_bytes))
        pages = _pages(app, plan, month, staff, args.repeat * 6) if not args.no_pages else []
    print(f"\n{'brief':<10} {'period':<14} {'median ms':>10} {'p95 ms':>8} {'SQL':>4} {'docx bytes':>11}")
    for kind, label, median, p95, statements, size_bytes in rows:
        print(f"{kind:<10} {label:<14} {median:>10.1f} {p95:>8.1f} {statements:>4} {size_bytes:>11}")
    if pages:
        print(f"\n{'page':<36} {'median ms':>10} {'p95 ms':>8} {'SQL':>4}")
        for name, median, p95, statements in pages:
            print(f"{name:<36} {median:>10.1f} {p95:>8.1f} {statements:>4}")
    monthly = next((r for r in rows if r[0] == "monthly"), None)
    if monthly is not None:
        print(f"\nmonthly brief target < 5000 ms: {'met' if monthly[2] < 5000 else 'NOT met'} "
              f"(median {monthly[2]:.0f} ms over {args.repeat} runs)")


def _pages(app, plan, period, staff, repeat: int) -> list[tuple[str, float, float, int]]:
    """The list and one brief's page, with a monthly brief stored for the while (no audit event: it is written
    directly, not issued) and deleted afterwards. Logs in as bench-staff, as bench/bench_pages.py does."""
    from sqlalchemy import event, select

    from app.auth.models import User
    from app.briefs import content as briefs_content
    from app.briefs.docx import render
    from app.briefs.models import Brief
    from app.briefs.services import sha256
    from app.extensions import db

    client = app.test_client()
    if client.post("/login", data={"username": "bench-staff", "password": "bench-pass-1"}).status_code != 302:
        print("pages skipped: no bench-staff account (made by bench/bench_pages.py)")
        return []
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "bench-staff")).scalar_one()
        gathered = briefs_content.gather(db.session.merge(plan), "monthly", db.session.merge(period), TODAY)
        gathered["number"] = 0
        document = render(gathered)
        from datetime import datetime

        brief = Brief(plan_id=plan.id, period_id=period.id, kind="monthly", number=0, title=gathered["title"],
                      content=gathered, docx=document, sha256=sha256(document), audit_seq=gathered["audit"]["seq"],
                      audit_hash=gathered["audit"]["hash"], issued_by_id=user.id, issued_at=datetime(2025, 12, 20))
        db.session.add(brief)
        db.session.commit()
        brief_id, engine = brief.id, db.engine
    counter = {"n": 0}

    def count(*_args, **_kw):
        counter["n"] += 1

    rows = []
    try:
        event.listen(engine, "before_cursor_execute", count)
        for name, url in (("briefs: one plan", f"/briefs?plan={plan.id}"), ("briefs: all plans", "/briefs"),
                          ("brief page", f"/briefs/{brief_id}")):
            client.get(url)
            timings = []
            for _ in range(repeat):
                counter["n"] = 0
                t0 = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            rows.append((name, statistics.median(timings), percentile(timings, 0.95), counter["n"]))
    finally:
        event.remove(engine, "before_cursor_execute", count)
        with app.app_context():
            db.session.delete(db.session.get(Brief, brief_id))
            db.session.commit()
    return rows


if __name__ == "__main__":
    main()
