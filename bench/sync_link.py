"""A clinic-day through a slow link: 300 outpatient visits node → hub at 64 kbit/s and 300 ms round trip.

The day is 300 outpatient encounters from the synthetic township generator
with what each visit produced: ICD-10 diagnoses, prescriptions, lab and
imaging reports. The clinic's residents are already on the hub (synced
directly, not timed). A real hub process (``rhip hub serve``) sits behind
``tests/netfault.FaultyProxy`` with ``bytes_per_s=8000`` (64 kbit/s each way)
and ``latency_s=0.15`` one way, pipelined like a real link (a request and its answer: about
300 ms). Timed: ``SyncClient`` rounds through the proxy until nothing is pending,
including the TCP connect, the signed head, every changeset POST and the pull.

Figures:
- ``seconds``: the whole sync through the link.
- ``link_limit_s``: what the compressed payload alone (the changeset bodies as
  POSTed) needs at 64 kbit/s; ``ratio_to_link_limit`` = seconds / link_limit_s
  (goal ≤ 1.25).
- ``bytes``: everything the proxy carried, both ways (HTTP headers, answers,
  head and pull included); ``bytes_per_record``.
- ``bytes_ratio_to_fhir_gzip``: ``bytes`` over the same records as one FHIR R4
  JSON Bundle (``schemas.fhir_bundle``, compact JSON) gzip'd at level 9 (goal ≤ 0.33).
- ``round_trips``: HTTP requests (counted at the client's transport) and TCP connections.

The node sends several changesets per POST (``node.PUSH_BYTES`` before
compression, about 32 KB on the wire) and compresses uploads with the
protocol's preset dictionary (``sync.ZDICT_V1``).

No arguments; ``RHIP_BENCH_SCALE`` (visits, default 300) shrinks a development run.
Last line: JSON.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import sys
import time
from typing import Any

import httpx
from _common import ROOT
from sync_loopback import HubProcess, enrolled_node, run_dir, township, write_items

import schemas
import sync
from node import HubConfig, NodeStore, SyncClient, sync_status
from schemas.synthetic import SynthRecord

sys.path.insert(0, str(ROOT / "tests"))
from netfault import FaultyProxy

VISITS = int(os.environ.get("RHIP_BENCH_SCALE", "300"))
BYTES_PER_S = 8000  # 64 kbit/s
LATENCY_S = 0.15  # one way: a request and its answer cost 300 ms more than their bytes


class CountingTransport(httpx.HTTPTransport):
    """An httpx transport that counts requests and keeps the changeset bodies it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str]] = []
        self.changeset_bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.method == "POST" and request.url.path.endswith("/changesets"):
            self.changeset_bodies.append(request.read())
        return super().handle_request(request)


def clinic_day(visits: int, *, seed: int) -> tuple[list[Any], list[SynthRecord]]:
    """The generator's first ``visits`` encounters with the records that name them, and the residents."""
    residents, records = township(visits * 12, seed=seed)
    day: list[SynthRecord] = []
    encounters: set[str] = set()
    for item in records:
        if item.type == "encounter" and len(encounters) < visits:
            encounters.add(item.key)
            day.append(item)
        elif item.refs.get("encounter_id") in encounters:
            day.append(item)
    if len(encounters) < visits:
        raise RuntimeError(f"the township gave only {len(encounters)} visits")
    return residents, day


def main() -> None:
    with run_dir("sync-link-") as run, HubProcess(run / "hub") as hub:
        home, store = enrolled_node(run / "node", hub)
        residents, day = clinic_day(VISITS, seed=5)
        ids: dict[str, str] = {}
        write_items(store, residents, ids)
        direct = SyncClient.for_home(home, store)
        direct.round()  # the clinic's residents are on the hub already: not timed, not on the link
        direct.close()
        write_items(store, day, ids)
        assert sync_status(store.db)["pending"] == len(day)

        key = sync.private_key_from_pem((home.path / "keys" / "node.key").read_bytes())
        proxy = FaultyProxy(hub.port)
        proxy.set(latency_s=LATENCY_S, bytes_per_s=BYTES_PER_S)
        transport = CountingTransport()
        config = dataclasses.replace(HubConfig.load(home.path), hub_url=proxy.url)
        client = SyncClient(NodeStore(store.db, node_id=home.node_id), config, key=key, transport=transport)
        try:
            started = time.perf_counter()
            rounds = 0
            while True:
                rounds += 1
                if client.round().pending == 0:
                    break
            seconds = time.perf_counter() - started
            carried = proxy.bytes_up + proxy.bytes_down
            up, down, connections = proxy.bytes_up, proxy.bytes_down, proxy.connections
        finally:
            client.close()
            proxy.close()
        store.db.close()

        frames = [sync.unpack_push(sync.decompress(b))[0] for b in transport.changeset_bodies]
        opened = [sync.open_changeset(f, sync.public_bytes(key)) for batch in frames for f in batch]
        changesets = len(opened)
        envelopes = [schemas.RecordEnvelope.from_dict(r) for cs in opened for r in cs.changeset.records]
        assert len(envelopes) == len(day)
        fhir = json.dumps(schemas.fhir_bundle(envelopes), ensure_ascii=False, separators=(",", ":")).encode()
        fhir_gzip = len(gzip.compress(fhir, 9))
        payload = sum(map(len, transport.changeset_bodies))

    link_limit = payload * 8 / 64000
    types: dict[str, int] = {}
    for item in day:
        types[item.type] = types.get(item.type, 0) + 1
    requests: dict[str, int] = {}
    for method, path in transport.requests:
        name = f"{method} {path.split('/')[3] if path.count('/') > 3 else path}"
        requests[name] = requests.get(name, 0) + 1
    print(
        json.dumps(
            {
                "visits": VISITS,
                "records": len(day),
                "record_types": types,
                "seconds": round(seconds, 2),
                "link_limit_s": round(link_limit, 2),
                "ratio_to_link_limit": round(seconds / link_limit, 3),
                "payload_bytes": payload,
                "bytes": carried,
                "bytes_up": up,
                "bytes_down": down,
                "bytes_per_record": round(carried / len(day), 1),
                "fhir_json_bytes": len(fhir),
                "fhir_gzip_bytes": fhir_gzip,
                "bytes_ratio_to_fhir_gzip": round(carried / fhir_gzip, 3),
                "round_trips": len(transport.requests),
                "requests": requests,
                "tcp_connections": connections,
                "changesets": changesets,
                "posts": len(frames),
                "rounds": rounds,
                "link": {"bytes_per_s": BYTES_PER_S, "latency_s_one_way": LATENCY_S},
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
