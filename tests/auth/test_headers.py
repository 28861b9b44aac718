"""Security headers on every response, and templates that need no inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def _check(response) -> None:
    for name, value in REQUIRED.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


@pytest.mark.parametrize("path", ["/login", "/", "/nope", "/static/app.css", "/login/verify"])
def test_headers_on_anonymous_responses(client, path):
    _check(client.get(path))


def test_headers_on_signed_in_pages_and_errors(app, factory, login):
    factory.user("staff-h", role="staff")
    client = login(app.test_client(), "staff-h")
    for path in ("/plans/", "/account", "/account/mfa", "/admin/units", "/plans/nope"):
        r = client.get(path)
        _check(r)
        assert r.headers["Cache-Control"] == "no-store", path
    r = client.post("/logout")
    _check(r)


def test_no_template_has_inline_script_or_style():
    """The CSP forbids inline code; mail templates are not pages and are left out."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if "mail" in path.relative_to(TEMPLATES).parts:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\ssrc=)", r"<style", r"\sstyle\s*=", r"\son[a-z]+\s*=", r"javascript:"):
            if re.search(pattern, text, re.I):
                offenders.append(f"{path.relative_to(TEMPLATES)}: {pattern}")
    assert offenders == []
