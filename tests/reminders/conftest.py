"""Fixtures for the reminder tests: a plan with liaisons, unit heads and office staff; a real
SMTP server (aiosmtpd) on loopback that records what it receives and can be told to refuse."""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

D = date.fromisoformat


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else ""


@dataclass
class SmtpSink:
    """An aiosmtpd handler: records accepted messages; ``reply`` may answer a DATA with an error.

    ``reply(envelope, n)`` gets the envelope and the number of DATA commands seen so far and
    returns None (accept) or an SMTP reply such as "451 4.3.0 try later"."""

    received: list[Received] = field(default_factory=list)
    reply: Callable[[Any, int], str | None] | None = None
    delay: float = 0.0
    data_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        import asyncio

        with self.lock:
            self.data_count += 1
            n = self.data_count
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.reply(envelope, n) if self.reply else None
        if answer:
            return answer
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"

    def by_recipient(self) -> dict[str, list[Received]]:
        result: dict[str, list[Received]] = {}
        for r in self.received:
            for to in r.rcpt_tos:
                result.setdefault(to, []).append(r)
        return result


class SmtpServer:
    """aiosmtpd in a thread on 127.0.0.1; can be stopped and started again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.sink = SmtpSink()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(app, monkeypatch) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", server.port)
    monkeypatch.setitem(app.config, "SMTP_SECURITY", "none")
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 5)
    monkeypatch.setitem(app.config, "MAIL_FROM", "督办系统 <noreply@ducha.example.org>")
    yield server
    server.stop()


@dataclass
class Scenario:
    plan: Any
    units: dict[str, Any]
    liaisons: dict[str, Any]  # unit name → user
    staff: Any
    auditor: Any
    admin: Any

    def liaison_email(self, unit: str) -> str:
        return self.liaisons[unit].email


@pytest.fixture
def scenario(factory) -> Scenario:
    return build_scenario(factory)


def build_scenario(factory) -> Scenario:
    """The mini plan; every unit with an assignment has a liaison; two units have a head's
    e-mail; one office staff account, an auditor and an admin."""
    from sqlalchemy import select

    from app.extensions import db
    from app.plans.models import Assignment
    from app.units.models import Unit

    plan = factory.plan()
    units = {u.name: u for u in db.session.execute(
        select(Unit).join(Assignment, Assignment.unit_id == Unit.id).distinct()).scalars()}
    liaisons = {}
    for n, name in enumerate(sorted(units), start=1):
        liaisons[name] = factory.user(f"lx{n:02d}", "liaison", name)
    units["甲市"].head_name, units["甲市"].head_email = "甲市分管负责人", "head.jia@example.org"
    units["自治区教育厅"].head_name, units["自治区教育厅"].head_email = "教育厅负责人", "head.edu@example.org"
    db.session.commit()
    staff = factory.user("office1", "staff")
    auditor = factory.user("audit1", "auditor")
    admin = factory.user("admin1", "admin")
    return Scenario(plan, units, liaisons, staff, auditor, admin)


def submit(assignment_id: int, period_id: int, user) -> None:
    """Create and submit a report through the report services."""
    from app.extensions import db
    from app.plans.models import Assignment, Period
    from app.reports import services as reports

    assignment = db.session.get(Assignment, assignment_id)
    period = db.session.get(Period, period_id)
    figures = {i.id: Decimal("1") for i in reports.indicators_for(assignment)}
    report = reports.save_report(assignment, period, user, reports.ReportInput("进展", "", "", figures), None)
    reports.transition(report, "submit", user)
    db.session.commit()
