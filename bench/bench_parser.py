"""Measure the plan parser (app/plans/parsing).

    .venv/bin/python bench/bench_parser.py

1. Accuracy: parses every document that has a hand-written truth (the real plan
   tests/data/plans/nmg-2025-employment-plan.txt against workflows/plans/nmg-2025-employment.yaml,
   and each tests/data/plans/<name>.{txt,docx} against tests/data/plans/<name>.yaml) and prints
   precision and recall per field, summed over all documents (and per document with -v).
   Indicators are paired by task and target value.
2. Speed: parses a synthetic 100-page plan (the real plan's tasks repeated and renumbered to
   about 60,000 characters) 5 times and prints the median.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.plans.parsing import parse_document  # noqa: E402
from app.plans.parsing.evaluate import FIELDS, FieldScore, compare_plans, describe_differences  # noqa: E402
from app.plans.parsing.reading import _chinese_number  # noqa: E402

DATA = ROOT / "tests" / "data" / "plans"
REAL_DOCUMENT = DATA / "nmg-2025-employment-plan.txt"
REAL_TRUTH = ROOT / "workflows" / "plans" / "nmg-2025-employment.yaml"


def documents_with_truths() -> list[tuple[Path, Path]]:
    pairs = [(REAL_DOCUMENT, REAL_TRUTH)]
    for truth in sorted(DATA.glob("*.yaml")):
        for suffix in (".txt", ".docx"):
            document = truth.with_suffix(suffix)
            if document.exists():
                pairs.append((document, truth))
    return pairs


def synthetic_plan(target_chars: int = 60_000) -> bytes:
    """The real plan with its tasks (sections 一–五) repeated and renumbered."""
    lines = REAL_DOCUMENT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("（一）"))
    end = next(i for i, line in enumerate(lines) if line.startswith("三、保障措施"))
    head, body, tail = lines[:start], lines[start:end], lines[end:]
    tasks_per_copy, sections_per_copy = 19, 5
    out, copy = list(head), 0
    while sum(len(line) + 1 for line in out) < target_chars - 2_000:
        for line in body:
            line = re.sub(r"^(\d+)\.", lambda m, c=copy: f"{int(m.group(1)) + tasks_per_copy * c}.", line)
            line = re.sub(r"^（([一二三四五])）",
                          lambda m, c=copy: f"（{_chinese_number('一二三四五'.index(m.group(1)) + 1 + sections_per_copy * c)}）",
                          line)
            out.append(line)
        copy += 1
    for line in tail:
        out.append(re.sub(r"^（([六七])）",
                          lambda m: f"（{_chinese_number(sections_per_copy * copy + '六七'.index(m.group(1)) + 1)}）", line))
    return ("\n".join(out) + "\n").encode("utf-8")


def accuracy(verbose: bool) -> dict[str, FieldScore]:
    total = {name: FieldScore() for name in FIELDS}
    for document, truth_path in documents_with_truths():
        draft = parse_document(document).draft
        truth = yaml.safe_load(truth_path.read_text(encoding="utf-8"))
        scores = compare_plans(draft, truth)
        for name, score in scores.items():
            total[name].true_positive += score.true_positive
            total[name].predicted += score.predicted
            total[name].expected += score.expected
        differences = describe_differences(scores)
        print(f"{document.relative_to(ROOT)}: {'matches the truth' if not differences else 'differs:'}")
        if differences:
            print("  " + differences.replace("\n", "\n  "))
        if verbose:
            for name, score in scores.items():
                print(f"    {name:18} P {score.precision:6.1%}  R {score.recall:6.1%}  "
                      f"({score.true_positive}/{score.predicted} predicted, {score.expected} expected)")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="scores per document too")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    total = accuracy(args.verbose)
    print()
    print(f"{'field':18} {'precision':>10} {'recall':>8}   matched / predicted / expected")
    low = []
    for name, score in total.items():
        print(f"{name:18} {score.precision:10.1%} {score.recall:8.1%}   "
              f"{score.true_positive} / {score.predicted} / {score.expected}")
        if score.precision < 0.95 or score.recall < 0.95:
            low.append(name)

    data = synthetic_plan()
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = parse_document(data, filename="synthetic.txt")
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print()
    print(f"synthetic plan: {len(data.decode('utf-8')):,} characters, {len(result.draft['tasks'])} tasks, "
          f"{len(result.draft['sections'])} sections")
    print(f"parse time: median {median:.3f} s of {args.runs} runs (min {min(times):.3f} s, max {max(times):.3f} s); "
          f"target < 2 s")
    if low:
        print(f"below 95 %: {', '.join(low)}")
    return 1 if low or median >= 2 else 0


if __name__ == "__main__":
    raise SystemExit(main())
