"""Downloads of the matrix, a period's figures and the overdue list as xlsx or CSV.

Who may: whoever sees every unit (staff, admins, auditors); liaisons get 403. Every download is
a security event in the audit log, naming what was taken with which filters."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flask import Blueprint, Response, abort, request

from ..access import office_view_required
from ..audit import services as audit
from ..extensions import db
from ..plans.models import Plan
from ..plans.services import find_plan
from ..timeutil import today
from . import services
from .writers import csv_response, xlsx_response

bp = Blueprint("exports", __name__, url_prefix="/exports")

FMT = f"<any({', '.join(services.FORMATS)}):fmt>"  # any other extension: no such route, 404



class _Counted:
    """Counts the rows as the writer pulls them, without holding them."""

    def __init__(self, rows: Iterable) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator:
        for row in self.rows:
            self.count += 1
            yield row


def _send(sheet: services.Sheet, fmt: str, entity: Plan | None = None) -> Response:
    """Write the sheet in the format asked and record the download. The xlsx is complete before
    the response starts, so its event carries the row count; a CSV streams after the event."""
    extra = {**(sheet.audit or {}), "format": fmt}
    entity_args = ("plan", entity.id) if entity is not None else (None, None)
    if fmt == "xlsx":
        rows = _Counted(sheet.rows)
        response = xlsx_response(f"{sheet.name}.xlsx", sheet.sheet_title, sheet.columns, rows, title=sheet.title)
        extra["rows"] = rows.count
    else:
        response = csv_response(f"{sheet.name}.csv", sheet.columns, sheet.rows)
    audit.record("export.download", *entity_args, {}, extra=extra)
    db.session.commit()
    return response


def _plan(ident: str) -> Plan:
    return find_plan(ident) or abort(404)


def _plan_sheet(ident: str, fmt: str, build) -> Response:
    """A sheet of one plan: 404 for an unknown plan or a period of another plan."""
    plan = _plan(ident)
    try:
        sheet = build(plan, request.args, today())
    except services.NotFound:
        abort(404)
    return _send(sheet, fmt, plan)


@bp.route(f"/plans/<ident>/matrix.{FMT}")
@office_view_required
def matrix(ident: str, fmt: str):
    return _plan_sheet(ident, fmt, services.matrix_sheet)


@bp.route(f"/plans/<ident>/figures.{FMT}")
@office_view_required
def figures(ident: str, fmt: str):
    return _plan_sheet(ident, fmt, services.figures_sheet)


@bp.route(f"/overdue.{FMT}")
@office_view_required
def overdue(fmt: str):
    return _send(services.overdue_sheet(request.args, today()), fmt)
