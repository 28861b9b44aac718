"""Second factor: TOTP enrolment and login, recovery codes (each once), required for staff and admins."""

from __future__ import annotations

import re
from datetime import UTC

import pyotp
import pytest
from sqlalchemy import select

from app.auth.models import RecoveryCode, User
from app.extensions import db
from tests.conftest import PASSWORD

from .conftest import actions


@pytest.fixture
def mfa_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "MFA_REQUIRED_ROLES", ("staff", "admin"))


def _code(secret: str, clock, offset_steps: int = 0) -> str:
    moment = int(clock.value.replace(tzinfo=UTC).timestamp()) + 30 * offset_steps
    return pyotp.TOTP(secret).at(moment)


def _enrol(client, clock) -> tuple[str, list[str]]:
    page = client.get("/account/mfa").text
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    r = client.post("/account/mfa", data={"code": _code(secret, clock)})
    assert r.status_code == 200 and "两步验证已启用" in r.text
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", r.text)
    return secret, codes


def _password_step(app, username: str):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302 and r.location.endswith("/login/verify")
    return client


def test_staff_must_enrol_after_the_password_step(app, factory, login, clock, mfa_on):
    factory.user("staff-t", role="staff")
    client = app.test_client()
    r = client.post("/login", data={"username": "staff-t", "password": PASSWORD})
    assert r.status_code == 302 and r.location.endswith("/account/mfa")
    r = client.get("/plans/")
    assert r.status_code == 302 and r.location.endswith("/account/mfa")
    page = client.get("/account/mfa").text
    assert "<svg" in page and 'id="totp-secret"' in page and "otpauth://totp/" in page
    r = client.post("/account/mfa", data={"code": "000000"})
    assert r.status_code == 200 and "验证码不正确" in r.text
    secret, codes = _enrol(client, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/plans/").status_code == 200
    user = db.session.execute(select(User).where(User.username == "staff-t")).scalar_one()
    assert user.has_totp and user.totp_secret == secret
    stored = db.session.execute(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).scalars().all()
    assert len(stored) == 10 and not any(c.replace("-", "") in h for c in codes for h in stored)  # hashed
    assert "auth.mfa_enrol" in actions()


def test_login_with_a_totp_code_and_no_replay(app, factory, login, clock, mfa_on):
    factory.user("staff-u", role="staff")
    secret, _ = _enrol(login(app.test_client(), "staff-u"), clock)
    clock.advance(seconds=60)
    client = _password_step(app, "staff-u")
    assert client.get("/plans/").status_code == 302  # not signed in between the steps
    r = client.post("/login/verify", data={"code": "123456"})
    assert r.status_code == 200 and "验证码或恢复码不正确" in r.text
    code = _code(secret, clock)
    r = client.post("/login/verify", data={"code": code})
    assert r.status_code == 302
    assert client.get("/plans/").status_code == 200
    # the same code, a second time within its 30 seconds, is refused
    again = _password_step(app, "staff-u")
    assert "验证码或恢复码不正确" in again.post("/login/verify", data={"code": code}).text
    clock.advance(seconds=30)
    assert again.post("/login/verify", data={"code": _code(secret, clock)}).status_code == 302
    assert actions("auth.login") == ["auth.login", "auth.login", "auth.login"]


def test_login_with_a_recovery_code_works_once(app, factory, login, clock, mfa_on):
    factory.user("admin-r", role="admin")
    _, codes = _enrol(login(app.test_client(), "admin-r"), clock)
    client = _password_step(app, "admin-r")
    r = client.post("/login/verify", data={"code": codes[0].upper()})
    assert r.status_code == 302
    assert "还剩 9 个" in client.get("/admin/units").text
    second = _password_step(app, "admin-r")
    r = second.post("/login/verify", data={"code": codes[0]})
    assert r.status_code == 200 and "已使用过" in r.text
    assert second.post("/login/verify", data={"code": codes[1].replace("-", "")}).status_code == 302
    assert "auth.recovery_code_used" in actions()


def test_wrong_codes_count_towards_the_lockout(app, factory, login, clock, mfa_on):
    factory.user("staff-v", role="staff")
    secret, _ = _enrol(login(app.test_client(), "staff-v"), clock)
    client = _password_step(app, "staff-v")
    for _ in range(5):
        r = client.post("/login/verify", data={"code": "999999"})
    assert "暂时锁定" in r.text
    clock.advance(seconds=30)
    r = client.post("/login/verify", data={"code": _code(secret, clock)})
    assert r.status_code == 200 and "暂时锁定" in r.text
    assert "auth.lockout" in actions() and "auth.mfa_failed" in actions()


def test_the_second_step_expires(app, factory, login, clock, mfa_on):
    factory.user("staff-w", role="staff")
    secret, _ = _enrol(login(app.test_client(), "staff-w"), clock)
    client = _password_step(app, "staff-w")
    clock.advance(minutes=6)
    r = client.post("/login/verify", data={"code": _code(secret, clock)})
    assert r.status_code == 302 and r.location.endswith("/login")


def test_liaisons_may_choose_and_turn_it_off_staff_may_not(app, factory, login, clock, mfa_on):
    factory.plan()
    factory.user("lx-x", unit="甲市")
    liaison = login(app.test_client(), "lx-x")
    assert liaison.get("/items").status_code == 200  # not required for a liaison
    _enrol(liaison, clock)
    r = liaison.post("/account/mfa/disable", data={"disable-password": "wrong-wrong"})
    assert r.status_code == 200 and "当前密码不正确" in r.text
    r = liaison.post("/account/mfa/disable", data={"disable-password": PASSWORD})
    assert r.status_code == 302
    user = db.session.execute(select(User).where(User.username == "lx-x")).scalar_one()
    assert not user.has_totp
    assert db.session.execute(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).first() is None
    factory.user("staff-y", role="staff")
    staff = login(app.test_client(), "staff-y")
    _enrol(staff, clock)
    staff.post("/account/mfa/disable", data={"disable-password": PASSWORD})
    assert db.session.execute(select(User).where(User.username == "staff-y")).scalar_one().has_totp


def test_new_recovery_codes_replace_the_old_ones(app, factory, login, clock, mfa_on):
    factory.user("staff-z", role="staff")
    client = login(app.test_client(), "staff-z")
    _, old = _enrol(client, clock)
    r = client.post("/account/mfa/recovery-codes", data={"recovery-password": PASSWORD})
    new = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", r.text)
    assert len(new) == 10 and not set(new) & set(old)
    second = _password_step(app, "staff-z")
    assert second.post("/login/verify", data={"code": old[0]}).status_code == 200
    assert second.post("/login/verify", data={"code": new[0]}).status_code == 302


def test_reset_mfa_from_the_command_line(app, factory, login, clock, mfa_on):
    factory.user("staff-lost", role="staff")
    phone = login(app.test_client(), "staff-lost")
    _enrol(phone, clock)
    result = app.test_cli_runner().invoke(args=["users", "reset-mfa", "staff-lost"])
    assert result.exit_code == 0 and "second factor removed" in result.output and "1 session(s) ended" in result.output
    assert phone.get("/plans/").status_code == 302
    client = app.test_client()
    r = client.post("/login", data={"username": "staff-lost", "password": PASSWORD})
    assert r.location.endswith("/account/mfa")  # enrols again
    assert "auth.mfa_reset" in actions()
    assert app.test_cli_runner().invoke(args=["users", "reset-mfa", "nobody"]).exit_code == 1
