"""The ranking pages: the live ranking with its formula, publishing, a publication with its
recompute check, the items behind a unit's figures, and the exports."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.rankings.models import RankingPublication
from app.reports import services as reports
from app.reports.models import Report


def _events(action: str) -> int:
    return db.session.execute(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == action)).scalar_one()


def test_ranking_page_shows_the_ranking_the_formula_and_its_version(app, ranked, login):
    client = login(app.test_client(), "auditor")
    page = client.get(f"/plans/{ranked['plan'].slug}/ranking?period={ranked['mar'].id}")
    assert page.status_code == 200
    text = page.text
    assert "2025.1" in text and "落后指数 = 100 × Σ" in text and "按时报送率：权重 40" in text
    # 甲市 and 乙盟 share rank 1; 发展改革委 lags least
    assert text.index("甲市") < text.index("自治区工业和信息化厅") < text.index("自治区发展改革委")
    assert "33.3%" in text  # 工信厅's on-time rate, 1 of 3
    # each count links to the items behind it
    it_unit = ranked["it"].unit_id
    assert f"/plans/{ranked['plan'].slug}/ranking/units/{it_unit}?period={ranked['mar'].id}&amp;measure=urges" in text
    assert "发布排名" not in text  # the auditor reads only


def test_the_unit_kind_filter(app, ranked, login):
    client = login(app.test_client(), "staff")
    text = client.get(f"/plans/{ranked['plan'].slug}/ranking?period={ranked['mar'].id}&kind=league_city").text
    assert "甲市" in text and "自治区发展改革委" not in text


def test_index_with_one_plan_goes_to_its_ranking(app, ranked, login):
    client = login(app.test_client(), "staff")
    response = client.get("/rankings")
    assert response.status_code == 302 and response.location.endswith(f"/plans/{ranked['plan'].slug}/ranking")


def test_unit_page_lists_the_items_behind_a_measure(app, ranked, login):
    client = login(app.test_client(), "staff")
    url = f"/plans/{ranked['plan'].slug}/ranking/units/{ranked['it'].unit_id}?period={ranked['mar'].id}"
    text = client.get(url + "&measure=urges").text
    assert "提高第二产业就业比重" in text and f"/items/{ranked['it'].id}" in text
    other = client.get(f"/plans/{ranked['plan'].slug}/ranking/units/{ranked['ndrc'].unit_id}?measure=urges").text
    assert "没有符合条件的事项" in other


def test_publish_then_the_publication_page_and_a_later_correction(app, ranked, login):
    client = login(app.test_client(), "staff")
    slug = ranked["plan"].slug
    response = client.post(f"/plans/{slug}/ranking", data={"period": str(ranked["mar"].id), "note": "三月"})
    assert response.status_code == 302
    pub = db.session.execute(select(RankingPublication)).scalar_one()
    assert response.location.endswith(f"/rankings/{pub.id}")
    text = client.get(f"/rankings/{pub.id}").text
    assert "与发布的排名一致" in text and "与审计日志记录的一致" in text and "结果与发布时相同" in text
    assert "仍在日志链中" in text
    # a report returned after issue: the page lists the difference; the frozen rows stay
    edu_march = db.session.execute(select(Report).where(Report.assignment_id == ranked["edu"].id,
                                                        Report.period_id == ranked["mar"].id)).scalar_one()
    from tests.rankings.test_services import _staff

    reports.transition(edu_march, "return", _staff(), "补充材料")
    db.session.commit()
    text = client.get(f"/rankings/{pub.id}").text
    assert "处不同" in text and "被退回" in text
    assert client.get(f"/plans/{slug}/ranking").text.count(f"/rankings/{pub.id}") >= 1  # in the list


def test_publish_with_bad_input_says_so_beside_the_field(app, ranked, login):
    client = login(app.test_client(), "staff")
    slug = ranked["plan"].slug
    before = _events("ranking.publish")
    response = client.post(f"/plans/{slug}/ranking", data={"period": str(ranked["mar"].id), "note": "长" * 501})
    assert response.status_code == 400 and "不能超过 500 个字" in response.text
    response = client.post(f"/plans/{slug}/ranking", data={"period": "999999", "note": ""})
    assert response.status_code == 400 and "请选择该方案的报送周期" in response.text
    assert db.session.execute(select(RankingPublication)).first() is None and _events("ranking.publish") == before


def test_auditor_and_liaison_may_not_publish(app, ranked, login):
    for user, status in (("auditor", 403), ("lx-own", 403)):
        client = login(app.test_client(), user)
        response = client.post(f"/plans/{ranked['plan'].slug}/ranking", data={"period": str(ranked["mar"].id)})
        assert response.status_code == status
    assert db.session.execute(select(RankingPublication)).first() is None


def test_xlsx_export_has_chinese_headers_frozen_header_and_widths(app, ranked, login):
    client = login(app.test_client(), "staff")
    before = _events("ranking.export")
    response = client.get(f"/plans/{ranked['plan'].slug}/ranking.xlsx?period={ranked['mar'].id}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.active
    header_row = next(r for r in range(1, 4) if sheet.cell(r, 1).value == "排名")
    headers = [c.value for c in sheet[header_row]]
    assert headers == ["排名", "单位", "单位类别", "应报报告数", "按时报送率", "逾期未报", "被催办", "未结疑点", "被退回",
                       "落后指数"]
    assert sheet.freeze_panes == f"A{header_row + 1}"
    assert sheet.column_dimensions["B"].width >= 20
    units = [sheet.cell(r, 2).value for r in range(header_row + 1, sheet.max_row + 1)]
    assert set(units) == {"自治区工业和信息化厅", "自治区发展改革委", "自治区教育厅", "自治区人力资源社会保障厅",
                          "自治区商务厅", "甲市", "乙盟"}
    it_row = header_row + 1 + units.index("自治区工业和信息化厅")
    assert round(float(sheet.cell(it_row, 5).value), 4) == 0.3333 and sheet.cell(it_row, 8).value == 0
    assert _events("ranking.export") == before + 1


def test_csv_export_of_a_publication(app, ranked, login):
    client = login(app.test_client(), "staff")
    client.post(f"/plans/{ranked['plan'].slug}/ranking", data={"period": str(ranked["mar"].id)})
    pub = db.session.execute(select(RankingPublication)).scalar_one()
    response = client.get(f"/rankings/{pub.id}.csv")
    assert response.status_code == 200 and response.data.startswith("\ufeff".encode())
    lines = response.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("排名,单位,单位类别,应报报告数,按时报送率")
    assert len(lines) == 1 + 7
    assert client.get(f"/rankings/{pub.id}.pdf").status_code == 404
    assert client.get(f"/plans/{ranked['plan'].slug}/ranking.pdf").status_code == 404


def test_index_lists_the_plans_when_there_are_several(app, ranked, login):
    from datetime import date

    from app.plans.models import Plan

    db.session.add(Plan(slug="second-2025", code="测政发〔2025〕2号", title="第二个测试方案", issuer="测试",
                        issued=date(2025, 3, 1), reporting_start=date(2025, 3, 1), reporting_end=date(2025, 12, 31),
                        cadence=["monthly"]))
    db.session.commit()
    client = login(app.test_client(), "auditor")
    page = client.get("/rankings")
    assert page.status_code == 200
    assert "/plans/second-2025/ranking" in page.text and f"/plans/{ranked['plan'].slug}/ranking" in page.text
    empty = client.get("/plans/second-2025/ranking")  # no periods, nothing due: an empty table, not an error
    assert empty.status_code == 200 and "还没有到期的报告" in empty.text


def test_publication_page_filters_by_unit_kind_and_keeps_the_stored_ranks(app, ranked, login):
    client = login(app.test_client(), "staff")
    client.post(f"/plans/{ranked['plan'].slug}/ranking", data={"period": str(ranked["mar"].id)})
    pub = db.session.execute(select(RankingPublication)).scalar_one()
    text = client.get(f"/rankings/{pub.id}?kind=department").text
    assert "自治区工业和信息化厅" in text and "甲市" not in text and "排名为发布时全部单位中的名次" in text
