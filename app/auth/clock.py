"""The clock of the security rules (naive UTC, as the tables store it); tests replace `now` to move time."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
