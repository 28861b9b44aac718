"""The error the plan parser raises on input it cannot draft a plan from."""

from __future__ import annotations


class PlanParseError(ValueError):
    """The document cannot be read or holds no plan; the message (Chinese) says what was not found."""
