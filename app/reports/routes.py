"""Liaison pages: my items, one item, the report form; and the office's decisions."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from wtforms.fields.choices import SelectChoice

from ..extensions import db
from ..forms_common import show_error
from ..i18n import N_
from ..plans.access import get_assignment_or_404, may_edit_assignment, scope_assignments
from ..plans.models import Assignment, Period, Task
from ..reminders import services as reminders
from ..reminders.forms import DueOverrideForm
from ..timeutil import today
from ..workflow import workflows
from . import services
from .forms import AssignmentForm, DecisionForm, RestatementDecisionForm, SubmitForm, report_form_class
from .models import Report

bp = Blueprint("reports", __name__)


def _version(form_field) -> int | None:
    try:
        return int(form_field.data) if form_field.data not in (None, "") else None
    except (TypeError, ValueError):
        return -1


@bp.route("/items")
@login_required
def my_items():
    query = (
        select(Assignment)
        .options(joinedload(Assignment.task).joinedload(Task.plan), joinedload(Assignment.unit))
        .join(Task, Task.id == Assignment.task_id)
        .where(Assignment.active)
        .order_by(Assignment.plan_id, Task.number, Assignment.position)
    )
    query = scope_assignments(query, current_user)
    if current_user.sees_everything:
        query = query.limit(current_app.config["PER_PAGE"])
    items = db.session.execute(query).unique().scalars().all()
    states = services.current_report_states(items, today())
    return render_template("reports/my_items.html", items=items, states=states, wf=workflows().report)


@bp.route("/items/<int:assignment_id>", methods=["GET", "POST"])
@login_required
def item(assignment_id: int):
    assignment = get_assignment_or_404(assignment_id, current_user)
    form = AssignmentForm(obj=assignment)
    periods = db.session.execute(
        select(Period).where(Period.plan_id == assignment.plan_id).order_by(Period.start, Period.kind)
    ).scalars().all()
    due_form = DueOverrideForm(prefix="due") if current_user.is_office else None
    if due_form is not None:
        due_form.period_id.choices = [SelectChoice(p.id, f"{p.label}（{gettext(_KIND_LABELS[p.kind]) if p.kind in _KIND_LABELS else p.kind}）")
                                      for p in periods]
    if request.method == "POST" and "due-action" in request.form:
        if due_form is None:
            abort(403)
        if _set_due(assignment, periods, due_form):
            return redirect(url_for(".item", assignment_id=assignment.id) + "#deadlines")
    elif request.method == "POST":
        if not may_edit_assignment(current_user, assignment):
            abort(403)
        if form.validate_on_submit():
            try:
                services.update_assignment(assignment, current_user, form.status.data, form.progress.data,
                                           form.status_note.data, _version(form.version))
                db.session.commit()
                flash(gettext("工作状态已保存。"), "success")
                return redirect(url_for(".item", assignment_id=assignment_id))
            except (services.ReportError, StaleDataError) as exc:
                db.session.rollback()
                flash(getattr(exc, "message", None) or gettext("该责任事项已被他人修改，请刷新页面后再保存。"), "danger")
    form.version.data = assignment.version
    reports = {r.period_id: r for r in db.session.execute(
        select(Report).where(Report.assignment_id == assignment.id)).scalars()}
    current = services.current_among(periods, today())  # the plan's periods are loaded above
    indicators = services.indicators_for(assignment)
    statuses = reminders.item_status(assignment, periods, reports, indicators, today())
    submitted = workflows().report.submitted_states()
    return render_template(
        "reports/item.html", a=assignment, form=form, periods=periods, reports=reports, current=current,
        may_edit=may_edit_assignment(current_user, assignment), wf=workflows().report,
        indicators=indicators, statuses=statuses, due_form=due_form,
        late={p.id for p in periods if statuses[p.id].due.due < today()
              and (reports.get(p.id) is None or reports[p.id].state not in submitted)},
    )


_KIND_LABELS = {"monthly": "月度", "quarterly": "季度", "half_year": "半年", "annual": "年度"}  # via gettext


def _set_due(assignment: Assignment, periods: list[Period], form: DueOverrideForm) -> bool:
    """Handle the office's due-date form; True when saved (errors stay beside their fields)."""
    if not form.validate_on_submit():
        return False
    period = next(p for p in periods if p.id == form.period_id.data)
    target = assignment if form.scope.data == "assignment" else None
    try:
        if form.action.data == "clear":
            reminders.clear_due_override(current_user, period, target, form.reason.data)
            flash(gettext("已恢复按规则计算的截止日期。"), "success")
        else:
            reminders.set_due_override(current_user, period, target, form.due.date, form.reason.data)
            flash(gettext("截止日期已调整。"), "success")
        db.session.commit()
        return True
    except reminders.ReminderError as exc:
        db.session.rollback()
        show_error(form, exc)
        return False


def _period_or_404(assignment: Assignment, period_id: int) -> Period:
    period = db.session.get(Period, period_id)
    if period is None or period.plan_id != assignment.plan_id:
        abort(404)
    return period


@bp.route("/items/<int:assignment_id>/reports/<int:period_id>", methods=["GET", "POST"])
@login_required
def report_form(assignment_id: int, period_id: int):
    assignment = get_assignment_or_404(assignment_id, current_user)
    period = _period_or_404(assignment, period_id)
    report = services.get_report(assignment, period)
    indicators = services.indicators_for(assignment)
    may_edit = services.may_edit_report(current_user, assignment, report)
    form_cls = report_form_class(indicators, current_app.config["FIGURE_MAX_ABS"])
    form = form_cls(obj=report) if report else form_cls()
    if request.method == "POST":
        if not may_edit:
            abort(403)
        if form.validate_on_submit():
            figures = {ind.id: getattr(form, f"figure_{ind.id}").decimal for ind in indicators}
            data = services.ReportInput(form.progress_text.data or "", form.problems_text.data or "",
                                        form.next_steps_text.data or "", figures, form.revision_reason.data)
            try:
                report = services.save_report(assignment, period, current_user, data, _version(form.version))
                if request.form.get("action") == "submit":
                    services.transition(report, "submit", current_user)
                    db.session.commit()
                    flash(gettext("报告已报送，等待领导小组办公室审核。"), "success")
                    return redirect(url_for(".item", assignment_id=assignment_id))  # ids: no reload after commit
                db.session.commit()
                flash(gettext("草稿已保存。"), "success")
                return redirect(url_for(".report_form", assignment_id=assignment_id, period_id=period_id))
            except (StaleDataError, IntegrityError):
                db.session.rollback()
                form.form_errors.append(gettext("该报告已被他人修改，为避免覆盖，本次保存未生效。请刷新页面后再修改。"))
            except services.ReportError as exc:
                db.session.rollback()
                show_error(form, exc)
            report = services.get_report(assignment, period)
        # keep what the user typed; the version stays the one the form was loaded with
    elif report:
        for fig in report.figures:
            field = getattr(form, f"figure_{fig.indicator_id}", None)
            if field is not None and fig.value is not None:
                field.data = f"{fig.value.normalize():f}"
    if request.method == "GET" or not form.version.data:
        form.version.data = report.version if report else 0
    from ..integrity.services import flags_for_report

    return render_template(
        "reports/report_form.html", a=assignment, period=period, report=report, form=form,
        indicators=indicators, may_edit=may_edit, wf=workflows().report,
        decision_form=DecisionForm(), may_decide=current_user.is_office and report is not None,
        histories=services.figure_histories(report), locked=report is not None and services.is_locked(report),
        flags=flags_for_report(assignment.unit_id, period.id, [i.id for i in indicators]),
        may_restate=report is not None and services.may_request_restatement(current_user, assignment),
        restatement_form=RestatementDecisionForm(),
    )


@bp.route("/reports/<int:report_id>/<action>", methods=["POST"])
@login_required
def decide(report_id: int, action: str):
    """Accept or return a submitted report (office), or submit a saved one (unit)."""
    report = db.session.get(Report, report_id)
    if report is None:
        abort(404)
    assignment = get_assignment_or_404(report.assignment_id, current_user)
    if action not in workflows().report.transitions:
        abort(404)
    if services.actor_kind(current_user, assignment) is None:
        abort(403)  # auditors read; they never move a report
    form = DecisionForm() if action != "submit" else SubmitForm()
    if not form.validate_on_submit():
        flash(gettext("表单已过期或不完整，请重试。"), "danger")
    else:
        try:
            services.transition(report, action, current_user,
                                reason=getattr(form, "reason", None) and form.reason.data,
                                expected_version=_version(form.version))
            db.session.commit()
            done = {"accept": N_("报告已审核通过。"), "return": N_("报告已退回，联络员将看到退回原因。"),
                    "submit": N_("报告已报送。")}.get(action, N_("操作已完成。"))
            flash(gettext(done), "success")
        except (services.ReportError, StaleDataError) as exc:
            db.session.rollback()
            flash(getattr(exc, "message", None) or gettext("该报告已被他人修改，请刷新页面后再操作。"), "danger")
    return redirect(url_for(".report_form", assignment_id=assignment.id, period_id=report.period_id))
