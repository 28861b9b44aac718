"""Export speed and memory on the national-scale PostgreSQL database pt_bench (made by bench/bench_pages.py).

    .venv/bin/python bench/bench_exports.py                 # every scenario, 3 runs each
    .venv/bin/python bench/bench_exports.py --repeat 5 --only overdue-xlsx figures-xlsx

Scenarios, each in its own fresh process (so its RSS high-water mark is its own):

- overdue-xlsx / overdue-csv: GET /exports/overdue.<fmt>?period=all through the app in-process (login,
  routing, access check, the streamed overdue query of every plan and every past-due period, the
  writer, the body read chunk by chunk): ~170,000 rows on pt_bench.
- figures-xlsx / figures-csv: the writer fed from the real figures query of the exports
  (app.exports.services.figures_query / figure_rows, a server-side cursor) over 100,000 figures.
  pt_bench has no figures, so the process first inserts one figure per report of the months
  2025年5月 … 2025年8月 of every plan (LIMIT 100,000) inside its transaction, and rolls it back at the
  end: nothing is left behind.

Printed per scenario: rows, bytes, median and p95 of the wall time in ms, SQL statements per export,
the RSS before the first export and the process's RSS high-water mark (ru_maxrss) after all runs.
Targets: xlsx of 100,000 rows < 20 s, < 500 MB. The export's one audit INSERT is stubbed out so the
shared database's append-only audit log does not grow with every run (the single login of the
staff user, as bench_pages.py does, is recorded)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import PG_URL, TODAY, percentile

FIGURE_MONTHS = ("2025年5月", "2025年6月", "2025年7月", "2025年8月")
FIGURE_ROWS = 100_000
SCENARIOS = ("overdue-xlsx", "overdue-csv", "figures-xlsx", "figures-csv")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux



def drain(response) -> tuple[int, int]:
    """Read the body chunk by chunk as a client would (never whole in memory); bytes and CSV lines."""
    size = lines = 0
    try:
        for chunk in response.response:
            size += len(chunk)
            lines += chunk.count(b"\n")
    finally:
        response.close()
    return size, lines


def one(scenario: str, repeat: int) -> dict:
    """Run one scenario `repeat` times in this process and return its figures."""
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import event, select, text

    from app import create_app
    from app.exports import routes as export_routes
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "MFA_REQUIRED_ROLES": (), "TODAY": TODAY, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    counter = {"n": 0}

    def count(*_args, **_kw):
        counter["n"] += 1

    timings: list[float] = []
    cpu: list[float] = []  # this process's CPU time (the database's is not in it)
    statements = rows = size = 0
    fmt = scenario.split("-")[1]
    if scenario.startswith("overdue"):
        seen: list[dict] = []

        class _Audit:  # the export's event is kept here, not written (see the module's docstring)
            @staticmethod
            def record(*_args, extra=None, **_kw):
                seen.append(dict(extra or {}))

        export_routes.audit = _Audit
        client = app.test_client()
        assert client.post("/login", data={"username": "bench-staff", "password": "bench-pass-1"}).status_code == 302
        with app.app_context():
            engine = db.engine
        url = f"/exports/overdue.{fmt}?period=all"
        assert client.get("/exports/overdue.csv?step=refer").status_code == 200  # warm up (imports, caches)
        baseline = rss_mb()
        event.listen(engine, "before_cursor_execute", count)
        for _ in range(repeat):
            counter["n"] = 0
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(url, buffered=False)
            assert response.status_code == 200, response.status_code
            size, lines = drain(response)
            timings.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            statements = counter["n"]
        event.remove(engine, "before_cursor_execute", count)
        client.post("/logout")
        rows = seen[-1]["rows"] if fmt == "xlsx" else lines - 1
        description = f"GET {url} (route, all plans, every past-due period)"
    else:
        from app.exports import services
        from app.exports.writers import csv_response, xlsx_response
        from app.plans.models import Period

        with app.app_context():
            engine = db.engine
            db.session.execute(_insert_figures(), {"months": list(FIGURE_MONTHS), "n": FIGURE_ROWS})
            periods = select(Period.id).where(Period.label.in_(FIGURE_MONTHS)).scalar_subquery()
            try:
                list(services.figure_rows(services.figures_query(periods).limit(10)))  # warm up
                baseline = rss_mb()
                event.listen(engine, "before_cursor_execute", count)
                for _ in range(repeat):
                    counter["n"] = 0
                    t0, c0 = time.perf_counter(), time.process_time()
                    rows_iter = services.figure_rows(services.figures_query(periods))
                    if fmt == "xlsx":
                        response = xlsx_response("figures.xlsx", "填报数值", services.figure_columns(), rows_iter)
                    else:
                        response = csv_response("figures.csv", services.figure_columns(), rows_iter)
                    size, lines = drain(response)
                    timings.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                    statements = counter["n"]
                event.remove(engine, "before_cursor_execute", count)
                rows = db.session.execute(select(text("count(*)")).select_from(text("figure"))).scalar()
            finally:
                db.session.rollback()  # the inserted figures go: pt_bench is left as it was
        description = f"writer ← figures_query over {FIGURE_ROWS:,} figures (inserted, rolled back)"
    return {"scenario": scenario, "what": description, "rows": rows, "bytes": size,
            "median_ms": statistics.median(timings), "p95_ms": percentile(timings, 0.95), "runs": len(timings),
            "cpu_ms": statistics.median(cpu),
            "statements": statements, "rss_before_mb": baseline, "rss_peak_mb": max_rss_mb()}


def _insert_figures():
    from sqlalchemy import bindparam, text

    return text(
        "INSERT INTO figure (report_id, indicator_id, value) "
        "SELECT r.id, i.id, (r.id % 997) + 0.25 FROM report r "
        "JOIN assignment a ON a.id = r.assignment_id JOIN indicator i ON i.task_id = a.task_id "
        "JOIN period p ON p.id = r.period_id WHERE p.label IN :months "
        "ORDER BY r.id LIMIT :n ON CONFLICT DO NOTHING").bindparams(bindparam("months", expanding=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--one", choices=SCENARIOS, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.repeat)))
        return
    if not Path("/tmp/pt_bench.ready").exists():
        print("waiting for /tmp/pt_bench.ready …", file=sys.stderr)
        while not Path("/tmp/pt_bench.ready").exists():
            time.sleep(10)
    results = []
    for scenario in args.only:
        out = subprocess.run([sys.executable, __file__, "--one", scenario, "--repeat", str(args.repeat)],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            raise SystemExit(f"{scenario} failed")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\n{'scenario':<13} {'rows':>8} {'MB out':>7} {'median ms':>10} {'p95 ms':>9} {'CPU ms':>7} {'SQL':>4} "
          f"{'RSS before':>10} {'RSS peak':>9}  what")
    for r in results:
        rows = "?" if r["rows"] is None else f"{r['rows']:,}"
        print(f"{r['scenario']:<13} {rows:>8} {r['bytes'] / 1e6:>7.1f} {r['median_ms']:>10.0f} {r['p95_ms']:>9.0f} {r['cpu_ms']:>7.0f} "
              f"{r['statements']:>4} {r['rss_before_mb']:>8.0f}MB {r['rss_peak_mb']:>7.0f}MB  {r['what']}")
    print(f"(median and p95 of {args.repeat} runs each; CPU ms: median CPU time of the Python process, the "
          "database's own time not included; RSS peak: the process's high-water mark, ru_maxrss)")


if __name__ == "__main__":
    main()
