"""Demo data: the plans under workflows/plans, accounts for every role, and reports in
several states, so a new user sees a living system. Idempotent."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..audit import services as audit
from ..auth.models import User
from ..auth.services import create_user
from ..extensions import db
from ..plans.models import Assignment, Period, Plan, Task
from ..plans.planfile import load_plan_file
from ..plans.services import get_or_create_unit, import_plan_file
from ..reports import services as reports
from ..timeutil import local_tz, replaying_at, utcnow
from ..units.models import Unit, UnitGroup
from ..units.services import set_group_members, set_liaison

DEMO_PASSWORD = "demo-2025"
# Members of 各行业主管部门 in the demo: the leading-group office decides them in a real run.
INDUSTRY_DEPARTMENTS = ["自治区工业和信息化厅", "自治区商务厅", "自治区农牧厅", "自治区交通运输厅",
                        "自治区文化和旅游厅", "自治区住房城乡建设厅"]
OFFICE_ACCOUNTS = [("staff1", "王晓东", "staff"), ("staff2", "李娜", "staff"), ("admin", "系统管理员", "admin"),
                   ("auditor", "赵审计", "auditor")]


def load_demo() -> list[tuple[str, str, str, str | None]]:
    plans_dir = Path(current_app.config["PLANS_DIR"])
    paths = sorted(plans_dir.glob("*.yaml"))
    first_run = db.session.execute(select(User).where(User.username == "admin")).scalar_one_or_none() is None
    # A first load replays the plans' history on its own clock (see app.timeutil.replaying_at): the
    # plan and the accounts at its issue date, reports around their due dates, the office's review
    # after the last report — so the audit log reads in order and the on-time rates are real.
    start = _history_start(paths) if first_run else None
    with replaying_at(start) if start else nullcontext():
        accounts = _plans_and_accounts(paths)
    if first_run:
        last = _demo_reports()
        db.session.commit()
        with replaying_at(min(last + timedelta(days=1), utcnow())):
            _demo_review()
    return accounts


def _history_start(paths: list[Path]) -> datetime | None:
    """09:00 local on the earliest issue date of the plans, if that is in the past."""
    issued = [load_plan_file(path)["issued"] for path in paths]
    if not issued:
        return None
    moment = datetime.combine(min(issued), time(9, 0), tzinfo=local_tz()).astimezone(UTC)
    return moment if moment < utcnow() else None


def _plans_and_accounts(paths: list[Path]) -> list[tuple[str, str, str, str | None]]:
    for path in paths:
        import_plan_file(path)
    accounts: list[tuple[str, str, str, str | None]] = []
    for username, name, role in OFFICE_ACCOUNTS:
        if db.session.execute(select(User).where(User.username == username)).scalar_one_or_none() is None:
            create_user(username, name, role, DEMO_PASSWORD, email=f"{username}@example.org")
        accounts.append((username, DEMO_PASSWORD, role, None))
    admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
    group = db.session.execute(select(UnitGroup).where(UnitGroup.name == "各行业主管部门")).scalar_one_or_none()
    if group is not None and not group.members:
        members = [get_or_create_unit(n, "department") for n in INDUSTRY_DEPARTMENTS]
        set_group_members(group, [u.id for u in members])
    units = db.session.execute(select(Unit).order_by(Unit.kind.desc(), Unit.id)).scalars().all()
    for n, unit in enumerate(units, start=1):
        username = f"lx{n:03d}"
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            user = create_user(username, f"{unit.name}联络员", "liaison", DEMO_PASSWORD,
                               email=f"{username}@example.org", unit_id=unit.id)
            set_liaison(unit, user, admin)
        accounts.append((username, DEMO_PASSWORD, "liaison", unit.name))
    db.session.commit()
    return accounts


DEMO_PRACTICES = [
    ("“直播带岗”进社区", "联合平台企业开展直播带岗，单场发布岗位 1,200 个，现场达成意向 300 余人。"),
    ("零工市场“一站式”服务", "在旗县设立零工驿站，求职登记、岗位匹配和技能培训一站办理。"),
]


def _demo_review() -> None:
    """The leading group's side of the demo, for the last month with reviewed reports: the
    plausibility scan, two good practices marked, the lagging-units ranking published and the
    monthly brief issued (the brief last, so its audit head covers the rest)."""
    from ..briefs.services import issue_brief, mark_practice
    from ..integrity.services import scan
    from ..rankings.services import publish
    from ..reports.models import Report
    from ..timeutil import today

    staff = db.session.execute(select(User).where(User.username == "staff1")).scalar_one()
    scan(store=True, actor=staff)
    issued: list[tuple[Plan, Period]] = []
    for plan in db.session.execute(select(Plan).order_by(Plan.id)).scalars().all():
        months = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                    .order_by(Period.start)).scalars().all()
        if len(months) < 2:
            continue
        month = months[-2]
        accepted = db.session.execute(
            select(Report).join(Assignment, Assignment.id == Report.assignment_id)
            .where(Assignment.plan_id == plan.id, Report.period_id == month.id, Report.state == "accepted")
            .order_by(Report.id).limit(len(DEMO_PRACTICES))).scalars().all()
        for report, (title, note) in zip(accepted, DEMO_PRACTICES, strict=False):
            mark_practice(report, staff, title, note)
        publish(plan, month, staff, "演示数据：按月发布的排名。", today())
        issued.append((plan, month))
    db.session.commit()
    for plan, month in issued:
        issue_brief(plan, "monthly", month, staff)
        db.session.commit()


DEMO_MFA_LINE = ("MFA_REQUIRED_ROLES = ()  # written by `flask demo load`: the demo's staff and admin log in with "
                 "a password only. Delete this line to require two-step verification (docs/security.md).\n")


def relax_mfa_for_demo() -> str | None:
    """Let the demo's staff and admin accounts log in without enrolling a second factor.

    Writes MFA_REQUIRED_ROLES = () into instance/config.py unless that file already decides it, and
    says so; never in production (APP_ENV=production), where the second factor stays required."""
    if not current_app.config.get("MFA_REQUIRED_ROLES") or os.environ.get("MFA_REQUIRED_ROLES"):
        return None  # already off, or the environment decides
    if current_app.config.get("APP_ENV") == "production":
        return ("note: APP_ENV=production: staff and admin accounts must enrol two-step verification "
                "(TOTP) at their first login.")
    path = Path(current_app.instance_path) / "config.py"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "MFA_REQUIRED_ROLES" in text:
        return None
    path.write_text(text + ("\n" if text and not text.endswith("\n") else "") + DEMO_MFA_LINE, encoding="utf-8")
    current_app.config["MFA_REQUIRED_ROLES"] = ()
    return (f"WARNING: two-step verification is OFF for this demo: {path} now sets MFA_REQUIRED_ROLES = (). "
            "Delete that line (or set MFA_REQUIRED_ROLES=staff,admin in the environment) before real use.")


def _demo_reports() -> datetime:
    """History: most monthly reports accepted, the latest months in mixed states. Each step is
    replayed at a plausible moment (most reports a few days before their due date, some late,
    reviewed a few days after), in time order; returns the moment of the last step."""
    rng = random.Random(2025)
    when = random.Random(7)  # the moments, apart so the states and figures stay as they were
    staff = db.session.execute(select(User).where(User.username == "staff1")).scalar_one()
    liaisons = {u.unit_id: u for u in db.session.execute(select(User).where(User.role == "liaison")).scalars()}
    steps: list[tuple[datetime, int, Callable[[], None]]] = []
    made: dict[tuple[int, int], Any] = {}

    def at(day: date, hour_from: int = 9, hour_to: int = 18) -> datetime:
        moment = datetime.combine(day, time(when.randrange(hour_from, hour_to), when.randrange(60)),
                                  tzinfo=local_tz())
        return moment.astimezone(UTC)

    def step(moment: datetime, action: Callable[[], None]) -> None:
        steps.append((moment, len(steps), action))

    for plan in db.session.execute(select(Plan)).scalars().all():
        months = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                    .order_by(Period.start)).scalars().all()
        if not months:
            continue
        recent = months[-4:]
        assignments = db.session.execute(
            select(Assignment).join(Task).where(Assignment.plan_id == plan.id, Assignment.active)
            .order_by(Task.number, Assignment.position)).scalars().all()
        levels: dict[tuple[int, int], Decimal] = {}
        for a in assignments:
            liaison = liaisons.get(a.unit_id)
            if liaison is None:
                continue
            lag = rng.random()
            indicators = reports.indicators_for(a)
            for i, period in enumerate(recent):
                last = i == len(recent) - 1
                if lag < 0.15 and i >= 1:  # a lagging unit: nothing since the second month shown
                    break
                if last and lag < 0.35:
                    break
                figures = {}
                for ind in indicators:
                    # each unit keeps its own pace (ahead or behind) with a little noise per month, so
                    # year-to-date figures rise steadily and only a few trip the plausibility rules
                    level = levels.setdefault((a.id, ind.id), Decimal(rng.uniform(0.85, 1.12)))
                    share = Decimal(i + 9) / Decimal(12)  # year-to-date pace, months 9..12
                    base = ind.target / (12 if ind.per_unit is False and a.role != "lead" else 1)
                    # small figures in 万 carry four decimals (single persons), as units report them
                    step_size = Decimal("0.01") if base >= 10 else Decimal("0.0001")
                    value = (base * share * level * Decimal(rng.uniform(0.99, 1.01))).quantize(step_size)
                    if not ind.cumulative:
                        value = (ind.target * level * Decimal(rng.uniform(0.97, 1.0))).quantize(Decimal("0.01"))
                    figures[ind.id] = value
                data = reports.ReportInput(
                    f"{period.label}，本单位按方案要求推进“{a.task.title}”，各项工作有序开展。",
                    "部分资金到位较慢。" if rng.random() < 0.3 else "",
                    "继续抓好落实，按时报送进展。", figures)
                roll = rng.random()
                # slower units are late more often; the rest report in the days before the due date
                late = when.random() < (0.45 if lag < 0.5 else 0.1)
                submitted = at(period.due + timedelta(days=when.randint(1, 6)) if late
                               else period.due - timedelta(days=when.randint(0, 5)))
                key = (a.id, period.id)

                def save(a=a, period=period, liaison=liaison, data=data, key=key) -> None:
                    made[key] = reports.save_report(a, period, liaison, data, None)

                step(submitted - timedelta(hours=when.randint(1, 30)), save)
                if last and roll < 0.2:
                    continue  # left as a draft
                step(submitted, lambda key=key, liaison=liaison: reports.transition(made[key], "submit", liaison))
                if last and roll < 0.45:
                    continue  # waiting for review
                reviewed = at(submitted.astimezone(local_tz()).date() + timedelta(days=when.randint(1, 3)))
                if last and roll < 0.6:
                    step(reviewed, lambda key=key: reports.transition(
                        made[key], "return", staff, reason="数据口径与上月不一致，请核实后重新报送。"))
                    continue
                step(reviewed, lambda key=key: reports.transition(made[key], "accept", staff))
    now = utcnow()
    last = now
    for moment, _, action in sorted(steps, key=lambda s: (s[0], s[1])):
        last = min(moment, now)
        with replaying_at(last):
            action()
    with replaying_at(last):
        audit.record("demo.load", None, None, {}, actor=(None, "demo", None))
    return last
