"""Plausibility flags end to end: figures stored through the services, `flask integrity scan` over the
database, each rule with a planted case it must flag and a clean case it must not; then the flag's life
(explained by the unit, dismissed or confirmed by the office), its pages, its export and its access."""

from __future__ import annotations

import csv
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.integrity.models import Flag
from app.plans.models import Indicator, Period
from app.reports import services as reports
from app.reports.models import Report
from app.units.models import Unit
from tests.conftest import make_app

RULES_FOR_TESTS = """
defaults:
  jump: {max_relative_change: 0.5}
  out_of_bounds: {min: 0}
  sum_mismatch: {tolerance: 0.01}
  late_upward_revision: {days_before_deadline: 10, deadlines: [2025-07-15]}
  repeated_value: {min_periods: 3, min_units: 2}
  round_heaping: false
indicators:
  t3-rate:
    out_of_bounds: {min: 2, max: 10}
  t2-jobs:
    round_heaping: {enabled: true, base: 1, resolution: 0.01, max_share: 0.5, min_figures: 4}
"""


@pytest.fixture(scope="module")
def scan_app(app, tmp_path_factory):
    """The test database, with a plausibility file whose parameters fit the mini plan's few units."""
    workflows = tmp_path_factory.mktemp("wf") / "workflows"
    shutil.copytree(Path(app.config["WORKFLOWS_DIR"]), workflows)
    (workflows / "plausibility.yaml").write_text(RULES_FOR_TESTS, encoding="utf-8")
    return make_app(app.config["SQLALCHEMY_DATABASE_URI"], WORKFLOWS_DIR=str(workflows))


@pytest.fixture
def world(factory):
    factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    for username, unit in (("lx-rs", "自治区人力资源社会保障厅"), ("lx-gxt", "自治区工业和信息化厅"),
                           ("lx-jia", "甲市"), ("lx-yi", "乙盟"), ("lx-jy", "自治区教育厅")):
        factory.user(username, unit=unit)
    factory.user("office", role="staff")
    factory.user("auditor", role="auditor")


def put(unit: str, key: str, month: str, value: str, submit: bool = True) -> Report:
    """Store one figure through the report services, as the unit's liaison, and submit the report."""
    unit_obj = db.session.execute(select(Unit).where(Unit.name == unit)).scalar_one()
    indicator = db.session.execute(select(Indicator).where(Indicator.key == key)).scalar_one()
    period = db.session.execute(select(Period).where(Period.kind == "monthly",
                                                     Period.label == month)).scalar_one()
    assignment = reports.assignment_for_indicator(unit_obj.id, unit_obj.name, indicator)
    liaison = db.session.execute(select(User).where(User.unit_id == unit_obj.id, User.role == "liaison")).scalar_one()
    report = reports.save_report(assignment, period, liaison,
                                 reports.ReportInput("进展", "", "", {indicator.id: Decimal(value)}), None)
    if submit:
        reports.transition(report, "submit", liaison)
    db.session.commit()
    return report


def run_cli(scan_app, *args: str):
    """Run a command against scan_app (the test's own app context would otherwise be used)."""
    with scan_app.app_context():
        return scan_app.test_cli_runner().invoke(args=list(args))


def scan(scan_app) -> dict:
    result = run_cli(scan_app, "integrity", "scan", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def raised(output: dict, rule: str) -> set[tuple[str, str, str]]:
    return {(f["unit"], f["indicator"], f["period_end"]) for f in output["flags"] if f["rule"] == rule}


# --- every rule: a planted case and a clean case ------------------------------------------------------------


def test_cumulative_decrease(world, scan_app):
    put("甲市", "new-jobs", "2025年7月", "3.0")
    put("甲市", "new-jobs", "2025年8月", "2.5")  # planted: a year-to-date figure falls
    put("乙盟", "new-jobs", "2025年7月", "3.0")
    put("乙盟", "new-jobs", "2025年8月", "3.4")  # clean
    assert raised(scan(scan_app), "cumulative_decrease") == {("甲市", "new-jobs", "2025-08-31")}


def test_jump(world, scan_app):
    put("自治区人力资源社会保障厅", "t3-rate", "2025年7月", "5.0")
    put("自治区人力资源社会保障厅", "t3-rate", "2025年8月", "9.0")  # planted: +80 %
    put("自治区人力资源社会保障厅", "t3-rate", "2025年9月", "9.5")  # clean: +5.6 %
    assert raised(scan(scan_app), "jump") == {("自治区人力资源社会保障厅", "t3-rate", "2025-08-31")}


def test_out_of_bounds(world, scan_app):
    put("自治区人力资源社会保障厅", "t3-rate", "2025年7月", "6.0")  # clean
    put("自治区人力资源社会保障厅", "t3-rate", "2025年8月", "6.5")  # clean
    put("自治区人力资源社会保障厅", "t3-rate", "2025年9月", "12")  # planted: above 10
    output = scan(scan_app)
    assert raised(output, "out_of_bounds") == {("自治区人力资源社会保障厅", "t3-rate", "2025-09-30")}
    flag = next(f for f in output["flags"] if f["rule"] == "out_of_bounds")
    assert flag["evidence"]["max"] == "10" and "高于上限" in flag["message"]


def test_sum_mismatch(world, scan_app):
    put("自治区人力资源社会保障厅", "new-jobs", "2025年10月", "10")  # planted: 4 + 5 = 9, not 10
    put("甲市", "new-jobs", "2025年10月", "4")
    put("乙盟", "new-jobs", "2025年10月", "5")
    put("自治区人力资源社会保障厅", "new-jobs", "2025年9月", "9.05")  # clean: 0.55 % off, within 1 %
    put("甲市", "new-jobs", "2025年9月", "4")
    put("乙盟", "new-jobs", "2025年9月", "5")
    output = scan(scan_app)
    assert raised(output, "sum_mismatch") == {("自治区人力资源社会保障厅", "new-jobs", "2025-10-31")}
    flag = next(f for f in output["flags"] if f["rule"] == "sum_mismatch")
    assert len(flag["figure_ids"]) == 3  # the region's figure and both leagues' figures


def _revise(app, login, unit: str, username: str, month: str, value: str, entered: str) -> None:
    """The office returns the report; the unit's corrected value is loaded with its time of entry."""
    report = db.session.execute(select(Report).where(Report.period.has(label=month))
                                .where(Report.assignment.has(unit_id=db.session.execute(
                                    select(Unit.id).where(Unit.name == unit)).scalar_one()))).scalar_one()
    office = login(app.test_client(), "office")
    assert office.post(f"/reports/{report.id}/return", data={"reason": "请核实", "version": report.version}
                       ).status_code == 302
    data = f"单位,指标,周期,数值,填报时间,原因\n{unit},t2-jobs,{month},{value},{entered},核实后修正\n".encode()
    client = login(app.test_client(), username)
    r = client.post("/figures/import", data={"file": (io.BytesIO(data), "f.csv")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.text


def test_late_upward_revision(app, world, scan_app, login):
    put("自治区工业和信息化厅", "t2-jobs", "2025年6月", "5")
    _revise(app, login, "自治区工业和信息化厅", "lx-gxt", "2025年6月", "6", "2025-07-10 10:00")  # planted
    put("甲市", "t2-jobs", "2025年6月", "5")
    _revise(app, login, "甲市", "lx-jia", "2025年6月", "6", "2025-06-20 10:00")  # clean: 25 days before
    put("乙盟", "t2-jobs", "2025年6月", "6")
    _revise(app, login, "乙盟", "lx-yi", "2025年6月", "5", "2025-07-12 10:00")  # clean: downward
    output = scan(scan_app)
    assert raised(output, "late_upward_revision") == {("自治区工业和信息化厅", "t2-jobs", "2025-06-30")}
    flag = next(f for f in output["flags"] if f["rule"] == "late_upward_revision")
    assert flag["evidence"]["revised_from"] == "5.0000" or Decimal(flag["evidence"]["revised_from"]) == 5


def test_repeated_value_over_time(world, scan_app):
    for month in ("2025年7月", "2025年8月", "2025年9月"):
        put("甲市", "t2-jobs", month, "2")  # planted: three months the same
    for month, value in (("2025年7月", "2"), ("2025年8月", "2.1"), ("2025年9月", "2.2")):
        put("乙盟", "t2-jobs", month, value)  # clean
    output = scan(scan_app)
    over_time = {(f["unit"], f["period_end"]) for f in output["flags"]
                 if f["rule"] == "repeated_value" and f["evidence"]["kind"] == "over_time"}
    assert over_time == {("甲市", "2025-09-30")}


def test_repeated_value_across_units(world, scan_app):
    put("甲市", "t3-studio", "2025年10月", "3")  # planted: both leagues report 3
    put("乙盟", "t3-studio", "2025年10月", "3")
    put("甲市", "t3-studio", "2025年9月", "3")  # clean: 3 and 4
    put("乙盟", "t3-studio", "2025年9月", "4")
    output = scan(scan_app)
    across = {(f["unit"], f["period_end"]) for f in output["flags"]
              if f["rule"] == "repeated_value" and f["evidence"]["kind"] == "across_units"}
    assert across == {("甲市", "2025-10-31"), ("乙盟", "2025-10-31")}


def test_round_heaping(world, scan_app):
    for month, value in (("2025年6月", "3"), ("2025年7月", "4"), ("2025年8月", "5"), ("2025年9月", "6")):
        put("自治区工业和信息化厅", "t2-jobs", month, value)  # planted: every figure a whole number
    for month, value in (("2025年6月", "3.12"), ("2025年7月", "4.37"), ("2025年8月", "5.55"), ("2025年9月", "6.81")):
        put("甲市", "t2-jobs", month, value)  # clean
    assert raised(scan(scan_app), "round_heaping") == {("自治区工业和信息化厅", "t2-jobs", "2025-09-30")}


def test_drafts_are_not_scanned_and_disabled_rules_do_not_run(world, scan_app):
    put("自治区人力资源社会保障厅", "t3-rate", "2025年9月", "12", submit=False)  # a draft: not yet stated
    for month, value in (("2025年6月", "3"), ("2025年7月", "4"), ("2025年8月", "5"), ("2025年9月", "6")):
        put("甲市", "new-jobs", month, value)  # round_heaping is off for new-jobs here
    output = scan(scan_app)
    assert raised(output, "out_of_bounds") == set() and raised(output, "round_heaping") == set()


# --- storing: once per rule, unit, indicator and period -----------------------------------------------------


def test_scan_stores_new_flags_once_with_audit_events(world, scan_app):
    put("甲市", "new-jobs", "2025年7月", "3.0")
    put("甲市", "new-jobs", "2025年8月", "2.5")
    first = scan(scan_app)
    assert first["new"] >= 1
    count = db.session.execute(select(func.count()).select_from(Flag)).scalar_one()
    assert count == len(first["flags"])
    flag = db.session.execute(select(Flag).where(Flag.rule == "cumulative_decrease")).scalar_one()
    assert flag.state == "open" and flag.unit.name == "甲市" and flag.period.label == "2025年8月"
    assert flag.figure_id in flag.figure_ids and len(flag.figure_ids) == 2
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "flag.raise",
                                                       AuditEvent.entity_id == str(flag.id))).scalar_one()
    second = scan(scan_app)
    assert second["new"] == 0 and len(second["flags"]) == len(first["flags"])
    assert db.session.execute(select(func.count()).select_from(Flag)).scalar_one() == count
    text = run_cli(scan_app, "integrity", "scan")
    assert text.exit_code == 0 and "cumulative_decrease" in text.output and "累计值下降" in text.output


def test_scan_loads_the_figures_in_one_query(world, scan_app):
    from sqlalchemy import event

    for month, value in (("2025年6月", "1"), ("2025年7月", "2"), ("2025年8月", "3"), ("2025年9月", "4")):
        for unit in ("甲市", "乙盟"):
            put(unit, "t2-jobs", month, value)
    with scan_app.app_context():
        from app.integrity import services

        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            if "FROM figure" in statement:
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            batches = list(services.stored_figures_by_plan())
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert sum(len(b) for _, b in batches) == 8
        assert len(statements) == 1


# --- the life of a flag over HTTP -----------------------------------------------------------------------------


@pytest.fixture
def flagged(world, scan_app):
    put("甲市", "new-jobs", "2025年7月", "3.0")
    report = put("甲市", "new-jobs", "2025年8月", "2.5")
    scan(scan_app)
    flag = db.session.execute(select(Flag).where(Flag.rule == "cumulative_decrease")).scalar_one()
    return {"flag": flag, "report": report}


def test_unit_explains_and_office_decides(app, flagged, login):
    flag = flagged["flag"]
    report = flagged["report"]
    unit = login(app.test_client(), "lx-jia")
    page = unit.get(f"/items/{report.assignment_id}/reports/{report.period_id}").text
    assert "累计值下降" in page and f"/integrity/flags/{flag.id}" in page
    url = f"/integrity/flags/{flag.id}"
    assert "累计值下降" in unit.get(url).text
    r = unit.post(url, data={"action": "explain", "explain-explanation": "", "explain-version": flag.version})
    assert r.status_code == 200 and "请填写情况说明" in r.text
    r = unit.post(url, data={"action": "explain", "explain-explanation": "8 月剔除重复登记 5000 人",
                             "explain-version": flag.version})
    assert r.status_code == 302
    db.session.refresh(flag)
    assert flag.state == "explained" and flag.explained_by.username == "lx-jia"
    # the unit cannot decide; another unit does not even see the flag
    assert unit.post(url, data={"action": "dismiss", "decide-note": "x", "decide-version": flag.version}
                     ).status_code == 403
    other = login(app.test_client(), "lx-yi")
    assert other.get(url).status_code == 404
    assert other.post(url, data={"action": "explain", "explain-explanation": "x"}).status_code == 404
    assert f"/integrity/flags/{flag.id}" not in other.get("/integrity/flags").text
    auditor = login(app.test_client(), "auditor")
    assert auditor.get(url).status_code == 200
    assert auditor.post(url, data={"action": "dismiss", "decide-note": "x"}).status_code == 403
    office = login(app.test_client(), "office")
    r = office.post(url, data={"action": "confirm", "decide-note": "", "decide-version": flag.version})
    assert r.status_code == 200 and "请填写处理意见" in r.text
    r = office.post(url, data={"action": "confirm", "decide-note": "剔除依据不足，转核查",
                               "decide-version": flag.version})
    assert r.status_code == 302
    db.session.refresh(flag)
    assert flag.state == "confirmed" and flag.decided_by.username == "office"
    actions = [e.action for e in db.session.execute(select(AuditEvent).where(
        AuditEvent.entity_type == "flag", AuditEvent.entity_id == str(flag.id)).order_by(AuditEvent.seq)).scalars()]
    assert actions == ["flag.raise", "flag.explain", "flag.confirm"]
    # settled: no further moves
    r = office.post(url, data={"action": "dismiss", "decide-note": "x", "decide-version": flag.version})
    assert r.status_code == 403


def test_dismissing_an_unexplained_flag_needs_a_note(app, flagged, login):
    flag = flagged["flag"]
    office = login(app.test_client(), "office")
    url = f"/integrity/flags/{flag.id}"
    r = office.post(url, data={"action": "dismiss", "decide-note": "", "decide-version": flag.version})
    assert "请填写处理意见" in r.text
    assert office.post(url, data={"action": "dismiss", "decide-note": "季节性回落，已电话核实",
                                  "decide-version": flag.version}).status_code == 302
    db.session.refresh(flag)
    assert flag.state == "dismissed"


def test_list_filters_and_csv_export(app, flagged, login):
    flag = flagged["flag"]
    office = login(app.test_client(), "office")
    page = office.get("/integrity/flags?rule=cumulative_decrease&state=open").text
    assert f"/integrity/flags/{flag.id}" in page
    assert f"/integrity/flags/{flag.id}\"" not in office.get("/integrity/flags?state=dismissed").text
    r = office.get("/integrity/flags.csv?rule=cumulative_decrease")
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "规则", "单位"]
    assert rows[1][0] == str(flag.id) and rows[1][1] == "累计值下降" and rows[1][2] == "甲市"
    assert len(rows) == 2
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "flag.export")).scalar_one()
    # liaisons see their own unit's list but export nothing
    unit = login(app.test_client(), "lx-jia")
    assert f"/integrity/flags/{flag.id}" in unit.get("/integrity/flags").text
    assert unit.get("/integrity/flags.csv").status_code == 403


def test_a_bad_rules_file_stops_start_up_with_its_line(app, tmp_path):
    from app.workflow import WorkflowFileError

    workflows = tmp_path / "workflows"
    shutil.copytree(Path(app.config["WORKFLOWS_DIR"]), workflows)
    (workflows / "plausibility.yaml").write_text("defaults:\n  jump:\n    max_relative_change: lots\n",
                                                 encoding="utf-8")
    with pytest.raises(WorkflowFileError, match=r"plausibility.yaml:3: .*max_relative_change must be a number"):
        make_app(app.config["SQLALCHEMY_DATABASE_URI"], WORKFLOWS_DIR=str(workflows))
