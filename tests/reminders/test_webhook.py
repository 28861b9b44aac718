"""The webhook channel: one JSON POST per digest to WEBHOOK_URL through the same outbox, with
the same unique key, retries and permanent failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.reminders.dbutil import utcnow
from app.reminders.models import LadderStep, Notice
from app.reminders.sender import send_pending
from app.reminders.sweep import sweep

from .conftest import D


class Robot:
    """A group robot on loopback: records the JSON it receives; ``status`` answers the next POSTs."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.status: list[int] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = robot.status.pop(0) if robot.status else 200
                if status == 200:
                    robot.received.append(json.loads(body))
                    robot.headers.append(dict(self.headers))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"errcode": 0}' if status == 200 else b'{"errcode": 1, "errmsg": "bad"}')

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot?key=secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot(app, monkeypatch) -> Iterator[Robot]:
    r = Robot()
    monkeypatch.setitem(app.config, "WEBHOOK_URL", r.url)
    yield r
    r.stop()


def test_each_digest_also_goes_to_the_webhook_once(scenario, smtp, robot):
    sweep(D("2025-03-04"))
    sweep(D("2025-03-04"))
    db.session.commit()
    webhook = db.session.execute(select(Notice).where(Notice.channel == "webhook")).scalars().all()
    assert [(n.recipient, n.kind) for n in webhook] == [("webhook", "remind")]
    assert send_pending().sent == len(scenario.liaisons) + 2
    assert len(robot.received) == 1
    payload = robot.received[0]
    assert payload["msgtype"] == "text" and "【提醒】" in payload["text"]["content"]
    assert payload["notice"]["kind"] == "remind" and payload["notice"]["items"]["total"] == webhook[0].items["total"]
    assert robot.headers[0]["Idempotency-Key"] == webhook[0].message_id
    # the URL (with its key) is configuration, not data: it is not stored in the outbox
    assert "secret" not in json.dumps([n.recipient for n in db.session.execute(select(Notice)).scalars()])


def test_webhook_retries_a_server_error_and_fails_a_client_error(app, scenario, robot, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))  # the mails become .eml files there
    for day in ("2025-03-04", "2025-03-10", "2025-03-14"):
        sweep(D(day))
    db.session.commit()
    rows = db.session.execute(select(Notice).where(Notice.channel == "webhook").order_by(Notice.id)).scalars().all()
    assert [n.kind for n in rows] == ["remind", "urge", "escalate"]
    robot.status = [503, 400, 200]
    start = utcnow()
    send_pending(now=start)
    db.session.expire_all()
    first, second, third = rows
    assert first.status == "pending" and first.attempts == 1 and first.last_error.startswith("HTTP 503")
    assert first.next_attempt_at == start + timedelta(seconds=60)
    assert second.status == "failed" and second.last_error.startswith("HTTP 400")
    assert third.status == "sent"
    send_pending(now=start + timedelta(seconds=61))
    db.session.expire_all()
    assert first.status == "sent" and len(robot.received) == 2


def test_after_an_outage_the_robot_hears_of_each_item_once(scenario, robot, app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    sweep(D("2025-03-25"))
    db.session.commit()
    rows = db.session.execute(select(Notice).where(Notice.channel == "webhook")).scalars().all()
    assert [n.kind for n in rows] == ["refer"]
    assert rows[0].items["total"] == db.session.execute(select(func.count()).select_from(LadderStep).where(
        LadderStep.step == "refer")).scalar_one()


def test_webhook_down_keeps_the_notices_pending(app, scenario, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_URL", "http://127.0.0.1:9/unreachable")
    sweep(D("2025-03-04"))
    db.session.commit()
    report = send_pending()
    webhook = db.session.execute(select(Notice).where(Notice.channel == "webhook")).scalar_one()
    assert webhook.status == "pending" and webhook.attempts == 1 and "Webhook" in webhook.last_error
    assert report.retried >= 1
