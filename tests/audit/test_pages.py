"""The audit pages: an entity's history as a readable timeline, the log search and its CSV export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.plans.models import Assignment, Period, Task
from app.reports import services as reports
from app.timeutil import to_local


@pytest.fixture
def world(factory) -> dict[str, Any]:
    """A report saved, submitted, returned with a reason and corrected, by the unit and the office."""
    factory.plan()
    own = factory.user("lx-own", unit="自治区工业和信息化厅")
    factory.user("lx-other", unit="自治区教育厅")
    staff = factory.user("staff", role="staff")
    factory.user("admin", role="admin")
    factory.user("auditor", role="auditor")
    task = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task.id,
                                                       Assignment.unit_id == own.unit_id)).scalar_one()
    period = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().first()
    indicators = reports.indicators_for(item)
    assert indicators
    first = reports.ReportInput("本月发布岗位3万个。", "", "继续推进。", {i.id: Decimal("8.5") for i in indicators})
    report = reports.save_report(item, period, own, first, None)
    reports.transition(report, "submit", own)
    db.session.commit()
    reports.transition(report, "return", staff, reason="数据口径与上月不一致")
    db.session.commit()
    second = reports.ReportInput("本月发布岗位3.2万个。", "", "继续推进。", {i.id: Decimal("9.25") for i in indicators})
    reports.save_report(item, period, own, second, report.version)
    db.session.commit()
    figure = report.figures[0]
    return {"item": item.id, "report": report.id, "figure": figure.id, "user": own.id, "staff": staff.id,
            "unit": own.unit.name}


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:500])
    return response.text


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- history ------------------------------------------------------------------------------------------------


def test_a_reports_history_reads_who_changed_what_from_what_to_what(app, world, login):
    client = login(app.test_client(), "lx-own")
    html = page(client, f"/audit/history/report/{world['report']}")
    body = text_of(html)
    assert "变更记录" in body and "自治区工业和信息化厅" in body
    # the state moves, in Chinese, with the office's reason
    assert re.search(r"退回修改 .*状态 已报送 → 已退回", body)
    assert "数据口径与上月不一致" in body
    # the text and the figure, from what to what
    assert re.search(r"进展情况 本月发布岗位3万个。 → 本月发布岗位3.2万个。", body)
    assert re.search(r"数值 8.5 → 9.25", body)
    assert re.search(r"数值 （空） → 8.5", body)
    # times in Asia/Shanghai, the newest first
    events = db.session.execute(select(AuditEvent).where(AuditEvent.entity_type.in_(("report", "figure")))
                                .order_by(AuditEvent.seq.desc())).scalars().all()
    shown = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', html)
    assert [s[1] for s in shown] == [f"{to_local(e.at):%Y-%m-%d %H:%M:%S}" for e in events]
    assert all(s[0].endswith("+08:00") for s in shown)
    assert body.index("数值 8.5 → 9.25") < body.index("数值 （空） → 8.5")
    # liaisons do not see the office's technical columns (IP, request id, hash)
    assert "请求" not in body and "IP" not in body


def test_an_assignments_history_holds_its_reports_and_figures(app, world, login):
    client = login(app.test_client(), "lx-own")
    client.post(f"/items/{world['item']}", data={"status": "in_progress", "progress": "60", "status_note": "",
                                                 "version": str(db.session.get(Assignment, world["item"]).version)})
    body = text_of(page(client, f"/audit/history/assignment/{world['item']}"))
    assert re.search(r"更新责任事项 .*工作状态 未启动 → 推进中", body)
    assert re.search(r"完成进度（%） 0 → 60", body)
    assert "报送" in body and "数值 8.5 → 9.25" in body


def test_a_figures_history_is_its_values(app, world, login):
    client = login(app.test_client(), "auditor")
    body = text_of(page(client, f"/audit/history/figure/{world['figure']}"))
    assert "数值 （空） → 8.5" in body and "数值 8.5 → 9.25" in body
    assert "进展情况" not in body  # the report's own fields are on the report's page


def test_a_users_history_shows_role_changes_to_the_office_only(app, world, login):
    admin = login(app.test_client(), "admin")
    response = admin.post(f"/admin/users/{world['staff']}", data={
        "username": "staff", "name": "staff", "role": "auditor", "unit_id": "0", "email": "staff@example.org",
        "active": "y"})
    assert response.status_code == 302
    body = text_of(page(login(app.test_client(), "auditor"), f"/audit/history/user/{world['staff']}"))
    assert re.search(r"变更角色 .*角色 领导小组办公室 → 审计员", body)
    assert "新建账号" in body
    page(login(app.test_client(), "lx-own"), f"/audit/history/user/{world['user']}", 404)


def test_another_units_history_answers_404(app, world, login):
    other = login(app.test_client(), "lx-other")
    for kind in ("report", "figure", "assignment"):
        page(other, f"/audit/history/{kind}/{world[kind if kind != 'assignment' else 'item']}", 404)
    page(other, "/audit/history/report/999999", 404)
    page(other, "/audit/history/unit/1", 404)  # not a history page at all
    page(other, "/audit/history/report/abc", 404)


def test_the_history_of_a_deleted_object_stays_readable_for_the_office(app, ctx, login, factory):
    factory.user("auditor", role="auditor")
    audit.record("figure.set", "figure", 424242, {"value": [None, Decimal("3")]})
    db.session.commit()
    body = text_of(page(login(app.test_client(), "auditor"), "/audit/history/figure/424242"))
    assert "数值 （空） → 3" in body
    page(login(app.test_client(), "auditor"), "/audit/history/figure/424243", 404)


# --- the log search ---------------------------------------------------------------------------------------


def test_the_log_is_for_staff_and_auditors(app, world, login):
    for who, status in (("staff", 200), ("auditor", 200), ("admin", 403), ("lx-own", 403)):
        page(login(app.test_client(), who), "/audit/log", status)
        page(login(app.test_client(), who), "/audit/log.csv", status)


def test_search_by_user_unit_entity_and_action(app, world, login):
    client = login(app.test_client(), "auditor")
    n_own = db.session.execute(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.username == "lx-own")).scalar_one()
    body = text_of(page(client, "/audit/log?user=LX-OWN"))  # user names are matched without case
    assert f"共 {n_own} 条记录" in body
    body = text_of(page(client, "/audit/log?unit=" + world["unit"]))
    assert f"共 {n_own} 条记录" in body  # only lx-own acted for that unit
    body = text_of(page(client, f"/audit/log?entity_type=report&entity_id={world['report']}"))
    assert "共 5 条记录" in body  # create, update, submit, return, update
    body = text_of(page(client, "/audit/log?action=report.return"))
    assert "共 1 条记录" in body and "数据口径与上月不一致" in body
    n_report = db.session.execute(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.action.like("report.%"))).scalar_one()
    body = text_of(page(client, "/audit/log?action=area:report"))
    assert f"共 {n_report} 条记录" in body
    # the office sees where each event came from
    assert "IP 127.0.0.1" in body or "IP —" in body


def test_search_by_time_range_in_beijing_time(app, ctx, login, factory):
    factory.user("auditor", role="auditor")

    from app.timeutil import replaying_at

    with replaying_at(datetime(2025, 5, 31, 16, 30, tzinfo=UTC)):  # 2025-06-01 00:30 in Beijing
        audit.record("unit.update", "unit", 1, {"name": ["甲", "乙"]})
    with replaying_at(datetime(2025, 6, 1, 15, 59, tzinfo=UTC)):  # 23:59 on 1 June in Beijing
        audit.record("unit.update", "unit", 1, {"name": ["乙", "丙"]})
    with replaying_at(datetime(2025, 6, 1, 16, 0, tzinfo=UTC)):  # 2 June in Beijing
        audit.record("unit.update", "unit", 1, {"name": ["丙", "丁"]})
    db.session.commit()
    client = login(app.test_client(), "auditor")

    def found(query: str) -> list[str]:
        html = page(client, "/audit/log?action=unit.update&" + query)
        return re.findall(r'名称</th><td class="pre">(\S)</td>', html)

    assert found("start=2025-06-01&end=2025-06-01") == ["乙", "甲"]
    assert found("start=2025-06-02") == ["丙"]
    assert found("end=2025-05-31") == []
    assert found("start=2025年6月1日&end=２０２５-06-01") == ["乙", "甲"]  # the ways people type dates


@pytest.mark.parametrize(("query", "field", "message"), [
    ("start=2025-06-02&end=2025-06-01", "end", "结束日期不能早于起始日期。"),
    ("start=2025-13-01", "start", "日期格式应为 年-月-日"),
    ("end=yesterday", "end", "日期格式应为 年-月-日"),
    ("entity_type=secret", "entity_type", "请选择列表中的对象类型。"),
    ("action=drop.table", "action", "请选择列表中的操作。"),
    ("entity_id=12", "entity_id", "填写对象编号时请同时选择对象类型。"),
    ("user=" + "x" * 51, "user", "不能超过 50 个字。"),
])
def test_bad_search_input_gets_a_message_beside_its_field(app, world, login, query, field, message):
    client = login(app.test_client(), "staff")
    for url in ("/audit/log?", "/audit/log.csv?"):
        response = client.get(url + query)
        assert response.status_code == 400
        html = response.text
        block = re.search(rf'<div class="field has-error">\s*<label for="{field}">.*?</div>\s*</div>', html, re.S)
        assert block and message in block.group(0), html[:3000]
    n = db.session.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "audit.export"))
    assert n.scalar_one() == 0  # a refused export exports nothing and records nothing


def test_pages_of_the_log_follow_each_other(app, ctx, login, factory):
    factory.user("staff", role="staff")
    for i in range(120):
        audit.record("task.update", "task", i, {"title": [f"旧{i}", f"新{i}"]})
    db.session.commit()
    client = login(app.test_client(), "staff")
    seen: list[int] = []
    url = "/audit/log?action=task.update"
    pages = 0
    while url:
        html = page(client, url)
        seen += [int(s) for s in re.findall(r'id="event-(\d+)"', html)]
        more = re.search(r'href="([^"]+)">更早的记录', html)
        url = more.group(1).replace("&amp;", "&") if more else ""
        pages += 1
    assert pages == 3 and len(seen) == 120 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    assert "共 120 条记录" in text_of(page(client, "/audit/log?action=task.update"))


def test_pages_run_a_fixed_number_of_statements(app, ctx, login, factory):
    factory.plan()
    factory.user("auditor", role="auditor")
    client = login(app.test_client(), "auditor")

    def statements(url: str) -> int:
        seen: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            page(client, url)
        finally:
            event.remove(db.engine, "before_cursor_execute", before)
        return len(seen)

    def grow(n: int) -> None:
        for _ in range(n):
            audit.record("unit.update", "unit", 1, {"unit_id": [1, 2], "liaison_user_id": [None, 1],
                                                    "members": [[1], [1, 2]]})
        db.session.commit()

    grow(10)
    small = (statements("/audit/log"), statements("/audit/history/user/1"), statements("/audit/log?unit=x"))
    grow(200)
    large = (statements("/audit/log"), statements("/audit/history/user/1"), statements("/audit/log?unit=x"))
    assert small == large


# --- CSV export ---------------------------------------------------------------------------------------------


def test_the_export_is_the_search_as_csv_and_is_itself_audited(app, world, login):
    audit.record("unit.update", "unit", 5, {"name": ["=HYPERLINK(\"http://x\")", "-1+2"]},
                 actor=(None, "@admin", None))
    db.session.commit()
    client = login(app.test_client(), "auditor")
    response = client.get(f"/audit/log.csv?entity_type=report&entity_id={world['report']}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][:4] == ["序号", "时间（北京时间）", "用户", "单位"]
    assert len(rows) == 6 and {r[7] for r in rows[1:]} == {"report.create", "report.update", "report.submit",
                                                          "report.return"}
    returned = next(r for r in rows[1:] if r[7] == "report.return")
    assert returned[2] == "staff" and "状态：已报送 → 已退回" in returned[10] and returned[11] == "数据口径与上月不一致"
    # the export is an audit event, by the auditor, with what was asked and how many rows
    export = db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.export")).scalar_one()
    content = json.loads(export.content)
    assert export.username == "auditor" and export.ip == "127.0.0.1"
    assert content["extra"]["filters"] == {"entity_type": "report", "entity_id": str(world["report"])}
    assert content["extra"]["rows"] == 5
    # a spreadsheet will not run what a user typed as a formula
    rows = list(csv.reader(io.StringIO(client.get("/audit/log.csv?action=unit.update").data.decode()[1:])))
    assert rows[1][2] == "'@admin" and "'=" not in rows[1][10] and rows[1][10].startswith("名称：=HYPERLINK")
    assert audit.verify_log().ok


def test_export_is_refused_to_others_without_an_event(app, world, login):
    for who in ("admin", "lx-own"):
        assert login(app.test_client(), who).get("/audit/log.csv").status_code == 403
    n = db.session.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "audit.export"))
    assert n.scalar_one() == 0


def test_links_lead_to_the_history(app, world, login):
    client = login(app.test_client(), "lx-own")
    period = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().first()
    html = page(client, f"/items/{world['item']}/reports/{period.id}")
    assert f'href="/audit/history/report/{world["report"]}"' in html
    assert f'href="/audit/history/assignment/{world["item"]}"' in page(client, f"/items/{world['item']}")
    staff = login(app.test_client(), "staff")
    assert 'href="/audit/log"' in page(staff, "/plans/")
    assert 'href="/audit/log"' not in page(client, "/plans/")



def test_a_long_export_comes_in_chunks_that_join_up(app, ctx):
    from app.audit.queries import LogFilter
    from app.audit.routes import _stream_csv

    for i in range(120):
        audit.record("task.update", "task", i, {"title": [f"旧{i}", f"新{i}"]})
    db.session.commit()
    chunks = list(_stream_csv(app, LogFilter(action="task.update"), 110, batch=50))
    assert len(chunks) == 3
    rows = list(csv.reader(io.StringIO("".join(chunks)[1:])))
    seqs = [int(r[0]) for r in rows[1:]]
    assert len(seqs) == 110 == len(set(seqs)) and seqs == sorted(seqs, reverse=True)


def test_a_figures_history_holds_its_restatement_requests(app, world, login):
    from app.reports.models import Figure

    staff = db.session.execute(select(User).where(User.username == "staff")).scalar_one()
    own = db.session.execute(select(User).where(User.username == "lx-own")).scalar_one()
    from app.reports.models import Report

    report = db.session.get(Report, world["report"])
    reports.transition(report, "submit", own)
    reports.transition(report, "accept", staff)
    reports.request_restatement(db.session.get(Figure, world["figure"]), own, Decimal("10"), "统计口径更正")
    db.session.commit()
    body = text_of(page(login(app.test_client(), "lx-own"), f"/audit/history/figure/{world['figure']}"))
    assert re.search(r"申请更正 更正申请 #\d+ .*数值 （空） → 10", body) and "统计口径更正" in body
