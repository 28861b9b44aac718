"""Error pages in Chinese; no stack trace reaches a user."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from .extensions import db

MESSAGES = {
    400: ("请求有误", "提交的内容不完整或已过期，请返回重试。"),
    403: ("无权访问", "您没有访问该页面或执行该操作的权限。"),
    404: ("页面不存在", "您要找的内容不存在，或不属于您的单位。"),
    405: ("操作不允许", "该页面不支持这种请求方式。"),
    413: ("文件过大", "上传的内容超过了允许的大小（16 MB），请压缩或拆分后重试。"),
    500: ("系统错误", "系统出现错误，已记录。请稍后重试或联系管理员。"),
}


def register_error_handlers(app: Flask) -> None:
    def render(code: int):
        title, message = MESSAGES[code]
        return render_template("error.html", code=code, title=title, message=message), code

    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, lambda e, c=code: render(c))

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        title, _ = MESSAGES[400]
        return render_template("error.html", code=400, title=title,
                               message="表单已过期（安全校验未通过），请刷新页面后重试。"), 400

    @app.errorhandler(500)
    def server_error(e):
        db.session.rollback()
        return render(500)
