from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..audit import services as audit
from ..auth import mfa, sessions, throttle
from ..auth.models import User
from ..auth.services import UserError, create_user, update_user
from ..extensions import db
from ..forms_common import show_error
from ..units.models import Unit, UnitGroup
from ..units.services import (
    UnitError,
    current_liaison,
    liaison_history,
    save_unit,
    set_group_members,
    set_liaison,
)
from .forms import UNIT_KIND_LABELS, GroupMembersForm, LiaisonForm, UnitForm, UserForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _get(model, ident: int):
    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    return obj


@bp.route("/units")
@admin_required
def units():
    rows = db.session.execute(select(Unit).order_by(Unit.kind, Unit.id)).scalars().all()
    liaisons = _liaison_names()
    return render_template("admin/units.html", units=rows, kinds=UNIT_KIND_LABELS, liaisons=liaisons)


def _liaison_names() -> dict[int, str]:
    from ..units.models import LiaisonTerm

    rows = db.session.execute(
        select(LiaisonTerm.unit_id, User.name).join(User, User.id == LiaisonTerm.user_id)
        .where(LiaisonTerm.ended_at.is_(None))).all()
    return dict(rows)


@bp.route("/units/new", methods=["GET", "POST"])
@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@admin_required
def unit_edit(unit_id: int | None = None):
    unit = _get(Unit, unit_id) if unit_id else None
    form = UnitForm(obj=unit)
    liaison_form = LiaisonForm(prefix="liaison")
    if unit:
        candidates = db.session.execute(select(User).where(User.unit_id == unit.id, User.role == "liaison",
                                                           User.active)).scalars().all()
        liaison_form.user_id.choices = [SelectChoice(0, gettext("（暂无）"))] + [SelectChoice(u.id, f"{u.name}（{u.username}）")
                                                                     for u in candidates]
        term = current_liaison(unit)
        if not liaison_form.is_submitted():
            liaison_form.user_id.data = term.user_id if term else 0
    if form.validate_on_submit():
        values = {"name": form.name.data.strip(), "kind": form.kind.data, "head_name": form.head_name.data or None,
                  "head_email": form.head_email.data or None, "active": form.active.data}
        try:
            unit = save_unit(unit, values)
            db.session.commit()
            flash(gettext("单位已保存。"), "success")
            return redirect(url_for(".unit_edit", unit_id=unit.id))
        except UnitError as exc:
            db.session.rollback()
            show_error(form, exc)
    history = liaison_history(unit) if unit else []
    return render_template("admin/unit_edit.html", unit=unit, form=form, liaison_form=liaison_form, history=history)


@bp.route("/units/<int:unit_id>/liaison", methods=["POST"])
@admin_required
def unit_liaison(unit_id: int):
    unit = _get(Unit, unit_id)
    form = LiaisonForm(prefix="liaison")
    candidates = db.session.execute(select(User).where(User.unit_id == unit.id, User.role == "liaison")).scalars().all()
    form.user_id.choices = [SelectChoice(0, gettext("（暂无）"))] + [SelectChoice(u.id, u.name) for u in candidates]
    if not form.validate_on_submit():
        flash(gettext("请选择本单位的联络员账号。"), "danger")
        return redirect(url_for(".unit_edit", unit_id=unit.id))
    user = db.session.get(User, form.user_id.data) if form.user_id.data else None
    try:
        set_liaison(unit, user, current_user)
        db.session.commit()
        flash(gettext("联络员已更新，原联络员的任职记录已保留。"), "success")
    except UnitError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for(".unit_edit", unit_id=unit.id))


@bp.route("/groups")
@admin_required
def groups():
    rows = db.session.execute(select(UnitGroup).order_by(UnitGroup.id)).scalars().all()
    return render_template("admin/groups.html", groups=rows)


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@admin_required
def group_edit(group_id: int):
    group = _get(UnitGroup, group_id)
    form = GroupMembersForm()
    all_units = db.session.execute(select(Unit).where(Unit.active, Unit.kind != "league_city").order_by(Unit.id)).scalars().all()
    form.members.choices = [SelectChoice(u.id, u.name) for u in all_units]
    if not form.is_submitted():
        form.members.data = [m.unit_id for m in group.members]
    if form.validate_on_submit():
        try:
            changes = set_group_members(group, form.members.data or [])
            db.session.commit()
            flash(gettext("成员已保存，责任事项已同步（%(n)s 项变化）。", n=len(changes)), "success")
            return redirect(url_for(".group_edit", group_id=group.id))
        except UnitError as exc:
            db.session.rollback()
            show_error(form, exc)
    return render_template("admin/group_edit.html", group=group, form=form)


@bp.route("/users")
@admin_required
def users():
    rows = db.session.execute(select(User).order_by(User.role, User.id)).scalars().all()
    return render_template("admin/users.html", users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int | None = None):
    user = _get(User, user_id) if user_id else None
    form = UserForm(obj=user)
    form.unit_id.choices = [SelectChoice(0, gettext("（无）"))] + [SelectChoice(u.id, u.name) for u in db.session.execute(
        select(Unit).order_by(Unit.id)).scalars()]
    if user is not None and not form.is_submitted():
        form.unit_id.data = user.unit_id or 0
    if form.validate_on_submit():
        values = {"name": form.name.data.strip(), "email": form.email.data or None, "role": form.role.data,
                  "unit_id": form.unit_id.data or None, "active": form.active.data}
        clash = db.session.execute(select(User).where(User.username == form.username.data)).scalar_one_or_none()
        if clash is not None and clash is not user:
            form.username.errors = [*list(form.username.errors), gettext("该用户名已被使用。")]
        elif user is None and not form.password.data:
            form.password.errors = [*list(form.password.errors), gettext("新建账号须设置初始密码。")]
        elif values["role"] == "liaison" and not values["unit_id"]:
            form.unit_id.errors = [*list(form.unit_id.errors), gettext("联络员账号必须属于一个单位。")]
        else:
            try:
                if user is None:
                    # the admin knows this password: the rules apply and the user changes it at first login
                    user = create_user(form.username.data, values["name"], values["role"], form.password.data,
                                       email=values["email"], unit_id=values["unit_id"],
                                       must_change_password=True, check_rules=True)
                else:
                    update_user(user, {**values, "username": form.username.data}, form.password.data or None)
                db.session.commit()
                flash(gettext("账号已保存。"), "success")
                return redirect(url_for(".user_edit", user_id=user.id))
            except UserError as exc:
                db.session.rollback()
                show_error(form, exc)
    return render_template("admin/user_edit.html", user=user, form=form, **_security_state(user))


def _security_state(user: User | None) -> dict:
    """What the account-security buttons of the user page show."""
    if user is None:
        return {"locked": False, "open_sessions": 0}
    return {"locked": throttle.is_locked(user.username), "open_sessions": len(sessions.open_sessions(user.id))}


ACCOUNT_ACTIONS = ("unlock", "reset-mfa", "end-sessions")


@bp.route("/users/<int:user_id>/security", methods=["POST"])
@admin_required
def user_security(user_id: int):
    """Unlock after too many failed logins, remove a lost second factor, or end every session.

    The same as `flask users unlock|reset-mfa|end-sessions`, from the user's page; each is audited."""
    user = _get(User, user_id)
    action = request.form.get("action", "")
    if action not in ACCOUNT_ACTIONS:
        abort(400)
    actor = audit.actor_of(current_user)
    if action == "unlock":
        was_locked = throttle.unlock(user.username, actor)
        message = gettext("账号已解锁。") if was_locked else gettext("账号未被锁定，失败次数已清零。")
    elif action == "reset-mfa":
        had = user.has_totp
        mfa.turn_off(user, action="auth.mfa_reset", actor=actor)
        ended = sessions.end_user_sessions(user.id, "admin", actor=actor)
        message = (gettext("两步验证已移除，用户下次登录时重新绑定；已结束 %(n)d 个会话。", n=ended) if had
                   else gettext("该账号未绑定两步验证；已结束 %(n)d 个会话。", n=ended))
    else:
        ended = sessions.end_user_sessions(user.id, "admin", actor=actor)
        if not ended:
            audit.record("auth.sessions_ended", "user", user.id, {}, extra={"reason": "admin", "count": 0})
        message = gettext("已结束 %(n)d 个会话。", n=ended)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".user_edit", user_id=user.id))
