"""Shared by the benchmarks: a node filled by the synthetic township generator, cached on disk."""

from __future__ import annotations

import datetime as dt
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from node import NodeHome, NodeStore, init_home  # noqa: E402

DATA = ROOT / "bench" / ".data"
TODAY = dt.date(2026, 11, 25)


def filled_node(name: str, *, residents: int, years: int, seed: int = 7) -> NodeHome:
    """A node home with a synthetic township, built once and reused by later runs."""
    from node._synth import fill

    path = DATA / f"{name}-{residents}-{years}-{seed}"
    if (path / ".complete").exists():
        return NodeHome.open(path)
    shutil.rmtree(path, ignore_errors=True)
    home = init_home(path, clinic="511321100", name=f"bench {name}")
    db = home.database()
    store = NodeStore(db, node_id=home.node_id, today=lambda: TODAY)
    started = time.monotonic()
    last = [0.0]

    def progress(n: int) -> None:
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            print(f"  building {name}: {n}/{residents} residents", file=sys.stderr, flush=True)

    counts = fill(store, residents=residents, years=years, seed=seed, today=TODAY, progress=progress)
    db.writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(f"  built {counts} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    (path / ".complete").touch()
    return home


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p99_ms": round(percentile(samples, 99) * 1000, 3),
    }


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
