"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` (see docs/production.md).

Each setting can be changed from the environment:

  GUNICORN_BIND              address to listen on (default 127.0.0.1:8000; a reverse proxy sits in front)
  GUNICORN_WORKERS           worker processes (default 4)
  GUNICORN_THREADS           threads per worker (default 1)
  GUNICORN_TIMEOUT           seconds a request may take before its worker is restarted (default 60)
  GUNICORN_GRACEFUL_TIMEOUT  seconds workers get to finish their requests on stop/restart (default 30)
  GUNICORN_MAX_REQUESTS      requests after which a worker is replaced (default 2000, with jitter; 0 = never)
  GUNICORN_CONTROL_SOCKET    path of gunicorn's control socket for `gunicornc` (default: none)
  GUNICORN_GC_THRESHOLD      allocations between two young-generation garbage collections in a worker
                             (default 10000; 0 = Python's defaults, 700, and no freeze), see post_worker_init
  LOG_FORMAT / LOG_LEVEL     json or text (default: json when APP_ENV=production); INFO

The app is not preloaded: every worker imports wsgi.py and builds its own app (no database
connection is shared across a fork). The scheduler is NOT started here: it is its own process,
`flask --app wsgi scheduler run`. gunicorn's access log is off because each worker's app writes
one JSON access line per request, with the request id and the user; gunicorn's own lines (boot,
worker exits, timeouts) are in the same format.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from datetime import UTC, datetime

# Nothing from the app package is imported here: this file runs in gunicorn's master, and a module
# imported there would be inherited, old, by the workers that a reload (SIGHUP) starts for new code.


class GunicornJsonFormatter(logging.Formatter):
    """gunicorn's own lines (boot, worker exits, timeouts) with the fields of the app's JSON lines
    (app/ops/logging.py: time, level, logger, message, pid, exception)."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        entry = {"time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "pid": record.process}
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, ensure_ascii=False, default=str)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number, not {value!r}") from None


wsgi_app = "wsgi:app"
bind = [address.strip() for address in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")]
# Sync workers, 4 on the 2-core reference machine: a page is CPU-bound Python (threads in one worker would
# share its interpreter lock) that waits for PostgreSQL about a third of its time, which the second worker
# per core fills (measured: bench/bench_load.py, docs/load-and-faults.md).
workers = _int("GUNICORN_WORKERS", 4)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
preload_app = False
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# Worker heartbeat files in memory, not on a disk that may stall (containers often have /dev/shm).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
_log_format = (os.environ.get("LOG_FORMAT")
               or ("json" if os.environ.get("APP_ENV", "").lower() == "production" else "text")).lower()
_log_level = os.environ.get("LOG_LEVEL", "INFO").upper()
# gunicorn's own lines in the app's format on stderr; the root logger gets no handler here (each
# worker's app adds its own), and gunicorn's access log stays off (the app writes the access lines).
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _log_level, "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": _log_level, "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "app", "stream": "ext://sys.stderr"}},
    "formatters": {"app": {"()": GunicornJsonFormatter} if _log_format == "json"
                   else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
}
# The garbage collector in each worker. Measured in-process on the national-scale data (bench/load/inprocess.py):
# with Python's defaults the collector took ~6 ms of a ~15-20 ms request on average (full collections of
# ~120 ms each scan the whole built app: modules, mappers, templates, compiled statements). Once the worker
# has built the app, those objects are frozen out of the scans (gc.freeze), and generation 0 is collected
# every _gc_threshold allocations instead of every 700, so a request's short-lived objects are freed by
# reference counting before a collection promotes them: ~0.4 ms of collector time per request, no full
# collection during the measured requests. Cycles are still collected, a little later.
_gc_threshold = _int("GUNICORN_GC_THRESHOLD", 10000)


def post_worker_init(worker) -> None:
    """After the worker has loaded wsgi:app (gunicorn calls it then, before the first request)."""
    import gc

    if _gc_threshold > 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(_gc_threshold, *gc.get_threshold()[1:])


# X-Forwarded-Proto is trusted from these addresses only (the reverse proxy); see TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "policy-tracker"
# gunicorn's control socket (`gunicornc`) only when a path is given: the default path is one per user,
# so two instances on one machine (staging beside production, the test suite) would fight over it.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
control_socket_disable = not _control_socket
if _control_socket:
    control_socket = _control_socket
