"""Routes of the dashboard area: the plan dashboard, its JSON and the items behind each number.

Leading-group staff, admins and auditors (``sees_everything``) read it; it changes nothing."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from ..access import office_view_required
from ..extensions import db
from ..plans.models import COMPARATOR_LABELS, Plan
from ..plans.services import find_plan
from ..timeutil import today
from ..workflow import workflows
from . import services

bp = Blueprint("dashboard", __name__)


def number(value: Decimal | float | int | None, digits: int = 2) -> str:
    """At most `digits` decimals, no trailing zeros; "—" for no value."""
    if value is None:
        return "—"
    text = f"{float(value):,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


@bp.context_processor
def _helpers():
    return {"num": number, "pct": percent, "comparators": COMPARATOR_LABELS}


@bp.route("/dashboard")
@office_view_required
def index():
    plans = db.session.execute(select(Plan).order_by(Plan.issued.desc(), Plan.id)).scalars().all()
    if len(plans) == 1:
        return redirect(url_for(".plan", ident=plans[0].slug))
    return render_template("dashboard/index.html", plans=plans)


def _build(ident: str, *, trend: bool = True) -> services.Dashboard:
    plan = find_plan(ident) or abort(404)
    return services.build(plan, request.args, today(), trend=trend)


@bp.route("/plans/<ident>/dashboard")
@office_view_required
def plan(ident: str):
    d = _build(ident)
    # Labels translated and links built once, not once per matrix cell: a plan of hundreds of units
    # draws thousands of them.
    cell_labels = {k: gettext(v) for k, v in services.CELL_LEGEND.items()}
    light_labels = {k: gettext(v) for k, v in services.COLOURS.items()}
    args = d.filters.as_args()
    items_base = url_for(".items", ident=d.plan.slug)

    def items_url(what: str, extra: dict | None = None) -> str:
        return f"{items_base}?{urlencode({**args, **(extra or {}), 'what': what})}"

    return render_template("dashboard/plan.html", d=d, wf=workflows().report, cell_labels=cell_labels,
                           light_labels=light_labels, colours=services.COLOURS, kinds=services.UNIT_KIND_LABELS,
                           args=args, items_url=items_url,
                           item_base=url_for("reports.item", assignment_id=0).removesuffix("0"))


@bp.route("/plans/<ident>/dashboard.json")
@office_view_required
def data(ident: str):
    return jsonify(services.as_dict(_build(ident)))


@bp.route("/plans/<ident>/dashboard/items")
@office_view_required
def items(ident: str):
    d = _build(ident, trend=False)
    what = request.args.get("what") or "all"
    indicator_id = services.as_id(request.args.get("indicator"))
    page = {"d": d, "what": what, "wf": workflows().report, "what_labels": services.WHAT_LABELS,
            "colours": services.COLOURS, "kinds": services.UNIT_KIND_LABELS, "args": d.filters.as_args()}
    try:
        if what == "indicator" and indicator_id is None:
            raise services.FilterError(gettext("请指定指标（indicator=编号）。"))
        rows = services.items(d, what, indicator_id)
    except services.FilterError as exc:
        return render_template("dashboard/items.html", rows=[], error=exc.args[0], panel=None, **page), 400
    panel = next((p for p in d.indicators if p.indicator.id == indicator_id), None) if what == "indicator" else None
    return render_template("dashboard/items.html", rows=rows, error=None, panel=panel, **page)
