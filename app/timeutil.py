"""The clock: 'today' in the configured time zone (Asia/Shanghai), frozen by config for tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_tz() -> ZoneInfo:
    name = current_app.config["TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def today() -> date:
    frozen = current_app.config.get("TODAY") if has_app_context() else None
    if frozen:
        return frozen if isinstance(frozen, date) else date.fromisoformat(str(frozen))
    return datetime.now(local_tz()).date()


def to_local(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(local_tz())
