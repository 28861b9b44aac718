"""Data integrity: plausibility rules (疑点) that question reported figures, for review and accountability."""

from __future__ import annotations

from flask import Flask, current_app, url_for


def audit_history_url(entity_type: str, entity_id: int) -> str | None:
    """The audit history page of an entity, when the audit pages are installed (a template global)."""
    if "audit.history" not in current_app.view_functions:
        return None
    return url_for("audit.history", entity_type=entity_type, entity_id=entity_id)


def init_app(app: Flask) -> None:
    """Load workflows/plausibility.yaml (a bad file stops start-up), register the pages and the CLI."""
    from .cli import register_integrity_cli
    from .routes import bp
    from .services import load_config

    app.extensions["plausibility"] = load_config(app)
    app.register_blueprint(bp)
    app.jinja_env.globals["audit_history_url"] = audit_history_url
    register_integrity_cli(app)
