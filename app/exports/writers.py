"""Streamed xlsx and CSV writers shared by every export.

Rows come from any iterable (a generator over a streamed query) and are consumed one at a time
while writing, never collected into a list.

The xlsx is written by XlsxWriter into an anonymous temporary file (gone when closed), then sent
to the client in chunks. The workbook options:

- constant_memory: XlsxWriter keeps only the current row in memory and writes each finished row
  out to a temporary file (strings inline, no shared-string table), so memory stays flat whatever
  the number of rows. The price is that rows must be written in order, which is how they come.
  Its temporary files go into a private temporary directory removed on the way out, also when the
  rows fail half-way.
- strings_to_numbers / strings_to_formulas / strings_to_urls off: text stays text. A unit name
  like "=HYPERLINK(…)" or a number typed as text is never turned into a formula, a number or a
  link (no formula injection through a spreadsheet).

Cells are written with the typed write_string / write_number / write_datetime / write_boolean
(the generic write() guesses the type again for every cell). The CSV is written row by row by a
generator response."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import xlsxwriter
from flask import Response, has_request_context, stream_with_context

from app.timeutil import to_local

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
CHUNK = 64 * 1024
KINDS = ("text", "int", "decimal", "date", "percent")

# A text cell starting with one of these is read as a formula by spreadsheet programs (CSV injection).
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Column:
    header: str
    width: int = 14
    kind: str = "text"  # text|int|decimal|date|percent

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; one of {', '.join(KINDS)}")


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the UTF-8 name per RFC 5987 (filename*=UTF-8''…)."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", plain).strip("._-") or "export"
    fallback = f"{plain}.{re.sub(r'[^A-Za-z0-9]', '', ext)}" if ext else plain
    value = f'attachment; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='!#$&+-.^_`|~')}"
    return value


def _naive_local(moment: datetime) -> datetime:
    """Excel has no time zones: an aware moment is shown in the configured zone, without it."""
    return to_local(moment).replace(tzinfo=None) if moment.tzinfo is not None else moment


# --- xlsx -----------------------------------------------------------------------------------------

# Characters XML 1.0 does not allow: removed from text (as openpyxl's ILLEGAL_CHARACTERS_RE).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
MAX_TEXT = 32767  # Excel's limit on the characters of one cell
MAX_SHEET_NAME = 31  # UTF-16 units, as Excel (and XlsxWriter) count them
WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                    "strings_to_urls": False,
                    # the default font of Chinese Office (等线 11) for every cell, not tied to the
                    # theme's (Latin) font
                    "default_format_properties": {"font_name": "等线", "font_size": 11, "font_family": 2,
                                                  "font_charset": 134, "font_scheme": "none"}}
# Excel number formats per column kind; a date is yyyy-mm-dd, a datetime yyyy-mm-dd hh:mm in any
# column but a text one.
NUMBER_FORMATS = {"int": "#,##0", "decimal": "#,##0.00", "percent": "0.0%"}
DATE_FORMAT, DATETIME_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
DIGIT_PIXELS = 7  # XlsxWriter's width of a digit: a width of n characters is n × 7 pixels


def sheet_name(title: str) -> str:
    """A valid sheet name: no []:*?/\\, no apostrophe at either end, at most 31 characters, not empty."""
    name = ILLEGAL_CHARACTERS_RE.sub("", re.sub(r"[\[\]:*?/\\]", " ", title)).strip().strip("'").strip()
    while len(name.encode("utf-16-le")) > 2 * MAX_SHEET_NAME:
        name = name[:-1]
    return name.rstrip().rstrip("'") or "Sheet1"


def _text(value: Any) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))[:MAX_TEXT]


def _finite(value: int | float | Decimal) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite()
    return isinstance(value, int) or math.isfinite(value)


def _cell_writer(worksheet, kind: str, formats: dict[str, Any]) -> Callable[[int, int, Any], Any]:
    """The function writing one value of a column: text as text, numbers with the kind's format,
    dates and moments (shown in the configured zone) as Excel dates, anything else as its text."""
    write_string, write_number = worksheet.write_string, worksheet.write_number
    write_datetime, write_boolean = worksheet.write_datetime, worksheet.write_boolean
    if kind == "text":  # whatever the value, its text
        def text_cell(row: int, col: int, value: Any) -> Any:
            return write_string(row, col, _text(value))
        return text_cell

    # none in a date column: a number there is a plain number
    number_format = formats[kind] if kind in NUMBER_FORMATS else None
    date_format, datetime_format = formats["date"], formats["datetime"]

    def cell(row: int, col: int, value: Any) -> Any:
        cls = value.__class__
        if cls is int or cls is float or cls is Decimal:  # the common case first
            if _finite(value):
                return write_number(row, col, value, number_format)
            return write_string(row, col, _text(value))
        if cls is str:
            return write_string(row, col, _text(value))
        if isinstance(value, bool):
            return write_boolean(row, col, value)
        if isinstance(value, datetime):  # Excel has no time zones: shown in the configured zone
            return write_datetime(row, col, _naive_local(value), datetime_format)
        if isinstance(value, date):
            return write_datetime(row, col, value, date_format)
        if isinstance(value, time):
            return write_string(row, col, value.isoformat())
        if isinstance(value, int | float | Decimal) and _finite(value):
            return write_number(row, col, value, number_format)
        return write_string(row, col, _text(value))

    return cell


def write_xlsx(target, sheet_title: str, columns: list[Column], rows: Iterable[Sequence],
               *, title: str | None = None) -> int:
    """Write the workbook to `target` (a path or a binary file), pulling the rows one by one;
    returns the number of data rows. The header row is bold and frozen (the rows scroll under it);
    an optional bold title line above it."""
    with tempfile.TemporaryDirectory(prefix="export-") as tmpdir:
        workbook = xlsxwriter.Workbook(target, {**WORKBOOK_OPTIONS, "tmpdir": tmpdir})
        formats = {kind: workbook.add_format({"num_format": code}) for kind, code in NUMBER_FORMATS.items()}
        formats["date"] = workbook.add_format({"num_format": DATE_FORMAT})
        formats["datetime"] = workbook.add_format({"num_format": DATETIME_FORMAT})
        header_format = workbook.add_format({"bold": True, "valign": "vcenter", "text_wrap": True})
        worksheet = workbook.add_worksheet(sheet_name(sheet_title))
        for index, column in enumerate(columns):
            # the file holds the width in characters as given (set_column adds 5 pixels of padding: 8 → 8.71)
            worksheet.set_column_pixels(index, index, round(column.width * DIGIT_PIXELS))
        header_row = 1 if title else 0
        worksheet.freeze_panes(header_row + 1, 0)
        if title:
            worksheet.write_string(0, 0, _text(title), workbook.add_format({"bold": True, "font_size": 13}))
        for index, column in enumerate(columns):
            worksheet.write_string(header_row, index, _text(column.header), header_format)
        cells = list(enumerate(_cell_writer(worksheet, column.kind, formats) for column in columns))
        count = 0
        for number, row in enumerate(rows, start=header_row + 1):
            count += 1
            for (index, cell), value in zip(cells, row, strict=False):
                if value is not None:
                    cell(number, index, value)
        workbook.close()
    return count


def _chunks(handle) -> Iterator[bytes]:
    try:
        while block := handle.read(CHUNK):
            yield block
    finally:
        handle.close()


def xlsx_response(filename: str, sheet_title: str, columns: list[Column], rows: Iterable[Sequence],
                  *, title: str | None = None) -> Response:
    """The rows as an xlsx download: bold Chinese header row frozen below, widths and number
    formats from the columns, an optional title row above. Built into a temporary file (removed
    when the response closes) and streamed in chunks."""
    # no name on disk: gone once closed, which the response does after the last chunk
    handle = tempfile.TemporaryFile(prefix="export-", suffix=".xlsx")  # noqa: SIM115
    try:
        write_xlsx(handle, sheet_title, columns, rows, title=title)
        size = handle.tell() or os.fstat(handle.fileno()).st_size
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    response = Response(_chunks(handle), mimetype=XLSX_MIMETYPE, direct_passthrough=True)
    response.call_on_close(handle.close)  # also when the body is never read
    response.content_length = size
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- csv ------------------------------------------------------------------------------------------

def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return _csv_moment(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_LEAD) else text


def _csv_moment(value: Any) -> str:
    if isinstance(value, datetime):
        return _naive_local(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _csv_plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return _csv_moment(value)
    return str(value)


def _csv_percent(value: Any) -> str:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return f"{Decimal(str(value)) * 100:.1f}%"
    return _csv_plain(value)


CSV_FORMATTERS = {"text": _csv_text, "int": _csv_plain, "decimal": _csv_plain, "date": _csv_plain,
                  "percent": _csv_percent}
CSV_FLUSH = 16 * 1024  # characters gathered before a chunk goes out


def csv_value(column: Column, value: Any) -> str:
    """One CSV field: dates ISO, moments in the local zone to the minute, percent as 12.5%, text
    that a spreadsheet would run as a formula prefixed with an apostrophe."""
    return CSV_FORMATTERS[column.kind](value)


def csv_lines(columns: list[Column], rows: Iterable[Sequence]) -> Iterator[bytes]:
    """The CSV in UTF-8 piece by piece: the BOM with the header line, then the rows as they come,
    sent on every CSV_FLUSH characters (a few hundred rows), never all held at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.header for column in columns])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    formatters = [CSV_FORMATTERS[column.kind] for column in columns]
    writerow = writer.writerow
    for row in rows:
        writerow([fmt(value) for fmt, value in zip(formatters, row, strict=False)])
        if buffer.tell() >= CSV_FLUSH:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def csv_response(filename: str, columns: list[Column], rows: Iterable[Sequence]) -> Response:
    """The rows as a CSV download (UTF-8 with BOM so Excel reads the Chinese right), streamed:
    each row is written when the client reads it, inside the request's context."""
    body = csv_lines(columns, rows)
    if has_request_context():
        body = stream_with_context(body)
    response = Response(body, content_type=CSV_MIMETYPE)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "no-store"
    return response
