"""The node's sync client against a fake hub made of the pure sync core.

The fake hub sits at the transport seam (``httpx.MockTransport``, or a real
loopback server for the command line): it checks request signatures, decides
on changesets with ``sync.decide``, keeps heads, links residents with the same
identity number and serves each node a feed signed with its own key. The real
hub (``hub/``) joins these tests in an integration test of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import shutil
import socket
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from litestar.testing import TestClient

import schemas
import sync
from cli import rhip
from node import (
    Backoff,
    FeedBehindHub,
    HubAnswerInvalid,
    HubRefused,
    HubUnreachable,
    NodeHome,
    NodeStore,
    ReadOnlyRecord,
    Role,
    SyncClient,
    SyncScheduler,
    create_app,
    enroll,
    file_tree,
    init_home,
    issue_token,
    readable_types,
    sync_status,
)

from .conftest import auth, encounter_data, resident_data

DAY_MS = 24 * 3600 * 1000
FRAME = {"Content-Type": "application/x-rhip-frame"}


# -- the fake hub ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.ms = time.time_ns() // 1_000_000

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def problem(status: int, reason: str, detail: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"status_code": status, "detail": detail, "reason": reason, **extra})


def binary(value: bytes) -> httpx.Response:
    return httpx.Response(200, content=sync.compress(value), headers=FRAME)


@dataclass
class Enrolled:
    public: bytes
    clinic: str
    revoked: str | None = None


@dataclass
class FakeHub:
    """A hub built from the sync core only. Identity is deterministic: same id_number, same person."""

    wall_ms: Callable[[], int]
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    tokens: set[str] = field(default_factory=set)
    nodes: dict[str, Enrolled] = field(default_factory=dict)
    feeds: dict[str, dict[int, sync.SealedChangeset]] = field(default_factory=lambda: defaultdict(dict))
    heads: dict[str, sync.FeedHead] = field(default_factory=dict)
    received: Counter[tuple[str, int]] = field(default_factory=Counter)  # changeset uploads
    batches: list[int] = field(default_factory=list)  # changesets per POST
    stored: Counter[str] = field(default_factory=Counter)  # record id -> times stored
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    person: dict[str, str] = field(default_factory=dict)  # resident id -> id_number
    home_node: dict[str, str] = field(default_factory=dict)  # resident id -> node
    out: dict[str, list[sync.SealedChangeset]] = field(default_factory=lambda: defaultdict(list))
    held: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))
    hold_types: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    waiting: list[str | None] = field(default_factory=list)  # ?waiting= of each head request
    reported_head: dict[str, sync.FeedHead] = field(default_factory=dict)  # a stale head to report
    tamper: Callable[[bytes], bytes] | None = None

    @property
    def public(self) -> bytes:
        return sync.public_bytes(self.key)

    def issue_token(self) -> str:
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return token

    def posts(self) -> int:
        return sum(1 for m, p in self.requests if m == "POST" and p.endswith("/changesets"))

    def publish(
        self, node_id: str, records: list[dict[str, Any]], *, key: Ed25519PrivateKey | None = None
    ) -> None:
        """Append one changeset to the hub's feed for ``node_id``."""
        chain = self.out[node_id]
        stamps = [r["hlc"] for r in records if isinstance(r.get("hlc"), int)] or [0]
        cs = sync.Changeset(
            f"hub:{node_id}",
            len(chain) + 1,
            chain[-1].hash if chain else sync.ZERO_HASH,
            min(stamps),
            max(stamps),
            schemas.SCHEMA_RELEASE,
            tuple(records),
        )
        chain.append(sync.seal(cs, key or self.key))

    def truncate(self, node_id: str, keep: int) -> None:
        """The hub restored from its own older backup: it holds only changesets 1..keep."""
        self.feeds[node_id] = {s: c for s, c in self.feeds[node_id].items() if s <= keep}
        self.heads[node_id] = sync.FeedHead(node_id, keep, self.feeds[node_id][keep].hash)

    # -- HTTP --

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((request.method, path))
        if path.endswith("/head"):
            self.waiting.append(request.url.params.get("waiting"))
        if (request.method, path) == ("POST", "/sync/v1/enroll"):
            return self._enroll(json.loads(request.content))
        node_id = request.headers.get("x-rhip-node", "")
        entry = self.nodes.get(node_id)
        if entry is None:
            return problem(403, "unknown-node", f"no node {node_id} is enrolled here")
        if entry.revoked:
            return problem(403, "revoked", f"this node's key was revoked: {entry.revoked}")
        try:
            sync.verify_request(
                entry.public,
                bytes.fromhex(request.headers["x-rhip-signature"]),
                method=request.method,
                path=request.url.raw_path.decode(),
                node_id=node_id,
                wall_ms=int(request.headers["x-rhip-time"]),
                body=request.content,
                now_ms=self.wall_ms(),
                window_ms=3 * DAY_MS,
            )
        except sync.SyncError as exc:
            return problem(400, exc.reason, str(exc))
        parts = path.strip("/").split("/")
        if parts[-1:] == ["head"] and parts[3] == node_id:
            head = self.reported_head.pop(node_id, None) or self.heads.get(node_id, sync.FeedHead(node_id))
            return binary(sync.seal_head(head, self.wall_ms(), self.key).frame)
        if parts[-1:] == ["changesets"] and parts[3] == node_id:
            return self._receive(node_id, entry, request.content)
        if parts[2] == "pull" and parts[3] == node_id:
            after, limit = int(request.url.params["after"]), int(request.url.params["limit"])
            frames = [c.frame for c in self.out[node_id] if c.changeset.seq > after][:limit]
            if self.tamper is not None:
                frames = [self.tamper(f) for f in frames]
            return binary(sync.encode(frames))
        if parts[2] == "held" and parts[3] == node_id:
            return httpx.Response(200, json=self.held[node_id])
        return problem(404, "not-found", f"no route {path}")

    def _enroll(self, body: dict[str, Any]) -> httpx.Response:
        if body["token"] not in self.tokens:
            return problem(403, "token-unknown", "no such enrolment token")
        self.tokens.discard(body["token"])
        self.nodes[body["node_id"]] = Enrolled(bytes.fromhex(body["public_key"]), body["clinic"])
        head = {"seq": 0, "hash": sync.ZERO_HASH.hex()}
        answer = {"hub_id": "hub-test", "region": "511321", "hub_public_key": self.public.hex(), "head": head}
        return httpx.Response(201, json=answer)

    def _receive(self, node_id: str, entry: Enrolled, content: bytes) -> httpx.Response:
        try:
            frames, batch = sync.unpack_push(sync.decompress(content))
        except sync.SyncError as exc:
            return problem(400, exc.reason, str(exc))
        self.batches.append(len(frames))
        verdicts: list[str] = []
        held: list[dict[str, str]] = []
        stopped: dict[str, Any] | None = None
        for frame in frames:
            outcome = self._one(node_id, entry, frame)
            if isinstance(outcome, httpx.Response):
                if not verdicts:
                    return outcome
                stopped = {"reason": outcome.json()["reason"], "detail": outcome.json()["detail"]}
                break
            verdicts.append(outcome[0])
            held += outcome[1]
        answer: dict[str, Any] = {
            "verdict": verdicts[-1],
            "head": sync.seal_head(self.heads[node_id], self.wall_ms(), self.key).frame,
            "held": held,
            "pull_head": len(self.out[node_id]),
        }
        if batch:
            answer["verdicts"] = verdicts
            if stopped is not None:
                answer["stopped"] = stopped
        return binary(sync.encode(answer))

    def _one(
        self, node_id: str, entry: Enrolled, frame: bytes
    ) -> httpx.Response | tuple[str, list[dict[str, str]]]:
        try:
            sealed = sync.open_changeset(frame, entry.public)
        except sync.SyncError as exc:
            return problem(400, exc.reason, str(exc))
        seq = sealed.changeset.seq
        self.received[(node_id, seq)] += 1
        head = self.heads.get(node_id, sync.FeedHead(node_id))
        held_at = self.feeds[node_id]
        try:
            verdict = sync.decide(head, sealed, lambda s: held_at[s].hash if s in held_at else None)
        except sync.Fork as exc:
            return problem(409, "fork", str(exc))
        except sync.ChainBroken as exc:
            return problem(409, "chain-broken", str(exc), expected_seq=exc.expected_seq)
        held: list[dict[str, str]] = []
        if verdict is sync.Verdict.ACCEPT:
            held_at[seq] = sealed
            self.heads[node_id] = head.advance(sealed)
            for record in sealed.changeset.records:
                if record["type"] in self.hold_types:
                    held.append({"record_id": record["id"], "reason": "version-too-new"})
                    continue
                self.stored[record["id"]] += 1
                self.records[record["id"]] = record
                self._route(node_id, record)
            self.held[node_id] += held
        else:
            self.heads.setdefault(node_id, head)
        return verdict.value, held

    def _route(self, author: str, record: dict[str, Any]) -> None:
        rid = record["resident_id"]
        number = record["data"].get("id_number") if record["type"] == "resident" else None
        if number and rid not in self.person:
            self.person[rid], self.home_node[rid] = number, author
            for other, n in list(self.person.items()):
                if n != number or self.home_node[other] == author:
                    continue
                there = self.home_node[other]
                mine = [
                    r for r in self.records.values() if r["resident_id"] == rid and r["id"] != record["id"]
                ]
                theirs = [r for r in self.records.values() if r["resident_id"] == other]
                self.publish(there, [self._link(other, number, rid, author), *mine])
                self.publish(author, [self._link(rid, number, other, there), *theirs])
        number = self.person.get(rid)
        targets = {self.home_node[r] for r, n in self.person.items() if n == number} - {author}
        for target in sorted(targets):
            self.publish(target, [record])

    @staticmethod
    def _link(resident_id: str, master: str, other: str, other_node: str) -> dict[str, Any]:
        return {
            "kind": "link",
            "resident_id": resident_id,
            "master_id": master,
            "linked": [{"resident_id": other, "node_id": other_node}],
        }


class Link:
    """The network between a node and the hub: it can be down, or drop after some uploads."""

    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub
        self.down = False
        self.uploads_before_drop: int | None = None
        self.lose_answers = False  # the hub stores an upload, its answer never arrives
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("network is unreachable", request=request)
        upload = request.method == "POST" and request.url.path.endswith("/changesets")
        if upload and self.uploads_before_drop == 0:
            raise httpx.ConnectError("connection reset by peer", request=request)
        if upload and self.uploads_before_drop is not None:
            self.uploads_before_drop -= 1
        response = self.hub.handle(request)
        if upload and self.lose_answers:
            raise httpx.ReadTimeout("timed out", request=request)
        return response


# -- clinics ---------------------------------------------------------------------------


@dataclass
class Clinic:
    home: NodeHome
    store: NodeStore
    client: SyncClient
    link: Link

    @property
    def node_id(self) -> str:
        return self.home.node_id

    def pending(self) -> int:
        return int(sync_status(self.store.db)["pending"])

    def status(self) -> dict[str, Any]:
        return sync_status(self.store.db)

    def scalar(self, sql: str, *args: Any) -> Any:
        return self.store.db.reader().execute(sql, args).fetchone()[0]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(clock: Clock) -> FakeHub:
    return FakeHub(clock)


@pytest.fixture
def clinics(tmp_path: Path, hub: FakeHub, clock: Clock) -> Iterator[Callable[..., Clinic]]:
    made: list[Clinic] = []

    def make(code: str = "511321100", **options: Any) -> Clinic:
        home = init_home(tmp_path / f"{code}-{len(made)}", clinic=code, name=f"clinic {code}")
        link = Link(hub)
        enroll(home, hub_url="http://hub.test", token=hub.issue_token(), transport=httpx.MockTransport(link))
        db = home.database()
        store = NodeStore(db, node_id=home.node_id, wall_ms=clock, today=lambda: dt.date(2026, 11, 25))
        options.setdefault("changeset_bytes", 2000)  # several changesets from a few records
        options.setdefault("push_bytes", 1)  # one changeset per POST, unless a test batches
        client = SyncClient.for_home(
            home, store, transport=httpx.MockTransport(link), wall_ms=clock, **options
        )
        made.append(Clinic(home, store, client, link))
        return made[-1]

    yield make
    for c in made:
        c.client.close()
        c.store.db.close()


def visits(store: NodeStore, resident_id: str, n: int) -> list[str]:
    with store.transaction() as w:
        return [w.add_record(resident_id, "encounter", encounter_data(), user="doctor").id for _ in range(n)]


def local_ids(clinic: Clinic) -> set[str]:
    rows = clinic.store.db.reader().execute("SELECT id FROM records WHERE author = ?", (clinic.node_id,))
    return {r[0] for r in rows}


def outbox_matches_authored(clinic: Clinic) -> bool:
    conn = clinic.store.db.reader()
    authored = {r[0] for r in conn.execute("SELECT id FROM records WHERE author = ?", (clinic.node_id,))}
    outbox = [r[0] for r in conn.execute("SELECT record_id FROM outbox")]
    return sorted(outbox) == sorted(authored)


# -- push ------------------------------------------------------------------------------


def test_records_reach_the_hub_exactly_once_and_nothing_is_pending(
    clinics: Callable[..., Clinic], hub: FakeHub
) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    visits(a.store, rid, 12)
    assert a.pending() == 13 and a.status()["hub_head"] is None

    result = a.client.round()

    n = a.scalar("SELECT max(seq) FROM feed")
    assert n >= 3 and result.sealed == result.pushed == n and result.hub_head == n
    assert set(hub.stored) == local_ids(a) and set(hub.stored.values()) == {1}
    assert all(hub.received[(a.node_id, s)] == 1 for s in range(1, n + 1))
    assert a.pending() == 0
    status = a.status()
    assert status["hub_head"] == n and status["last_sync"] is not None and status["errors"] == []
    # Sealed and shipped in one go: every outbox row names its changeset, whose stored bytes hash to its hash.
    assert a.scalar("SELECT count(*) FROM outbox WHERE shipped_seq IS NULL") == 0
    for seq, digest, body in a.store.db.reader().execute("SELECT seq, hash, body FROM feed"):
        assert hub.feeds[a.node_id][seq].hash == digest == hashlib.sha256(body).digest()

    before = hub.posts()
    again = a.client.round()  # nothing new: one head request, no upload
    assert hub.posts() == before and again.pushed == 0 and again.sealed == 0
    # Each round told the hub's operators what was still to send as it began.
    assert hub.waiting == ["13", "0"]


def test_several_changesets_travel_in_one_post(clinics: Callable[..., Clinic], hub: FakeHub) -> None:
    a = clinics(push_bytes=sync.MAX_FRAME_BYTES)
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    visits(a.store, rid, 12)
    result = a.client.round()
    n = a.scalar("SELECT max(seq) FROM feed")
    assert n > 3 and result.pushed == n and hub.batches == [n]  # one POST for the whole feed
    assert set(hub.stored.values()) == {1} and set(hub.stored) == local_ids(a) and a.pending() == 0


def test_a_batch_the_hub_stops_early_is_resent_from_where_it_stopped(
    clinics: Callable[..., Clinic], hub: FakeHub
) -> None:
    a = clinics(push_bytes=sync.MAX_FRAME_BYTES)
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    visits(a.store, rid, 12)
    n = a.scalar("SELECT count(*) FROM outbox")
    a.client._seal()
    seqs = a.scalar("SELECT max(seq) FROM feed")
    original = hub._one
    refused: list[int] = []

    def flaky(node_id: str, entry: Any, frame: bytes) -> Any:  # the hub refuses changeset 3 once
        sealed = sync.open_changeset(frame, entry.public)
        if sealed.changeset.seq == 3 and not refused:
            refused.append(3)
            return problem(409, "chain-broken", "changeset 3 arrived before 2", expected_seq=2)
        return original(node_id, entry, frame)

    hub._one = flaky  # type: ignore[method-assign]
    result = a.client.round()
    assert refused == [3] and result.pushed == seqs and a.pending() == 0
    assert hub.batches[0] == seqs and hub.batches[1] == seqs - 2  # resent from 3, nothing before it
    assert [hub.received[(a.node_id, s)] for s in range(1, seqs + 1)] == [1] * seqs  # nothing sent twice
    assert len(hub.stored) == n


def test_a_round_that_uploads_pulls_only_when_the_hub_has_something(
    clinics: Callable[..., Clinic], hub: FakeHub
) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    a.client.round()
    pulls = lambda: sum(1 for m, p in hub.requests if p.startswith("/sync/v1/pull/"))  # noqa: E731
    before = pulls()
    visits(a.store, rid, 2)
    a.client.round()  # the push answer says the hub's feed for this clinic is empty: no pull
    assert pulls() == before and a.pending() == 0
    hub.publish(a.node_id, [])  # the hub has something for this clinic now
    visits(a.store, rid, 1)
    assert a.client.round().pulled == 1 and pulls() == before + 1
    a.client.round()  # nothing to upload: the round asks the hub anyway
    assert pulls() == before + 2


def test_interrupted_upload_resumes_without_resending(clinics: Callable[..., Clinic], hub: FakeHub) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    visits(a.store, rid, 12)
    a.link.uploads_before_drop = 2
    with pytest.raises(HubUnreachable):
        a.client.round()
    n = a.scalar("SELECT max(seq) FROM feed")
    assert hub.heads[a.node_id].seq == 2 and a.pending() > 0
    assert a.status()["errors"][0]["reason"] == "unreachable"
    assert a.status()["hub_head"] == 2

    # The hub stores the next one but the answer is lost on the way back.
    a.link.uploads_before_drop, a.link.lose_answers = None, True
    with pytest.raises(HubUnreachable):
        a.client.round()
    a.link.lose_answers = False
    assert hub.heads[a.node_id].seq == 3

    a.client.round()
    assert hub.heads[a.node_id].seq == n and a.pending() == 0
    assert [hub.received[(a.node_id, s)] for s in range(1, n + 1)] == [1] * n
    assert set(hub.stored.values()) == {1} and set(hub.stored) == local_ids(a)
    assert a.status()["errors"] == []  # a successful round clears them from the status


def test_duplicate_answer_counts_as_acknowledged(clinics: Callable[..., Clinic], hub: FakeHub) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    visits(a.store, rid, 4)
    a.client.round()
    n = hub.heads[a.node_id].seq
    visits(a.store, rid, 1)
    hub.reported_head[a.node_id] = sync.FeedHead(a.node_id)  # a lagging head: the node re-sends all
    result = a.client.round()
    assert result.pushed == n + 1 and a.pending() == 0
    assert all(hub.received[(a.node_id, s)] == 2 for s in range(1, n + 1))
    assert set(hub.stored.values()) == {1}


def test_chain_broken_resends_from_the_expected_seq(clinics: Callable[..., Clinic], hub: FakeHub) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    visits(a.store, rid, 8)
    a.client.round()
    n = hub.heads[a.node_id].seq
    assert n >= 3
    old_head = hub.heads[a.node_id]
    hub.truncate(a.node_id, 1)  # the hub lost 2..n, but its head cache still says n
    hub.reported_head[a.node_id] = old_head
    visits(a.store, rid, 1)
    a.client.round()
    assert hub.heads[a.node_id].seq == n + 1 and a.pending() == 0
    assert hub.received[(a.node_id, 2)] == 2 and hub.received[(a.node_id, n + 1)] == 2
    assert hub.received[(a.node_id, 1)] == 1


def test_refusals_are_typed_with_the_hubs_reason_and_lose_nothing(
    clinics: Callable[..., Clinic], hub: FakeHub
) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    hub.nodes[a.node_id].revoked = "clinic laptop stolen, 2026-11-20"
    with pytest.raises(HubRefused) as exc:
        a.client.round()
    assert exc.value.reason == "revoked" and "laptop stolen" in str(exc.value)
    assert a.pending() == 1 and a.store.resident(rid)
    assert a.status()["errors"][0]["reason"] == "revoked"

    del hub.nodes[a.node_id]
    with pytest.raises(HubRefused) as exc:
        a.client.round()
    assert exc.value.reason == "unknown-node"


def test_a_fork_is_refused_and_reported(clinics: Callable[..., Clinic], hub: FakeHub) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    visits(a.store, rid, 8)
    a.client.round()
    feed = hub.feeds[a.node_id]
    assert len(feed) >= 3
    feed[2] = feed[3]  # the hub holds something else at seq 2 …
    hub.reported_head[a.node_id] = sync.FeedHead(a.node_id, 1, feed[1].hash)  # … and the node re-sends it
    with pytest.raises(HubRefused) as exc:
        a.client.round()
    assert exc.value.reason == "fork" and exc.value.status_code == 409
    assert a.status()["errors"][0]["reason"] == "fork"
    assert a.scalar("SELECT count(*) FROM outbox") == 9


def test_hub_failures_and_bad_heads_are_translated(clinics: Callable[..., Clinic], hub: FakeHub) -> None:
    a = clinics()
    a.link.down = True
    with pytest.raises(HubUnreachable) as down:
        a.client.round()
    assert isinstance(down.value.__cause__, httpx.ConnectError)
    a.link.down = False

    real = hub.handle
    hub.handle = lambda request: problem(502, "", "upstream broke")  # type: ignore[method-assign]
    with pytest.raises(HubUnreachable, match="502"):
        a.client.round()
    impostor = Ed25519PrivateKey.generate()
    hub.handle = lambda request: binary(sync.seal_head(sync.FeedHead(a.node_id), 0, impostor).frame)  # type: ignore[method-assign]
    with pytest.raises(HubAnswerInvalid, match="does not verify"):
        a.client.round()
    hub.handle = real  # type: ignore[method-assign]
    a.client.round()


def test_held_records_are_reported_and_cleared(clinics: Callable[..., Clinic], hub: FakeHub) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    allergy = a.store.add_record(
        rid,
        "allergy",
        {"substance": "花生", "substance_category": "food", "recorded_on": "2026-01-01"},
        user="d",
    )
    hub.hold_types = {"allergy"}
    result = a.client.round()
    assert result.held == 1 and a.pending() == 0  # the hub holds the changeset; the record waits there
    held = [e for e in a.status()["errors"] if e["kind"] == "held"]
    assert [(e["record_id"], e["reason"]) for e in held] == [(allergy.id, "version-too-new")]
    hub.held[a.node_id].clear()  # the hub was upgraded and applied it
    a.client.round()
    assert a.status()["errors"] == []


def test_a_restored_node_refuses_to_push(
    clinics: Callable[..., Clinic], hub: FakeHub, tmp_path: Path
) -> None:
    a = clinics()
    rid = a.store.register_resident(resident_data(), user="clerk").envelope.id
    a.client.round()
    backup = tmp_path / "backup.db"
    with sqlite3.connect(a.store.db.path) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    visits(a.store, rid, 6)
    a.client.round()
    hub_head = hub.heads[a.node_id]
    assert hub_head.seq > 1

    # Restore the old backup over the node's database.
    a.client.close()
    a.store.db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{a.home.db_path}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, a.home.db_path)
    db = a.home.database()
    a.store = NodeStore(db, node_id=a.node_id, today=lambda: dt.date(2026, 11, 25))
    a.client = SyncClient.for_home(
        a.home, a.store, transport=httpx.MockTransport(a.link), changeset_bytes=2000
    )
    new = visits(a.store, rid, 1)[0]
    posts = hub.posts()

    with pytest.raises(FeedBehindHub) as exc:
        a.client.round()
    message = str(exc.value)
    assert "database is older than what the hub holds" in message and "re-enrol as a new node" in message
    assert "\n" not in message
    assert hub.posts() == posts and hub.heads[a.node_id] == hub_head  # nothing sent
    assert a.scalar("SELECT max(seq) FROM feed") == 1  # nothing sealed over the hub's seqs
    assert a.scalar("SELECT shipped_seq FROM outbox WHERE record_id = ?", new) is None  # kept locally
    assert a.status()["errors"][0]["reason"] == "feed-behind-hub"


# -- pull ------------------------------------------------------------------------------


def _same_person(a: Clinic, b: Clinic) -> tuple[str, str, dict[str, Any]]:
    data = resident_data("李秀兰", sex="2", birth="1962-04-18")
    ra = a.store.register_resident(data, user="clerk").envelope.id
    a.client.round()
    rb = b.store.register_resident(data, user="clerk").envelope.id
    b.client.round()
    a.client.round()
    return ra, rb, data


def test_pulled_records_show_in_the_linked_residents_tree_shared_and_read_only(
    clinics: Callable[..., Clinic], hub: FakeHub
) -> None:
    a, b = clinics("511321100"), clinics("511321101")
    ra, rb, _ = _same_person(a, b)
    assert a.scalar("SELECT remote_resident_id FROM links WHERE resident_id = ?", ra) == rb
    visit = b.store.add_record(rb, "encounter", encounter_data("2026-05-01T10:00:00", "I10"), user="doctor")
    b.client.round()
    result = a.client.round()
    assert result.applied == 1

    tree = file_tree(a.store, ra, readable=readable_types(Role.DOCTOR))
    shown = [r for c in tree["categories"] for g in c["groups"] for r in g["records"]]
    assert [(r["id"], r["shared"], r["author"]) for r in shown] == [(visit.id, True, b.node_id)]
    with pytest.raises(ReadOnlyRecord, match="another clinic"):
        a.store.correct(visit.id, encounter_data(), user="doctor", reason="typo")
    assert outbox_matches_authored(a)  # pulled records never enter the outbox
    assert a.pending() == 0

    # Pull twice, or the hub sending the same records again: stored once.
    count = a.scalar("SELECT count(*) FROM records")
    assert a.client.pull() == (0, 0)
    hub.publish(a.node_id, [hub.records[visit.id], hub.records[rb]])
    assert a.client.pull() == (1, 0)
    assert a.scalar("SELECT count(*) FROM records") == count
    assert a.status()["errors"] == []


def test_a_pulled_record_that_cannot_be_applied_is_kept_and_does_not_block(
    clinics: Callable[..., Clinic], hub: FakeHub
) -> None:
    a, b = clinics("511321100"), clinics("511321101")
    ra, rb, _ = _same_person(a, b)
    visit = b.store.add_record(rb, "encounter", encounter_data(), user="doctor")
    b.client.round()
    future = {**hub.records[visit.id], "id": "0190f000-0000-7000-8000-000000000001", "type": "teleconsult"}
    newer = {**hub.records[visit.id], "id": "0190f000-0000-7000-8000-000000000002", "v": 99}
    hub.publish(a.node_id, [future, newer, hub.records[visit.id]])
    a.client.pull()
    assert a.store.record(visit.id).author == b.node_id
    kept = {e["record_id"]: e["reason"] for e in a.status()["errors"] if e["kind"] == "held-here"}
    assert kept == {future["id"]: "unknown-type", newer["id"]: "version-too-new"}
    assert a.scalar("SELECT max(seq) FROM pulled_feed") == len(hub.out[a.node_id])
    del ra


def test_a_link_arriving_after_the_records_merges_them_then(
    clinics: Callable[..., Clinic], hub: FakeHub
) -> None:
    a, b = clinics("511321100"), clinics("511321101")
    data = resident_data("赵德福", birth="1948-09-30")
    rb = b.store.register_resident({**data, "occupation": "5"}, user="clerk").envelope.id
    visit = b.store.add_record(rb, "encounter", encounter_data(), user="doctor")
    b.client.round()
    ra = a.store.register_resident(data, user="clerk").envelope.id  # not synced: the hub cannot link yet
    hub.publish(a.node_id, [hub.records[rb], hub.records[visit.id]])
    a.client.pull()
    assert "occupation" not in a.store.resident(ra) and a.store.records_of(ra) == []
    hub.publish(a.node_id, [FakeHub._link(ra, data["id_number"], rb, b.node_id)])
    a.client.pull()
    assert a.store.resident(ra)["occupation"] == "5"
    assert [r.id for r in a.store.records_of(ra)] == [visit.id]


@pytest.mark.parametrize("attack", ["flipped-byte", "other-key", "other-feed"])
def test_a_tampered_hub_frame_is_refused_and_the_cursor_stays(
    clinics: Callable[..., Clinic], hub: FakeHub, attack: str
) -> None:
    a, b = clinics("511321100"), clinics("511321101")
    ra, rb, _ = _same_person(a, b)
    cursor = a.scalar("SELECT max(seq) FROM pulled_feed")
    records = a.scalar("SELECT count(*) FROM records")
    visit = b.store.add_record(rb, "encounter", encounter_data(), user="doctor")
    b.client.round()
    hub.out[a.node_id].pop()  # replace what the hub would send with the attack
    if attack == "flipped-byte":
        hub.publish(a.node_id, [hub.records[visit.id]])

        def flip(frame: bytes) -> bytes:
            body, signature = sync.decode(frame)
            return sync.encode([body.replace(b"doctor", b"doktor"), signature])

        hub.tamper = flip
    elif attack == "other-key":
        hub.publish(a.node_id, [hub.records[visit.id]], key=Ed25519PrivateKey.generate())
    else:
        chain = hub.out[a.node_id]
        forged = sync.Changeset(
            f"hub:{b.node_id}", len(chain) + 1, chain[-1].hash, 0, 0, 1, (hub.records[visit.id],)
        )
        chain.append(sync.seal(forged, hub.key))

    with pytest.raises(HubAnswerInvalid) as exc:
        a.client.round()
    assert "cursor stays" in str(exc.value)
    assert a.scalar("SELECT max(seq) FROM pulled_feed") == cursor
    assert a.scalar("SELECT count(*) FROM records") == records
    assert a.status()["errors"][0]["reason"] in {"bad-signature", "malformed"}
    del ra


def test_pulled_demographics_merge_but_never_overwrite_an_unpushed_local_change(
    clinics: Callable[..., Clinic], hub: FakeHub, clock: Clock
) -> None:
    a, b = clinics("511321100"), clinics("511321101")
    ra, rb, data = _same_person(a, b)
    local_phone, remote_phone = "13800000001", "13800000002"
    a.store.update_resident(ra, {"phone": local_phone}, user="clerk")  # not pushed yet
    clock.advance(60)
    address = {**data["address"], "street": "新村 3 组 12 号"}
    b.store.update_resident(rb, {"phone": remote_phone, "address": address}, user="clerk")  # later stamp
    b.client.round()

    a.client.pull()
    resident = a.store.resident(ra)
    assert resident["phone"] == local_phone  # kept: the hub has not got it yet
    assert resident["address"]["street"] == "新村 3 组 12 号"  # an untouched field merges
    history = a.store.field_history(ra)
    phones = {(h["value"], h["author"], h["outcome"]) for h in history if h["field"] == "phone"}
    assert (local_phone, a.node_id, "current") in phones
    assert (remote_phone, b.node_id, "conflict") in phones  # both values kept, flagged for a person
    assert a.store.search(local_phone)[0]["id"] == ra

    a.client.round()  # pulling again changes nothing
    assert a.store.resident(ra)["phone"] == local_phone and a.pending() == 0


def test_acknowledged_local_demographics_yield_to_a_later_remote_change(
    clinics: Callable[..., Clinic], hub: FakeHub, clock: Clock
) -> None:
    a, b = clinics("511321100"), clinics("511321101")
    ra, rb, _ = _same_person(a, b)
    a.store.update_resident(ra, {"phone": "13800000001"}, user="clerk")
    a.client.round()  # pushed and acknowledged
    clock.advance(60)
    b.store.update_resident(rb, {"phone": "13800000002"}, user="clerk")
    b.client.round()
    a.client.round()
    assert a.store.resident(ra)["phone"] == "13800000002"
    assert a.store.search("13800000002")[0]["id"] == ra


def test_an_unlink_removes_the_link_the_merged_history_and_the_merged_values(
    clinics: Callable[..., Clinic], hub: FakeHub, clock: Clock
) -> None:
    a, b = clinics("511321100"), clinics("511321101")
    ra, rb, data = _same_person(a, b)
    visit = b.store.add_record(rb, "encounter", encounter_data("2026-05-01T10:00:00", "I10"), user="doctor")
    clock.advance(60)
    b.store.update_resident(rb, {"phone": "13800000009", "occupation": "5"}, user="clerk")
    b.client.round()
    a.client.round()
    assert a.store.resident(ra)["phone"] == "13800000009" and a.store.resident(ra)["occupation"] == "5"
    assert [r.id for r in a.store.records_of(ra)] == [visit.id]

    # The hub's operator separates them: the link item names what it lost.
    item = FakeHub._link(ra, "M-new", rb, b.node_id)
    item["linked"], item["unlinked"] = [], item["linked"]
    hub.publish(a.node_id, [item])
    a.client.pull()
    assert a.scalar("SELECT count(*) FROM links WHERE resident_id = ?", ra) == 0
    assert a.store.records_of(ra) == []  # the other resident's history is no longer shown
    assert a.store.record(visit.id).author == b.node_id  # but kept, read-only
    resident = a.store.resident(ra)
    assert resident["phone"] == data["phone"] and "occupation" not in resident  # this clinic's values back
    assert a.store.search(data["phone"])[0]["id"] == ra and a.store.search("13800000009") == []
    phones = [
        (h["value"], h["author"], h["outcome"]) for h in a.store.field_history(ra) if h["field"] == "phone"
    ]
    assert (data["phone"], a.node_id, "current") in phones and (
        "13800000009",
        b.node_id,
        "unlinked",
    ) in phones
    assert {o for _, author, o in phones if author == b.node_id} == {"unlinked"}  # history keeps them all
    a.client.pull()  # an unlink applied again changes nothing
    assert a.status()["errors"] == []


def test_hub_items_of_unknown_kinds_are_kept_and_the_directory_names_clinics(
    clinics: Callable[..., Clinic], hub: FakeHub
) -> None:
    a, b = clinics("511321100"), clinics("511321101")
    ra, rb, _ = _same_person(a, b)
    visit = b.store.add_record(rb, "encounter", encounter_data(), user="doctor")
    b.client.round()
    directory = {
        "kind": "directory",
        "nodes": [{"node_id": b.node_id, "clinic": "511321101", "name": "东山"}],
    }
    hub.publish(a.node_id, [{"kind": "teleconsult-invite", "room": 7}, directory])
    a.client.pull()
    kept = [(e["record_id"], e["reason"]) for e in a.status()["errors"] if e["kind"] == "held-here"]
    assert [reason for _, reason in kept] == ["unknown-kind"]  # kept for after an upgrade, did not block
    assert a.scalar("SELECT max(seq) FROM pulled_feed") == len(hub.out[a.node_id])
    tree = file_tree(a.store, ra, readable=readable_types(Role.DOCTOR))
    (shown,) = [r for c in tree["categories"] for g in c["groups"] for r in g["records"]]
    assert shown["id"] == visit.id and shown["source"] == {
        "node_id": b.node_id,
        "clinic": "511321101",
        "name": "东山",
    }
    assert tree["links"] == [{"resident_id": rb, "node_id": b.node_id, "clinic": "511321101", "name": "东山"}]


# -- scheduling -----------------------------------------------------------------------


def test_backoff_grows_with_jitter_and_resets_after_success(
    clinics: Callable[..., Clinic], clock: Clock
) -> None:
    a = clinics()
    draws = iter([1.0, 0.5, 0.25, 1.0, 1.0])
    job = SyncScheduler(a.client, interval_s=30, rand=lambda: next(draws), wall_ms=clock)
    a.link.down = True
    waits = []
    for _ in range(4):
        before = clock()
        assert job.tick() is None
        waits.append((a.client.state.next_attempt_ms() or 0) - before)
        calls = a.link.calls
        assert job.tick() is None and a.link.calls == calls  # backing off: no request at all
        clock.advance(waits[-1] / 1000)
    assert waits == [5_000, 5_000, 5_000, 40_000]  # 1.0·5, 0.5·10, 0.25·20, 1.0·40
    assert a.client.state.failures() == 4

    a.link.down = False
    assert job.tick() is not None
    assert a.client.state.failures() == 0 and a.client.state.next_attempt_ms() is None
    assert a.status()["errors"] == [] and a.status()["last_sync"] is not None


def test_backoff_is_capped() -> None:
    backoff = Backoff()
    assert [backoff.delay_s(n, lambda: 1.0) for n in (1, 2, 3, 8, 9, 50)] == [5, 10, 20, 640, 900, 900]
    assert backoff.delay_s(3, lambda: 0.0) == 0


def test_the_scheduler_syncs_in_the_background(clinics: Callable[..., Clinic], hub: FakeHub) -> None:
    a = clinics()
    a.store.register_resident(resident_data(), user="clerk")
    job = SyncScheduler(a.client, interval_s=0.05)
    job.start()
    try:
        deadline = time.monotonic() + 30
        while a.status()["last_sync"] is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        job.shutdown(wait=True)
    assert a.pending() == 0 and set(hub.stored) == local_ids(a)


# -- the node's API ------------------------------------------------------------------


def test_api_shows_sync_state_and_syncs_now(
    clinics: Callable[..., Clinic], hub: FakeHub, password_hash: str
) -> None:
    a = clinics()
    a.store.register_resident(resident_data(), user="clerk")
    with a.store.db.write() as conn:
        for role in ("pharmacist", "clerk"):
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, '2026-01-01')",
                (role, role, password_hash),
            )
    tokens = {r: issue_token(a.store.db, r, kind="bearer") for r in ("pharmacist", "clerk")}

    with TestClient(app=create_app(a.store.db, a.store)) as c:
        r = c.get("/api/v1/sync", headers=auth(tokens["pharmacist"]))
        assert r.status_code == 200 and set(r.json()) == {"pending", "last_sync", "hub_head", "errors"}
        r = c.post("/api/v1/sync", headers=auth(tokens["clerk"]))
        assert r.status_code == 409 and "not enrolled" in r.json()["detail"]
        assert c.get("/api/v1/sync").status_code == 401

    with TestClient(app=create_app(a.store.db, a.store, sync=a.client)) as c:
        a.link.down = True
        r = c.post("/api/v1/sync", headers=auth(tokens["clerk"]))
        assert r.status_code == 503 and r.json()["reason"] == "unreachable"
        assert r.json()["sync"]["pending"] == 1
        a.link.down = False
        r = c.post("/api/v1/sync", headers=auth(tokens["clerk"]))
        assert r.status_code == 200 and r.json()["result"]["pushed"] == 1
        assert r.json()["sync"]["pending"] == 0 and r.json()["sync"]["hub_head"] == 1


# -- the command line, against the fake hub on a real loopback server ---------------------


def _asgi(hub: FakeHub) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        url = "http://hub" + scope["raw_path"].decode() + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        response = hub.handle(httpx.Request(scope["method"], url, headers=headers, content=body))
        raw = [(k.encode(), v.encode()) for k, v in response.headers.items()]
        await send({"type": "http.response.start", "status": response.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": response.content})

    return app


@contextmanager
def serve_hub(hub: FakeHub, *, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        _asgi(hub),
        lifespan="off",
        log_level="warning",
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def cli(*args: str) -> Any:
    return CliRunner().invoke(rhip, ["node", *args], catch_exceptions=False)


@pytest.fixture
def live_hub() -> Iterator[tuple[FakeHub, str]]:
    hub = FakeHub(lambda: time.time_ns() // 1_000_000)
    with serve_hub(hub) as url:
        yield hub, url


def _new_home(tmp_path: Path) -> Path:
    home = tmp_path / "clinic"
    assert cli("init", "--home", str(home), "--clinic", "511321100", "--name", "南隆镇卫生院").exit_code == 0
    return home


def test_cli_enroll_sync_status(tmp_path: Path, live_hub: tuple[FakeHub, str]) -> None:
    hub, url = live_hub
    home = _new_home(tmp_path)
    r = cli("status", "--home", str(home), "--json")
    assert json.loads(r.stdout) == {"pending": 0, "last_sync": None, "hub_head": None, "errors": []}
    r = cli("sync", "--home", str(home))
    assert r.exit_code != 0 and "not enrolled" in r.stderr

    r = cli("enroll", "--home", str(home), "--hub", url, "--token", "not-issued")
    assert r.exit_code != 0 and "token-unknown" in r.stderr and not (home / "hub.json").exists()
    r = cli("enroll", "--home", str(home), "--hub", url, "--token", hub.issue_token())
    assert r.exit_code == 0, r.output
    config = json.loads((home / "hub.json").read_text())
    node_id = NodeHome.open(home).node_id
    assert config == {
        "hub_url": url,
        "hub_id": "hub-test",
        "region": "511321",
        "hub_public_key": hub.public.hex(),
        "ca_file": None,
    }
    assert hub.nodes[node_id].clinic == "511321100"
    r = cli("enroll", "--home", str(home), "--hub", url, "--token", hub.issue_token())
    assert r.exit_code != 0 and "already enrolled" in r.stderr

    h = NodeHome.open(home)
    db = h.database()
    rid = h.store(db).register_resident(resident_data(), user="clerk").envelope.id
    visits(h.store(db), rid, 3)
    db.close()
    r = cli("status", "--home", str(home), "--json")
    assert json.loads(r.stdout)["pending"] == 4
    r = cli("sync", "--home", str(home))
    assert r.exit_code == 0, r.output
    assert "the hub holds everything" in r.stdout
    state = json.loads(cli("status", "--home", str(home), "--json").stdout)
    assert set(state) == {"pending", "last_sync", "hub_head", "errors"}
    assert state["pending"] == 0 and state["hub_head"] == 1 and state["last_sync"] and state["errors"] == []
    assert len(hub.stored) == 4
    human = cli("status", "--home", str(home)).stdout
    assert "pending:    0" in human and url in human


def test_cli_sync_of_a_revoked_node_fails_clearly_and_keeps_everything(
    tmp_path: Path, live_hub: tuple[FakeHub, str]
) -> None:
    hub, url = live_hub
    home = _new_home(tmp_path)
    assert cli("enroll", "--home", str(home), "--hub", url, "--token", hub.issue_token()).exit_code == 0
    h = NodeHome.open(home)
    db = h.database()
    h.store(db).register_resident(resident_data(), user="clerk")
    db.close()
    hub.nodes[h.node_id].revoked = "clinic closed by the county bureau"

    r = cli("sync", "--home", str(home))
    assert r.exit_code != 0
    assert r.stderr.count("\n") == 1 and "revoked" in r.stderr and "clinic closed" in r.stderr
    assert "1 record(s) wait on this node" in r.stderr
    state = json.loads(cli("status", "--home", str(home), "--json").stdout)
    assert state["pending"] == 1 and state["errors"][0]["reason"] == "revoked"
    assert not hub.stored


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away regional CA and a certificate for 127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: Any, issuer: x509.Name, signer: Any, *, ca: bool) -> x509.Certificate:
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if not ca:
            b = b.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return b.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rhip test region CA")])
    ca_cert = cert("rhip test region CA", ca_key, ca_name, ca_key, ca=True)
    server_cert = cert("127.0.0.1", server_key, ca_name, ca_key, ca=False)
    files = directory / "ca.pem", directory / "hub.pem", directory / "hub.key"
    files[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def test_cli_over_https_verifies_the_hub_against_the_regions_ca(tmp_path: Path) -> None:
    ca, cert, key = _tls_files(tmp_path)
    hub = FakeHub(lambda: time.time_ns() // 1_000_000)
    with serve_hub(hub, tls=(cert, key)) as url:
        home = _new_home(tmp_path)
        r = cli("enroll", "--home", str(home), "--hub", url, "--token", hub.issue_token())
        assert r.exit_code != 0 and "certificate" in r.stderr.lower()  # not trusted without the CA
        r = cli(
            "enroll", "--home", str(home), "--hub", url, "--token", hub.issue_token(), "--ca-file", str(ca)
        )
        assert r.exit_code == 0, r.output
        assert json.loads((home / "hub.json").read_text())["ca_file"] == str(ca.resolve())
        r = cli("sync", "--home", str(home))
        assert r.exit_code == 0, r.output
