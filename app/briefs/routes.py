"""Brief pages: the list and the issue form, one brief's summary, its stored Word document; the good-practice
mark of a report.

Access, in one place: leading-group staff, admins and auditors read briefs; staff and admins issue them and
mark good practices; the auditor only reads; liaisons have no brief pages."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload
from wtforms.fields.choices import SelectChoice

from ..access import office_required, office_view_required
from ..extensions import db
from ..forms_common import plain_id, show_error
from ..plans.models import Plan
from ..timeutil import to_local
from . import services
from .content import BriefError, kind_label
from .docx import MIME
from .forms import IssueForm, PostForm, PracticeMarkForm
from .models import Brief

bp = Blueprint("briefs", __name__, url_prefix="/briefs")


def period_kind_label(kind: str) -> str:
    labels = {"monthly": gettext("月度"), "quarterly": gettext("季度"), "half_year": gettext("半年"),
              "annual": gettext("年度")}
    return labels.get(kind, kind)
PER_PAGE = 50




@bp.app_context_processor
def inject_practice_rows():
    """`practice_rows(periods, reports)` for the item page's good-practice section: (period, report, mark) of each
    submitted or accepted report, in period order; empty for liaisons (no query then)."""

    def practice_rows(periods, reports):
        if not getattr(current_user, "sees_everything", False):
            return []
        return services.practice_rows(periods, reports)

    return {"practice_rows": practice_rows}


def _int_arg(name: str) -> int | None:
    return plain_id(request.args.get(name, ""))


def _index(form: IssueForm, plan: Plan | None, status: int = 200):
    plans = db.session.execute(select(Plan.id, Plan.code, Plan.title).order_by(Plan.issued.desc(), Plan.id)).all()
    page = _int_arg("page") or 1
    rows, total = services.briefs_page(plan.id if plan else None, page, PER_PAGE)
    periods = services.issue_choices(plan) if plan is not None else []
    form.plan.choices = [SelectChoice(p.id, f"{p.code} {p.title}") for p in plans]
    form.period.choices = [SelectChoice(p.id, f"{p.label}（{period_kind_label(p.kind)}）")
                           for p in periods]
    if plan is not None:
        form.plan.data = plan.id
    return render_template("briefs/index.html", form=form, plan=plan, plans=plans, rows=rows, total=total, page=page,
                           per_page=PER_PAGE, may_issue=current_user.is_office, kind_label=kind_label,
                           to_local=to_local), status


@bp.route("")
@office_view_required
def index():
    plan_id = _int_arg("plan")
    plan = db.session.get(Plan, plan_id) if plan_id else None
    if plan_id and plan is None:
        abort(404)
    if plan is None:
        only = db.session.execute(select(Plan).limit(2)).scalars().all()
        plan = only[0] if len(only) == 1 else None
    form = IssueForm()
    kind = request.args.get("kind")
    if kind in ("monthly", "quarterly", "annual"):
        form.kind.data = kind
    return _index(form, plan)


@bp.route("/issue", methods=["POST"])
@office_required
def issue():
    form = IssueForm()
    plan = db.session.get(Plan, form.plan.data) if isinstance(form.plan.data, int) else None
    if form.validate_on_submit():
        try:
            plan, kind, period = services.resolve(form.plan.data, form.kind.data, form.period.data)
            brief = services.issue_brief(plan, kind, period, current_user)
            db.session.commit()
            flash(gettext("已印发%(title)s（第 %(number)s 期）。", title=brief.title, number=brief.number), "success")
            return redirect(url_for(".show", brief_id=brief.id))
        except BriefError as exc:
            db.session.rollback()
            show_error(form, exc)
    return _index(form, plan, 400)


def _brief_or_404(brief_id: int, *, with_document: bool = False) -> Brief:
    options = [joinedload(Brief.plan), joinedload(Brief.issued_by)]
    if not with_document:
        options.append(defer(Brief.docx))
    brief = db.session.execute(select(Brief).where(Brief.id == brief_id).options(*options)).scalar_one_or_none()
    if brief is None:
        abort(404)
    return brief


@bp.route("/<int:brief_id>")
@office_view_required
def show(brief_id: int):
    brief = _brief_or_404(brief_id)
    return render_template("briefs/show.html", brief=brief, c=brief.content, percent=_percent, to_local=to_local)


def _percent(ratio: str | None) -> str:
    from .docx import percent

    return percent(ratio)


@bp.route("/<int:brief_id>.docx")
@office_view_required
def download(brief_id: int):
    """The Word document exactly as issued (never rendered again); the download is recorded."""
    brief = _brief_or_404(brief_id, with_document=True)
    services.record_download(brief, current_user)
    db.session.commit()
    response = send_file(BytesIO(brief.docx), mimetype=MIME, as_attachment=True,
                         download_name=services.download_name(brief), max_age=0)
    response.headers["X-Content-SHA256"] = brief.sha256
    return response


# --------------------------------------------------------------------------- good-practice marks


def _report_or_404(report_id: int):
    report = services.report_for_mark(report_id)
    if report is None:
        abort(404)
    return report


@bp.route("/practice/<int:report_id>", methods=["GET", "POST"])
@office_required
def mark(report_id: int):
    report = _report_or_404(report_id)
    held = services.practice_marks_for([report.id]).get(report.id)
    form = PracticeMarkForm(obj=held) if request.method == "GET" else PracticeMarkForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.mark_practice(report, current_user, form.title.data, form.note.data)
                db.session.commit()
                flash(gettext("已标记为典型经验，将列入相应周期的简报。"), "success")
                return redirect(url_for("reports.item", assignment_id=report.assignment_id) + "#practice")
            except BriefError as exc:
                db.session.rollback()
                show_error(form, exc)
        status = 400
    return render_template("briefs/practice_mark.html", report=report, form=form, held=held,
                           may_mark=services.may_mark(report), unmark_form=PostForm()), status


@bp.route("/practice/<int:report_id>/unmark", methods=["POST"])
@office_required
def unmark(report_id: int):
    report = _report_or_404(report_id)
    form = PostForm()
    if form.validate_on_submit():
        try:
            services.unmark_practice(report, current_user)
            db.session.commit()
            flash(gettext("已取消典型经验标记（已印发的简报不受影响）。"), "success")
            return redirect(url_for("reports.item", assignment_id=report.assignment_id) + "#practice")
        except BriefError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
    mark_form = PracticeMarkForm()
    mark_form.form_errors.extend(form.form_errors)
    return render_template("briefs/practice_mark.html", report=report, form=mark_form, held=None,
                           may_mark=services.may_mark(report), unmark_form=PostForm()), 400
