"""Test fixtures: the app on SQLite (default) or PostgreSQL (TEST_DATABASE_URL), a schema built
with the migrations once per run, and a database emptied after every test.

On PostgreSQL each run creates its own database next to the one named in TEST_DATABASE_URL
and drops it at the end, so parallel runs do not meet and nothing is left behind."""

from __future__ import annotations

import contextvars
import os
import re
import uuid
from datetime import date
from pathlib import Path

import pytest
from flask import has_app_context
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parent.parent
MINI_PLAN = ROOT / "tests" / "fixtures" / "mini-plan.yaml"
NMG_PLAN = ROOT / "workflows" / "plans" / "nmg-2025-employment.yaml"
PASSWORD = "test-pass-123"
FROZEN_TODAY = date(2025, 11, 20)


def _pg_admin_url(url: str) -> str:
    return re.sub(r"^postgresql(\+\w+)?://", "postgresql://", url)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    import psycopg

    name = f"pt_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield re.sub(r"/[^/?]+(\?|$)", f"/{name}\\1", url.replace("postgresql://", "postgresql+psycopg://", 1), count=1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(database_url: str, **extra):
    from app import create_app

    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "TODAY": FROZEN_TODAY,
        "SERVER_NAME": None,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "MFA_REQUIRED_ROLES": (),  # password-only logins here; tests/auth turn the second factor on
    }
    config.update(extra)
    return create_app(config)


class IsolatedClient(FlaskClient):
    """A test client whose requests run as in production: each in its own app context and
    database session, even while the test holds an app context of its own. The test's own
    session is rolled back around each request so it reads what the request committed."""

    def open(self, *args, **kwargs):
        from app.extensions import db

        outer = has_app_context()
        if outer:
            db.session.rollback()
        # a streamed body (stream_with_context: the CSV exports) is read inside the request's own context
        kwargs.setdefault("buffered", True)
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if outer:
            db.session.rollback()
        return response


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    os.environ.setdefault("INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    application = make_app(database_url)
    application.test_client_class = IsolatedClient
    with application.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")  # tolerate parallel branches; tests/test_migrations.py wants one head
    return application


def _empty_database(app) -> None:
    """Delete every row; the append-only audit triggers are set aside only for this."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        db.session.remove()
        engine = db.engine
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
                quoted = ", ".join(f'"{t}"' for t in tables)
                conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
                conn.execute(text("ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_no_update"))
                conn.execute(text("ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_no_truncate"))
            else:
                triggers = conn.execute(text(
                    "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_event'")).all()
                for name, _ in triggers:
                    conn.execute(text(f"DROP TRIGGER {name}"))
                for table in tables:
                    conn.execute(text(f'DELETE FROM "{table}"'))
                for _, sql in triggers:
                    conn.execute(text(sql))


@pytest.fixture(autouse=True)
def _clean_db(request):
    yield
    if "app" in request.fixturenames:
        _empty_database(request.getfixturevalue("app"))


@pytest.fixture
def ctx(app):
    with app.app_context() as c:
        yield c


@pytest.fixture
def client(app):
    return app.test_client()


class Factory:
    """Factories for plans, units and users (fixtures as factories, in Indico's way)."""

    def __init__(self, app):
        self.app = app

    def plan(self, path: Path = MINI_PLAN):
        from app.plans.services import import_plan_file

        return import_plan_file(path).plan

    def user(self, username: str, role: str = "liaison", unit: str | None = None, *, liaison: bool = True):
        from sqlalchemy import select

        from app.auth.services import create_user
        from app.extensions import db
        from app.units.models import Unit
        from app.units.services import set_liaison

        unit_obj = db.session.execute(select(Unit).where(Unit.name == unit)).scalar_one() if unit else None
        user = create_user(username, username, role, PASSWORD, email=f"{username}@example.org",
                           unit_id=unit_obj.id if unit_obj else None)
        if unit_obj is not None and role == "liaison" and liaison:
            set_liaison(unit_obj, user, None)
        db.session.commit()
        return user

    def group_members(self, group: str, *units: str):
        from sqlalchemy import select

        from app.extensions import db
        from app.plans.services import get_or_create_unit
        from app.units.models import UnitGroup
        from app.units.services import set_group_members

        g = db.session.execute(select(UnitGroup).where(UnitGroup.name == group)).scalar_one()
        ids = [get_or_create_unit(u, "department").id for u in units]
        set_group_members(g, ids)
        db.session.commit()


@pytest.fixture
def factory(ctx, app):
    return Factory(app)


@pytest.fixture
def login(app):
    def do(client, username: str, password: str = PASSWORD):
        response = client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 302, response.text
        return client

    return do
