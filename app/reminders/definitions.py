"""Load the reminder-area definitions (calendar, cadence, ladder, lights) at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .deadlines import load_cadence
from .ladder import load_ladder
from .lights import load_lights
from .workdays import WorkCalendar


def load_reminder_definitions(directory: Path) -> dict[str, Any]:
    """Each loader raises a ConfigFileError naming the file and line of a mistake."""
    return {
        "calendar": WorkCalendar.from_yaml(directory / "calendar.yaml"),
        "cadence": load_cadence(directory / "cadence.yaml"),
        "ladder": load_ladder(directory / "ladder.yaml"),
        "lights": load_lights(directory / "lights.yaml"),
    }
