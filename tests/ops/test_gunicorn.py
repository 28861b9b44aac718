"""`gunicorn -c gunicorn.conf.py wsgi:app` starts in production mode, answers /healthz on a loopback
port with JSON logs, builds an app in each worker, starts no scheduler, and stops cleanly; without a
secret key it refuses to start and says why."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "FLASK_DEBUG", "LOG_FORMAT", "TEST_DATABASE_URL", "GUNICORN_CMD_ARGS")}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}",
               APP_ENV="production", GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2",
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def gunicorn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_gunicorn_serves_healthz_with_json_logs(tmp_path):
    port = free_port()
    env = environment(tmp_path, port, SECRET_KEY=secrets.token_hex(32))
    upgrade = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade", "heads"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    log = tmp_path / "gunicorn.log"
    server = gunicorn(env, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, headers, body = get(f"http://127.0.0.1:{port}/healthz", {"X-Request-ID": "probe-1"})
                break
            except OSError:  # not listening yet (URLError), or the workers still booting (a read timeout)
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s:\n" + log.read_text()
                time.sleep(0.2)
        assert status == 200, body
        assert headers["X-Request-ID"] == "probe-1"
        health = json.loads(body)
        assert health["status"] == "ok" and health["database"] == "ok"
        assert health["scheduler"] == {"heartbeat": "never", "alive": False}  # workers run no scheduler
        status, headers, _ = get(f"http://127.0.0.1:{port}/login", {"X-Request-ID": "page-2"})
        assert status == 200 and headers["X-Request-ID"] == "page-2"
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=40)
    assert code == 0, log.read_text()

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]  # every line is JSON
    access = [e for e in lines if e["logger"] == "app.access" and e.get("path") == "/login"]
    assert [(e["request_id"], e["status"], e["method"]) for e in access] == [("page-2", 200, "GET")]
    booted = {e["pid"] for e in lines if e["message"].startswith("Booting worker")}
    assert len(booted) == 2
    assert not [e for e in lines if "scheduler" in e["logger"]]
    assert any(e["logger"] == "gunicorn.error" and e["message"] == "Shutting down: Master" for e in lines)


def test_gunicorn_refuses_to_start_without_a_secret_key(tmp_path):
    log = tmp_path / "gunicorn.log"
    server = gunicorn(environment(tmp_path, free_port()), log)
    try:
        code = server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert code != 0
    assert ("Refusing to start in production mode (APP_ENV=production): SECRET_KEY is not set"
            in log.read_text())


def test_the_config_file_imports_nothing_of_the_app():
    """gunicorn.conf.py runs in the master: an app module imported there would be inherited, stale, by the
    workers a reload (SIGHUP) starts for new code."""
    probe = ("import runpy, sys; settings = runpy.run_path('gunicorn.conf.py'); "
             "print(sorted(m for m in sys.modules if m == 'app' or m.startswith('app.') or m == 'wsgi')); "
             "print(settings['preload_app'], settings['workers'], settings['bind'], settings['accesslog'])")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "False 4 ['127.0.0.1:8000'] None"]


@pytest.mark.parametrize(("setting", "expected"), [(None, "10000 True"), ("2500", "2500 True"), ("0", "700 False")])
def test_each_worker_freezes_the_built_app_and_collects_young_objects_less_often(setting, expected):
    """post_worker_init (after the worker built the app): the app's objects frozen out of the collector's
    scans, generation 0 collected every GUNICORN_GC_THRESHOLD allocations; 0 keeps Python's defaults."""
    probe = ("import gc, runpy; settings = runpy.run_path('gunicorn.conf.py'); "
             "settings['post_worker_init'](None); print(gc.get_threshold()[0], gc.get_freeze_count() > 0)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    if setting is not None:
        env["GUNICORN_GC_THRESHOLD"] = setting
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
