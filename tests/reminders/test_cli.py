"""The operators' commands: `flask reminders sweep [--today] [--dry-run]`, `flask outbox send`,
`flask outbox list [--status] [--json]`."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.extensions import db
from app.reminders.models import LadderStep, Notice


def run(app, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def test_sweep_dry_run_prints_and_writes_nothing(app, scenario):
    result = run(app, "reminders", "sweep", "--today", "2025-03-04", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would take steps: remind" in result.output and "would send" in result.output
    assert scenario.liaison_email("甲市") in result.output
    assert db.session.execute(select(func.count()).select_from(LadderStep)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(Notice)).scalar_one() == 0


def test_sweep_send_and_list(app, scenario, smtp):
    result = run(app, "reminders", "sweep", "--today", "2025-03-04")
    assert result.exit_code == 0, result.output
    assert "took steps: remind" in result.output and "queued" in result.output
    again = run(app, "reminders", "sweep", "--today", "2025-03-04")
    assert "took steps: none" in again.output and "queued 0 notices" in again.output
    listed = json.loads(run(app, "outbox", "list", "--status", "pending", "--json").output)
    assert {n["kind"] for n in listed} == {"remind", "audit_head"} and all(n["status"] == "pending" for n in listed)
    sent = run(app, "outbox", "send")
    assert sent.exit_code == 0 and f"sent {len(listed)}" in sent.output
    assert len(smtp.sink.received) == len(listed)
    assert json.loads(run(app, "outbox", "list", "--status", "pending", "--json").output) == []
    text = run(app, "outbox", "list").output
    assert "sent" in text and scenario.liaison_email("甲市") in text


def test_bad_date_is_refused(app, ctx):
    result = run(app, "reminders", "sweep", "--today", "2025-13-01")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_outbox_send_reports_errors(app, scenario, monkeypatch):
    from .conftest import free_port

    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())
    run(app, "reminders", "sweep", "--today", "2025-03-04")
    result = run(app, "outbox", "send")
    assert result.exit_code == 0 and "sent 0" in result.output and "无法连接邮件服务器" in result.output
