"""Routes of the rankings area: the live ranking of a plan's units, publishing it, past
publications with their recompute check, the items behind a unit's figures, and the exports.

Access (one place): office staff, admins and auditors read; staff and admins publish."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from ..access import office_view_required
from ..audit import services as audit
from ..exports.writers import Column, csv_response, xlsx_response
from ..extensions import db
from ..forms_common import plain_id
from ..plans.models import Period, Plan
from ..plans.services import find_plan
from ..timeutil import to_local, today
from ..units.models import Unit
from . import services
from .forms import PublishForm
from .formula import Formula
from .models import RankingPublication

bp = Blueprint("rankings", __name__)

FORMATS = ("xlsx", "csv")



def _int_arg(name: str) -> int | None:
    return plain_id(request.args.get(name, ""))


def _chosen_period(periods: Sequence[Period], raw: str | int | None) -> Period | None:
    wanted = plain_id(raw)
    if wanted is not None:
        return next((p for p in periods if p.id == wanted), None)
    return services.default_period(periods, today())


@bp.route("/rankings")
@office_view_required
def index():
    plans = db.session.execute(select(Plan).order_by(Plan.issued.desc(), Plan.id)).scalars().all()
    if len(plans) == 1:
        return redirect(url_for(".plan", ident=plans[0].slug))
    return render_template("rankings/index.html", plans=plans)


@bp.route("/plans/<ident>/ranking", methods=["GET", "POST"])
@office_view_required
def plan(ident: str):
    plan = find_plan(ident) or abort(404)
    periods = services.plan_periods(plan)
    form = PublishForm()
    form.period.choices = [(str(p.id), p.label) for p in periods]
    status = 200
    if request.method == "POST":
        if not current_user.is_office:
            abort(403)
        if form.validate_on_submit():
            period = next((p for p in periods if str(p.id) == form.period.data), None)
            try:
                publication = services.publish(plan, period, current_user, form.note.data, today())
                db.session.commit()
                flash(gettext("排名已发布（公式版本 %(v)s）。", v=publication.formula_version), "success")
                return redirect(url_for(".publication", publication_id=publication.id))
            except services.RankingError as exc:
                db.session.rollback()
                target = form.period if exc.field == "period" else form.note
                target.errors = [*target.errors, exc.message]
        status = 400
    period = _chosen_period(periods, form.period.data if request.method == "POST" else request.args.get("period"))
    if request.method == "GET" and period is not None:
        form.period.data = str(period.id)
    unit_kind = services.valid_kind(request.args.get("kind"))
    try:
        ranking = services.live_ranking(plan, periods, period, today(), unit_kind)
    except services.RankingError as exc:
        return render_template("rankings/plan.html", plan=plan, periods=periods, period=period, ranking=None,
                               error=exc.message, form=form, unit_kind=unit_kind, kinds=services.KIND_LABELS,
                               past=services.publications(plan), local=to_local), status
    return render_template("rankings/plan.html", plan=plan, periods=periods, period=period, ranking=ranking,
                           table=_table(ranking.formula, [r.to_dict() for r in ranking.rows], plan, period),
                           words=services.formula_words(ranking.formula), form=form, unit_kind=unit_kind,
                           kinds=services.KIND_LABELS, past=services.publications(plan),
                           may_publish=current_user.is_office, as_of=to_local(ranking.as_of), error=None,
                           local=to_local), status


ITEM_MEASURES = ("overdue", "urges", "returned")


def _table(formula: Formula, rows: Sequence[dict[str, Any]], plan: Plan | None = None,
           period: Period | None = None) -> list[dict[str, Any]]:
    """Rows as the page shows them: each measure's text and, with a plan, the link to the items
    behind it (URLs built once and extended per unit: hundreds of rows, one url_for each)."""
    unit_base = flags_base = None
    if plan is not None:
        unit_base = url_for(".unit", ident=plan.slug, unit_id=0).removesuffix("0")
        flags_base = url_for("integrity.flags", plan=plan.id, state="pending")
    query, sep = (f"?period={period.id}", "&") if period else ("", "?")
    out = []
    for r in rows:
        counts = r.get("counts") or {}
        href = f"{unit_base}{r['unit_id']}{query}" if unit_base else None
        cells = []
        for m in formula.measures:
            link = None
            if href and counts.get(m.key):
                if m.key in ITEM_MEASURES:
                    link = f"{href}{sep}measure={m.key}"
                elif m.key == "open_flags":
                    link = f"{flags_base}&unit={r['unit_id']}"
            cells.append((m.key, _shown(m.key, r["values"].get(m.key)), link))
        out.append({**r, "cells": cells, "kind_label": services.kind_label(r["kind"]), "href": href})
    return out


def _shown(key: str, value: str | None) -> str:
    if value is None:
        return "—"
    if key == "on_time_rate":
        return f"{(Decimal(value) * 100).quantize(Decimal('0.1'))}%"
    return format(Decimal(value).normalize(), "f")


@bp.route("/plans/<ident>/ranking/units/<int:unit_id>")
@office_view_required
def unit(ident: str, unit_id: int):
    plan = find_plan(ident) or abort(404)
    unit = db.session.get(Unit, unit_id) or abort(404)
    periods = services.plan_periods(plan)
    period = _chosen_period(periods, request.args.get("period"))
    try:
        formula = services.formula_for(today())
    except services.RankingError as exc:
        abort(404, exc.message)
    items = services.unit_items(plan, periods, period, unit, today(), formula)
    if not items:
        abort(404)
    measure = request.args.get("measure") if request.args.get("measure") in ("overdue", "urges", "returned") else None
    shown = [i for i in items if getattr(i, measure) > 0] if measure else items
    return render_template("rankings/unit.html", plan=plan, unit=unit, period=period, items=shown, measure=measure,
                           formula=formula, all_count=len(items))


@bp.route("/rankings/<int:publication_id>")
@office_view_required
def publication(publication_id: int):
    publication = db.session.get(RankingPublication, publication_id) or abort(404)
    check = services.recompute(publication)
    unit_kind = services.valid_kind(request.args.get("kind"))
    rows = [r for r in publication.rows if unit_kind is None or r["kind"] == unit_kind]
    return render_template("rankings/publication.html", pub=publication, check=check,
                           table=_table(check.formula, rows), words=services.formula_words(check.formula),
                           unit_kind=unit_kind, kinds=services.KIND_LABELS, labels=services.FIELD_LABELS,
                           as_of=to_local(publication.as_of), published_at=to_local(publication.published_at),
                           past=services.publications(publication.plan), local=to_local)


# --------------------------------------------------------------------------- exports


def _columns(formula: Formula) -> list[Column]:
    columns = [Column(gettext("排名"), 8, "int"), Column(gettext("单位"), 30), Column(gettext("单位类别"), 12),
               Column(gettext("应报报告数"), 12, "int")]
    for m in formula.measures:
        columns.append(Column(m.label, 12, "percent" if m.key == "on_time_rate" else "int"))
    columns.append(Column(gettext("落后指数"), 12, "decimal"))
    return columns


def _export_rows(formula: Formula, rows: Sequence[dict[str, Any]]) -> Iterator[list[Any]]:
    for r in rows:
        values = [Decimal(r["values"][m.key]) if m.key == "on_time_rate" else int(Decimal(r["values"][m.key]))
                  for m in formula.measures]
        yield [r["rank"], r["unit"], services.kind_label(r["kind"]), r["due"], *values,
               Decimal(r["score"]) if r["score"] is not None else None]


def _export(fmt: str, formula: Formula, rows: Sequence[dict[str, Any]], name: str, title: str,
            what: dict[str, Any]) -> Any:
    if fmt not in FORMATS:
        abort(404)
    audit.record("ranking.export", "export", None, {}, extra={"what": f"ranking.{fmt}", "rows": len(rows), **what})
    db.session.commit()  # an export is a security event
    columns = _columns(formula)
    if fmt == "csv":
        return csv_response(f"{name}.csv", columns, _export_rows(formula, rows))
    return xlsx_response(f"{name}.xlsx", gettext("落后单位排名"), columns, _export_rows(formula, rows), title=title)


@bp.route("/plans/<ident>/ranking.<fmt>")
@office_view_required
def export(ident: str, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    plan = find_plan(ident) or abort(404)
    periods = services.plan_periods(plan)
    period = _chosen_period(periods, request.args.get("period"))
    unit_kind = services.valid_kind(request.args.get("kind"))
    try:
        ranking = services.live_ranking(plan, periods, period, today(), unit_kind)
    except services.RankingError as exc:
        abort(404, exc.message)
    rows = [r.to_dict() for r in ranking.rows]
    label = period.label if period else ""
    title = gettext("%(plan)s 落后单位排名（截至%(period)s，公式版本 %(v)s，%(day)s）", plan=plan.title, period=label,
                    v=ranking.formula.version, day=to_local(ranking.as_of).date().isoformat())
    return _export(fmt, ranking.formula, rows, f"落后单位排名-{plan.slug}-{today().isoformat()}", title,
                   {"plan": plan.slug, "period": label or None, "kind": unit_kind,
                    "formula_version": ranking.formula.version})


@bp.route("/rankings/<int:publication_id>.<fmt>")
@office_view_required
def publication_export(publication_id: int, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    publication = db.session.get(RankingPublication, publication_id) or abort(404)
    formula = Formula.from_dict(publication.formula)
    label = publication.period.label if publication.period else ""
    title = gettext("%(plan)s 落后单位排名（截至%(period)s，公式版本 %(v)s，第 %(id)s 号发布）", plan=publication.plan.title,
                    period=label, v=publication.formula_version, id=publication.id)
    return _export(fmt, formula, publication.rows, f"落后单位排名-发布{publication.id}", title,
                   {"publication": publication.id, "plan": publication.plan.slug,
                    "formula_version": publication.formula_version})
