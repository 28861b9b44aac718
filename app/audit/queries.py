"""Reading the audit log: an entity's history, the log search, CSV export, and the Chinese wording of events.

Every page reads a bounded slice, newest first, with keyset pagination on ``seq`` (``before``): the cost of a
page does not grow with the log, and each page runs a fixed number of statements."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from ..auth.models import ROLE_LABELS, User
from ..extensions import db
from ..plans.models import STATUS_LABELS
from ..reports.models import Figure, Report
from ..timeutil import local_tz, to_local
from ..units.models import Unit
from .models import AuditEvent

#: Entities whose history has a page (others are found through the log search).
HISTORY_TYPES = ("report", "figure", "assignment", "user")

ENTITY_LABELS: dict[str, str] = {
    "report": "进展报告", "figure": "填报数值", "assignment": "责任事项", "user": "账号", "unit": "单位",
    "unit_group": "单位组", "plan": "实施方案", "section": "部分", "task": "任务", "indicator": "指标",
    "period": "报送周期", "notice": "通知", "sweep": "每日巡检", "flag": "疑点", "case": "核查",
    "restatement": "更正申请", "audit_log": "审计日志", "export": "导出", "api_token": "接口令牌",
    "plan_draft": "方案草稿", "due_override": "截止日期调整", "figure_restatement": "更正申请",
}

ACTION_LABELS: dict[str, str] = {
    "auth.login": "登录", "auth.login_failed": "登录失败", "auth.logout": "退出登录", "auth.lockout": "账号锁定",
    "user.create": "新建账号", "user.update": "修改账号", "user.role_change": "变更角色",
    "unit.create": "新建单位", "unit.update": "修改单位", "group.create": "新建单位组",
    "group.members": "调整单位组成员", "liaison.set": "指定联络员",
    "plan.create": "导入实施方案", "plan.update": "更新实施方案", "plan.source": "更换方案文件", "section.create": "新增部分",
    "section.update": "修改部分", "task.create": "新增任务", "task.update": "修改任务",
    "task.groups": "调整任务的责任单位组", "indicator.create": "新增指标", "indicator.update": "修改指标",
    "period.create": "新增报送周期", "period.update": "修改报送周期",
    "assignment.create": "分配责任事项", "assignment.update": "更新责任事项",
    "report.create": "新建报告", "report.update": "修改报告", "report.submit": "报送",
    "report.accept": "审核通过", "report.return": "退回修改", "figure.set": "填报数值",
    "due_override.set": "调整截止日期", "due_override.clear": "恢复截止日期", "ladder.urge": "催办",
    "notice.resend": "重新发送通知", "reminders.sweep": "每日巡检", "demo.load": "载入演示数据",
    "audit.export": "导出审计日志", "review.export": "导出逾期清单", "export.download": "导出报表",
    "auth.ip_throttled": "来源地址登录受限", "auth.unlock": "解除锁定", "auth.mfa_enrol": "启用两步验证",
    "auth.mfa_disable": "停用两步验证", "auth.mfa_reset": "重置两步验证", "auth.mfa_failed": "两步验证失败",
    "auth.password_change": "修改密码", "auth.password_change_failed": "修改密码失败",
    "auth.reauth_failed": "身份复核失败", "auth.recovery_code_used": "使用恢复码",
    "auth.recovery_codes_renewed": "更新恢复码", "auth.session_expired": "会话过期",
    "auth.sessions_ended": "结束会话", "api_token.create": "创建接口令牌", "api_token.revoke": "吊销接口令牌",
    "figure.restate": "申请更正数值", "figures.import": "批量导入数值", "restatement.request": "申请更正",
    "restatement.approve": "批准更正", "restatement.reject": "驳回更正",
    "flag.raise": "提出疑点", "flag.explain": "单位说明疑点", "flag.dismiss": "排除疑点", "flag.confirm": "确认疑点",
    "flag.export": "导出疑点清单", "integrity.scan": "疑点扫描",
    "case.open": "立案核查", "case.ask": "要求单位说明", "case.answer": "单位答复", "case.attach": "上传附件",
    "case.link": "关联审计记录", "case.close": "办结核查", "case.export": "导出证据包",
    "plan_draft.create": "起草实施方案", "plan_draft.update": "修改方案草稿", "plan_draft.discard": "放弃方案草稿",
    "plan_draft.import": "导入方案草稿",
}

FIELD_LABELS: dict[str, str] = {
    "progress_text": "进展情况", "problems_text": "存在问题", "next_steps_text": "下步计划", "value": "数值",
    "state": "状态", "status": "工作状态", "progress": "完成进度（%）", "status_note": "状态说明",
    "name": "名称", "role": "角色", "unit_id": "单位", "email": "电子邮箱", "active": "在用",
    "username": "用户名", "password": "密码", "kind": "类型", "head_name": "负责人", "head_email": "负责人邮箱",
    "members": "成员", "liaison_user_id": "联络员", "due": "截止日期", "title": "标题", "text": "正文",
    "assignment": "责任事项", "period": "报送周期", "task": "任务", "unit": "单位", "step": "措施",
    "via_group": "所属单位组", "position": "排序", "code": "文号", "issuer": "印发机关", "issued": "印发日期",
    "target": "目标值", "comparator": "比较方式", "cumulative": "按年累计", "reporting_start": "报送起始",
    "reporting_end": "报送截止", "cadence": "报送频次", "slug": "简称", "policy": "政策要点",
    "source_sha256": "方案文件摘要", "groups": "责任单位组", "label": "名称", "end": "结束日期",
    "indicator": "指标", "report": "进展报告", "source": "来源", "stated_at": "文件所记填报时间",
    "reason": "原因", "filters": "查询条件", "rows": "行数", "format": "格式", "count": "数量",
}

ASSIGNMENT_ROLE_LABELS = {"lead": "牵头", "co": "配合"}
FIGURE_KIND_LABELS = {"entry": "首次填报", "revision": "报送后修改", "restatement": "更正"}
SOURCE_LABELS = {"form": "页面填报", "import": "批量导入", "api": "接口", "restatement": "更正申请"}
_DECIMAL = re.compile(r"-?\d+\.\d+")
UNIT_KIND_LABELS = {"department": "自治区部门", "league_city": "盟市", "external": "其他单位"}
EMPTY = "（空）"


@dataclass
class Change:
    field: str
    label: str
    before: str
    after: str


@dataclass
class EventView:
    """One event as the pages show it (times in the configured zone, Asia/Shanghai)."""

    seq: int
    at: datetime
    username: str | None
    unit_name: str | None
    ip: str | None
    request_id: str | None
    action: str
    action_label: str
    entity_type: str | None
    entity_label: str
    entity_id: str | None
    changes: list[Change] = field(default_factory=list)
    reason: str | None = None
    extra: list[tuple[str, str]] = field(default_factory=list)
    hash: str = ""


@dataclass
class LogFilter:
    """The log search's filters (already validated); dates are local (Asia/Shanghai), both inclusive."""

    username: str | None = None
    unit_name: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None  # an action, or "area:<prefix>" for every action of an area
    start: date | None = None
    end: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


# --- wording ------------------------------------------------------------------------------------------------


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def entity_label(entity_type: str | None) -> str:
    return ENTITY_LABELS.get(entity_type or "", entity_type or "—")


def action_choices() -> list[tuple[str, str]]:
    """The search form's actions: each area, then each known action (labels in the user's language)."""
    areas = sorted({a.split(".")[0] for a in ACTION_LABELS})
    choices = [("", gettext("（全部）"))]
    choices += [(f"area:{a}", gettext("%(area)s：全部操作", area=gettext(AREA_LABELS[a]) if a in AREA_LABELS else a))
                for a in areas]
    choices += [(a, f"{gettext(label)}（{a}）") for a, label in sorted(ACTION_LABELS.items())]
    return choices


AREA_LABELS = {"auth": "登录", "user": "账号", "unit": "单位", "group": "单位组", "liaison": "联络员",
               "plan": "实施方案", "section": "部分", "task": "任务", "indicator": "指标", "period": "报送周期",
               "assignment": "责任事项", "report": "进展报告", "figure": "填报数值", "due_override": "截止日期",
               "ladder": "催办", "notice": "通知", "reminders": "巡检", "demo": "演示数据", "audit": "审计日志",
               "review": "审核", "api_token": "接口令牌", "figures": "批量导入", "restatement": "更正",
               "flag": "疑点", "integrity": "疑点扫描", "case": "核查", "plan_draft": "方案草稿"}


class _Names:
    """Unit and user names for ids that appear in a page's changes, fetched in two queries."""

    def __init__(self, contents: Iterable[Mapping[str, Any]]) -> None:
        unit_ids: set[int] = set()
        user_ids: set[int] = set()
        for content in contents:
            for name, pair in (content.get("changes") or {}).items():
                values = pair if isinstance(pair, list) else [pair]
                for value in values:
                    items = value if isinstance(value, list) else [value]
                    ints = {v for v in items if isinstance(v, int) and not isinstance(v, bool)}
                    if name in ("unit_id", "members"):
                        unit_ids |= ints
                    elif name.endswith("user_id"):
                        user_ids |= ints
        self.units = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids))).all()) \
            if unit_ids else {}
        self.users = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all()) \
            if user_ids else {}


_STATE_LABELS = {"figure_restatement": ("..reports.models", "RESTATEMENT_STATE_LABELS"),
                 "flag": ("..integrity.models", "FLAG_STATE_LABELS"), "case": ("..cases.models", "CASE_STATE_LABELS")}


def _state_labels(entity_type: str) -> dict[str, str]:
    """The state names of another area's entity, in Chinese (that area's own table of them)."""
    import importlib

    module, name = _STATE_LABELS[entity_type]
    return getattr(importlib.import_module(module, __package__), name, {})


def _scalar_text(entity_type: str | None, name: str, value: Any, names: _Names) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if name == "state":
        if entity_type in _STATE_LABELS:
            return _state_labels(entity_type).get(value, value)
        from ..workflow import workflows

        return workflows().report.label(value)
    if name == "status" and entity_type == "assignment":
        return STATUS_LABELS.get(value, value)
    if name == "role":
        labels = ROLE_LABELS if entity_type == "user" else ASSIGNMENT_ROLE_LABELS
        return labels.get(value, str(value))
    if name == "kind" and entity_type == "unit":
        return UNIT_KIND_LABELS.get(value, value)
    if name in ("unit_id", "members") and isinstance(value, int):
        return f"{names.units.get(value, '')}（#{value}）" if value in names.units else f"#{value}"
    if name.endswith("user_id") and isinstance(value, int):
        return f"{names.users[value]}（#{value}）" if value in names.users else f"#{value}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if name == "kind" and entity_type == "figure":
        return FIGURE_KIND_LABELS.get(value, value)
    if name == "source":
        return SOURCE_LABELS.get(value, value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):  # "8.5000" as the database padded it: 8.5
        return value.rstrip("0").rstrip(".") if "." in value else value
    if isinstance(value, str) and value.endswith("Z") and "T" in value:  # a UTC time as stored
        try:
            moment = datetime.fromisoformat(value[:-1] + "+00:00")
            return f"{to_local(moment):%Y-%m-%d %H:%M:%S}"
        except ValueError:
            pass
    return str(value)


def value_text(entity_type: str | None, name: str, value: Any, names: _Names) -> str:
    if isinstance(value, list):
        return "、".join(_scalar_text(entity_type, name, v, names) for v in value) or EMPTY
    return _scalar_text(entity_type, name, value, names)


def _view(event: AuditEvent, content: Mapping[str, Any], names: _Names) -> EventView:
    changes = []
    for name, pair in sorted((content.get("changes") or {}).items()):
        before, after = (pair if isinstance(pair, list) and len(pair) == 2 else (None, pair))
        changes.append(Change(name, FIELD_LABELS.get(name, name), value_text(event.entity_type, name, before, names),
                              value_text(event.entity_type, name, after, names)))
    extra = [(FIELD_LABELS.get(k, k), value_text(event.entity_type, k, v, names))
             for k, v in sorted((content.get("extra") or {}).items())]
    return EventView(
        seq=event.seq, at=to_local(event.at), username=event.username, unit_name=event.unit_name, ip=event.ip,
        request_id=event.request_id, action=event.action, action_label=action_label(event.action),
        entity_type=event.entity_type, entity_label=entity_label(event.entity_type), entity_id=event.entity_id,
        changes=changes, reason=content.get("reason"), extra=extra, hash=event.hash,
    )


def views(events: list[AuditEvent]) -> list[EventView]:
    contents = [_content(e) for e in events]
    names = _Names(contents)
    return [_view(e, c, names) for e, c in zip(events, contents, strict=True)]


def _content(event: AuditEvent) -> dict[str, Any]:
    try:
        value = json.loads(event.content)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


# --- an entity's history ------------------------------------------------------------------------------------


def _entity(entity_type: str, ids: Iterable[Any]) -> ColumnElement[bool] | None:
    keys = sorted({str(i) for i in ids})
    if not keys:
        return None
    return and_(AuditEvent.entity_type == entity_type, AuditEvent.entity_id.in_(keys))


def history_clause(entity_type: str, entity_id: int) -> ColumnElement[bool]:
    """Which events make up an entity's history: a figure with its restatement requests and the flags raised
    on it; a report with its figures (and theirs); an assignment with its reports (and theirs); a user alone."""
    from ..integrity.models import Flag
    from ..reports.models import FigureRestatement

    parts = [_entity(entity_type, [entity_id])]
    figure_ids: list[int] = []
    if entity_type == "figure":
        figure_ids = [entity_id]
    elif entity_type in ("report", "assignment"):
        report_ids = [entity_id] if entity_type == "report" else list(db.session.execute(
            select(Report.id).where(Report.assignment_id == entity_id)).scalars())
        if entity_type == "assignment":
            parts.append(_entity("report", report_ids))
        if report_ids:
            figure_ids = list(db.session.execute(select(Figure.id).where(Figure.report_id.in_(report_ids))).scalars())
            parts.append(_entity("figure", figure_ids))
    if figure_ids:
        parts.append(_entity("figure_restatement", db.session.execute(
            select(FigureRestatement.id).where(FigureRestatement.figure_id.in_(figure_ids))).scalars()))
        parts.append(_entity("flag", db.session.execute(
            select(Flag.id).where(Flag.figure_id.in_(figure_ids))).scalars()))
    return or_(*[p for p in parts if p is not None])


def history_page(entity_type: str, entity_id: int, before: int | None, per_page: int) -> tuple[list[EventView], int | None]:
    """One page of an entity's history, newest first, and the ``before`` of the next (older) page."""
    query = select(AuditEvent).where(history_clause(entity_type, entity_id))
    return _page(query, before, per_page)


def _page(query: Select, before: int | None, per_page: int) -> tuple[list[EventView], int | None]:
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    events = list(db.session.execute(query.order_by(AuditEvent.seq.desc()).limit(per_page + 1)).scalars())
    more = len(events) > per_page
    events = events[:per_page]
    return views(events), (events[-1].seq if more else None)


# --- the log search -----------------------------------------------------------------------------------------


def _utc_start(day: date) -> datetime:
    """Local midnight at the start of ``day``, as the naive UTC the table stores."""
    return datetime.combine(day, time.min, tzinfo=local_tz()).astimezone(UTC).replace(tzinfo=None)


def search_query(f: LogFilter) -> Select:
    query = select(AuditEvent)
    if f.username:
        user_id = db.session.execute(
            select(User.id).where(func.lower(User.username) == f.username.strip().lower())).scalar_one_or_none()
        query = query.where(AuditEvent.user_id == user_id if user_id is not None
                            else AuditEvent.username == f.username.strip())
    if f.unit_name:
        query = query.where(AuditEvent.unit_name == f.unit_name.strip())
    if f.entity_type:
        query = query.where(AuditEvent.entity_type == f.entity_type)
    if f.entity_id:
        query = query.where(AuditEvent.entity_id == f.entity_id.strip())
    if f.action:
        if f.action.startswith("area:"):
            area = f.action[len("area:"):]
            query = query.where(or_(AuditEvent.action == area, AuditEvent.action.startswith(area + ".",
                                                                                           autoescape=True)))
        else:
            query = query.where(AuditEvent.action == f.action)
    if f.start:
        query = query.where(AuditEvent.at >= _utc_start(f.start))
    if f.end:
        query = query.where(AuditEvent.at < _utc_start(f.end + timedelta(days=1)))
    return query


COUNT_CAP = 10_000


def count_capped(query: Select, cap: int = COUNT_CAP) -> int:
    """How many events match, counting no further than ``cap + 1`` (so the count stays cheap on a huge log)."""
    inner = query.with_only_columns(AuditEvent.seq).order_by(None).limit(cap + 1).subquery()
    return db.session.execute(select(func.count()).select_from(inner)).scalar_one()


def search_page(f: LogFilter, before: int | None, per_page: int) -> tuple[list[EventView], int | None, int]:
    """One page of the search, newest first; the next page's ``before``; the capped total."""
    query = search_query(f)
    rows, next_before = _page(query, before, per_page)
    return rows, next_before, count_capped(query)


# --- CSV ----------------------------------------------------------------------------------------------------

CSV_HEADER = ["序号", "时间（北京时间）", "用户", "单位", "IP地址", "请求编号", "操作", "操作代码", "对象类型",
              "对象编号", "变更内容", "原因", "其他", "哈希"]


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_chunk(f: LogFilter, before: int | None, limit: int, *, header: bool = False) -> tuple[str, int | None]:
    """Up to ``limit`` matching events older than ``before`` as CSV text (newest first), and the ``before`` of
    the next chunk (None when none is left). The first chunk carries a BOM and the header row."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        out.write("\ufeff")
        writer.writerow(CSV_HEADER)
    query = search_query(f)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    events = list(db.session.execute(query.order_by(AuditEvent.seq.desc()).limit(limit)).scalars())
    for v in views(events):
        changes = "；".join(f"{c.label}：{c.before} → {c.after}" for c in v.changes)
        extra = "；".join(f"{k}：{val}" for k, val in v.extra)
        writer.writerow([_cell(x) for x in (
            v.seq, f"{v.at:%Y-%m-%d %H:%M:%S}", v.username, v.unit_name, v.ip, v.request_id, v.action_label,
            v.action, v.entity_label if v.entity_type else "", v.entity_id, changes, v.reason, extra, v.hash)])
    return out.getvalue(), (events[-1].seq if len(events) == limit else None)
