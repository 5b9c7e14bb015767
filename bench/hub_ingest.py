"""50 clinic nodes pushing at once until the hub holds 1,000,000 records: throughput and the hub's memory.

The hub is a real process (``rhip hub serve``, SQLite WAL, synchronous=FULL).
50 nodes are enrolled through its API (one-time token, Ed25519 key each). Each
node's feed is 20,000 records of its own synthetic township (its residents'
registrations and three years of their care: visits, prescriptions, lab and
imaging reports, follow-ups, …), validated as a node would store them, wrapped in
envelopes with the node's HLC stamps and sealed with the sync core
(``sync.pack_changesets``: ~48 KB changesets, hash-chained and signed). The feeds
are built before anything is timed and cached under ``bench/.data``, with
their changesets grouped into POST bodies as a node sends them (several per
POST up to ``node.PUSH_BYTES``, compressed with the preset dictionary), so a
second run only reads them back.

Timed: the 50 feeds pushed concurrently (one asyncio httpx client, 50
connections, every request signed with ``sync.sign_request``), each feed's
POSTs in order, each waiting for the hub's answer, until the hub has
accepted every changeset. Registrations are matched by the master index after
their upload (``hub._linker``): ``mpi.linked_s_after_end`` is how long it
trails the last acknowledgement. The hub's memory is read from /proc throughout:
``rss_mb`` is the peak resident memory of the server process *and* its
record-check workers (``rhip hub serve`` starts one per core), each page
counted once (the processes' PSS summed: the Python runtime and libraries they
share are not counted once per process; ``rss_sum_mb`` is the plain sum of
their VmRSS, which does). Sampled every second and at 0, 25, 50, 75 and 100 %
of the records acknowledged, to show whether it grows with the feeds.

No arguments. ``RHIP_BENCH_SCALE`` sets the total number of records for a
development run (default 1,000,000, the stated scale; split evenly over the 50
nodes). Goals: ≥ 20,000 records/s; ≤ 300 MB.
Last line: JSON with records_per_s and rss_mb.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uuid6
from _common import DATA, TODAY
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sync_loopback import HubProcess, proc_status_kb, resolve, run_dir, tree_memory_kb

import schemas
import sync
from node import PUSH_BYTES
from schemas.synthetic import SynthResident, generate

NODES = 50
TOTAL = int(os.environ.get("RHIP_BENCH_SCALE", "1000000"))
PER_NODE = TOTAL // NODES
FEEDS_VERSION = 1  # raise when the way feeds are built changes, so cached feeds are rebuilt
_HEADER = struct.Struct("<II")  # frame bytes, records in it


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# -- the feeds, built once -----------------------------------------------------------------------


def build_feed(index: int, path: Path, *, wall_ms: int) -> dict[str, Any]:
    """One node's feed of PER_NODE records, sealed and compressed into ``path``; its key and counts."""
    key = Ed25519PrivateKey.generate()
    node_id = str(uuid6.uuid7())
    clock = sync.HybridClock()
    ids: dict[str, str] = {}
    household = ""
    records: list[tuple[int, dict[str, Any]]] = []
    for item in generate(residents=10_000_000, years=3, seed=1000 + index, today=TODAY):
        prefix = item.key.split("/", 1)[0]
        if prefix != household:  # a household's keys are never named after it
            ids.clear()
            household = prefix
        rid = str(uuid6.uuid7())
        ids[item.key] = rid
        data = resolve(item.data, item.refs, ids)
        kind = "resident" if isinstance(item, SynthResident) else item.type
        rt = schemas.record_type(kind)
        body = schemas.validate(kind, data, today=TODAY)
        hlc = clock.now(wall_ms).pack()
        resident = kind == "resident"
        records.append(
            (
                hlc,
                {  # schemas.RecordEnvelope.as_dict(), as a node seals it
                    "id": rid,
                    "fact_id": rid,
                    "type": kind,
                    "v": rt.version,
                    "resident_id": rid if resident else ids[item.resident_key],
                    "author": node_id,
                    "hlc": hlc,
                    "effective": str(body[rt.date_field]),
                    "data": body,
                    "status": "final",
                    "supersedes": None,
                    "recorded_by": "synth",
                    "reason": None,
                    "changed": sorted(body) if resident else None,
                },
            )
        )
        if len(records) >= PER_NODE:
            break
    sealed = sync.pack_changesets(
        records, feed=node_id, next_seq=1, prev_hash=sync.ZERO_HASH, schema=schemas.SCHEMA_RELEASE, key=key
    )
    with open(path, "wb") as fh:
        for cs in sealed:
            body = sync.compress(cs.frame)
            fh.write(_HEADER.pack(len(body), len(cs.changeset.records)))
            fh.write(body)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"node_id": node_id, "key": pem.decode(), "changesets": len(sealed), "records": len(records)}


def feeds() -> tuple[Path, list[dict[str, Any]]]:
    """The 50 feeds for this scale, built now or read from the cache."""
    path = DATA / f"hub-ingest-feeds-{TOTAL}-v{FEEDS_VERSION}"
    meta = path / "feeds.json"
    if meta.exists():
        return path, json.loads(meta.read_text())
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    started = time.monotonic()
    wall_ms = int(time.time() * 1000)
    nodes = []
    for i in range(NODES):
        nodes.append(build_feed(i, path / f"feed-{i:02d}.bin", wall_ms=wall_ms))
        say(f"built feed {i + 1}/{NODES} ({time.monotonic() - started:.0f} s)")
    meta.write_text(json.dumps(nodes))
    return path, nodes


def frames(path: Path) -> Iterator[tuple[bytes, int]]:
    with open(path, "rb") as fh:
        while header := fh.read(_HEADER.size):
            size, count = _HEADER.unpack(header)
            yield fh.read(size), count


def posts(path: Path, nodes: list[dict[str, Any]]) -> Path:
    """Each feed's changesets grouped into POST bodies as a node sends them (``node.PUSH_BYTES``
    before compression, preset dictionary), built once and cached beside the feeds."""
    out = path.with_name(f"{path.name}-posts-{PUSH_BYTES}")
    if (out / "done").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    for i in range(len(nodes)):
        with open(out / f"feed-{i:02d}.bin", "wb") as fh:
            batch: list[bytes] = []
            size = count = 0

            def flush(batch: list[bytes], count: int) -> None:
                body = sync.compress(batch[0] if len(batch) == 1 else sync.pack_batch(batch), preset=True)
                fh.write(_HEADER.pack(len(body), count))
                fh.write(body)

            for body, records in frames(path / f"feed-{i:02d}.bin"):
                frame = sync.decompress(body)
                if batch and (size + len(frame) > PUSH_BYTES or len(batch) == sync.MAX_BATCH_FRAMES):
                    flush(batch, count)
                    batch, size, count = [], 0, 0
                batch.append(frame)
                size += len(frame)
                count += records
            if batch:
                flush(batch, count)
    (out / "done").touch()
    return out


# -- the push ----------------------------------------------------------------------------------------


class Progress:
    """Records acknowledged so far, and the hub's memory at each quarter of the way."""

    def __init__(self, pid: int, total: int) -> None:
        self.pid = pid
        self.total = total
        self.acked = 0
        self.changesets = 0
        self.peak_rss_kb = 0
        self.peak_rss_sum_kb = 0
        self.marks: dict[str, dict[str, float]] = {"0%": self.memory()}
        self.linked_s = 0.0  # after the last acknowledgement, until every registration was matched
        self.queued_at_end = 0  # registrations still waiting for the master index then
        self._next = 1

    def memory(self) -> dict[str, float]:
        kb = tree_memory_kb(self.pid)
        self.peak_rss_kb = max(self.peak_rss_kb, kb["pss"])
        self.peak_rss_sum_kb = max(self.peak_rss_sum_kb, kb["rss_sum"])
        return {
            "rss_mb": round(kb["pss"] / 1024, 1),
            "rss_sum_mb": round(kb["rss_sum"] / 1024, 1),
            "server_rss_mb": round(kb["server_rss"] / 1024, 1),
        }

    def ack(self, records: int) -> None:
        self.acked += records
        self.changesets += 1
        while self._next <= 4 and self.acked >= self.total * self._next / 4:
            self.marks[f"{self._next * 25}%"] = {**self.memory(), "records": self.acked}
            self._next += 1


async def push_feed(client: httpx.AsyncClient, node: dict[str, Any], path: Path, progress: Progress) -> None:
    key = serialization.load_pem_private_key(node["key"].encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    node_id = node["node_id"]
    url = f"/sync/v1/feeds/{node_id}/changesets"
    for body, count in frames(path):
        wall = int(time.time() * 1000)
        signature = sync.sign_request(key, method="POST", path=url, node_id=node_id, wall_ms=wall, body=body)
        response = await client.post(
            url,
            content=body,
            headers={
                "Content-Type": "application/x-rhip-frame",
                "X-Rhip-Node": node_id,
                "X-Rhip-Time": str(wall),
                "X-Rhip-Signature": signature.hex(),
            },
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"the hub refused a changeset of {node_id}: {response.status_code} {response.text}"
            )
        answer = sync.decode(sync.decompress(response.content))
        verdicts = answer.get("verdicts", [answer["verdict"]])
        if set(verdicts) != {"accept"} or answer["held"] or "stopped" in answer:
            raise RuntimeError(f"the hub did not simply accept: {verdicts}, held {answer['held']}")
        progress.ack(count)


async def enrol_all(client: httpx.AsyncClient, hub: HubProcess, nodes: list[dict[str, Any]]) -> None:
    for i, node in enumerate(nodes):
        key = serialization.load_pem_private_key(node["key"].encode(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        clinic = f"bench-{i:02d}"
        response = await client.post(
            "/sync/v1/enroll",
            json={
                "token": hub.token(clinic),
                "node_id": node["node_id"],
                "clinic": clinic,
                "name": f"bench clinic {i}",
                "public_key": sync.public_bytes(key).hex(),
            },
        )
        response.raise_for_status()


async def push_all(hub: HubProcess, path: Path, nodes: list[dict[str, Any]]) -> tuple[float, Progress]:
    limits = httpx.Limits(max_connections=NODES, max_keepalive_connections=NODES)
    async with httpx.AsyncClient(base_url=hub.url, limits=limits, timeout=600) as client:
        await enrol_all(client, hub, nodes)
        total = sum(n["records"] for n in nodes)
        progress = Progress(hub.pid, total)

        async def watch() -> None:  # the hub's memory every second; a line on stderr every 15 s
            for tick in range(1, 1 << 30):
                await asyncio.sleep(1)
                rss = progress.memory()["rss_mb"]
                if tick % 15 == 0:
                    say(f"{progress.acked}/{total} records, hub RSS {rss} MB")

        watcher = asyncio.create_task(watch())
        started = time.perf_counter()
        await asyncio.gather(
            *(push_feed(client, n, path / f"feed-{i:02d}.bin", progress) for i, n in enumerate(nodes))
        )
        elapsed = time.perf_counter() - started
        # The master index matches registrations after their upload (hub._linker): how long it trails.
        queued = (await client.get("/api/v1/status")).json()["mpi_queue"]
        while (await client.get("/api/v1/status")).json()["mpi_queue"]:
            await asyncio.sleep(0.1)
        progress.linked_s = time.perf_counter() - started - elapsed
        progress.queued_at_end = queued
        watcher.cancel()
        return elapsed, progress


def main() -> None:
    path, nodes = feeds()
    path = posts(path, nodes)
    total = sum(n["records"] for n in nodes)
    with run_dir("hub-ingest-") as run, HubProcess(run / "hub") as hub:
        elapsed, progress = asyncio.run(push_all(hub, path, nodes))
        final = proc_status_kb(hub.pid)
        final_tree = tree_memory_kb(hub.pid)
        conn = sqlite3.connect(hub.home.db_path)
        stored = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        held = conn.execute("SELECT count(*) FROM held").fetchone()[0]
        masters = conn.execute("SELECT count(DISTINCT master_id) FROM residents").fetchone()[0]
        conn.close()
        db_bytes = sum(p.stat().st_size for p in hub.home.path.glob("hub.db*"))
    assert stored == total and held == 0, f"the hub holds {stored} of {total} records ({held} held)"
    print(
        json.dumps(
            {
                "nodes": NODES,
                "records": total,
                "posts": progress.changesets,
                "seconds": round(elapsed, 1),
                "records_per_s": round(total / elapsed),
                "rss_mb": round(max(progress.peak_rss_kb, final_tree["pss"]) / 1024, 1),
                "rss_sum_mb": round(max(progress.peak_rss_sum_kb, final_tree["rss_sum"]) / 1024, 1),
                "server_vm_hwm_mb": round(final["VmHWM"] / 1024, 1),
                "check_workers": os.cpu_count(),
                "memory_at": progress.marks,
                "hub_db_mb": round(db_bytes / 2**20),
                "mpi": {
                    "queued_at_end": progress.queued_at_end,
                    "linked_s_after_end": round(progress.linked_s, 1),
                    "masters": masters,
                },
                "synchronous": "FULL",
            }
        )
    )


if __name__ == "__main__":
    main()
