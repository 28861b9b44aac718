"""Every route that changes data leaves an audit event: a walk over the app's state-changing routes.

The table below names every route that accepts POST, PUT, PATCH or DELETE (a test says so, as the access
table does), with a request that changes something; the walk asserts that the audit log grew, that the new
events name the acting user, and that the chain still verifies. A route that writes no domain data is listed
with the reason instead."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.plans.models import Assignment, Period, Task
from app.reports import services as reports
from app.units.models import Unit, UnitGroup
from tests.api.audit_cases import api_audit_cases
from tests.briefs.audit_cases import briefs_audit_cases
from tests.conftest import PASSWORD

CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
Builder = Callable[[dict[str, Any]], Any]


@dataclass
class Case:
    """One request that changes data. ``url`` and ``data`` may be callables of the world (a dict)."""

    user: str | None
    url: str | Builder
    data: dict[str, Any] | Builder = field(default_factory=dict)
    method: str = "POST"
    actor: str | None = "user"  # who the events must name: "user" (the logged-in user), or None (anyone)
    setup: Builder | None = None  # more world for this case, run before the request
    headers: dict[str, str] | Builder = field(default_factory=dict)
    json: bool = False
    refused: bool = False  # the request is refused with a message (a failed login), and still recorded

    def build(self, world: dict[str, Any], value: Any) -> Any:
        return value(world) if callable(value) else value


@pytest.fixture
def world(factory) -> dict[str, Any]:
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    own = factory.user("lx-own", unit="自治区工业和信息化厅")
    factory.user("lx-second", unit="自治区工业和信息化厅", liaison=False)
    factory.user("staff", role="staff")
    factory.user("admin", role="admin")
    factory.user("auditor", role="auditor")
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task2.id,
                                                       Assignment.unit_id == own.unit_id)).scalar_one()
    months = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().all()
    data = reports.ReportInput("进展", "", "", {i.id: 1 for i in reports.indicators_for(item)})
    report = reports.save_report(item, months[0], own, data, None)
    reports.transition(report, "submit", own)
    db.session.commit()
    group = db.session.execute(select(UnitGroup).where(UnitGroup.name == "各行业主管部门")).scalar_one()
    return {
        "plan": plan.slug, "item": item.id, "item_version": item.version, "period": months[0].id,
        "free_period": months[1].id, "report": report.id, "report_version": report.version, "group": group.id,
        "unit": own.unit_id, "user": own.id, "second": _user_id("lx-second"),
        "units": list(db.session.execute(select(Unit.id).where(Unit.kind == "department")).scalars()),
        "indicators": [i.id for i in reports.indicators_for(item)],
    }


def _user_id(username: str) -> int:
    return db.session.execute(select(User.id).where(User.username == username)).scalar_one()


def _report_form(w: dict[str, Any]) -> dict[str, Any]:
    form = {"progress_text": "本月发布岗位 3 万个。", "problems_text": "", "next_steps_text": "继续推进。",
            "version": "0", "action": "save"}
    return form | {f"figure_{i}": "12.5" for i in w["indicators"]}


def _failed_notice(w: dict[str, Any]) -> dict[str, Any]:
    from app.reminders.models import Notice

    now = datetime(2025, 11, 20, 1, 0)
    notice = Notice(channel="mail", recipient="office@example.org", day=date(2025, 11, 20), kind="urge",
                    subject="催办", body_text="…", body_html="…", items={"total": 0, "items": []}, status="failed",
                    attempts=8, next_attempt_at=now, last_error="550 mailbox unavailable", created_at=now,
                    message_id="<test@localhost>")
    db.session.add(notice)
    db.session.flush()
    return {"notice": notice.id}


def _with_totp(w: dict[str, Any]) -> dict[str, Any]:
    """lx-own with a second factor: the login fixture's password step leaves the code step pending."""
    import pyotp

    user = db.session.get(User, w["user"])
    user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), datetime(2025, 11, 1)
    return {"totp_secret": user.totp_secret}


def _totp_now(w: dict[str, Any]) -> str:
    import pyotp

    return pyotp.TOTP(w["totp_secret"]).now()


def _second_session(w: dict[str, Any]) -> None:
    """lx-own signed in elsewhere too, so ending the other sessions ends one."""
    from app.auth.models import UserSession

    now = datetime.now(UTC).replace(tzinfo=None)
    db.session.add(UserSession(id="0" * 64, user_id=w["user"], created_at=now, last_seen_at=now))


def _accepted(w: dict[str, Any]) -> dict[str, Any]:
    """The world's report accepted by the office, so its figure changes only through a restatement."""
    from app.reports.models import Report

    report = db.session.get(Report, w["report"])
    reports.transition(report, "accept", db.session.execute(select(User).where(User.username == "staff")).scalar_one())
    return {"figure": report.figures[0].id}


def _restatement(w: dict[str, Any]) -> dict[str, Any]:
    from decimal import Decimal

    from app.reports.models import Figure

    figure_id = _accepted(w)["figure"]
    restatement = reports.request_restatement(db.session.get(Figure, figure_id), db.session.get(User, w["user"]),
                                              Decimal("2"), "补报")
    db.session.flush()
    return {"figure": figure_id, "restatement": restatement.id, "restatement_version": restatement.version}


def _figures_file(w: dict[str, Any]) -> dict[str, Any]:
    import io

    label = db.session.get(Period, w["free_period"]).label
    data = f"单位,指标,周期,数值\n自治区工业和信息化厅,{_indicator_key(w)},{label},3\n".encode()
    return {"file": (io.BytesIO(data), "figures.csv")}


def _indicator_key(w: dict[str, Any]) -> str:
    from app.plans.models import Indicator

    return db.session.get(Indicator, w["indicators"][0]).key


def _flag(w: dict[str, Any]) -> dict[str, Any]:
    from app.integrity.models import Flag
    from app.reports.models import Report

    report = db.session.get(Report, w["report"])
    flag = Flag(rule="jump", plan_id=report.assignment.plan_id, unit_id=w["unit"], indicator_id=w["indicators"][0],
                period_id=w["period"], figure_id=report.figures[0].id, figure_ids=[report.figures[0].id],
                message="环比跳变", evidence={}, state="open", raised_at=datetime(2025, 11, 20))
    db.session.add(flag)
    db.session.flush()
    return {"flag": flag.id}


def _case(w: dict[str, Any]) -> dict[str, Any]:
    from app.cases.services import open_case
    from app.reports.models import Report

    staff = db.session.execute(select(User).where(User.username == "staff")).scalar_one()
    case = open_case(staff, "核查", "疑点", [db.session.get(Report, w["report"]).figures[0].id])
    return {"case": case.id}


def _case_form(w: dict[str, Any]) -> dict[str, Any]:
    from app.reports.models import Report

    return {"title": "核查", "basis": "疑点", "figure": str(db.session.get(Report, w["report"]).figures[0].id)}


# endpoint -> the requests that change data, or the reason the route changes no domain data
CASES: dict[str, list[Case] | str] = {
    "auth.login": [Case(None, "/login", {"username": "lx-own", "password": PASSWORD}, actor="lx-own"),
                   Case(None, "/login", {"username": "lx-own", "password": "wrong-password"}, actor=None,
                        refused=True)],
    "auth.logout": [Case("lx-own", "/logout")],
    "auth.login_verify": [Case("lx-own", "/login/verify", lambda w: {"code": _totp_now(w)}, setup=_with_totp)],
    "auth.password": [Case("lx-own", "/account/password", {"current_password": PASSWORD,
                                                           "new_password": "a-new-long-passphrase",
                                                           "confirm": "a-new-long-passphrase"})],
    "auth.end_other_sessions": [Case("lx-own", "/account/sessions/end-others", setup=_second_session)],
    "auth.language": [Case("lx-own", "/account/language", {"locale": "en"})],
    "auth.mfa": "enrolment confirms the secret a GET showed first: walked in tests/auth/test_mfa.py (auth.mfa_enrol)",
    "auth.mfa_recovery_codes": "needs an enrolled, signed-in user: walked in tests/auth/test_mfa.py",
    "auth.mfa_disable": "needs an enrolled, signed-in user: walked in tests/auth/test_mfa.py (auth.mfa_disable)",
    "admin.unit_edit": [
        Case("admin", "/admin/units/new", {"name": "自治区新设单位", "kind": "department", "active": "y"}),
        Case("admin", lambda w: f"/admin/units/{w['unit']}",
             {"name": "自治区工业和信息化厅（更名）", "kind": "department", "head_name": "张三", "active": "y"}),
    ],
    "admin.unit_liaison": [Case("admin", lambda w: f"/admin/units/{w['unit']}/liaison",
                                lambda w: {"liaison-user_id": str(w["second"])})],
    "admin.group_edit": [Case("admin", lambda w: f"/admin/groups/{w['group']}",
                              lambda w: {"members": [str(u) for u in w["units"][:2]]})],
    "admin.user_edit": [
        Case("admin", "/admin/users/new", {"username": "new-user", "name": "新用户", "role": "staff",
                                           "unit_id": "0", "password": "a-long-password-1", "active": "y"}),
        Case("admin", lambda w: f"/admin/users/{w['user']}",
             lambda w: {"username": "lx-own", "name": "改名", "role": "liaison", "unit_id": str(w["unit"]),
                        "email": "lx-own@example.org", "active": "y"}),
        Case("admin", lambda w: f"/admin/users/{w['user']}",  # the user name alone
             lambda w: {"username": "lx-renamed", "name": "lx-own", "role": "liaison", "unit_id": str(w["unit"]),
                        "email": "lx-own@example.org", "active": "y"}),
    ],
    "admin.user_security": [Case("admin", lambda w: f"/admin/users/{w['user']}/security", {"action": "unlock"}),
                            Case("admin", lambda w: f"/admin/users/{w['user']}/security", {"action": "end-sessions"})],
    "reports.item": [
        Case("lx-own", lambda w: f"/items/{w['item']}",
             lambda w: {"status": "in_progress", "progress": "40", "status_note": "推进中",
                        "version": str(w["item_version"])}),
        Case("staff", lambda w: f"/items/{w['item']}",
             lambda w: {"due-action": "set", "due-period_id": str(w["free_period"]), "due-scope": "assignment",
                        "due-due": "2025-12-31", "due-reason": "因系统维护顺延"}),
    ],
    "reports.report_form": [Case("lx-own", lambda w: f"/items/{w['item']}/reports/{w['free_period']}", _report_form)],
    "reports.decide": [
        Case("staff", lambda w: f"/reports/{w['report']}/accept", lambda w: {"version": str(w["report_version"])}),
        Case("staff", lambda w: f"/reports/{w['report']}/return",
             lambda w: {"version": str(w["report_version"]), "reason": "数据口径不一致"}),
    ],
    "review.overdue": [Case("staff", "/review/overdue",
                            lambda w: {"assignment_id": str(w["item"]), "period_id": str(w["free_period"]),
                                       "message": "请尽快报送本月进展。"})],
    # the review queue's bulk actions: one audit event per item (ladder.urge, due_override.set, ladder.refer)
    "review.queue": [
        Case("staff", "/review/queue", lambda w: {"item": f"{w['item']}-{w['free_period']}", "action": "urge",
                                                  "message": "请尽快报送本月进展。"}),
        Case("staff", "/review/queue", lambda w: {"item": f"{w['item']}-{w['free_period']}", "action": "extend",
                                                  "due": "2025-12-31", "reason": "因系统维护顺延"}),
        Case("staff", "/review/queue", lambda w: {"item": f"{w['item']}-{w['free_period']}", "action": "refer",
                                                  "reason": "连续逾期未报"}),
    ],
    "reminders.inbox_read_all": "marks the user's own messages read: no domain data",
    "reminders.resend": [Case("admin", lambda w: f"/admin/outbox/{w['notice']}/resend", setup=_failed_notice)],
    # figures, flags and cases (docs/integrity.md)
    "figures.restate": [Case("lx-own", lambda w: f"/figures/{w['figure']}/restate", {"value": "2", "reason": "补报"},
                             setup=_accepted)],
    "figures.decide_restatement": [Case("staff", lambda w: f"/restatements/{w['restatement']}/approve",
                                        lambda w: {"version": str(w["restatement_version"])}, setup=_restatement)],
    "figures.import_page": [Case("staff", "/figures/import", _figures_file)],
    "integrity.flag": [Case("lx-own", lambda w: f"/integrity/flags/{w['flag']}",
                            {"action": "explain", "explain-explanation": "8 月剔除重复登记。"}, setup=_flag)],
    "cases.new": [Case("staff", "/cases/new", _case_form)],
    "cases.show": [Case("staff", lambda w: f"/cases/{w['case']}", {"action": "ask", "ask-question": "请说明。"},
                        setup=_case)],
}


DRAFT_DOCUMENT = "一、重点任务\n1.稳定岗位。新增岗位100个以上。（责任单位：自治区教育厅）\n".encode()


def _draft(w: dict[str, Any]) -> dict[str, Any]:
    from app.plans.drafts import create_draft

    draft = create_draft(db.session.get(User, _user_id("staff")), "plan.txt", DRAFT_DOCUMENT)
    db.session.commit()
    return {"draft": draft.token}


def _draft_with_its_fields(w: dict[str, Any]) -> dict[str, Any]:
    """A draft and the fields of its page as a browser would send them back, with one correction."""
    from flask import current_app

    from tests.plans.test_draft_pages import page_fields

    made = _draft(w)
    client = current_app.test_client()
    client.post("/login", data={"username": "staff", "password": PASSWORD})
    fields = page_fields(client.get(f"/plans/drafts/{made['draft']}").text)
    fields.update({"action": "save", "tasks-0-title": "稳定重点群体就业岗位"})
    return {**made, "draft_fields": fields}


CASES.update({
    "plans.draft_new": [Case("staff", "/plans/drafts/new", lambda w: {"file": (io.BytesIO(DRAFT_DOCUMENT), "plan.txt")})],
    "plans.draft_edit": [Case("staff", lambda w: f"/plans/drafts/{w['draft']}", lambda w: w["draft_fields"],
                              setup=_draft_with_its_fields)],
    "plans.draft_discard": [Case("staff", lambda w: f"/plans/drafts/{w['draft']}/discard", setup=_draft)],
})
CASES.update(api_audit_cases(Case))
CASES.update(briefs_audit_cases(Case))  # issuing a brief, marking a good practice and taking the mark away
CASES.update({  # the rankings area: publishing a ranking of the plan's units up to the world's first month
    "rankings.plan": [Case("staff", lambda w: f"/plans/{w['plan']}/ranking",
                           lambda w: {"period": str(w["period"]), "note": "测试发布"})],
})


def _walk() -> list[tuple[str, int]]:
    return [(endpoint, n) for endpoint, cases in CASES.items() if isinstance(cases, list)
            for n in range(len(cases))]


def test_every_state_changing_route_is_in_the_table(app):
    changing = {rule.endpoint for rule in app.url_map.iter_rules() if (rule.methods or set()) & CHANGING}
    missing = sorted(changing - set(CASES))
    assert missing == [], "state-changing routes missing from the audit walk: add a request that changes data"


def _count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


@pytest.mark.parametrize(("endpoint", "n"), _walk())
def test_a_route_that_changes_data_writes_an_audit_event(app, world, login, endpoint, n):
    if endpoint not in {rule.endpoint for rule in app.url_map.iter_rules()}:
        pytest.skip(f"{endpoint} is not a route of this app")
    case = CASES[endpoint][n]
    assert isinstance(case, Case)
    if case.setup is not None:
        world.update(case.setup(world) or {})
        db.session.commit()
    client = app.test_client()
    if case.user is not None:
        login(client, case.user)
    before = _count()
    data = case.build(world, case.data)
    headers = case.build(world, case.headers)
    kwargs = {"json": data} if case.json else {"data": data}
    response = client.open(case.build(world, case.url), method=case.method, headers=headers, **kwargs)
    assert response.status_code in (200, 201, 204, 302, 303), (response.status_code, response.text[:2000])
    if response.status_code == 200 and not case.json and not case.refused:
        assert 'role="alert"' not in response.text, response.text[:3000]  # a form error: nothing changed
    new = db.session.execute(select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq)).scalars().all()
    assert new, f"{case.method} {endpoint} changed data without an audit event"
    if case.actor is not None:
        actor = case.user if case.actor == "user" else case.actor
        assert all(e.username == actor for e in new), [(e.action, e.username) for e in new]
    assert all(e.ip == "127.0.0.1" and e.request_id for e in new)
    assert audit.verify_log().ok


def test_the_walk_fails_a_route_that_writes_no_event(app, world, login, monkeypatch):
    """The walk is not vacuous: with recording switched off, a changing route is caught."""
    monkeypatch.setattr(audit, "record", lambda *args, **kwargs: None)
    client = login(app.test_client(), "lx-own")
    before = _count()
    response = client.post(f"/items/{world['item']}", data={"status": "completed", "progress": "100",
                                                             "version": str(world["item_version"])})
    assert response.status_code == 302
    assert db.session.get(Assignment, world["item"]).status == "completed"
    assert _count() == before

