"""The content of the briefs for a small world, against figures computed by hand: only accepted figures count,
the pace is the linear share of days, reporting status per item, lagging tasks and units, good practices, the
audit head; the quarterly analysis and the annual score sheet; the period checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.audit import services as audit
from app.briefs import content
from app.briefs.content import BriefError, report_status
from app.briefs.services import mark_practice
from app.extensions import db
from app.plans.models import Period
from tests.briefs import world as w
from tests.conftest import FROZEN_TODAY

D = date.fromisoformat


@pytest.fixture
def small(factory):
    return w.build(factory)


def _pace(as_of: date) -> Decimal:
    """Share of the days from the plan's start (2025-02-01) to the target's due date (2025-12-31), both ends in."""
    return Decimal((as_of - D("2025-02-01")).days + 1) / Decimal((D("2025-12-31") - D("2025-02-01")).days + 1)


def _close(text: str | None, value: Decimal, places: int = 4) -> bool:
    return text is not None and abs(Decimal(text) - value) < Decimal(1) / 10**places


def test_monthly_headline_counts_only_accepted_figures_against_pace(small):
    c = content.monthly(small["plan"], small["october"], FROZEN_TODAY)
    jobs = next(i for i in c["indicators"] if i["key"] == "t2-jobs")
    # 工信厅 8 and 甲市 3 are accepted; 乙盟's 2 is only submitted
    assert jobs["total"] == "11" and jobs["reporters"] == 2 and jobs["expected_reporters"] == 3
    assert jobs["target_share"] == "0.7333"  # 11 of 15
    pace = _pace(D("2025-10-31"))
    assert _close(jobs["pace"], pace) and _close(jobs["expected"], 15 * pace, 3)
    assert _close(jobs["ratio"], 11 / (15 * pace), 3)
    assert jobs["light"] == "yellow"  # 89.7 % of the pace: below 90 %, above 60 % (workflows/lights.yaml)
    new_jobs = next(i for i in c["indicators"] if i["key"] == "new-jobs")
    assert new_jobs["total"] == "10" and new_jobs["expected_reporters"] == 3
    rate = next(i for i in c["indicators"] if i["key"] == "t3-rate")
    assert rate["total"] is None and rate["light"] is None  # its only report was returned
    studio = next(i for i in c["indicators"] if i["key"] == "t3-studio")
    assert studio["target_total"] == "2"  # one per league/city, two of them
    assert c["indicators"][0]["key"] == "new-jobs"  # the plan-level target leads


def test_monthly_reporting_status_and_lagging(small):
    c = content.monthly(small["plan"], small["october"], FROZEN_TODAY)
    r = c["reporting"]
    assert (r["total"], r["on_time"], r["late"], r["returned"], r["missing"], r["pending"]) == (11, 3, 1, 1, 6, 0)
    tasks = [(t["number"], t["overdue"], t["red"]) for t in c["lagging_tasks"]]
    assert tasks == [(3, 3, 4), (1, 3, 3)]  # task 3: a returned report past its due date is red too
    units = {u["name"]: (u["items"], u["overdue"], u["red"]) for u in c["lagging_units"]}
    assert units == {"甲市": (3, 2, 2), "乙盟": (3, 2, 2), "自治区发展改革委": (1, 1, 1), "自治区教育厅": (1, 1, 1),
                     "自治区人力资源社会保障厅": (2, 0, 1)}
    assert [u["name"] for u in c["lagging_units"]][:2] == ["乙盟", "甲市"] or \
        [u["name"] for u in c["lagging_units"]][:2] == ["甲市", "乙盟"]
    assert "自治区工业和信息化厅" not in units


def test_monthly_good_practices_and_audit_head(small):
    mark_practice(small["gxt_report"], w.user("staff"), "岗位归集“一张网”", "全区岗位信息统一归集发布。")
    db.session.commit()
    c = content.monthly(small["plan"], small["october"], FROZEN_TODAY)
    assert c["practices"] == [{"report_id": small["gxt_report"].id, "title": "岗位归集“一张网”",
                               "note": "全区岗位信息统一归集发布。", "period": "2025年10月",
                               "unit": "自治区工业和信息化厅", "task_number": 2, "task_title": "提高第二产业就业比重"}]
    seq, digest = audit.current_head()
    assert c["audit"] == {"seq": seq, "hash": digest} and seq > 0
    november = w.month("2025年11月")
    assert content.monthly(small["plan"], november, FROZEN_TODAY)["practices"] == []


def test_quarterly_trend_by_kind_and_lagging_units(small):
    q4 = db.session.query(Period).filter_by(kind="quarterly", label="2025年第4季度").one()
    c = content.quarterly(small["plan"], q4, FROZEN_TODAY)
    assert [m["label"] for m in c["months"]] == ["2025年10月", "2025年11月", "2025年12月"]
    jobs = next(t for t in c["trend"] if t["key"] == "t2-jobs")
    assert [m["total"] for m in jobs["months"]] == ["11", None, None]
    assert _close(jobs["months"][0]["expected"], 15 * _pace(D("2025-10-31")), 3)
    kinds = {k["kind"]: k for k in c["by_kind"]}
    # October only is due by 2025-11-20 (November is due 2025-12-05)
    assert (kinds["department"]["due"], kinds["department"]["submitted"], kinds["department"]["accepted"]) == (5, 2, 2)
    assert (kinds["league_city"]["due"], kinds["league_city"]["submitted"], kinds["league_city"]["on_time"]) == (6, 2, 1)
    assert kinds["league_city"]["rate"] == str(Decimal(2) / 6)[:6]
    names = [u["name"] for u in c["lagging_units"]]
    assert "自治区工业和信息化厅" not in names and "甲市" in names
    # the last month of a quarter stands for its quarter
    by_month = content.quarterly(small["plan"], w.month("2025年12月"), FROZEN_TODAY)
    assert by_month["span"]["start"] == "2025-10-01" and by_month["trend"] == c["trend"]


def test_annual_score_sheet(small):
    year = db.session.query(Period).filter_by(kind="annual").one()
    c = content.annual(small["plan"], year, FROZEN_TODAY)
    units = {u["name"]: u for u in c["units"]}
    gxt = units["自治区工业和信息化厅"]
    # due in 2025 by 2025-11-20: February … October = 9 months; one on time
    assert gxt["components"]["on_time"] == {"score": "11.1", "detail": "1/9"}
    pace = _pace(D("2025-10-31"))
    attained = (Decimal(8) / (15 * pace)).quantize(Decimal("0.000001"))
    assert gxt["components"]["target"]["score"] == f"{attained * 100:.1f}"
    assert gxt["components"]["quality"] == {"score": "100.0", "detail": "0/0"}
    assert gxt["components"]["response"] == {"score": "100.0", "detail": "0/0"}
    total = (Decimal("11.1") * 30 + Decimal(gxt["components"]["target"]["score"]) * 40 + 100 * 20 + 100 * 10) / 100
    assert gxt["total"] == f"{total.quantize(Decimal('0.1'), rounding='ROUND_HALF_UP'):.1f}"
    assert gxt["grade"] == "较差"
    # 教育厅 reports no figure measured against a target: its total is over the other components
    jy = units["自治区教育厅"]
    assert jy["components"]["target"]["score"] is None
    assert jy["total"] == f"{(Decimal(0) * 30 + 100 * 20 + 100 * 10) / 60:.1f}"
    assert [u["rank"] for u in c["units"]] == list(range(1, len(c["units"]) + 1))
    assert c["scoring"]["version"] == "2025.1" and sum(int(x["weight"]) for x in c["scoring"]["components"]) == 100
    assert sum(g["units"] for g in c["grade_counts"]) == len(c["units"]) == 6


def test_annual_counts_flags_restatements_and_urges(small):
    from datetime import datetime

    from app.integrity.models import Flag
    from app.reminders.models import LadderStep
    from app.reports import services as reports

    october = small["october"]
    gxt_report = small["gxt_report"]
    figure = gxt_report.figures[0]
    db.session.add(Flag(rule="jump", plan_id=small["plan"].id, unit_id=gxt_report.assignment.unit_id,
                        indicator_id=figure.indicator_id, period_id=october.id, figure_id=figure.id,
                        figure_ids=[figure.id], message="环比跳变", evidence={}, state="open",
                        raised_at=datetime(2025, 11, 12)))
    restatement = reports.request_restatement(figure, w.user("lx-gxt"), Decimal("9"), "补录")
    reports.decide_restatement(restatement, w.user("staff"), "approve", None)
    jia = w.item(2, "甲市")
    db.session.add(LadderStep(assignment_id=jia.id, period_id=october.id, step="urge", due=october.due,
                              day=D("2025-11-08"), taken_at=datetime(2025, 11, 8)))  # answered 11-10: 1 workday
    yi = w.item(1, "乙盟")
    db.session.add(LadderStep(assignment_id=yi.id, period_id=october.id, step="urge", due=october.due,
                              day=D("2025-11-08"), taken_at=datetime(2025, 11, 8)))  # never answered
    db.session.commit()
    year = db.session.query(Period).filter_by(kind="annual").one()
    units = {u["name"]: u for u in content.annual(small["plan"], year, FROZEN_TODAY)["units"]}
    assert units["自治区工业和信息化厅"]["components"]["quality"] == {"score": "85.0", "detail": "1/1"}
    assert units["甲市"]["components"]["response"] == {"score": "100.0", "detail": "1/1"}
    assert units["乙盟"]["components"]["response"] == {"score": "0.0", "detail": "0/1"}


@pytest.mark.parametrize(("state", "submitted_on", "due", "today", "expected"), [
    ("accepted", "2025-11-07", "2025-11-07", "2025-11-20", "on_time"),
    ("submitted", "2025-11-08", "2025-11-07", "2025-11-20", "late"),
    ("submitted", None, "2025-11-07", "2025-11-20", "on_time"),
    ("returned", "2025-11-01", "2025-11-07", "2025-11-20", "returned"),
    ("draft", None, "2025-11-07", "2025-11-20", "missing"),
    (None, None, "2025-11-07", "2025-11-07", "pending"),
    (None, None, "2025-11-07", "2025-11-08", "missing"),
])
def test_report_status_rule(state, submitted_on, due, today, expected):
    on = D(submitted_on) if submitted_on else None
    assert report_status(state, on, D(due), D(today), ("submitted", "accepted")) == expected


@pytest.mark.parametrize(("kind", "period_kind", "label", "message"), [
    ("monthly", "quarterly", "2025年第4季度", "月度简报须选择月度报送周期"),
    ("monthly", "annual", "2025年度", "月度简报须选择月度报送周期"),
    ("quarterly", "monthly", "2025年11月", "季度分析须选择季度报送周期"),
    ("quarterly", "half_year", "2025年上半年", "季度分析须选择季度报送周期"),
    ("annual", "monthly", "2025年11月", "年度评估须选择年度报送周期"),
    ("annual", "quarterly", "2025年第4季度", "年度评估须选择年度报送周期"),
])
def test_a_period_of_the_wrong_kind_is_refused(small, kind, period_kind, label, message):
    period = db.session.query(Period).filter_by(kind=period_kind, label=label).one()
    with pytest.raises(BriefError) as exc:
        content.gather(small["plan"], kind, period, FROZEN_TODAY)
    assert message in exc.value.message and exc.value.field == "period"
