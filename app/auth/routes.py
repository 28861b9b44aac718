from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..audit import services as audit
from ..extensions import db
from .forms import LoginForm
from .services import authenticate

bp = Blueprint("auth", __name__)


@bp.route("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for(".login"))
    if current_user.role == "liaison":
        return redirect(url_for("reports.my_items"))
    if current_user.role == "admin":
        return redirect(url_for("admin.units"))
    return redirect(url_for("plans.index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(".home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is None:
            form.form_errors.append("用户名或密码不正确。")
        else:
            login_user(user)
            target = request.args.get("next", "")
            parts = urlsplit(target)
            if not target.startswith("/") or target.startswith("//") or parts.netloc or parts.scheme:
                target = url_for(".home")
            return redirect(target)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    audit.record("auth.logout", "user", current_user.id, {})
    db.session.commit()
    logout_user()
    flash("您已退出登录。", "info")
    return redirect(url_for(".login"))
