"""Routes of the rankings area (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("rankings", __name__)
