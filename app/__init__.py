"""Policy task accountability system: the Flask application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from .config import load_config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config (defaults → instance/config.py → environment → test_config),
    extensions, workflow definitions, blueprints and CLI commands. It starts no scheduler."""
    instance_path = os.environ.get("INSTANCE_PATH") or str(Path(__file__).resolve().parent.parent / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    load_config(app, test_config)
    from .auth.cli import register_users_cli
    from .security import init_security

    init_security(app)  # server-side session checks, page holds and security headers (docs/security.md)
    register_users_cli(app)

    from .extensions import init_extensions

    init_extensions(app)
    from .ops import init_ops

    init_ops(app)  # logs, request id, /healthz: before other request hooks

    from .workflow import load_workflows

    app.extensions["workflows"] = load_workflows(app.config["WORKFLOWS_DIR"])

    from . import models  # noqa: F401  (registers every model with SQLAlchemy)
    from .admin.routes import bp as admin_bp
    from .auth.routes import bp as auth_bp
    from .errors import register_error_handlers
    from .plans.routes import bp as plans_bp
    from .reminders.routes import bp as reminders_bp
    from .reports.routes import bp as reports_bp
    from .review.routes import bp as review_bp

    for bp in (auth_bp, plans_bp, reports_bp, review_bp, admin_bp):
        app.register_blueprint(bp)
    app.register_blueprint(reminders_bp)
    from .briefs.routes import bp as briefs_bp
    from .dashboard.routes import bp as dashboard_bp
    from .exports.routes import bp as exports_bp
    from .rankings.routes import bp as rankings_bp

    for bp in (dashboard_bp, rankings_bp, briefs_bp, exports_bp):  # the leading group's review (issue 6)
        app.register_blueprint(bp)
    from .cases import init_app as init_cases
    from .integrity import init_app as init_integrity
    from .reports.cli import register_figures_cli
    from .reports.figure_routes import bp as figures_bp

    init_integrity(app)  # workflows/plausibility.yaml (checked at start-up), flag pages, `flask integrity scan`
    init_cases(app)
    app.register_blueprint(figures_bp)
    register_figures_cli(app)
    from .api import register_api

    register_api(app)  # /api/v1 (bearer tokens, exempt from CSRF) and the API token pages
    from .audit.cli import register_audit_cli
    from .audit.routes import bp as audit_bp

    app.register_blueprint(audit_bp)
    register_audit_cli(app)
    register_error_handlers(app)

    from .cli import register_cli

    register_cli(app)
    from .reminders.cli import register_reminders_cli

    register_reminders_cli(app)
    from .ops.cli import register_ops_cli

    register_ops_cli(app)
    return app
