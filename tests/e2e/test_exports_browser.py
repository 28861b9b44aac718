"""In a real browser against a real HTTP server: office staff open the matrix of October, download
it as Excel and the month's figures as CSV from the links on the page; the files open and hold
the data, under their Chinese names."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.e2e.pages import login, main_text, october_report

pytestmark = pytest.mark.browser


def test_staff_download_the_matrix_and_the_figures(browser, live_server, shots):
    base, app = live_server["url"], live_server["app"]
    _, october = october_report(app, accept=True)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    login(page, base, "staff1")
    page.goto(f"{base}/review/plans/mini-2025/matrix?period={october}")
    main_text(page, "导出 Excel / CSV")
    shots(page, "matrix-with-export-links")

    with page.expect_download() as info:
        page.click("text=矩阵 Excel")
    download = info.value
    assert download.suggested_filename == "mini-2025-2025-10-01-任务落实矩阵.xlsx"
    ws = load_workbook(io.BytesIO(download.path().read_bytes())).active
    assert "2025年10月" in ws["A1"].value
    assert [c.value for c in ws[2]][:3] == ["任务编号", "任务名称", "自治区发展改革委"]
    assert ws.freeze_panes == "A3"
    row = next(r for r in ws.iter_rows(min_row=3, values_only=True) if r[0] == 2)
    assert "已通过（牵头）" in row

    with page.expect_download() as info:
        page.click("text=本期填报数值 CSV")
    download = info.value
    assert download.suggested_filename == "mini-2025-2025-10-01-填报数值.csv"
    raw = download.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["任务编号", "任务名称", "责任单位", "指标"]
    assert rows[1][:7] == ["2", "提高第二产业就业比重", "自治区工业和信息化厅", "挖掘新就业岗位", "12.5000", "万个", "已通过"]
    shots(page, "after-downloads")
    assert csp_errors == []
    ctx.close()
