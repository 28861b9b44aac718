"""The scheduler: one leader among several processes, each job under a database lock, a
heartbeat, the daily sweep once a day, and the steps missed while it was down taken once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.reminders import jobs
from app.reminders.dbutil import utcnow
from app.reminders.models import LadderStep, SchedulerJob

from .conftest import D

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")


def test_a_second_scheduler_stays_idle_until_the_first_stops(ctx):
    assert jobs.heartbeat("A") is True
    assert jobs.heartbeat("B") is False
    assert jobs.is_leader("A") and not jobs.is_leader("B")
    ran = []
    jobs._guarded(ctx.app, "B", lambda owner: ran.append(owner), "sender")()
    assert ran == []
    jobs._guarded(ctx.app, "A", lambda owner: ran.append(owner) or "ok", "sender")()
    assert ran == ["A"]
    status = jobs.status()
    assert status["alive"] and status["owner"] == "A"
    # A dies: its lease runs out and B takes over
    db.session.execute(update(SchedulerJob).where(SchedulerJob.name == "scheduler")
                       .values(locked_until=utcnow() - timedelta(seconds=1),
                               heartbeat_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    assert not jobs.status()["alive"]
    assert jobs.heartbeat("B") is True and jobs.is_leader("B") and not jobs.is_leader("A")


def test_a_job_lock_keeps_two_runs_apart(ctx):
    with jobs.job_lock("sweep", "A") as first:
        assert first
        with jobs.job_lock("sweep", "B") as second:
            assert not second
    with jobs.job_lock("sweep", "B") as again:
        assert again
    row = db.session.get(SchedulerJob, "sweep")
    assert row.locked_until is None and row.last_finished_at is not None


def test_a_failing_job_records_its_error_and_frees_the_lock(ctx):
    with pytest.raises(ZeroDivisionError), jobs.job_lock("sender", "A"):
        1 / 0  # noqa: B018
    db.session.expire_all()
    row = db.session.get(SchedulerJob, "sender")
    assert row.locked_until is None and "ZeroDivisionError" in row.last_error


def test_the_daily_sweep_runs_once_a_day(scenario):
    assert jobs.run_sweep_job("A", day=D("2025-03-04")).startswith("2025-03-04")
    assert jobs.run_sweep_job("B", day=D("2025-03-04")).startswith("skipped: already swept")
    assert jobs.run_sweep_job("A", day=D("2025-03-05")).startswith("2025-03-05")
    assert db.session.get(SchedulerJob, "sweep").last_ok_day == D("2025-03-05")


def test_scheduler_down_for_days_then_started_takes_each_missed_step_once(app, scenario, monkeypatch):
    jobs.run_sweep_job("A", day=D("2025-03-04"))
    # down from 03-05 to 03-25; started on 03-26 at 09:00, after the sweep time
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-26"))
    assert jobs.catch_up("A", now=datetime(2025, 3, 26, 6, 0, tzinfo=SHANGHAI)) is None  # before 07:30
    result = jobs.catch_up("A", now=datetime(2025, 3, 26, 9, 0, tzinfo=SHANGHAI))
    assert result.startswith("2025-03-26")
    assert jobs.catch_up("B", now=datetime(2025, 3, 26, 9, 5, tzinfo=SHANGHAI)).startswith("skipped")
    taken = Counter(db.session.execute(select(LadderStep.step)).scalars())
    n = taken["remind"]
    assert n > 0 and taken == Counter({"remind": n, "urge": n, "escalate": n, "refer": n})
    days = Counter(db.session.execute(select(LadderStep.step, LadderStep.day)).all())
    assert set(days.values()) == {n}
    assert {d for (step, d) in days if step != "remind"} == {D("2025-03-26")}


def _leader() -> SchedulerJob | None:
    db.session.expire_all()
    return db.session.get(SchedulerJob, "scheduler")


@pytest.mark.slow
def test_flask_scheduler_run_beats_and_a_second_one_does_nothing(app, ctx, database_url):
    env = {**os.environ, "DATABASE_URL": database_url, "SWEEP_TIME": "23:59", "TODAY": "2025-03-04"}
    cmd = [str(FLASK), "--app", "wsgi", "scheduler", "run"]
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    second = None
    try:
        deadline = time.monotonic() + 30
        while (row := _leader()) is None or row.heartbeat_at is None:
            assert first.poll() is None, first.communicate()[0].decode()
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.2)
        assert f":{first.pid}:" in row.locked_by
        second = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(4)
        assert second.poll() is None
        row = _leader()
        assert f":{first.pid}:" in row.locked_by and jobs.status()["alive"]
        first.send_signal(signal.SIGTERM)
        first.wait(20)
        assert _leader().locked_until is None  # it let go on the way out
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
