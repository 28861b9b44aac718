"""No domain row without its event: after a plan import and a season of reporting through the services,
every plan, section, task, indicator, period, unit, group, user, assignment, report and figure in the
database has a creation event in the audit log, and the log verifies."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Indicator, Period, Plan, Section, Task
from app.reports import services as reports
from app.reports.models import Figure, Report
from app.units.models import Unit, UnitGroup
from tests.conftest import NMG_PLAN

ENTITIES = {"plan": Plan, "section": Section, "task": Task, "indicator": Indicator, "period": Period,
            "unit": Unit, "unit_group": UnitGroup, "assignment": Assignment, "report": Report, "figure": Figure}


def test_every_domain_row_has_its_event(factory):
    from app.auth.models import User

    factory.plan(NMG_PLAN)
    factory.group_members("各行业主管部门", "自治区商务厅", "自治区农牧厅")
    own = factory.user("lx-own", unit="自治区商务厅")
    staff = factory.user("staff", role="staff")
    months = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().all()
    for item in db.session.execute(select(Assignment).where(Assignment.unit_id == own.unit_id)).scalars().all():
        figures = {i.id: Decimal("2.5") for i in reports.indicators_for(item)}
        report = reports.save_report(item, months[0], own, reports.ReportInput("进展", "", "", figures), None)
        reports.transition(report, "submit", own)
        reports.transition(report, "accept", staff)
    db.session.commit()
    recorded = set(db.session.execute(select(AuditEvent.entity_type, AuditEvent.entity_id)).all())
    missing = {}
    for entity_type, model in {**ENTITIES, "user": User}.items():
        ids = {str(i) for i in db.session.execute(select(model.id)).scalars()}
        assert ids, entity_type
        without = sorted(ids - {i for t, i in recorded if t == entity_type}, key=int)
        if without:
            missing[entity_type] = without[:5]
    assert missing == {}, "rows created without an audit event"
    actions = set(db.session.execute(select(AuditEvent.action)).scalars())
    assert {"period.create", "task.groups", "group.members", "figure.set", "report.accept"} <= actions
    assert audit.verify_log().ok


def test_reimporting_an_edited_plan_file_records_each_change(factory, tmp_path):
    factory.plan()
    from app.plans.services import import_plan_file
    from tests.conftest import MINI_PLAN

    before = db.session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).scalars().first()
    edited = tmp_path / "mini.yaml"
    edited.write_text(MINI_PLAN.read_text(encoding="utf-8") + "\n# a comment only\n", encoding="utf-8")
    import_plan_file(edited)
    events = db.session.execute(select(AuditEvent).where(AuditEvent.seq > before)).scalars().all()
    assert [e.action for e in events] == ["plan.source"]  # the file changed; the plan did not
