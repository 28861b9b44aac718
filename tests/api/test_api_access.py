"""The API's access rules with bearer tokens: the same as the pages (tests/test_access.py).

A liaison sees their own unit only (another unit's id answers 404), staff and admins see
everything, auditors read everything and write nothing. Every /api/v1 route is in the table."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment, Period
from app.reports import services as reports
from app.reports.models import Report

ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")
OK, UNAUTH, FORBIDDEN, MISSING, CONFLICT = 200, 401, 403, 404, 409
ALL = {"anonymous": UNAUTH, **dict.fromkeys(ROLES[1:], OK)}
OWN = {**ALL, "other_liaison": MISSING}
OFFICE = {**ALL, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN}
NONE = {"anonymous": UNAUTH, **dict.fromkeys(ROLES[1:], MISSING)}

# endpoint → [(method, url, {role: status})]; the ids in {} are lx-own's unit's.
TABLE = {
    "api.openapi": [("GET", "/api/v1/openapi.json", dict.fromkeys(ROLES, OK))],
    "api.me": [("GET", "/api/v1/me", ALL)],
    "api.plans": [("GET", "/api/v1/plans", ALL)],
    "api.plan": [("GET", "/api/v1/plans/{plan}", ALL), ("GET", "/api/v1/plans/nope", NONE)],
    "api.plan_periods": [("GET", "/api/v1/plans/{plan}/periods", ALL), ("GET", "/api/v1/plans/nope/periods", NONE)],
    "api.tasks": [("GET", "/api/v1/tasks", ALL)],
    "api.task": [("GET", "/api/v1/tasks/{task2}", ALL), ("GET", "/api/v1/tasks/999999", NONE)],
    "api.units": [("GET", "/api/v1/units", ALL)],
    "api.assignments": [("GET", "/api/v1/assignments", ALL)],
    "api.assignment": [("GET", "/api/v1/assignments/{item}", OWN), ("GET", "/api/v1/assignments/999999", NONE),
                       ("GET", "/api/v1/assignments/99999999999999", NONE)],
    "api.reports_list": [("GET", "/api/v1/reports", ALL)],
    "api.report": [("GET", "/api/v1/reports/{report}", OWN), ("GET", "/api/v1/reports/999999", NONE)],
    "api.figures": [("GET", "/api/v1/figures", ALL)],
    "api.overdue": [("GET", "/api/v1/overdue", OFFICE)],
    "api.report_slot": [("GET", "/api/v1/assignments/{item}/reports/{period}", OWN),
                        ("GET", "/api/v1/assignments/{item}/reports/999999", NONE)],
    # version 999 is stale: the unit's liaison gets the conflict and nothing changes
    "api.save_report": [("PUT", "/api/v1/assignments/{item}/reports/{period}",
                         {"anonymous": UNAUTH, "liaison": CONFLICT, "other_liaison": MISSING,
                          "staff": FORBIDDEN, "admin": FORBIDDEN, "auditor": FORBIDDEN}),
                        ("PUT", "/api/v1/assignments/{item}/reports/999999", NONE)],
}


@pytest.fixture
def draft(world):
    """A draft report of lx-own's unit, with a figure."""
    own = db.session.get(reports.User, world["users"]["liaison"])
    item = db.session.get(Assignment, world["item"])
    period = db.session.get(Period, world["period"])
    data = reports.ReportInput("进展", "", "", {i.id: 2 for i in reports.indicators_for(item)})
    report = reports.save_report(item, period, own, data, None)
    db.session.commit()
    return report.id


def test_every_api_route_is_in_the_table(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert endpoints == set(TABLE)


@pytest.mark.parametrize("role", ROLES)
def test_api_access_matrix(app, world, draft, api, role):
    ids = {**world, "report": draft}
    failures = []
    for endpoint, cases in TABLE.items():
        for method, template, expected in cases:
            url = template.format(**ids)
            body = {"version": 999, "progress_text": "改"} if method == "PUT" else None
            response = api.open(None if role == "anonymous" else role, method, url, json=body)
            if response.status_code != expected[role]:
                failures.append(f"{role} {method} {url} ({endpoint}): {response.status_code}, expected {expected[role]}")
            elif response.status_code >= 400:
                error = response.json["error"]
                if not (error["code"] and error["message"]):
                    failures.append(f"{role} {method} {url}: error without code or message")
    assert failures == []
    report = db.session.get(Report, draft)
    assert report.progress_text == "进展" and report.version == 2  # no PUT changed anything


def test_a_liaison_lists_only_their_own_units_items(app, world, draft, api):
    for path in ("/api/v1/assignments?per_page=100&active=all", "/api/v1/reports", "/api/v1/figures"):
        own = api.get("liaison", path).json
        other = api.get("other_liaison", path).json
        assert {i["unit"]["id"] for i in own["items"]} == {world["unit"]}, path
        assert all(i["unit"]["id"] == world["other_unit"] for i in other["items"]), path
    # filtering by another unit finds nothing rather than another unit's data
    r = api.get("other_liaison", f"/api/v1/reports?unit={world['unit']}")
    assert r.status_code == 200 and r.json["items"] == [] and r.json["total"] == 0
    staff = api.get("staff", "/api/v1/assignments?per_page=100").json
    expected = db.session.execute(select(Assignment.id).where(Assignment.active)).scalars().all()
    assert sorted(i["id"] for i in staff["items"]) == sorted(expected)


def test_auditor_reads_everything_and_writes_nothing(app, world, draft, api):
    assert api.get("auditor", f"/api/v1/reports/{draft}").status_code == 200
    assert api.get("auditor", "/api/v1/overdue").status_code == 200
    r = api.put("auditor", f"/api/v1/assignments/{world['item']}/reports/{world['period']}",
                {"version": 2, "progress_text": "审计员改"})
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden" and "审计员" in r.json["error"]["message"]
    assert db.session.get(Report, draft).progress_text == "进展"


def test_wrong_method_and_unknown_path_answer_in_json(app, world, api):
    r = api.open("staff", "DELETE", f"/api/v1/assignments/{world['item']}")
    assert r.status_code == 405 and r.json["error"]["code"] == "method_not_allowed" and "GET" in r.headers["Allow"]
    r = api.get("staff", "/api/v1/nothing/here")
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"
