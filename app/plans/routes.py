from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import login_required
from sqlalchemy import func, select

from ..extensions import db
from ..plans.models import Assignment, Plan
from .services import find_plan, plan_as_dict

bp = Blueprint("plans", __name__, url_prefix="/plans")


@bp.route("/")
@login_required
def index():
    plans = db.session.execute(select(Plan).order_by(Plan.issued.desc())).scalars().all()
    counts = dict(db.session.execute(
        select(Assignment.plan_id, func.count()).where(Assignment.active).group_by(Assignment.plan_id)).all())
    return render_template("plans/index.html", plans=plans, counts=counts)


@bp.route("/<ident>")
@login_required
def show(ident: str):
    plan = find_plan(ident) or abort(404)
    return render_template("plans/show.html", plan=plan, data=plan_as_dict(plan))
