"""Fixtures for the security tests: a clock the tests move, and helpers to read the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth import clock as auth_clock
from app.extensions import db


class FakeClock:
    """Stands for app.auth.clock.now (naive UTC) while a test runs."""

    def __init__(self) -> None:
        self.value = datetime(2025, 11, 20, 2, 0, 0)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **delta: float) -> None:
        self.value += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(auth_clock, "now", fake)
    return fake


def actions(prefix: str = "auth.") -> list[str]:
    db.session.rollback()
    return list(db.session.execute(select(AuditEvent.action).where(AuditEvent.action.like(f"{prefix}%"))
                                   .order_by(AuditEvent.seq)).scalars())
