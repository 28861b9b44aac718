"""The migrations and the models agree: `flask db upgrade` on an empty database builds
exactly the schema the models describe, and the audit table is append-only there."""

from __future__ import annotations

import os
import re
import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import _pg_admin_url, make_app


@pytest.fixture
def empty_database_url(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    import psycopg

    name = f"pt_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_pg_admin_url(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield re.sub(r"/[^/?]+(\?|$)", f"/{name}\\1", url.replace("postgresql://", "postgresql+psycopg://", 1), count=1)
    with psycopg.connect(_pg_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_builds_the_models_schema(empty_database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.extensions import db

    app = make_app(empty_database_url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(empty_database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_audit_table_refuses_update_and_delete(empty_database_url):
    app = make_app(empty_database_url)
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    engine = create_engine(empty_database_url)
    with app.app_context():
        from app.audit.services import record
        from app.extensions import db

        record("test.event", "thing", 1, {"a": [1, 2]})
        db.session.commit()
        db.engine.dispose()
    statements = ["UPDATE audit_event SET action = 'forged'", "DELETE FROM audit_event"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_event")
    for statement in statements:
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    if engine.dialect.name == "postgresql":  # the triggers fire in replica mode too
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("SET session_replication_role = replica"))
            conn.execute(text("DELETE FROM audit_event"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar() == 1
    engine.dispose()
