"""Who used the CPU during a load phase: the load client itself, gunicorn (master and workers), the
PostgreSQL backends of the load database, and everything else on the machine (from /proc, Linux only)."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15 of the full line)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(parts[:8])
    idle = parts[3] + parts[4]
    return (total - idle) / TICK, total / TICK


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Snapshot:
    client: float
    gunicorn: dict[int, float]
    postgres: dict[int, float]
    busy: float
    total: float


def snapshot(gunicorn_master: int, postgres_pids: list[int]) -> Snapshot:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    gun = {p: _proc_cpu(p) for p in [gunicorn_master, *_children(gunicorn_master)]}
    busy, total = _machine()
    return Snapshot(usage.ru_utime + usage.ru_stime, gun, {p: _proc_cpu(p) for p in postgres_pids}, busy, total)


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(p, 0.0) for p, v in after.items())


def usage(before: Snapshot, after: Snapshot, wall: float) -> dict:
    """CPU seconds per party in the interval and each one's share of the machine's capacity."""
    cores = os.cpu_count() or 1
    client = after.client - before.client
    gun = _delta(before.gunicorn, after.gunicorn)
    pg = _delta(before.postgres, after.postgres)
    busy = after.busy - before.busy
    capacity = wall * cores
    parts = {"load client": client, "gunicorn": gun, "postgres (load db)": pg,
             "everything else": max(busy - client - gun - pg, 0.0), "idle": max(capacity - busy, 0.0)}
    return {"cores": cores, "wall_seconds": round(wall, 1),
            "cpu_seconds": {k: round(v, 1) for k, v in parts.items()},
            "share_percent": {k: round(100 * v / capacity, 1) for k, v in parts.items()}}


def format_usage(u: dict) -> str:
    return (f"CPU over {u['wall_seconds']} s on {u['cores']} cores: "
            + ", ".join(f"{k} {u['cpu_seconds'][k]} s ({u['share_percent'][k]} %)" for k in u["cpu_seconds"]))
