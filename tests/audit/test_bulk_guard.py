"""A bulk UPDATE / DELETE that bypasses the services (and so the audit log) is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.audit.services import UNAUDITED_TABLES, UnauditedChangeError
from app.auth.models import User
from app.extensions import db
from app.plans.models import Assignment
from app.reports.models import Figure, Report
from app.units.models import Unit

APP = Path(__file__).resolve().parents[2] / "app"


@pytest.fixture
def units(ctx):
    for name in ("甲单位", "乙单位"):
        db.session.add(Unit(name=name, kind="department"))
    db.session.commit()


@pytest.mark.parametrize("statement", [
    pytest.param(lambda: update(Unit).values(active=False), id="update(Unit)"),
    pytest.param(lambda: update(Unit).where(Unit.name == "甲单位").values(name="丙单位"), id="update-where"),
    pytest.param(lambda: delete(Unit).where(Unit.name == "乙单位"), id="delete(Unit)"),
    pytest.param(lambda: update(Unit.__table__).values(active=False), id="update(table)"),
    pytest.param(lambda: update(Report).values(state="accepted"), id="update(Report)"),
    pytest.param(lambda: delete(Figure), id="delete(Figure)"),
    pytest.param(lambda: update(Assignment).values(progress=100), id="update(Assignment)"),
    pytest.param(lambda: update(User).values(role="admin"), id="update(User)"),
])
def test_bulk_statements_on_audited_tables_are_refused(units, statement):
    with pytest.raises(UnauditedChangeError, match="bypasses the audit log"):
        db.session.execute(statement())
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Unit).where(Unit.active)).scalar_one() == 2
    assert sorted(db.session.execute(select(Unit.name)).scalars()) == ["乙单位", "甲单位"]


def test_the_legacy_query_api_is_refused_too(units):
    with pytest.raises(UnauditedChangeError):
        db.session.query(Unit).filter(Unit.name == "甲单位").update({"active": False})
    with pytest.raises(UnauditedChangeError):
        db.session.query(Unit).delete()
    db.session.rollback()


def test_a_service_that_records_the_change_may_mark_its_statement(units):
    ids = list(db.session.execute(select(Unit.id)).scalars())
    for unit_id in ids:
        audit.record("unit.update", "unit", unit_id, {"active": [True, False]})
    db.session.execute(update(Unit).where(Unit.id.in_(ids)).values(active=False)
                       .execution_options(audited=True, synchronize_session=False))
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(Unit).where(Unit.active)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 2


def test_bookkeeping_tables_and_columns_stay_open(units):
    from app.reminders.models import InboxEntry

    assert {"notice", "inbox_entry", "scheduler_job", "audit_head"} <= UNAUDITED_TABLES
    db.session.execute(update(InboxEntry).values(read_at=None))  # no domain data: allowed
    if hasattr(User, "totp_last_step"):  # a one-time code's replay guard may be set alone, not with more
        db.session.execute(update(User).where(User.id == -1).values(totp_last_step=1))
        with pytest.raises(UnauditedChangeError):
            db.session.execute(update(User).where(User.id == -1).values(totp_last_step=1, role="admin"))
    db.session.rollback()


def test_selects_and_orm_unit_of_work_changes_pass(units):
    unit = db.session.execute(select(Unit).where(Unit.name == "甲单位")).scalar_one()
    unit.active = False  # the unit of work is not a bulk statement (services record their changes)
    db.session.commit()
    assert db.session.get(Unit, unit.id).active is False


# --- raw SQL the guard cannot see -------------------------------------------------------------------------

RAW_DML = re.compile(r"""["']\s*(?:UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+"?([a-z_]+)""", re.IGNORECASE)
CORE_DML = re.compile(r"""\b(?:update|delete)\(\s*(\w+)\.__table__|(\w+)\.__table__\.(?:update|delete)\(""")
#: (file, table) pairs allowed to change rows with raw SQL, and why.
RAW_ALLOWED: dict[tuple[str, str], str] = {}


def test_no_raw_sql_changes_audited_tables(app):
    """Text SQL and Core ``Table.update()`` on a connection bypass the ORM event the guard listens to: the app
    must not change an audited table that way."""
    audited = {t.name for t in db.metadata.sorted_tables} - UNAUDITED_TABLES
    found = []
    for path in sorted(APP.rglob("*.py")):
        relative = str(path.relative_to(APP.parent))
        source = path.read_text(encoding="utf-8")
        for match in RAW_DML.finditer(source):
            table = match.group(1).lower()
            if table in audited and (relative, table) not in RAW_ALLOWED:
                line = source.count("\n", 0, match.start()) + 1
                found.append(f"{relative}:{line}: raw {match.group(0).strip()!r}")
        for match in CORE_DML.finditer(source):
            model = match.group(1) or match.group(2)
            mapper = next((m for m in db.Model.registry.mappers if m.class_.__name__ == model), None)
            if mapper is not None and mapper.local_table.name in audited:
                line = source.count("\n", 0, match.start()) + 1
                found.append(f"{relative}:{line}: Core DML on {model}.__table__")
    assert found == [], "change audited rows through a service that records an audit event"


def test_the_scan_would_catch_raw_sql():
    assert RAW_DML.search('conn.execute(text("UPDATE report SET state = \'accepted\'"))').group(1) == "report"
    assert RAW_DML.search("'DELETE FROM \"figure\" WHERE id = 1'").group(1) == "figure"
    assert CORE_DML.search("conn.execute(update(Report.__table__).values(state='x'))").group(1) == "Report"
