from __future__ import annotations

import csv
import io
from functools import wraps

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..audit import services as audit
from ..extensions import db
from ..plans.models import Assignment, Period
from ..plans.services import find_plan
from ..reminders import services as reminders
from ..reminders.forms import UrgeForm
from ..reports.services import current_period
from ..timeutil import today
from ..workflow import workflows
from . import services

bp = Blueprint("review", __name__, url_prefix="/review")


def office_view_required(view):
    """Leading-group staff, admins and auditors (read-only) see every unit."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.sees_everything:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.route("/plans/<ident>/matrix")
@office_view_required
def matrix(ident: str):
    plan = find_plan(ident) or abort(404)
    periods = db.session.execute(
        select(Period).where(Period.plan_id == plan.id).order_by(Period.start, Period.kind)).scalars().all()
    period_id = _int_arg("period")
    period = next((p for p in periods if p.id == period_id), None) if period_id else current_period(plan, today())
    unit_kind = request.args.get("kind") if request.args.get("kind") in ("department", "league_city", "external") else None
    m = services.plan_matrix(plan, period, today(), unit_kind)
    return render_template("review/matrix.html", m=m, periods=periods, legend=services.CELL_LEGEND,
                           unit_kind=unit_kind)


STEP_FILTERS = services.STEP_FILTERS


def _overdue_filters() -> dict:
    """The plan, period and ladder-step filters of the overdue list, from the query string."""
    return services.overdue_filters(request.args, today())


@bp.route("/overdue", methods=["GET", "POST"])
@office_view_required
def overdue():
    f = _overdue_filters()
    urge_errors: dict[tuple[int, int], list[str]] = {}
    urge_text: dict[tuple[int, int], str] = {}
    if request.method == "POST":
        if not current_user.is_office:
            abort(403)
        form = UrgeForm()
        key = _urge(form)
        if key is None:
            return redirect(url_for(".overdue", **request.args.to_dict()))
        urge_errors[key] = [*form.message.errors, *form.form_errors]
        urge_text[key] = form.message.data or ""
    page = _int_arg("page") or 1
    plan, period = f["plan"], f["period"]
    rows, total = services.overdue_list(today(), plan_id=plan.id if plan else None,
                                        period_id=period.id if period else None, step=f["step"],
                                        current_only=f["current_only"], page=page)
    ladder = workflows().ladder
    shown = {(r.assignment_id, r.period_id) for r in rows}
    other_errors = [e for key, errors in urge_errors.items() if key not in shown for e in errors]
    return render_template("review/overdue.html", rows=rows, total=total, page=page, wf=workflows().report,
                           per_page=50, **f, step_filters={k: ladder.step(k).label for k in STEP_FILTERS
                                                           if k in ladder.keys},
                           may_urge=current_user.is_office, urge_errors=urge_errors, urge_text=urge_text,
                           urge_label=reminders.manual_step().label, cap=services.COUNT_CAP,
                           other_errors=other_errors), (
        400 if urge_errors else 200)


def _urge(form: UrgeForm) -> tuple[int, int] | None:
    """Handle one manual urge; None when done, else the (assignment, period) whose errors to show."""
    try:
        assignment_id, period_id = int(form.assignment_id.data or 0), int(form.period_id.data or 0)
    except ValueError:
        abort(400)
    assignment = db.session.get(Assignment, assignment_id)
    period = db.session.get(Period, period_id)
    if assignment is None or period is None or period.plan_id != assignment.plan_id:
        abort(404)
    if form.validate_on_submit():
        try:
            reminders.manual_urge(current_user, assignment, period, form.message.data, today())
            db.session.commit()
            flash(f"已向{assignment.unit.name}发出催办，通知将在一分钟内发送。", "success")
            return None
        except reminders.ReminderError as exc:
            db.session.rollback()
            form.message.errors = [*form.message.errors, exc.message]
    return (assignment_id, period_id)


@bp.route("/overdue.csv")
@office_view_required
def overdue_csv():
    """The overdue list as CSV (e.g. step=refer: the items to refer to the supervision platform)."""
    f = _overdue_filters()
    plan, period = f["plan"], f["period"]
    rows, _ = services.overdue_list(today(), plan_id=plan.id if plan else None,
                                    period_id=period.id if period else None, step=f["step"],
                                    current_only=f["current_only"], per_page=50000)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["方案", "任务", "任务名称", "单位", "报送周期", "截止日期", "逾期工作日", "已采取措施", "措施日期"])
    for r in rows:
        writer.writerow([r.plan_slug, r.task_number, r.task_title, r.unit_name, r.period_label, r.due.isoformat(),
                         r.days_late, r.step_label or "", r.step_day.isoformat() if r.step_day else ""])
    name = f"overdue-{f['step'] or 'all'}-{today().isoformat()}.csv"
    audit.record("review.export", "export", None, {}, extra={  # an export is a security event
        "what": "overdue.csv", "rows": len(rows), "plan": plan.slug if plan else None,
        "period": period.label if period else None, "step": f["step"], "current_only": f["current_only"]})
    db.session.commit()
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
