"""Every export is a security event: each download route writes an audit event naming who took what."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Period, Task
from app.reports import services as reports
from tests.conftest import FROZEN_TODAY


@pytest.fixture
def world(factory) -> dict[str, Any]:
    factory.plan()
    own = factory.user("lx-own", unit="自治区工业和信息化厅")
    staff = factory.user("staff", role="staff")
    factory.user("auditor", role="auditor")
    task = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task.id,
                                                       Assignment.unit_id == own.unit_id)).scalar_one()
    period = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().first()
    data = reports.ReportInput("进展", "", "", {i.id: Decimal("7") for i in reports.indicators_for(item)})
    report = reports.save_report(item, period, own, data, None)
    reports.transition(report, "submit", own)
    db.session.commit()
    return {"figure": report.figures[0].id, "staff": staff}


def _case(w: dict[str, Any]) -> str:
    from app.cases.services import open_case

    case = open_case(w["staff"], "核查：数值偏高", "与上月相比增幅异常", [w["figure"]])
    db.session.commit()
    return f"/cases/{case.id}/evidence.zip"


def _publication(w: dict[str, Any]) -> str:
    from app.plans.models import Plan
    from app.rankings.services import publish

    plan = db.session.execute(select(Plan)).scalars().first()
    period = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().first()
    publication = publish(plan, period, w["staff"], None, FROZEN_TODAY)
    db.session.commit()
    return f"/rankings/{publication.id}.csv"


def _brief(w: dict[str, Any]) -> str:
    from app.briefs.services import issue_brief
    from app.plans.models import Plan

    plan = db.session.execute(select(Plan)).scalars().first()
    period = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().first()
    brief = issue_brief(plan, "monthly", period, w["staff"])
    db.session.commit()
    return f"/briefs/{brief.id}.docx"


# endpoint -> (user, url or a builder of it, the action its event carries)
EXPORTS: dict[str, tuple[str, str | Callable[[dict[str, Any]], str], str]] = {
    "audit.export": ("auditor", "/audit/log.csv?action=area:report", "audit.export"),
    "review.overdue_csv": ("staff", "/review/overdue.csv?period=all", "review.export"),
    "integrity.export": ("staff", "/integrity/flags.csv", "flag.export"),
    "cases.evidence": ("staff", _case, "case.export"),
    "exports.matrix": ("auditor", "/exports/plans/mini-2025/matrix.xlsx", "export.download"),
    "exports.figures": ("staff", "/exports/plans/mini-2025/figures.csv", "export.download"),
    "exports.overdue": ("staff", "/exports/overdue.xlsx?period=all", "export.download"),
    "rankings.export": ("auditor", "/plans/mini-2025/ranking.xlsx", "ranking.export"),
    "rankings.publication_export": ("staff", _publication, "ranking.export"),
    "briefs.download": ("auditor", _brief, "brief.download"),
}


def _is_export(rule: Any) -> bool:
    return rule.rule.endswith((".csv", ".zip", ".xlsx", ".docx")) or any(w in rule.endpoint for w in ("export", "evidence"))


def test_every_export_route_is_in_the_table(app):
    exports = {rule.endpoint for rule in app.url_map.iter_rules() if _is_export(rule)}
    assert sorted(exports - set(EXPORTS)) == [], "an export route must write an audit event: add it here"


@pytest.mark.parametrize("endpoint", sorted(EXPORTS))
def test_an_export_writes_an_audit_event(app, world, login, endpoint):
    if endpoint not in app.view_functions:
        pytest.skip(f"{endpoint} is not a route of this app")
    user, url, action = EXPORTS[endpoint]
    url = url(world) if callable(url) else url
    client = login(app.test_client(), user)
    before = db.session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).scalars().first()
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.data  # the download itself
    events = db.session.execute(select(AuditEvent).where(AuditEvent.seq > before,
                                                         AuditEvent.action == action)).scalars().all()
    assert len(events) == 1, f"{endpoint}: no {action} event"
    event = events[0]
    assert event.username == user and event.ip == "127.0.0.1" and event.request_id
    assert json.loads(event.content)["extra"], "an export event says what was exported"
    assert audit.verify_log().ok
