"""Security hooks for every request (docs/security.md): the server-side session is checked before any view
runs, users who must change their password or enrol a second factor are held on those pages, and every
response carries the security headers."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, flash, g, redirect, request, session, url_for
from flask_babel import gettext
from flask_login import current_user

from .i18n import N_

DEFAULT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
               "frame-ancestors 'none'")

# Pages a user may still open while held (a forced password change, a required second factor).
PASSWORD_HOLD = frozenset({"static", "auth.logout", "auth.password"})
MFA_HOLD = PASSWORD_HOLD | {"auth.mfa"}
TIMEOUT_MESSAGES = {"idle": N_("长时间未操作，登录已超时，请重新登录。"), "absolute": N_("登录时间已达上限，请重新登录。"),
                    "disabled": N_("该账号已停用。")}
FLASK_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "sid")


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def normalize_config(config: dict[str, Any]) -> None:
    """Parse the security keys that may come from the environment as strings."""
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = (str(config.get("APP_ENV") or "") == "production"
                                           or str(config.get("BASE_URL") or "").startswith("https://"))
    else:
        config["SESSION_COOKIE_SECURE"] = _flag(config["SESSION_COOKIE_SECURE"])
    config["SESSION_COOKIE_HTTPONLY"] = True
    roles = config.get("MFA_REQUIRED_ROLES")
    if isinstance(roles, str):
        roles = () if roles.strip().lower() in ("", "none") else tuple(
            r.strip() for r in roles.split(",") if r.strip())
    config["MFA_REQUIRED_ROLES"] = tuple(roles or ())
    for key in ("SESSION_IDLE_MINUTES", "SESSION_ABSOLUTE_HOURS", "SESSION_TOUCH_SECONDS",
                "LOGIN_ACCOUNT_MAX_FAILURES", "LOGIN_ACCOUNT_WINDOW_MINUTES", "LOGIN_LOCKOUT_MINUTES",
                "LOGIN_IP_MAX_FAILURES", "LOGIN_IP_WINDOW_MINUTES", "PASSWORD_MIN_LENGTH", "PASSWORD_MAX_LENGTH"):
        if isinstance(config.get(key), str):
            config[key] = float(config[key]) if "." in config[key] else int(config[key])


# Blueprints that authenticate by other means: the JSON API reads a bearer token (app/api/auth.py) and
# ignores the session cookie, so its requests neither load nor touch a page session.
OWN_AUTH_BLUEPRINTS = frozenset({"api"})


def _check_session():
    """Load the user now (the session record is checked and touched before the view runs) and hold
    users who must first change their password or enrol a second factor."""
    if request.endpoint in (None, "static") or request.blueprint in OWN_AUTH_BLUEPRINTS:
        return None
    user = current_user._get_current_object()
    if not user.is_authenticated:
        if any(key in session for key in FLASK_LOGIN_KEYS):
            for key in FLASK_LOGIN_KEYS:
                session.pop(key, None)
            message = TIMEOUT_MESSAGES.get(g.get("session_end_reason", ""))
            if message:
                flash(gettext(message), "warning")
        return None
    if g.get("user_session") is None:
        return None  # signed in by other means (an API token): no page holds apply
    from .auth.mfa import required_for

    if user.must_change_password and request.endpoint not in PASSWORD_HOLD:
        return redirect(url_for("auth.password"))  # the page says why
    if not user.has_totp and required_for(user) and request.endpoint not in MFA_HOLD:
        return redirect(url_for("auth.mfa"))
    return None


def _headers(response: Response) -> Response:
    from flask import current_app

    headers = response.headers
    headers.setdefault("Content-Security-Policy", current_app.config["CONTENT_SECURITY_POLICY"])
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static" and g.get("user_session") is not None and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"  # pages of a signed-in user stay out of shared caches
    return response


def init_security(app: Flask) -> None:
    app.config.setdefault("CONTENT_SECURITY_POLICY", DEFAULT_CSP)
    normalize_config(app.config)
    app.before_request(_check_session)
    app.after_request(_headers)
