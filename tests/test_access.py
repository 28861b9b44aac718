"""Access checked on the server for every route and every id: a table of routes × roles.

The table must name every route of the app (a test says so), so a new route cannot be
added without deciding who may use it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment, Period, Task
from app.reports.models import Report
from app.units.models import Unit, UnitGroup

ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")


@pytest.fixture
def world(factory):
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    own = factory.user("lx-own", unit="自治区工业和信息化厅")
    factory.user("lx-other", unit="自治区教育厅")
    staff = factory.user("staff", role="staff")
    factory.user("admin", role="admin")
    factory.user("auditor", role="auditor")
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task2.id,
                                                       Assignment.unit_id == own.unit_id)).scalar_one()
    period = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().first()
    from app.reports import services

    data = services.ReportInput("进展", "", "", {i.id: 1 for i in services.indicators_for(item)})
    report = services.save_report(item, period, own, data, None)
    services.transition(report, "submit", own)
    db.session.commit()
    group = db.session.execute(select(UnitGroup)).scalars().first()
    unit = db.session.get(Unit, own.unit_id)
    from app.plans.drafts import create_draft

    draft = create_draft(staff, "plan.txt", "一、重点任务\n1.稳定岗位。新增岗位100个以上。（责任单位：自治区教育厅）\n".encode())
    return {"plan": plan.slug, "item": item.id, "period": period.id, "report": report.id, "group": group.id,
            "unit": unit.id, "user": own.id, "draft": draft.token, "figure": report.figures[0].id}


# endpoint → (method, url template, {role: expected status}); "own" ids belong to lx-own's unit,
# so for "other_liaison" they are another unit's ids.
OK, LOGIN, FORBIDDEN, MISSING = 200, 302, 403, 404
ALL_READERS = {"anonymous": LOGIN, "liaison": OK, "other_liaison": OK, "staff": OK, "admin": OK, "auditor": OK}
OFFICE_READ = {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": OK, "admin": OK,
               "auditor": OK}
ADMIN_ONLY = {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": FORBIDDEN,
              "admin": OK, "auditor": FORBIDDEN}
OFFICE_ONLY = {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": OK, "admin": OK,
               "auditor": FORBIDDEN}
OWN_DRAFT = {**OFFICE_ONLY, "admin": MISSING}
OWN_ITEM = {"anonymous": LOGIN, "liaison": OK, "other_liaison": MISSING, "staff": OK, "admin": OK, "auditor": OK}

ROUTES = {
    "auth.home": [("GET", "/", {r: 302 for r in ROLES})],
    "ops.healthz": [("GET", "/healthz", {r: OK for r in ROLES})],  # no login: load balancers, monitoring
    "auth.login": [("GET", "/login", {"anonymous": OK, **{r: 302 for r in ROLES[1:]}})],
    "auth.logout": [("POST", "/logout", {"anonymous": LOGIN, **{r: 302 for r in ROLES[1:]}})],
    # security pages: every signed-in user has their own; nobody reaches another's (no ids in the URLs)
    "auth.login_verify": [("GET", "/login/verify", {r: 302 for r in ROLES})],
    "auth.account": [("GET", "/account", ALL_READERS)],
    # the user's own interface language; an empty form is refused beside the field (400)
    "auth.language": [("POST", "/account/language", {"anonymous": LOGIN, **{r: 400 for r in ROLES[1:]}})],
    "auth.end_other_sessions": [("POST", "/account/sessions/end-others", {"anonymous": LOGIN, **{r: 302 for r in ROLES[1:]}})],
    "auth.password": [("GET", "/account/password", ALL_READERS), ("POST", "/account/password", ALL_READERS)],
    "auth.mfa": [("GET", "/account/mfa", ALL_READERS), ("POST", "/account/mfa", ALL_READERS)],
    "auth.mfa_recovery_codes": [("POST", "/account/mfa/recovery-codes", {"anonymous": LOGIN, **{r: 302 for r in ROLES[1:]}})],
    "auth.mfa_disable": [("POST", "/account/mfa/disable", {"anonymous": LOGIN, **{r: 302 for r in ROLES[1:]}})],
    "plans.index": [("GET", "/plans/", ALL_READERS)],
    "plans.show": [("GET", "/plans/{plan}", ALL_READERS), ("GET", "/plans/nope", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    # Drafting a plan from a document: office staff only; a draft is its uploader's (staff's), so admin gets 404.
    # POST {}: no file / a form that does not match the draft → 422. Discard last: the draft is gone after it.
    "plans.draft_new": [("GET", "/plans/drafts/new", OFFICE_ONLY),
                        ("POST", "/plans/drafts/new", {**OFFICE_ONLY, "staff": 422, "admin": 422})],
    "plans.draft_edit": [("GET", "/plans/drafts/{draft}", OWN_DRAFT),
                         ("POST", "/plans/drafts/{draft}", {**OWN_DRAFT, "staff": 422}),
                         ("GET", "/plans/drafts/" + "0" * 32, {**OWN_DRAFT, "staff": MISSING})],
    "plans.draft_yaml": [("GET", "/plans/drafts/{draft}/plan.yaml", OWN_DRAFT)],
    "plans.draft_discard": [("POST", "/plans/drafts/{draft}/discard", {**OWN_DRAFT, "staff": 302})],
    "reports.my_items": [("GET", "/items", ALL_READERS)],
    "reports.item": [
        ("GET", "/items/{item}", OWN_ITEM),
        ("POST", "/items/{item}", {"anonymous": LOGIN, "liaison": OK, "other_liaison": MISSING, "staff": OK,
                                   "admin": OK, "auditor": FORBIDDEN}),
        ("GET", "/items/999999", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN}),
    ],
    "reports.report_form": [
        ("GET", "/items/{item}/reports/{period}", OWN_ITEM),
        # submitted: nobody may edit it; another unit does not even learn it exists
        ("POST", "/items/{item}/reports/{period}", {"anonymous": LOGIN, "liaison": FORBIDDEN,
                                                    "other_liaison": MISSING, "staff": FORBIDDEN,
                                                    "admin": FORBIDDEN, "auditor": FORBIDDEN}),
        ("GET", "/items/{item}/reports/999999", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN}),
    ],
    "reports.decide": [
        ("POST", "/reports/{report}/accept", {"anonymous": LOGIN, "liaison": 302, "other_liaison": MISSING,
                                              "staff": 302, "admin": 302, "auditor": FORBIDDEN}),
        ("POST", "/reports/999999/accept", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN}),
    ],
    "review.matrix": [("GET", "/review/plans/{plan}/matrix", OFFICE_READ)],
    "review.overdue": [("GET", "/review/overdue", OFFICE_READ)],
    # Figures: the unit (or the office on its behalf) asks to restate; the office decides; liaisons load their own unit.
    "figures.restate": [("GET", "/figures/{figure}/restate", {**OWN_ITEM, "auditor": FORBIDDEN}),
                        ("GET", "/figures/999999/restate", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    "figures.restatements": [("GET", "/restatements", OFFICE_READ)],
    "figures.decide_restatement": [("POST", "/restatements/999999/approve",
                                    {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    "figures.import_page": [("GET", "/figures/import", {**ALL_READERS, "auditor": FORBIDDEN})],
    # Flags and cases: a liaison sees their own unit's; another unit's id answers 404 (tests/integrity, tests/cases)
    "integrity.flags": [("GET", "/integrity/flags", ALL_READERS)],
    "integrity.export": [("GET", "/integrity/flags.csv", OFFICE_READ)],
    "integrity.flag": [("GET", "/integrity/flags/999999", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    "cases.index": [("GET", "/cases/", ALL_READERS)],
    "cases.new": [("GET", "/cases/new?figure={figure}", OFFICE_ONLY)],
    "cases.show": [("GET", "/cases/999999", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    "cases.attachment": [("GET", "/cases/999999/attachments/1", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    "cases.evidence": [("GET", "/cases/999999/evidence.zip", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    # Audit: a liaison reads the history of their own unit's reports, figures and assignments; the whole log is
    # for office staff and auditors (tests/audit/test_pages.py).
    "audit.history": [("GET", "/audit/history/report/{report}", OWN_ITEM),
                      ("GET", "/audit/history/figure/{figure}", OWN_ITEM),
                      ("GET", "/audit/history/assignment/{item}", OWN_ITEM),
                      ("GET", "/audit/history/user/{user}", {**OWN_ITEM, "liaison": MISSING}),
                      ("GET", "/audit/history/report/999999", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN}),
                      ("GET", "/audit/history/plan/1", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    "audit.log": [("GET", "/audit/log", {**OFFICE_READ, "admin": FORBIDDEN})],
    "audit.export": [("GET", "/audit/log.csv", {**OFFICE_READ, "admin": FORBIDDEN})],
    "admin.units": [("GET", "/admin/units", ADMIN_ONLY)],
    "admin.unit_edit": [("GET", "/admin/units/{unit}", ADMIN_ONLY), ("GET", "/admin/units/new", ADMIN_ONLY),
                        ("POST", "/admin/units/{unit}", ADMIN_ONLY)],
    "admin.unit_liaison": [("POST", "/admin/units/{unit}/liaison", {**ADMIN_ONLY, "admin": 302})],
    "admin.groups": [("GET", "/admin/groups", ADMIN_ONLY)],
    "admin.group_edit": [("GET", "/admin/groups/{group}", ADMIN_ONLY),
                         ("POST", "/admin/groups/{group}", {**ADMIN_ONLY, "admin": 302})],
    "admin.users": [("GET", "/admin/users", ADMIN_ONLY)],
    "admin.user_edit": [("GET", "/admin/users/{user}", ADMIN_ONLY), ("GET", "/admin/users/new", ADMIN_ONLY),
                        ("POST", "/admin/users/{user}", ADMIN_ONLY)],
    "admin.user_security": [("POST", "/admin/users/{user}/security", {**ADMIN_ONLY, "admin": 400})],  # no action
    # API tokens: each user's own page, an admin's page of everybody's (999999: no such token; POST {}: no name).
    "tokens.mine": [("GET", "/account/tokens", ALL_READERS),
                    ("POST", "/account/tokens", {"anonymous": LOGIN, **{r: 400 for r in ROLES[1:]}})],
    "tokens.revoke": [("POST", "/account/tokens/999999/revoke", {**{r: MISSING for r in ROLES}, "anonymous": LOGIN})],
    "tokens.all_tokens": [("GET", "/admin/tokens", ADMIN_ONLY)],
    # The JSON API takes bearer tokens only: a page's login cookie never opens it (401 for every role here;
    # tests/api/test_api_access.py holds the same table with tokens). Its OpenAPI document is public.
    "api.openapi": [("GET", "/api/v1/openapi.json", {r: OK for r in ROLES})],
    **{endpoint: [(method, url, {r: 401 for r in ROLES})] for endpoint, method, url in (
        ("api.me", "GET", "/api/v1/me"), ("api.plans", "GET", "/api/v1/plans"),
        ("api.plan", "GET", "/api/v1/plans/{plan}"), ("api.plan_periods", "GET", "/api/v1/plans/{plan}/periods"),
        ("api.tasks", "GET", "/api/v1/tasks"), ("api.task", "GET", "/api/v1/tasks/1"),
        ("api.units", "GET", "/api/v1/units"), ("api.assignments", "GET", "/api/v1/assignments"),
        ("api.assignment", "GET", "/api/v1/assignments/{item}"), ("api.reports_list", "GET", "/api/v1/reports"),
        ("api.report", "GET", "/api/v1/reports/{report}"), ("api.figures", "GET", "/api/v1/figures"),
        ("api.overdue", "GET", "/api/v1/overdue"),
        ("api.report_slot", "GET", "/api/v1/assignments/{item}/reports/{period}"),
        ("api.save_report", "PUT", "/api/v1/assignments/{item}/reports/{period}"),
    )},
}

from tests.reminders.access_routes import REMINDER_ROUTES  # noqa: E402  (the reminder area's rows)

for _endpoint, _cases in REMINDER_ROUTES.items():
    ROUTES.setdefault(_endpoint, []).extend(_cases)

import importlib  # noqa: E402

for _area in ("dashboard", "rankings", "briefs", "exports", "review"):  # each area's own rows, if any
    try:
        _module = importlib.import_module(f"tests.{_area}.access_routes")
    except ModuleNotFoundError as exc:
        if exc.name != f"tests.{_area}.access_routes":
            raise
        continue
    for _endpoint, _cases in _module.ROUTES.items():
        ROUTES.setdefault(_endpoint, []).extend(_cases)

USERS = {"liaison": "lx-own", "other_liaison": "lx-other", "staff": "staff", "admin": "admin", "auditor": "auditor"}


def test_every_route_is_in_the_table(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert endpoints - set(ROUTES) == set(), "routes missing from the access table"


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, world, login, role):
    failures = []
    for endpoint, cases in ROUTES.items():
        for method, template, expected in cases:
            client = app.test_client()
            if role != "anonymous":
                login(client, USERS[role])
            url = template.format(**world)
            response = client.open(url, method=method, data={})
            want = expected[role]
            got = response.status_code
            if got != want or (want == LOGIN and role == "anonymous" and "/login" not in response.location):
                failures.append(f"{role} {method} {url} ({endpoint}): {got}, expected {want}")
    assert failures == []


def test_other_units_data_never_shows(app, world, login):
    client = login(app.test_client(), "lx-other")
    page = client.get("/items").text
    assert "自治区工业和信息化厅" not in page
    mine = db.session.execute(select(Assignment.id).where(Assignment.unit_id == db.session.execute(
        select(Unit.id).where(Unit.name == "自治区教育厅")).scalar_one())).scalars().all()
    assert mine and all(f"/items/{i}" in page for i in mine)
    assert client.get(f"/items/{world['item']}/reports/{world['period']}").status_code == 404
    report = db.session.get(Report, world["report"])
    assert report.state == "submitted"


def test_404_and_403_pages_are_in_chinese(app, world, login):
    client = login(app.test_client(), "lx-own")
    r404 = client.get("/items/999999")
    assert r404.status_code == 404 and "页面不存在" in r404.text
    r403 = client.get("/admin/units")
    assert r403.status_code == 403 and "无权访问" in r403.text


def test_post_without_csrf_token_is_refused(world):
    from tests.conftest import make_app

    app = make_app(db.engine.url.render_as_string(hide_password=False), WTF_CSRF_ENABLED=True)
    client = app.test_client()
    r = client.post("/login", data={"username": "lx-own", "password": "test-pass-123"})
    assert r.status_code == 400 and "表单已过期" in r.text
    page = client.get("/login").text
    import re

    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"username": "lx-own", "password": "test-pass-123", "csrf_token": token})
    assert r.status_code == 302
