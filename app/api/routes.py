"""The JSON API, /api/v1: thin views over plans, tasks, assignments, reports, figures and the
overdue list, and one write: a unit's report with its figures. See docs/api.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..forms_common import parse_decimal
from ..plans.access import may_view_assignment
from ..plans.models import ASSIGNMENT_STATUSES, Assignment, Plan, Task
from ..reports import services as reports
from ..reports.forms import TEXT_MAX
from ..timeutil import today
from ..units.models import UNIT_KINDS
from ..workflow import workflows
from . import queries
from .auth import PREFIX, init_api_auth, json_response
from .params import ApiError, QueryArgs, clean_text, forbidden, json_body, not_found, path_id, path_text

bp = Blueprint("api", __name__, url_prefix=PREFIX)
init_api_auth(bp)

REASON_MAX = 2000
BODY_FIELDS = ("version", "progress_text", "problems_text", "next_steps_text", "figures", "revision_reason",
               "submit")


def _plan_arg(args: QueryArgs, name: str = "plan") -> int | None:
    """The plan filter as a plan id; a plan that does not exist matches nothing (0), as any other filter."""
    ident = args.string(name, max_len=60, controls=True)
    if ident is None:
        return None
    plan = queries.plan_lookup(ident) if clean_text(ident) else None
    return plan.id if plan is not None else 0


def _plan_or_404(ident: str) -> Plan:
    plan = queries.plan_lookup(path_text(ident, 60))
    if plan is None:
        raise not_found()
    return plan


def _assignment_or_404(assignment_id: int) -> Assignment:
    """Another unit's assignment answers 404, the same as one that does not exist."""
    assignment = db.session.get(Assignment, path_id(assignment_id))
    if assignment is None or not may_view_assignment(current_user, assignment):
        raise not_found()
    return assignment


def _states() -> tuple[str, ...]:
    return tuple(workflows().report.states)


# --------------------------------------------------------------------------- reading


@bp.get("/openapi.json")
def openapi() -> Response:
    from .schemas.openapi import document

    return json_response(document())


@bp.get("/me")
def me() -> Response:
    QueryArgs(()).check()
    user = current_user
    return json_response({"id": user.id, "username": user.username, "name": user.name, "role": user.role,
                    "role_label": user.role_label,
                    "unit": {"id": user.unit.id, "name": user.unit.name} if user.unit else None})


@bp.get("/plans")
def plans() -> Response:
    args = QueryArgs((), paginated=True)
    page, per_page = args.page()
    args.check()
    return json_response(queries.list_plans(page, per_page).as_dict())


@bp.get("/plans/<ident>")
def plan(ident: str) -> Response:
    QueryArgs(()).check()
    from ..plans.services import plan_as_dict

    return json_response(plan_as_dict(_plan_or_404(ident)))


@bp.get("/plans/<ident>/periods")
def plan_periods(ident: str) -> Response:
    args = QueryArgs(("kind",))
    kind = args.string("kind", choices=queries.PERIOD_KINDS)
    args.check()
    plan = _plan_or_404(ident)
    return json_response({"items": queries.plan_periods(plan, kind)})


@bp.get("/tasks")
def tasks() -> Response:
    args = QueryArgs(("plan",), paginated=True)
    page, per_page = args.page()
    plan_id = _plan_arg(args)
    args.check()
    return json_response(queries.list_tasks(plan_id, page, per_page).as_dict())


@bp.get("/tasks/<int:task_id>")
def task(task_id: int) -> Response:
    QueryArgs(()).check()
    found = db.session.get(Task, path_id(task_id))
    if found is None:
        raise not_found()
    return json_response(queries.task_detail(found))


@bp.get("/units")
def units() -> Response:
    args = QueryArgs(("kind",), paginated=True)
    page, per_page = args.page()
    kind = args.string("kind", choices=UNIT_KINDS)
    args.check()
    return json_response(queries.list_units(kind, page, per_page).as_dict())


@bp.get("/assignments")
def assignments() -> Response:
    args = QueryArgs(("plan", "unit", "task", "status", "role", "active"), paginated=True)
    page, per_page = args.page()
    plan_id = _plan_arg(args)
    unit_id, task_id = args.integer("unit"), args.integer("task")
    status = args.string("status", choices=ASSIGNMENT_STATUSES)
    role = args.string("role", choices=("lead", "co"))
    active = args.string("active", choices=("true", "false", "all"))
    args.check()
    result = queries.list_assignments(current_user, today(), page, per_page, plan_id=plan_id, unit_id=unit_id,
                                      task_id=task_id, status=status, role=role,
                                      active=None if active == "all" else active != "false")
    return json_response(result.as_dict(today=today().isoformat()))


@bp.get("/assignments/<int:assignment_id>")
def assignment(assignment_id: int) -> Response:
    QueryArgs(()).check()
    found = _assignment_or_404(assignment_id)
    return json_response({**queries.assignment_detail(found, today()), "today": today().isoformat()})


@bp.get("/reports")
def reports_list() -> Response:
    args = QueryArgs(("plan", "unit", "period", "assignment", "state", "updated_since"), paginated=True)
    page, per_page = args.page()
    plan_id = _plan_arg(args)
    unit_id, period_id, assignment_id = args.integer("unit"), args.integer("period"), args.integer("assignment")
    state = args.string("state", choices=_states())
    since = args.moment("updated_since")
    args.check()
    result = queries.list_reports(current_user, page, per_page, plan_id=plan_id, unit_id=unit_id, period_id=period_id,
                                  assignment_id=assignment_id, state=state, updated_since=since)
    return json_response(result.as_dict())


@bp.get("/reports/<int:report_id>")
def report(report_id: int) -> Response:
    QueryArgs(()).check()
    found = queries.get_report(current_user, path_id(report_id))
    if found is None:
        raise not_found()
    return json_response(queries.report_out(found))


@bp.get("/figures")
def figures() -> Response:
    args = QueryArgs(("plan", "unit", "period", "indicator", "state"), paginated=True)
    page, per_page = args.page()
    plan_id = _plan_arg(args)
    unit_id, period_id = args.integer("unit"), args.integer("period")
    indicator = args.string("indicator", max_len=60, controls=True)
    state = args.string("state", choices=_states())
    args.check()
    result = queries.list_figures(current_user, page, per_page, plan_id=plan_id, unit_id=unit_id, period_id=period_id,
                                  indicator=indicator, state=state)
    return json_response(result.as_dict())


@bp.get("/overdue")
def overdue() -> Response:
    if not current_user.sees_everything:
        raise forbidden("逾期未报清单仅供领导小组办公室和审计员查看。")
    args = QueryArgs(("plan", "period", "unit", "step", "all_periods"), paginated=True)
    page, per_page = args.page()
    plan_id = _plan_arg(args)
    period_id, unit_id = args.integer("period"), args.integer("unit")
    step = args.string("step", choices=("escalate", "refer"))
    all_periods = args.boolean("all_periods", False)
    args.check()
    result = queries.overdue_page(today(), page, per_page, plan_id=plan_id, period_id=period_id, unit_id=unit_id,
                                  step=step, all_periods=all_periods)
    return json_response(result.as_dict(today=today().isoformat()))


# --------------------------------------------------------------------------- one unit's report


def _slot(assignment_id: int, period_id: int):
    a = _assignment_or_404(assignment_id)
    period = queries.period_of(a.plan_id, path_id(period_id))
    if period is None:
        raise not_found()
    return a, period


@bp.get("/assignments/<int:assignment_id>/reports/<int:period_id>")
def report_slot(assignment_id: int, period_id: int) -> Response:
    QueryArgs(()).check()
    a, period = _slot(assignment_id, period_id)
    return json_response(queries.report_slot(a, period, current_user))


@bp.put("/assignments/<int:assignment_id>/reports/<int:period_id>")
def save_report(assignment_id: int, period_id: int) -> Response:
    """Create or update the unit's report for a period (draft), optionally submit it; see docs/api.md."""
    QueryArgs(()).check()
    a, period = _slot(assignment_id, period_id)
    if not reports.is_unit_user(current_user, a):
        raise forbidden("只有本单位的联络员可以填报该报告；审计员和领导小组办公室不能通过接口修改报告。")
    body = json_body()
    existing = reports.get_report(a, period)
    indicators = {i.key: i for i in reports.indicators_for(a)}
    data, version, submit = _report_input(body, existing, indicators)
    if not a.active:
        raise ApiError(409, "inactive", "该责任事项已停用，不能再填报。")
    if version is not None and (existing.version if existing else 0) != version:
        raise _conflict("该报告已被他人修改（版本不一致），为避免覆盖，本次保存未生效。请重新读取后再提交。")
    if not reports.may_edit_report(current_user, a, existing):
        raise ApiError(409, "not_editable",
                       f"报告当前为“{workflows().report.label(existing.state)}”，本单位不能修改。"
                       if existing else "该报告当前状态下不能由本单位修改。")
    created = existing is None
    try:
        saved = reports.save_report(a, period, current_user, data, version)
        if submit:
            saved = reports.transition(saved, "submit", current_user)
        db.session.commit()
    except reports.ConflictError as exc:
        raise _conflict(exc.message) from None
    except reports.ReportError as exc:
        raise ApiError(400, "invalid_report", exc.message,
                       {_field_name(exc.field, indicators): exc.message} if exc.field else None) from None
    except (StaleDataError, IntegrityError):
        raise _conflict("该报告已被他人同时修改，为避免覆盖，本次保存未生效。请重新读取后再提交。") from None
    out = queries.report_slot(a, period, current_user)
    return json_response(out, 201 if created else 200)


def _conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def _field_name(field: str, indicators: dict[str, Any]) -> str:
    if field.startswith("figure_"):
        by_id = {str(i.id): key for key, i in indicators.items()}
        return f"figures.{by_id.get(field[len('figure_'):], field)}"
    return field


def _report_input(body: dict[str, Any], existing: Any, indicators: dict[str, Any]
                  ) -> tuple[reports.ReportInput, int, bool]:
    """The body checked field by field (all errors at once); absent texts keep their saved value."""
    errors: dict[str, str] = {}
    for key in body:
        if key not in BODY_FIELDS:
            errors[key] = "未知字段。"
    version = body.get("version")
    if "version" not in body:
        errors["version"] = "请提供版本号 version（读取报告时得到；尚无报告时为 0）。"
    elif isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= 2**31 - 1:
        errors["version"] = "版本号应为非负整数。"
        version = None
    texts: dict[str, str] = {}
    for name in reports.TEXT_FIELDS:
        value = body.get(name)
        if name not in body or value is None:
            texts[name] = getattr(existing, name) if existing is not None else ""
        elif not isinstance(value, str):
            errors[name] = "应为文本。"
        elif len(value) > TEXT_MAX:
            errors[name] = f"不能超过 {TEXT_MAX} 个字。"
        elif "\x00" in value:
            errors[name] = "文本含有不允许的字符。"
        else:
            texts[name] = value
    reason = body.get("revision_reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > REASON_MAX or "\x00" in reason):
        errors["revision_reason"] = f"修改原因应为不超过 {REASON_MAX} 个字的文本。"
        reason = None
    submit = body.get("submit", False)
    if not isinstance(submit, bool):
        errors["submit"] = "应为 true 或 false。"
    figures: dict[int, Decimal | None] = {}
    raw_figures = body.get("figures")
    if raw_figures is None:
        raw_figures = {}
    if not isinstance(raw_figures, dict):
        errors["figures"] = "应为对象：指标代码 → 数值，例如 {\"t2-jobs\": 12.5}。"
        raw_figures = {}
    max_abs = Decimal(current_app.config["FIGURE_MAX_ABS"])
    for key, raw in raw_figures.items():
        field = f"figures.{key}"
        indicator = indicators.get(key)
        if indicator is None:
            errors[field] = "该指标不由本单位填报（指标代码见 GET 本报告的 indicators）。"
            continue
        try:
            figures[indicator.id] = _figure_value(raw, indicator.allow_negative, max_abs)
        except ValueError as exc:
            errors[field] = str(exc)
    if errors:
        raise ApiError(400, "invalid_body", "提交的内容有误，请按提示修改。", dict(sorted(errors.items())))
    data = reports.ReportInput(texts["progress_text"], texts["problems_text"], texts["next_steps_text"], figures,
                               revision_reason=reason)
    return data, version, bool(submit)


def _figure_value(raw: Any, allow_negative: bool, max_abs: Decimal) -> Decimal | None:
    """A figure from JSON: a number, a decimal string ("1,234.5"), or null to clear it."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError("应为数字、数字文本或 null。")
    if isinstance(raw, str) and (len(raw) > 40 or "\x00" in raw):
        raise ValueError("请输入数字，例如 12.5。")
    text = raw if isinstance(raw, str) else (str(raw) if isinstance(raw, int) and abs(raw) < 10**40 else repr(raw))
    if isinstance(raw, int) and abs(raw) >= 10**40:
        raise ValueError(f"数值超出合理范围（绝对值不超过 {max_abs:,}）。")
    return parse_decimal(text, allow_negative=allow_negative, max_abs=max_abs)

