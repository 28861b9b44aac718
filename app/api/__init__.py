"""The JSON API under /api/v1 for the systems around the app, with per-user bearer tokens."""

from __future__ import annotations

from flask import Flask


def register_api(app: Flask) -> None:
    """The API blueprint (bearer tokens only, exempt from CSRF) and the token pages."""
    from .auth import register
    from .pages import bp as pages_bp
    from .routes import bp as api_bp

    register(app, api_bp)
    app.register_blueprint(pages_bp)
