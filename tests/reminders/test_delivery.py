"""A sweep and a send over a real SMTP server on loopback (aiosmtpd): each expected digest is
delivered exactly once, to the right recipient, with its items, in Chinese, as plain text
and HTML, with a Message-ID derived from the notice's key."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment
from app.reminders.models import Notice
from app.reminders.notices import message_id
from app.reminders.sender import send_pending
from app.reminders.sweep import sweep

from .conftest import D


def test_sweep_and_send_deliver_each_digest_exactly_once(scenario, smtp):
    sweep(D("2025-03-04"))
    db.session.commit()
    report = send_pending()
    assert (report.sent, report.retried, report.failed) == (len(scenario.liaisons) + 1, 0, 0)

    received = smtp.sink.by_recipient()
    # every liaison got one reminder digest; the office got the audit head
    assert set(received) == {u.email for u in scenario.liaisons.values()} | {scenario.staff.email}
    assert all(len(messages) == 1 for messages in received.values())
    assert Counter(r.message_id for r in smtp.sink.received).most_common(1)[0][1] == 1

    # the digest of 甲市's liaison lists exactly that unit's items, with a link to each
    jia = received[scenario.liaison_email("甲市")][0]
    own = db.session.execute(select(Assignment.id).where(Assignment.unit_id == scenario.units["甲市"].id)
                             ).scalars().all()
    text, html = jia.text(), jia.html()
    for assignment_id in own:
        assert f"http://127.0.0.1:5000/items/{assignment_id}/reports/" in text
        assert f'href="http://127.0.0.1:5000/items/{assignment_id}/reports/' in html
    assert text.count("http://127.0.0.1:5000/items/") == len(own)
    assert "【提醒】" in str(jia.message["Subject"]) and "截止日期：2025-03-07" in text
    assert jia.mail_from == "noreply@ducha.example.org"
    assert "督办系统" in str(jia.message["From"])

    # the Message-ID is the one derived from the notice's unique key, and is stored
    notice = db.session.execute(select(Notice).where(Notice.recipient == scenario.liaison_email("甲市"))
                                ).scalar_one()
    assert jia.message_id == notice.message_id == message_id("mail", notice.recipient, notice.day, notice.kind)
    assert notice.status == "sent" and notice.attempts == 1 and notice.sent_at is not None

    # a second sweep and send the same day deliver nothing more
    sweep(D("2025-03-04"))
    db.session.commit()
    assert send_pending().sent == 0
    assert len(smtp.sink.received) == len(scenario.liaisons) + 1


def test_an_outage_of_the_scheduler_then_one_run_delivers_every_kind_once(scenario, smtp):
    sweep(D("2025-03-04"))
    db.session.commit()
    send_pending()
    smtp.sink.received.clear()
    sweep(D("2025-03-25"))  # urge, escalate and refer all fell due meanwhile
    db.session.commit()
    send_pending()
    kinds = Counter((r.rcpt_tos[0], str(r.message["X-Notice-Kind"])) for r in smtp.sink.received)
    assert set(kinds.values()) == {1}
    # every step is recorded, but each person hears of an item once: in the furthest step naming them
    jia = scenario.liaison_email("甲市")
    assert {k for (to, k) in kinds if to == jia} == {"escalate"}
    assert {k for (to, k) in kinds if to == "head.jia@example.org"} == {"refer"}
    assert {k for (to, k) in kinds if to == scenario.staff.email} == {"refer", "audit_head"}
    head = next(r for r in smtp.sink.received if r.rcpt_tos == ["head.jia@example.org"])
    assert "抄送" in head.text() and "移交监督平台" in str(head.message["Subject"])


def test_without_smtp_each_mail_is_an_eml_file(app, scenario, tmp_path, monkeypatch):
    import email
    from email.policy import default

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    sweep(D("2025-03-04"))
    db.session.commit()
    assert send_pending().sent == len(scenario.liaisons) + 1
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == len(scenario.liaisons) + 1
    jia = next(f for f in files if scenario.liaison_email("甲市") in f.name)
    message = email.message_from_bytes(jia.read_bytes(), policy=default)
    assert "【提醒】" in str(message["Subject"])
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    assert message["Message-ID"].strip().startswith("<n.")
    # sending again rewrites nothing: the notices are sent
    assert send_pending().sent == 0
    assert len(list((tmp_path / "mail").glob("*.eml"))) == len(files)
