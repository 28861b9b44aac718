"""Error pages in Chinese (or the user's language); no stack trace reaches a user."""

from __future__ import annotations

import contextlib

from flask import Flask, current_app, render_template
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError

from .extensions import db
from .i18n import N_

MESSAGES = {
    400: (N_("请求有误"), N_("提交的内容不完整或已过期，请返回重试。")),
    403: (N_("无权访问"), N_("您没有访问该页面或执行该操作的权限。")),
    404: (N_("页面不存在"), N_("您要找的内容不存在，或不属于您的单位。")),
    405: (N_("操作不允许"), N_("该页面不支持这种请求方式。")),
    413: (N_("文件过大"), N_("上传的内容超过了允许的大小（16 MB），请压缩或拆分后重试。")),
    500: (N_("系统错误"), N_("系统出现错误，已记录。请稍后重试或联系管理员。")),
    503: (N_("服务暂不可用"), N_("系统暂时无法连接数据库，刚才的操作没有完成，也没有保存任何内容。请稍后重试。")),
}
RETRY_AFTER_SECONDS = 30  # what a 503 asks clients (and the API's callers) to wait


def register_error_handlers(app: Flask) -> None:
    def render(code: int):
        title, message = MESSAGES[code]
        if code >= 500:  # nothing that may have failed: no user (no context processors), no catalogue, no nav
            page = current_app.jinja_env.get_template("error_plain.html")
            return page.render(code=code, title=title, message=message), code
        return render_template("error.html", code=code, title=gettext(title), message=gettext(message)), code

    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, lambda e, c=code: render(c))

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        title, _ = MESSAGES[400]
        return render_template("error.html", code=400, title=gettext(title),
                               message=gettext("表单已过期（安全校验未通过），请刷新页面后重试。")), 400

    @app.errorhandler(500)
    def server_error(e):
        db.session.rollback()
        return render(500)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(e):
        """The database is unreachable (restarting, network): the transaction is gone with it, so
        nothing was half-saved; say so and ask to retry, instead of a bare 500."""
        current_app.logger.error("database unavailable: %s", str(e).splitlines()[0] if str(e) else type(e).__name__)
        with contextlib.suppress(Exception):  # the connection may be gone; the session is reset at teardown
            db.session.rollback()
        body, code = render(503)
        return body, code, {"Retry-After": str(RETRY_AFTER_SECONDS)}
