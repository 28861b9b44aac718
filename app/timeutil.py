"""The clock: 'today' in the configured time zone (Asia/Shanghai), frozen by config for tests.

`replaying_at` runs a block as if it were a past moment: `flask demo load` replays a plan's history
(reports submitted before their due dates, reviewed days later) so the demo's on-time rates, audit
log and rankings read like a real year, not like everything happened at the moment of loading."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

_replayed_now: ContextVar[datetime | None] = ContextVar("replayed_now", default=None)


def utcnow() -> datetime:
    return _replayed_now.get() or datetime.now(UTC)


@contextmanager
def replaying_at(moment: datetime) -> Iterator[None]:
    """Within the block, `utcnow()` (and so report times and audit events) is `moment` (aware UTC)."""
    if moment.tzinfo is None:
        raise ValueError("replaying_at needs an aware datetime")
    token = _replayed_now.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _replayed_now.reset(token)


def local_tz() -> ZoneInfo:
    name = current_app.config["TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def today() -> date:
    frozen = current_app.config.get("TODAY") if has_app_context() else None
    if frozen:
        return frozen if isinstance(frozen, date) else date.fromisoformat(str(frozen))
    return utcnow().astimezone(local_tz()).date()


def to_local(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(local_tz())
