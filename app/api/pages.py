"""Pages for API tokens: a user's own (/account/tokens) and, for admins, everybody's (/admin/tokens)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required

from ..extensions import db
from ..forms_common import page_number, show_error
from . import services
from .forms import RevokeForm, TokenForm

bp = Blueprint("tokens", __name__)


@bp.app_context_processor
def _helpers() -> dict:
    return {"token_time": _token_time}


def _token_time(moment) -> str:
    """A stored (naive UTC) time in the configured zone, to the minute."""
    from ..timeutil import to_local

    local = to_local(moment)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def mine():
    """List, create: the new token is shown on this one answer only (never flashed into the session)."""
    form = TokenForm()
    created = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                created = services.create_token(current_user, form.name.data, form.expires_on.date)
                db.session.commit()
                form = TokenForm(formdata=None)
            except services.TokenError as exc:
                db.session.rollback()
                show_error(form, exc)
                status = 400
        else:
            status = 400
    response = render_template("api/tokens.html", form=form, tokens=services.tokens_of(current_user),
                               created=created, revoke_form=RevokeForm(), now=services.utcnow())
    return _no_store(make_response(response, status))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    token = services.get_token(token_id)
    if token is None or not services.may_manage(current_user, token):
        abort(404)  # another user's token: as if it did not exist
    form = RevokeForm()
    back = url_for(".all_tokens") if request.form.get("back") == "admin" and current_user.role == "admin" \
        else url_for(".mine")
    if not form.validate_on_submit():
        flash(gettext("表单已过期或不完整，请重试。"), "danger")
        return redirect(back)
    try:
        services.revoke_token(token, current_user, form.reason.data)
        db.session.commit()
        flash(gettext("令牌“%(name)s”（%(prefix)s…）已吊销，使用它的系统将无法再访问接口。", name=token.name,
                      prefix=token.prefix), "success")
    except services.TokenError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    return redirect(back)


@bp.route("/admin/tokens")
@login_required
def all_tokens():
    if current_user.role != "admin":
        abort(403)
    username = (request.args.get("user") or "").strip()[:50] or None
    include_revoked = request.args.get("revoked") == "1"
    page = request.args.get("page", "1")
    page_no = page_number(page)
    tokens, total = services.tokens_page(username, include_revoked, page_no)
    return _no_store(make_response(render_template(
        "api/admin_tokens.html", tokens=tokens, total=total, page=page_no, per_page=50, username=username or "",
        include_revoked=include_revoked, revoke_form=RevokeForm(), now=services.utcnow()), 200))
