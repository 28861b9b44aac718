"""Case pages: the list, opening a case on figures, the case with its questions, documents, linked audit
events and findings, attachment downloads and the evidence package."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..forms_common import page_number, plain_id, show_error
from ..integrity.models import Flag
from ..integrity.uploads import read_upload
from . import services
from .forms import AnswerForm, AskForm, AttachmentForm, CaseOpenForm, CloseForm, LinkForm
from .models import CASE_STATE_LABELS, CaseAttachment, CaseRequest

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _ids(name: str) -> list[int]:
    return [i for v in request.values.getlist(name) if (i := plain_id(v)) is not None][:200]


@bp.route("/")
@login_required
def index():
    if not (current_user.sees_everything or (current_user.role == "liaison" and current_user.unit_id)):
        abort(403)
    state = request.args.get("state") or None
    page = page_number(request.args.get("page"))
    per_page = current_app.config["PER_PAGE"]
    rows, total = services.list_cases(current_user, state, page, per_page)
    return render_template("cases/index.html", rows=rows, total=total, page=page, per_page=per_page, state=state,
                           states=CASE_STATE_LABELS)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Open a case on the figures (?figure=ID) and flags (?flag=ID) named; more flagged figures of the
    same unit are offered beside them."""
    if not current_user.is_office:
        abort(403)
    form = CaseOpenForm()
    figure_ids, flag_ids = _ids("figure"), _ids("flag")
    if form.validate_on_submit():
        try:
            case = services.open_case(current_user, form.title.data, form.basis.data, figure_ids, flag_ids)
            db.session.commit()
            flash(gettext("已立案。"), "success")
            return redirect(url_for(".show", case_id=case.id))
        except services.CaseError as exc:
            db.session.rollback()
            show_error(form, exc)
    figures, flag_of = services.candidates(figure_ids, flag_ids)
    others: list[Flag] = []
    if figures:
        unit_id = figures[0].report.assignment.unit_id
        chosen = {f.id for f in figures}
        others = [f for f in db.session.execute(
            select(Flag).where(Flag.unit_id == unit_id, Flag.state.in_(("open", "explained", "confirmed")))
            .order_by(Flag.id.desc()).limit(100)).scalars() if f.figure_id not in chosen]
        if request.method == "GET" and not form.title.data:
            form.title.data = gettext("%(unit)s %(indicator)s数据核查", unit=figures[0].report.assignment.unit.name,
                                      indicator=figures[0].indicator.name)
    return render_template("cases/new.html", form=form, figures=figures, flag_of=flag_of, others=others)


@bp.route("/<int:case_id>", methods=["GET", "POST"])
@login_required
def show(case_id: int):
    case = services.get_case_or_404(case_id, current_user)
    # Read an upload with its size limit before anything parses the body.
    upload, refused = read_upload(services.attachment_max_bytes(), "attach-file")
    formdata: dict = {"formdata": None} if refused else {}
    forms = {"ask": AskForm(prefix="ask", **formdata), "answer": AnswerForm(prefix="answer", **formdata),
             "link": LinkForm(prefix="link", **formdata), "close": CloseForm(prefix="close", **formdata),
             "attach": AttachmentForm(prefix="attach", **formdata)}
    if refused:
        if not (current_user.is_office or services.is_unit_user(current_user, case)):
            abort(403)
        forms["attach"].file.errors = [gettext("文件过大（上限 %(n)s MB）。",
                                               n=services.attachment_max_bytes() // 1024 // 1024)]
    elif request.method == "POST":
        result = _act(case, request.form.get("action"), forms, upload)
        if result is not None:
            return result
        case = services.get_case_or_404(case_id, current_user)
    if request.method == "GET" or refused or not forms["close"].version.data:
        forms["close"].version.data = case.version
    services.load_case(case)
    return render_template("cases/show.html", case=case, forms=forms, events=services.related_events(case),
                           is_unit=services.is_unit_user(current_user, case),
                           may_attach=services.may_attach(current_user, case),
                           max_mb=services.attachment_max_bytes() // 1024 // 1024)


def _act(case, action: str | None, forms: dict, upload: tuple[str, bytes] | None) -> Response | None:
    """Handle one of the case page's forms; a redirect when done, None to show the page with errors."""
    office = current_user.is_office
    unit = services.is_unit_user(current_user, case)
    allowed = {"ask": office, "link": office, "close": office, "answer": unit, "attach": office or unit}
    if action not in allowed:
        abort(400)
    if not allowed[action]:
        abort(403)
    form = forms[action]
    if not form.validate_on_submit():
        return None
    try:
        if action == "ask":
            services.ask(case, current_user, form.question.data)
            message = gettext("已要求单位说明。")
        elif action == "answer":
            item = db.session.get(CaseRequest, request.form.get("request_id", type=int) or 0)
            if item is None or item.case_id != case.id:
                abort(404)
            services.answer(case, item, current_user, form.answer.data)
            message = gettext("答复已提交。")
        elif action == "link":
            services.link_event(case, current_user, form.seq.data, form.note.data)
            message = gettext("已关联审计日志。")
        elif action == "close":
            version = form.version.data
            services.close(case, current_user, form.findings.data, form.outcome.data,
                           plain_id(version))
            message = gettext("案件已办结。")
        else:
            if upload is None:
                raise services.CaseError(gettext("请选择要上传的文件。"), "file")
            services.attach(case, current_user, upload[0], upload[1], form.description.data)
            message = gettext("附件已上传。")
        db.session.commit()
    except (services.CaseError, StaleDataError) as exc:
        db.session.rollback()
        if isinstance(exc, StaleDataError):
            exc = services.CaseConflict(gettext("该案件已被他人修改，请刷新页面后再操作。"))
        show_error(form, exc)
        return None
    flash(message, "success")
    return redirect(url_for(".show", case_id=case.id))


@bp.route("/<int:case_id>/attachments/<int:attachment_id>")
@login_required
def attachment(case_id: int, attachment_id: int):
    """A case document, always as a download (never shown inline), under the name it was uploaded with."""
    case = services.get_case_or_404(case_id, current_user)
    item = db.session.get(CaseAttachment, attachment_id)
    if item is None or item.case_id != case.id:
        abort(404)
    path = services.attachment_path(item)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=item.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/<int:case_id>/evidence.zip")
@login_required
def evidence(case_id: int):
    """The evidence package (office staff and auditors); the export is audited."""
    case = services.get_case_or_404(case_id, current_user)
    if not current_user.sees_everything:
        abort(403)
    data, name = services.evidence_package(case, current_user)
    db.session.commit()
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f"attachment; filename={name}",
                             "X-Content-Type-Options": "nosniff"})
