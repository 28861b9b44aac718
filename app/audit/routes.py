"""Audit pages: an entity's history as a timeline, and the log search with its CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask_babel import gettext
from flask_login import current_user, login_required

from ..auth.models import User
from ..extensions import db
from ..plans.access import may_view_assignment
from ..plans.models import Assignment
from ..reports.models import Figure, Report
from ..timeutil import today
from . import queries
from . import services as audit
from .forms import LogSearchForm

bp = Blueprint("audit", __name__, url_prefix="/audit")

PER_PAGE = 50
EXPORT_MAX = 100_000


def log_reader_required(view: Any) -> Any:
    """The whole log is for leading-group staff and auditors."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.role not in ("staff", "auditor"):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _before() -> int | None:
    value = request.args.get("before", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None  # seq is 64-bit


def _check_history_access(entity_type: str, entity_id: int) -> str:
    """A title for the page; 404 for what the user may not see (another unit's object looks absent)."""
    if entity_type not in queries.HISTORY_TYPES:
        abort(404)
    assignment: Assignment | None = None
    title = f"{gettext(queries.entity_label(entity_type))} #{entity_id}"
    if entity_type == "user":
        if not current_user.sees_everything:
            abort(404)
        user = db.session.get(User, entity_id)
        if user is not None:
            title = gettext("账号 %(name)s（%(username)s）", name=user.name, username=user.username)
    elif entity_type == "assignment":
        assignment = db.session.get(Assignment, entity_id)
        if assignment is not None:
            title = gettext("%(unit)s · 任务 %(number)s %(task)s", unit=assignment.unit.name,
                            number=assignment.task.number, task=assignment.task.title)
    else:
        report = db.session.get(Report, entity_id) if entity_type == "report" else None
        if entity_type == "figure":
            figure = db.session.get(Figure, entity_id)
            report = figure.report if figure is not None else None
            if figure is not None:
                title = f"{figure.indicator.name} · {figure.report.period.label}"
        if report is not None:
            assignment = report.assignment
            if entity_type == "report":
                title = gettext("%(unit)s · %(period)s进展报告", unit=assignment.unit.name, period=report.period.label)
    if assignment is not None:
        if not may_view_assignment(current_user, assignment):
            abort(404)
    elif not current_user.sees_everything:
        abort(404)  # gone, or never there: a liaison learns nothing from the log
    return title


@bp.route("/history/<entity_type>/<int:entity_id>")
@login_required
def history(entity_type: str, entity_id: int):
    title = _check_history_access(entity_type, entity_id)
    events, next_before = queries.history_page(entity_type, entity_id, _before(), PER_PAGE)
    if not events and _before() is None and db.session.get(_MODELS[entity_type], entity_id) is None:
        abort(404)
    return render_template("audit/history.html", title=title, events=events, next_before=next_before,
                           entity_type=entity_type, entity_id=entity_id,
                           may_search=current_user.role in ("staff", "auditor"))


_MODELS: dict[str, Any] = {"report": Report, "figure": Figure, "assignment": Assignment, "user": User}


@bp.route("/log")
@log_reader_required
def log():
    form = LogSearchForm(request.args)
    searched = bool(request.args)
    events: list[queries.EventView] = []
    next_before, total = None, 0
    valid = form.validate() if searched else True
    if valid:
        events, next_before, total = queries.search_page(form.to_filter(), _before(), PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("audit/log.html", form=form, events=events, next_before=next_before, total=total,
                           cap=queries.COUNT_CAP, args=args, valid=valid, export_max=EXPORT_MAX), (
        200 if valid else 400)


def _stream_csv(app: Flask, log_filter: queries.LogFilter, rows: int, batch: int = 1000) -> Iterator[str]:
    """The CSV, streamed after the response has started: each chunk is read in a short app context of its own
    (keyset pages on seq), so no transaction or cursor stays open while the client downloads."""
    before: int | None = None
    left, first = rows, True
    while first or (left > 0 and before is not None):
        with app.app_context():
            try:
                text, before = queries.csv_chunk(log_filter, before, min(batch, max(left, 1)), header=first)
            finally:
                db.session.remove()
        left -= batch
        first = False
        yield text


@bp.route("/log.csv")
@log_reader_required
def export():
    form = LogSearchForm(request.args)
    if request.args and not form.validate():
        events: list[queries.EventView] = []
        return render_template("audit/log.html", form=form, events=events, next_before=None, total=0,
                               cap=queries.COUNT_CAP, args={}, valid=False, export_max=EXPORT_MAX), 400
    log_filter = form.to_filter()
    rows = min(queries.count_capped(queries.search_query(log_filter), EXPORT_MAX), EXPORT_MAX)
    audit.record("audit.export", "audit_log", None, {},
                 extra={"filters": log_filter.as_dict(), "rows": rows, "format": "csv"})
    db.session.commit()
    name = f"audit-log-{today().isoformat()}.csv"
    body = _stream_csv(current_app._get_current_object(), log_filter, rows)
    current_app.logger.info("audit log exported by %s: %d rows", current_user.username, rows)
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})

