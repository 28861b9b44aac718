"""Measures read from the data against hand-counted ones; publish and recompute."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.integrity.models import Flag
from app.rankings import services
from app.rankings.models import RankingPublication
from app.reports import services as reports
from app.reports.models import Report
from app.workflow import WorkflowFileError, load_ranking
from tests.rankings.conftest import EXPECTED, override

TODAY = date(2025, 11, 20)


def _measures(world, period_label="2025年3月", kind=None, day=TODAY):
    plan = world["plan"]
    periods = services.plan_periods(plan)
    period = next(p for p in periods if p.label == period_label)
    return services.live_ranking(plan, periods, period, day, kind)


def _as_table(ranking):
    return {u.unit: (u.due, u.on_time, u.overdue, u.urges, u.open_flags, u.returned) for u in ranking.inputs}


def test_measures_match_the_hand_count(ranked):
    ranking = _measures(ranked)
    assert _as_table(ranking) == EXPECTED
    assert ranking.formula.version == "2025.1"
    ranks = {r.unit: r.rank for r in ranking.rows}
    assert ranks["自治区发展改革委"] == 7  # all on time, nothing else: lags least
    assert ranks["甲市"] == ranks["乙盟"] == 1  # nothing at all, most due reports: equal and first
    scores = {r.unit: r.score for r in ranking.rows}
    # 工信厅: on time 1/3 (40 × 0.6667) + overdue 1/3 (25 × 0.3333) + urges 2/3 (15 × 0.6667)
    # + returned 1/3 ÷ 0.5 (10 × 0.6667) = 26.668 + 8.3325 + 10.0005 + 6.667 = 51.67
    assert scores["自治区工业和信息化厅"] == "51.67"


def test_periods_after_the_chosen_one_are_not_counted(ranked):
    feb_only = _as_table(_measures(ranked, "2025年2月"))
    assert feb_only["自治区工业和信息化厅"] == (1, 1, 0, 0, 0, 1)
    assert feb_only["自治区教育厅"] == (1, 0, 0, 0, 0, 0)  # a second late; the flag is on March


def test_unit_kind_ranks_one_kind_among_itself(ranked):
    ranking = _measures(ranked, kind="league_city")
    assert set(_as_table(ranking)) == {"甲市", "乙盟"}
    assert all(r.rank == 1 for r in ranking.rows)


def test_an_override_of_the_due_date_counts(ranked):
    override(ranked["feb"], ranked["edu"], date(2025, 3, 10))
    db.session.commit()
    assert _as_table(_measures(ranked))["自治区教育厅"] == (3, 3, 0, 0, 1, 0)


def test_facts_after_the_cut_off_are_not_counted(ranked):
    # on 2025-04-12: Q1 (due 04-15) is not due yet; the Mar report, submitted 04-10, was late
    early = _as_table(_measures(ranked, day=date(2025, 4, 12)))
    assert early["自治区工业和信息化厅"] == (2, 1, 0, 0, 0, 1)
    # on 2025-04-18: Q1 is due; the urge of 04-16 counts, the escalation of 04-22 not yet
    later = _as_table(_measures(ranked, day=date(2025, 4, 18)))
    assert later["自治区工业和信息化厅"] == (3, 1, 1, 1, 0, 1)


def test_no_formula_in_force_is_a_clear_error(ranked):
    with pytest.raises(services.RankingError, match="没有生效的排名公式"):
        _measures(ranked, day=date(2024, 12, 1))


def _staff() -> User:
    return db.session.execute(select(User).where(User.username == "staff")).scalar_one()


def test_publish_stores_everything_and_recompute_agrees(ranked):
    before, _ = audit.current_head()
    pub = services.publish(ranked["plan"], ranked["mar"], _staff(), "三月排名", TODAY)
    db.session.commit()
    pub = db.session.get(RankingPublication, pub.id)
    assert pub.formula_version == "2025.1" and pub.formula["measures"][0]["key"] == "on_time_rate"
    assert pub.audit_seq == before and pub.period_id == ranked["mar"].id and pub.note == "三月排名"
    assert services.local_day(pub.as_of) == TODAY
    assert {i["unit"]: (i["due"], i["on_time"], i["overdue"], i["urges"], i["open_flags"], i["returned"])
            for i in pub.inputs} == EXPECTED
    event_ = db.session.execute(select(AuditEvent).where(AuditEvent.action == "ranking.publish")).scalar_one()
    assert event_.entity_id == str(pub.id) and event_.username == "staff"
    assert services.digest(pub.rows) in event_.content and services.digest(pub.inputs) in event_.content
    check = services.recompute(pub)
    assert check.rows_from_inputs_equal and check.digests_equal and check.formula_in_file == "same"
    assert check.head_in_log
    assert check.data_equal, (check.input_changes, check.row_changes)


def test_a_correction_after_publishing_shows_in_the_recompute_only(ranked):
    pub = services.publish(ranked["plan"], ranked["mar"], _staff(), None, TODAY)
    db.session.commit()
    stored_rows, stored_inputs = [dict(r) for r in pub.rows], [dict(i) for i in pub.inputs]
    # after issue: 教育厅's March report is returned (a report corrected), and a figure of 发展改革委
    # is questioned by a plausibility flag
    march = db.session.execute(select(Report).where(Report.assignment_id == ranked["edu"].id,
                                                    Report.period_id == ranked["mar"].id)).scalar_one()
    reports.transition(march, "return", _staff(), "数据口径不一致")
    flagged = pub.inputs[0]
    ndrc = next(i for i in pub.inputs if i["unit"] == "自治区发展改革委")
    indicator_id = db.session.execute(select(Flag.indicator_id)).scalars().first()
    db.session.add(Flag(rule="jump", plan_id=ranked["plan"].id, unit_id=ndrc["unit_id"], indicator_id=indicator_id,
                        period_id=ranked["feb"].id, message="环比跳变", evidence={}, state="open",
                        raised_at=datetime(2025, 11, 21)))
    db.session.commit()
    db.session.expire_all()
    pub = db.session.get(RankingPublication, pub.id)
    assert pub.rows == stored_rows and pub.inputs == stored_inputs  # the publication is frozen
    check = services.recompute(pub)
    assert check.rows_from_inputs_equal and check.digests_equal
    assert not check.data_equal
    changes = {(c["unit"], c["field"]): (c["stored"], c["now"]) for c in check.input_changes}
    assert changes == {("自治区教育厅", "returned"): (0, 1), ("自治区教育厅", "overdue"): (0, 1),
                       ("自治区发展改革委", "open_flags"): (0, 1)}
    assert {c["unit"] for c in check.row_changes} >= {"自治区教育厅", "自治区发展改革委"}
    assert flagged  # the stored inputs were not touched by the check


def test_a_tampered_publication_fails_its_checks(ranked):
    pub = services.publish(ranked["plan"], ranked["mar"], _staff(), None, TODAY)
    db.session.commit()
    pub.rows = [{**pub.rows[0], "rank": 99}, *pub.rows[1:]]  # (the table has no trigger; the log has the digest)
    pub.audit_hash = "0" * 64
    check = services.recompute(pub)
    assert not check.rows_from_inputs_equal and check.digests_equal is False and not check.head_in_log


def test_the_stored_formula_is_used_even_when_the_file_changes(ranked, app, monkeypatch):
    pub = services.publish(ranked["plan"], ranked["mar"], _staff(), None, TODAY)
    db.session.commit()
    from app.rankings.formula import Formula, RankingDefinitions

    changed = Formula.from_dict({**pub.formula, "measures": [{**pub.formula["measures"][0], "weight": "90"},
                                                             *pub.formula["measures"][1:]]})
    monkeypatch.setitem(app.extensions["workflows"].extras, "ranking", RankingDefinitions((changed,)))
    check = services.recompute(pub)
    assert check.formula_in_file == "changed" and check.data_equal and check.rows_from_inputs_equal


def test_publish_refuses_bad_requests(ranked):
    liaison = db.session.execute(select(User).where(User.username == "lx-own")).scalar_one()
    with pytest.raises(services.RankingError, match="领导小组办公室"):
        services.publish(ranked["plan"], ranked["mar"], liaison, None, TODAY)
    with pytest.raises(services.RankingError, match="500"):
        services.publish(ranked["plan"], ranked["mar"], _staff(), "长" * 501, TODAY)
    with pytest.raises(services.RankingError, match="没有到期的报告"):
        services.publish(ranked["plan"], ranked["feb"], _staff(), None, date(2025, 3, 1))
    assert db.session.execute(select(RankingPublication)).first() is None


def test_unit_items_break_down_the_unit_figures(ranked):
    plan = ranked["plan"]
    periods = services.plan_periods(plan)
    items = services.unit_items(plan, periods, ranked["mar"], ranked["it"].unit, TODAY, services.formula_for(TODAY))
    assert [(i.task_number, i.due, i.on_time, i.overdue, i.urges, i.returned) for i in items] == [(2, 3, 1, 1, 2, 1)]


def test_measures_take_a_fixed_number_of_statements(ranked):
    statements = []

    def count(*args, **kwargs):
        statements.append(1)

    assert ranked["plan"].id  # (loaded before counting)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        _measures(ranked)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 6  # periods, reports by unit, units, urges, returns, flags


RANKING_YAML = Path(__file__).resolve().parents[2] / "workflows" / "ranking.yaml"


@pytest.mark.parametrize(("old", "new", "line_of", "words"), [
    ("        weight: 25\n", "        weight: -1\n", "        weight: -1", "above 0"),
    ("      - key: returned\n", "      - key: returns\n", "      - key: returns", "unknown measure"),
    ("    effective: 2025-01-01\n", "    effective: soon\n", "    effective: soon", "date"),
    ("        steps: [urge, escalate, refer]\n", "        steps: []\n", "        steps: []", "non-empty"),
    ("    tie_break: [overdue,", "    tie_break: [late,", "    tie_break: [late,", "not a measure"),
])
def test_ranking_file_errors_name_the_file_and_line(tmp_path, old, new, line_of, words):
    text = RANKING_YAML.read_text(encoding="utf-8")
    assert old in text
    bad = text.replace(old, new, 1)
    path = tmp_path / "ranking.yaml"
    path.write_text(bad, encoding="utf-8")
    line = next(n for n, row in enumerate(bad.splitlines(), start=1) if row.startswith(line_of))
    with pytest.raises(WorkflowFileError) as caught:
        load_ranking(path)
    assert f"ranking.yaml, line {line}:" in str(caught.value) and words in str(caught.value)


def test_the_shipped_ranking_file_loads():
    defs = load_ranking(RANKING_YAML)
    assert defs.current(TODAY).version == "2025.1"


def test_the_version_in_force_on_the_day_is_used_and_recorded(ranked, app, monkeypatch):
    from dataclasses import replace

    from app.rankings.formula import RankingDefinitions

    shipped = services.definitions().versions[0]
    later = replace(shipped, version="2025.2", effective=date(2025, 11, 1), min_due_reports=7)
    monkeypatch.setitem(app.extensions["workflows"].extras, "ranking", RankingDefinitions((shipped, later)))
    assert _measures(ranked, day=date(2025, 10, 31)).formula.version == "2025.1"
    ranking = _measures(ranked, day=TODAY)
    assert ranking.formula.version == "2025.2"
    assert {r.unit for r in ranking.rows if r.rank is None} == {"自治区工业和信息化厅", "自治区发展改革委", "自治区教育厅",
                                                                "自治区人力资源社会保障厅", "自治区商务厅"}
    pub = services.publish(ranked["plan"], ranked["mar"], _staff(), None, TODAY)
    assert pub.formula_version == "2025.2" and pub.formula["min_due_reports"] == 7
