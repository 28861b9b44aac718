"""The review queue (督办队列): who is in it and why, the age in working days, the bulk actions
(urge, extend, refer) all or nothing, with Chinese messages beside the fields."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Period
from app.reminders.models import DueOverride, LadderStep, Notice
from app.reminders.sweep import sweep
from app.reports import services as reports
from app.reports.models import Report
from app.review import queue
from app.workflow import workflows
from tests.reminders.conftest import D, build_scenario, submit


@pytest.fixture
def scenario(factory):
    return build_scenario(factory)


def periods(plan) -> dict[str, Period]:
    return {p.label: p for p in db.session.execute(select(Period).where(Period.plan_id == plan.id)).scalars()}


def items(scenario, unit: str) -> list[Assignment]:
    return db.session.execute(select(Assignment).where(Assignment.unit_id == scenario.units[unit].id)
                              .order_by(Assignment.id)).scalars().all()


def key(item: Assignment, period: Period) -> str:
    return f"{item.id}-{period.id}"


def counts() -> dict[str, int]:
    """What a refused bulk action must leave as it was."""
    return {model.__name__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (LadderStep, DueOverride, Notice, AuditEvent)}


# --------------------------------------------------------------------------- pure rules

@pytest.mark.parametrize(("due", "today", "returned", "age", "why"), [
    (D("2025-09-05"), D("2025-10-10"), None, 20,
     "National Day holiday 10-01..08 not counted, make-up Sunday 09-28 counted (Mon-Fri would say 25)"),
    (D("2025-09-30"), D("2025-10-09"), None, 1, "the first working day after the holiday"),
    (D("2025-09-30"), D("2025-10-11"), None, 3, "Saturday 10-11 is a make-up working day"),
    (D("2025-10-10"), D("2025-10-10"), None, 0, "due today: not late yet"),
    (D("2025-10-14"), D("2025-10-10"), None, 0, "not due: never negative"),
    (D("2025-09-05"), D("2025-10-10"), D("2025-10-09"), 1, "returned after the due date: from the return"),
    (D("2025-09-05"), D("2025-10-10"), D("2025-09-01"), 20, "returned before the due date: from the due date"),
    (D("2025-10-14"), D("2025-10-10"), D("2025-09-30"), 2, "returned, not due yet: from the return, across the holiday"),
])
def test_age_in_working_days(app, due, today, returned, age, why):
    with app.app_context():
        assert queue.age_workdays(workflows().calendar, due, today, returned) == age, why


@pytest.mark.parametrize(("flags", "reasons"), [
    ((True, False, False), ["overdue"]),
    ((True, True, False), ["overdue", "escalated"]),
    ((False, False, True), ["returned"]),
    ((True, True, True), ["overdue", "escalated", "returned"]),
    ((False, False, False), []),
])
def test_reasons_in_a_fixed_order(flags, reasons):
    assert queue.reasons_of(*flags) == reasons


# --------------------------------------------------------------------------- membership


def _step(item, period, step, due):
    db.session.add(LadderStep(assignment_id=item.id, period_id=period.id, step=step, due=due, day=due,
                              taken_at=datetime(2025, 3, 10, 1, 0)))


def _override(item, period, due):
    db.session.add(DueOverride(assignment_id=item.id, period_id=period.id, due=due, reason="顺延",
                               set_at=datetime(2025, 3, 10, 1, 0)))


def _report(scenario, item, period, then: tuple[str, ...] = ()):
    unit = next(name for name, u in scenario.units.items() if u.id == item.unit_id)
    submit(item.id, period.id, scenario.liaisons[unit])
    report = db.session.execute(select(Report).where(Report.assignment_id == item.id,
                                                             Report.period_id == period.id)).scalar_one()
    for action in then:
        reports.transition(report, action, scenario.staff, "口径不一致" if action == "return" else None)
    db.session.commit()


# each case: (name, unit, index of its item, period label, setup, reasons expected; None: not in the queue)
FEB, MAR = "2025年2月", "2025年3月"
MEMBERSHIP = [
    ("overdue: nothing reported", "甲市", 0, FEB, lambda s, i, p: None, ["overdue"]),
    ("overdue: a draft only", "甲市", 1, FEB,
     lambda s, i, p: reports.save_report(i, p, s.liaisons["甲市"], reports.ReportInput("草稿", "", "", {}), None),
     ["overdue"]),
    ("escalated as well as overdue", "乙盟", 0, FEB, lambda s, i, p: _step(i, p, "escalate", p.due),
     ["overdue", "escalated"]),
    ("escalated, not due (a referral by hand)", "乙盟", 1, MAR, lambda s, i, p: _step(i, p, "refer", p.due),
     ["escalated"]),
    ("returned, not due yet", "自治区教育厅", 0, MAR, lambda s, i, p: _report(s, i, p, ("return",)), ["returned"]),
    ("submitted: not in the queue", "自治区发展改革委", 0, FEB, lambda s, i, p: _report(s, i, p), None),
    ("accepted: not in the queue", "自治区工业和信息化厅", 0, FEB, lambda s, i, p: _report(s, i, p, ("accept",)),
     None),
    ("an override moved the due date: not overdue", "乙盟", 2, FEB, lambda s, i, p: _override(i, p, D("2025-03-20")),
     None),
    ("an extension past an escalation supersedes it", "甲市", 2, FEB,
     lambda s, i, p: (_step(i, p, "escalate", p.due), _override(i, p, D("2025-03-20"))), None),
    ("remind and urge only, not due: not in the queue", "自治区人力资源社会保障厅", 1, MAR,
     lambda s, i, p: _step(i, p, "remind", p.due), None),
]


def test_queue_membership(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))  # February due 03-07 has passed, March not
    ps = periods(scenario.plan)
    chosen = []
    for name, unit, index, label, setup, expected in MEMBERSHIP:
        item, period = items(scenario, unit)[index], ps[label]
        setup(scenario, item, period)
        db.session.commit()
        chosen.append((name, item.id, period.id, expected))
    with app.test_request_context():
        found = {(r.assignment_id, r.period_id): r for r in queue.queue_page(D("2025-03-12"), per_page=None).rows}
    got = {name: found[(a, p)].reasons if (a, p) in found else None for name, a, p, _ in chosen}
    assert got == {name: expected for name, _, _, expected in chosen}
    # the page shows the same rows, with their reasons
    page = login(app.test_client(), "office1").get("/review/queue").text
    for name, a, p, expected in chosen:
        assert (f'id="item-{a}-{p}"' in page) == (expected is not None), name
    assert "reason-escalated" in page and "reason-returned" in page


def test_filters_reason_unit_kind_step_and_plan(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-25"))
    sweep(D("2025-03-25"))  # February: every step up to refer; March not due
    ps = periods(scenario.plan)
    returned = items(scenario, "自治区教育厅")[0]
    _report(scenario, returned, ps[MAR], ("return",))
    client = login(app.test_client(), "office1")

    def keys(url: str) -> set[str]:
        r = client.get(url)
        assert r.status_code == 200, url
        return set(re.findall(r'id="item-(\d+-\d+)"', r.text))

    everything = keys("/review/queue")
    assert key(returned, ps[MAR]) in everything
    assert keys("/review/queue?reason=returned") == {key(returned, ps[MAR])}
    assert keys("/review/queue?step=refer") == everything - {key(returned, ps[MAR])}
    cities = {key(i, ps[FEB]) for unit in ("甲市", "乙盟") for i in items(scenario, unit)}
    assert keys("/review/queue?kind=league_city") == cities
    assert keys(f"/review/queue?plan={scenario.plan.id}&period={ps[MAR].id}") == {key(returned, ps[MAR])}
    assert keys("/review/queue?period=all") >= everything


def test_last_contact_and_age_shown_on_the_page(app, scenario, login, monkeypatch):
    """Age across the National Day holiday; the last contact: the furthest step swept that day."""
    monkeypatch.setitem(app.config, "TODAY", D("2025-10-10"))
    sweep(D("2025-09-20"))
    db.session.commit()
    page = login(app.test_client(), "office1").get("/review/queue").text
    august = periods(scenario.plan)["2025年8月"]
    item = items(scenario, "甲市")[0]
    row = page[page.index(f'id="item-{item.id}-{august.id}"'):]
    row = row[:row.index("</tr>")]
    assert august.due == D("2025-09-05")
    assert '<td class="num late">20</td>' in row  # not 25 (Mon-Fri), not 35 (calendar days)
    assert "2025-09-20" in row and "移交监督平台" in row


# --------------------------------------------------------------------------- bulk actions


def test_bulk_urge_writes_notices_and_shows_on_the_liaisons_item_page(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))
    feb = periods(scenario.plan)[FEB]
    chosen = items(scenario, "甲市")[:2] + items(scenario, "乙盟")[:1]
    client = login(app.test_client(), "office1")
    before = counts()
    r = client.post("/review/queue", data={"item": [key(i, feb) for i in chosen], "action": "urge",
                                           "message": "请于三个工作日内报送二月进展。"})
    assert r.status_code == 302, r.text
    assert "已向 2 个单位的 3 个事项发出催办" in client.get(r.location).text
    steps = db.session.execute(select(LadderStep).where(LadderStep.step == "urge")).scalars().all()
    assert {(s.assignment_id, s.message, s.by_user_id) for s in steps} == {
        (i.id, "请于三个工作日内报送二月进展。", scenario.staff.id) for i in chosen}
    manual = db.session.execute(select(Notice).where(Notice.kind.like("urge_manual:%"))).scalars().all()
    assert {n.kind for n in manual} == {f"urge_manual:{i.id}:{feb.id}" for i in chosen}
    assert all("请于三个工作日内报送二月进展。" in n.body_text for n in manual)
    assert counts()["AuditEvent"] - before["AuditEvent"] == 3
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "ladder.urge")).scalar_one() == 3
    # the unit's liaison sees the urge and its message on the item page
    liaison = login(app.test_client(), scenario.liaisons["甲市"].username)
    page = liaison.get(f"/items/{chosen[0].id}").text
    assert "请于三个工作日内报送二月进展。" in page and "step-urge" in page
    assert "office1" in page
    # and the queue shows the urge as the last contact
    queue_page = client.get("/review/queue").text
    row = queue_page[queue_page.index(f'id="item-{key(chosen[0], feb)}"'):]
    assert "人工催办" in row[:row.index("</tr>")]


def test_extend_moves_the_items_out_of_the_queue(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))
    feb = periods(scenario.plan)[FEB]
    chosen = items(scenario, "乙盟")
    client = login(app.test_client(), "office1")
    assert all(f'id="item-{key(i, feb)}"' in client.get("/review/queue").text for i in chosen)
    r = client.post("/review/queue", data={"item": [key(i, feb) for i in chosen], "action": "extend",
                                           "due": "2025-03-31", "reason": "系统故障，统一顺延"})
    assert r.status_code == 302, r.text
    assert f"已将 {len(chosen)} 个事项的截止日期顺延至 2025-03-31" in client.get(r.location).text
    overrides = db.session.execute(select(DueOverride)).scalars().all()
    assert {(o.assignment_id, o.period_id, o.due, o.reason) for o in overrides} == {
        (i.id, feb.id, D("2025-03-31"), "系统故障，统一顺延") for i in chosen}
    page = client.get("/review/queue?period=all").text
    assert not any(f'id="item-{key(i, feb)}"' in page for i in chosen)
    assert f'id="item-{key(items(scenario, "甲市")[0], feb)}"' in page  # the others stay
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "due_override.set")).scalar_one() == len(chosen)


def test_referral_appears_in_the_refer_export(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))  # before the sweep would refer (10 working days)
    feb = periods(scenario.plan)[FEB]
    chosen = items(scenario, "自治区教育厅")
    client = login(app.test_client(), "office1")
    assert client.get("/review/overdue.csv?period=all&step=refer").text.lstrip("\ufeff").strip().count("\n") == 0
    r = client.post("/review/queue", data={"item": [key(i, feb) for i in chosen], "action": "refer",
                                           "reason": "连续两月未报送"})
    assert r.status_code == 302, r.text
    steps = db.session.execute(select(LadderStep).where(LadderStep.step == "refer")).scalars().all()
    assert {(s.assignment_id, s.period_id, s.message, s.by_user_id) for s in steps} == {
        (i.id, feb.id, "连续两月未报送", scenario.staff.id) for i in chosen}
    lines = client.get("/review/overdue.csv?period=all&step=refer").text.lstrip("\ufeff").strip().splitlines()
    assert len(lines) - 1 == len(chosen) and all("自治区教育厅" in line and "移交监督平台" in line
                                                 for line in lines[1:])
    # the refer step's notices (the office, a copy to the unit's head) and one audit event per item
    assert db.session.execute(select(func.count()).select_from(Notice).where(Notice.kind == "refer")).scalar_one() > 0
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "ladder.refer")).scalar_one() == len(chosen)
    # in the queue, filtered by step
    page = client.get("/review/queue?step=refer").text
    assert all(f'id="item-{key(i, feb)}"' in page for i in chosen)
    # a second referral of the same item is refused
    again = client.post("/review/queue", data={"item": key(chosen[0], feb), "action": "refer", "reason": "再次"})
    assert again.status_code == 400 and "已于 2025-03-12 列入移交清单" in again.text


def _other_plan_item() -> str:
    from app.demo.synth import synthesize

    synthesize(plans=1, tasks=1, units=2, units_per_task=2, months=3, echo=lambda s: None)
    row = db.session.execute(select(Assignment.id, Period.id).join(Period, Period.plan_id == Assignment.plan_id)
                             .order_by(Assignment.id.desc(), Period.due)).first()
    return f"{row[0]}-{row[1]}"


def _cross_plan_item(scenario) -> str:
    """An item of the mini plan with a period of another plan."""
    other = _other_plan_item()
    return f"{items(scenario, '甲市')[0].id}-{other.split('-')[1]}"


BAD = [
    ("no selection", lambda s, ok: {"action": "urge", "message": "请报送"}, "", "请至少选择一个事项"),
    ("empty message", lambda s, ok: {"item": ok, "action": "urge", "message": "  "}, "", "请填写催办留言"),
    ("message too long", lambda s, ok: {"item": ok, "action": "urge", "message": "催" * 501}, "", "不能超过 500 个字"),
    ("empty reason to extend", lambda s, ok: {"item": ok, "action": "extend", "due": "2025-03-31", "reason": ""}, "",
     "请填写原因"),
    ("empty reason to refer", lambda s, ok: {"item": ok, "action": "refer", "reason": ""}, "", "请填写原因"),
    ("no date", lambda s, ok: {"item": ok, "action": "extend", "due": "", "reason": "顺延"}, "", "请填写新的截止日期"),
    ("a date that is no date", lambda s, ok: {"item": ok, "action": "extend", "due": "2025-02-30", "reason": "顺延"},
     "", "日期格式应为"),
    ("a date in the past", lambda s, ok: {"item": ok, "action": "extend", "due": "2025-03-01", "reason": "顺延"}, "",
     "新的截止日期应晚于"),
    ("the current due date itself", lambda s, ok: {"item": ok, "action": "extend", "due": "2025-03-07",
                                                   "reason": "顺延"}, "", "当前的截止日期 2025-03-07"),
    ("no action", lambda s, ok: {"item": ok, "action": "delete", "message": "x"}, "", "请选择要执行的操作"),
    ("an id that is no id", lambda s, ok: {"item": [ok, "abc"], "action": "urge", "message": "请报送"}, "",
     "所选事项无法识别"),
    ("an id larger than any", lambda s, ok: {"item": [ok, "99999999999-1"], "action": "urge", "message": "请报送"},
     "", "所选事项无法识别"),
    ("an id in other digits", lambda s, ok: {"item": [ok, "１²-3"], "action": "urge", "message": "请报送"}, "",
     "所选事项无法识别"),
    ("a nonexistent id, beside a good one", lambda s, ok: {"item": [ok, "999999-1"], "action": "urge",
                                                           "message": "请报送"}, "", "所选事项不存在或已撤销"),
    ("another plan's period", lambda s, ok: {"item": [ok, _cross_plan_item(s)], "action": "urge",
                                             "message": "请报送"}, "", "不属于该事项的实施方案"),
    ("another plan's item, the page filtered by plan", lambda s, ok: {"item": [ok, _other_plan_item()],
                                                                      "action": "urge", "message": "请报送"},
     "plan", "不属于当前筛选的实施方案"),
    ("an item not in the queue (submitted)", lambda s, ok: {"item": [ok, _submitted(s)], "action": "urge",
                                                            "message": "请报送"}, "", "不在督办队列中"),
    ("urging an item not yet due (returned)", lambda s, ok: {"item": [ok, _returned_march(s)], "action": "urge",
                                                              "message": "请报送"}, "", "尚未逾期"),
]


def _submitted(scenario) -> str:
    item, feb = items(scenario, "自治区发展改革委")[0], periods(scenario.plan)[FEB]
    _report(scenario, item, feb)
    return key(item, feb)


def _returned_march(scenario) -> str:
    item, mar = items(scenario, "自治区教育厅")[0], periods(scenario.plan)[MAR]
    _report(scenario, item, mar, ("return",))
    return key(item, mar)


@pytest.mark.parametrize(("name", "data", "query", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_a_message_and_nothing_saved(app, scenario, login, monkeypatch, name, data, query,
                                                               message):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))
    ok = key(items(scenario, "甲市")[0], periods(scenario.plan)[FEB])
    form = data(scenario, ok)
    db.session.commit()
    client = login(app.test_client(), "office1")
    before = counts()
    url = f"/review/queue?plan={scenario.plan.id}" if query == "plan" else "/review/queue"
    r = client.post(url, data=form)
    assert r.status_code == 400, name
    assert message in r.text and 'role="alert"' in r.text, name
    alert = r.text[:r.text.index(message)].rsplit("<div", 1)[1]
    assert 'class="error" role="alert"' in alert, name  # beside its field, not a page-wide flash
    assert counts() == before, name


def test_only_the_office_acts_on_the_queue(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))
    data = {"item": key(items(scenario, "甲市")[0], periods(scenario.plan)[FEB]), "action": "urge", "message": "请报送"}
    auditor = login(app.test_client(), "audit1")
    page = auditor.get("/review/queue")
    assert page.status_code == 200 and 'name="item"' not in page.text and "对所选事项" not in page.text
    assert auditor.post("/review/queue", data=data).status_code == 403
    liaison = login(app.test_client(), scenario.liaisons["甲市"].username)
    assert liaison.get("/review/queue").status_code == 403
    assert liaison.post("/review/queue", data=data).status_code == 403
    assert app.test_client().get("/review/queue").status_code == 302
    assert db.session.execute(select(func.count()).select_from(LadderStep)).scalar_one() == 0


def test_access_rows(app, scenario, login, monkeypatch):
    """The rows tests/test_access.py takes from tests/review/access_routes.py, for this area's roles."""
    from tests.access_check import access_failures

    from .access_routes import ROUTES

    users = {"liaison": scenario.liaisons["甲市"].username, "staff": "office1", "admin": "admin1",
             "auditor": "audit1"}
    failures = access_failures(app, login, ROUTES, users)
    assert failures == []


def test_export_links_appear_once_the_exports_serve_them(app, scenario, login):
    client = login(app.test_client(), "office1")
    page = client.get("/review/queue").text
    overdue = client.get("/review/overdue").text
    if "exports.overdue" in app.view_functions:
        with app.test_request_context():
            from flask import url_for

            xlsx = url_for("exports.overdue", fmt="xlsx")
            csv = url_for("exports.overdue", fmt="csv")
        assert xlsx in page and csv in page and xlsx in overdue
    else:
        assert "导出 Excel" not in page and "导出 Excel" not in overdue
    assert 'href="/review/queue' in overdue


def test_returned_age_counts_from_the_return(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))
    item, mar = items(scenario, "自治区教育厅")[0], periods(scenario.plan)[MAR]
    _report(scenario, item, mar, ("return",))
    report = db.session.execute(select(Report).where(Report.assignment_id == item.id)).scalar_one()
    report.decided_at = datetime(2025, 3, 6, 2, 0)  # Thursday, Beijing time 10:00
    db.session.commit()
    with app.test_request_context():
        row = next(r for r in queue.queue_page(date(2025, 3, 12), per_page=None).rows
                   if (r.assignment_id, r.period_id) == (item.id, mar.id))
    assert (row.reasons, row.returned_on, row.age) == (["returned"], D("2025-03-06"), 4)
    assert row.contact is not None and row.contact.kind == "退回修改"


def test_pages_follow_each_other_across_the_overdue_and_the_other_items(app, scenario, monkeypatch):
    """Overdue items first (due date order), then the returned ones not yet due: the pages, of any
    size, give the same rows in the same order as the whole queue, and the count is exact."""
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))
    ps = periods(scenario.plan)
    for unit in ("自治区教育厅", "自治区人力资源社会保障厅"):
        _report(scenario, items(scenario, unit)[0], ps[MAR], ("return",))
    _override(items(scenario, "甲市")[0], ps[FEB], D("2025-03-10"))  # overdue, due later than the others
    db.session.commit()
    with app.test_request_context():
        everything = queue.queue_page(D("2025-03-12"), per_page=None)
        keys = [r.key for r in everything.rows]
        assert len(keys) == len(set(keys)) == everything.total == 13
        assert [r.reasons for r in everything.rows][-2:] == [["returned"], ["returned"]]
        assert everything.rows[10].key == key(items(scenario, "甲市")[0], ps[FEB])  # the override's later due date
        assert [r.due for r in everything.rows] == sorted(r.due for r in everything.rows)
        for size in (1, 3, 5, 12, 13, 50):
            paged, page = [], 1
            while True:
                got = queue.queue_page(D("2025-03-12"), page=page, per_page=size)
                assert got.total == 13
                if not got.rows:
                    break
                paged += [r.key for r in got.rows]
                page += 1
            assert paged == keys, size


@pytest.mark.parametrize("query", ["page=99999999999999999999", "page=²", "plan=99999999999999", "period=abc",
                                   "reason=nope&kind=nope&step=nope", "page=0"])
def test_odd_query_strings_show_the_queue(app, scenario, login, query):
    r = login(app.test_client(), "office1").get(f"/review/queue?{query}")
    assert r.status_code == 200 and "督办队列" in r.text
