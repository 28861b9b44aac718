"""Reminder pages: the in-app inbox of every user, and the admin's outbox page (failed
notices, re-send, the scheduler's heartbeat, the calendar's years)."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from ..extensions import db
from ..forms_common import page_number
from ..timeutil import to_local, today
from ..workflow import workflows
from . import jobs, services
from .forms import PostForm
from .models import CHANNEL_LABELS, STATUS_LABELS, Notice
from .notices import kind_label as _kind_name

bp = Blueprint("reminders", __name__)

PER_PAGE = 30


@bp.app_context_processor
def inject_inbox_unread():
    """`inbox_unread()` for the navigation bar: one COUNT, only when the page shows it."""

    def inbox_unread() -> int:
        if not getattr(current_user, "is_authenticated", False):
            return 0
        return services.unread_count(current_user)

    return {"inbox_unread": inbox_unread}


def kind_label(kind: str) -> str:
    """A notice kind's name in the user's language (the names are msgids: workflow labels and N_ marks)."""
    return gettext(_kind_name(kind))


def _page() -> int:
    value = request.args.get("page", "")
    return page_number(value)


@bp.route("/inbox")
@login_required
def inbox():
    page = _page()
    entries, total = services.inbox_page(current_user, page, PER_PAGE)
    return render_template("reminders/inbox.html", entries=entries, total=total, page=page, per_page=PER_PAGE,
                           kind_label=kind_label, form=PostForm(), to_local=to_local)


@bp.route("/inbox/<int:entry_id>")
@login_required
def inbox_entry(entry_id: int):
    entry = services.inbox_entry(current_user, entry_id) or abort(404)
    services.mark_read(entry)
    db.session.commit()
    return render_template("reminders/notice.html", entry=entry, notice=entry.notice,
                           items=services.visible_items(current_user, entry.notice), kind_label=kind_label,
                           to_local=to_local)


@bp.route("/inbox/read-all", methods=["POST"])
@login_required
def inbox_read_all():
    if PostForm().validate_on_submit():
        n = services.mark_all_read(current_user)
        db.session.commit()
        flash(gettext("已将 %(n)s 条消息标为已读。", n=n), "success")
    else:
        flash(gettext("表单已过期，请重试。"), "danger")
    return redirect(url_for(".inbox"))


def outbox_view_required(view):
    """The admin acts on the outbox; the auditor reads it."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role not in ("admin", "auditor"):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.route("/admin/outbox")
@outbox_view_required
def outbox():
    status = request.args.get("status") if request.args.get("status") in STATUS_LABELS else None
    if status is None and "status" not in request.args:
        status = "failed"
    page = _page()
    notices, total = services.outbox_page(status, page)
    calendar = workflows().calendar
    return render_template(
        "reminders/outbox.html", notices=notices, total=total, page=page, per_page=50, status=status,
        counts=services.outbox_counts(), statuses=STATUS_LABELS, channels=CHANNEL_LABELS, kind_label=kind_label,
        scheduler=jobs.status(), years=services.calendar_years(today()), calendar_source=calendar.source,
        may_act=current_user.role == "admin", form=PostForm(), to_local=to_local)


@bp.route("/admin/outbox/<int:notice_id>/resend", methods=["POST"])
@login_required
def resend(notice_id: int):
    if current_user.role != "admin":
        abort(403)
    notice = db.session.get(Notice, notice_id) or abort(404)
    if not PostForm().validate_on_submit():
        flash(gettext("表单已过期，请重试。"), "danger")
    else:
        try:
            services.resend(notice, current_user)
            db.session.commit()
            flash(gettext("通知 %(id)s 已重新排队，将在一分钟内发送。", id=notice.id), "success")
        except services.ReminderError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
    return redirect(url_for(".outbox", status=request.args.get("status", "failed")))
