"""Streamed xlsx and CSV writers shared by every export.

Rows come from any iterable (a generator over a streamed query) and are consumed one at a time
while writing, never collected into a list. The xlsx is written by app/exports/xlsx.py (a
streaming SpreadsheetML writer; see there why not openpyxl's write-only mode) into an anonymous
temporary file (gone when closed), then sent to the client in chunks; the CSV is written row by
row by a generator response."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Response, has_request_context, stream_with_context

from app.timeutil import to_local

from . import xlsx

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
CHUNK = 64 * 1024
KINDS = ("text", "int", "decimal", "date", "percent")

# Excel number formats per column kind (cell styles in app/exports/xlsx.py): int #,##0, decimal
# #,##0.00, date yyyy-mm-dd (a datetime: yyyy-mm-dd hh:mm), percent 0.0%.
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

def write_xlsx(target, sheet_title: str, columns: list[Column], rows: Iterable[Sequence],
               *, title: str | None = None) -> int:
    """Write the workbook to `target` (a path or a binary file); returns the number of data rows."""
    return xlsx.write(target, sheet_title, [c.header for c in columns], [c.width for c in columns],
                      [c.kind for c in columns], rows, title=title)


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
