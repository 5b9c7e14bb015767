"""10,000 clinical records node → hub over loopback, end to end, beside a raw SQLite insert of the same rows.

A real hub runs as its own process (``rhip hub serve`` on a free loopback port).
A clinic node is set up and enrolled with it, its residents are registered and
synced (not timed), then 10,000 clinical records from the synthetic township
generator (outpatient visits with their prescriptions, lab and imaging reports,
follow-ups, …) are written through the node store. Timed: ``SyncClient`` rounds
until the node has nothing pending, i.e. seal (encode, hash-chain, sign, store the
feed), send over HTTP, and at the hub verify, decide, validate every record and
store it with its changeset in one transaction (SQLite WAL, synchronous=FULL).

The reference is the same machine writing the same rows with nothing else: the
hub's own ``records`` table (same DDL and indexes, read from the hub's database)
in a fresh SQLite file, one ``executemany`` of the 10,000 rows the hub stored
(the same bytes: the hub keeps each record as canonical msgpack) in one
transaction, WAL and synchronous=FULL; the median of three runs.

No arguments. ``RHIP_BENCH_SCALE`` (records; default 10,000, the stated scale) shrinks a
development run. Last line: JSON with records_per_s, raw_records_per_s and ratio_to_raw
(goal ≥ 0.30).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import DATA, ROOT, TODAY

from hub import init_hub_home, issue_token
from node import NodeStore, SyncClient, enroll, init_home, sync_status
from schemas.synthetic import SynthRecord, SynthResident, generate

RECORDS = int(os.environ.get("RHIP_BENCH_SCALE", "10000"))  # smaller only while developing
CLINIC = "511321100"


# -- a real hub process (also used by sync_link.py and hub_ingest.py) ------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proc_status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of a process, from /proc."""
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def _smaps_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss"):
                out[key] = int(value.split()[0])
    return out


def tree_memory_kb(pid: int) -> dict[str, int]:
    """Memory of ``pid`` and every process under it (the hub with its workers), in kB.

    ``server_rss``: VmRSS of ``pid`` alone. ``pss``: the tree's proportional set
    size — each page counted once, a page shared by n processes (the Python
    runtime, the libraries) as 1/n in each — what the tree holds in RAM.
    ``rss_sum``: the plain sum of the processes' VmRSS, which counts shared pages
    once per process.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out = {"server_rss": proc_status_kb(pid)["VmRSS"], "pss": 0, "rss_sum": 0}
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            smaps = _smaps_kb(p)
        except OSError:
            continue
        out["pss"] += smaps.get("Pss", 0)
        out["rss_sum"] += smaps.get("Rss", 0)
        todo.extend(children.get(p, []))
    return out


class HubProcess:
    """``rhip hub serve`` on a free loopback port, with a fresh hub home under ``path``."""

    def __init__(self, path: Path, *, region: str = "511321") -> None:
        self.home = init_hub_home(path, region=region)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = path / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def token(self, clinic: str = CLINIC) -> str:
        store = self.home.store()
        try:
            return issue_token(store, clinic)
        finally:
            store.db.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> HubProcess:
        rhip = Path(sys.executable).with_name("rhip")
        command = [str(rhip)] if rhip.exists() else [sys.executable, "-c", "from cli import main; main()"]
        command += ["hub", "serve", "--home", str(self.home.path), "--port", str(self.port)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not answer /healthz within 60 s")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def run_dir(prefix: str) -> Iterator[Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=DATA))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- a township's records, written through the node store ------------------------------------


def township(
    clinical: int, *, seed: int = 5, years: int = 3
) -> tuple[list[SynthResident], list[SynthRecord]]:
    """The generator's items up to ``clinical`` clinical records: residents and records apart, in order."""
    residents: list[SynthResident] = []
    records: list[SynthRecord] = []
    for item in generate(residents=1_000_000, years=years, seed=seed, today=TODAY):
        if isinstance(item, SynthResident):
            residents.append(item)
        else:
            records.append(item)
            if len(records) >= clinical:
                break
    return residents, records


def resolve(data: dict[str, Any], refs: dict[str, str], ids: dict[str, str]) -> dict[str, Any]:
    """``data`` with each ref path (``a.0.b``) set to the id minted for the item it names."""
    if not refs:
        return data
    out = json.loads(json.dumps(data))
    for path, key in refs.items():
        *parents, last = path.split(".")
        node: Any = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[int(last) if isinstance(node, list) else last] = ids[key]
    return out


def write_items(store: NodeStore, items: list[Any], ids: dict[str, str], *, batch: int = 500) -> None:
    """Write generator items as a clerk or doctor would (validated, with outbox entries)."""
    for start in range(0, len(items), batch):
        with store.transaction() as w:
            for item in items[start : start + batch]:
                data = resolve(item.data, item.refs, ids)
                if isinstance(item, SynthResident):
                    ids[item.key] = w.register_resident(data, user="synth").envelope.id
                else:
                    ids[item.key] = w.add_record(ids[item.resident_key], item.type, data, user="synth").id


def enrolled_node(path: Path, hub: HubProcess, *, name: str = "bench sync") -> tuple[Any, NodeStore]:
    home = init_home(path, clinic=CLINIC, name=name)
    enroll(home, hub_url=hub.url, token=hub.token(CLINIC))
    return home, NodeStore(home.database(), node_id=home.node_id, today=lambda: TODAY)


# -- the raw reference -------------------------------------------------------------------------


def raw_insert_s(hub_db: Path, rows: list[tuple[Any, ...]], work: Path, *, runs: int = 3) -> float:
    """Median seconds to executemany ``rows`` into a fresh copy of the hub's records table."""
    src = sqlite3.connect(hub_db)
    ddl = [
        r[0]
        for r in src.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'records' AND sql IS NOT NULL "
            "ORDER BY type DESC"  # the table before its indexes
        )
    ]
    src.close()
    times = []
    for i in range(runs):
        path = work / f"raw-{i}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        for statement in ddl:
            conn.execute(statement)
        placeholders = ",".join("?" * len(rows[0]))
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO records VALUES ({placeholders})", rows)
        conn.execute("COMMIT")
        times.append(time.perf_counter() - started)
        conn.close()
    return statistics.median(times)


def main() -> None:
    with run_dir("sync-loopback-") as run, HubProcess(run / "hub") as hub:
        home, store = enrolled_node(run / "node", hub)
        residents, records = township(RECORDS)
        ids: dict[str, str] = {}
        write_items(store, residents, ids)
        client = SyncClient.for_home(home, store)
        client.round()  # the residents: not timed
        write_items(store, records, ids)
        pending = sync_status(store.db)["pending"]
        assert pending == RECORDS, f"{pending} records wait, expected {RECORDS}"

        started = time.perf_counter()
        rounds = changesets = 0
        while True:
            result = client.round()
            rounds += 1
            changesets += result.pushed
            if result.pending == 0:
                break
        elapsed = time.perf_counter() - started
        client.close()
        store.db.close()

        hub_db = hub.home.db_path
        conn = sqlite3.connect(hub_db)
        rows = conn.execute(
            "SELECT * FROM records WHERE type != 'resident' AND node_id = ? ORDER BY rowid", (home.node_id,)
        ).fetchall()
        held = conn.execute("SELECT count(*) FROM held").fetchone()[0]
        conn.close()
        assert len(rows) == RECORDS and held == 0, f"the hub holds {len(rows)} records ({held} held)"
        raw_s = raw_insert_s(hub_db, rows, run)

    types: dict[str, int] = {}
    for item in records:
        types[item.type] = types.get(item.type, 0) + 1
    rate, raw_rate = RECORDS / elapsed, RECORDS / raw_s
    print(
        json.dumps(
            {
                "records": RECORDS,
                "seconds": round(elapsed, 2),
                "records_per_s": round(rate),
                "raw_records_per_s": round(raw_rate),
                "ratio_to_raw": round(rate / raw_rate, 4),
                "rounds": rounds,
                "changesets": changesets,
                "record_types": dict(sorted(types.items(), key=lambda kv: -kv[1])),
                "synchronous": "FULL",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
