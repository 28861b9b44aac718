"""The exports: each download opened with openpyxl / csv and compared with the data, the Chinese file
name, who may download, the audit event, the 404s."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Period, Plan, Task
from app.reminders import services as reminders
from app.reports import services as reports
from app.reports.models import Figure, Report
from app.review import services as review
from app.timeutil import to_local
from app.units.models import Unit
from tests.conftest import FROZEN_TODAY

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _item(task_number: int, unit_name: str) -> Assignment:
    return db.session.execute(
        select(Assignment).join(Task, Task.id == Assignment.task_id).join(Unit, Unit.id == Assignment.unit_id)
        .where(Task.number == task_number, Unit.name == unit_name)).scalar_one()


def _report(item: Assignment, period: Period, user, value: str) -> Report:
    data = reports.ReportInput("进展", "", "", {i.id: Decimal(value) for i in reports.indicators_for(item)})
    return reports.save_report(item, period, user, data, None)


@pytest.fixture
def world(factory) -> dict[str, Any]:
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    own = factory.user("lx-own", unit="自治区工业和信息化厅")
    factory.user("lx-other", unit="自治区教育厅")
    hr = factory.user("lx-hr", unit="自治区人力资源社会保障厅")
    city = factory.user("lx-city", unit="甲市")
    staff = factory.user("staff", role="staff")
    factory.user("admin", role="admin")
    factory.user("auditor", role="auditor")
    months = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                .order_by(Period.start)).scalars().all()
    period = months[8]  # 2025年10月, due in November: past due on the frozen day
    # accepted, after a return and a revision of its figure
    accepted = _report(_item(2, "自治区工业和信息化厅"), period, own, "7.5")
    reports.transition(accepted, "submit", own)
    reports.transition(accepted, "return", staff, reason="数值有误")
    data = reports.ReportInput("进展", "", "", {f.indicator_id: Decimal("8.25") for f in accepted.figures},
                               revision_reason="更正口径")
    reports.save_report(accepted.assignment, period, own, data, None)
    reports.transition(accepted, "submit", own)
    reports.transition(accepted, "accept", staff)
    # submitted (waiting for review), and a draft with two figures
    submitted = _report(_item(3, "自治区人力资源社会保障厅"), period, hr, "3")
    reports.transition(submitted, "submit", hr)
    _report(_item(3, "甲市"), period, city, "1")
    # a manual urge: the overdue list shows the step taken
    urged = _item(1, "自治区人力资源社会保障厅")
    reminders.manual_urge(staff, urged, period, "请尽快报送", FROZEN_TODAY)
    db.session.commit()
    return {"plan": plan, "period": period, "months": months, "accepted": accepted.id}


def _xlsx(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype == XLSX
    return load_workbook(io.BytesIO(response.data)).active


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _values(ws, first_row: int) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows(min_row=first_row)]


def _events(what: str) -> list[dict]:
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "export.download")
                                .order_by(AuditEvent.seq)).scalars().all()
    return [e for e in events if json.loads(e.content)["extra"]["what"] == what]


def _local(moment: datetime | None) -> datetime | None:
    return to_local(moment).replace(tzinfo=None, microsecond=0) if moment else None


# --- the matrix -----------------------------------------------------------------------------------

def _expected_matrix(plan: Plan, period: Period) -> tuple[list[str], list[list]]:
    m = review.plan_matrix(plan, period, FROZEN_TODAY)
    header = ["任务编号", "任务名称", *[u.name for u in m.units]]
    rows = []
    for t in m.tasks:
        cells = []
        for u in m.units:
            c = m.cells.get((t.id, u.id))
            label = review.CELL_LEGEND[c["colour"]] if c else None
            cells.append(f"{label}（牵头）" if c and c["role"] == "lead" else label)
        rows.append([t.number, t.title, *cells])
    return header, rows


def test_matrix_xlsx_is_the_matrix(app, world, login):
    client = login(app.test_client(), "staff")
    plan, period = world["plan"], world["period"]
    response = client.get(f"/exports/plans/{plan.slug}/matrix.xlsx?period={period.id}")
    ws = _xlsx(response)
    header, rows = _expected_matrix(plan, period)
    assert "2025年10月" in ws["A1"].value and plan.code in ws["A1"].value and "已通过 1" in ws["A1"].value
    assert [c.value for c in ws[2]] == header
    assert ws.freeze_panes == "A3"
    assert ws.column_dimensions["B"].width == 40
    assert _values(ws, 3) == rows
    flat = [cell for row in rows for cell in row[2:]]
    assert {"已通过（牵头）", "已报送待审（牵头）", "逾期未报", "逾期未报（牵头）"} <= set(flat)  # each kind of cell
    assert isinstance(ws["A3"].value, int)
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="mini-2025-2025-10-01')
    assert f"filename*=UTF-8''mini-2025-2025-10-01-{quote('任务落实矩阵')}.xlsx" in disposition


def test_matrix_csv_and_unit_kind_filter(app, world, login):
    client = login(app.test_client(), "auditor")
    plan, period = world["plan"], world["period"]
    rows = _csv(client.get(f"/exports/plans/{plan.slug}/matrix.csv?period={period.id}"))
    header, expected = _expected_matrix(plan, period)
    assert rows[0] == header
    assert rows[1:] == [[str(r[0]), r[1], *[c or "" for c in r[2:]]] for r in expected]
    cities = _csv(client.get(f"/exports/plans/{plan.slug}/matrix.csv?period={period.id}&kind=league_city"))
    assert cities[0][2:] == ["甲市", "乙盟"]


def test_matrix_defaults_to_the_current_period(app, world, login):
    client = login(app.test_client(), "staff")
    ws = _xlsx(client.get(f"/exports/plans/{world['plan'].slug}/matrix.xlsx"))
    assert "2025年11月" in ws["A1"].value


# --- the figures of a period ----------------------------------------------------------------------

def test_figures_xlsx_lists_every_figure_of_the_period(app, world, login):
    client = login(app.test_client(), "staff")
    plan, period = world["plan"], world["period"]
    ws = _xlsx(client.get(f"/exports/plans/{plan.slug}/figures.xlsx?period={period.id}"))
    assert [c.value for c in ws[2]] == ["任务编号", "任务名称", "责任单位", "指标", "数值", "计量单位", "报告状态",
                                       "报送时间", "审核通过时间", "修改次数"]
    assert ws.freeze_panes == "A3"
    figures = db.session.execute(select(Figure).join(Report).where(Report.period_id == period.id)).scalars().all()
    expected = sorted(
        ([f.report.assignment.task.number, f.report.assignment.task.title, f.report.assignment.unit.name,
          f.indicator.name, float(f.value), f.indicator.unit,
          {"accepted": "已通过", "submitted": "已报送", "draft": "草稿"}[f.report.state],
          _local(f.report.submitted_at), _local(f.report.decided_at) if f.report.state == "accepted" else None,
          sum(r.kind != "entry" for r in f.revisions)]
         for f in figures), key=lambda r: (r[0], r[2], r[3]))
    got = sorted(([*r[:7], r[7].replace(microsecond=0) if r[7] else None,
                   r[8].replace(microsecond=0) if r[8] else None, r[9]] for r in _values(ws, 3)),
                 key=lambda r: (r[0], r[2], r[3]))
    assert len(got) == len(figures) == 3
    assert got == expected
    revised = next(r for r in got if r[6] == "已通过")
    assert revised[4] == 8.25 and revised[9] == 1 and revised[8] is not None
    assert ws["E3"].data_type == "n" and ws["H3"].number_format.startswith("yyyy-mm-dd")


def test_figures_csv_and_an_empty_period(app, world, login):
    client = login(app.test_client(), "staff")
    plan, period = world["plan"], world["period"]
    rows = _csv(client.get(f"/exports/plans/{plan.slug}/figures.csv?period={period.id}"))
    assert rows[0][:5] == ["任务编号", "任务名称", "责任单位", "指标", "数值"]
    accepted = next(r for r in rows[1:] if r[6] == "已通过")
    assert accepted[:7] == ["2", "提高第二产业就业比重", "自治区工业和信息化厅", "挖掘新就业岗位", "8.2500", "万个", "已通过"]
    assert accepted[9] == "1" and len(accepted[7]) == 16  # local time to the minute
    assert len(rows) == 4
    empty = _csv(client.get(f"/exports/plans/{plan.slug}/figures.csv?period={world['months'][0].id}"))
    assert len(empty) == 1


# --- the overdue list -----------------------------------------------------------------------------

def _expected_overdue(**filters) -> list[list]:
    rows, _ = review.overdue_list(FROZEN_TODAY, per_page=None, **filters)
    return [[r.plan_slug, r.task_number, r.task_title, r.unit_name, r.period_label, r.due, r.days_late,
             "草稿" if r.state == "draft" else "未报送", r.step_label, r.step_day] for r in rows]


@pytest.mark.parametrize("query", ["", "?period=all", "?plan={plan}&period={period}", "?step=nonsense"])
def test_overdue_exports_are_the_overdue_list(app, world, login, query):
    client = login(app.test_client(), "staff")
    plan, period = world["plan"], world["period"]
    query = query.format(plan=plan.id, period=period.id)
    args = dict(a.split("=") for a in query.lstrip("?").split("&") if a)
    with app.test_request_context(query):
        f = review.overdue_filters(args, FROZEN_TODAY)
    expected = _expected_overdue(plan_id=plan.id, period_id=f["period"].id if f["period"] else None,
                                 step=f["step"], current_only=f["current_only"])
    assert expected
    ws = _xlsx(client.get(f"/exports/overdue.xlsx{query}"))
    assert [c.value for c in ws[2]][:4] == ["方案", "任务编号", "任务名称", "责任单位"]
    got = [[*r[:5], r[5].date() if r[5] else None, *r[6:9], r[9].date() if r[9] else None] for r in _values(ws, 3)]
    assert got == expected
    rows = _csv(client.get(f"/exports/overdue.csv{query}"))
    assert rows[1:] == [[str(c) if c is not None else "" for c in r] for r in expected]


def test_overdue_rows_show_the_step_taken_and_the_draft(app, world, login):
    client = login(app.test_client(), "staff")
    rows = _csv(client.get(f"/exports/overdue.csv?period={world['period'].id}"))
    urged = next(r for r in rows if r[3] == "自治区人力资源社会保障厅" and r[1] == "1")
    assert urged[8] and urged[9] == FROZEN_TODAY.isoformat()
    assert any(r[3] == "甲市" and r[7] == "草稿" for r in rows)
    assert not any(r[3] == "自治区人力资源社会保障厅" and r[1] == "3" for r in rows)  # submitted: not overdue
    assert any(r[3] == "自治区教育厅" and r[1] == "3" for r in rows)


@pytest.mark.parametrize("query", ["plan=²", "plan=99999999999999999999", "period=²", "step=%00"])
def test_odd_overdue_filters_are_ignored(app, world, login, query):
    client = login(app.test_client(), "staff")
    assert client.get(f"/exports/overdue.csv?{query}").status_code == 200


def test_overdue_step_filter_refer_is_empty_here(app, world, login):
    client = login(app.test_client(), "staff")
    assert len(_csv(client.get("/exports/overdue.csv?step=refer&period=all"))) == 1


def test_review_overdue_csv_still_works(app, world, login):
    client = login(app.test_client(), "staff")
    response = client.get(f"/review/overdue.csv?period={world['period'].id}")
    assert response.status_code == 200 and "自治区人力资源社会保障厅" in response.data.decode("utf-8")


# --- audit, access, 404 ---------------------------------------------------------------------------

def test_each_download_is_an_audit_event(app, world, login):
    client = login(app.test_client(), "auditor")
    plan, period = world["plan"], world["period"]
    client.get(f"/exports/plans/{plan.slug}/figures.xlsx?period={period.id}")
    assert client.get(f"/exports/plans/{plan.slug}/figures.csv?period={period.id}").data
    client.get("/exports/overdue.xlsx?step=refer")
    figures = _events("figures")
    assert [json.loads(e.content)["extra"]["format"] for e in figures] == ["xlsx", "csv"]
    first = json.loads(figures[0].content)["extra"]
    assert first["rows"] == 3 and first["plan"] == "mini-2025" and first["period"] == "2025年10月"
    assert figures[0].username == "auditor" and figures[0].entity_type == "plan"
    overdue = json.loads(_events("overdue")[0].content)["extra"]
    assert overdue["step"] == "refer" and overdue["rows"] == 0


@pytest.mark.parametrize("url", [
    "/exports/plans/{plan}/matrix.pdf", "/exports/plans/{plan}/figures.xls", "/exports/overdue.json",
    "/exports/plans/nope/matrix.xlsx", "/exports/plans/nope/figures.csv",
    "/exports/plans/{plan}/figures.xlsx?period=999999", "/exports/plans/{plan}/matrix.csv?period=x1",
    "/exports/plans/{plan}/matrix.xlsx?period=99999999999999999999999", "/exports/plans/{plan}/figures.csv?period=²",
])
def test_missing_things_answer_404_and_record_nothing(app, world, login, url):
    client = login(app.test_client(), "staff")
    assert client.get(url.format(plan=world["plan"].slug)).status_code == 404
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "export.download")).first() is None


def test_a_period_of_another_plan_is_404(app, world, login, factory):
    from tests.conftest import NMG_PLAN

    other = factory.plan(NMG_PLAN)
    period = db.session.execute(select(Period).where(Period.plan_id == other.id)).scalars().first()
    client = login(app.test_client(), "staff")
    assert client.get(f"/exports/plans/{world['plan'].slug}/figures.csv?period={period.id}").status_code == 404


@pytest.mark.parametrize("url", ["/exports/plans/mini-2025/matrix.xlsx", "/exports/plans/mini-2025/figures.csv",
                                 "/exports/overdue.xlsx"])
def test_liaisons_may_not_download(app, world, login, url):
    client = login(app.test_client(), "lx-own")
    assert client.get(url).status_code == 403
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.location


def test_the_matrix_page_links_its_exports(app, world, login):
    client = login(app.test_client(), "staff")
    plan, period = world["plan"], world["period"]
    page = client.get(f"/review/plans/{plan.slug}/matrix?period={period.id}&kind=league_city").data.decode()
    for what, fmt in (("matrix", "xlsx"), ("matrix", "csv"), ("figures", "xlsx"), ("figures", "csv")):
        assert f"/exports/plans/{plan.slug}/{what}.{fmt}?period={period.id}" in page
    assert f"matrix.xlsx?period={period.id}&amp;kind=league_city" in page


def test_dates_are_plain_dates(app, world, login):
    client = login(app.test_client(), "staff")
    ws = _xlsx(client.get("/exports/overdue.xlsx?period=all"))
    due = ws["F3"].value
    assert isinstance(due, datetime) and due.date() <= FROZEN_TODAY and ws["F3"].number_format == "yyyy-mm-dd"
    assert isinstance(ws["G3"].value, int) and ws["G3"].value > 0
    assert date(2025, 1, 1) <= due.date()
