"""A clinic-day through a slow link: 300 outpatient visits node → hub at 64 kbit/s and 300 ms round trip.

The day is 300 outpatient encounters from the synthetic township generator
with what each visit produced: ICD-10 diagnoses, prescriptions, lab and
imaging reports. The clinic's residents are already on the hub (synced
directly, not timed). A real hub process (``rhip hub serve``) sits behind
``tests/netfault.FaultyProxy`` with ``bytes_per_s=8000`` (64 kbit/s each way)
and ``latency_s=0.15`` per chunk per direction (a request and its answer: about
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

``what_if``: the same day through the same proxy with two protocol changes the
hub does not have, measured against a stand-in endpoint in this script (the
real hub cannot take them): several changesets per POST (up to 32 KB), and zlib with
a preset dictionary shared by node and hub (built from a different township's
records). The stand-in verifies every changeset's signature and answers like
the hub; the hub's own ingest is not in these seconds (it takes well under a
second for a clinic-day on loopback).

No arguments; ``RHIP_BENCH_SCALE`` (visits, default 300) shrinks a development run.
Last line: JSON.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from _common import ROOT, TODAY
from sync_loopback import HubProcess, enrolled_node, run_dir, township, write_items

import schemas
import sync
from node import HubConfig, NodeStore, SyncClient, sync_status
from schemas.synthetic import SynthRecord

sys.path.insert(0, str(ROOT / "tests"))
from netfault import FaultyProxy

VISITS = int(os.environ.get("RHIP_BENCH_SCALE", "300"))
BYTES_PER_S = 8000  # 64 kbit/s
LATENCY_S = 0.15  # per chunk per direction: a request and its answer cost about 300 ms
ZDICT_BYTES = 32 << 10  # zlib's window: the most a preset dictionary can hold
# what_if: one POST carries at most this much (about 4 s at 64 kbit/s). netfault's proxy drops a
# connection whose server stays silent for 5 s (its upstream socket keeps the 5 s connect timeout),
# so a longer upload could not be measured through it; small requests also suit a link that drops.
BATCH_BYTES = 32 << 10


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


def preset_dictionary(seed: int) -> bytes:
    """A zlib preset dictionary from another township's clinic-day: its records as they travel."""
    _, day = clinic_day(300, seed=seed)
    stamp = 1_764_000_000_000 << 16
    node, resident = "01970f3a-0000-7000-8000-000000000001", "01970f3a-0000-7000-8000-000000000002"
    encoded = []
    for i, item in enumerate(day):
        rt = schemas.record_type(item.type)
        data = schemas.validate(item.type, item.data, today=TODAY)
        env = schemas.RecordEnvelope(
            id=node, fact_id=node, type=item.type, v=rt.version, resident_id=resident, author=node,
            hlc=stamp + i, effective=str(data[rt.date_field]), data=data, recorded_by="synth",
        )  # fmt: skip
        encoded.append(sync.encode(env.as_dict()))
    # zlib looks back from the end of the dictionary: keep the most recent (and most typical) records.
    return b"".join(encoded)[-ZDICT_BYTES:]


class StandIn(BaseHTTPRequestHandler):
    """The hub's answers to a batched, dictionary-compressed push (``what_if`` only)."""

    zdict = b""
    public_key = b""
    hub_key: Any = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/x-rhip-frame")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        assert self.hub_key is not None
        node_id = self.path.split("/")[4]
        if "/head" in self.path:
            head = sync.FeedHead(node_id)
            self._answer(sync.compress(sync.seal_head(head, int(time.time() * 1000), self.hub_key).frame))
        else:  # the pull: nothing new for this clinic
            self._answer(sync.compress(sync.encode([])))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        inflater = zlib.decompressobj(zdict=self.zdict)
        frames = sync.decode(inflater.decompress(body) + inflater.flush())
        verdicts = []
        head = None
        for frame in frames:
            sealed = sync.open_changeset(frame, self.public_key)
            head = sync.FeedHead(sealed.changeset.feed, sealed.changeset.seq, sealed.hash)
            verdicts.append("accept")
        assert head is not None and self.hub_key is not None
        signed = sync.seal_head(head, int(time.time() * 1000), self.hub_key)
        self._answer(sync.compress(sync.encode({"verdicts": verdicts, "head": signed.frame, "held": []})))


def what_if(frames: list[bytes], zdict: bytes, public_key: bytes, node_id: str, key: Any) -> dict[str, Any]:
    """Push ``frames`` in one POST, zlib with ``zdict``, through the same link to a stand-in hub."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    StandIn.zdict, StandIn.public_key, StandIn.hub_key = zdict, public_key, Ed25519PrivateKey.generate()
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def pack(batch: list[bytes]) -> bytes:
        deflater = zlib.compressobj(9, zdict=zdict)
        return deflater.compress(sync.encode(batch)) + deflater.flush()

    bodies: list[bytes] = []
    batch: list[bytes] = []
    for frame in frames:  # whole changesets, as many per POST as fit BATCH_BYTES compressed
        if batch and len(pack([*batch, frame])) > BATCH_BYTES:
            bodies.append(pack(batch))
            batch = []
        batch.append(frame)
    bodies.append(pack(batch))
    plain = sum(len(zlib.compress(f, 9)) for f in frames)
    proxy = FaultyProxy(server.server_address[1])
    proxy.set(latency_s=LATENCY_S, bytes_per_s=BYTES_PER_S)
    try:
        with httpx.Client(base_url=proxy.url, timeout=600) as client:

            def send(method: str, path: str, body: bytes = b"") -> None:
                wall = int(time.time() * 1000)
                signature = sync.sign_request(
                    key, method=method, path=path, node_id=node_id, wall_ms=wall, body=body
                )
                headers = {
                    "X-Rhip-Node": node_id,
                    "X-Rhip-Time": str(wall),
                    "X-Rhip-Signature": signature.hex(),
                    "User-Agent": "rhip-node",
                }
                if body:
                    headers["Content-Type"] = "application/x-rhip-frame"
                client.request(method, path, content=body, headers=headers).raise_for_status()

            started = time.perf_counter()
            send("GET", f"/sync/v1/feeds/{node_id}/head")  # a round starts from the hub's head …
            for body in bodies:
                send("POST", f"/sync/v1/feeds/{node_id}/changesets", body)
            send("GET", f"/sync/v1/pull/{node_id}?after=0&limit=64")  # … and ends with the pull
            seconds = time.perf_counter() - started
        carried = proxy.bytes_up + proxy.bytes_down
    finally:
        proxy.close()
        server.shutdown()
    payload = sum(map(len, bodies))
    return {
        "change": "changesets batched per POST (≤ 32 KB compressed); zlib 9, 32 KB preset dictionary",
        "seconds": round(seconds, 2),
        "payload_bytes": payload,
        "payload_bytes_without_dictionary": plain,
        "link_limit_s": round(payload * 8 / 64000, 2),
        "ratio_to_link_limit": round(seconds / (payload * 8 / 64000), 3),
        "bytes": carried,
        "round_trips": len(bodies) + 2,
    }


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

        frames = [sync.decompress(b) for b in transport.changeset_bodies]
        envelopes = [
            schemas.RecordEnvelope.from_dict(r)
            for f in frames
            for r in sync.open_changeset(f, sync.public_bytes(key)).changeset.records
        ]
        assert len(envelopes) == len(day)
        fhir = json.dumps(schemas.fhir_bundle(envelopes), ensure_ascii=False, separators=(",", ":")).encode()
        fhir_gzip = len(gzip.compress(fhir, 9))
        payload = sum(map(len, transport.changeset_bodies))
        alternative = what_if(frames, preset_dictionary(seed=99), sync.public_bytes(key), home.node_id, key)

    link_limit = payload * 8 / 64000
    types: dict[str, int] = {}
    for item in day:
        types[item.type] = types.get(item.type, 0) + 1
    requests: dict[str, int] = {}
    for method, path in transport.requests:
        name = f"{method} {path.split('/')[3] if path.count('/') > 3 else path}"
        requests[name] = requests.get(name, 0) + 1
    alternative["seconds_over_current_link_limit"] = round(alternative["seconds"] / link_limit, 3)
    alternative["bytes_ratio_to_fhir_gzip"] = round(alternative["bytes"] / fhir_gzip, 3)
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
                "changesets": len(frames),
                "rounds": rounds,
                "link": {"bytes_per_s": BYTES_PER_S, "latency_s_per_chunk_per_direction": LATENCY_S},
                "what_if": alternative,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
