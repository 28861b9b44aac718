"""GET /healthz: 200 while the database answers (with the scheduler's heartbeat age), 503 with a reason
when it does not, and never a secret in the output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.extensions import db
from app.reminders import jobs
from app.reminders.models import SchedulerJob
from tests.conftest import make_app


def test_healthy_without_login_and_no_scheduler_yet(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {"status": "ok", "database": "ok",
                             "scheduler": {"heartbeat": "never", "alive": False}}


def test_reports_the_scheduler_heartbeat_age(ctx, client):
    assert jobs.heartbeat("test-scheduler")
    body = client.get("/healthz").json
    assert body["scheduler"]["alive"] is True and 0 <= body["scheduler"]["heartbeat_age_seconds"] < 60
    assert "test-scheduler" not in str(body)  # the owner token is not published

    stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    db.session.execute(update(SchedulerJob).where(SchedulerJob.name == jobs.LEADER).values(heartbeat_at=stale))
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 200  # the web still serves; monitoring alerts on "alive"
    assert response.json["scheduler"]["alive"] is False
    assert 590 <= response.json["scheduler"]["heartbeat_age_seconds"] <= 700


def test_unknown_heartbeat_when_the_table_is_missing(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'bare.db'}")  # a database with no tables at all
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["database"] == "ok" and response.json["scheduler"] == {"heartbeat": "unknown"}


def test_503_with_a_reason_when_the_database_does_not_answer(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'missing-folder' / 'app.db'}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "error", "database": "unavailable",
                             "reason": "the database did not answer"}
    assert "missing-folder" not in response.text


def test_503_names_no_host_user_or_password():
    app = make_app("postgresql://ops-user:S3cretPw@127.0.0.1:1/nodb",
                   SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "error"
    for secret in ("S3cretPw", "ops-user", "127.0.0.1", "nodb"):
        assert secret not in response.text
