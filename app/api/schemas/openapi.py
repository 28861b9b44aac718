"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json.

Written by hand beside the routes; tests/api/test_openapi.py checks that every route and
method is documented and every documented path exists, and the schemathesis run checks
every answer against the response schemas here."""

from __future__ import annotations

from typing import Any

from ..params import DEFAULT_PER_PAGE, MAX_ID, MAX_PAGE, MAX_PER_PAGE

JSON = "application/json"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: list[str] | None = None, *, closed: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "required": list(properties) if required is None else required}
    if closed:
        out["additionalProperties"] = False
    return out


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NUM = {"type": "number"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
ID = {"type": "integer", "minimum": 1}
STATUSES = ["not_started", "in_progress", "completed", "blocked"]


def schemas(states: list[str]) -> dict[str, Any]:
    """The component schemas; report states come from workflows/report_states.yaml."""
    out = _base_schemas(states)
    for name in ("PlanSummary", "Task", "Unit", "Assignment", "Report", "FigureRow", "OverdueRow"):
        out[f"{name}Page"] = _page_schema(name, {"today": DATE} if name in ("Assignment", "OverdueRow") else None)
    out["PeriodList"] = _obj({"items": {"type": "array", "items": _ref("Period")}})
    return out


def _base_schemas(states: list[str]) -> dict[str, Any]:
    return {
        "Error": _obj({
            "error": _obj({
                "code": {**STR, "description": "稳定的英文错误码，如 invalid_parameter、not_found、conflict"},
                "message": {**STR, "description": "中文说明"},
                "fields": {"type": "object", "additionalProperties": STR,
                           "description": "逐字段的中文说明（字段名 → 说明）"},
            }, ["code", "message"]),
        }),
        "Links": _obj({"self": STR, "next": _nullable(STR), "prev": _nullable(STR)}),
        "UnitRef": _obj({"id": ID, "name": STR}),
        "TaskRef": _obj({"id": ID, "number": INT, "title": STR}),
        "Me": _obj({"id": ID, "username": STR, "name": STR, "role": {"enum": ["liaison", "staff", "admin", "auditor"]},
                    "role_label": STR, "unit": _nullable(_ref("UnitRef"))}),
        "PlanSummary": _obj({
            "id": {**STR, "description": "方案编号（slug）"}, "code": {**STR, "description": "文号"}, "title": STR,
            "issuer": STR, "issued": DATE, "reporting": _obj({"start": DATE, "end": DATE}),
            "cadence": {"type": "array", "items": STR}, "assignments": {**INT, "description": "在用责任事项数"},
            "url": STR,
        }),
        "PlanIndicator": _obj({
            "key": STR, "name": STR, "target": NUM, "unit": STR, "comparator": {"enum": [">=", "<=", "~"]},
            "due": DATE, "cumulative": BOOL, "per_unit": BOOL, "reported_by": {"type": "array", "items": STR},
        }),
        "PlanDetail": _obj({
            "id": STR, "code": STR, "title": STR, "issuer": STR, "issued": DATE,
            "reporting": _obj({"start": DATE, "end": DATE}), "cadence": {"type": "array", "items": STR},
            "sections": {"type": "array", "items": _obj({"number": STR, "title": STR, "part": _nullable(STR)})},
            "targets": {"type": "array", "items": _ref("PlanIndicator")},
            "tasks": {"type": "array", "items": _obj({
                "number": INT, "title": STR, "section": _nullable(STR), "text": STR,
                "units": {"type": "array", "items": _obj(
                    {"name": STR, "role": {"enum": ["lead", "co"]}, "via": STR, "group": BOOL}, ["name", "role"])},
                "indicators": {"type": "array", "items": _ref("PlanIndicator")},
                "policy": {"type": "array", "items": STR},
            })},
        }),
        "Period": _obj({
            "id": ID, "kind": {"enum": ["monthly", "quarterly", "half_year", "annual"]}, "label": STR,
            "start": DATE, "end": DATE, "due": {**DATE, "description": "按报送规则计算的截止日期"}, "plan": STR,
        }, ["id", "kind", "label", "start", "end", "due"]),
        "PeriodRef": _obj({"id": ID, "kind": STR, "label": STR}),
        "Indicator": _obj({
            "key": STR, "name": STR, "comparator": {"enum": [">=", "<=", "~"]}, "target": NUM,
            "target_text": {**STR, "description": "目标值的精确十进制文本"}, "unit": STR, "due": DATE,
            "cumulative": BOOL, "per_unit": BOOL, "allow_negative": BOOL, "reported_by": {"type": "array", "items": STR},
        }),
        "Task": _obj({
            "id": ID, "plan": STR, "number": INT, "title": STR, "text": STR,
            "section": _nullable(_obj({"number": STR, "title": STR})),
            "indicators": {"type": "array", "items": _ref("Indicator")},
        }),
        "TaskDetail": _obj({
            "id": ID, "plan": STR, "number": INT, "title": STR, "text": STR,
            "section": _nullable(_obj({"number": STR, "title": STR})),
            "indicators": {"type": "array", "items": _ref("Indicator")},
            "units": {"type": "array", "items": _obj({"unit": _ref("UnitRef"), "role": {"enum": ["lead", "co"]},
                                                      "via_group": _nullable(STR)})},
        }),
        "Unit": _obj({"id": ID, "name": STR, "kind": {"enum": ["department", "league_city", "external"]}}),
        "Light": _obj({
            "colour": {"enum": ["green", "yellow", "red", "grey"]}, "label": STR,
            "rule": {**STR, "description": "workflows/lights.yaml 中选中该颜色的规则"}, "explanation": STR,
        }),
        "ReportRef": _obj({"id": ID, "state": {"enum": states}, "state_label": STR, "version": INT}),
        "PeriodStatus": _obj({
            "period": _ref("Period"), "due": {**DATE, "description": "实际截止日期（含办公室调整）"},
            "report": _nullable(_ref("ReportRef")), "light": _nullable(_ref("Light")),
        }),
        "Assignment": _obj({
            "id": ID, "plan": STR, "task": _ref("TaskRef"), "unit": _ref("UnitRef"), "role": {"enum": ["lead", "co"]},
            "via_group": _nullable(STR), "active": BOOL,
            "status": {"enum": STATUSES}, "status_label": STR,
            "progress": {"type": "integer", "minimum": 0, "maximum": 100}, "status_note": _nullable(STR),
            "version": INT,
            "current": {**_nullable(_ref("PeriodStatus")), "description": "本方案当前月度报送周期的情况与红黄绿灯"},
        }),
        "AssignmentDetail": _obj({
            "id": ID, "plan": STR, "task": _ref("TaskRef"), "unit": _ref("UnitRef"), "role": {"enum": ["lead", "co"]},
            "via_group": _nullable(STR), "active": BOOL,
            "status": {"enum": STATUSES}, "status_label": STR,
            "progress": {"type": "integer", "minimum": 0, "maximum": 100}, "status_note": _nullable(STR),
            "version": INT, "current": _nullable(_ref("PeriodStatus")),
            "indicators": {"type": "array", "items": _ref("Indicator")},
            "periods": {"type": "array", "items": _ref("PeriodStatus")},
            "today": DATE,
        }),
        "ReportFigure": _obj({
            "indicator": {**STR, "description": "指标代码"}, "name": STR, "unit": STR, "value": _nullable(NUM),
            "value_text": _nullable(STR),
        }),
        "Report": _obj({
            "id": ID, "assignment_id": ID, "plan": STR, "task": _ref("TaskRef"), "unit": _ref("UnitRef"),
            "period": _ref("Period"), "state": {"enum": states}, "state_label": STR,
            "version": {**INT, "description": "乐观锁版本号：修改时原样提交"},
            "progress_text": STR, "problems_text": STR, "next_steps_text": STR, "return_reason": _nullable(STR),
            "submitted_at": _nullable(DATETIME), "first_submitted_at": _nullable(DATETIME),
            "decided_at": _nullable(DATETIME), "created_at": DATETIME, "updated_at": DATETIME,
            "figures": {"type": "array", "items": _ref("ReportFigure")},
        }),
        "FigureRow": _obj({
            "id": ID, "report_id": ID, "report_state": {"enum": states}, "assignment_id": ID, "plan": STR,
            "task_number": INT, "unit": _ref("UnitRef"), "period": _ref("PeriodRef"), "indicator": STR, "name": STR,
            "unit_of_measure": STR, "value": _nullable(NUM), "value_text": _nullable(STR),
        }),
        "SlotIndicator": _obj({
            "key": STR, "name": STR, "comparator": {"enum": [">=", "<=", "~"]}, "target": NUM, "target_text": STR,
            "unit": STR, "due": DATE, "cumulative": BOOL, "per_unit": BOOL, "allow_negative": BOOL,
            "reported_by": {"type": "array", "items": STR}, "value": _nullable(NUM), "value_text": _nullable(STR),
        }),
        "ReportSlot": _obj({
            "assignment_id": ID, "period": _ref("Period"),
            "version": {**INT, "description": "提交时填写的版本号；尚无报告时为 0"},
            "may_edit": {**BOOL, "description": "当前用户能否通过 PUT 修改该报告"},
            "indicators": {"type": "array", "items": _ref("SlotIndicator")},
            "report": _nullable(_ref("Report")),
        }),
        "ReportInput": {
            "type": "object", "additionalProperties": False, "required": ["version"],
            "properties": {
                "version": {"type": "integer", "minimum": 0, "maximum": MAX_ID,
                            "description": "读取时得到的版本号；尚无报告时为 0。不一致时返回 409，不做任何修改"},
                "progress_text": {"type": ["string", "null"], "maxLength": 5000, "description": "进展情况；不提供则保持原值"},
                "problems_text": {"type": ["string", "null"], "maxLength": 5000, "description": "存在问题"},
                "next_steps_text": {"type": ["string", "null"], "maxLength": 5000, "description": "下步计划"},
                "figures": {
                    "type": ["object", "null"], "description": "指标代码 → 数值（数字或数字文本，null 清空）；未列出的指标不变",
                    "additionalProperties": {"type": ["number", "string", "null"]},
                },
                "revision_reason": {"type": ["string", "null"], "maxLength": 2000,
                                    "description": "修改已报送过的报告中的数值时须填写"},
                "submit": {"type": "boolean", "default": False, "description": "保存后立即报送"},
            },
        },
        "OverdueRow": _obj({
            "assignment_id": ID, "plan": STR, "task": _obj({"number": INT, "title": STR}), "unit": _ref("UnitRef"),
            "role": {"enum": ["lead", "co"]}, "period": _obj({"id": ID, "label": STR}),
            "due": {**DATE, "description": "实际截止日期"}, "rule_due": _nullable(DATE), "workdays_late": INT,
            "report_state": {"enum": [*states, None]}, "report_state_label": _nullable(STR),
            "step": _nullable(STR), "step_label": _nullable(STR), "step_day": _nullable(DATE),
        }),
    }


def _page_schema(item: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {
        "items": {"type": "array", "items": _ref(item)}, "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "total": {**INT, "description": "总条数（超过上限时为上限，见 total_capped）"}, "total_capped": BOOL,
        "pages": INT, "links": _ref("Links"), **(extra or {}),
    }
    return _obj(props)




def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _p(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


ID_PARAM = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
PAGE = [
    _q("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}, "页码，从 1 开始"),
    _q("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
       f"每页条数，最多 {MAX_PER_PAGE}"),
]
PLAN_Q = _q("plan", {"type": "string", "minLength": 1, "maxLength": 60}, "方案编号（如 nmg-2025-employment）或文号")
UNIT_Q = _q("unit", ID_PARAM, "单位 id（见 /units）")
PERIOD_Q = _q("period", ID_PARAM, "报送周期 id（见 /plans/{plan}/periods）")
PLAN_PATH = _p("ident", {"type": "string", "minLength": 1, "maxLength": 60}, "方案编号或文号")


def _responses(ok: str | None, *codes: int, ok_status: str = "200", description: str = "成功") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ok is not None:
        out[ok_status] = {"description": description, "content": {JSON: {"schema": _ref(ok)}}}
    for code in (400, 401, *codes, 503):
        out[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    return out


ERRORS = {
    400: "请求参数或内容有误（fields 给出逐字段的中文说明）",
    401: "缺少 API 令牌，或令牌无效、过期、已吊销，或账号已停用",
    403: "无权执行（例如联络员查看逾期清单，审计员或办公室提交报告）",
    404: "资源不存在，或属于其他单位",
    409: "版本冲突（他人已修改），或报告当前状态不允许修改",
    413: "请求内容过大",
    415: "请求内容不是 JSON",
    503: "数据库暂时无法连接：请求没有完成，也没有保存任何内容；按 Retry-After（秒）稍后重试",
}


def _op(op_id: str, summary: str, ok: str, *codes: int, params: list[dict[str, Any]] | None = None,
        tag: str = "读取", description: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag],
                          "parameters": params or [], "responses": _responses(ok, *codes)}
    if description:
        op["description"] = description
    return op


def document() -> dict[str, Any]:
    from ...workflow import workflows

    states = list(workflows().report.states)
    state_q = _q("state", {"enum": states}, "报告状态")
    slot_params = [_p("assignment_id", ID_PARAM, "责任事项 id"), _p("period_id", ID_PARAM, "报送周期 id")]
    put = _op("saveReport", "填报本单位的报告（创建或更新草稿，可同时报送）", "ReportSlot", 403, 404, 409, 413, 415,
              params=slot_params, tag="填报",
              description="仅本单位联络员的令牌可用。请求体中未提供的文本字段保持原值，未列出的指标不变。"
                          "version 与当前版本不一致时返回 409，不做任何修改；submit 为 true 时保存后报送，"
                          "报送条件不满足（如缺少进展情况或指标数值）时返回 400，草稿也不保存。")
    put["requestBody"] = {"required": True, "content": {JSON: {"schema": _ref("ReportInput")}}}
    put["responses"]["201"] = {"description": "新建了报告", "content": {JSON: {"schema": _ref("ReportSlot")}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "任务落实督办系统 API", "version": "1.0.0",
            "description": "供省级平台拉取进展、各单位统计系统推送指标数值。认证：Authorization: Bearer <API 令牌>"
                           "（在“API 令牌”页面创建）。访问范围与网页相同：联络员只能看到本单位的事项，"
                           "办公室和审计员可以看到全部，审计员只读。详见 docs/api.md。",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "读取"}, {"name": "填报"}],
        "paths": {
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "本文档", "tags": ["读取"], "security": [],
                "responses": {"200": {"description": "OpenAPI 文档", "content": {JSON: {"schema": {"type": "object"}}}}},
            }},
            "/api/v1/me": {"get": _op("me", "当前令牌的账号", "Me")},
            "/api/v1/plans": {"get": _op("listPlans", "实施方案列表", "PlanSummaryPage", params=PAGE)},
            "/api/v1/plans/{ident}": {"get": _op("getPlan", "一个实施方案：部分、任务、责任单位、指标", "PlanDetail", 404,
                                                 params=[PLAN_PATH])},
            "/api/v1/plans/{ident}/periods": {"get": _op(
                "listPeriods", "方案的报送周期", "PeriodList", 404,
                params=[PLAN_PATH, _q("kind", {"enum": ["monthly", "quarterly", "half_year", "annual"]}, "周期类型")])},
            "/api/v1/tasks": {"get": _op("listTasks", "任务列表", "TaskPage", params=[PLAN_Q, *PAGE])},
            "/api/v1/tasks/{task_id}": {"get": _op("getTask", "一个任务及其责任单位", "TaskDetail", 404,
                                                   params=[_p("task_id", ID_PARAM, "任务 id")])},
            "/api/v1/units": {"get": _op("listUnits", "单位列表", "UnitPage", params=[
                _q("kind", {"enum": ["department", "league_city", "external"]}, "单位类别"), *PAGE])},
            "/api/v1/assignments": {"get": _op(
                "listAssignments", "责任事项：工作状态、当前周期报告与红黄绿灯", "AssignmentPage", params=[
                    PLAN_Q, UNIT_Q, _q("task", ID_PARAM, "任务 id"),
                    _q("status", {"enum": STATUSES}, "工作状态"),
                    _q("role", {"enum": ["lead", "co"]}, "牵头或配合"),
                    _q("active", {"enum": ["true", "false", "all"], "default": "true"}, "在用（默认）、停用或全部"),
                    *PAGE])},
            "/api/v1/assignments/{assignment_id}": {"get": _op(
                "getAssignment", "一个责任事项：各报送周期的截止日期、报告状态与红黄绿灯", "AssignmentDetail", 404,
                params=[_p("assignment_id", ID_PARAM, "责任事项 id")])},
            "/api/v1/assignments/{assignment_id}/reports/{period_id}": {
                "get": _op("getReportSlot", "某周期的报告：版本号、应填指标及当前数值", "ReportSlot", 404,
                           params=slot_params, tag="填报"),
                "put": put,
            },
            "/api/v1/reports": {"get": _op("listReports", "进展报告（含指标数值）", "ReportPage", params=[
                PLAN_Q, UNIT_Q, PERIOD_Q, _q("assignment", ID_PARAM, "责任事项 id"), state_q,
                _q("updated_since", {"type": "string", "format": "date-time"},
                   "只列出此后修改过的报告（ISO 8601，如 2025-11-01T00:00:00Z）"), *PAGE])},
            "/api/v1/reports/{report_id}": {"get": _op("getReport", "一份进展报告", "Report", 404,
                                                       params=[_p("report_id", ID_PARAM, "报告 id")])},
            "/api/v1/figures": {"get": _op("listFigures", "填报数值", "FigureRowPage", params=[
                PLAN_Q, UNIT_Q, PERIOD_Q, _q("indicator", {"type": "string", "minLength": 1, "maxLength": 60}, "指标代码"),
                state_q, *PAGE])},
            "/api/v1/overdue": {"get": _op(
                "listOverdue", "逾期未报清单（办公室、审计员）", "OverdueRowPage", 403, params=[
                    PLAN_Q, PERIOD_Q, UNIT_Q, _q("step", {"enum": ["escalate", "refer"]}, "已到达的督办步骤"),
                    _q("all_periods", {"type": "boolean", "default": False},
                       "全部已过期周期（默认只看各方案当前周期）"), *PAGE],
                description="默认每个方案只列出最近一个已过截止日期的月度周期；给出 period 或 all_periods=true 可查看其他周期。"
                            "总数最多统计到 1000（total_capped）。")},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "API 令牌（ptk_ 开头），在“API 令牌”页面创建"}},
            "schemas": schemas(states),
            "responses": {f"E{code}": {"description": text, "content": {JSON: {"schema": _ref("Error")}}}
                          for code, text in ERRORS.items()},
        },
    }
