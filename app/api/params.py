"""Reading an API request's input: query parameters, path ids and the JSON body.

Every refusal is an ApiError with a Chinese message (and, for bad fields, one message per
field), so the client learns what to fix; nothing reaches the database unchecked (ids beyond
the database's integer range, strings with NUL characters)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from flask import request

MAX_ID = 2**31 - 1  # PostgreSQL integer: a larger id cannot exist
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50
MAX_PAGE = 100_000
MAX_BODY_BYTES = 256 * 1024


class ApiError(Exception):
    """An answer other than success: HTTP status, a stable code, a Chinese message, field messages."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


def not_found() -> ApiError:
    return ApiError(404, "not_found", "资源不存在，或不属于您的单位。")


def forbidden(message: str = "您无权执行此操作。") -> ApiError:
    return ApiError(403, "forbidden", message)


def clean_text(value: str) -> bool:
    """False for text PostgreSQL cannot store or that no person typed (NUL, other C0 controls but tab/newline)."""
    return not any(ord(c) < 32 and c not in "\t\r\n" for c in value)


def path_id(value: int) -> int:
    """A numeric id from the path; one that cannot exist answers 404 without a query."""
    if not 1 <= value <= MAX_ID:
        raise not_found()
    return value


def path_text(value: str, max_len: int = 100) -> str:
    if len(value) > max_len or not clean_text(value):
        raise not_found()
    return value


class QueryArgs:
    """The query string, read field by field; all bad fields are reported together.

    Names the endpoint does not know are refused, so a misspelt filter does not silently
    return everything."""

    def __init__(self, allowed: tuple[str, ...], *, paginated: bool = False) -> None:
        self.allowed = set(allowed) | ({"page", "per_page"} if paginated else set())
        self.errors: dict[str, str] = {}
        for name in request.args:
            if name not in self.allowed:
                self.errors[name] = "未知的查询参数。"
            elif len(request.args.getlist(name)) > 1:
                self.errors[name] = "该参数只能出现一次。"

    def _raw(self, name: str, *, controls: bool = False) -> str | None:
        if name in self.errors:
            return None
        value = request.args.get(name)
        if value is None:
            return None
        if value == "":
            self.errors[name] = "参数值不能为空；不需要时请省略该参数。"
            return None
        if not controls and not clean_text(value):
            self.errors[name] = "参数含有不允许的控制字符。"
            return None
        return value

    def integer(self, name: str, *, minimum: int = 1, maximum: int = MAX_ID, default: int | None = None,
                what: str = "编号") -> int | None:
        raw = self._raw(name)
        if raw is None:
            return default
        text = raw.strip()
        if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
            self.errors[name] = f"{what}应为 {minimum} 到 {maximum} 之间的整数。"
            return default
        value = int(text)
        if not minimum <= value <= maximum:
            self.errors[name] = f"{what}应为 {minimum} 到 {maximum} 之间的整数。"
            return default
        return value

    def string(self, name: str, *, max_len: int = 100, choices: tuple[str, ...] | None = None,
               controls: bool = False) -> str | None:
        """A text; with ``controls`` a filter value may hold control characters (it then matches nothing,
        and the caller must not send it to the database)."""
        raw = self._raw(name, controls=controls)
        if raw is None:
            return None
        if choices is not None and raw not in choices:
            self.errors[name] = f"取值应为 {'、'.join(choices)} 之一。"
            return None
        if len(raw) > max_len:
            self.errors[name] = f"不能超过 {max_len} 个字符。"
            return None
        return raw

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw in ("true", "1"):
            return True
        if raw in ("false", "0"):
            return False
        self.errors[name] = "取值应为 true 或 false。"
        return default

    def moment(self, name: str) -> datetime | None:
        """An ISO 8601 date or date-time; without a zone it is read as UTC. Returns naive UTC."""
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00")) if "T" in raw else None
            if value is None:
                day = date.fromisoformat(raw.strip())
                value = datetime(day.year, day.month, day.day)
        except ValueError:
            self.errors[name] = "应为 ISO 8601 日期或时间，例如 2025-11-01 或 2025-11-01T08:00:00Z。"
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def page(self) -> tuple[int, int]:
        page = self.integer("page", maximum=MAX_PAGE, default=1, what="页码")
        per_page = self.integer("per_page", maximum=MAX_PER_PAGE, default=DEFAULT_PER_PAGE, what="每页条数")
        return page or 1, per_page or DEFAULT_PER_PAGE

    def check(self) -> None:
        if self.errors:
            raise ApiError(400, "invalid_parameter", "查询参数有误，请按提示修改。", dict(sorted(self.errors.items())))


def json_body() -> dict[str, Any]:
    """The request's JSON object; 415 for another content type, 400 for what is not a JSON object."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "请以 JSON 提交（Content-Type: application/json）。")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"请求内容过大（不超过 {MAX_BODY_BYTES // 1024} KB）。")
    # With a length, read through Flask's cache (a hook that read the body first leaves it there);
    # without one (chunked), read at most one byte past the limit.
    data = request.get_data(cache=True) if request.content_length is not None \
        else request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"请求内容过大（不超过 {MAX_BODY_BYTES // 1024} KB）。")
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "请求内容不是有效的 JSON。") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "请求内容应为一个 JSON 对象。")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
