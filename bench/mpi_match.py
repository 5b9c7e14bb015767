"""One registration matched against 1,000,000 indexed registrations: latency, bulk rate, memory.

The index (``hub.mpi.MasterIndex`` on a SQLite file) holds the first
1,000,000 of the synthetic labelled registrations (``schemas.synthetic.
registrations``, seed 11), each under its true person as master id (about
540,000 master persons), with weights estimated from the index itself. It is
built once, in a child process (so its memory is not this process's), and
cached under ``bench/.data``; 20,000 registrations drawn at random from the
same stream are held out of the index as queries: most are people already
indexed (through their other registrations), the rest are new.

Timed, in this process, reading the index file (page cache warm after a few
hundred matches, as a running hub's would be):

- ``p50_ms``/``p95_ms``: ``MasterIndex.match`` of one registration, over 5,000 queries;
- ``links_per_s``: match-then-add of 5,000 registrations in one write
  transaction, as bulk registration through the index (rolled back after);
- ``rss_mb``: this process's peak resident memory.

Also reported: ``linked_right`` (share of auto-links to the true master
person), ``missed`` (queries of an indexed person that got ``new``) and the
outcomes' counts. No arguments. ``RHIP_BENCH_SCALE`` sets the index
size for a development run (default 1,000,000). Goal: p95 ≤ 20 ms.
Last line: JSON.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import sys
import time
from collections import Counter
from itertools import islice
from pathlib import Path

from _common import DATA, TODAY, percentile, rss_mb

from hub.mpi import MasterIndex, Outcome, Registration, create_tables
from schemas.synthetic import REGISTRATION_COLUMNS, LabelledRegistration, registrations

SCALE = int(os.environ.get("RHIP_BENCH_SCALE", "1000000"))
QUERIES = 20_000
TIMED = 5_000
BULK = 5_000
SEED = 11


def build(path: Path) -> None:
    """The index of SCALE registrations and the query file, written to ``path`` (run in a child)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    conn = sqlite3.connect(path / "index.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    create_tables(conn)
    index = MasterIndex(conn)
    rng = random.Random(SEED)
    held: list[LabelledRegistration] = []
    stream = registrations(SCALE + QUERIES, seed=SEED, today=TODAY)
    started = time.monotonic()
    conn.execute("BEGIN")
    added = 0
    while added < SCALE:
        batch = []
        for r in islice(stream, 50_000):
            if len(held) < QUERIES and rng.random() < QUERIES / (SCALE + QUERIES):
                held.append(r)
            else:
                batch.append(r)
        batch = batch[: SCALE - added]
        if not batch:
            break
        index.add_many((r.person, Registration.from_row(r.row)) for r in batch)
        added += len(batch)
        print(f"  indexed {added}/{SCALE} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    index.estimate_weights(sample=5_000)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    with (path / "queries.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("person", *REGISTRATION_COLUMNS))
        for r in held:
            writer.writerow((r.person, *(r.row[c] for c in REGISTRATION_COLUMNS)))
    (path / ".complete").touch()
    print(f"  built in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


def main() -> None:
    path = DATA / f"mpi-{SCALE}-{SEED}"
    if not (path / ".complete").exists():
        child = multiprocessing.get_context("fork").Process(target=build, args=(path,))
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"building the index failed (exit {child.exitcode})")
    with (path / "queries.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    queries = [(row.pop("person"), Registration.from_row(row)) for row in rows]
    rng = random.Random(42)
    rng.shuffle(queries)

    conn = sqlite3.connect(path / "index.db", isolation_level=None)
    conn.execute("PRAGMA cache_size = -65536")
    index = MasterIndex(conn)
    size = len(index)
    for _, reg in queries[:500]:  # warm the page cache, as a hub that has been running
        index.match(reg)

    times: list[float] = []
    outcomes: Counter[str] = Counter()
    right = linked = missed = 0
    for person, reg in queries[500 : 500 + TIMED]:
        t = time.perf_counter()
        decision = index.match(reg)
        times.append(time.perf_counter() - t)
        outcomes[decision.outcome.value] += 1
        if decision.outcome is Outcome.LINK:
            linked += 1
            right += decision.master_id == person
        elif decision.outcome is Outcome.NEW and index.members(person):
            missed += 1

    conn.execute("BEGIN IMMEDIATE")
    t = time.perf_counter()
    for i, (_, reg) in enumerate(queries[500 + TIMED : 500 + TIMED + BULK]):
        decision = index.match(reg)
        index.add(decision.master_id or f"NEW{i}", reg)
    bulk_s = time.perf_counter() - t
    conn.execute("ROLLBACK")
    conn.close()

    result = {
        "index_registrations": size,
        "queries": len(times),
        "p50_ms": round(percentile(times, 50) * 1000, 3),
        "p95_ms": round(percentile(times, 95) * 1000, 3),
        "p99_ms": round(percentile(times, 99) * 1000, 3),
        "links_per_s": round(BULK / bulk_s, 1),
        "rss_mb": rss_mb(),
        "linked_right": round(right / linked, 5) if linked else None,
        "missed": missed,
        "outcomes": dict(outcomes),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
