"""`flask backup create` / `flask backup restore` on the suite's database (SQLite, or PostgreSQL with
TEST_DATABASE_URL): a backup restored into an EMPTY database holds the data, the audit chain verifies
there and the audit table's append-only triggers are back."""

from __future__ import annotations

import os
import re
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.audit.chain import verify_chain
from app.audit.models import AuditEvent
from app.extensions import db
from app.ops import backup
from app.ops.backup import AUDIT_TRIGGERS, BackupError, libpq_args
from app.plans.models import Assignment, Plan
from app.reports.models import Figure, Report
from tests.conftest import _pg_admin_url, make_app


@pytest.fixture
def empty_database_url(app, tmp_path):
    """A database with nothing in it, of the suite's kind."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'restored' / 'app.db'}"
        return
    import psycopg

    name = f"pt_restore_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_admin_url(os.environ["TEST_DATABASE_URL"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield re.sub(r"/[^/?]+(\?|$)", f"/{name}\\1", url, count=1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def snapshot() -> dict[str, object]:
    """What must survive a backup and restore."""
    return {
        "plans": db.session.execute(select(Plan.slug, Plan.code).order_by(Plan.id)).all(),
        "assignments": db.session.scalar(select(func.count()).select_from(Assignment)),
        "reports": db.session.execute(select(Report.id, Report.state, Report.progress_text).order_by(Report.id)).all(),
        "figures": db.session.execute(select(Figure.report_id, Figure.indicator_id, Figure.value)
                                      .order_by(Figure.id)).all(),
        "events": db.session.scalar(select(func.count()).select_from(AuditEvent)),
        "head": db.session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc())
                                   .limit(1)).one(),
    }


def chain_verifies(target, runner, anchor: str) -> None:
    """`flask audit verify --anchor HASH@COUNT` (the head printed at backup time) when the audit area has
    it; the chain module directly in any case."""
    if "audit" in target.cli.commands and "verify" in target.cli.commands["audit"].commands:
        result = runner.invoke(args=["audit", "verify", "--anchor", anchor])
        assert result.exit_code == 0, result.output
        assert "audit log intact" in result.output
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    outcome = verify_chain(rows)
    assert outcome.ok, outcome.message


def test_backup_restored_into_an_empty_database_holds_the_data_and_the_chain(
        app, filled, empty_database_url, tmp_path):
    before = snapshot()
    assert before["reports"] and before["figures"] and before["events"] > 10
    path = tmp_path / "backup.bin"
    created = app.test_cli_runner().invoke(args=["backup", "create", str(path)])
    assert created.exit_code == 0, created.output
    assert f"backup written: {path}" in created.output
    anchor = f"{before['head'][1]}@{before['head'][0]}"
    assert f"audit chain head: {anchor}" in created.output

    target = make_app(empty_database_url)
    runner = target.test_cli_runner()
    with target.app_context():  # the commands run in the current app context: the target's
        try:
            restored = runner.invoke(args=["backup", "restore", str(path)])
            assert restored.exit_code == 0, restored.output
            assert "restored" in restored.output and "warning" not in restored.output
            assert snapshot() == before
            assert [r[1] for r in before["reports"]] == ["submitted"]
            chain_verifies(target, runner, anchor)
            kind = db.engine.dialect.name
            assert set(AUDIT_TRIGGERS[kind]) <= set(backup.audit_triggers())
            if kind == "postgresql":  # restored in the ENABLE ALWAYS state the migration set
                states = dict(db.session.execute(text(
                    "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass "
                    "AND NOT tgisinternal")).all())
                assert all(states[t] == "A" for t in AUDIT_TRIGGERS[kind])
            with pytest.raises(DBAPIError):  # and they work: the restored log is still append-only
                db.session.execute(text("UPDATE audit_event SET action = 'forged' WHERE seq = 1"))
            db.session.rollback()
            with pytest.raises(DBAPIError):
                db.session.execute(text("DELETE FROM audit_event WHERE seq = 1"))
            db.session.rollback()

            # A second restore meets a database that is no longer empty: refused, then forced.
            again = runner.invoke(args=["backup", "restore", str(path)])
            assert again.exit_code == 1
            assert "the configured database is not empty" in again.output and "--force" in again.output
            assert "Traceback" not in again.output
            forced = runner.invoke(args=["backup", "restore", "--force", str(path)])
            assert forced.exit_code == 0, forced.output
            db.session.remove()
            assert snapshot() == before
            chain_verifies(target, runner, anchor)
        finally:
            db.session.remove()
            db.engine.dispose()


def test_restore_refuses_a_non_empty_database_and_leaves_it_alone(app, filled, tmp_path):
    path = tmp_path / "backup.bin"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["backup", "create", str(path)]).exit_code == 0
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    result = runner.invoke(args=["backup", "restore", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("error: the configured database is not empty (")
    assert "audit_event" in result.output and "the database was not changed." in result.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_create_does_not_overwrite_a_file_without_force(app, filled, tmp_path):
    path = tmp_path / "backup.bin"
    path.write_text("keep me")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", "create", str(path)])
    assert result.exit_code == 1 and "already exists" in result.output and "--force" in result.output
    assert path.read_text() == "keep me"
    assert runner.invoke(args=["backup", "create", "--force", str(path)]).exit_code == 0
    assert path.read_bytes()[:5] in (b"SQLit", b"PGDMP")
    assert not list(tmp_path.glob(".*partial"))


def test_restore_refuses_a_file_that_is_not_a_backup(app, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a backup")
    result = app.test_cli_runner().invoke(args=["backup", "restore", str(path)])
    assert result.exit_code == 1 and "is not a backup made by `flask backup create`" in result.output
    missing = app.test_cli_runner().invoke(args=["backup", "restore", str(tmp_path / "nope.bin")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_restore_refuses_a_backup_of_the_other_kind_of_database(app, tmp_path):
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    path = tmp_path / "other.bin"
    path.write_bytes(b"PGDMP\x01\x0e\x00" if sqlite else b"SQLite format 3\x00" + b"\x00" * 100)
    result = app.test_cli_runner().invoke(args=["backup", "restore", str(path)])
    assert result.exit_code == 1
    expected = ("is a PostgreSQL backup but the configured database is SQLite" if sqlite
                else "is a SQLite backup but the configured database is PostgreSQL")
    assert expected in result.output


def test_missing_postgresql_tools_are_named_with_the_fix(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "PG_DUMP", "/nonexistent/bin/pg_dump")
    with pytest.raises(BackupError) as caught:
        backup._tool("PG_DUMP")
    message = str(caught.value)
    assert message.startswith("pg_dump not found (/nonexistent/bin/pg_dump)")
    assert "postgresql-client" in message and "set PG_DUMP" in message


def test_libpq_url_keeps_the_password_off_the_command_line():
    dsn, env = libpq_args("postgresql+psycopg://tracker:p%40ss%2Fw0rd@db.internal:5433/policy?sslmode=require")
    assert dsn == "postgresql://tracker@db.internal:5433/policy?sslmode=require"
    assert env == {"PGPASSWORD": "p@ss/w0rd"}
    assert libpq_args("postgresql+psycopg://postgres@127.0.0.1/test") == ("postgresql://postgres@127.0.0.1/test", {})
