"""The sender against a real SMTP server on loopback: temporary errors retried with backoff,
permanent ones failed at once with the reply, a server that is down or stops mid-batch, a
sender that crashes mid-batch, two senders at once. None is lost; none is delivered more
than twice (once more per crash at most)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.reminders import sender
from app.reminders.dbutil import utcnow
from app.reminders.models import Notice
from app.reminders.notices import Digest, store
from app.reminders.sender import send_pending

from .conftest import D, SmtpServer

DAY = D("2025-03-04")


def make_notices(n: int, kind: str = "remind") -> list[int]:
    """n pending mail notices to n recipients."""
    digests = [Digest("mail", f"user{i:03d}@example.org", f"用户{i}", kind, "提醒", subject=f"通知 {i}",
                      text=f"第 {i} 号通知。") for i in range(n)]
    ids = store(digests, DAY)
    db.session.commit()
    return ids


def by_status() -> Counter:
    return Counter(db.session.execute(select(Notice.status)).scalars())


def deliveries(sink) -> Counter:
    return Counter(r.message_id for r in sink.received)


def all_message_ids() -> set[str]:
    return set(db.session.execute(select(Notice.message_id)).scalars())


def test_a_temporary_error_is_retried_with_backoff(app, ctx, smtp):
    make_notices(3)
    smtp.sink.reply = lambda envelope, n: "451 4.3.0 Mailbox busy, try later" if n == 2 else None
    start = utcnow()
    report = send_pending(now=start)
    assert (report.sent, report.retried, report.failed) == (2, 1, 0)
    busy = db.session.execute(select(Notice).where(Notice.status == "pending")).scalar_one()
    assert busy.attempts == 1 and busy.last_error.startswith("451 4.3.0 Mailbox busy")
    assert busy.next_attempt_at == start + timedelta(seconds=60)
    # not due yet: nothing is sent before the backoff has passed
    assert send_pending(now=start + timedelta(seconds=30)).sent == 0
    smtp.sink.reply = lambda envelope, n: "452 4.2.2 Over quota"
    report = send_pending(now=start + timedelta(seconds=61))
    assert report.retried == 1
    db.session.expire_all()
    assert busy.attempts == 2 and busy.next_attempt_at == start + timedelta(seconds=61 + 120)
    smtp.sink.reply = None
    assert send_pending(now=start + timedelta(seconds=200)).sent == 1
    assert by_status() == Counter({"sent": 3})
    assert set(deliveries(smtp.sink).values()) == {1}


def test_a_permanent_error_fails_the_notice_at_once_with_the_reply(app, ctx, smtp):
    make_notices(2)
    smtp.sink.reply = lambda envelope, n: "550 5.1.1 <user000@example.org>: Recipient address rejected" \
        if envelope.rcpt_tos == ["user000@example.org"] else None
    report = send_pending()
    assert (report.sent, report.failed) == (1, 1)
    failed = db.session.execute(select(Notice).where(Notice.status == "failed")).scalar_one()
    assert failed.attempts == 1
    assert failed.last_error == "550 5.1.1 <user000@example.org>: Recipient address rejected"
    # it is not tried again
    assert send_pending(now=utcnow() + timedelta(days=1)).sent == 0


def test_after_the_last_retry_the_notice_is_failed(app, ctx, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 3)
    make_notices(1)
    smtp.sink.reply = lambda envelope, n: "421 4.7.0 Try again later"
    at = utcnow()
    for _ in range(3):
        send_pending(now=at)
        at += timedelta(hours=7)
    notice = db.session.execute(select(Notice)).scalar_one()
    assert notice.status == "failed" and notice.attempts == 3
    assert "421 4.7.0 Try again later" in notice.last_error and "3 次" in notice.last_error


def test_when_smtp_is_down_notices_stay_pending_and_go_when_it_is_back(app, ctx, monkeypatch):
    server = SmtpServer()  # not started: connections are refused
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", server.port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 5)
    make_notices(4)
    start = utcnow()
    report = send_pending(now=start)
    assert (report.sent, report.retried, report.failed) == (0, 4, 0)
    rows = db.session.execute(select(Notice)).scalars().all()
    assert all(n.status == "pending" and n.attempts == 1 and "无法连接邮件服务器" in n.last_error for n in rows)
    assert all(n.claimed_by is None for n in rows)
    server.start()
    try:
        assert send_pending(now=start + timedelta(seconds=61)).sent == 4
        assert set(deliveries(server.sink).values()) == {1}
        assert len(deliveries(server.sink)) == 4
    finally:
        server.stop()


@pytest.mark.slow
def test_the_server_stops_in_the_middle_of_a_batch(app, ctx, smtp):
    ids = make_notices(30)
    smtp.sink.delay = 0.03
    stopped = threading.Event()

    def stop_after_ten() -> None:
        while len(smtp.sink.received) < 10:
            time.sleep(0.005)
        smtp.stop()
        stopped.set()

    watcher = threading.Thread(target=stop_after_ten)
    watcher.start()
    start = utcnow()
    first = send_pending(now=start)
    watcher.join(10)
    assert stopped.is_set()
    assert 10 <= first.sent < 30 and first.sent + first.retried == 30
    delivered_before = dict(deliveries(smtp.sink))
    smtp.start()  # the same port, a new server
    second = send_pending(now=start + timedelta(seconds=61))
    assert first.sent + second.sent == len(ids)
    assert by_status() == Counter({"sent": 30})
    got = Counter(delivered_before) + deliveries(smtp.sink)
    assert set(got) == all_message_ids()  # none lost
    assert max(got.values()) <= 2  # the message in flight when it stopped may come twice


def test_a_crash_between_acceptance_and_commit_duplicates_at_most_that_one(app, ctx, smtp, monkeypatch):
    make_notices(12)
    real = sender.mark_sent
    calls = {"n": 0}

    def crash_on_the_fifth(row, token) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("killed")  # the server accepted message 5; the commit never happens
        real(row, token)

    monkeypatch.setattr(sender, "mark_sent", crash_on_the_fifth)
    with pytest.raises(RuntimeError):
        send_pending()
    db.session.rollback()
    monkeypatch.setattr(sender, "mark_sent", real)
    assert by_status()["sent"] == 4
    # the crashed sender's lease still holds the rest; after it runs out they go
    assert send_pending().sent == 0
    report = send_pending(now=utcnow() + timedelta(seconds=301))
    assert report.sent == 8
    got = deliveries(smtp.sink)
    assert set(got) == all_message_ids()
    assert sorted(got.values()) == [1] * 11 + [2]


def test_a_crash_before_sending_delivers_nothing_twice(app, ctx, smtp, monkeypatch):
    make_notices(6)
    real = sender.SmtpTransport.send
    calls = {"n": 0}

    def crash_on_the_third(self, row) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the process is stopped before message 3 goes out
        real(self, row)

    monkeypatch.setattr(sender.SmtpTransport, "send", crash_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        send_pending()
    db.session.rollback()
    monkeypatch.setattr(sender.SmtpTransport, "send", real)
    send_pending(now=utcnow() + timedelta(seconds=301))
    got = deliveries(smtp.sink)
    assert set(got) == all_message_ids() and set(got.values()) == {1}


@pytest.mark.slow
def test_two_senders_at_once_send_each_notice_once(app, smtp):
    with app.app_context():
        make_notices(40)
    smtp.sink.delay = 0.005
    barrier = threading.Barrier(3)
    errors: list[Exception] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                send_pending(batch_size=5)
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with app.app_context():
        assert by_status() == Counter({"sent": 40})
        got = deliveries(smtp.sink)
        assert set(got) == all_message_ids() and set(got.values()) == {1}


def test_a_failed_notice_can_be_sent_again(app, ctx, smtp, scenario):
    from app.reminders.services import ReminderError, resend

    make_notices(1)
    smtp.sink.reply = lambda envelope, n: "554 5.7.1 Rejected"
    send_pending()
    notice = db.session.execute(select(Notice)).scalar_one()
    assert notice.status == "failed"
    resend(notice, scenario.admin)
    db.session.commit()
    assert notice.status == "pending" and notice.attempts == 0
    with pytest.raises(ReminderError):
        resend(notice, scenario.admin)
    smtp.sink.reply = None
    assert send_pending().sent == 1
    assert db.session.execute(select(func.count()).select_from(Notice).where(Notice.status == "sent")
                              ).scalar_one() == 1
