"""Login throttling per account and per IP, held in the database so every worker sees it."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import LoginFailure, UserSession
from app.auth.services import GENERIC_FAILURE
from app.extensions import db
from tests.conftest import PASSWORD, make_app

from .conftest import actions

LOCKED = "该账号已被暂时锁定"


def _post(client, username: str, password: str, ip: str = "127.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_wrong_password_and_unknown_user_get_the_same_answer(app, factory):
    factory.user("lx-a", unit=None, role="staff")
    wrong = _post(app.test_client(), "lx-a", "not-the-password")
    unknown = _post(app.test_client(), "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 200
    assert GENERIC_FAILURE in wrong.text and GENERIC_FAILURE in unknown.text
    assert wrong.text.replace("lx-a", "X") == unknown.text.replace("nobody-here", "X")
    assert actions("auth.login_failed") == ["auth.login_failed", "auth.login_failed"]


def test_the_account_locks_after_five_failures_and_unlocks_after_the_lockout(app, factory, clock):
    user = factory.user("staff-a", role="staff")
    client = app.test_client()
    for _ in range(4):
        r = _post(client, "staff-a", "wrong-password")
        assert GENERIC_FAILURE in r.text and LOCKED not in r.text
    r = _post(client, "STAFF-A", "wrong-password")  # the name is matched without case
    assert LOCKED in r.text
    # now even the right password is refused, from any address, without looking at it
    r = _post(app.test_client(), "staff-a", PASSWORD, ip="192.0.2.50")
    assert r.status_code == 200 and LOCKED in r.text
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "auth.lockout")).scalars().all()
    assert len(events) == 1 and events[0].entity_id == str(user.id)
    clock.advance(minutes=14)
    assert LOCKED in _post(client, "staff-a", PASSWORD).text
    clock.advance(minutes=2)
    assert _post(client, "staff-a", PASSWORD).status_code == 302


def test_failures_outside_the_window_do_not_add_up(app, factory, clock):
    factory.user("staff-b", role="staff")
    client = app.test_client()
    for _ in range(4):
        _post(client, "staff-b", "wrong-password")
    clock.advance(minutes=16)
    for _ in range(4):
        assert LOCKED not in _post(client, "staff-b", "wrong-password").text
    assert _post(client, "staff-b", PASSWORD).status_code == 302


def test_a_successful_login_starts_the_count_again(app, factory, clock):
    factory.user("staff-c", role="staff")
    client = app.test_client()
    for _ in range(4):
        _post(client, "staff-c", "wrong-password")
    assert _post(client, "staff-c", PASSWORD).status_code == 302
    other = app.test_client()
    for _ in range(4):
        assert LOCKED not in _post(other, "staff-c", "wrong-password").text


def test_unknown_names_lock_the_same_way(app, factory, clock):
    """A lockout tells nothing about which names exist: a name without an account locks too."""
    client = app.test_client()
    texts = [_post(client, "ghost", "wrong-password").text for _ in range(5)]
    assert LOCKED not in texts[3] and LOCKED in texts[4]
    assert actions("auth.lockout") == ["auth.lockout"]


def test_the_lockout_holds_across_two_app_instances_on_one_database(app, factory, clock):
    """Two workers (two apps, each with its own engine and connection pool) share the count."""
    factory.user("staff-d", role="staff")
    url = db.engine.url.render_as_string(hide_password=False)
    worker_a, worker_b = make_app(url), make_app(url)
    try:
        for n in range(5):
            worker = worker_a if n % 2 == 0 else worker_b
            _post(worker.test_client(), "staff-d", "wrong-password")
        r = _post(worker_b.test_client(), "staff-d", PASSWORD)
        assert r.status_code == 200 and LOCKED in r.text
        r = _post(worker_a.test_client(), "staff-d", PASSWORD)
        assert r.status_code == 200 and LOCKED in r.text
    finally:
        for worker in (worker_a, worker_b):
            with worker.app_context():
                db.engine.dispose()
    assert db.session.execute(select(LoginFailure.reason).where(LoginFailure.username == "staff-d")
                              .order_by(LoginFailure.id)).scalars().all() == ["password"] * 5 + ["locked"] * 2


def test_an_address_with_too_many_failures_is_refused(app, factory, clock, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_IP_MAX_FAILURES", 6)
    factory.user("staff-e", role="staff")
    client = app.test_client()
    for n in range(6):  # spraying: a few tries on many names, never enough to lock one
        _post(client, f"name-{n}", "wrong-password", ip="192.0.2.7")
    r = _post(client, "staff-e", PASSWORD, ip="192.0.2.7")
    assert r.status_code == 200 and "网络地址的登录失败次数过多" in r.text
    assert _post(app.test_client(), "staff-e", PASSWORD, ip="192.0.2.8").status_code == 302
    assert "auth.ip_throttled" in actions()
    clock.advance(minutes=16)
    assert _post(app.test_client(), "staff-e", PASSWORD, ip="192.0.2.7").status_code == 302


def test_unlock_from_the_command_line_is_audited(app, factory, clock):
    factory.user("staff-f", role="staff")
    client = app.test_client()
    for _ in range(5):
        _post(client, "staff-f", "wrong-password")
    assert LOCKED in _post(client, "staff-f", PASSWORD).text
    result = app.test_cli_runner().invoke(args=["users", "unlock", "staff-f"])
    assert result.exit_code == 0 and "unlocked" in result.output
    assert _post(client, "staff-f", PASSWORD).status_code == 302
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "auth.unlock")).scalar_one()
    assert event.username.startswith("cli:")


def test_prune_deletes_old_failures_and_sessions_only(app, factory, login, clock):
    factory.user("staff-g", role="staff")
    _post(app.test_client(), "someone", "wrong-password")
    old = login(app.test_client(), "staff-g")
    old.post("/logout")
    clock.advance(days=31)
    _post(app.test_client(), "someone", "wrong-password")
    login(app.test_client(), "staff-g")
    result = app.test_cli_runner().invoke(args=["users", "prune"])
    assert result.exit_code == 0
    assert result.output.startswith("1 login failure(s) and 1 session record(s)")
    assert db.session.execute(select(LoginFailure)).scalars().all()[0].at == clock.value
    assert db.session.execute(select(UserSession.ended_at)).scalars().all() == [None]
