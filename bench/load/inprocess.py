"""The load test's requests, in-process, one at a time: milliseconds and SQL statements per page.

    .venv/bin/python bench/load/inprocess.py                     # database pt_load (bench/bench_load.py makes it)
    .venv/bin/python bench/load/inprocess.py --repeat 20
    .venv/bin/python bench/load/inprocess.py --profile "GET item" # cProfile of one page, top 30 by cumulative time

Exactly the requests bench/bench_load.py makes (a liaison: /items, an item, the report form, a draft save,
a submit; staff: a plan's matrix, the overdue list of all plans and of one plan, a submitted report),
through Flask's test client with a real login (the server-side session is checked on every request as
under gunicorn), with the configuration the load test gives gunicorn (APP_ENV=production, TODAY fixed at
the data's date). No network, no other process: this is the cost of the code and the database alone. "CPU ms" is this
process's CPU time (the app's Python work, without the database's): steadier than the wall time when other
work shares the cores. "GC ms/req": the garbage collector's time per request (all generations), and
"full" the number of full (generation 2) collections during the page's requests.
Writes drafts and submits a few reports in pt_load (the load test's own database); nothing else.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load.client import parse_report_form  # noqa: E402

PG_URL = os.environ.get("BENCH_LOAD_PG_URL", "postgresql://postgres@127.0.0.1:5432/pt_load")
TODAY = os.environ.get("BENCH_TODAY", "2025-12-20")  # the synthetic data's year (bench/bench_pages.py uses the same date)
STAFF = ("load-staff", "load-staff-pass-1")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--profile", help="page name to profile with cProfile (e.g. 'GET item'), or 'all': every page together")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--sql", action="store_true", help="print the statements of each page once")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() once the app is built, as gunicorn.conf.py does in each worker")
    ap.add_argument("--gc-threshold", type=int, default=0, help="gc.set_threshold(N) for generation 0")
    ap.add_argument("--each", action="store_true", help="print every request's time")
    args = ap.parse_args()

    os.environ.update({"INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-inprocess-"), "APP_ENV": "production",
                       "LOG_LEVEL": "INFO", "LOG_FORMAT": "json"})  # as under the load test: one access line a request
    from sqlalchemy import event, text

    from app import create_app
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "SECRET_KEY": secrets.token_hex(32), "TODAY": TODAY,
                      "MFA_REQUIRED_ROLES": (), "SESSION_COOKIE_SECURE": False})
    if args.gc_threshold:
        import gc

        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    if args.gc_freeze:
        import gc

        gc.collect()
        gc.freeze()
    with app.app_context():
        engine = db.engine
        rows = db.session.execute(text("""
            SELECT u.username, a.id, p.id FROM assignment a
              JOIN "user" u ON u.unit_id = a.unit_id AND u.role = 'liaison' AND u.active
              JOIN period p ON p.plan_id = a.plan_id
              LEFT JOIN report r ON r.assignment_id = a.id AND r.period_id = p.id
             WHERE a.role = 'lead' AND a.active AND u.username LIKE 'syn%'
               AND (r.id IS NULL OR r.state = 'draft')
             ORDER BY u.username DESC, a.id, p.id LIMIT 400""")).all()
        plan_id, plan_slug = db.session.execute(text(
            "SELECT id, slug FROM plan WHERE slug LIKE 'synth-%' ORDER BY id LIMIT 1")).one()
        busiest = db.session.execute(text("""
            SELECT u.username FROM "user" u JOIN assignment a ON a.unit_id = u.unit_id AND a.active
             WHERE u.role = 'liaison' AND u.active AND u.username LIKE 'syn%'
             GROUP BY u.username ORDER BY count(*) DESC, u.username LIMIT 1""")).scalar_one()
        submitted = db.session.execute(text(
            "SELECT assignment_id, period_id FROM report WHERE state = 'submitted' LIMIT 50")).all()
    by_user: dict[str, list[tuple[int, int]]] = {}
    for username, aid, pid in rows:
        by_user.setdefault(username, []).append((aid, pid))
    username = max(by_user, key=lambda u: len(by_user[u]))
    targets = by_user[username]

    def login(user: str, password: str):
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        resp = client.post("/login", data={"csrf_token": token, "username": user, "password": password})
        assert resp.status_code == 302 and "/login" not in resp.headers["Location"], (user, resp.status_code)
        return client

    liaison = login(username, "synth-pass-1")
    staff = login(*STAFF)
    big = login(busiest, "synth-pass-1")
    aid, pid = targets[0]
    form_url = f"/items/{aid}/reports/{pid}"
    submit_targets = list(targets[1:])

    def post(client, url: str, action: str):
        token, version, figures = parse_report_form(client.get(url).get_data(as_text=True))
        assert token and version is not None, f"{url} not editable"
        data = {"csrf_token": token, "version": version, "progress_text": f"进展 {random.random():.6f}",
                "problems_text": "无", "next_steps_text": "继续推进", "revision_reason": "测试", "action": action}
        data.update({name: str(random.randint(1, 1000)) for name in figures})
        return data

    def save_draft():
        data = post(liaison, form_url, "save")
        return lambda: liaison.post(form_url, data=data)

    def submit():
        a, p = submit_targets.pop()
        url = f"/items/{a}/reports/{p}"
        data = post(liaison, url, "submit")
        return lambda: liaison.post(url, data=data)

    sa, sp = submitted[0]
    pages = [
        ("GET /items", lambda: (lambda: liaison.get("/items")), 200),
        ("GET /items (busiest unit)", lambda: (lambda: big.get("/items")), 200),
        ("GET item", lambda: (lambda: liaison.get(f"/items/{aid}")), 200),
        ("GET report form", lambda: (lambda: liaison.get(form_url)), 200),
        ("POST save draft", save_draft, 302),
        ("POST submit", submit, 302),
        ("staff: matrix (one plan)", lambda: (lambda: staff.get(f"/review/plans/{plan_slug}/matrix")), 200),
        ("staff: overdue (all plans)", lambda: (lambda: staff.get("/review/overdue")), 200),
        ("staff: overdue (one plan)", lambda: (lambda: staff.get(f"/review/overdue?plan={plan_id}")), 200),
        ("staff: open a report", lambda: (lambda: staff.get(f"/items/{sa}/reports/{sp}")), 200),
        ("GET /healthz", lambda: (lambda: liaison.get("/healthz")), 200),
    ]
    statements: list[str] = []

    def count(conn, cursor, statement, *_):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    shared = cProfile.Profile()
    import gc

    gc_time = {"total": 0.0, "full": 0, "started": 0.0}

    def gc_clock(phase: str, info: dict) -> None:
        if phase == "start":
            gc_time["started"] = time.perf_counter()
        else:
            gc_time["total"] += time.perf_counter() - gc_time["started"]
            gc_time["full"] += info["generation"] == 2

    gc.callbacks.append(gc_clock)
    print(f"liaison {username} ({len(targets)} editable reports); busiest unit's liaison {busiest}; "
          f"staff {STAFF[0]}; TODAY {TODAY}")
    real_stderr = sys.stderr
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (the access lines are formatted and written, to nowhere)
    print(f"{'page':<30} {'median ms':>9} {'p95 ms':>8} {'CPU ms med':>10} {'CPU ms min':>10} {'SQL':>4} {'GC ms/req':>9} {'full':>4}")
    for name, prepare, expect in pages:
        if args.profile and args.profile not in (name, "all"):
            continue
        repeat = min(args.repeat, len(submit_targets)) if name == "POST submit" else args.repeat
        prepare()()  # warm up (compiled statements, templates)
        timings, cpus, counts = [], [], []
        gc_time.update(total=0.0, full=0)
        prof = (shared if args.profile == "all" else cProfile.Profile()) if args.profile else None
        for _ in range(repeat):
            if name == "POST submit" and not submit_targets:
                break
            fn = prepare()
            statements.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            if prof:
                prof.enable()
            resp = fn()
            if prof:
                prof.disable()
            timings.append((time.perf_counter() - t0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
            counts.append(len(statements))
            assert resp.status_code == expect, (name, resp.status_code, resp.get_data(as_text=True)[:500])
        if not timings:
            continue
        print(f"{name:<30} {statistics.median(timings):>9.1f} {pct(timings, .95):>8.1f} "
              f"{statistics.median(cpus):>10.1f} {min(cpus):>10.1f} {max(counts):>4} "
              f"{gc_time['total'] * 1000 / len(timings):>9.1f} {gc_time['full']:>4}", flush=True)
        if args.each:
            print("    " + " ".join(f"{t:.0f}" for t in timings))
        if args.sql:
            for s in statements:
                print("    " + " ".join(s.split())[:200])
        if prof and args.profile != "all":
            pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
    sys.stderr = real_stderr
    if args.profile == "all":
        pstats.Stats(shared).sort_stats("tottime").print_stats(args.top)
        pstats.Stats(shared).sort_stats("cumulative").print_stats(args.top)
    event.remove(engine, "before_cursor_execute", count)


if __name__ == "__main__":
    main()
