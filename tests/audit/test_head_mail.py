"""The daily sweep puts the audit head in the office's outbox (the reminders area's audit_head notice):
the head it names is an anchor that `flask audit verify --anchor` accepts, and a log cut short and re-hashed
afterwards no longer extends it."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select, text

from app.audit import services as audit
from app.extensions import db

DAY = date(2025, 11, 20)


@pytest.fixture
def log(factory) -> None:
    factory.user("office1", role="staff")
    for i in range(5):
        audit.record("unit.update", "unit", i, {"name": [f"旧{i}", f"新{i}"]})
    db.session.commit()


def mailed_anchor() -> tuple[str, int, list]:
    from app.reminders.models import Notice
    from app.reminders.notices import AUDIT_HEAD_KIND

    notices = db.session.execute(select(Notice).where(Notice.kind == AUDIT_HEAD_KIND)).scalars().all()
    assert notices, "no audit head notice in the outbox"
    body = notices[0].body_text
    digest = re.search(r"\b[0-9a-f]{64}\b", body).group(0)
    count = int(re.search(r"第 (\d+) 条", notices[0].subject).group(1))
    return digest, count, notices


def test_the_sweep_mails_the_head_once_a_day(app, log):
    from app.reminders.sweep import mail_audit_head

    mail_audit_head(DAY)
    db.session.commit()
    digest, count, notices = mailed_anchor()
    assert (count, digest) == audit.current_head()
    assert len(notices) == 1 and notices[0].recipient == "office1@example.org" and notices[0].day == DAY
    mail_audit_head(DAY)  # a second sweep the same day adds nothing
    db.session.commit()
    assert len(mailed_anchor()[2]) == 1
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--anchor", f"{digest}@{count}"])
    assert result.exit_code == 0, result.output


def test_the_full_sweep_includes_the_head_notice(app, log):
    from app.reminders.sweep import sweep

    sweep(DAY)
    db.session.commit()
    digest, count, _ = mailed_anchor()
    assert count >= 5 and audit.verify_log((digest, count)).ok


def test_a_log_cut_and_rehashed_after_the_mail_fails_against_it(app, log):
    from app.audit.chain import make_row
    from app.reminders.sweep import mail_audit_head

    mail_audit_head(DAY)
    db.session.commit()
    digest, count, _ = mailed_anchor()
    db.session.rollback()
    engine = db.engine
    with engine.begin() as conn:  # an owner with full rights: triggers off, newest events gone, head rewritten
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            conn.execute(text("DELETE FROM audit_event WHERE seq >= 4"))
            conn.execute(text("ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_no_update"))
            conn.execute(text("ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_no_truncate"))
        else:
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name = 'audit_event'")).all()
            for name, _ in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            conn.execute(text("DELETE FROM audit_event WHERE seq >= 4"))
            for _, sql in triggers:
                conn.execute(text(sql))
        prev = conn.execute(text("SELECT hash FROM audit_event WHERE seq = 3")).scalar_one()
        forged = make_row(4, prev, {"action": "unit.update", "changes": {}})
        conn.execute(text("INSERT INTO audit_event (seq, at, action, content, algorithm, prev_hash, hash) "
                          "VALUES (4, '2025-11-20 00:00:00', 'unit.update', :c, 'sha256', :p, :h)"),
                     {"c": forged.content, "p": forged.prev_hash, "h": forged.hash})
        conn.execute(text("UPDATE audit_head SET seq = 4, hash = :h WHERE id = 1"), {"h": forged.hash})
    assert audit.verify_log().ok  # the chain alone is consistent again
    report = audit.verify_log((digest, count))
    assert not report.ok and report.result.first_bad_seq == 5 and "missing" in report.result.message
