"""Verification and accountability cases (核查 / 问责) on suspect figures."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .routes import bp

    app.register_blueprint(bp)
