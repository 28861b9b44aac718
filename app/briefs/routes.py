"""Routes of the briefs area (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("briefs", __name__)
