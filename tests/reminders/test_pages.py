"""The reminder pages: the inbox, the outbox admin page, the item page's ladder, lights and
due-date form, and the overdue list's working days, steps and manual urge. Access is checked
on the server; bad input gets a Chinese message beside the field, never a 500."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Period
from app.reminders import jobs
from app.reminders.models import DueOverride, InboxEntry, LadderStep, Notice
from app.reminders.sweep import sweep
from tests.access_check import access_failures

from .access_routes import REMINDER_ROUTES
from .conftest import D


@pytest.fixture
def swept(app, scenario, monkeypatch):
    """Today is 2025-03-12: the February reports are overdue; remind and urge were sent."""
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-12"))
    sweep(D("2025-03-04"))
    sweep(D("2025-03-10"))
    db.session.commit()
    return scenario


def feb_period(plan) -> Period:
    return db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                              .order_by(Period.start)).scalars().first()


def unit_items(scenario, unit: str) -> list[Assignment]:
    return db.session.execute(select(Assignment).where(Assignment.unit_id == scenario.units[unit].id)
                              .order_by(Assignment.id)).scalars().all()


# --------------------------------------------------------------------------- inbox


def test_inbox_shows_the_users_notices_and_the_unread_count(app, swept, login):
    client = login(app.test_client(), "lx01")
    home = client.get("/plans/").text
    assert 'href="/inbox"' in home and '<span class="badge unread">2</span>' in home
    page = client.get("/inbox").text
    assert "【提醒】" in page and "【催办通知】" in page
    entry = db.session.execute(select(InboxEntry).where(InboxEntry.user_id == swept.liaisons["乙盟"].id)
                               .order_by(InboxEntry.id)).scalars().first()
    opened = client.get(f"/inbox/{entry.id}")
    assert opened.status_code == 200 and "/items/" in opened.text
    db.session.expire_all()
    assert db.session.get(InboxEntry, entry.id).read_at is not None
    assert '<span class="badge unread">1</span>' in client.get("/plans/").text
    assert client.post("/inbox/read-all").status_code == 302
    assert "badge unread" not in client.get("/plans/").text


def test_another_users_inbox_entry_answers_404(app, swept, login):
    entry = db.session.execute(select(InboxEntry).where(InboxEntry.user_id == swept.liaisons["乙盟"].id)
                               ).scalars().first()
    other = next(u for name, u in swept.liaisons.items() if name != "乙盟")
    client = login(app.test_client(), other.username)
    assert client.get(f"/inbox/{entry.id}").status_code == 404
    staff = login(app.test_client(), "office1")
    assert staff.get(f"/inbox/{entry.id}").status_code == 404


def test_a_liaison_sees_only_its_own_units_items_in_a_notice(app, swept, login):
    """Even a notice shared by two accounts (one address) lists to each only what it may open."""
    from app.reminders.services import visible_items

    notice = db.session.execute(select(Notice).where(Notice.kind == "remind")).scalars().first()
    other_unit = next(u for name, u in swept.liaisons.items()
                      if all(i["unit"] != name for i in notice.items["items"]))
    assert visible_items(other_unit, notice) == []
    assert len(visible_items(swept.auditor, notice)) == notice.items["total"]


# --------------------------------------------------------------------------- outbox (admin)


def test_outbox_page_shows_failed_notices_with_the_reply_and_resends(app, swept, login):
    notice = db.session.execute(select(Notice).where(Notice.kind == "remind")).scalars().first()
    notice.status, notice.attempts, notice.last_error = "failed", 1, "550 5.1.1 Mailbox unavailable"
    db.session.commit()
    jobs.heartbeat("host:1:abc")
    admin = login(app.test_client(), "admin1")
    page = admin.get("/admin/outbox").text
    assert "550 5.1.1 Mailbox unavailable" in page and "重新发送" in page
    assert "运行中" in page and "host:1:abc" in page
    assert "2025 已收录" in page and "2026 已收录" in page
    auditor = login(app.test_client(), "audit1")
    assert "550 5.1.1" in auditor.get("/admin/outbox").text and "重新发送" not in auditor.get("/admin/outbox").text
    assert auditor.post(f"/admin/outbox/{notice.id}/resend").status_code == 403
    assert admin.post(f"/admin/outbox/{notice.id}/resend").status_code == 302
    db.session.expire_all()
    assert notice.status == "pending" and notice.attempts == 0
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "notice.resend")).scalar_one() == 1


def test_outbox_page_warns_when_the_scheduler_is_not_running_and_a_year_is_unknown(app, ctx, factory, login,
                                                                                   monkeypatch):
    factory.user("admin1", "admin")
    monkeypatch.setitem(app.config, "TODAY", D("2026-11-20"))  # 2027 is not in the calendar
    page = login(app.test_client(), "admin1").get("/admin/outbox").text
    assert "定时任务从未运行" in page
    assert "2027年" in page and "按周一至周五计算" in page


# --------------------------------------------------------------------------- the item page


def test_item_page_shows_steps_taken_and_the_light_with_its_explanation(app, swept, login):
    item = unit_items(swept, "甲市")[0]
    page = login(app.test_client(), "office1").get(f"/items/{item.id}").text
    assert "提醒" in page and "催办通知" in page and "2025-03-04" in page and "2025-03-10" in page
    assert "light-red" in page and "已逾期 3 个工作日（截止 2025-03-07）" in page
    assert "调整截止日期" in page
    liaison_page = login(app.test_client(), swept.liaisons["甲市"].username).get(f"/items/{item.id}").text
    assert "已逾期" in liaison_page and "调整截止日期" not in liaison_page


def test_staff_set_a_due_date_for_one_item_with_a_reason(app, swept, login):
    item = unit_items(swept, "甲市")[0]
    period = feb_period(swept.plan)
    client = login(app.test_client(), "office1")
    r = client.post(f"/items/{item.id}", data={"due-period_id": period.id, "due-scope": "assignment",
                                               "due-due": "2025-03-20", "due-reason": "暴雪停电，延期报送",
                                               "due-action": "set"})
    assert r.status_code == 302
    override = db.session.execute(select(DueOverride)).scalar_one()
    assert (override.assignment_id, override.due, override.reason) == (item.id, D("2025-03-20"), "暴雪停电，延期报送")
    page = client.get(f"/items/{item.id}").text
    assert "2025-03-20" in page and "暴雪停电，延期报送" in page and "<s>2025-03-07</s>" in page
    # the overdue list no longer shows it
    assert f"/items/{item.id}/reports/{period.id}" not in client.get("/review/overdue?period=all").text
    r = client.post(f"/items/{item.id}", data={"due-period_id": period.id, "due-scope": "assignment",
                                               "due-reason": "已恢复供电", "due-action": "clear"})
    assert r.status_code == 302
    assert db.session.execute(select(func.count()).select_from(DueOverride)).scalar_one() == 0


@pytest.mark.parametrize(("data", "message"), [
    ({"due-due": "2025-13-40", "due-reason": "原因"}, "日期格式应为 年-月-日"),
    ({"due-due": "明天", "due-reason": "原因"}, "日期格式应为 年-月-日"),
    ({"due-due": "", "due-reason": "原因"}, "请填写新的截止日期"),
    ({"due-due": "2025-03-20", "due-reason": ""}, "请填写调整原因"),
    ({"due-due": "2024-01-01", "due-reason": "原因"}, "新的截止日期应在"),
    ({"due-due": "2025-03-20", "due-reason": "原因", "due-period_id": "999999"}, "请选择报送周期"),
    ({"due-due": "2025-03-20", "due-reason": "原因", "due-scope": "nope"}, "Not a valid choice"),
])
def test_bad_due_date_input_gets_a_message_beside_the_field(app, swept, login, data, message):
    item = unit_items(swept, "甲市")[0]
    period = feb_period(swept.plan)
    form = {"due-period_id": period.id, "due-scope": "assignment", "due-action": "set", **data}
    r = login(app.test_client(), "office1").post(f"/items/{item.id}", data=form)
    assert r.status_code == 200
    if message != "Not a valid choice":
        assert message in r.text
    assert 'class="error"' in r.text
    assert db.session.execute(select(func.count()).select_from(DueOverride)).scalar_one() == 0


def test_only_the_office_may_set_a_due_date(app, swept, login):
    item = unit_items(swept, "甲市")[0]
    form = {"due-period_id": feb_period(swept.plan).id, "due-scope": "period", "due-due": "2025-03-20",
            "due-reason": "原因", "due-action": "set"}
    for user in (swept.liaisons["甲市"].username, "audit1"):
        assert login(app.test_client(), user).post(f"/items/{item.id}", data=form).status_code == 403
    assert db.session.execute(select(func.count()).select_from(DueOverride)).scalar_one() == 0


# --------------------------------------------------------------------------- the overdue list


def test_overdue_list_shows_working_days_late_and_the_step_reached(app, swept, login):
    page = login(app.test_client(), "office1").get("/review/overdue?period=all").text
    # due Friday 2025-03-07, today Wednesday 2025-03-12: 3 working days late (not 5 calendar days)
    assert '<td class="num late">3</td>' in page
    assert "step-urge" in page and "催办通知" in page
    assert "人工催办" in page


def test_manual_urge_with_a_message_counts_as_the_urge_step(app, scenario, login, monkeypatch, smtp):
    from app.reminders.sender import send_pending

    monkeypatch.setitem(app.config, "TODAY", D("2025-03-08"))  # overdue, before the sweep's urge day
    sweep(D("2025-03-04"))
    db.session.commit()
    item = unit_items(scenario, "甲市")[0]
    period = feb_period(scenario.plan)
    client = login(app.test_client(), "office1")
    r = client.post("/review/overdue?period=all", data={"assignment_id": item.id, "period_id": period.id,
                                                        "message": "请于周一前报送二月进展。"})
    assert r.status_code == 302
    step = db.session.execute(select(LadderStep).where(LadderStep.step == "urge")).scalar_one()
    assert (step.assignment_id, step.by_user_id, step.message) == (item.id, scenario.staff.id, "请于周一前报送二月进展。")
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "ladder.urge")).scalar_one() == 1
    send_pending()
    urged = smtp.sink.by_recipient()[scenario.liaison_email("甲市")]
    manual = [m for m in urged if "请于周一前报送二月进展。" in m.text()]
    assert len(manual) == 1 and "【催办】" in str(manual[0].message["Subject"])
    assert "请于周一前报送二月进展。" in manual[0].html()
    assert "head.jia@example.org" in smtp.sink.by_recipient()  # copied to the unit's head
    # the sweep does not urge that item again; the other items get the sweep's urge
    sweep(D("2025-03-10"))
    db.session.commit()
    urges = Counter(db.session.execute(select(LadderStep.assignment_id).where(LadderStep.step == "urge")).scalars())
    assert urges[item.id] == 1 and len(urges) == db.session.execute(
        select(func.count()).select_from(Assignment).where(Assignment.plan_id == scenario.plan.id)).scalar_one()
    # a second manual urge is refused, with a message beside the field
    r = client.post("/review/overdue?period=all", data={"assignment_id": item.id, "period_id": period.id,
                                                        "message": "再催"})
    assert r.status_code == 400 and "不能重复催办" in r.text


@pytest.mark.parametrize(("message", "expected"), [("", "请填写催办留言"), ("催" * 501, "不能超过 500 个字")])
def test_manual_urge_needs_a_message(app, swept, login, message, expected):
    item = unit_items(swept, "乙盟")[0]
    r = login(app.test_client(), "office1").post("/review/overdue?period=all", data={
        "assignment_id": item.id, "period_id": feb_period(swept.plan).id, "message": message})
    assert r.status_code == 400 and expected in r.text and 'role="alert"' in r.text


def test_manual_urge_of_an_item_not_yet_due_is_refused(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-05"))
    item = unit_items(scenario, "乙盟")[0]
    r = login(app.test_client(), "office1").post("/review/overdue?period=all", data={
        "assignment_id": item.id, "period_id": feb_period(scenario.plan).id, "message": "请报送"})
    assert r.status_code == 400 and "尚未逾期" in r.text


def test_only_the_office_may_urge(app, swept, login):
    data = {"assignment_id": unit_items(swept, "乙盟")[0].id, "period_id": feb_period(swept.plan).id,
            "message": "请报送"}
    assert login(app.test_client(), "audit1").post("/review/overdue", data=data).status_code == 403
    assert login(app.test_client(), "lx01").post("/review/overdue", data=data).status_code == 403
    assert login(app.test_client(), "office1").post("/review/overdue", data={**data, "assignment_id": "x"}
                                                    ).status_code == 400
    assert login(app.test_client(), "office1").post("/review/overdue", data={**data, "period_id": 999999}
                                                    ).status_code == 404


def test_review_queue_and_referral_export(app, scenario, login, monkeypatch):
    monkeypatch.setitem(app.config, "TODAY", D("2025-03-25"))
    sweep(D("2025-03-25"))
    db.session.commit()
    client = login(app.test_client(), "office1")
    assert "已列入领导小组办公室督办清单" in client.get("/review/overdue?period=all&step=escalate").text
    csv = client.get("/review/overdue.csv?period=all&step=refer")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("方案,任务") and len(lines) - 1 == db.session.execute(
        select(func.count()).select_from(LadderStep).where(LadderStep.step == "refer")).scalar_one()
    assert "移交监督平台" in lines[1]


# --------------------------------------------------------------------------- access


def test_access_to_the_reminder_routes(app, swept, login):
    """Every role on every reminder route (the rows the access table of tests/test_access.py takes)."""
    users = {"liaison": swept.liaisons["甲市"].username, "staff": "office1", "admin": "admin1", "auditor": "audit1"}
    failures = access_failures(app, login, REMINDER_ROUTES, users)
    assert failures == []
