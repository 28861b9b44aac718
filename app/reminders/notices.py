"""Notices: who receives what, one digest per recipient per day per kind, written to the outbox.

A digest lists every item of one kind (a ladder step, a manual urge, the audit head) for one
recipient on one day. The outbox row's unique key (channel, recipient, day, kind) makes a
second sweep, or two at once, add nothing; the Message-ID is derived from that key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.utils import parseaddr
from typing import Any

from flask import current_app, render_template
from sqlalchemy import func, select

from ..auth.models import User
from ..extensions import db
from ..plans.models import Period, Plan, Task
from ..units.models import LiaisonTerm, Unit
from ..workflow import workflows
from .dbutil import insert_ignore, utcnow
from .ladder import RECIPIENTS, Step
from .models import InboxEntry, Notice

AUDIT_HEAD_KIND = "audit_head"
MANUAL_URGE_PREFIX = "urge_manual"

#: Subject and opening sentence of a step's digest, by step key ({n}: number of items).
STEP_WORDING: dict[str, tuple[str, str]] = {
    "remind": ("{n} 项进展报告即将截止", "以下 {n} 项进展报告即将到截止日期，请按时报送。"),
    "urge": ("{n} 项进展报告逾期未报", "以下 {n} 项进展报告已超过截止日期仍未报送，请尽快报送。"),
    "escalate": ("{n} 项逾期事项已列入督办", "以下 {n} 项进展报告逾期未报，已列入领导小组办公室督办清单，请抓紧办理。"),
    "refer": ("{n} 项逾期事项拟移交监督平台", "以下 {n} 项进展报告长期逾期未报，已列入移交监督贯通协调平台清单。"),
}


@dataclass
class Recipient:
    channel: str  # mail | inbox (a user without an e-mail address sees it in the site only)
    address: str  # lower-case e-mail address, or "user:<id>"
    name: str
    user_ids: set[int] = field(default_factory=set)


@dataclass
class Item:
    """One reporting item in a digest, as stored in the notice's items JSON."""

    assignment_id: int
    period_id: int
    plan: str
    task_number: int
    task_title: str
    unit: str
    period: str
    due: date
    step: str
    role: str = "to"  # to | cc (抄送)
    message: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "assignment_id": self.assignment_id, "period_id": self.period_id, "plan": self.plan,
            "task_number": self.task_number, "task_title": self.task_title, "unit": self.unit,
            "period": self.period, "due": self.due.isoformat(), "step": self.step, "role": self.role,
            "url": item_url(self.assignment_id, self.period_id), "message": self.message,
        }


@dataclass
class Digest:
    channel: str
    recipient: str
    name: str
    kind: str
    label: str
    items: dict[tuple[int, int], Item] = field(default_factory=dict)
    user_ids: set[int] = field(default_factory=set)
    message: str | None = None
    # Subject and body given outright (the audit head notice); None = rendered from the items.
    subject: str | None = None
    text: str | None = None

    def add(self, item: Item) -> None:
        key = (item.assignment_id, item.period_id)
        held = self.items.get(key)
        if held is None or (held.role == "cc" and item.role == "to"):
            self.items[key] = item

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.recipient, self.kind)


# --------------------------------------------------------------------------- links and ids


def base_url() -> str:
    return str(current_app.config["BASE_URL"]).rstrip("/")


def item_url(assignment_id: int, period_id: int) -> str:
    """The report page of one item (the path of the view reports.report_form)."""
    return f"{base_url()}/items/{assignment_id}/reports/{period_id}"


def mail_domain() -> str:
    address = parseaddr(str(current_app.config["MAIL_FROM"]))[1]
    return address.rpartition("@")[2] or "localhost"


def message_id(channel: str, recipient: str, day: date, kind: str) -> str:
    """A Message-ID derived from the notice's unique key: a re-delivery carries the same one."""
    digest = hashlib.sha256(f"{channel}|{recipient}|{day.isoformat()}|{kind}".encode()).hexdigest()[:24]
    return f"<n.{digest}@{mail_domain()}>"  # short: a folded header confuses some readers


# --------------------------------------------------------------------------- recipients


@dataclass
class Recipients:
    liaison: dict[int, Recipient]  # unit id → its current liaison
    unit_head: dict[int, Recipient]  # unit id → its head (when the unit has an e-mail for the head)
    office: list[Recipient]

    def of(self, who: str, unit_id: int) -> list[Recipient]:
        if who == "liaison":
            return [self.liaison[unit_id]] if unit_id in self.liaison else []
        if who == "unit_head":
            return [self.unit_head[unit_id]] if unit_id in self.unit_head else []
        return self.office


def _chunks(values: Sequence[int], size: int = 5000) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def office_recipients() -> list[Recipient]:
    """The leading-group office: OFFICE_EMAIL when set, else every active staff account."""
    staff = db.session.execute(
        select(User.id, User.name, User.email).where(User.role == "staff", User.active).order_by(User.id)
    ).all()
    configured = [a.strip().lower() for a in str(current_app.config.get("OFFICE_EMAIL") or "").split(",")
                  if a.strip()]
    if configured:
        ids = {s.id for s in staff}
        return [Recipient("mail", address, "领导小组办公室", set(ids)) for address in configured]
    return [_user_recipient(s.id, s.name, s.email) for s in staff]


def _user_recipient(user_id: int, name: str, email: str | None) -> Recipient:
    if email and email.strip():
        return Recipient("mail", email.strip().lower(), name, {user_id})
    return Recipient("inbox", f"user:{user_id}", name, {user_id})


def resolve_recipients(unit_ids: Iterable[int]) -> Recipients:
    """Liaisons and heads of the given units and the office, in a few queries."""
    ids = sorted(set(unit_ids))
    liaison: dict[int, Recipient] = {}
    head: dict[int, Recipient] = {}
    for chunk in _chunks(ids):
        for row in db.session.execute(
            select(LiaisonTerm.unit_id, User.id, User.name, User.email)
            .join(User, User.id == LiaisonTerm.user_id)
            .where(LiaisonTerm.unit_id.in_(chunk), LiaisonTerm.ended_at.is_(None), User.active)
        ):
            liaison[row.unit_id] = _user_recipient(row.id, row.name, row.email)
        for row in db.session.execute(
            select(Unit.id, Unit.name, Unit.head_name, Unit.head_email)
            .where(Unit.id.in_(chunk), Unit.head_email.is_not(None), Unit.head_email != "")
        ):
            head[row.id] = Recipient("mail", row.head_email.strip().lower(),
                                     row.head_name or f"{row.name}负责人")
    if head:
        # A unit head who also has an account sees the notice in the site too.
        addresses = sorted({r.address for r in head.values()})
        by_email: dict[str, set[int]] = {}
        for start in range(0, len(addresses), 5000):
            for uid, email in db.session.execute(
                select(User.id, func.lower(User.email)).where(
                    func.lower(User.email).in_(addresses[start:start + 5000]), User.active)
            ):
                by_email.setdefault(email, set()).add(uid)
        for r in head.values():
            r.user_ids |= by_email.get(r.address, set())
    return Recipients(liaison, head, office_recipients())


# --------------------------------------------------------------------------- building digests


@dataclass(frozen=True)
class TakenStep:
    assignment_id: int
    period_id: int
    step: str
    due: date
    unit_id: int
    task_id: int
    plan_id: int


def item_details(taken: Sequence[TakenStep]) -> tuple[dict[int, Any], dict[int, Any], dict[int, Any], dict[int, Any]]:
    """Tasks, units, periods and plans named by the steps, each fetched once."""

    def fetch(columns: tuple, key: Any, ids: set[int]) -> dict[int, Any]:
        result: dict[int, Any] = {}
        for chunk in _chunks(sorted(ids)):
            for row in db.session.execute(select(*columns).where(key.in_(chunk))):
                result[row[0]] = row
        return result

    tasks = fetch((Task.id, Task.number, Task.title), Task.id, {t.task_id for t in taken})
    units = fetch((Unit.id, Unit.name), Unit.id, {t.unit_id for t in taken})
    periods = fetch((Period.id, Period.label), Period.id, {t.period_id for t in taken})
    plans = fetch((Plan.id, Plan.title), Plan.id, {t.plan_id for t in taken})
    return tasks, units, periods, plans


def step_digests(taken: Sequence[TakenStep], steps: dict[str, Step], *, message: str | None = None,
                 kind: str | None = None, recipients: Recipients | None = None) -> list[Digest]:
    """One digest per recipient and step kind for the steps just taken (plus the webhook's)."""
    if not taken:
        return []
    tasks, units, periods, plans = item_details(taken)
    recipients = recipients or resolve_recipients({t.unit_id for t in taken})
    webhook = bool(current_app.config.get("WEBHOOK_URL"))
    digests: dict[tuple[str, str, str], Digest] = {}

    def digest_for(channel: str, address: str, name: str, digest_kind: str, label: str) -> Digest:
        key = (channel, address, digest_kind)
        if key not in digests:
            digests[key] = Digest(channel, address, name, digest_kind, label, message=message)
        return digests[key]

    for t in taken:
        step = steps[t.step]
        digest_kind = kind or step.key
        task, unit = tasks[t.task_id], units[t.unit_id]
        base = Item(t.assignment_id, t.period_id, plans[t.plan_id].title, task.number, task.title, unit.name,
                    periods[t.period_id].label, t.due, step.key, message=message)
        for role, group in (("to", step.notify), ("cc", step.copy)):
            for who in group:
                for r in recipients.of(who, t.unit_id):
                    d = digest_for(r.channel, r.address, r.name, digest_kind, step.label)
                    d.user_ids |= r.user_ids
                    d.add(Item(**{**base.__dict__, "role": role}))
        if webhook:
            digest_for("webhook", "webhook", "群机器人", digest_kind, step.label).add(base)
    return sorted(digests.values(), key=lambda d: d.key)


def audit_head_digests(seq: int, head_hash: str, day: date) -> list[Digest]:
    """The audit chain's head, mailed daily to the office so that a rewrite can be detected."""
    subject = f"审计日志链头（{day.isoformat()}）：第 {seq} 条"
    text = (f"截至 {day.isoformat()} 日常巡检，审计日志共 {seq} 条，链头哈希为：\n\n{head_hash}\n\n"
            "请保存本通知。日后核验审计日志时，若链头之前的记录与此哈希不符，说明日志被改动过。")
    result = [Digest(r.channel, r.address, r.name, AUDIT_HEAD_KIND, "审计日志链头", user_ids=set(r.user_ids),
                     subject=subject, text=text) for r in office_recipients()]
    return sorted(result, key=lambda d: d.key)


# --------------------------------------------------------------------------- rendering


def render_digest(d: Digest, day: date) -> tuple[str, str, str, dict[str, Any]]:
    """Subject, plain text, HTML and items JSON of a digest."""
    limit = int(current_app.config["DIGEST_MAX_ITEMS"])
    items = sorted(d.items.values(), key=lambda i: (i.due, i.plan, i.task_number, i.unit, i.period_id))
    shown = items[:limit]
    n = len(items)
    if d.subject is not None:
        subject = d.subject
        intro = d.text or ""
    elif d.kind.startswith(MANUAL_URGE_PREFIX):
        subject = f"【催办】{shown[0].plan if shown else ''} 任务{shown[0].task_number if shown else ''}进展报告"
        intro = "领导小组办公室就以下逾期未报事项向您发出催办，请尽快报送。"
    else:
        wording = STEP_WORDING.get(d.kind.split(".")[0])
        subject = f"【{d.label}】" + (wording[0] if wording else "{n} 项进展报告").format(n=n)
        intro = (wording[1] if wording else f"以下 {{n}} 项进展报告：{d.label}。").format(n=n)
    context = {"d": d, "day": day, "intro": intro, "items": shown, "total": n, "more": n - len(shown),
               "base_url": base_url(), "item_url": item_url, "role_labels": {"to": "", "cc": "（抄送）"},
               "recipient_labels": RECIPIENTS}
    text = render_template("reminders/mail/digest.txt", **context)
    html = render_template("reminders/mail/digest.html", **context, subject=subject)
    items_json = {"total": n, "items": [i.as_json() for i in shown]}
    return subject, text, html, items_json


# --------------------------------------------------------------------------- the outbox


def store(digests: Sequence[Digest], day: date, *, exclusive: bool = True) -> list[int]:
    """Write digests to the outbox (INSERT … ON CONFLICT DO NOTHING) and to the users' inboxes.

    ``exclusive``: the digests list only steps this caller has just taken, so a key already
    used today (an earlier sweep with other items) gets a numbered kind ("remind.2") instead
    of losing the items. Returns the ids of the notices written."""
    if not digests:
        return []
    now = utcnow()
    rows = []
    by_key: dict[tuple[str, str, str], Digest] = {}
    for d in digests:
        subject, text, html, items_json = render_digest(d, day)
        rows.append(_row(d.channel, d.recipient, d.kind, day, subject, text, html, items_json, now))
        by_key[d.key] = d
    inserted = _insert(rows)
    notice_users: list[tuple[int, set[int]]] = []
    for (channel, recipient, kind), notice_id in inserted.items():
        notice_users.append((notice_id, by_key[(channel, recipient, kind)].user_ids))
    if exclusive:
        for row in rows:
            key = (row["channel"], row["recipient"], row["kind"])
            if key in inserted:
                continue
            for n in range(2, 100):
                retry = {**row, "kind": f"{row['kind']}.{n}",
                         "message_id": message_id(row["channel"], row["recipient"], day, f"{row['kind']}.{n}")}
                got = _insert([retry])
                if got:
                    notice_users.append((next(iter(got.values())), by_key[key].user_ids))
                    break
    entries = [{"user_id": uid, "notice_id": nid, "created_at": now, "read_at": None}
               for nid, uids in notice_users for uid in sorted(uids)]
    if entries:
        db.session.execute(insert_ignore(InboxEntry, ["user_id", "notice_id"]), entries)
    return sorted(nid for nid, _ in notice_users)


def _row(channel: str, recipient: str, kind: str, day: date, subject: str, text: str, html: str,
         items_json: dict[str, Any], now: Any) -> dict[str, Any]:
    inbox_only = channel == "inbox"
    return {
        "channel": channel, "recipient": recipient, "day": day, "kind": kind, "subject": subject[:300],
        "body_text": text, "body_html": html, "items": items_json,
        "status": "sent" if inbox_only else "pending", "attempts": 0, "next_attempt_at": now,
        "last_error": None, "claimed_by": None, "claimed_until": None, "created_at": now,
        "sent_at": now if inbox_only else None, "message_id": message_id(channel, recipient, day, kind),
    }


def _insert(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    """Insert notices, skipping keys that exist; the (channel, recipient, kind) → id of those written."""
    if not rows:
        return {}
    rows = sorted(rows, key=lambda r: (r["channel"], r["recipient"], r["kind"]))
    stmt = insert_ignore(Notice, ["channel", "recipient", "day", "kind"]).returning(
        Notice.id, Notice.channel, Notice.recipient, Notice.kind)
    result = db.session.execute(stmt, rows)
    return {(r.channel, r.recipient, r.kind): r.id for r in result}


def kind_label(kind: str) -> str:
    """The Chinese name of a notice kind, for pages."""
    base = kind.split(".")[0]
    if base == AUDIT_HEAD_KIND:
        return "审计日志链头"
    if base.startswith(MANUAL_URGE_PREFIX):
        return "人工催办"
    try:
        return workflows().ladder.step(base).label
    except KeyError:
        return kind
