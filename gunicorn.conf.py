"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` (see docs/production.md).

Each setting can be changed from the environment:

  GUNICORN_BIND              address to listen on (default 127.0.0.1:8000; a reverse proxy sits in front)
  GUNICORN_WORKERS           worker processes (default 4)
  GUNICORN_THREADS           threads per worker (default 1)
  GUNICORN_TIMEOUT           seconds a request may take before its worker is restarted (default 60)
  GUNICORN_GRACEFUL_TIMEOUT  seconds workers get to finish their requests on stop/restart (default 30)
  GUNICORN_MAX_REQUESTS      requests after which a worker is replaced (default 2000, with jitter; 0 = never)
  GUNICORN_CONTROL_SOCKET    path of gunicorn's control socket for `gunicornc` (default: none)
  LOG_FORMAT / LOG_LEVEL     json or text (default: json when APP_ENV=production); INFO

The app is not preloaded: every worker imports wsgi.py and builds its own app (no database
connection is shared across a fork). The scheduler is NOT started here: it is its own process,
`flask --app wsgi scheduler run`. gunicorn's access log is off because each worker's app writes
one JSON access line per request, with the request id and the user; gunicorn's own lines (boot,
worker exits, timeouts) are in the same format.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from app.ops.logging import gunicorn_logconfig


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
logconfig_dict = gunicorn_logconfig()
# X-Forwarded-Proto is trusted from these addresses only (the reverse proxy); see TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "policy-tracker"
# gunicorn's control socket (`gunicornc`) only when a path is given: the default path is one per user,
# so two instances on one machine (staging beside production, the test suite) would fight over it.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
control_socket_disable = not _control_socket
if _control_socket:
    control_socket = _control_socket
