"""Logs: one JSON object per line with the request id, which the response header and the audit events
share; one access line per request."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.ops.logging import ACCESS_LOGGER, JsonFormatter, TextFormatter
from tests.conftest import PASSWORD


@pytest.fixture
def log_lines():
    """Everything logged during the test, formatted by JsonFormatter, as parsed objects."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        text = stream.getvalue()
        raw = [line for line in text.split("\n") if line]
        return [json.loads(line) for line in raw]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def access(lines: list[dict], path: str) -> list[dict]:
    return [e for e in lines if e["logger"] == ACCESS_LOGGER and e.get("path") == path]


def test_json_formatter_writes_one_object_per_line_with_the_traceback():
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logging.getLogger("app.x").makeRecord("app.x", logging.ERROR, __file__, 1, "failed: %s",
                                                       ("a\nb",), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "app.x" and entry["message"] == "failed: a\nb"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert "ValueError: bad\nvalue" in entry["exception"] and "Traceback" in entry["exception"]
    assert "request_id" not in entry  # not in a request


def test_the_client_request_id_is_echoed_and_logged(client, log_lines):
    response = client.get("/login", headers={"X-Request-ID": "lb-7f3a.42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "lb-7f3a.42"
    [line] = access(log_lines(), "/login")
    assert line["request_id"] == "lb-7f3a.42"
    assert line["method"] == "GET" and line["status"] == 200 and line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None and line["message"] == "GET /login 200"


@pytest.mark.parametrize("offered", [None, "", "has space", 'quote"', "x" * 65])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(client, log_lines, offered):
    headers = {} if offered is None else {"X-Request-ID": offered}
    response = client.get("/login", headers=headers)
    rid = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert access(log_lines(), "/login")[0]["request_id"] == rid
    assert client.get("/login").headers["X-Request-ID"] != rid  # one per request


def test_logs_audit_events_and_header_share_the_request_id(app, client, factory, log_lines):
    user = factory.user("staff-log", role="staff")
    response = client.post("/login", data={"username": "staff-log", "password": PASSWORD},
                           headers={"X-Request-ID": "req-login-1"})
    assert response.status_code == 302 and response.headers["X-Request-ID"] == "req-login-1"
    events = db.session.execute(select(AuditEvent).where(AuditEvent.request_id == "req-login-1")).scalars().all()
    assert [e.action for e in events] == ["auth.login"]
    [line] = access(log_lines(), "/login")
    assert line["request_id"] == "req-login-1" and line["user_id"] == user.id and line["method"] == "POST"
    assert line["status"] == 302

    page = client.get("/plans/", headers={"X-Request-ID": "req-plans-2"})
    assert page.status_code == 200
    [line] = access(log_lines(), "/plans/")
    assert line["user_id"] == user.id and line["request_id"] == "req-plans-2"


def test_health_probes_are_logged_at_debug_only(client, log_lines):
    client.get("/healthz")
    [line] = access(log_lines(), "/healthz")
    assert line["level"] == "DEBUG"


def test_an_error_is_one_json_line_with_its_traceback_and_the_user_sees_none(database_url, log_lines):
    from tests.conftest import make_app

    app = make_app(database_url, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise ZeroDivisionError("kaboom")

    response = app.test_client().get("/boom", headers={"X-Request-ID": "req-boom"})
    assert response.status_code == 500
    assert "kaboom" not in response.text and "Traceback" not in response.text and "系统错误" in response.text
    assert response.headers["X-Request-ID"] == "req-boom"
    lines = log_lines()
    [error] = [e for e in lines if e["level"] == "ERROR" and e.get("request_id") == "req-boom"]
    assert "ZeroDivisionError: kaboom" in error["exception"] and error["path"] == "/boom"
    assert access(lines, "/boom")[0]["status"] == 500


def test_text_format_names_the_request(client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        client.get("/login", headers={"X-Request-ID": "text-req-1"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert re.search(r" INFO app\.access \[text-req-1\] GET /login 200$", stream.getvalue().strip())


def test_behind_a_trusted_proxy_the_client_address_is_recorded(database_url, factory):
    from tests.conftest import make_app

    factory.user("staff-proxy", role="staff")
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "via-proxy"}
    direct = make_app(database_url).test_client()  # TRUSTED_PROXIES=0: the header is not believed
    direct.post("/login", data={"username": "staff-proxy", "password": PASSWORD}, headers=headers)
    proxied = make_app(database_url, TRUSTED_PROXIES=1).test_client()
    proxied.post("/login", data={"username": "staff-proxy", "password": PASSWORD},
                 headers={**headers, "X-Request-ID": "via-proxy-2"})
    db.session.rollback()
    ips = dict(db.session.execute(select(AuditEvent.request_id, AuditEvent.ip).where(
        AuditEvent.request_id.in_(["via-proxy", "via-proxy-2"]), AuditEvent.action == "auth.login")).all())
    assert ips == {"via-proxy": "127.0.0.1", "via-proxy-2": "203.0.113.9"}



def test_the_access_line_after_a_commit_reads_the_user_id_without_a_query(app, factory):
    """The access line is written after the view committed, when every attribute of the user has expired:
    its user id comes from the ORM identity, so writing it costs no query (a reload of the user before)."""
    from flask import g
    from sqlalchemy import event

    from app.ops.logging import _request_fields

    user = factory.user("staff-commit", role="staff")
    user_id = user.id
    db.session.commit()  # as a view's commit: the user's attributes expire
    statements: list[str] = []

    def on_statement(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_statement)
    try:
        with app.test_request_context("/items", method="POST"):
            g._login_user = user
            fields = _request_fields()
            g._login_user = app.login_manager.anonymous_user()
            anonymous = _request_fields()
    finally:
        event.remove(db.engine, "before_cursor_execute", on_statement)
    assert fields["user_id"] == user_id and anonymous["user_id"] is None
    assert statements == []
