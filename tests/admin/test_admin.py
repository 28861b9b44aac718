"""Admin pages: units, unit groups, users and liaison officers with their history."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.plans.models import Assignment, Task
from app.units.models import LiaisonTerm, Unit, UnitGroup


@pytest.fixture
def admin(app, factory, login):
    factory.plan()
    factory.user("admin", role="admin")
    return login(app.test_client(), "admin")


def test_create_and_edit_unit_with_validation(admin):
    r = admin.post("/admin/units/new", data={"name": "", "kind": "department"})
    assert r.status_code == 200 and "请填写单位名称" in r.text
    r = admin.post("/admin/units/new", data={"name": "自治区教育厅", "kind": "department"})
    assert "已有同名单位" in r.text
    r = admin.post("/admin/units/new", data={"name": "自治区民政厅", "kind": "department",
                                              "head_email": "not-an-email", "active": "y"})
    assert "邮箱地址格式不正确" in r.text
    assert db.session.execute(select(Unit).where(Unit.name == "自治区民政厅")).scalar_one_or_none() is None
    r = admin.post("/admin/units/new", data={"name": "自治区民政厅", "kind": "department",
                                              "head_name": "张三", "head_email": "zs@example.org", "active": "y"})
    assert r.status_code == 302
    unit = db.session.execute(select(Unit).where(Unit.name == "自治区民政厅")).scalar_one()
    assert (unit.head_name, unit.head_email, unit.active) == ("张三", "zs@example.org", True)
    r = admin.post(f"/admin/units/{unit.id}", data={"name": "自治区民政厅", "kind": "department",
                                                    "head_name": "李四", "head_email": "zs@example.org"})
    assert r.status_code == 302
    db.session.refresh(unit)
    assert unit.head_name == "李四" and unit.active is False
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "unit.update")).scalar_one()
    assert "李四" in event.content and "张三" in event.content


def test_group_members_decide_the_assignments(admin):
    group = db.session.execute(select(UnitGroup).where(UnitGroup.name == "各行业主管部门")).scalar_one()
    commerce = db.session.execute(select(Unit).where(Unit.name == "自治区教育厅")).scalar_one()
    r = admin.post(f"/admin/groups/{group.id}", data={"members": [str(commerce.id)]})
    assert r.status_code == 302
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    holders = {a.unit.name: (a.role, a.via_group, a.active) for a in db.session.execute(
        select(Assignment).where(Assignment.task_id == task2.id)).scalars()}
    assert holders["自治区教育厅"] == ("co", "各行业主管部门", True)
    r = admin.post(f"/admin/groups/{group.id}", data={"members": []})
    holders = {a.unit.name: a.active for a in db.session.execute(
        select(Assignment).where(Assignment.task_id == task2.id)).scalars()}
    assert holders["自治区教育厅"] is False
    r = admin.post(f"/admin/groups/{group.id}", data={"members": ["999999"]})
    assert r.status_code == 200 and 'class="error"' in r.text


def test_users_and_roles(admin):
    unit = db.session.execute(select(Unit).where(Unit.name == "甲市")).scalar_one()
    r = admin.post("/admin/users/new", data={"username": "bad name", "name": "x", "role": "liaison",
                                              "unit_id": unit.id, "password": "longenough"})
    assert "用户名只能包含" in r.text
    r = admin.post("/admin/users/new", data={"username": "jia1", "name": "甲市联络员", "role": "liaison",
                                              "unit_id": 0, "password": "longenough"})
    assert "联络员账号必须属于一个单位" in r.text
    r = admin.post("/admin/users/new", data={"username": "jia1", "name": "甲市联络员", "role": "liaison",
                                              "unit_id": unit.id, "password": "short"})
    assert "密码长度至少 8 位" in r.text
    assert db.session.execute(select(User).where(User.username == "jia1")).scalar_one_or_none() is None
    r = admin.post("/admin/users/new", data={"username": "jia1", "name": "甲市联络员", "role": "liaison",
                                              "unit_id": unit.id, "password": "longenough", "active": "y",
                                              "email": "jia1@example.org"})
    assert r.status_code == 302
    user = db.session.execute(select(User).where(User.username == "jia1")).scalar_one()
    assert user.check_password("longenough") and user.password_hash != "longenough"
    r = admin.post("/admin/users/new", data={"username": "jia1", "name": "重复", "role": "staff",
                                              "unit_id": 0, "password": "longenough"})
    assert "该用户名已被使用" in r.text
    r = admin.post(f"/admin/users/{user.id}", data={"username": "jia1", "name": "甲市联络员", "role": "staff",
                                                    "unit_id": unit.id, "active": "y"})
    assert r.status_code == 302
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.role_change")).scalar_one()


def test_changing_the_liaison_keeps_the_history(admin, factory):
    first = factory.user("jia-a", unit="甲市")
    second = factory.user("jia-b", unit="甲市", liaison=False)
    outsider = factory.user("yi-a", unit="乙盟")
    unit = db.session.get(Unit, first.unit_id)
    page = admin.get(f"/admin/units/{unit.id}").text
    assert "jia-a" in page and "至今" in page
    r = admin.post(f"/admin/units/{unit.id}/liaison", data={"liaison-user_id": second.id})
    assert r.status_code == 302
    terms = db.session.execute(select(LiaisonTerm).where(LiaisonTerm.unit_id == unit.id)
                               .order_by(LiaisonTerm.id)).scalars().all()
    assert [(t.user.username, t.ended_at is None) for t in terms] == [("jia-a", False), ("jia-b", True)]
    page = admin.get(f"/admin/units/{unit.id}").text
    history = page[page.index("任职记录"):]
    assert re.search(r"jia-b.*至今", history, re.S) and "jia-a" in history
    # a user of another unit cannot be named
    r = admin.post(f"/admin/units/{unit.id}/liaison", data={"liaison-user_id": outsider.id}, follow_redirects=True)
    assert "请选择本单位的联络员账号" in r.text
    assert db.session.execute(select(LiaisonTerm).where(LiaisonTerm.unit_id == unit.id,
                                                        LiaisonTerm.ended_at.is_(None))).scalar_one().user_id == second.id


def _lock(username: str) -> None:
    from app.auth import throttle

    for _ in range(50):
        if throttle.record_failure(username, "198.51.100.7", "password"):
            break
    db.session.commit()
    assert throttle.is_locked(username)


def test_admin_unlocks_a_locked_account_from_its_page(app, admin, factory):
    from app.auth import throttle

    user = factory.user("lx-locked", role="liaison")
    _lock("lx-locked")
    page = admin.get(f"/admin/users/{user.id}")
    assert "已锁定" in page.text and "解除登录锁定" in page.text
    r = admin.post(f"/admin/users/{user.id}/security", data={"action": "unlock"})
    assert r.status_code == 302
    assert not throttle.is_locked("lx-locked")
    assert "账号已解锁" in admin.get(r.headers["Location"]).text
    event = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
    assert (event.action, event.username) == ("auth.unlock", "admin")


def test_admin_resets_a_lost_second_factor_and_ends_sessions(app, admin, factory, login):
    import pyotp

    from app.auth import mfa, sessions

    user = factory.user("staff-lost-phone", role="staff")
    phone = login(app.test_client(), "staff-lost-phone")  # a session of theirs
    secret = pyotp.random_base32()
    assert mfa.enrol(user, secret, pyotp.TOTP(secret).now()) is not None
    db.session.commit()
    assert user.has_totp and len(sessions.open_sessions(user.id)) == 1
    r = admin.post(f"/admin/users/{user.id}/security", data={"action": "reset-mfa"})
    assert r.status_code == 302
    db.session.refresh(user)
    assert not user.has_totp
    assert sessions.open_sessions(user.id) == []
    assert phone.get("/items").status_code == 302  # the copied cookie no longer opens anything
    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars().all()
    assert "auth.mfa_reset" in actions


def test_account_security_actions_refuse_others_and_bad_input(app, admin, factory, login):
    user = factory.user("lx-x", role="liaison")
    assert admin.post(f"/admin/users/{user.id}/security", data={"action": "delete-everything"}).status_code == 400
    assert admin.post("/admin/users/999999/security", data={"action": "unlock"}).status_code == 404
    staff = login(app.test_client(), factory.user("staff-y", role="staff").username)
    assert staff.post(f"/admin/users/{user.id}/security", data={"action": "unlock"}).status_code == 403
