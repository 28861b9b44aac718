"""Figure pages: restatements of accepted reports (the unit files, the office decides) and the bulk load."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..forms_common import page_number, plain_id, show_error
from ..integrity.uploads import read_upload
from ..plans.access import get_assignment_or_404
from . import services
from .forms import FigureImportForm, RestatementDecisionForm, restatement_form_class
from .importing import ImportFileError, import_figures, max_bytes
from .models import Figure, FigureRestatement

bp = Blueprint("figures", __name__)


def _figure_or_404(figure_id: int) -> Figure:
    """A figure the user may see; another unit's answers 404 like a missing one."""
    figure = db.session.get(Figure, figure_id)
    if figure is None:
        abort(404)
    get_assignment_or_404(figure.report.assignment_id, current_user)
    return figure


def _report_url(figure: Figure) -> str:
    report = figure.report
    return url_for("reports.report_form", assignment_id=report.assignment_id, period_id=report.period_id)


@bp.route("/figures/<int:figure_id>/restate", methods=["GET", "POST"])
@login_required
def restate(figure_id: int):
    """A unit asks to correct a figure of an accepted report (更正申请)."""
    figure = _figure_or_404(figure_id)
    report = figure.report
    if not services.may_request_restatement(current_user, report.assignment):
        abort(403)
    form = restatement_form_class(figure.indicator, current_app.config["FIGURE_MAX_ABS"])()
    pending = services.pending_restatement(figure)
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.request_restatement(figure, current_user, form.value.decimal, form.reason.data)
            db.session.commit()
            flash(gettext("更正申请已提交，领导小组办公室审核通过前仍以原数值为准。"), "success")
            return redirect(_report_url(figure) + f"#figure-{figure.id}")
        except services.ReportError as exc:
            db.session.rollback()
            show_error(form, exc)
            figure = db.session.get(Figure, figure_id)
    history = services.figure_histories(figure.report).get(figure.indicator_id)
    return render_template("reports/restate.html", figure=figure, report=figure.report, form=form,
                           pending=pending, history=history, locked=services.is_locked(figure.report))


@bp.route("/restatements")
@login_required
def restatements():
    """Pending restatements, for the leading-group office (auditors read)."""
    if not current_user.sees_everything:
        abort(403)
    page = page_number(request.args.get("page"))
    rows, total = services.pending_restatements(page, current_app.config["PER_PAGE"])
    return render_template("reports/restatements.html", rows=rows, total=total, page=page,
                           per_page=current_app.config["PER_PAGE"], decision_form=RestatementDecisionForm())


@bp.route("/restatements/<int:restatement_id>/<decision>", methods=["POST"])
@login_required
def decide_restatement(restatement_id: int, decision: str):
    restatement = db.session.get(FigureRestatement, restatement_id)
    if restatement is None or decision not in ("approve", "reject"):
        abort(404)
    figure = _figure_or_404(restatement.figure_id)
    if not current_user.is_office:
        abort(403)
    form = RestatementDecisionForm()
    if not form.validate_on_submit():
        flash("; ".join(e for errors in form.errors.values() for e in errors) or gettext("表单已过期，请重试。"), "danger")
    else:
        try:
            version = plain_id(form.version.data)
            services.decide_restatement(restatement, current_user, decision, form.note.data, version)
            db.session.commit()
            flash(gettext("更正申请已批准，数值已更新。") if decision == "approve" else gettext("更正申请已驳回。"), "success")
        except (services.ReportError, StaleDataError) as exc:
            db.session.rollback()
            flash(getattr(exc, "message", None) or gettext("该更正申请已被他人处理，请刷新页面。"), "danger")
    back = request.form.get("next")
    if back == "list":
        return redirect(url_for(".restatements"))
    return redirect(_report_url(figure) + f"#figure-{figure.id}")


@bp.route("/figures/import", methods=["GET", "POST"])
@login_required
def import_page():
    """Upload a CSV or Excel file of figures: staff for any unit, a liaison for their own unit."""
    if not (current_user.is_office or (current_user.role == "liaison" and current_user.unit_id)):
        abort(403)
    limit = max_bytes()
    too_big = gettext("文件过大（上限 %(n)s MB）。", n=limit // 1024 // 1024)
    errors: list[str] = []
    upload, refused = read_upload(limit, "file")
    form = FigureImportForm(formdata=None) if refused else FigureImportForm()
    if refused:
        form.file.errors = [too_big]
    elif request.method == "POST" and form.validate_on_submit():
        if upload is None:
            form.file.errors = [gettext("请选择要上传的文件。")]
        else:
            name, data = upload
            try:
                result = import_figures(data, current_user, filename=name)
            except ImportFileError as exc:
                db.session.rollback()
                form.file.errors = [exc.message]
            else:
                if result.ok:
                    db.session.commit()
                    flash(gettext("导入完成。") + result.summary_zh(), "success")
                    return redirect(url_for(".import_page"))
                errors = result.errors
    return render_template("reports/import.html", form=form, errors=errors, max_mb=limit // 1024 // 1024)
