"""Notices: who receives what, one digest per recipient per day per kind, written to the outbox.

A digest lists every item of one kind (a ladder step, a manual urge, the audit head) for one
recipient on one day. The outbox row's unique key (channel, recipient, day, kind) makes a
second sweep, or two at once, add nothing; the Message-ID is derived from that key.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.utils import parseaddr
from html import escape
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import func, select

from ..auth.models import User
from ..extensions import db
from ..plans.models import Period, Plan, Task
from ..units.models import LiaisonTerm, Unit
from ..workflow import workflows
from .dbutil import insert_ignore, insert_ignore_many, utcnow
from .ladder import Step
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


ROLE_SUFFIX = {"to": "", "cc": "（抄送）"}


class Item:
    """One reporting item in digests. Its text and HTML are built once, whoever receives it
    (as addressee or as copy); only the role's mark differs."""

    __slots__ = ("_html", "_json", "_text", "assignment_id", "due", "esc", "message", "period", "period_id",
                 "plan", "sort_key", "step", "task_number", "task_title", "unit", "url")

    def __init__(self, assignment_id: int, period_id: int, plan: str, task_number: int, task_title: str,
                 unit: str, period: str, due: date, step: str, message: str | None = None, *,
                 base: str | None = None, esc: Any = escape) -> None:
        self.assignment_id, self.period_id, self.plan = assignment_id, period_id, plan
        self.task_number, self.task_title, self.unit, self.period = task_number, task_title, unit, period
        self.due, self.step, self.message, self.esc = due, step, message, esc
        self.sort_key = (due, plan, task_number, unit, period_id, assignment_id)
        self.url = f"{base if base is not None else base_url()}/items/{assignment_id}/reports/{period_id}"
        self._text: tuple[str, str] | None = None
        self._html: tuple[str, str] | None = None
        self._json: dict[str, Any] | None = None

    def text(self, role: str) -> str:
        """The item's lines in the plain-text mail (without its number)."""
        if self._text is None:
            self._text = (f"【{self.plan}】任务{self.task_number}：{self.task_title}\n   单位：{self.unit}",
                          f"　报送周期：{self.period}　截止日期：{self.due.isoformat()}\n   {self.url}\n")
        return self._text[0] + ROLE_SUFFIX[role] + self._text[1]

    def html(self, role: str) -> str:
        """The item's table cells in the HTML mail (after its number)."""
        if self._html is None:
            esc = self.esc
            self._html = (f'<td><a href="{self.url}">【{esc(self.plan)}】任务{self.task_number}：'
                          f"{esc(self.task_title)}</a></td><td>{esc(self.unit)}",
                          f"</td><td>{esc(self.period)}</td><td>{self.due.isoformat()}</td></tr>\n")
        return self._html[0] + ROLE_SUFFIX[role] + self._html[1]

    def as_json(self, role: str) -> dict[str, Any]:
        if self._json is None:
            self._json = {
                "assignment_id": self.assignment_id, "period_id": self.period_id, "plan": self.plan,
                "task_number": self.task_number, "task_title": self.task_title, "unit": self.unit,
                "period": self.period, "due": self.due.isoformat(), "step": self.step}
            if self.message:
                self._json["message"] = self.message
        return {**self._json, "role": role}


@dataclass
class Digest:
    channel: str
    recipient: str
    name: str
    kind: str
    label: str
    items: dict[tuple[int, int], list] = field(default_factory=dict)  # (assignment, period) → [Item, role]
    user_ids: set[int] = field(default_factory=set)
    message: str | None = None
    # Subject and body given outright (the audit head notice); None = rendered from the items.
    subject: str | None = None
    text: str | None = None

    def add(self, item: Item, role: str = "to") -> None:
        key = (item.assignment_id, item.period_id)
        held = self.items.get(key)
        if held is None:
            self.items[key] = [item, role]
        elif role == "to":
            held[1] = "to"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.recipient, self.kind)


# --------------------------------------------------------------------------- links and ids


def base_url() -> str:
    return str(current_app.config["BASE_URL"]).rstrip("/")  # a dict lookup; cheap enough per item


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


class TakenStep(NamedTuple):
    """A ladder step for one item: decided by the sweep, or taken by hand."""

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
    """One digest per recipient and step kind for the steps just taken (plus the webhook's).

    ``steps`` maps step keys to steps in ladder order. When several steps of one item are
    taken the same day (after an outage), each of them is recorded, but each person hears of
    the item once, in the digest of the furthest step that names them."""
    if not taken:
        return []
    tasks, units, periods, plans = item_details(taken)
    recipients = recipients or resolve_recipients({t.unit_id for t in taken})
    webhook = bool(current_app.config.get("WEBHOOK_URL"))
    order = {key: i for i, key in enumerate(steps)}
    digests: dict[tuple[str, str, str], Digest] = {}
    base = base_url()
    escaped: dict[str, str] = {}

    def esc(text: str) -> str:  # the same titles and names recur in thousands of items
        value = escaped.get(text)
        if value is None:
            value = escaped[text] = escape(text)
        return value

    def digest_for(r: Recipient, step: Step) -> Digest:
        digest_kind = kind or step.key
        key = (r.channel, r.address, digest_kind)
        d = digests.get(key)
        if d is None:
            d = digests[key] = Digest(r.channel, r.address, r.name, digest_kind, step.label, message=message)
        d.user_ids |= r.user_ids
        return d

    # (step, unit) → [(recipient key, that digest's items, role)]: computed once per step and unit
    targets: dict[tuple[str, int], list[tuple[tuple[str, str], dict, str]]] = {}

    def whom(step_key: str, unit_id: int) -> list[tuple[tuple[str, str], dict, str]]:
        found = targets.get((step_key, unit_id))
        if found is None:
            step = steps[step_key]
            found = [((r.channel, r.address), digest_for(r, step).items, role)
                     for role, group in (("to", step.notify), ("cc", step.copy))
                     for who in group for r in recipients.of(who, unit_id)]
            if webhook:
                found.append((("webhook", "webhook"), digest_for(webhook_recipient, step).items, "to"))
            targets[(step_key, unit_id)] = found
        return found

    def item_of(t: TakenStep) -> Item:
        task = tasks[t.task_id]
        return Item(t.assignment_id, t.period_id, plans[t.plan_id].title, task.number, task.title,
                    units[t.unit_id].name, periods[t.period_id].label, t.due, t.step, message, base=base, esc=esc)

    webhook_recipient = Recipient("webhook", "webhook", "群机器人")
    for pair, run in groupby(sorted(taken), key=itemgetter(0, 1)):  # sorted as tuples: by item first
        group = list(run)
        if len(group) == 1:  # the everyday case: one step for the item today
            t = group[0]
            item = item_of(t)
            for _, held, role in whom(t.step, t.unit_id):
                entry = held.get(pair)
                if entry is None:
                    held[pair] = [item, role]
                elif role == "to":
                    entry[1] = "to"
            continue
        # several steps at once (after an outage): each person hears of the item in the furthest
        # step that names them; "to" beats "cc" within a step
        best: dict[tuple[str, str], tuple[TakenStep, dict, str]] = {}
        group.sort(key=lambda t: order[t.step])
        for t in group:  # in ladder order
            for rkey, held, role in whom(t.step, t.unit_id):
                prior = best.get(rkey)
                if prior is None or prior[0] is not t or role == "to":
                    best[rkey] = (t, held, role)
        items: dict[str, Item] = {}
        for t, held, role in best.values():
            item = items.get(t.step)
            if item is None:
                item = items[t.step] = item_of(t)
            held[pair] = [item, role]
    # a digest whose items all went to a further step's digest is dropped
    return sorted((d for d in digests.values() if d.items), key=lambda d: d.key)


def audit_head_digests(seq: int, head_hash: str, day: date) -> list[Digest]:
    """The audit chain's head, mailed daily to the office so that a rewrite can be detected."""
    subject = f"审计日志链头（{day.isoformat()}）：第 {seq} 条"
    text = (f"截至 {day.isoformat()} 日常巡检，审计日志共 {seq} 条，链头哈希为：\n\n{head_hash}\n\n"
            "请保存本通知。日后核验审计日志时，若链头之前的记录与此哈希不符，说明日志被改动过。")
    result = [Digest(r.channel, r.address, r.name, AUDIT_HEAD_KIND, "审计日志链头", user_ids=set(r.user_ids),
                     subject=subject, text=text) for r in office_recipients()]
    return sorted(result, key=lambda d: d.key)


# --------------------------------------------------------------------------- rendering


def _entry_key(entry: list) -> tuple:
    return entry[0].sort_key


def render_digest(d: Digest, day: date) -> tuple[str, str, str, dict[str, Any]]:
    """Subject, plain text, HTML and items JSON of a digest (plain string building: a national
    sweep renders tens of thousands of digests)."""
    limit = int(current_app.config["DIGEST_MAX_ITEMS"])
    entries = d.items.values()
    n = len(entries)
    # the first items by due date, plan, task and unit (the office's digest after an outage can list 100,000)
    shown = (heapq.nsmallest(limit, entries, key=_entry_key) if n > limit
             else sorted(entries, key=_entry_key))
    more = n - len(shown)
    if d.subject is not None:
        subject, intro = d.subject, d.text or ""
    elif d.kind.startswith(MANUAL_URGE_PREFIX):
        first = shown[0][0] if shown else None
        subject = f"【催办】{first.plan if first else ''} 任务{first.task_number if first else ''}进展报告"
        intro = "领导小组办公室就以下逾期未报事项向您发出催办，请尽快报送。"
    else:
        wording = STEP_WORDING.get(d.kind.split(".")[0])
        subject = f"【{d.label}】" + (wording[0] if wording else "{n} 项进展报告").format(n=n)
        intro = (wording[1] if wording else f"以下 {{n}} 项进展报告：{d.label}。").format(n=n)
    if shown and all(role == "cc" for _, role in entries):  # only copies: say what is expected
        intro += "\n您收到的是抄送，请督促相关单位的联络员尽快报送。"
    base = base_url()
    footer = f"本通知由任务落实督办系统于 {day.isoformat()} 自动发送，请勿直接回复。"
    more_text = f"共 {n} 项，以上列出前 {len(shown)} 项，其余请登录系统查看：{base}/\n" if more else ""

    text = [f"{d.name}，您好：\n\n{intro}\n"]
    if d.message:
        text.append(f"\n催办留言：{d.message}\n")
    for number, (item, role) in enumerate(shown, start=1):
        text.append(f"\n{number}. {item.text(role)}")
    if more_text:
        text.append("\n" + more_text)
    text.append(f"\n--\n{footer}\n登录系统查看全部消息：{base}/inbox\n")

    html = [f'<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(subject)}</title></head>\n'
            "<body style=\"font-family:'Microsoft YaHei','PingFang SC',sans-serif;font-size:15px;color:#1f2933;"
            f'line-height:1.6">\n<p>{escape(d.name)}，您好：</p>\n']
    html += [f"<p>{escape(line)}</p>\n" for line in intro.split("\n") if line]
    if d.message:
        html.append(f'<p style="padding:.5em;background:#fff4e5"><strong>催办留言：</strong>{escape(d.message)}</p>\n')
    if shown:
        html.append('<table style="border-collapse:collapse" cellpadding="6" rules="rows">\n<thead><tr style="background:#f4f5f7">'
                    '<th align="left">序号</th><th align="left">任务</th><th align="left">单位</th>'
                    '<th align="left">报送周期</th><th align="left">截止日期</th></tr></thead>\n<tbody>\n')
        html += [f"<tr><td>{number}</td>{item.html(role)}" for number, (item, role) in enumerate(shown, start=1)]
        html.append("</tbody></table>\n")
    if more:
        html.append(f'<p>共 {n} 项，以上列出前 {len(shown)} 项，其余请<a href="{escape(base)}/">登录系统</a>查看。</p>\n')
    html.append(f'<p style="color:#6b7280;font-size:13px">{footer}<a href="{escape(base)}/inbox">查看全部消息</a>'
                "</p>\n</body></html>\n")
    items_json = {"total": n, "items": [item.as_json(role) for item, role in shown]}
    return subject, "".join(text), "".join(html), items_json


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
            channel, recipient, kind = row[0], row[1], row[3]
            key = (channel, recipient, kind)
            if key in inserted:
                continue
            for n in range(2, 100):
                again = f"{kind}.{n}"
                retry = (*row[:3], again, *row[4:-1], message_id(channel, recipient, day, again))
                got = _insert([retry])
                if got:
                    notice_users.append((next(iter(got.values())), by_key[key].user_ids))
                    break
    entries = [{"user_id": uid, "notice_id": nid, "created_at": now, "read_at": None}
               for nid, uids in notice_users for uid in sorted(uids)]
    if entries:
        db.session.execute(insert_ignore(InboxEntry, ["user_id", "notice_id"]), entries)
    return sorted(nid for nid, _ in notice_users)


NOTICE_COLUMNS = ("channel", "recipient", "day", "kind", "subject", "body_text", "body_html", "items", "status",
                  "attempts", "next_attempt_at", "created_at", "sent_at", "message_id")


def _row(channel: str, recipient: str, kind: str, day: date, subject: str, text: str, html: str,
         items_json: dict[str, Any], now: Any) -> tuple:
    inbox_only = channel == "inbox"
    return (channel, recipient, day, kind, subject[:300], text, html, json.dumps(items_json, ensure_ascii=False),
            "sent" if inbox_only else "pending", 0, now, now, now if inbox_only else None,
            message_id(channel, recipient, day, kind))


def _insert(rows: list[tuple]) -> dict[tuple[str, str, str], int]:
    """Insert notices, skipping keys that exist; the (channel, recipient, kind) → id of those written."""
    written = insert_ignore_many(Notice.__table__, NOTICE_COLUMNS, rows, ("channel", "recipient", "day", "kind"),
                                 ("id", "channel", "recipient", "kind"))
    return {(channel, recipient, kind): notice_id for notice_id, channel, recipient, kind in written}


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
