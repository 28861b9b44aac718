"""The JSON API authenticates by bearer token alone: a page's session cookie sent along is neither
checked nor touched (no page holds, no last-seen write, no timeout message put into the cookie)."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User, UserSession
from app.extensions import db


def _session_record() -> UserSession:
    db.session.rollback()
    return db.session.execute(select(UserSession)).scalar_one()


def _with_token(factory, login, app, username: str):
    from app.api.services import create_token

    factory.plan()
    user = factory.user(username, unit="自治区教育厅")
    token = create_token(user, "sync", None).secret
    db.session.commit()
    client = login(app.test_client(), username)
    return client, {"Authorization": f"Bearer {token}"}


def test_a_held_user_s_cookie_does_not_redirect_an_api_request(app, factory, login, clock):
    client, bearer = _with_token(factory, login, app, "lx-held")
    db.session.execute(select(User).where(User.username == "lx-held")).scalar_one().must_change_password = True
    db.session.commit()
    assert client.get("/items").status_code == 302  # pages: held on the password page
    r = client.get("/api/v1/me", headers=bearer)
    assert r.status_code == 200 and r.is_json and r.get_json()["username"] == "lx-held"


def test_api_requests_do_not_touch_the_page_session(app, factory, login, clock):
    client, bearer = _with_token(factory, login, app, "lx-api")
    seen = _session_record().last_seen_at
    clock.advance(minutes=5)  # past SESSION_TOUCH_SECONDS: a page request would write last_seen_at
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert _session_record().last_seen_at == seen
    assert client.get("/items").status_code == 200
    assert _session_record().last_seen_at > seen


def test_an_expired_page_session_does_not_disturb_an_api_request(app, factory, login, clock):
    client, bearer = _with_token(factory, login, app, "lx-idle")
    clock.advance(minutes=45)  # past the idle timeout
    r = client.get("/api/v1/me", headers=bearer)
    assert r.status_code == 200
    assert "Set-Cookie" not in r.headers  # nothing (timeout message, removed keys) written into the cookie
    assert _session_record().ended_at is None  # the page session ends on its next page request, not here
    page = client.get("/items")
    assert page.status_code == 302 and "/login" in page.location
    assert _session_record().end_reason == "idle"
