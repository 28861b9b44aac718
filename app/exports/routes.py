"""Routes of the exports area (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exports", __name__)
