"""GET /healthz (no login): is the database answering, and how old is the scheduler's heartbeat.

200 ``{"status": "ok", "database": "ok", "scheduler": {…}}`` when the database answers, 503
``{"status": "error", "database": "unavailable", "reason": …}`` when it does not. A stale or
absent scheduler heartbeat is reported but does not fail the check: the web workers still serve,
and a load balancer must not take them out because the scheduler (its own process) stopped —
monitoring alerts on ``scheduler.alive`` instead. The output names no host, user or error text;
the error itself goes to the log, under the request id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db

logger = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError:
        logger.exception("health check: the database did not answer")
        db.session.rollback()
        return False
    return True


def scheduler_status() -> dict[str, Any]:
    """The scheduler's heartbeat: its age in seconds and whether it is recent enough.

    ``{"heartbeat": "unknown"}`` when the heartbeat table is not there (reminders not migrated)."""
    try:
        from ..reminders.jobs import LEADER, STALE_AFTER
        from ..reminders.models import SchedulerJob
    except ImportError:  # pragma: no cover - the reminders area is part of the app
        return {"heartbeat": "unknown"}
    try:
        beat = db.session.execute(
            db.select(SchedulerJob.heartbeat_at).where(SchedulerJob.name == LEADER)).scalar_one_or_none()
    except SQLAlchemyError:
        logger.warning("health check: the scheduler's heartbeat table cannot be read", exc_info=True)
        db.session.rollback()
        return {"heartbeat": "unknown"}
    if beat is None:
        return {"heartbeat": "never", "alive": False}
    now = datetime.now(UTC).replace(tzinfo=None)  # the table stores naive UTC
    if beat.tzinfo is not None:
        beat = beat.astimezone(UTC).replace(tzinfo=None)
    age = max((now - beat).total_seconds(), 0.0)
    return {"heartbeat_age_seconds": round(age), "alive": age < STALE_AFTER.total_seconds(),
            "stale_after_seconds": int(STALE_AFTER.total_seconds())}


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    if not database_ok():
        body, status = {"status": "error", "database": "unavailable",
                        "reason": "the database did not answer"}, 503
    else:
        body, status = {"status": "ok", "database": "ok", "scheduler": scheduler_status()}, 200
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, status
