"""Load the reminder-area definitions (calendar, cadence, ladder, lights) at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .deadlines import load_cadence
from .workdays import WorkCalendar


def load_reminder_definitions(directory: Path) -> dict[str, Any]:
    defs: dict[str, Any] = {
        "calendar": WorkCalendar.from_yaml(directory / "calendar.yaml"),
        "cadence": load_cadence(directory / "cadence.yaml"),
    }
    return defs
