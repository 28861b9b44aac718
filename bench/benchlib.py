"""What the benchmarks on the national-scale PostgreSQL database share: where the project and the
database are, the frozen date the synthetic data is built around, and percentiles.

A bench script imports it as `from benchlib import …` (Python puts the script's folder, bench/,
first on the path); importing it puts the project root on the path so `app` imports too."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
# pt_bench: 300 plans, ~100,000 assignments, ~1,000,000 reports; bench_pages.py --db postgresql builds it
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/pt_bench")
TODAY = date(2025, 12, 20)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0–1) of the values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
