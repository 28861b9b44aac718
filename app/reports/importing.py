"""Bulk load of figures from a CSV or Excel (.xlsx) file, all or nothing.

Columns (a header row names them, in Chinese or English, in any order):
    单位 / unit            the unit's name
    指标 / indicator       the indicator's key or name
    周期 / period          a period label (2025年10月, 2025年第3季度) or YYYY-MM for a month
    数值 / value           the figure
    填报时间 / entered_at   optional: when the unit entered the value (Asia/Shanghai), kept beside the upload time
    原因 / reason          optional: why a value changes in a report that was submitted before; required to
                           correct an accepted report (the row becomes a restatement request)
    方案 / plan            optional: the plan's short id or code, when an indicator key or name is in several

Every row is checked first; any bad row is reported with its row number (as the spreadsheet numbers it)
and nothing from the file is written. Good rows go through the same services as the report form:
drafts are created as needed, each change is a figure revision with its audit event. A figure of an
accepted report becomes a restatement request (a reason is required) that another staff member decides;
a report that is submitted and waiting for review is not changed by a file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import or_, select

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from ..forms_common import parse_decimal
from ..plans.models import Assignment, Indicator, Period, Plan
from ..timeutil import local_tz
from ..units.models import Unit
from ..workflow import workflows
from . import services
from .models import Figure, Report

MAX_BYTES_DEFAULT = 5 * 1024 * 1024
MAX_ROWS_DEFAULT = 20000
XLSX_MAX_UNCOMPRESSED = 100 * 1024 * 1024

COLUMNS: dict[str, tuple[str, ...]] = {
    "unit": ("单位", "单位名称", "填报单位", "unit"),
    "indicator": ("指标", "指标名称", "指标代码", "indicator", "key"),
    "period": ("周期", "报送周期", "期间", "月份", "period"),
    "value": ("数值", "填报数值", "值", "value"),
    "entered_at": ("填报时间", "录入时间", "时间", "entered_at", "time", "time of entry"),
    "reason": ("原因", "修改原因", "更正原因", "说明", "reason"),
    "plan": ("方案", "实施方案", "plan"),
}
REQUIRED = ("unit", "indicator", "period", "value")
COLUMN_LABELS = {"unit": "单位", "indicator": "指标", "period": "周期", "value": "数值"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (type, size, encoding, header); Chinese message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    restatements: int = 0
    reports_created: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary_zh(self) -> str:
        return gettext("共 %(rows)s 行：新填 %(created)s 个数值，修改 %(changed)s 个，未变 %(unchanged)s 个，"
                       "提交更正申请 %(restatements)s 个，新建报告草稿 %(reports)s 份。", rows=self.rows,
                       created=self.created, changed=self.changed, unchanged=self.unchanged,
                       restatements=self.restatements, reports=self.reports_created)


def row_error(number: int, message: str) -> str:
    return gettext("第 %(n)s 行：%(message)s", n=number, message=message)


def _row_of(error: str) -> int:
    """The row number an error message names first (its only number before the message, in any language)."""
    found = re.search(r"\d+", error)
    return int(found.group(0)) if found else 0


# --- reading the file ---------------------------------------------------------------------------------------


def max_bytes() -> int:
    return int(current_app.config.get("FIGURE_IMPORT_MAX_BYTES") or MAX_BYTES_DEFAULT)


def read_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """(row number, cells) of every row, header included; the type is told by the content, not the name."""
    if len(data) > max_bytes():
        raise ImportFileError(gettext("文件过大（上限 %(n)s MB）。", n=max_bytes() // 1024 // 1024))
    if not data.strip():
        raise ImportFileError(gettext("文件是空的。"))
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(gettext("不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后再上传。"))
    return _read_csv(data)


def _read_xlsx(data: bytes) -> list[tuple[int, list[Any]]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        if "xl/workbook.xml" not in names:
            raise ImportFileError(gettext("文件不是 Excel（.xlsx）工作簿，也不是 CSV 文本。"))
        if sum(info.file_size for info in archive.infolist()) > XLSX_MAX_UNCOMPRESSED:
            raise ImportFileError(gettext("Excel 文件解压后过大，请拆分后上传。"))
    except zipfile.BadZipFile:
        raise ImportFileError(gettext("Excel 文件已损坏，无法读取。")) from None
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a damaged or foreign workbook
        raise ImportFileError(gettext("Excel 文件无法读取，请检查文件是否损坏或加密。")) from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        limit = int(current_app.config.get("FIGURE_IMPORT_MAX_ROWS") or MAX_ROWS_DEFAULT)
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > limit + 1:
                raise ImportFileError(gettext("行数过多（上限 %(n)s 行），请拆分后上传。", n=limit))
            rows.append((number, list(row)))
        return rows
    finally:
        workbook.close()


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise ImportFileError(gettext("文件不是 CSV 文本或 Excel（.xlsx）文件。"))
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(gettext("无法识别文件编码，请保存为 UTF-8 或 GB18030 编码的 CSV。"))


def _read_csv(data: bytes) -> list[tuple[int, list[Any]]]:
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        raise ImportFileError(gettext("CSV 文件编码有误，请保存为 UTF-8 编码。")) from None
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    limit = int(current_app.config.get("FIGURE_IMPORT_MAX_ROWS") or MAX_ROWS_DEFAULT)
    rows = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            if number > limit + 1:
                raise ImportFileError(gettext("行数过多（上限 %(n)s 行），请拆分后上传。", n=limit))
            rows.append((number, row))
    except csv.Error as exc:
        raise ImportFileError(gettext("CSV 格式有误：%(error)s", error=exc)) from None
    return rows


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _header(cells: list[Any]) -> dict[str, int]:
    lookup = {alias.lower(): key for key, aliases in COLUMNS.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = lookup.get(_text(cell).lower().lstrip("\ufeff"))
        if key and key not in found:
            found[key] = index
    missing = [COLUMN_LABELS[k] for k in REQUIRED if k not in found]
    if missing:
        raise ImportFileError(gettext("表头缺少“%(columns)s”列（第一行应为列名：单位、指标、周期、数值，可选填报时间、原因、方案）。",
                                      columns="”“".join(missing)))
    return found


# --- parsing one row ----------------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.年])\s*(\d{1,2})\s*月?$")


def _month_of(cell: Any) -> tuple[int, int] | None:
    if isinstance(cell, datetime | date):
        return cell.year, cell.month
    match = _MONTH.match(_text(cell))
    if match and 1 <= int(match.group(2)) <= 12:
        return int(match.group(1)), int(match.group(2))
    return None


def _value(cell: Any, indicator: Indicator, max_abs: Decimal) -> Decimal:
    if isinstance(cell, bool):
        raise ValueError(gettext("请输入数字，例如 12.5。"))
    if isinstance(cell, int):
        cell = str(cell)
    elif isinstance(cell, float):
        cell = repr(cell)
    value = parse_decimal(_text(cell), allow_negative=indicator.allow_negative, max_abs=max_abs)
    if value is None:
        raise ValueError(gettext("数值为空。"))
    return value


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%Y/%m/%d")


def _entered_at(cell: Any, now_utc: datetime) -> datetime | None:
    """A local (Asia/Shanghai) time from the file, as naive UTC; None when the cell is empty."""
    if _blank(cell):
        return None
    if isinstance(cell, datetime):
        moment = cell
    elif isinstance(cell, date):
        moment = datetime(cell.year, cell.month, cell.day)
    else:
        text = _text(cell)
        for fmt in _TIME_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(gettext("填报时间“%(text)s”格式有误，应如 2025-10-05 09:30。", text=text))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_tz())
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    if utc > now_utc + timedelta(minutes=5):
        raise ValueError(gettext("填报时间晚于当前时间。"))
    return utc


@dataclass
class _Row:
    number: int
    unit: Unit
    indicator: Indicator
    period: Period
    assignment: Assignment
    value: Decimal
    entered_at: datetime | None
    reason: str | None


class _Lookup:
    """Units, plans, indicators and periods named in the file, each loaded in one query."""

    def __init__(self, table: list[tuple[int, dict[str, Any]]]):
        units = {_text(r.get("unit")) for _, r in table}
        indicators = {_text(r.get("indicator")) for _, r in table} - {""}
        self.units = {u.name: u for u in db.session.execute(select(Unit).where(Unit.name.in_(units))).scalars()}
        self.indicators: list[Indicator] = list(db.session.execute(
            select(Indicator).where(or_(Indicator.key.in_(indicators), Indicator.name.in_(indicators)))).scalars())
        plans = {i.plan_id for i in self.indicators}
        self.plans = {p.id: p for p in db.session.execute(select(Plan)).scalars()}
        self.periods: dict[int, list[Period]] = {p: [] for p in plans}
        if plans:
            for period in db.session.execute(select(Period).where(Period.plan_id.in_(plans))).scalars():
                self.periods[period.plan_id].append(period)
        self.assignments: dict[tuple[int, int], Assignment | None] = {}

    def plan(self, text: str) -> Plan | None:
        compact = text.replace(" ", "")
        return next((p for p in self.plans.values() if compact in (p.slug, p.code.replace(" ", ""))), None)

    def indicator(self, text: str, plan: Plan | None) -> Indicator:
        found = [i for i in self.indicators if text in (i.key, i.name) and (plan is None or i.plan_id == plan.id)]
        by_key = [i for i in found if i.key == text]
        found = by_key or found
        if not found:
            if plan:
                raise ValueError(gettext("指标“%(text)s”在方案“%(plan)s”中不存在（可填指标名称或代码）。", text=text,
                                         plan=plan.code))
            raise ValueError(gettext("指标“%(text)s”不存在（可填指标名称或代码）。", text=text))
        if len(found) > 1:
            if len({i.plan_id for i in found}) > 1:
                raise ValueError(gettext("指标“%(text)s”在多个实施方案中都有，请在“方案”列注明方案。", text=text))
            raise ValueError(gettext("指标名称“%(text)s”不唯一，请改填指标代码。", text=text))
        return found[0]

    def period(self, cell: Any, indicator: Indicator) -> Period:
        periods = self.periods.get(indicator.plan_id, [])
        text = _text(cell)
        found = next((p for p in periods if p.label == text), None)
        if found is None:
            month = _month_of(cell)
            if month is not None:
                found = next((p for p in periods if p.kind == "monthly" and (p.start.year, p.start.month) == month),
                             None)
        if found is None:
            raise ValueError(gettext("报送周期“%(text)s”不存在（应如 2025年10月 或 2025-10）。", text=text))
        return found

    def assignment(self, unit: Unit, indicator: Indicator) -> Assignment | None:
        key = (unit.id, indicator.id)
        if key not in self.assignments:
            self.assignments[key] = services.assignment_for_indicator(unit.id, unit.name, indicator)
        return self.assignments[key]


def _table(rows: list[tuple[int, list[Any]]]) -> list[tuple[int, dict[str, Any]]]:
    body = [(n, cells) for n, cells in rows if not all(_blank(c) for c in cells)]
    if not body:
        raise ImportFileError(gettext("文件是空的。"))
    (_, header), data = body[0], body[1:]
    columns = _header(header)
    if not data:
        raise ImportFileError(gettext("文件只有表头，没有数据行。"))
    return [(n, {k: (cells[i] if i < len(cells) else None) for k, i in columns.items()}) for n, cells in data]


def _parse(table: list[tuple[int, dict[str, Any]]], user: User, errors: list[str]) -> list[_Row]:
    lookup = _Lookup(table)
    max_abs = Decimal(current_app.config["FIGURE_MAX_ABS"])
    now = datetime.now(UTC).replace(tzinfo=None)
    seen: dict[tuple[int, int, int], int] = {}
    parsed: list[_Row] = []
    for number, cells in table:
        def bad(message: str, number: int = number) -> None:
            errors.append(row_error(number, message))

        try:
            unit_name = _text(cells.get("unit"))
            if not unit_name:
                raise ValueError(gettext("“单位”为空。"))
            unit = lookup.units.get(unit_name)
            if unit is None:
                raise ValueError(gettext("单位“%(name)s”不存在。", name=unit_name))
            if not user.is_office and unit.id != user.unit_id:
                raise ValueError(gettext("只能导入本单位的数据，“%(name)s”不是本单位。", name=unit_name))
            plan = None
            if not _blank(cells.get("plan")):
                plan = lookup.plan(_text(cells.get("plan")))
                if plan is None:
                    raise ValueError(gettext("实施方案“%(name)s”不存在。", name=_text(cells.get("plan"))))
            indicator_text = _text(cells.get("indicator"))
            if not indicator_text:
                raise ValueError(gettext("“指标”为空。"))
            indicator = lookup.indicator(indicator_text, plan)
            if _blank(cells.get("period")):
                raise ValueError(gettext("“周期”为空。"))
            period = lookup.period(cells.get("period"), indicator)
            value = _value(cells.get("value"), indicator, max_abs)
            entered_at = _entered_at(cells.get("entered_at"), now)
            reason = _text(cells.get("reason")) or None
            if reason and len(reason) > services.REASON_MAX:
                raise ValueError(gettext("原因不能超过 %(n)s 个字。", n=services.REASON_MAX))
            assignment = lookup.assignment(unit, indicator)
            if assignment is None:
                raise ValueError(gettext("单位“%(unit)s”不填报指标“%(indicator)s”。", unit=unit.name, indicator=indicator.name))
        except ValueError as exc:
            bad(str(exc))
            continue
        key = (unit.id, indicator.id, period.id)
        if key in seen:
            bad(gettext("与第 %(n)s 行重复（同一单位、指标和周期）。", n=seen[key]))
            continue
        seen[key] = number
        parsed.append(_Row(number, unit, indicator, period, assignment, value, entered_at, reason))
    return parsed


# --- checking against the reports and writing -------------------------------------------------------------


def _reports(rows: list[_Row]) -> dict[tuple[int, int], Report]:
    """The existing reports the rows fall in, in one query."""
    pairs = {(r.assignment.id, r.period.id) for r in rows}
    if not pairs:
        return {}
    assignment_ids = {a for a, _ in pairs}
    found = db.session.execute(select(Report).where(Report.assignment_id.in_(assignment_ids))).scalars()
    return {(r.assignment_id, r.period_id): r for r in found if (r.assignment_id, r.period_id) in pairs}


def _check(row: _Row, report: Report | None, figure: Figure | None) -> str:
    """What the row does: 'unchanged', 'set' (an editable report) or 'restate'; ValueError if refused."""
    wf = workflows().report
    if figure is not None and services._same(figure.value, row.value):
        return "unchanged"
    if report is None or wf.unit_may_edit(report.state):
        try:
            services.revision_reason(report, [row.indicator.id], row.reason)
        except services.ReportError:
            raise ValueError(gettext("该报告已报送过，修改数值须在“原因”列填写修改原因。")) from None
        return "set"
    if services.is_locked(report):
        if figure is None:
            raise ValueError(gettext("该报告已审核通过，不能再补充新的数值。"))
        if not row.reason:
            raise ValueError(gettext("该报告已审核通过，修改须在“原因”列填写更正原因（将作为更正申请，待领导小组办公室审核）。"))
        if services.pending_restatement(figure) is not None:
            raise ValueError(gettext("该数值已有待审核的更正申请。"))
        return "restate"
    raise ValueError(gettext("该报告%(state)s、正在审核，暂不能修改。", state=gettext(wf.label(report.state))))


def import_figures(data: bytes, user: User, filename: str | None = None) -> ImportResult:
    """Check every row of the file, then load all of it or nothing.

    On any error the session is rolled back and ``result.errors`` lists every bad row; otherwise the
    changes are in the session for the caller to commit."""
    result = ImportResult()
    if not (user.is_office or (user.role == "liaison" and user.unit_id)):
        raise ImportFileError(gettext("您无权导入数据。"))
    table = _table(read_rows(data))
    result.rows = len(table)
    rows = _parse(table, user, result.errors)
    reports = _reports(rows)
    plan: list[tuple[_Row, Report | None, str]] = []
    for row in rows:
        report = reports.get((row.assignment.id, row.period.id))
        figure = next((f for f in report.figures if f.indicator_id == row.indicator.id), None) if report else None
        try:
            plan.append((row, report, _check(row, report, figure)))
        except ValueError as exc:
            result.errors.append(row_error(row.number, str(exc)))
    if result.errors:
        result.errors.sort(key=_row_of)
        db.session.rollback()
        return result
    try:
        _apply(plan, user, reports, result)
    except services.ReportError as exc:
        db.session.rollback()
        result.errors.append(exc.message)
        return result
    audit.record("figures.import", None, None, {},
                 extra={"file_sha256": hashlib.sha256(data).hexdigest(), "filename": filename, "rows": result.rows,
                        "created": result.created, "changed": result.changed, "restatements": result.restatements},
                 actor=audit.actor_of(user))
    db.session.flush()
    return result


def _apply(plan: list[tuple[_Row, Report | None, str]], user: User, reports: dict[tuple[int, int], Report],
           result: ImportResult) -> None:
    now = services._now()
    for row, _, action in plan:
        key = (row.assignment.id, row.period.id)
        report = reports.get(key)
        if action == "unchanged":
            result.unchanged += 1
            continue
        if action == "restate":
            figure = next(f for f in report.figures if f.indicator_id == row.indicator.id)
            services.request_restatement(figure, user, row.value, row.reason, source="import",
                                         stated_at=row.entered_at)
            result.restatements += 1
            continue
        if report is None:
            report = services._create_report(row.assignment, row.period, user, now)
            reports[key] = report
            result.reports_created += 1
        had = any(f.indicator_id == row.indicator.id and f.value is not None for f in report.figures)
        reason = services.revision_reason(report, [row.indicator.id], row.reason)
        services.set_figures(report, user, {row.indicator.id: services.FigureEntry(row.value, row.entered_at)},
                             reason, {row.indicator.id: row.indicator}, now=now, source="import")
        report.updated_at, report.updated_by_id = now, user.id
        if had:
            result.changed += 1
        else:
            result.created += 1
