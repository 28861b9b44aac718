"""The 修改密码 page, and the change an admin-created account must make at its first login."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.units.models import Unit
from tests.conftest import PASSWORD

from .conftest import actions

NEW_PASSWORD = "呼和浩特的秋天 2025"


def _create_by_admin(app, factory, login, password: str = "Initial-pass-2025"):
    factory.plan()
    factory.user("admin", role="admin")
    admin = login(app.test_client(), "admin")
    unit = db.session.execute(select(Unit).where(Unit.name == "甲市")).scalar_one()
    return admin, admin.post("/admin/users/new", data={
        "username": "jia-new", "name": "甲市联络员", "role": "liaison", "unit_id": unit.id,
        "password": password, "active": "y"})


def test_admin_created_password_must_follow_the_rules(app, factory, login):
    _admin, r = _create_by_admin(app, factory, login, password="qwertyuiop")
    assert r.status_code == 200 and "常见密码" in r.text
    assert 'class="error"' in r.text  # next to the field
    assert db.session.execute(select(User).where(User.username == "jia-new")).scalar_one_or_none() is None


def test_an_admin_created_account_changes_its_password_at_first_login(app, factory, login):
    _admin, r = _create_by_admin(app, factory, login)
    assert r.status_code == 302
    assert db.session.execute(select(User).where(User.username == "jia-new")).scalar_one().must_change_password
    client = app.test_client()
    r = client.post("/login", data={"username": "jia-new", "password": "Initial-pass-2025"})
    assert r.status_code == 302 and r.location.endswith("/account/password")
    r = client.get("/items")  # every other page sends the user back
    assert r.status_code == 302 and r.location.endswith("/account/password")
    assert "初始密码" in client.get("/account/password").text
    form = {"current_password": "Initial-pass-2025", "new_password": "jia-new-2025-x", "confirm": "jia-new-2025-x"}
    r = client.post("/account/password", data=form)
    assert r.status_code == 200 and "不能包含用户名" in r.text
    r = client.post("/account/password", data={**form, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert client.get("/items").status_code == 200
    user = db.session.execute(select(User).where(User.username == "jia-new")).scalar_one()
    assert user.must_change_password is False and user.check_password(NEW_PASSWORD)
    assert user.password_changed_at is not None
    assert "auth.password_change" in actions()


def test_password_page_messages_are_next_to_their_fields(app, factory, login, clock):
    factory.user("staff-p", role="staff")
    client = login(app.test_client(), "staff-p")
    r = client.post("/account/password", data={"current_password": "wrong-one", "new_password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert r.status_code == 200 and "当前密码不正确" in r.text
    r = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "short",
                                               "confirm": "short"})
    assert "至少需要 10 个字符" in r.text
    r = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD + "x"})
    assert "两次输入的新密码不一致" in r.text
    r = client.post("/account/password", data={"current_password": PASSWORD, "new_password": PASSWORD,
                                               "confirm": PASSWORD})
    assert "不能与当前密码相同" in r.text
    user = db.session.execute(select(User).where(User.username == "staff-p")).scalar_one()
    assert user.check_password(PASSWORD)  # nothing changed
    assert actions("auth.password_change_failed") == ["auth.password_change_failed"]


def test_guessing_the_current_password_counts_as_failed_logins(app, factory, login, clock):
    factory.user("staff-q", role="staff")
    client = login(app.test_client(), "staff-q")
    for _ in range(5):
        client.post("/account/password", data={"current_password": "guess-guess", "new_password": NEW_PASSWORD,
                                               "confirm": NEW_PASSWORD})
    assert "auth.lockout" in actions()
    assert client.get("/plans/").status_code == 302  # the lockout ended the session
