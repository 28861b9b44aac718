"""Reading through the API: pagination, filters, lights as on the item page, reports and figures."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.api.queries import current_statuses
from app.extensions import db
from app.plans.models import Assignment, Period, Task
from app.reminders import services as reminders
from app.reports import services as reports
from app.reports.models import Report
from tests.conftest import FROZEN_TODAY


def _submit(world, unit_key: str, item: int, period: int, value: int = 3, submit: bool = True) -> Report:
    user = db.session.get(reports.User, world["users"][unit_key])
    a = db.session.get(Assignment, item)
    p = db.session.get(Period, period)
    report = reports.save_report(a, p, user, reports.ReportInput("进展", "", "", {
        i.id: value for i in reports.indicators_for(a)}), None)
    if submit:
        reports.transition(report, "submit", user)
    db.session.commit()
    return report


def test_pagination_has_totals_links_and_a_maximum(app, world, api):
    total = db.session.execute(select(func.count()).select_from(Assignment).where(Assignment.active)).scalar_one()
    first = api.get("staff", "/api/v1/assignments?per_page=5").json
    assert first["total"] == total and first["per_page"] == 5 and first["page"] == 1
    assert first["pages"] == -(-total // 5) and len(first["items"]) == 5 and first["total_capped"] is False
    assert first["links"]["prev"] is None and "page=2" in first["links"]["next"]
    seen = [i["id"] for i in first["items"]]
    url = first["links"]["next"]
    while url:
        page = api.get("staff", url).json
        seen += [i["id"] for i in page["items"]]
        url = page["links"]["next"]
    assert len(seen) == len(set(seen)) == total
    r = api.get("staff", "/api/v1/assignments?per_page=101")
    assert r.status_code == 400 and "1 到 100" in r.json["error"]["fields"]["per_page"]
    r = api.get("staff", "/api/v1/assignments?page=0&per_page=abc")
    assert r.status_code == 400 and set(r.json["error"]["fields"]) == {"page", "per_page"}
    beyond = api.get("staff", "/api/v1/assignments?page=999").json
    assert beyond["items"] == [] and beyond["total"] == total


def test_bad_filters_get_a_message_per_field(app, world, api):
    r = api.get("staff", "/api/v1/reports?state=done&unit=-1&updated_since=yesterday&colour=red")
    assert r.status_code == 400
    fields = r.json["error"]["fields"]
    assert set(fields) == {"state", "unit", "updated_since", "colour"}
    assert "draft" in fields["state"] and "未知" in fields["colour"] and "ISO 8601" in fields["updated_since"]
    assert api.get("staff", "/api/v1/units?kind=x&kind=y").json["error"]["fields"]["kind"] == "该参数只能出现一次。"
    assert api.get("staff", "/api/v1/tasks?plan=%00").json["items"] == []  # matches nothing
    # a plan that does not exist is a filter matching nothing, like an unknown unit id
    assert api.get("staff", "/api/v1/tasks?plan=nope").json["items"] == []
    assert api.get("staff", "/api/v1/figures?indicator=%00").json["items"] == []
    assert api.get("staff", "/api/v1/tasks?page=%01").json["error"]["fields"]["page"] == "参数含有不允许的控制字符。"


def test_filters(app, world, api):
    other_report = _submit(world, "other_liaison", world["other_item"], world["period"])
    own_report = _submit(world, "liaison", world["item"], world["periods"][1], submit=False)
    by_state = api.get("staff", "/api/v1/reports?state=submitted").json
    assert [r["id"] for r in by_state["items"]] == [other_report.id]
    by_unit = api.get("staff", f"/api/v1/reports?unit={world['unit']}").json
    assert [r["id"] for r in by_unit["items"]] == [own_report.id]
    by_period = api.get("staff", f"/api/v1/reports?period={world['periods'][1]}&plan={world['plan']}").json
    assert [r["id"] for r in by_period["items"]] == [own_report.id]
    assert api.get("staff", "/api/v1/reports?updated_since=2999-01-01T00:00:00Z").json["items"] == []
    assert len(api.get("staff", "/api/v1/reports?updated_since=2000-01-01").json["items"]) == 2
    leads = api.get("staff", f"/api/v1/assignments?task={world['task2']}&role=lead").json["items"]
    assert [a["unit"]["name"] for a in leads] == ["自治区工业和信息化厅"]
    assert api.get("staff", "/api/v1/assignments?status=completed").json["total"] == 0
    tasks = api.get("liaison", f"/api/v1/tasks?plan={world['plan']}").json
    assert [t["number"] for t in tasks["items"]] == [1, 2, 3]
    assert tasks["items"][1]["indicators"][0]["key"] == "t2-jobs"
    monthly = api.get("liaison", f"/api/v1/plans/{world['plan']}/periods?kind=monthly").json["items"]
    assert [p["id"] for p in monthly] == world["periods"] and all(p["kind"] == "monthly" for p in monthly)
    cities = api.get("liaison", "/api/v1/units?kind=league_city").json["items"]
    assert {u["name"] for u in cities} == {"甲市", "乙盟"}


def test_figures_and_reports_carry_the_values(app, world, api):
    report = _submit(world, "liaison", world["item"], world["period"], value=12)
    figures = api.get("staff", f"/api/v1/figures?indicator=t2-jobs&unit={world['unit']}").json["items"]
    assert [(f["report_id"], f["value"], f["value_text"], f["report_state"]) for f in figures] == [
        (report.id, 12, "12", "submitted")]
    one = api.get("liaison", f"/api/v1/reports/{report.id}").json
    assert one["state"] == "submitted" and one["progress_text"] == "进展" and one["version"] == report.version
    assert one["figures"] == [{"indicator": "t2-jobs", "name": "挖掘新就业岗位", "unit": "万个", "value": 12,
                               "value_text": "12"}]
    assert one["submitted_at"].endswith("+00:00")


def test_plan_is_plan_as_dict(app, world, api):
    from app.plans.services import find_plan, plan_as_dict

    body = api.get("auditor", f"/api/v1/plans/{world['plan']}").json
    assert body == plan_as_dict(find_plan(world["plan"]))
    by_code = api.get("auditor", "/api/v1/plans/测政发〔2025〕1号")
    assert by_code.status_code == 200 and by_code.json["id"] == world["plan"]
    listing = api.get("auditor", "/api/v1/plans").json
    assert [p["id"] for p in listing["items"]] == [world["plan"]] and listing["items"][0]["assignments"] > 0


def test_lights_in_the_list_are_the_item_pages(app, world, api):
    """The set-based lights of a page of assignments equal reminders.item_status, one by one."""
    current = db.session.execute(select(Period).where(Period.kind == "monthly", Period.start <= FROZEN_TODAY)
                                 .order_by(Period.start.desc())).scalars().first()
    _submit(world, "liaison", world["item"], current.id, value=14)  # a figure: the light measures it
    _submit(world, "other_liaison", world["other_item"], current.id, submit=False)
    items = api.get("staff", "/api/v1/assignments?per_page=100").json["items"]
    assert {i["current"]["period"]["id"] for i in items} == {current.id}
    colours = set()
    for item in items:
        a = db.session.get(Assignment, item["id"])
        rep = {r.period_id: r for r in db.session.execute(select(Report).where(Report.assignment_id == a.id)).scalars()}
        expected = reminders.item_status(a, [current], rep, reports.indicators_for(a), FROZEN_TODAY)[current.id]
        assert item["current"]["light"]["colour"] == expected.light.colour, item["unit"]["name"]
        assert item["current"]["light"]["rule"] == expected.light.rule
        assert item["current"]["due"] == expected.due.due.isoformat()
        colours.add(expected.light.rule)
    assert len(colours) >= 2, colours  # the comparison covers more than one rule
    own = next(i for i in items if i["id"] == world["item"])
    assert own["current"]["report"]["state"] == "submitted"
    detail = api.get("liaison", f"/api/v1/assignments/{world['item']}").json
    assert detail["current"] == own["current"] and len(detail["periods"]) == db.session.execute(
        select(func.count()).select_from(Period)).scalar_one()
    assert [i["key"] for i in detail["indicators"]] == ["t2-jobs"]


def test_lights_use_an_overridden_due_date(app, world, api):
    current = db.session.execute(select(Period).where(Period.kind == "monthly", Period.start <= FROZEN_TODAY)
                                 .order_by(Period.start.desc())).scalars().first()
    staff = db.session.get(reports.User, world["users"]["staff"])
    a = db.session.get(Assignment, world["item"])
    reminders.set_due_override(staff, current, a, date(2025, 11, 21), "测试")
    db.session.commit()
    item = api.get("staff", f"/api/v1/assignments/{world['item']}").json
    assert item["current"]["due"] == "2025-11-21" and item["current"]["period"]["due"] != "2025-11-21"


def test_overdue_list_for_the_office(app, world, api):
    body = api.get("staff", f"/api/v1/overdue?plan={world['plan']}&per_page=3").json
    assert body["today"] == FROZEN_TODAY.isoformat() and len(body["items"]) == 3 and body["total"] > 3
    assert all(row["due"] < FROZEN_TODAY.isoformat() and row["report_state"] is None for row in body["items"])
    periods = {row["period"]["id"] for row in api.get("staff", "/api/v1/overdue?per_page=100").json["items"]}
    assert len(periods) == 1  # default: each plan's current past-due period
    every = api.get("staff", "/api/v1/overdue?all_periods=true&per_page=100").json
    assert every["total"] > body["total"]
    own = api.get("auditor", f"/api/v1/overdue?unit={world['unit']}&all_periods=true").json["items"]
    assert own and all(row["unit"]["id"] == world["unit"] for row in own)


@pytest.mark.parametrize("count", [1, 13])
def test_statements_per_page_do_not_grow_with_the_page(app, world, count):
    """current_statuses runs a fixed number of statements whatever the number of assignments."""
    from sqlalchemy import event

    rows = db.session.execute(select(Assignment).join(Task).order_by(Assignment.id).limit(count)).scalars().all()
    for a in rows:  # load what the page query joins eagerly
        _ = a.task.plan, a.unit
    statements = []

    def count_it(*args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count_it)
    try:
        current_statuses(list(rows), FROZEN_TODAY)
    finally:
        event.remove(db.engine, "before_cursor_execute", count_it)
    assert len(statements) <= 6


def test_statements_per_request_do_not_grow_with_the_page_size(app, world, api):
    """Each list runs a fixed number of SQL statements, whatever the number of rows on the page."""
    from sqlalchemy import event

    for item, period in ((world["item"], world["period"]), (world["item"], world["periods"][1]),
                         (world["other_item"], world["period"])):
        _submit(world, "liaison" if item == world["item"] else "other_liaison", item, period)
    statements: list[str] = []

    def count_it(conn, cursor, statement, *args):
        statements.append(statement)

    def run(url: str) -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count_it)
        try:
            assert api.get("staff", url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count_it)
        return len(statements)

    api.get("staff", "/api/v1/me")  # the token's last use is written now, not during the counts
    for path in ("/api/v1/assignments", "/api/v1/reports", "/api/v1/figures", "/api/v1/tasks", "/api/v1/plans",
                 "/api/v1/overdue?all_periods=true"):
        joiner = "&" if "?" in path else "?"
        small, large = run(f"{path}{joiner}per_page=1"), run(f"{path}{joiner}per_page=100")
        assert small == large, (path, small, large)
