from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..plans.models import Period, Plan
from ..plans.services import find_plan
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


@bp.route("/overdue")
@office_view_required
def overdue():
    plans = db.session.execute(select(Plan).order_by(Plan.issued.desc())).scalars().all()
    plan_id = _int_arg("plan")
    plan = next((p for p in plans if p.id == plan_id), None) if plan_id else (plans[0] if len(plans) == 1 else None)
    periods = services.past_due_periods(plan.id, today()) if plan else []
    period_arg = request.args.get("period", "")
    period = next((p for p in periods if str(p.id) == period_arg), None)
    current_only = period is None and period_arg != "all"  # default: each plan's current period
    page = _int_arg("page") or 1
    rows, total = services.overdue_list(today(), plan_id=plan.id if plan else None,
                                        period_id=period.id if period else None, current_only=current_only,
                                        page=page)
    return render_template("review/overdue.html", rows=rows, total=total, page=page, plans=plans, plan=plan,
                           periods=periods, period=period, wf=workflows().report, per_page=50,
                           current_only=current_only, cap=services.COUNT_CAP)
