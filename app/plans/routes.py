from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from ..access import office_required
from ..extensions import db
from ..plans.models import Assignment, Plan
from . import drafts
from .draft_models import PlanDraft
from .forms import DraftForm, UploadForm, add_missing_confirm_rows, attach_problems, form_data
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


# --- drafting a plan from the issued document (staff and admins) -----------------------------


def _own_open_draft(token: str) -> PlanDraft:
    draft = drafts.get_draft(token, current_user)
    if draft is None or draft.status == "discarded":
        abort(404)
    return draft


@bp.route("/drafts/new", methods=["GET", "POST"])
@office_required
def draft_new():
    status = 200
    if request.method == "POST" and (request.content_length or 0) > drafts.MAX_UPLOAD_BYTES + 64 * 1024:
        form = UploadForm(formdata=None)
        form.file.errors = [_("文件过大：上限为 %(n)s MB。", n=drafts.MAX_UPLOAD_BYTES // (1024 * 1024))]
        status = 413
    else:
        request.max_content_length = drafts.MAX_UPLOAD_BYTES + 64 * 1024
        try:
            form = UploadForm()
            submitted = form.validate_on_submit()
        except RequestEntityTooLarge:
            form = UploadForm(formdata=None)
            form.file.errors = [_("文件过大：上限为 %(n)s MB。", n=drafts.MAX_UPLOAD_BYTES // (1024 * 1024))]
            submitted, status = False, 413
        if submitted:
            upload = form.file.data
            data = upload.stream.read(drafts.MAX_UPLOAD_BYTES + 1)
            try:
                draft = drafts.create_draft(current_user, upload.filename, data)
            except drafts.DraftInputError as exc:
                db.session.rollback()
                form.file.errors = [str(exc)]
                status = 422
            else:
                flash(_("已从“%(name)s”生成方案草稿，请对照原文逐项核对。", name=draft.filename), "success")
                return redirect(url_for("plans.draft_edit", token=draft.token))
        elif request.method == "POST" and status == 200:
            status = 422
    return render_template("plans/draft_new.html", form=form, drafts=drafts.open_drafts(current_user),
                           max_mb=drafts.MAX_UPLOAD_BYTES // (1024 * 1024)), status


@bp.route("/drafts/<token>", methods=["GET", "POST"])
@office_required
def draft_edit(token: str):
    draft = _own_open_draft(token)
    if draft.status == "imported":
        flash(_("此草稿已导入。"), "success")
        return redirect(url_for("plans.show", ident=draft.plan.slug))
    data = drafts.draft_data(draft)
    known = drafts.known_unit_names()
    status = 200
    if request.method == "POST":
        form = DraftForm()
        form.validate()
        try:
            if form.errors:
                raise drafts.DraftProblems([], drafts.unconfirmed_names(data, set(known)))
            if request.form.get("action") == "import":
                plan = drafts.import_draft(draft, form.to_edits())
                flash(_("已导入方案 %(code)s：%(n)s 项任务。", code=plan.code, n=len(plan.tasks)), "success")
                return redirect(url_for("plans.show", ident=plan.slug))
            drafts.save_draft(draft, form.to_edits())
            flash(_("草稿已保存。"), "success")
            return redirect(url_for("plans.draft_edit", token=draft.token))
        except drafts.DraftProblems as exc:
            db.session.rollback()
            attach_problems(form, exc.problems)
            add_missing_confirm_rows(form, exc.unconfirmed)
            unconfirmed = exc.unconfirmed
            form.form_errors.insert(0, _("有 %(n)s 处需要修改，未保存，也未导入。", n=max(1, len(exc.problems))))
            status = 422
    else:
        unconfirmed = drafts.unconfirmed_names(data, set(known))
        form = DraftForm(data=form_data(data, unconfirmed, list(draft.confirmed_new or [])))
    spans = {int(n): tuple(span) for n, span in draft.source_spans.items()}
    tasks = data.get("tasks") or []
    task_unconfirmed = [[n for n in drafts.unconfirmed_names({"tasks": [t]}, set(known)) if n in unconfirmed]
                        for t in tasks]
    return render_template("plans/draft_edit.html", draft=draft, data=data, form=form, tasks=tasks, spans=spans,
                           lines=drafts.source_view(draft), known_units=known, unconfirmed=unconfirmed,
                           task_unconfirmed=task_unconfirmed), status


@bp.route("/drafts/<token>/plan.yaml")
@office_required
def draft_yaml(token: str):
    draft = _own_open_draft(token)
    response = make_response(draft.yaml_text)
    response.headers["Content-Type"] = "text/yaml; charset=utf-8"
    response.headers["Content-Disposition"] = "attachment; filename=plan-draft.yaml"
    return response


@bp.route("/drafts/<token>/discard", methods=["POST"])
@office_required
def draft_discard(token: str):
    draft = _own_open_draft(token)
    if draft.status != "open":
        abort(404)
    drafts.discard_draft(draft)
    flash(_("草稿已放弃。"), "success")
    return redirect(url_for("plans.draft_new"))
