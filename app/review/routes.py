from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..access import office_view_required
from ..audit import services as audit
from ..extensions import db
from ..forms_common import plain_id
from ..plans.models import Assignment, Period, Plan
from ..plans.services import find_plan
from ..reminders import services as reminders
from ..reminders.forms import UrgeForm
from ..reports.services import current_period
from ..timeutil import today
from ..workflow import workflows
from . import queue as review_queue
from . import services
from .forms import QueueActionForm

bp = Blueprint("review", __name__, url_prefix="/review")



def _int_arg(name: str) -> int | None:
    """A positive id or page number from the query string; None for anything else (a superscript
    digit, or more digits than an id has, is no number here rather than an error)."""
    return plain_id(request.args.get(name, ""))


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
    legend = {k: _(v) for k, v in services.CELL_LEGEND.items()}
    return render_template("review/matrix.html", m=m, periods=periods, legend=legend, unit_kind=unit_kind)


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
                           export_links=_export_links(plan, period, f["current_only"], f["step"]),
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
            flash(_("已向%(unit)s发出催办，通知将在一分钟内发送。", unit=assignment.unit.name), "success")
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
    rows, _total = services.overdue_list(today(), plan_id=plan.id if plan else None,
                                    period_id=period.id if period else None, step=f["step"],
                                    current_only=f["current_only"], per_page=50000)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("方案"), _("任务"), _("任务名称"), _("单位"), _("报送周期"), _("截止日期"), _("逾期工作日"),
                     _("已采取措施"), _("措施日期")])
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


def _export_links(plan: Plan | None, period: Period | None, current_only: bool, step: str | None) -> list:
    """(label, url) of the overdue list's Excel and CSV exports, once the exports area serves them."""
    if "exports.overdue" not in current_app.view_functions:
        return []
    args = {"plan": plan.id if plan else "", "period": period.id if period else ("" if current_only else "all"),
            "step": step or ""}
    return [(_("导出 Excel"), url_for("exports.overdue", fmt="xlsx", **args)),
            (_("导出 CSV（逾期清单）"), url_for("exports.overdue", fmt="csv", **args))]


# --------------------------------------------------------------------------- the review queue


def _queue_filters() -> dict:
    """The queue's filters from the query string: plan, period (current / all / one), reason,
    unit kind, step reached."""
    plans = db.session.execute(select(Plan).order_by(Plan.issued.desc(), Plan.id)).scalars().all()
    plan_id = _int_arg("plan")
    plan = next((p for p in plans if p.id == plan_id), None) if plan_id else (plans[0] if len(plans) == 1 else None)
    periods = db.session.execute(
        select(Period).where(Period.plan_id == plan.id, Period.start <= today()).order_by(Period.due.desc(), Period.id)
    ).scalars().all() if plan else []
    period_arg = request.args.get("period", "")
    period = next((p for p in periods if str(p.id) == period_arg), None)
    scope = "period" if period else ("all" if period_arg == "all" else "current")
    reason = request.args.get("reason") if request.args.get("reason") in review_queue.REASONS else None
    kind = request.args.get("kind") if request.args.get("kind") in review_queue.UNIT_KINDS else None
    step = request.args.get("step") if request.args.get("step") in workflows().ladder.keys else None
    return {"plans": plans, "plan": plan, "periods": periods, "period": period, "scope": scope, "reason": reason,
            "kind": kind, "step": step}


def _queue_args(f: dict, **more) -> dict:
    """The query string that shows the same filters (for links and the redirect after an action)."""
    args = {"plan": f["plan"].id if f["plan"] else None,
            "period": f["period"].id if f["period"] else ("all" if f["scope"] == "all" else None),
            "reason": f["reason"], "kind": f["kind"], "step": f["step"], **more}
    return {k: v for k, v in args.items() if v not in (None, "")}


@bp.route("/queue", methods=["GET", "POST"])
@office_view_required
def queue():
    """The office's review queue: overdue, escalated and returned items, with bulk actions."""
    f = _queue_filters()
    form = QueueActionForm()
    selected: list[str] = []
    item_errors: list[str] = []
    status = 200
    if request.method == "POST":
        if not current_user.is_office:
            abort(403)
        form.validate()  # parses the date; bulk_act decides what each action needs (CSRF: CSRFProtect)
        selected = request.form.getlist("item")
        try:
            done = review_queue.bulk_act(
                current_user, form.action.data, selected, today=today(), message=form.message.data,
                due=form.due.date, due_text=form.due.data, reason=form.reason.data,
                plan_id=f["plan"].id if f["plan"] and request.args.get("plan") else None)
            db.session.commit()
            flash(_done_message(done), "success")
            return redirect(url_for(".queue", **_queue_args(f, page=_int_arg("page"))))
        except review_queue.QueueActionError as exc:
            db.session.rollback()
            for name in ("action", "message", "due", "reason"):
                form[name].errors = exc.errors.get(name, [])
            item_errors = exc.errors.get("items", [])
            status = 400
    page = _int_arg("page") or 1
    plan, period = f["plan"], f["period"]
    period_ids = ([period.id] if period else None if f["scope"] == "all"
                  else review_queue.current_period_ids(today(), plan.id if plan else None))
    result = review_queue.queue_page(today(), period_ids=period_ids, plan_id=plan.id if plan else None,
                                     unit_kind=f["kind"], reason=f["reason"], step=f["step"], page=page)
    ladder = workflows().ladder
    overdue_period = period.id if period else ("all" if f["scope"] == "all" else "")
    return render_template(
        "review/queue.html", q=result, **f, wf=workflows().report, form=form, selected=set(selected),
        item_errors=item_errors, may_act=current_user.is_office, cap=review_queue.COUNT_CAP,
        reasons=review_queue.REASONS, unit_kinds=review_queue.UNIT_KINDS,
        step_filters={s.key: s.label for s in ladder}, args=_queue_args(f),
        export_links=_export_links(plan, period, f["scope"] == "current",
                                   f["step"] if f["step"] in STEP_FILTERS else None),
        overdue_url=url_for(".overdue", plan=plan.id if plan else "", period=overdue_period,
                            step=f["step"] if f["step"] in STEP_FILTERS else ""),
    ), status


def _done_message(done: review_queue.BulkResult) -> str:
    if done.action == "urge":
        return _("已向 %(units)s 个单位的 %(n)s 个事项发出催办，通知将在一分钟内发送。", units=len(done.units), n=done.count)
    if done.action == "extend":
        return _("已将 %(n)s 个事项的截止日期顺延至 %(due)s。", n=done.count, due=done.due.isoformat() if done.due else "")
    return _("已将 %(n)s 个事项列入移交监督平台清单。", n=done.count)
