"""A real `flask outbox send` process killed with SIGKILL in the middle of a batch, then a
second run: none is lost, none is delivered more than twice, at most one twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.reminders.models import Notice
from app.reminders.sender import send_pending

from .test_sender import make_notices

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")


@pytest.mark.slow
def test_kill_9_of_a_sender_in_the_middle_of_a_batch(app, ctx, smtp, database_url):
    make_notices(40)
    smtp.sink.delay = 0.05  # about 20 messages a second, so the kill lands mid-batch
    env = {**os.environ, "DATABASE_URL": database_url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
           "SMTP_SECURITY": "none", "MAIL_FROM": app.config["MAIL_FROM"], "OUTBOX_CLAIM_SECONDS": "2"}
    process = subprocess.Popen([str(FLASK), "--app", "wsgi", "outbox", "send"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(smtp.sink.received) < 8:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the sender did not start sending"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    first = Counter(r.message_id for r in smtp.sink.received)
    assert 8 <= sum(first.values()) < 40
    db.session.rollback()
    statuses = Counter(db.session.execute(select(Notice.status)).scalars())
    assert statuses["pending"] > 0  # the killed sender's claims wait for their lease to end

    time.sleep(2.2)
    smtp.sink.delay = 0
    send_pending()
    db.session.expire_all()
    assert Counter(db.session.execute(select(Notice.status)).scalars()) == Counter({"sent": 40})
    got = Counter(r.message_id for r in smtp.sink.received)
    assert set(got) == set(db.session.execute(select(Notice.message_id)).scalars())  # none lost
    assert max(got.values()) <= 2
    assert sum(1 for n in got.values() if n == 2) <= 1  # one crash: at most one duplicate
