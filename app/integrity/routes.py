"""Flag pages: the office's list with filters and its CSV export; one flag, explained by its unit and
dismissed or confirmed by the office."""

from __future__ import annotations

import csv
import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..forms_common import page_number, plain_id
from ..i18n import N_
from ..plans.models import Plan
from ..timeutil import utcnow
from ..units.models import Unit
from . import rules, services
from .forms import ExplainForm, FlagDecisionForm
from .models import FLAG_STATE_LABELS

bp = Blueprint("integrity", __name__, url_prefix="/integrity")


def _version(raw: str | None) -> int | None:
    return plain_id(raw) if plain_id(raw) is not None else -1 if raw else None


@bp.route("/flags")
@login_required
def flags():
    if not (current_user.sees_everything or (current_user.role == "liaison" and current_user.unit_id)):
        abort(403)
    filters = services.FlagFilters.from_args(request.args)
    page = page_number(request.args.get("page"))
    per_page = current_app.config["PER_PAGE"]
    rows, total = services.list_flags(current_user, filters, page, per_page)
    units = plans = []
    if current_user.sees_everything:
        units = db.session.execute(select(Unit.id, Unit.name).order_by(Unit.name)).all()
        plans = db.session.execute(select(Plan.id, Plan.code).order_by(Plan.id)).all()
    return render_template("integrity/flags.html", rows=rows, total=total, page=page, per_page=per_page,
                           filters=filters, units=units, plans=plans, rules=rules.RULES,
                           states=FLAG_STATE_LABELS)


def _csv_safe(cell: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


@bp.route("/flags.csv")
@login_required
def export():
    """The flags matching the filters as CSV (UTF-8 with BOM, opens in Excel); the export is audited."""
    if not current_user.sees_everything:
        abort(403)
    filters = services.FlagFilters.from_args(request.args)
    viewer = services.Viewer.of(current_user)
    services.record_export(current_user, filters)
    db.session.commit()
    app = current_app._get_current_object()
    header = [gettext(h) for h in services.EXPORT_HEADER]  # in the user's language, while the request lasts

    def generate():
        # Each batch in a short app context of its own: the rows are read while the response is sent.
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        yield "\ufeff" + buffer.getvalue()
        after: int | None = 0
        while after is not None:
            with app.app_context():
                rows, after = services.export_batch(viewer, filters, after)
            buffer.seek(0)
            buffer.truncate()
            for row in rows:
                writer.writerow([_csv_safe(c) for c in row])
            yield buffer.getvalue()

    name = f"flags-{utcnow().strftime('%Y%m%d-%H%M%S')}.csv"
    return Response(generate(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.route("/flags/<int:flag_id>", methods=["GET", "POST"])
@login_required
def flag(flag_id: int):
    item = services.get_flag_or_404(flag_id, current_user)
    explain_form = ExplainForm(prefix="explain")
    decision_form = FlagDecisionForm(prefix="decide")
    if request.method == "POST":
        action = request.form.get("action")
        if action == "explain":
            if not services.may_explain(current_user, item):
                abort(403)
            form, run = explain_form, lambda: services.explain(
                item, current_user, explain_form.explanation.data, _version(explain_form.version.data))
        elif action in ("dismiss", "confirm"):
            if not services.may_decide(current_user, item):
                abort(403)
            form, run = decision_form, lambda: services.decide(
                item, current_user, action, decision_form.note.data, _version(decision_form.version.data))
        else:
            abort(400)
        if form.validate_on_submit():
            try:
                run()
                db.session.commit()
                done = {"explain": N_("情况说明已提交。"), "dismiss": N_("疑点已排除。"), "confirm": N_("疑点已确认。")}
                flash(gettext(done[action]), "success")
                return redirect(url_for(".flag", flag_id=item.id))
            except (services.FlagError, StaleDataError) as exc:
                db.session.rollback()
                message = getattr(exc, "message", None) or gettext("该疑点已被他人处理，请刷新页面后再操作。")
                field = getattr(form, getattr(exc, "field", None) or "", None)
                if field is not None:
                    field.errors = [*field.errors, message]
                else:
                    form.form_errors.append(message)
                item = services.get_flag_or_404(flag_id, current_user)
    if request.method == "GET" or not explain_form.version.data:
        explain_form.version.data = item.version
        decision_form.version.data = item.version
    if request.method == "GET" and item.explanation:
        explain_form.explanation.data = item.explanation
    figures = services.figures_named(item)
    if not current_user.sees_everything:  # a liaison sees the values of their own unit only
        figures = [f for f in figures if f.report.assignment.unit_id == current_user.unit_id]
    return render_template("integrity/flag.html", flag=item, figures=figures,
                           changed=services.changed_since_raised(item, figures),
                           explain_form=explain_form, decision_form=decision_form,
                           may_explain=services.may_explain(current_user, item),
                           may_decide=services.may_decide(current_user, item),
                           cases=_cases_of(item.id))


def _cases_of(flag_id: int) -> list:
    from ..cases.services import cases_for_flag

    return cases_for_flag(flag_id, current_user)
