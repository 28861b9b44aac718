"""Load and fault test of the production stack: gunicorn (4 sync workers) + PostgreSQL, loopback only.

    .venv/bin/python bench/bench_load.py --reuse --no-pg-restart --no-faults   # the clean load of issue 7 (below)
    .venv/bin/python bench/bench_load.py                         # 300 plans, 60 s clean + 60 s with faults
    .venv/bin/python bench/bench_load.py --plans 30 --seconds 20 # quick run
    .venv/bin/python bench/bench_load.py --reuse                 # keep database pt_load from a previous run
    .venv/bin/python bench/bench_load.py --no-pg-restart         # skip the PostgreSQL restart
    .venv/bin/python bench/bench_load.py --no-faults             # no fault phase (no worker kill, no PostgreSQL stop)
    .venv/bin/python bench/bench_load.py --think 1               # stress: 1 s between a user's clicks

The think time (--think, default 5 s, each pause uniform between 0.5x and 1.5x) is the pause after each of
a user's requests: reading a page, filling in the form before saving it. Users start at a random moment
within the first pause, not all at the same instant. The user count (200 liaisons + 10 staff) and the data
(300 plans, 102,000 assignments, ~1M reports) are the issue's; only the pause is a choice.

What it does (bounded in count and time; it stops by itself and stops gunicorn at the end):

1. Setup: drops and creates the PostgreSQL database pt_load, `flask db upgrade`, fills it with
   `app.demo.synth.synthesize(plans=N)` (liaisons syn<tag>-NNNNN / synth-pass-1) and one staff account,
   then starts `gunicorn -c gunicorn.conf.py wsgi:app` on 127.0.0.1:<free port> with APP_ENV=production,
   a 64-character SECRET_KEY, and — for the benchmark only — MFA_REQUIRED_ROLES=none (staff log in with
   a password alone) and LOGIN_IP_MAX_FAILURES / LOGIN_ACCOUNT_MAX_FAILURES raised to 1,000,000
   (every client comes from 127.0.0.1); TODAY=2025-12-20 (the synthetic data's year, as bench/bench_pages.py);
   JSON logs at INFO as in production (the access lines give each request's server-side time). It waits
   for /healthz. With --reuse and an existing pt_load the database is kept (earlier runs' drafts and
   submissions stay; each run picks reports that are still editable).
   All simulated users log in before the timed load, --login-concurrency at a time (each login is one
   scrypt hash); the logins are reported as their own table.
2. Concurrency checks: (a) the same report opened in two sessions of its unit and saved at the same
   moment: exactly one save wins, the other gets the form's conflict message (version); repeated on
   --conflict-trials reports. (b) 50 liaisons submit 50 distinct reports at the same moment; the
   database must then hold 50 submitted reports with their figures.
3. Clean load: 200 liaisons (logged in once, above; loop: /items, an item, a report form, save a draft, 1 in 8
   loops submit) and 10 staff (matrix of a plan, the overdue list, a report) for --seconds, with
   --think seconds (random 0.5×–1.5×) between requests. Throughput, p50/p95/p99 per page, errors
   (status other than 2xx/3xx/400/409, connection errors, timeouts) — must be 0. Also: the server-side
   time per route (the app's access lines, without queueing), and who used the CPU while the load ran
   (this client, gunicorn, the load database's PostgreSQL backends, everything else) with the load average.
4. Fault load: the same load for --seconds again; at 25 % one gunicorn worker gets SIGKILL (its pid read
   from the master's children); at 50 % PostgreSQL is stopped (pg_ctlcluster … stop -m fast) for
   --outage seconds and started again. Errors are counted per window (before / kill / outage / after);
   no request may hang (client timeout 30 s), the requests after recovery must succeed.
5. Consistency: every submission a client saw succeed (302 after action=submit) is a submitted report
   in the database; no report touched by the run is submitted without its figures or without its
   transition row; `flask audit verify` exits 0. PostgreSQL is started again in any case at the end.

Results: a table on stdout and bench/out/load-<time>.json. docs/load-and-faults.md has a run's numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from load import cpu  # noqa: E402
from load.client import CONFLICT_TEXT, Recorder, Session, parse_report_form  # noqa: E402

OUT = ROOT / "bench" / "out"
DB = "pt_load"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{DB}"
PG_CTL = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]
STAFF = ("load-staff", "load-staff-pass-1")
PY = str(ROOT / ".venv" / "bin" / "python")
TODAY = "2025-12-20"
VENV_BIN = ROOT / ".venv" / "bin"


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def pg(sql: str, params=None, db: str | None = DB, autocommit: bool = False):
    import psycopg

    url = PG_URL if db == DB else PG_ADMIN
    with psycopg.connect(url, autocommit=autocommit) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else None


def server_env(port: int, instance: str) -> dict:
    env = dict(os.environ)
    for key in ("FLASK_DEBUG",):
        env.pop(key, None)
    env.update({
        "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": PG_URL,
        "INSTANCE_PATH": instance, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "4",
        "GUNICORN_MAX_REQUESTS": "0",  # no planned worker replacement in the middle of the measurement
        "MFA_REQUIRED_ROLES": "none", "LOGIN_IP_MAX_FAILURES": "1000000", "LOGIN_ACCOUNT_MAX_FAILURES": "1000000",
        "LOG_LEVEL": "INFO", "LOG_FORMAT": "json", "SESSION_COOKIE_SECURE": "0",
        "TODAY": TODAY,  # the synthetic data's year (as bench/bench_pages.py): the same pages whenever it runs
    })
    return env


# ---------------------------------------------------------------------------------------------- setup

def setup_database(args, env: dict) -> None:
    if args.reuse and pg("SELECT 1 FROM pg_database WHERE datname = %s", (DB,), db=None):
        log(f"reusing database {DB}")
        return
    pg(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", db=None, autocommit=True)
    pg(f"CREATE DATABASE {DB}", db=None, autocommit=True)
    log(f"created {DB}; flask db upgrade …")
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    code = ("from app import create_app\n"
            "from app.extensions import db\n"
            "from app.auth.services import create_user\n"
            "from app.demo.synth import synthesize\n"
            "app = create_app()\n"
            "with app.app_context():\n"
            f"    print(synthesize(plans={args.plans}, tasks=20, units=3000, units_per_task=17, months=12))\n"
            f"    create_user({STAFF[0]!r}, 'load staff', 'staff', {STAFF[1]!r})\n"
            "    db.session.commit()\n")
    log(f"synthesizing {args.plans} plans …")
    t0 = time.monotonic()
    subprocess.run([PY, "-c", code], cwd=ROOT, env=env, check=True)
    log(f"synthesized in {time.monotonic() - t0:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, port: int, logfile: Path) -> subprocess.Popen:
    out = open(logfile, "w")  # noqa: SIM115
    proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    probe = Session("127.0.0.1", port, None, timeout=5)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}); see {logfile}")
        status, _, _ = probe.request("GET", "/healthz", "healthz")
        if status == 200:
            return proc
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"/healthz did not answer 200 within 60 s; see {logfile}")


def worker_pids(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def pg_running() -> bool:
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    return any(line.split()[:2] == ["15", "main"] and "online" in line for line in out.splitlines())


def ensure_pg() -> None:
    if not pg_running():
        log("PostgreSQL is down: starting it")
        subprocess.run([*PG_CTL, "start"], check=False)


# ----------------------------------------------------------------------------------------- targets

def load_targets(n_users: int, seed: int = 11) -> tuple[dict[str, list[tuple[int, int]]], dict]:
    """Editable (assignment, period) pairs of lead assignments, grouped by the unit's liaison."""
    rows = pg("""
        SELECT u.username, a.id, p.id
          FROM assignment a
          JOIN "user" u ON u.unit_id = a.unit_id AND u.role = 'liaison' AND u.active
          JOIN period p ON p.plan_id = a.plan_id
          LEFT JOIN report r ON r.assignment_id = a.id AND r.period_id = p.id
         WHERE a.role = 'lead' AND a.active AND u.username LIKE 'syn%%'
           AND (r.id IS NULL OR r.state = 'draft')
         ORDER BY u.username, a.id, p.id""")
    by_user: dict[str, list[tuple[int, int]]] = {}
    for username, aid, pid in rows:
        by_user.setdefault(username, []).append((aid, pid))
    users = sorted(u for u, t in by_user.items() if len(t) >= 2)
    random.Random(seed).shuffle(users)
    if len(users) < n_users:
        raise SystemExit(f"only {len(users)} liaisons with editable reports; need {n_users}")
    plan = pg("SELECT id, slug FROM plan WHERE slug LIKE 'synth-%%' ORDER BY id LIMIT 1")[0]
    submitted = pg("SELECT r.assignment_id, r.period_id FROM report r WHERE r.state = 'submitted' LIMIT 500")
    return {u: by_user[u] for u in users[:n_users]}, {"plan_id": plan[0], "plan_slug": plan[1],
                                                      "submitted": submitted}


# --------------------------------------------------------------------------------------- scenarios

def save(sess: Session, aid: int, pid: int, action: str, page_prefix: str = "", pause=None) -> tuple[str, str]:
    """Open the report form, (pause: the user fills it in,) post it.
    Returns (outcome, detail): ok | conflict | rejected | error."""
    path = f"/items/{aid}/reports/{pid}"
    status, _, text = sess.request("GET", path, page_prefix + "GET report form")
    if status != 200:
        return "error", f"form {status}"
    token, version, figures = parse_report_form(text)
    if token is None or version is None:
        return "rejected", "not editable"
    if pause is not None:
        pause()
    return post_form(sess, aid, pid, token, version, figures, action, page_prefix)


def post_form(sess, aid, pid, token, version, figures, action, page_prefix="") -> tuple[str, str]:
    form = {"csrf_token": token, "version": version, "progress_text": f"负载测试进展 {random.random():.6f}",
            "problems_text": "无", "next_steps_text": "继续推进", "revision_reason": "负载测试", "action": action}
    for name in figures:
        form[name] = str(random.randint(1, 1000))
    status, hdrs, text = sess.request("POST", f"/items/{aid}/reports/{pid}",
                                      page_prefix + ("POST submit" if action == "submit" else "POST save draft"), form)
    if status == 302:
        return "ok", hdrs.get("location", "")
    if status == 200 and CONFLICT_TEXT in text:
        return "conflict", ""
    if status == 200:
        m = re.findall(r'class="[^"]*(?:invalid-feedback|alert-danger)[^"]*"[^>]*>\s*([^<]{1,120})', text)
        return "rejected", "; ".join(m[:3])
    return "error", str(status)


def conflict_check(port: int, targets: dict, trials: int) -> dict:
    users = list(targets)[:trials]
    wins = conflicts = other = 0
    details = []
    for username in users:
        aid, pid = targets[username].pop()
        a, b = Session("127.0.0.1", port, None), Session("127.0.0.1", port, None)
        assert a.login(username, "synth-pass-1") and b.login(username, "synth-pass-1")
        forms = []
        for s in (a, b):
            _, _, text = s.request("GET", f"/items/{aid}/reports/{pid}", "form")
            forms.append(parse_report_form(text))
        barrier = threading.Barrier(2)
        results = [None, None]

        def go(i, s, barrier=barrier, forms=forms, results=results, aid=aid, pid=pid):
            barrier.wait()
            token, version, figures = forms[i]
            results[i] = post_form(s, aid, pid, token, version, figures, "save")

        threads = [threading.Thread(target=go, args=(i, s)) for i, s in enumerate((a, b))]
        [t.start() for t in threads]
        [t.join() for t in threads]
        outcomes = sorted(r[0] for r in results)
        if outcomes == ["conflict", "ok"]:
            wins += 1
            conflicts += 1
        else:
            other += 1
            details.append((aid, pid, results))
    return {"trials": len(users), "one_won_one_conflict": wins, "other": other, "details": details[:5]}


def submit_burst(port: int, targets: dict, n: int) -> dict:
    users = list(targets)[:n]
    sessions, forms, picks = [], [], []
    for username in users:
        s = Session("127.0.0.1", port, None)
        assert s.login(username, "synth-pass-1"), username
        aid, pid = targets[username].pop()
        _, _, text = s.request("GET", f"/items/{aid}/reports/{pid}", "form")
        sessions.append(s)
        forms.append(parse_report_form(text))
        picks.append((aid, pid))
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def go(i):
        barrier.wait()
        token, version, figures = forms[i]
        results[i] = post_form(sessions[i], *picks[i], token, version, figures, "submit")

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    [t.start() for t in threads]
    [t.join() for t in threads]
    elapsed = time.monotonic() - t0
    ok = [picks[i] for i in range(n) if results[i][0] == "ok"]
    in_db = count_submitted(ok)
    return {"submitters": n, "client_ok": len(ok), "in_db_submitted_with_figures": in_db,
            "seconds": round(elapsed, 2), "failures": [r for r in results if r[0] != "ok"][:5]}


def count_submitted(pairs: list[tuple[int, int]]) -> int:
    if not pairs:
        return 0
    rows = pg("""
        SELECT count(DISTINCT r.id) FROM report r
          JOIN assignment a ON a.id = r.assignment_id
          JOIN indicator i ON i.task_id = a.task_id
          JOIN figure f ON f.report_id = r.id AND f.indicator_id = i.id AND f.value IS NOT NULL
         WHERE r.state = 'submitted' AND (r.assignment_id, r.period_id) IN (SELECT * FROM unnest(%s::int[], %s::int[]))
        """, ([a for a, _ in pairs], [p for _, p in pairs]))
    return rows[0][0]


class Load:
    """Liaisons and staff in closed loops until stop is set."""

    def __init__(self, port: int, targets: dict, extra: dict, think: float, recorder: Recorder):
        self.port, self.targets, self.extra, self.think, self.rec = port, targets, extra, think, recorder
        self.stop = threading.Event()
        self.submitted: list[tuple[int, int]] = []
        self.outcomes: dict[str, int] = {}
        self.lock = threading.Lock()
        self.sessions: dict[str, Session] = {}

    def pause(self):
        self.stop.wait(self.think * random.uniform(0.5, 1.5))

    def note(self, outcome: str):
        with self.lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def session(self, key: str, username: str, password: str) -> Session:
        s = self.sessions.get(key)
        if s is None:
            s = Session("127.0.0.1", self.port, self.rec)
            while not self.stop.is_set() and not s.login(username, password):
                self.pause()  # a login may fail during a fault window; try again
            self.sessions[key] = s
        s.recorder = self.rec
        return s

    def login_all(self, n_staff: int, concurrency: int) -> float:
        """Log every simulated user in before the timed loop, `concurrency` at a time (a login costs
        one scrypt hash: N=32768, r=8); the logins are recorded like any request."""
        from concurrent.futures import ThreadPoolExecutor

        jobs = [(u, u, "synth-pass-1") for u in self.targets] + [(f"staff{i}", *STAFF) for i in range(n_staff)]
        t0 = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda job: self.session(*job), jobs))
        return time.monotonic() - t0

    def liaison(self, username: str):
        s = self.session(username, username, "synth-pass-1")
        mine = self.targets[username]
        self.stop.wait(random.uniform(0, self.think))  # users start over the first pause, not all at once
        while not self.stop.is_set():
            s.request("GET", "/items", "GET /items")
            self.pause()
            if not mine:
                continue
            aid, pid = random.choice(mine)
            s.request("GET", f"/items/{aid}", "GET item")
            self.pause()
            action = "submit" if random.random() < 1 / 8 else "save"
            outcome, detail = save(s, aid, pid, action, pause=self.pause)
            self.note(f"{action}:{outcome}")
            if action == "submit" and outcome == "ok":
                with self.lock:
                    self.submitted.append((aid, pid))
                mine.remove((aid, pid))
            elif outcome == "rejected" and detail == "not editable":
                mine.remove((aid, pid))
            self.pause()

    def staff(self, i: int):
        s = self.session(f"staff{i}", *STAFF)
        self.stop.wait(random.uniform(0, self.think))
        pages = [(f"/review/plans/{self.extra['plan_slug']}/matrix", "staff: matrix (one plan)"),
                 ("/review/overdue", "staff: overdue (all plans)"),
                 (f"/review/overdue?plan={self.extra['plan_id']}", "staff: overdue (one plan)")]
        while not self.stop.is_set():
            for path, page in pages:
                s.request("GET", path, page)
                self.pause()
            if self.extra["submitted"]:
                aid, pid = random.choice(self.extra["submitted"])
                s.request("GET", f"/items/{aid}/reports/{pid}", "staff: open a report")
                self.pause()

    def run(self, seconds: float, n_staff: int, events: list | None = None, on_stop=None):
        threads = [threading.Thread(target=self.liaison, args=(u,), daemon=True) for u in self.targets]
        threads += [threading.Thread(target=self.staff, args=(i,), daemon=True) for i in range(n_staff)]
        t0 = time.monotonic()
        [t.start() for t in threads]
        for at, fn in sorted(events or [], key=lambda e: e[0]):
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            fn()
        time.sleep(max(0.0, t0 + seconds - time.monotonic()))
        self.stop.set()
        if on_stop is not None:
            on_stop()
        for t in threads:
            t.join(timeout=35)
        return t0, time.monotonic()


def summarize(records, t0: float, t1: float) -> dict:
    recs = [r for r in records if t0 <= r.t1 < t1]  # by completion time
    pages: dict[str, list] = {}
    for r in recs:
        pages.setdefault(r.page, []).append(r)
    rows = {}
    for page, rs in sorted(pages.items()):
        ms = [(r.t1 - r.t0) * 1000 for r in rs]
        rows[page] = {"n": len(rs), "p50": pct(ms, .5), "p95": pct(ms, .95), "p99": pct(ms, .99),
                      "errors": sum(1 for r in rs if is_error(r))}
    errors = [r for r in recs if is_error(r)]
    kinds: dict[str, int] = {}
    for r in errors:
        k = str(r.status) if r.status else r.error.split(":")[0]
        kinds[k] = kinds.get(k, 0) + 1
    all_ms = [(r.t1 - r.t0) * 1000 for r in recs]
    span = (t1 - t0) if t1 != float("inf") else (max(r.t1 for r in recs) - min(r.t0 for r in recs) if recs else 1)
    return {"requests": len(recs), "seconds": round(span, 1), "rps": round(len(recs) / span, 1),
            "p50": pct(all_ms, .5), "p95": pct(all_ms, .95), "p99": pct(all_ms, .99),
            "max_ms": max(all_ms) if all_ms else 0, "errors": len(errors), "error_kinds": kinds, "pages": rows}


def is_error(r) -> bool:
    return r.status is None or not (200 <= r.status < 400 or r.status in (400, 409))


def print_table(title: str, s: dict) -> None:
    print(f"\n{title}: {s['requests']} requests in {s['seconds']} s = {s['rps']} req/s; "
          f"p50 {s['p50']:.0f} ms, p95 {s['p95']:.0f} ms, p99 {s['p99']:.0f} ms, max {s['max_ms']:.0f} ms; "
          f"errors {s['errors']} {s['error_kinds'] or ''}")
    print(f"  {'page':<32} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for page, r in s["pages"].items():
        print(f"  {page:<32} {r['n']:>6} {r['p50']:>8.0f} {r['p95']:>8.0f} {r['p99']:>8.0f} {r['errors']:>6}")


def consistency(touched: list[tuple[int, int]]) -> dict:
    a = [x for x, _ in touched]
    p = [y for _, y in touched]
    rows = pg("""
        WITH t AS (SELECT DISTINCT * FROM unnest(%s::int[], %s::int[]) AS t(aid, pid))
        SELECT
          (SELECT count(*) FROM report r JOIN t ON r.assignment_id = t.aid AND r.period_id = t.pid),
          (SELECT count(*) FROM report r JOIN t ON r.assignment_id = t.aid AND r.period_id = t.pid
             WHERE r.state = 'submitted'),
          (SELECT count(*) FROM report r JOIN t ON r.assignment_id = t.aid AND r.period_id = t.pid
             JOIN assignment a ON a.id = r.assignment_id JOIN indicator i ON i.task_id = a.task_id
             LEFT JOIN figure f ON f.report_id = r.id AND f.indicator_id = i.id
            WHERE f.value IS NULL AND r.state = 'submitted'),
          (SELECT count(*) FROM report r JOIN t ON r.assignment_id = t.aid AND r.period_id = t.pid
            WHERE r.state = 'submitted' AND NOT EXISTS (SELECT 1 FROM report_transition x
                  WHERE x.report_id = r.id AND x.to_state = 'submitted'))
        """, (a, p))[0]
    return {"reports_touched": rows[0], "submitted": rows[1], "submitted_without_figures": rows[2],
            "submitted_without_transition": rows[3]}


def audit_verify(env: dict) -> tuple[int, str]:
    res = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "audit", "verify"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    return res.returncode, (res.stdout + res.stderr).strip().splitlines()[-1:] and (res.stdout + res.stderr).strip()[-300:]


def load_backends() -> list[int]:
    """Process ids of the PostgreSQL backends connected to the load database (for the CPU account)."""
    return [r[0] for r in pg("SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB,), db=None)]


ROUTE_PATTERNS = [(re.compile(p), name) for p, name in (
    (r"^/items/\d+/reports/\d+$", "/items/<a>/reports/<p>"), (r"^/items/\d+$", "/items/<a>"),
    (r"^/review/plans/[^/]+/matrix$", "/review/plans/<plan>/matrix"), (r"^/review/overdue\?plan=", "/review/overdue?plan=<id>"),
)]


def server_times(logfile: Path, since: float, until: float) -> dict:
    """Server-side duration of each request (the app's JSON access lines: duration_ms) between two wall
    times, by method and route: what the workers spent, without the time a request waited in the queue."""
    lo = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]
    hi = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]
    by_route: dict[str, list[float]] = {}
    try:
        lines = logfile.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        if '"app.access"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not (lo <= entry.get("time", "")[:23] < hi) or entry.get("duration_ms") is None:
            continue
        parts = str(entry.get("message", "")).split()  # "GET /review/overdue?plan=1 200"
        full = parts[1] if len(parts) >= 2 else entry.get("path", "")
        route = next((name for rx, name in ROUTE_PATTERNS if rx.search(full)), full)
        by_route.setdefault(f"{entry.get('method')} {route}", []).append(float(entry["duration_ms"]))
    return {k: {"n": len(v), "p50": pct(v, .5), "p95": pct(v, .95), "p99": pct(v, .99), "max": max(v)}
            for k, v in sorted(by_route.items())}


def print_server_times(rows: dict) -> None:
    if not rows:
        return
    print(f"  server side (the app's duration_ms: without queueing)\n  {'route':<40} {'n':>6} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'p99 ms':>8}")
    for route, r in rows.items():
        print(f"  {route:<40} {r['n']:>6} {r['p50']:>8.0f} {r['p95']:>8.0f} {r['p99']:>8.0f}")


def finish_without_faults(args, result: dict, clean: Load, touched: list, env: dict, gun) -> None:
    """--no-faults: the checks that follow the fault phase, on the clean phase alone, and the summary."""
    result["submissions"] = {"client_saw_ok": len(clean.submitted), "in_db": count_submitted(clean.submitted)}
    result["consistency"] = consistency(touched)
    rc, tail = audit_verify(env)
    result["audit_verify"] = {"exit": rc, "output_tail": tail}
    result["gunicorn_alive"] = gun.poll() is None
    c, b, cl = result["conflict"], result["burst"], result["clean"]
    print("\nSUMMARY (no fault phase)")
    print(f"  concurrent edits: {c['one_won_one_conflict']}/{c['trials']} one won, one conflict; other {c['other']}")
    print(f"  {b['submitters']}-submitter burst: client ok {b['client_ok']}/{b['submitters']}, "
          f"in db {b['in_db_submitted_with_figures']}")
    print(f"  clean load: {args.liaisons} liaisons + {args.staff} staff, think {args.think} s ± 50 %: "
          f"{cl['rps']} req/s, p50 {cl['p50']:.0f} ms, p95 {cl['p95']:.0f} ms, p99 {cl['p99']:.0f} ms, "
          f"errors {cl['errors']} (first {cl['warmup_seconds']:.0f} s: {cl['warmup']['errors']}), "
          f"outcomes {cl['outcomes']}")
    print(f"  submissions seen ok {result['submissions']['client_saw_ok']}, in db {result['submissions']['in_db']}")
    print(f"  consistency: {result['consistency']}")
    print(f"  flask audit verify: exit {rc} ({tail})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plans", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--liaisons", type=int, default=200)
    ap.add_argument("--staff", type=int, default=10)
    ap.add_argument("--submitters", type=int, default=50)
    ap.add_argument("--conflict-trials", type=int, default=10)
    ap.add_argument("--think", type=float, default=5.0,
                    help="mean pause after each of a user's requests (uniform 0.5x-1.5x), seconds; 1 = a stress test")
    ap.add_argument("--login-concurrency", type=int, default=8, help="logins in flight at once before the load")
    ap.add_argument("--outage", type=float, default=5.0, help="seconds PostgreSQL stays stopped")
    ap.add_argument("--no-pg-restart", action="store_true")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--no-faults", action="store_true", help="clean load only: no worker kill, no PostgreSQL stop")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    port = free_port()
    env = server_env(port, tempfile.mkdtemp(prefix="bench-load-instance-"))
    result: dict = {"args": vars(args), "date": stamp, "port": port}
    ensure_pg()
    setup_database(args, env)
    need = args.liaisons + args.submitters + args.conflict_trials
    all_targets, extra = load_targets(need)
    names = list(all_targets)
    conflict_t = {u: all_targets[u] for u in names[:args.conflict_trials]}
    burst_t = {u: all_targets[u] for u in names[args.conflict_trials:args.conflict_trials + args.submitters]}
    load_t = {u: all_targets[u] for u in names[args.conflict_trials + args.submitters:]}
    touched = [t for u in names for t in all_targets[u]]  # every pair any client may write
    glog = OUT / f"load-{stamp}-gunicorn.log"
    gun = start_gunicorn(env, port, glog)
    log(f"gunicorn master {gun.pid}, workers {worker_pids(gun.pid)}, port {port}")
    try:
        result["conflict"] = conflict_check(port, conflict_t, args.conflict_trials)
        log(f"conflict: {result['conflict']}")
        result["burst"] = submit_burst(port, burst_t, args.submitters)
        log(f"burst: {result['burst']}")

        rec = Recorder()
        log(f"clean load: {len(load_t)} liaisons + {args.staff} staff for {args.seconds:.0f} s")
        clean = Load(port, load_t, extra, args.think, rec)
        login_rec = Recorder()
        clean.rec = login_rec
        took = clean.login_all(args.staff, args.login_concurrency)
        result["logins"] = summarize(login_rec.records, 0, float("inf"))
        result["logins"]["wall_seconds"] = round(took, 1)
        print_table(f"logins ({len(load_t) + args.staff} users, {args.login_concurrency} at a time, {took:.0f} s)",
                    result["logins"])
        clean.rec = rec
        pg_pids = load_backends()
        load_before = cpu.loadavg()
        cpu0, wall0 = cpu.snapshot(gun.pid, pg_pids), time.time()
        at_stop: dict = {}

        def stopped():  # the CPU account ends when the load stops, not after the last requests drain
            at_stop["cpu"] = cpu.snapshot(gun.pid, sorted(set(pg_pids) | set(load_backends())))
            at_stop["t"] = time.monotonic()

        t0, _ = clean.run(args.seconds, args.staff, on_stop=stopped)
        wall1 = wall0 + args.seconds
        t1 = t0 + args.seconds  # requests completed after the stop signal are not counted
        warm = min(5.0, args.seconds / 6)  # the first seconds (all users start at once) are reported apart
        result["clean"] = summarize(rec.records, t0 + warm, t1)
        result["clean"]["warmup"] = summarize(rec.records, t0, t0 + warm)
        result["clean"]["records"] = [(round(r.t0 - t0, 3), round(r.t1 - t0, 3), r.page, r.status)
                                      for r in rec.records]  # every request: start, end (s from the start), page
        result["clean"]["outcomes"] = clean.outcomes
        result["clean"]["think_seconds"] = args.think
        result["clean"]["warmup_seconds"] = warm
        result["clean"]["cpu"] = cpu.usage(cpu0, at_stop["cpu"], at_stop["t"] - t0)
        result["clean"]["loadavg_before"], result["clean"]["loadavg_after"] = load_before, cpu.loadavg()
        result["clean"]["server_ms"] = server_times(glog, wall0 + warm, wall1)
        served = sum(r["n"] for r in server_times(glog, wall0, wall1).values())
        result["clean"]["cpu"]["gunicorn_ms_per_request"] = round(
            1000 * result["clean"]["cpu"]["cpu_seconds"]["gunicorn"] / max(served, 1), 1)
        print_table(f"clean load (after the first {warm:.0f} s; think {args.think} s ± 50 %)", result["clean"])
        print_server_times(result["clean"]["server_ms"])
        print("  " + cpu.format_usage(result["clean"]["cpu"])
              + f"; gunicorn {result['clean']['cpu']['gunicorn_ms_per_request']} ms CPU per request served")
        print(f"  load average (1, 5, 15 min) before {load_before}, after {result['clean']['loadavg_after']}")
        if args.no_faults:
            finish_without_faults(args, result, clean, touched, env, gun)
            return

        rec2 = Recorder()
        faults = Load(port, load_t, extra, args.think, rec2)
        faults.sessions = clean.sessions  # the same logged-in users go on
        clean_sub = list(clean.submitted)
        marks: dict = {}

        def kill_worker():
            pids = worker_pids(gun.pid)
            victim = random.choice(pids)
            os.kill(victim, signal.SIGKILL)
            marks["kill"] = time.monotonic()
            marks["killed_pid"] = victim
            log(f"SIGKILL worker {victim} (workers were {pids})")

        def respawn_check():
            marks["workers_after"] = worker_pids(gun.pid)
            log(f"workers now {marks['workers_after']}")

        def pg_restart():
            others = pg("SELECT count(*) FROM pg_stat_activity WHERE datname IS NOT NULL AND datname <> %s",
                        (DB,), db=None)[0][0]
            marks["other_connections_at_restart"] = others
            marks["pg_stop"] = time.monotonic()
            subprocess.run([*PG_CTL, "stop", "-m", "fast"], check=True)
            marks["pg_stopped"] = time.monotonic()
            log(f"PostgreSQL stopped ({others} connections to other databases were open)")
            time.sleep(args.outage)
            subprocess.run([*PG_CTL, "start"], check=True)
            marks["pg_up"] = time.monotonic()
            log("PostgreSQL started")

        events = [(args.seconds * 0.25, kill_worker), (args.seconds * 0.25 + 3, respawn_check)]
        if not args.no_pg_restart:
            events.append((args.seconds * 0.5, pg_restart))
        log(f"fault load for {args.seconds:.0f} s: worker kill at 25 %, PostgreSQL stop at 50 %")
        t0, t_end = faults.run(args.seconds, args.staff, events)
        t1 = t_end + 0.001  # fault phase: every request, including the ones that finished after stop
        result["faults"] = {"all": summarize(rec2.records, t0, t1), "outcomes": faults.outcomes}
        k = marks["kill"]
        result["faults"]["before_kill"] = summarize(rec2.records, t0, k)
        end_kill = k + 3
        if "pg_stop" in marks:
            result["faults"]["kill_window"] = summarize(rec2.records, k, marks["pg_stop"])
            result["faults"]["outage"] = summarize(rec2.records, marks["pg_stop"], marks["pg_up"])
            result["faults"]["first_5s_after_start"] = summarize(rec2.records, marks["pg_up"], marks["pg_up"] + 5)
            result["faults"]["after_recovery"] = summarize(rec2.records, marks["pg_up"] + 5, t1)
            result["faults"]["outage_seconds"] = round(marks["pg_up"] - marks["pg_stop"], 1)
        else:
            result["faults"]["kill_window"] = summarize(rec2.records, k, end_kill)
            result["faults"]["after_recovery"] = summarize(rec2.records, end_kill, t1)
        result["faults"]["marks"] = {k2: v for k2, v in marks.items() if not isinstance(v, float)}
        for key in ("before_kill", "kill_window", "outage", "first_5s_after_start", "after_recovery"):
            if key in result["faults"]:
                print_table(f"fault load — {key}", result["faults"][key])
        late = [r for r in rec2.records if r.t1 - r.t0 >= 29]
        result["faults"]["hung_requests"] = len(late)

        seen_ok = clean_sub + faults.submitted
        result["submissions"] = {"client_saw_ok": len(seen_ok), "in_db": count_submitted(seen_ok)}
        result["consistency"] = consistency(touched)
        rc, tail = audit_verify(env)
        result["audit_verify"] = {"exit": rc, "output_tail": tail}
        result["gunicorn_alive"] = gun.poll() is None
        result["workers_at_end"] = worker_pids(gun.pid)
    finally:
        ensure_pg()
        if gun.poll() is None:
            gun.send_signal(signal.SIGTERM)
            try:
                gun.wait(timeout=40)
            except subprocess.TimeoutExpired:
                gun.kill()
        result["pg_running_at_end"] = pg_running()
        path = OUT / f"load-{stamp}.json"
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str))
        log(f"results: {path}")

    print("\nSUMMARY")
    c, b = result["conflict"], result["burst"]
    print(f"  concurrent edits: {c['one_won_one_conflict']}/{c['trials']} one won, one conflict; other {c['other']}")
    print(f"  {b['submitters']}-submitter burst: client ok {b['client_ok']}/{b['submitters']}, in db {b['in_db_submitted_with_figures']}")
    cl = result["clean"]
    print(f"  clean load: {cl['rps']} req/s, errors {cl['errors']} (first {cl['warmup_seconds']:.0f} s: "
          f"{cl['warmup']['errors']}), outcomes {cl['outcomes']}")
    f = result["faults"]
    print("  fault load: errors by window: " + ", ".join(
        f"{k} {f[k]['errors']}" for k in ("before_kill", "kill_window", "outage", "first_5s_after_start", "after_recovery") if k in f)
        + f"; hung requests {f['hung_requests']}; worker respawned: {f['marks']}")
    print(f"  submissions seen ok {result['submissions']['client_saw_ok']}, in db {result['submissions']['in_db']}")
    print(f"  consistency: {result['consistency']}")
    print(f"  flask audit verify: exit {result['audit_verify']['exit']} ({result['audit_verify']['output_tail']})")
    print(f"  PostgreSQL running at end: {result['pg_running_at_end']}")


if __name__ == "__main__":
    main()
