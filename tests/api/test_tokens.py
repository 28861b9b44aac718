"""API tokens: created on the user's page and shown once, stored hashed, revoked by the owner or
an admin, refused once expired, revoked or the account disabled; every change audited."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.api import services
from app.api.models import ApiToken
from app.audit.models import AuditEvent
from app.extensions import db

from .conftest import Api


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)).scalars())


def _created_secret(html: str) -> str:
    found = re.findall(r'value="(ptk_[A-Za-z0-9_-]+)"', html)
    assert len(found) == 1, "the new token is shown exactly once on the answer to its creation"
    return found[0]


def test_token_created_on_own_page_is_shown_once_and_stored_hashed(app, world, login):
    client = login(app.test_client(), "lx-own")
    r = client.post("/account/tokens", data={"name": "统计系统推送", "expires_on": ""})
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    secret = _created_secret(r.text)
    assert "只显示这一次" in r.text
    token = db.session.execute(select(ApiToken).where(ApiToken.name == "统计系统推送")).scalar_one()
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12] and secret not in (token.prefix, token.token_hash)
    assert token.user_id == world["users"]["liaison"] and token.expires_at is None
    # never again: the list shows the prefix only
    page = client.get("/account/tokens").text
    assert secret not in page and token.prefix in page and "统计系统推送" in page
    # and it works
    me = Api(app.test_client(), {"x": secret}).get("x", "/api/v1/me")
    assert me.status_code == 200 and me.json["username"] == "lx-own"
    event = _events("api_token.create")[-1]
    assert event.username == "lx-own" and event.entity_id == str(token.id)
    assert secret not in str(event.content) and token.token_hash not in str(event.content)


def test_token_form_errors_in_chinese(app, world, login):
    client = login(app.test_client(), "lx-own")
    r = client.post("/account/tokens", data={"name": "", "expires_on": ""})
    assert r.status_code == 400 and "请填写令牌名称" in r.text
    r = client.post("/account/tokens", data={"name": "x", "expires_on": "2020-01-01"})
    assert r.status_code == 400 and "有效期不能早于今天" in r.text
    r = client.post("/account/tokens", data={"name": "x", "expires_on": "明天"})
    assert r.status_code == 400 and "日期格式应为" in r.text
    assert db.session.execute(select(ApiToken).where(ApiToken.name == "x")).first() is None


def test_expiry_is_the_end_of_the_day_and_an_expired_token_is_refused(app, world):
    user = db.session.get(services.User, world["users"]["staff"])
    day = services.local_today() + timedelta(days=3)
    new = services.create_token(user, "短期", day)
    db.session.commit()
    assert new.token.expires_at == services.expiry_moment(day)
    api = Api(app.test_client(), {"t": new.secret})
    assert api.get("t", "/api/v1/me").status_code == 200
    new.token.expires_at = services.utcnow() - timedelta(seconds=1)
    db.session.commit()
    r = api.get("t", "/api/v1/me")
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_token"
    assert "已过期" in r.json["error"]["message"] and "invalid_token" in r.headers["WWW-Authenticate"]


def test_revoked_token_stops_working_and_revocation_is_audited(app, world, api, login):
    assert api.get("liaison", "/api/v1/me").status_code == 200
    token = db.session.execute(select(ApiToken).where(ApiToken.user_id == world["users"]["liaison"])).scalar_one()
    client = login(app.test_client(), "lx-own")
    r = client.post(f"/account/tokens/{token.id}/revoke", data={"reason": "系统下线"})
    assert r.status_code == 302
    assert api.get("liaison", "/api/v1/me").status_code == 401
    db.session.refresh(token)
    assert token.revoked_at is not None and token.revoked_by_id == world["users"]["liaison"]
    event = _events("api_token.revoke")[-1]
    assert event.username == "lx-own" and event.entity_id == str(token.id) and json.loads(event.content)["reason"] == "系统下线"
    # a second revocation changes nothing and says so
    r = client.post(f"/account/tokens/{token.id}/revoke", data={}, follow_redirects=True)
    assert "已吊销" in r.text and len(_events("api_token.revoke")) == 1


def test_another_users_token_cannot_be_revoked_but_an_admin_can(app, world, api, login):
    staff_token = db.session.execute(select(ApiToken).where(ApiToken.user_id == world["users"]["staff"])).scalar_one()
    other = login(app.test_client(), "lx-other")
    assert other.post(f"/account/tokens/{staff_token.id}/revoke", data={}).status_code == 404
    assert other.get("/admin/tokens").status_code == 403
    assert api.get("staff", "/api/v1/me").status_code == 200
    admin = login(app.test_client(), "admin")
    listing = admin.get("/admin/tokens?user=staff").text
    assert staff_token.prefix in listing and "lx-own" not in listing
    r = admin.post(f"/account/tokens/{staff_token.id}/revoke", data={"back": "admin"})
    assert r.status_code == 302 and r.location.endswith("/admin/tokens")
    assert api.get("staff", "/api/v1/me").status_code == 401
    event = _events("api_token.revoke")[-1]
    assert event.username == "admin" and json.loads(event.content)["extra"]["owner"] == "staff"


def test_a_disabled_users_tokens_stop_working(app, world, api):
    from app.auth.services import update_user

    user = db.session.get(services.User, world["users"]["liaison"])
    update_user(user, {"active": False})
    db.session.commit()
    r = api.get("liaison", "/api/v1/me")
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic bHgtb3duOnBhc3M=", "Bearer ptk_nope",
                                    "Bearer not-a-token", "Token ptk_abc"])
def test_missing_or_wrong_credentials_answer_401_in_json(app, world, header):
    client = app.test_client()
    r = client.get("/api/v1/plans", headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert r.is_json and r.json["error"]["message"] and r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_page_login_cookie_does_not_open_the_api(app, world, login):
    client = login(app.test_client(), "lx-own")
    assert client.get("/items").status_code == 200  # the cookie works for pages
    assert client.get("/api/v1/me").status_code == 401
    r = client.put(f"/api/v1/assignments/{world['item']}/reports/{world['period']}",
                   json={"version": 0, "progress_text": "x"})
    assert r.status_code == 401
    assert db.session.execute(select(services.User)).first() is not None
    from app.reports.models import Report

    assert db.session.execute(select(Report)).first() is None


def test_bearer_writes_need_no_csrf_token_and_pages_still_do(world):
    """With CSRF on, the API (bearer only) is exempt; the token form is not."""
    from tests.conftest import make_app

    app = make_app(db.engine.url.render_as_string(hide_password=False), WTF_CSRF_ENABLED=True)
    api = Api(app.test_client(), world["tokens"])
    r = api.put("liaison", f"/api/v1/assignments/{world['item']}/reports/{world['period']}",
                {"version": 0, "progress_text": "进展"})
    assert r.status_code == 201, r.text
    client = app.test_client()
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "lx-own", "password": "test-pass-123",
                                       "csrf_token": csrf}).status_code == 302
    r = client.post("/account/tokens", data={"name": "无校验"})
    assert r.status_code == 400
    assert db.session.execute(select(ApiToken).where(ApiToken.name == "无校验")).first() is None


def test_last_use_is_recorded(app, world, api):
    api.get("auditor", "/api/v1/me")
    token = db.session.execute(select(ApiToken).where(ApiToken.user_id == world["users"]["auditor"])).scalar_one()
    assert token.last_used_at is not None


def test_service_refuses_bad_names_and_too_many_tokens(world):
    user = db.session.get(services.User, world["users"]["auditor"])
    with pytest.raises(services.TokenError, match="名称"):
        services.create_token(user, "   ", None)
    with pytest.raises(services.TokenError, match="不能超过"):
        services.create_token(user, "x" * 101, None)
    with pytest.raises(services.TokenError, match="5 年"):
        services.create_token(user, "远期", services.local_today() + timedelta(days=365 * 6))
    for i in range(services.MAX_ACTIVE_TOKENS - 1):
        services.create_token(user, f"t{i}", None)
    with pytest.raises(services.TokenError, match="最多保留"):
        services.create_token(user, "one too many", None)
    db.session.rollback()
