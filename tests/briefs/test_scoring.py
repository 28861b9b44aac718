"""The annual evaluation's formula: component scores, the total over the components that apply and the grade,
table-driven; workflows/scoring.yaml is valid, and a bad file is refused naming the line."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.briefs.scoring import UnitFacts, attainment, load_scoring, score_unit
from app.workflow import WorkflowFileError

ROOT = Path(__file__).resolve().parents[2]
SCORING = ROOT / "workflows" / "scoring.yaml"
D = Decimal


@pytest.fixture(scope="module")
def scoring():
    return load_scoring(SCORING)


def test_the_shipped_formula(scoring):
    assert scoring.version == "2025.1" and scoring.effective == date(2025, 1, 1)
    assert [(c.key, c.weight) for c in scoring.components] == [("on_time", 30), ("target", 40), ("quality", 20),
                                                               ("response", 10)]
    assert [(g.grade, g.min) for g in scoring.grades] == [("优秀", 90), ("良好", 75), ("一般", 60), ("较差", 0)]


# facts → (on_time, target, quality, response), total, grade
CASES = [
    (UnitFacts(due=10, on_time=10, attainments=(D(1),), urges=0), ("100.0", "100.0", "100.0", "100.0"), "100.0", "优秀"),
    (UnitFacts(due=10, on_time=9, attainments=(D("0.8"), D("1")), open_flags=1),
     ("90.0", "90.0", "90.0", "100.0"), "91.0", "优秀"),
    # 30×50 + 40×75 + 20×85 + 10×50 = 1500 + 3000 + 1700 + 500 = 6700 → 67.0
    (UnitFacts(due=4, on_time=2, attainments=(D("0.5"), D("1")), open_flags=1, restatements=1, urges=2, answered=1),
     ("50.0", "75.0", "85.0", "50.0"), "67.0", "一般"),
    # no figure measured against a target: the total is over 60 points of weight, scaled to 100
    (UnitFacts(due=3, on_time=3), ("100.0", None, "100.0", "100.0"), "100.0", "优秀"),
    (UnitFacts(due=3, on_time=0, open_flags=20), ("0.0", None, "0.0", "100.0"), "16.7", "较差"),
    # nothing due yet: on-time does not apply either
    (UnitFacts(attainments=(D("0.7"),)), (None, "70.0", "100.0", "100.0"), "82.9", "良好"),
    # attainment is capped to 0–1
    (UnitFacts(due=1, on_time=1, attainments=(D("1.5"),)), ("100.0", "100.0", "100.0", "100.0"), "100.0", "优秀"),
    # the band's edge belongs to the band: 75.0 is 良好
    (UnitFacts(due=4, on_time=3, attainments=(D("0.75"),), open_flags=0, restatements=5, urges=4, answered=3),
     ("75.0", "75.0", "75.0", "75.0"), "75.0", "良好"),
]


@pytest.mark.parametrize(("facts", "components", "total", "grade"), CASES)
def test_score_unit(scoring, facts, components, total, grade):
    result = score_unit(facts, scoring)
    assert tuple(None if c.score is None else f"{c.score:.1f}" for c in result.components) == components
    assert f"{result.total:.1f}" == total and result.grade == grade


@pytest.mark.parametrize(("comparator", "ratio", "deviation", "expected"), [
    (">=", 0.5, None, D("0.5")), (">=", 1.2, None, D(1)), (">=", None, None, None),
    ("<=", 0.9, None, D(1)), ("<=", 2.0, None, D("0.5")),
    ("~", None, 0.04, D("0.96")), ("~", None, 1.5, D(0)), ("~", None, None, None),
])
def test_attainment(comparator, ratio, deviation, expected):
    assert attainment(comparator, ratio, deviation) == expected


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = SCORING.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "scoring.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if needle in line and not line.lstrip().startswith("#"))


@pytest.mark.parametrize(("old", "new", "at", "message"), [
    ("    weight: 40\n", "    weight: 45\n", "- key: on_time", "the weights add up to 105, not 100"),
    ("    weight: 40\n", "    weight: many\n", "weight: many", "weight must be a number"),
    ("measure: data_quality", "measure: data_beauty", "data_beauty", "unknown measure 'data_beauty'"),
    ("key: quality", "key: on_time", "key: on_time\n    label: 数据质量", "is used twice"),
    ("per_open_flag: 10", "per_open_flags: 10", "per_open_flags", "takes no param 'per_open_flags'"),
    ("within_workdays: 5", "within_workdays: 2.5", "within_workdays", "must be a whole number"),
    ("{grade: 一般, min: 60}", "{grade: 一般, min: 80}", "grade: 一般", "must be below the grade before it"),
    ("{grade: 较差, min: 0}", "{grade: 较差, min: 10}", "grade: 较差", "the last grade's min must be 0"),
    ("effective: 2025-01-01", "effective: soon", "effective: soon", "'effective' must be a date"),
    ("effective: 2025-01-01", "effective: 2025-13-45", "effective: 2025-13-45", "not a valid date"),
    ("    label: 目标完成\n", "", "key: target", "component needs label"),
    ("\ngrades:\n", "\ngrade:\n", "grade:", "unknown key 'grade'"),
])
def test_a_bad_file_is_refused_naming_the_line(tmp_path, old, new, at, message):
    path = _broken(tmp_path, old, new)
    with pytest.raises(WorkflowFileError) as exc:
        load_scoring(path)
    text = str(exc.value)
    assert message in text, text
    assert f"{path}, line {_line(path, at.split(chr(10))[0]) if chr(10) not in at else _find(path, at)}:" in text, text


def _find(path: Path, block: str) -> int:
    content = path.read_text(encoding="utf-8")
    return content[:content.index(block)].count("\n") + 1


def test_a_bad_file_stops_start_up(app, tmp_path):
    from tests.conftest import make_app

    folder = tmp_path / "workflows"
    shutil.copytree(Path(app.config["WORKFLOWS_DIR"]), folder)
    (folder / "scoring.yaml").write_text(SCORING.read_text(encoding="utf-8").replace("weight: 10", "weight: 11"),
                                         encoding="utf-8")
    with pytest.raises(WorkflowFileError, match=r"scoring\.yaml, line \d+: the weights add up to 101"):
        make_app(app.config["SQLALCHEMY_DATABASE_URI"], WORKFLOWS_DIR=str(folder))
