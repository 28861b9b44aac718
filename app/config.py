"""Configuration: defaults, then instance/config.py, then the environment, then test_config."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_DATABASE_URI": None,  # set from DATABASE_URL or the instance folder
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "TIMEZONE": "Asia/Shanghai",
    "WORKFLOWS_DIR": str(REPO_ROOT / "workflows"),
    "PLANS_DIR": str(REPO_ROOT / "workflows" / "plans"),
    "WTF_CSRF_TIME_LIMIT": None,
    "BABEL_DEFAULT_LOCALE": "zh",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "PER_PAGE": 50,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,  # request bodies (uploads included); larger ones get 413
    "FIGURE_MAX_ABS": 10**12,
    "TODAY": None,  # frozen date for tests and demos (YYYY-MM-DD); None = the real clock
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Security (app/security.py, app/auth, docs/security.md).
    "SESSION_COOKIE_SECURE": None,  # None: on in production (APP_ENV) or when BASE_URL is https://
    "SESSION_IDLE_MINUTES": 30,  # a server-side session ends after this long without a request
    "SESSION_ABSOLUTE_HOURS": 12,  # … and this long after the login, whatever happens
    "SESSION_TOUCH_SECONDS": 60,  # how often a session's last-seen time is written
    "LOGIN_ACCOUNT_MAX_FAILURES": 5,  # failures of one account name within the window lock it
    "LOGIN_ACCOUNT_WINDOW_MINUTES": 15,
    "LOGIN_LOCKOUT_MINUTES": 15,
    "LOGIN_IP_MAX_FAILURES": 30,  # failed attempts from one IP within the window refuse its logins
    "LOGIN_IP_WINDOW_MINUTES": 15,
    "LOGIN_FAILURE_RETENTION_DAYS": 30,  # `flask users prune` deletes older failures
    "PASSWORD_MIN_LENGTH": 10,
    "PASSWORD_MAX_LENGTH": 128,
    "MFA_REQUIRED_ROLES": ("staff", "admin"),  # roles that must use a second factor (TOTP); env: comma list or none
    "MFA_ISSUER": "任务落实督办系统",  # the name authenticator apps show
    "MFA_PENDING_SECONDS": 300,  # time between the password step and the code
    # Reminders: links in notices, mail (no SMTP_HOST = .eml files under instance/mail/), webhook, scheduler.
    "BASE_URL": "http://127.0.0.1:5000",
    "SMTP_HOST": None,
    "SMTP_PORT": None,  # None: 25, or 587 with starttls, 465 with ssl
    "SMTP_SECURITY": "none",  # none | starttls | ssl
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_TIMEOUT": 30,
    "MAIL_FROM": "任务落实督办系统 <noreply@localhost>",
    "OFFICE_EMAIL": None,  # the leading-group office's mailbox(es), comma-separated; None = staff accounts' e-mail
    "WEBHOOK_URL": None,  # JSON POST of every digest, e.g. a messaging app's group robot
    "WEBHOOK_TIMEOUT": 10,
    "SWEEP_TIME": "07:30",  # daily sweep, Asia/Shanghai
    "OUTBOX_BATCH": 200,
    "OUTBOX_MAX_ATTEMPTS": 8,
    "OUTBOX_RETRY_BASE_SECONDS": 60,  # 60 s, 120 s, 240 s … capped at 6 hours
    "OUTBOX_CLAIM_SECONDS": 300,  # a sender's lease on the notices it is sending
    "DIGEST_MAX_ITEMS": 100,  # items listed in one digest (the total is always given)
    # Deployment (app/ops, docs/production.md).
    "APP_ENV": "development",  # production: refuses a generated or short SECRET_KEY and debug mode
    "LOG_FORMAT": None,  # json | text; None: json in production, text otherwise
    "LOG_LEVEL": "INFO",
    "TRUSTED_PROXIES": 0,  # reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted
    "PG_DUMP": "pg_dump",  # `flask backup` on PostgreSQL: the client tools' names or paths
    "PG_RESTORE": "pg_restore",
}

# Keys read from the environment (strings; the app parses them where needed).
ENV_KEYS = ("SECRET_KEY", "TIMEZONE", "TODAY", "WORKFLOWS_DIR", "PLANS_DIR",
            "BASE_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USER", "SMTP_PASSWORD", "MAIL_FROM",
            "OFFICE_EMAIL", "WEBHOOK_URL", "SWEEP_TIME", "OUTBOX_MAX_ATTEMPTS", "OUTBOX_RETRY_BASE_SECONDS",
            "OUTBOX_CLAIM_SECONDS")
ENV_KEYS = (*ENV_KEYS, "APP_ENV", "LOG_FORMAT", "LOG_LEVEL", "TRUSTED_PROXIES", "PG_DUMP", "PG_RESTORE")
ENV_KEYS = (*ENV_KEYS, "SESSION_COOKIE_SECURE", "SESSION_IDLE_MINUTES", "SESSION_ABSOLUTE_HOURS",
            "LOGIN_ACCOUNT_MAX_FAILURES", "LOGIN_ACCOUNT_WINDOW_MINUTES", "LOGIN_LOCKOUT_MINUTES",
            "LOGIN_IP_MAX_FAILURES", "LOGIN_IP_WINDOW_MINUTES", "PASSWORD_MIN_LENGTH", "MFA_REQUIRED_ROLES")

MIN_SECRET_KEY_LENGTH = 32


def _secret_key(instance: Path) -> str:
    """Read the generated secret key from instance/, creating it on first run."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for key in ENV_KEYS:
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.from_mapping(test_config)
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = f"sqlite:///{instance / 'app.db'}"
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://") :]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    secret_generated = not app.config.get("SECRET_KEY")
    if secret_generated and str(app.config.get("APP_ENV") or "").strip().lower() != "production":
        app.config["SECRET_KEY"] = _secret_key(instance)
    check_deployment(app, secret_generated=secret_generated)


def check_deployment(app: Flask, *, secret_generated: bool) -> None:
    """Refuse to start on a setting that is wrong for the mode, with one line that says why.

    In production (APP_ENV=production) the secret key must be set in the environment or in
    instance/config.py (not the one generated into instance/secret_key) with at least 32
    characters, and debug mode must be off."""
    env = str(app.config.get("APP_ENV") or "development").strip().lower()
    if env not in ("production", "development"):
        raise RuntimeError(f"APP_ENV must be 'production' or 'development', not {app.config['APP_ENV']!r}")
    app.config["APP_ENV"] = env
    log_format = app.config.get("LOG_FORMAT")
    if log_format is not None and str(log_format).lower() not in ("json", "text"):
        raise RuntimeError(f"LOG_FORMAT must be 'json' or 'text', not {log_format!r}")
    app.config["LOG_FORMAT"] = str(log_format).lower() if log_format is not None else None
    try:
        app.config["TRUSTED_PROXIES"] = int(app.config.get("TRUSTED_PROXIES") or 0)
    except ValueError:
        raise RuntimeError(f"TRUSTED_PROXIES must be a whole number, not {app.config['TRUSTED_PROXIES']!r}") from None
    if env != "production":
        return
    refuse = "Refusing to start in production mode (APP_ENV=production): "
    how = ("set SECRET_KEY in the environment or in instance/config.py to at least "
           f"{MIN_SECRET_KEY_LENGTH} random characters, e.g. the output of "
           "python3 -c 'import secrets; print(secrets.token_hex(32))'")
    key = str(app.config.get("SECRET_KEY") or "")
    if secret_generated:
        raise RuntimeError(refuse + "SECRET_KEY is not set (the key generated into instance/secret_key serves "
                           "development only); " + how)
    dev_key = Path(app.instance_path) / "secret_key"
    if dev_key.is_file() and dev_key.read_text().strip() == key.strip():
        raise RuntimeError(refuse + f"SECRET_KEY is the development key generated into {dev_key}; " + how)
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 8:
        raise RuntimeError(refuse + f"SECRET_KEY is too weak ({len(key)} characters, {len(set(key))} different); "
                           + how)
    if app.debug or app.config.get("DEBUG"):
        raise RuntimeError(refuse + "debug mode is on (FLASK_DEBUG, `flask run --debug` or DEBUG in the config); "
                           "turn it off: the debugger runs any code a visitor sends")
