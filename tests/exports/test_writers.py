"""The shared xlsx/CSV writers: headers, frozen pane, widths, number cells, BOM, lazy rows, file names."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from openpyxl import load_workbook

from app.exports.writers import Column, content_disposition, csv_response, csv_value, xlsx_response

COLUMNS = [Column("任务编号", 8), Column("单位", 30), Column("数值", 12, "decimal"), Column("人数", 10, "int"),
           Column("提交日期", 12, "date"), Column("完成率", 10, "percent")]
ROWS = [("1", "自治区人社厅", Decimal("12.50"), 3, date(2025, 11, 3), 0.25),
        ("2", "=HYPERLINK(\"http://x\")", None, 0, datetime(2025, 11, 4, 1, 30, tzinfo=UTC), Decimal("1")),
        ("-3", "包头市", 7.0, 12345, None, None)]


@pytest.fixture
def plain_app():
    app = Flask(__name__)
    app.config["TIMEZONE"] = "Asia/Shanghai"
    with app.test_request_context():
        yield app


def _body(response) -> bytes:
    data = b"".join(response.response)
    response.close()
    return data


def _sheet(response):
    return load_workbook(io.BytesIO(_body(response))).active


def test_xlsx_headers_frozen_pane_widths_and_types(plain_app):
    ws = _sheet(xlsx_response("x.xlsx", "填报数据", COLUMNS, iter(ROWS)))
    assert ws.title == "填报数据"
    assert [c.value for c in ws[1]] == [c.header for c in COLUMNS]
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert [ws.column_dimensions[letter].width for letter in "ABCDEF"] == [8, 30, 12, 10, 12, 10]
    first = [c.value for c in ws[2]]
    assert first[:4] == ["1", "自治区人社厅", 12.5, 3] and isinstance(first[2], float | int)
    assert first[4] == datetime(2025, 11, 3) and ws["E2"].number_format == "yyyy-mm-dd"
    assert first[5] == 0.25 and ws["F2"].number_format == "0.0%"
    assert ws["C2"].number_format == "#,##0.00" and ws["D2"].number_format == "#,##0"
    # a text that looks like a formula stays text; an aware moment is shown in Beijing time
    assert ws["B3"].data_type == "s" and ws["B3"].value.startswith("=HYPERLINK")
    assert ws["E3"].value == datetime(2025, 11, 4, 9, 30)
    assert ws["C3"].value is None and ws.max_row == 4


def test_xlsx_title_row_puts_the_header_below_it(plain_app):
    ws = _sheet(xlsx_response("x.xlsx", "矩阵", COLUMNS, iter(ROWS), title="内政发〔2025〕7号 2025年11月"))
    assert ws["A1"].value == "内政发〔2025〕7号 2025年11月" and ws["A1"].font.bold
    assert [c.value for c in ws[2]] == [c.header for c in COLUMNS]
    assert ws.freeze_panes == "A3"
    assert ws["A3"].value == "1"


def test_xlsx_is_attachment_with_utf8_name_and_length(plain_app):
    response = xlsx_response("逾期清单-2025-11-20.xlsx", "逾期", COLUMNS, iter(ROWS))
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert 'filename="2025-11-20.xlsx"' in disposition
    assert "filename*=UTF-8''%E9%80%BE%E6%9C%9F%E6%B8%85%E5%8D%95-2025-11-20.xlsx" in disposition
    assert response.content_length == len(_body(response))


def test_xlsx_consumes_rows_lazily_and_removes_its_file(plain_app, monkeypatch):
    """The rows are pulled one by one while the sheet is written: never listed first."""
    from xlsxwriter.utility import xl_rowcol_to_cell
    from xlsxwriter.worksheet import Worksheet

    import app.exports.writers as writers

    events: list[tuple[str, str]] = []

    def spying(name):
        real = getattr(Worksheet, name)

        def spy(self, row, col, *args):
            events.append(("cell", xl_rowcol_to_cell(row, col)))
            return real(self, row, col, *args)

        return spy

    for name in ("write_string", "write_number", "write_datetime", "write_boolean", "write_blank"):
        monkeypatch.setattr(Worksheet, name, spying(name))

    def rows():
        for n in range(3):
            events.append(("pull", str(n)))
            yield (str(n), "单位", n, n, None, None)

    handles = []
    real = writers.tempfile.TemporaryFile

    def tracking(*args, **kwargs):
        handles.append(real(*args, **kwargs))
        return handles[-1]

    monkeypatch.setattr(writers.tempfile, "TemporaryFile", tracking)
    response = xlsx_response("x.xlsx", "s", COLUMNS, rows())
    # the header first, then each row is written before the next is pulled
    assert events == [("cell", f"{c}1") for c in "ABCDEF"] + [
        e for n in range(3) for e in [("pull", str(n)), *[("cell", f"{c}{n + 2}") for c in "ABCD"]]]
    assert not handles[0].closed
    data = _body(response)
    assert handles[0].closed and data.startswith(b"PK")


def test_xlsx_leaves_no_temporary_file_behind_even_when_the_rows_fail(plain_app, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _body(xlsx_response("x.xlsx", "s", COLUMNS, iter(ROWS)))
    assert list(tmp_path.iterdir()) == []

    def failing():
        yield ROWS[0]
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        xlsx_response("x.xlsx", "s", COLUMNS, failing())
    assert list(tmp_path.iterdir()) == []


def test_xlsx_text_is_cleaned_capped_and_never_a_formula_number_or_link(plain_app):
    columns = [Column("文本"), Column("数值", kind="int"), Column("日期", kind="date")]
    rows = [("a\x01b\x1f", "007", "2025-01-01"), ("x" * 40_000, "http://example.com", "=1+1"),
            (True, float("nan"), 5)]
    ws = _sheet(xlsx_response("x.xlsx", "a[b]:c*d?e/f\\g" + "长" * 40, columns, iter(rows)))
    assert ws.title == ("a b  c d e f g" + "长" * 40)[:31]
    assert ws["A2"].value == "ab" and ws["B2"].value == "007" and ws["C2"].value == "2025-01-01"
    assert len(ws["A3"].value) == 32767 and ws["B3"].value == "http://example.com" and not ws["B3"].hyperlink
    assert ws["C3"].data_type == "s" and ws["C3"].value == "=1+1"
    assert ws["A4"].value == "True" and ws["B4"].value == "nan" and ws["C4"].value == 5


def test_xlsx_writes_a_large_sheet_in_batches_with_flat_memory(plain_app):
    import tracemalloc

    def rows(n):
        for i in range(n):
            yield (str(i), "自治区人力资源社会保障厅" * 2, Decimal(i) / 4, i, date(2025, 1, 1), 0.5)

    tracemalloc.start()
    xlsx_response("x.xlsx", "s", COLUMNS, rows(1_000)).close()
    small = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    response = xlsx_response("x.xlsx", "s", COLUMNS, rows(10_000))
    large = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert large < small * 2  # ten times the rows, not ten times the memory
    ws = load_workbook(io.BytesIO(_body(response)), read_only=True).active
    assert sum(1 for _ in ws.iter_rows()) == 10_001


def test_csv_sends_rows_in_chunks_as_they_come(plain_app):
    pulled: list[int] = []

    def rows():
        for n in range(3000):
            pulled.append(n)
            yield (str(n), "自治区人力资源社会保障厅")

    body = iter(csv_response("x.csv", [Column("编号"), Column("单位")], rows()).response)
    assert next(body).decode() == "\ufeff编号,单位\r\n" and pulled == []
    first = next(body)
    assert 0 < len(pulled) < 3000 and len(first) >= 16 * 1024  # a chunk, not the whole file
    rest = b"".join(body)
    assert len(pulled) == 3000 and (first + rest).count(b"\r\n") == 3000


def test_csv_bom_header_and_values(plain_app):
    response = csv_response("figures.csv", COLUMNS, iter(ROWS))
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="figures.csv"'
    text = _body(response).decode("utf-8")
    assert text.startswith("\ufeff任务编号,单位,")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == [c.header for c in COLUMNS]
    assert rows[1] == ["1", "自治区人社厅", "12.50", "3", "2025-11-03", "25.0%"]
    assert rows[2] == ["2", "'=HYPERLINK(\"http://x\")", "", "0", "2025-11-04 09:30", "100.0%"]
    assert rows[3][0] == "'-3"


def test_csv_is_streamed_row_by_row(plain_app, monkeypatch):
    import app.exports.writers as writers

    monkeypatch.setattr(writers, "CSV_FLUSH", 1)  # a chunk per row
    pulled: list[int] = []

    def rows():
        for n in range(3):
            pulled.append(n)
            yield (str(n),)

    response = csv_response("x.csv", [Column("编号")], rows())
    assert pulled == []  # nothing read before the client reads
    body = iter(response.response)
    assert next(body).decode() == "\ufeff编号\r\n" and pulled == []
    assert next(body).decode() == "0\r\n" and pulled == [0]
    assert b"".join(body) == b"1\r\n2\r\n" and pulled == [0, 1, 2]


@pytest.mark.parametrize(("kind", "value", "expected"), [
    ("text", None, ""),
    ("text", "=1+1", "'=1+1"),
    ("text", "+86", "'+86"),
    ("text", "@x", "'@x"),
    ("text", "普通", "普通"),
    ("decimal", Decimal("-3.5"), "-3.5"),
    ("int", -2, "-2"),
    ("percent", 0.125, "12.5%"),
    ("percent", Decimal("0.5"), "50.0%"),
    ("date", date(2025, 1, 2), "2025-01-02"),
    ("date", datetime(2025, 1, 2, 3, 4), "2025-01-02 03:04"),
])
def test_csv_value(plain_app, kind, value, expected):
    assert csv_value(Column("h", kind=kind), value) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("overdue.csv", 'attachment; filename="overdue.csv"'),
    ("矩阵.xlsx", "attachment; filename=\"export.xlsx\"; filename*=UTF-8''%E7%9F%A9%E9%98%B5.xlsx"),
    ("a b;\"c\".csv", "attachment; filename=\"a_b_c.csv\"; filename*=UTF-8''a%20b%3B%22c%22.csv"),
])
def test_content_disposition(name, expected):
    assert content_disposition(name) == expected


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        Column("x", kind="money")
