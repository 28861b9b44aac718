"""Bearer-token authentication for /api/v1 and the API's JSON errors.

Only `Authorization: Bearer <token>` authenticates an API request: a session cookie sent
along is ignored, so a page's login can never be used to write through the API (and so
CSRF, which protects cookie-authenticated forms, does not apply here)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from ..extensions import db
from .params import ApiError
from .services import authenticate_token

PREFIX = "/api/v1"
PUBLIC_ENDPOINTS = {"api.openapi"}
CHALLENGE = 'Bearer realm="api"'

HTTP_MESSAGES = {
    400: ("bad_request", "请求有误。"),
    401: ("unauthorized", "请在 Authorization 头中提供有效的 API 令牌（Bearer）。"),
    403: ("forbidden", "您无权执行此操作。"),
    404: ("not_found", "资源不存在，或不属于您的单位。"),
    405: ("method_not_allowed", "该地址不支持这种请求方式。"),
    413: ("too_large", "请求内容过大。"),
    415: ("unsupported_media_type", "请以 JSON 提交（Content-Type: application/json）。"),
    500: ("server_error", "系统出现错误，已记录。请稍后重试或联系管理员。"),
    503: ("database_unavailable", "系统暂时无法连接数据库，请求没有完成，也没有保存任何内容。请稍后重试。"),
}


def json_response(data: Any, status: int = 200) -> Response:
    """JSON in UTF-8 as written (Chinese stays readable), not \\u-escaped."""
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), status=status,
                    mimetype="application/json")


def error_response(err: ApiError) -> Response:
    response = json_response(err.body(), err.status)
    for key, value in err.headers.items():
        response.headers[key] = value
    return response


def http_error(status: int, headers: dict[str, str] | None = None) -> ApiError:
    code, message = HTTP_MESSAGES.get(status, ("error", "请求未能完成。"))
    return ApiError(status, code, message, headers=headers)


def _set_user(user: Any) -> None:
    """The request's user for Flask-Login's current_user (and so for the audit log's actor),
    without touching the session: a bearer request never logs anybody in."""
    g._login_user = user  # what flask_login.current_user reads; set first, it never loads the session


def authenticate() -> ApiError | None:
    """Before every API request: the bearer token's user, or a 401."""
    _set_user(current_app.login_manager.anonymous_user())
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return ApiError(401, "unauthorized", "请在 Authorization 头中提供 API 令牌：Authorization: Bearer <令牌>。",
                        headers={"WWW-Authenticate": CHALLENGE})
    found = authenticate_token(credentials.strip())
    if found is None:
        return ApiError(401, "invalid_token", "API 令牌无效、已过期或已吊销，或账号已停用。",
                        headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'})
    token, user = found
    g.api_token_id = token.id
    _set_user(user)
    return None


def init_api_auth(bp: Blueprint) -> None:
    @bp.before_request
    def _authenticate() -> Response | None:
        err = authenticate()
        return error_response(err) if err is not None else None

    @bp.after_request
    def _no_store(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @bp.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        db.session.rollback()
        return error_response(err)

    @bp.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        db.session.rollback()
        if isinstance(err, InternalServerError):
            return _server_error(err)
        headers = {"Allow": ", ".join(err.valid_methods)} if isinstance(err, MethodNotAllowed) and err.valid_methods \
            else None
        return error_response(http_error(err.code or 500, headers))

    @bp.errorhandler(OperationalError)
    @bp.errorhandler(InterfaceError)
    def _database_unavailable(err: Exception) -> Response:
        """The database is unreachable: nothing was saved; the caller should retry (Retry-After)."""
        with contextlib.suppress(Exception):
            db.session.rollback()
        current_app.logger.error("API: database unavailable on %s %s", request.method, request.path)
        return error_response(http_error(503, {"Retry-After": "30"}))

    @bp.errorhandler(InternalServerError)
    def _server_error(err: Exception) -> Response:
        db.session.rollback()
        current_app.logger.error("API error on %s %s", request.method, request.path,
                                 exc_info=getattr(err, "original_exception", None) or err)
        return error_response(http_error(500))

    @bp.before_app_request
    def _api_routing_error() -> Response | None:
        """A URL under /api/v1 that matches no route (404) or not with this method (405) answers
        in JSON too: no blueprint handler sees routing errors."""
        exc = request.routing_exception
        if exc is None or (not request.path.startswith(PREFIX + "/") and request.path != PREFIX):
            return None
        if not isinstance(exc, HTTPException) or (exc.code or 0) < 400:
            return None  # e.g. a redirect to the slash-terminated URL
        headers = {"Allow": ", ".join(exc.valid_methods)} if isinstance(exc, MethodNotAllowed) and exc.valid_methods \
            else None
        return error_response(http_error(exc.code or 404, headers))


def register(app: Flask, bp: Blueprint) -> None:
    """Exempt the API from CSRF (bearer tokens only; cookies do not authenticate it) and register it."""
    from ..extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)
