"""Speed of the sender: notices delivered per second to a local SMTP server (issue 3).

    .venv/bin/python bench/bench_sender.py                   # SQLite and PostgreSQL
    .venv/bin/python bench/bench_sender.py --db sqlite --notices 5000 --runs 5

Writes N digests (20 items each, like a liaison's) to the outbox of a fresh database, starts
aiosmtpd on loopback in a process of its own (`python -m aiosmtpd`, its Sink handler), and
times `send_pending()`: claiming batches, one SMTP connection per
batch, a commit per message after the server accepted it. Between runs the notices are put
back to pending (not timed). Prints the median messages per second. Target: ≥ 100/s.
Databases: a temporary SQLite file and the PostgreSQL database pt_bench_sender."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
PG_NAME = "pt_bench_sender"
DAY = date(2025, 3, 4)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def database(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='bench-sender-')}/sender.db"
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_NAME}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_NAME}"


def fill(n: int) -> None:
    from app.extensions import db
    from app.reminders.notices import Digest, Item, store

    digests = []
    for i in range(n):
        d = Digest("mail", f"liaison{i:05d}@example.org", f"联络员{i}", "remind", "提醒")
        for k in range(20):
            d.add(Item(i * 100 + k, 7, "内蒙古自治区就业促进实施方案", k + 1, f"推动产业与就业互促共进 {k}", f"单位{i}",
                       "2025年2月", date(2025, 3, 7), "remind"))
        digests.append(d)
    store(digests, DAY)
    db.session.commit()


def run(kind: str, args: argparse.Namespace) -> float:
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import update

    from app import create_app
    from app.extensions import db

    port = free_port()
    app = create_app({"SQLALCHEMY_DATABASE_URI": database(kind), "SECRET_KEY": "bench", "SMTP_HOST": "127.0.0.1",
                      "SMTP_PORT": port, "SMTP_SECURITY": "none", "MAIL_FROM": "督办系统 <noreply@example.org>"})
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l",
                               f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port)
    rates = []
    try:
        with app.app_context():
            from flask_migrate import upgrade

            from app.reminders.models import Notice
            from app.reminders.sender import send_pending

            upgrade()
            fill(args.notices)
            for _ in range(args.runs):
                db.session.execute(update(Notice).values(status="pending", attempts=0, sent_at=None,
                                                         claimed_by=None, claimed_until=None))
                db.session.commit()
                started = time.perf_counter()
                report = send_pending()
                elapsed = time.perf_counter() - started
                assert report.sent == args.notices, report
                rates.append(args.notices / elapsed)
                print(f"[{kind}] {args.notices} messages in {elapsed:.2f} s: {rates[-1]:.0f}/s")
    finally:
        server.terminate()
        server.wait(10)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--notices", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    summary = {kind: run(kind, args) for kind in kinds}
    print()
    print(f"median of {args.runs} runs (messages per second; target ≥ 100)")
    for kind, rate in summary.items():
        print(f"  {kind:<11} {rate:.0f}/s")


if __name__ == "__main__":
    main()
