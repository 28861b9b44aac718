"""Logs: one JSON object per line (LOG_FORMAT=json, the production default) or plain text, each
line carrying the request id that the response's X-Request-ID header and the audit events share.

The request hooks give every request an id (app.audit.services.request_id: the client's
X-Request-ID when it is a plain token, otherwise a new one), echo it in the response and write
one access line per request (logger ``app.access``; requests to /healthz at DEBUG, so
load-balancer probes stay out of INFO logs).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import NoInspectionAvailable

ACCESS_LOGGER = "app.access"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_QUIET_PATHS = frozenset({"/healthz"})
# Fields that the access line passes as ``extra`` and the formatters print.
_EXTRA_FIELDS = ("status", "duration_ms")


def _request_fields() -> dict[str, Any]:
    """The current request's id, user, method and path; empty outside a request.

    The user is the one Flask-Login has already loaded for this request, if any: a log line never
    causes a database query."""
    if not has_request_context():
        return {}
    return {
        "request_id": g.get("request_id"),
        "user_id": _user_id(g.get("_login_user")),
        "method": request.method,
        "path": request.path,
    }


def _user_id(user: Any) -> Any:
    """The id of the request's user from its ORM identity, without touching its attributes: after a view
    commits, every attribute of the user is expired, and reading ``user.id`` (or ``is_authenticated``,
    which reads ``active``) would reload the user with one more query (the access line is written after
    the commit). The anonymous user (no ORM state) has none."""
    if user is None:
        return None
    try:
        identity = sa_inspect(user).identity
    except NoInspectionAvailable:  # the anonymous user, or a plain object standing for a user
        return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None
    return identity[0] if identity else None


def _utc_time(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, pid, then, during a request,
    request_id, user_id, method and path; status and duration_ms on access lines; the traceback
    as ``exception`` (one string, newlines escaped, so the line stays one line)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        entry.update(_request_fields())
        for key in _EXTRA_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for a terminal: time, level, logger, [request id], message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = _request_fields().get("request_id")
        record.request_tag = f" [{rid}]" if rid else ""
        return super().format(record)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is written (not when the handler was made),
    so a replaced stderr (test capture, a daemon's redirection) never leaves it writing to a
    closed stream."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns it; always use sys.stderr
        pass


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(app: Flask) -> None:
    """Send the root logger's output to stderr in the configured format (one handler, replaced on
    each call, so building the app twice does not double the lines).

    Under test (TESTING) with no LOG_FORMAT set, logging is left as the test runner has it."""
    log_format = app.config.get("LOG_FORMAT")
    if log_format is None and app.testing:
        return
    log_format = log_format or ("json" if app.config.get("APP_ENV") == "production" else "text")
    level = str(app.config.get("LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise RuntimeError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {app.config['LOG_LEVEL']!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_policy_tracker", False):
            root.removeHandler(handler)
    handler = StderrHandler()
    handler._policy_tracker = True  # type: ignore[attr-defined]
    handler.setFormatter(make_formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)


def _start_request() -> None:
    """Give the request its id before anything else runs: the audit module's ``request_id()`` sets
    ``g.request_id`` (the client's X-Request-ID when it is a plain token, else a new id), so the
    audit events, the log lines and the response header carry the same id."""
    from ..audit.services import request_id

    g.request_started = time.perf_counter()
    request_id()


def _finish_request(response: Response) -> Response:
    from ..audit.services import request_id

    rid = request_id()
    if rid:
        response.headers["X-Request-ID"] = rid
    started = g.get("request_started")
    duration = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    level = logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO
    logging.getLogger(ACCESS_LOGGER).log(
        level, "%s %s %s", request.method, request.full_path.rstrip("?"), response.status_code,
        extra={"status": response.status_code, "duration_ms": duration})
    return response


def init_request_logging(app: Flask) -> None:
    """Register the request-id and access-log hooks. Call it before any other before_request hook."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
