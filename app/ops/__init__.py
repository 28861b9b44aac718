"""Operations: production checks live in app.config; here the JSON logs with the request id,
the health endpoint (/healthz), and backups (`flask backup create|restore`)."""

from __future__ import annotations

from flask import Flask


def init_ops(app: Flask) -> None:
    """Logging, the request-id and access-log hooks, the proxy fix and /healthz.

    Call it right after the extensions, before other areas register their request hooks, so the
    request id exists before anything logs or audits."""
    from .health import bp
    from .logging import configure_logging, init_request_logging

    configure_logging(app)
    init_request_logging(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address (audit events, logs) and scheme (Secure cookies, redirects) from the
        # X-Forwarded-For / -Proto headers the reverse proxies in front of the app set.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.register_blueprint(bp)
