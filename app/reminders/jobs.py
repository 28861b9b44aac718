"""The scheduler (`flask scheduler run`): its own process, one leader at a time, each job under
a database lock, a heartbeat the admin page shows.

Several schedulers may be started (on several machines, or by accident): the one that holds
the "scheduler" row's lease is the leader and runs the jobs; the others stay idle and take over
when the leader's lease runs out. Each job also takes its own lock row, so a job started by
hand (`flask reminders sweep`, `flask outbox send`) never overlaps the scheduled one.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from ..extensions import db
from ..timeutil import local_tz, today
from .dbutil import insert_ignore, utcnow
from .models import SchedulerJob

logger = logging.getLogger(__name__)

LEADER = "scheduler"
SWEEP, SENDER = "sweep", "sender"
LEADER_LEASE = timedelta(seconds=90)
HEARTBEAT_SECONDS = 30
JOB_LEASES = {SWEEP: timedelta(minutes=30), SENDER: timedelta(minutes=10)}
STALE_AFTER = timedelta(minutes=3)


def _ensure_row(name: str) -> None:
    db.session.execute(insert_ignore(SchedulerJob, ["name"]).values(name=name))


def acquire(name: str, owner: str, lease: timedelta) -> bool:
    """Take (or renew) the lock row ``name`` for ``owner``; False while another owner holds it."""
    _ensure_row(name)
    now = utcnow()
    result = db.session.execute(
        update(SchedulerJob)
        .where(SchedulerJob.name == name,
               or_(SchedulerJob.locked_until.is_(None), SchedulerJob.locked_until < now,
                   SchedulerJob.locked_by == owner))
        .values(locked_by=owner, locked_until=now + lease)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return bool(result.rowcount)


def release(name: str, owner: str, **values: Any) -> None:
    db.session.execute(
        update(SchedulerJob).where(SchedulerJob.name == name, SchedulerJob.locked_by == owner)
        .values(locked_until=None, **values).execution_options(synchronize_session=False))
    db.session.commit()


@contextmanager
def job_lock(name: str, owner: str, lease: timedelta | None = None) -> Iterator[bool]:
    """Run a job under its lock row; yields False (and the job should do nothing) when another
    process holds it. Records when it started and finished, and the error if it raised."""
    if not acquire(name, owner, lease or JOB_LEASES.get(name, timedelta(minutes=10))):
        yield False
        return
    db.session.execute(update(SchedulerJob).where(SchedulerJob.name == name)
                       .values(last_started_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()
    try:
        yield True
    except Exception as exc:
        db.session.rollback()
        release(name, owner, last_finished_at=utcnow(), last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    else:
        release(name, owner, last_finished_at=utcnow())


def record_result(name: str, result: str, ok_day: date | None = None) -> None:
    values: dict[str, Any] = {"last_result": result[:2000], "last_error": None}
    if ok_day is not None:
        values["last_ok_day"] = ok_day
    db.session.execute(update(SchedulerJob).where(SchedulerJob.name == name).values(**values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def heartbeat(owner: str) -> bool:
    """Renew the leader's lease and heartbeat; False when another scheduler leads."""
    if not acquire(LEADER, owner, LEADER_LEASE):
        return False
    db.session.execute(update(SchedulerJob).where(SchedulerJob.name == LEADER)
                       .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()
    return True


def is_leader(owner: str) -> bool:
    row = db.session.get(SchedulerJob, LEADER)
    return bool(row and row.locked_by == owner and row.locked_until and row.locked_until >= utcnow())


def status() -> dict[str, Any]:
    """For the admin page: the heartbeat, whether it is stale, and each job's last run."""
    rows = {r.name: r for r in db.session.execute(select(SchedulerJob)).scalars()}
    leader = rows.get(LEADER)
    beat = leader.heartbeat_at if leader else None
    return {
        "heartbeat_at": beat,
        "owner": leader.locked_by if leader else None,
        "alive": beat is not None and utcnow() - beat < STALE_AFTER,
        "jobs": [rows[n] for n in (SWEEP, SENDER) if n in rows],
    }


# --------------------------------------------------------------------------- the jobs


def sweep_time() -> time:
    text = str(current_app.config.get("SWEEP_TIME") or "07:30")
    try:
        hour, minute = (int(x) for x in text.split(":"))
        return time(hour, minute)
    except ValueError as exc:
        raise ValueError(f"SWEEP_TIME must be HH:MM, got {text!r}") from exc


def run_sweep_job(owner: str, *, day: date | None = None, force: bool = False) -> str:
    """The daily sweep under its lock; skipped when another process runs it or it ran today."""
    from .sweep import sweep

    day = day or today()
    with job_lock(SWEEP, owner) as acquired:
        if not acquired:
            return "skipped: another process is sweeping"
        row = db.session.get(SchedulerJob, SWEEP)
        if not force and row is not None and row.last_ok_day is not None and row.last_ok_day >= day:
            return f"skipped: already swept {row.last_ok_day.isoformat()}"
        result = sweep(day)
        db.session.commit()
        summary = f"{day.isoformat()}: steps {dict(result.taken)}, notices {len(result.notices)}"
        record_result(SWEEP, summary, ok_day=day)
        return summary


def run_sender_job(owner: str) -> str:
    from .sender import send_pending

    with job_lock(SENDER, owner) as acquired:
        if not acquired:
            return "skipped: another sender runs"
        report = send_pending()
        record_result(SENDER, str(report))
        return str(report)


def catch_up(owner: str, now: datetime | None = None) -> str | None:
    """At start-up: when today's sweep time has passed and today was not swept (the scheduler
    was down), sweep now. The sweep itself takes every step that fell due meanwhile, once."""
    now = now or datetime.now(local_tz())
    if now.timetz().replace(tzinfo=None) < sweep_time():
        return None
    return run_sweep_job(owner, day=today())


def _guarded(app: Flask, owner: str, job: Callable[[str], Any], name: str) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                if not is_leader(owner):
                    logger.info("%s: not the leading scheduler, nothing to do", name)
                    return
                logger.info("%s: %s", name, job(owner))
            except Exception:  # a job's failure must not stop the scheduler
                logger.exception("%s failed", name)
                db.session.rollback()
            finally:
                db.session.remove()

    return run


def run_scheduler(app: Flask) -> None:
    """Run the scheduler in this process until it is stopped (Ctrl-C or SIGTERM)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from .sender import new_token

    owner = new_token()
    with app.app_context():
        at = sweep_time()
        tz = str(app.config.get("TIMEZONE") or "Asia/Shanghai")

    def beat() -> None:
        with app.app_context():
            try:
                was = is_leader(owner)
                now = heartbeat(owner)
                if now and not was:
                    logger.info("scheduler %s leads; catching up", owner)
                    logger.info("catch-up: %s", catch_up(owner))
            except Exception:
                logger.exception("heartbeat failed")
                db.session.rollback()
            finally:
                db.session.remove()

    scheduler = BlockingScheduler(timezone=tz)
    scheduler.add_job(beat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat",
                      next_run_time=datetime.now(ZoneInfo(tz)))  # the first beat at once: lead, catch up
    scheduler.add_job(_guarded(app, owner, lambda o: run_sweep_job(o), SWEEP), "cron", hour=at.hour,
                      minute=at.minute, id=SWEEP, misfire_grace_time=3600, coalesce=True)
    scheduler.add_job(_guarded(app, owner, run_sender_job, SENDER), "interval", minutes=1, id=SENDER,
                      coalesce=True, max_instances=1)

    def stop(signum: int, frame: Any) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    logger.info("scheduler %s: sweep daily at %s %s, sender every minute", owner, at.strftime("%H:%M"), tz)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        with app.app_context():
            release(LEADER, owner)
