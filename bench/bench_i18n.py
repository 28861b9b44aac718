"""The liaison's pages in Chinese and in English on national-scale synthetic data (issue 6).

    .venv/bin/python bench/bench_i18n.py                    # PostgreSQL pt_bench, 30 requests a page
    .venv/bin/python bench/bench_i18n.py --db sqlite        # bench/out/bench.db (made by bench_pages.py)
    .venv/bin/python bench/bench_i18n.py --repeat 50

Uses the database bench/bench_pages.py generates (300 plans × 20 tasks × 17 units ≈ 100,000 assignments,
≈ 1,000,000 reports; PostgreSQL database pt_bench) and never recreates it; today is 2025-12-20 as there.
Requests, in-process, as the first synthetic liaison: my items, one item, its report form, the inbox and
the account page, first in Chinese, then in English, and prints the median and p95 in ms and the SQL
statements per page. Writes nothing: English is chosen by replacing the app's locale selector in this
process (the language switch itself writes an audit event, which a bench must not leave behind)."""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

from benchlib import OUT, PG_URL, TODAY, percentile


def run(kind: str, repeat: int) -> list[tuple]:
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import event, select

    from app import create_app
    from app.extensions import db

    url = f"sqlite:///{OUT / 'bench.db'}" if kind == "sqlite" else PG_URL
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "MFA_REQUIRED_ROLES": (), "TODAY": TODAY, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    logging.getLogger("app.access").setLevel(logging.WARNING)  # one line a request would drown the table
    with app.app_context():
        from app.auth.models import User
        from app.demo.synth import SYNTH_PASSWORD
        from app.plans.models import Assignment, Period

        liaison = db.session.execute(select(User).where(User.username.like("syn%"), User.role == "liaison")
                                     .order_by(User.id)).scalars().first()
        if liaison is None:
            sys.exit(f"[{kind}] no synthetic liaison: generate the data with bench/bench_pages.py first")
        username = liaison.username
        item, plan_id = db.session.execute(select(Assignment.id, Assignment.plan_id)
                                           .where(Assignment.unit_id == liaison.unit_id, Assignment.active)
                                           .order_by(Assignment.id)).first()
        period = db.session.execute(select(Period.id).where(Period.plan_id == plan_id, Period.kind == "monthly",
                                                            Period.start <= TODAY)
                                    .order_by(Period.start.desc())).scalars().first()
        engine = db.engine
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": SYNTH_PASSWORD})
    assert response.status_code == 302, response.status_code
    pages = [("my items", "/items"), ("one item", f"/items/{item}"),
             ("report form", f"/items/{item}/reports/{period}"), ("inbox", "/inbox"), ("account", "/account")]
    babel_config = app.extensions["babel"]
    chosen = babel_config.locale_selector
    counter = {"n": 0}

    def count(*_args, **_kw):
        counter["n"] += 1

    rows = []
    event.listen(engine, "before_cursor_execute", count)
    try:
        for language, selector, marker in (("zh", chosen, "我的责任事项"), ("en", lambda: "en", "My items")):
            babel_config.locale_selector = selector
            assert marker in client.get("/items").text, f"the page is not in {language}"
            for name, path in pages:
                client.get(path)  # warm up
                timings, statements = [], 0
                for _ in range(repeat):
                    counter["n"] = 0
                    t0 = time.perf_counter()
                    response = client.get(path)
                    timings.append((time.perf_counter() - t0) * 1000)
                    statements = counter["n"]
                    assert response.status_code == 200, (path, response.status_code)
                rows.append((kind, language, name, statistics.median(timings), percentile(timings, 0.95),
                             statements))
    finally:
        babel_config.locale_selector = chosen
        event.remove(engine, "before_cursor_execute", count)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    results = run(args.db, args.repeat)
    print(f"\n{'database':<11} {'lang':<5} {'page':<12} {'median ms':>10} {'p95 ms':>8} {'SQL':>4}")
    for kind, language, name, median, p95, statements in results:
        print(f"{kind:<11} {language:<5} {name:<12} {median:>10.1f} {p95:>8.1f} {statements:>4}")


if __name__ == "__main__":
    main()
