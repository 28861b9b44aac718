"""Benchmark of audit-chain verification: events verified per second.

Run from the repository root:  .venv/bin/python bench/bench_audit_chain.py [--events N] [--runs R]

Builds N realistic events in memory (Chinese text, Decimals, aware datetimes, before/after dicts), chained
as the writer chains them, then times ``verify_chain`` R times and prints the median rate for two row
shapes: content as the stored canonical text (what the ``audit_event.content`` column holds, the path
``verify`` takes) and content as a mapping read back from a JSON column (re-serialised per event).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.audit.chain import GENESIS_HASH, ChainRow, make_row, verify_chain

UNITS = [
    "呼和浩特市",
    "包头市",
    "呼伦贝尔市",
    "兴安盟",
    "通辽市",
    "赤峰市",
    "锡林郭勒盟",
    "乌兰察布市",
    "鄂尔多斯市",
    "巴彦淖尔市",
    "乌海市",
    "阿拉善盟",
    "自治区人力资源社会保障厅",
    "自治区发展改革委",
]
ACTIONS = ["report.submit", "report.return", "figure.update", "assignment.update", "reminder.sent"]
BEIJING = timezone(timedelta(hours=8))


def realistic_content(i: int) -> dict:
    """One event as services.record writes it: who, unit, when, from where, what, before and after."""
    unit = UNITS[i % len(UNITS)]
    at = datetime(2025, 3, 1, 8, 0, tzinfo=UTC) + timedelta(
        seconds=37 * i, microseconds=(i * 7919) % 1_000_000
    )
    value = Decimal(i % 500) / Decimal(10) + Decimal("0.5")
    return {
        "at": at,
        "user": f"liaison{i % 97:02d}",
        "user_id": 1000 + i % 97,
        "unit": unit,
        "ip": f"10.{i % 7}.{i % 251}.{i % 13 + 1}",
        "request_id": f"{i:032x}",
        "action": ACTIONS[i % len(ACTIONS)],
        "entity": {"type": "Figure", "id": str(50_000 + i)},
        "changes": {
            "value": [value, value + Decimal("1.20")],
            "note": [
                "截至本月底城镇新增就业人数",
                f"{unit}截至本月底城镇新增就业人数（已核实，含零工市场登记）",
            ],
            "period_end": [date(2025, 5, 31), date(2025, 5, 31)],
            "entered_at": [None, (at + timedelta(hours=3)).astimezone(BEIJING)],
        },
    }


def build_chain(n: int) -> list[ChainRow]:
    rows = []
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        row = make_row(i, prev, realistic_content(i))
        rows.append(row)
        prev = row.hash
    return rows


def time_verify(rows: list[ChainRow], runs: int) -> float:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        result = verify_chain(rows)
        elapsed = time.perf_counter() - start
        if not result.ok or result.count != len(rows):
            raise SystemExit(f"verification failed: {result.message}")
        rates.append(len(rows) / elapsed)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    rows = build_chain(args.events)
    print(
        f"built {len(rows):,} events in {time.perf_counter() - start:.1f} s "
        f"(mean canonical content {sum(len(r.content.encode()) for r in rows) / len(rows):.0f} bytes)"
    )

    text_rate = time_verify(rows, args.runs)
    print(
        f"verify_chain, content as stored canonical text: median {text_rate:,.0f} events/s "
        f"over {args.runs} runs"
    )

    mapping_rows = [replace(r, content=json.loads(r.content)) for r in rows]
    mapping_rate = time_verify(mapping_rows, args.runs)
    print(
        f"verify_chain, content as a mapping (JSON column): median {mapping_rate:,.0f} events/s "
        f"over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
