"""Server-side sessions: logout ends them (a copied cookie is refused), idle and absolute timeouts, and
disabling an account or changing its password ends its other sessions."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User, UserSession
from app.extensions import db
from tests.conftest import PASSWORD, make_app

from .conftest import actions

NEW_PASSWORD = "草原上的风很大 2025"


def _copy_session_cookie(source, target) -> None:
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def _signed_in(client) -> bool:
    return client.get("/items").status_code == 200


def test_a_cookie_copied_before_logout_is_refused_after_it(app, factory, login, clock):
    factory.plan()
    factory.user("lx-a", unit="甲市")
    first = login(app.test_client(), "lx-a")
    thief = app.test_client()
    _copy_session_cookie(first, thief)
    assert _signed_in(thief)  # the copy works while the session lasts …
    assert first.post("/logout").status_code == 302
    r = thief.get("/items")
    assert r.status_code == 302 and "/login" in r.location  # … and not after the logout
    assert not _signed_in(first)
    record = db.session.execute(select(UserSession)).scalar_one()
    assert record.ended_at is not None and record.end_reason == "logout"


def test_each_login_gets_a_new_session_token(app, factory, login, clock):
    factory.user("lx-b", unit=None, role="staff")
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie("session")
    login(client, "lx-b")
    after = client.get_cookie("session")
    assert after is not None and (before is None or before.value != after.value)
    assert db.session.execute(select(UserSession.user_id)).scalar_one() is not None


def test_idle_timeout(app, factory, login, clock):
    factory.user("staff-i", role="staff")
    client = login(app.test_client(), "staff-i")
    clock.advance(minutes=29)
    assert client.get("/plans/").status_code == 200  # activity moves the idle limit on
    clock.advance(minutes=29)
    assert client.get("/plans/").status_code == 200
    clock.advance(minutes=31)
    r = client.get("/plans/")
    assert r.status_code == 302 and "/login" in r.location
    assert "登录已超时" in client.get(r.location).text
    assert db.session.execute(select(UserSession.end_reason)).scalar_one() == "idle"
    assert "auth.session_expired" in actions()


def test_absolute_timeout(app, factory, login, clock):
    factory.user("staff-j", role="staff")
    client = login(app.test_client(), "staff-j")
    for _ in range(35):  # busy all day: a request every 20 minutes
        clock.advance(minutes=20)
        assert client.get("/plans/").status_code == 200
    clock.advance(minutes=21)  # past 12 h since the login
    assert client.get("/plans/").status_code == 302
    assert db.session.execute(select(UserSession.end_reason)).scalar_one() == "absolute"


def test_timeouts_come_from_the_config(app, factory, login, clock, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    factory.user("staff-k", role="staff")
    client = login(app.test_client(), "staff-k")
    clock.advance(minutes=6)
    assert client.get("/plans/").status_code == 302


def test_disabling_an_account_ends_its_sessions(app, factory, login, clock):
    factory.plan()
    user = factory.user("lx-c", unit="甲市")
    factory.user("admin", role="admin")
    victim = login(app.test_client(), "lx-c")
    admin = login(app.test_client(), "admin")
    r = admin.post(f"/admin/users/{user.id}", data={"username": "lx-c", "name": "lx-c", "role": "liaison",
                                                    "unit_id": user.unit_id})  # "active" unticked
    assert r.status_code == 302
    assert victim.get("/items").status_code == 302
    assert db.session.execute(select(UserSession.end_reason).where(UserSession.user_id == user.id)).scalar_one() \
        == "disabled"
    assert "auth.sessions_ended" in actions()
    assert admin.get("/admin/users").status_code == 200


def test_an_admin_setting_a_password_ends_the_sessions_and_asks_for_a_change(app, factory, login, clock):
    factory.plan()
    user = factory.user("lx-d", unit="甲市")
    factory.user("admin", role="admin")
    victim = login(app.test_client(), "lx-d")
    admin = login(app.test_client(), "admin")
    r = admin.post(f"/admin/users/{user.id}", data={"username": "lx-d", "name": "lx-d", "role": "liaison",
                                                    "unit_id": user.unit_id, "active": "y",
                                                    "password": "password123"})
    assert r.status_code == 200 and "常见密码" in r.text  # the rules apply to an admin too
    r = admin.post(f"/admin/users/{user.id}", data={"username": "lx-d", "name": "lx-d", "role": "liaison",
                                                    "unit_id": user.unit_id, "active": "y",
                                                    "password": "temporary-Pass-77"})
    assert r.status_code == 302
    assert victim.get("/items").status_code == 302
    assert admin.get("/admin/users").status_code == 200  # the admin's own session goes on
    assert db.session.get(User, user.id).must_change_password is True


def test_changing_ones_password_ends_the_other_sessions_only(app, factory, login, clock):
    factory.plan()
    factory.user("lx-e", unit="甲市")
    laptop = login(app.test_client(), "lx-e")
    phone = login(app.test_client(), "lx-e")
    r = laptop.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert _signed_in(laptop) and not _signed_in(phone)
    assert "auth.password_change" in actions()


def test_ending_the_other_sessions_from_the_account_page(app, factory, login, clock):
    factory.plan()
    factory.user("lx-f", unit="甲市")
    laptop = login(app.test_client(), "lx-f")
    phone = login(app.test_client(), "lx-f")
    page = laptop.get("/account").text
    assert "退出其他所有登录" in page and page.count("<tr") == 3
    assert laptop.post("/account/sessions/end-others").status_code == 302
    assert _signed_in(laptop) and not _signed_in(phone)


def test_session_cookie_flags(app, factory, clock):
    factory.user("staff-m", role="staff")
    r = app.test_client().post("/login", data={"username": "staff-m", "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = make_app(db.engine.url.render_as_string(hide_password=False), BASE_URL="https://tasks.example.org")
    try:
        assert secure.config["SESSION_COOKIE_SECURE"] is True
        r = secure.test_client().post("/login", data={"username": "staff-m", "password": PASSWORD},
                                      base_url="https://tasks.example.org")
        assert r.status_code == 302
        cookie = r.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        with secure.app_context():
            db.engine.dispose()
