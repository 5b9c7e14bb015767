"""The hub, through its real HTTP app and a real SQLite file, as enrolled clinic nodes see it.

A test clinic is what a node is to the hub: an Ed25519 key, a node id, and record envelopes made
with ``schemas.validate`` and ``RecordEnvelope``, sealed into its feed with ``sync``. Every test
asserts what a node (answers, heads, pulled feeds) or an operator (status, held records) notices.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uuid6
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

import schemas
import sync
from cli import rhip
from hub import (
    HomeError,
    HubHome,
    HubStore,
    create_app,
    init_hub_home,
    issue_token,
    retry_held,
    revoke_clinic,
)
from schemas import RecordEnvelope, Status

from .conftest import encounter_data, id_number, resident_data

T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z
DAY_MS = 86_400_000
OPERATOR = frozenset({"testclient"})  # the TestClient's peer address stands in for loopback


class Clock:
    """A wall clock in milliseconds that a test moves by hand."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def _date(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()


@dataclass
class Clinic:
    """One clinic node as the hub meets it: key, node id, its own clock, its feed."""

    clinic: str
    clock: Clock
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    node_id: str = field(default_factory=lambda: str(uuid6.uuid7()))
    hlc: sync.HybridClock = field(default_factory=sync.HybridClock)
    feed: list[sync.SealedChangeset] = field(default_factory=list)

    @property
    def public_key(self) -> bytes:
        return sync.public_bytes(self.key)

    # -- records ------------------------------------------------------------------

    def envelope(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        resident_id: str | None = None,
        supersedes: str | None = None,
        changed: tuple[str, ...] | None = None,
        v: int | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        rt = schemas.record_type(type_)
        body = schemas.validate(type_, data) if check else data
        rid = str(uuid6.uuid7())
        env = RecordEnvelope(
            id=rid,
            fact_id=resident_id if type_ == "resident" and resident_id else rid,
            type=type_,
            v=rt.version if v is None else v,
            resident_id=resident_id or rid,
            author=self.node_id,
            hlc=self.hlc.now(self.clock()).pack(),
            effective=str(body.get(rt.date_field) or _date(self.clock())),
            data=body,
            status=Status.AMENDED if supersedes else Status.FINAL,
            supersedes=supersedes,
            recorded_by="wangli",
            changed=changed,
        )
        return env.as_dict()

    def resident(self, **data: Any) -> dict[str, Any]:
        body = schemas.validate("resident", resident_data(**data))
        return self.envelope("resident", body, changed=tuple(sorted(body)))

    def update(self, previous: dict[str, Any], **changes: Any) -> dict[str, Any]:
        body = schemas.validate("resident", {**previous["data"], **changes})
        return self.envelope(
            "resident",
            body,
            resident_id=previous["resident_id"],
            supersedes=previous["id"],
            changed=tuple(sorted(changes)),
        )

    def encounter(self, resident: dict[str, Any], **data: Any) -> dict[str, Any]:
        return self.envelope("encounter", encounter_data(**data), resident_id=resident["resident_id"])

    # -- the feed -------------------------------------------------------------------

    def seal(self, *records: dict[str, Any], seq: int | None = None, prev: bytes | None = None) -> bytes:
        """The next changeset of this clinic's feed (or one at ``seq``/``prev``), as a frame."""
        last = self.feed[-1] if self.feed else None
        next_seq = seq if seq is not None else (last.changeset.seq + 1 if last else 1)
        prev_hash = prev if prev is not None else (last.hash if last else sync.ZERO_HASH)
        stamps = [r["hlc"] for r in records] or [self.hlc.now(self.clock()).pack()]
        sealed = sync.seal(
            sync.Changeset(
                self.node_id, next_seq, prev_hash, min(stamps), max(stamps), schemas.SCHEMA_RELEASE, records
            ),
            self.key,
        )
        if seq is None and prev is None:
            self.feed.append(sealed)
        return sealed.frame

    # -- requests -------------------------------------------------------------------

    def headers(
        self, method: str, path: str, body: bytes = b"", *, key: Ed25519PrivateKey | None = None
    ) -> dict[str, str]:
        wall = self.clock()
        signature = sync.sign_request(
            key or self.key, method=method, path=path, node_id=self.node_id, wall_ms=wall, body=body
        )
        return {"X-Rhip-Node": self.node_id, "X-Rhip-Time": str(wall), "X-Rhip-Signature": signature.hex()}

    def enrol(self, client: TestClient[Any], token: str, *, clinic: str | None = None) -> Any:
        body = {
            "token": token,
            "node_id": self.node_id,
            "clinic": clinic or self.clinic,
            "name": f"{self.clinic} 卫生院",
            "public_key": self.public_key.hex(),
        }
        return client.post("/sync/v1/enroll", content=json.dumps(body).encode())

    def push(self, client: TestClient[Any], frame: bytes, **kw: Any) -> Any:
        body = sync.compress(frame)
        path = f"/sync/v1/feeds/{self.node_id}/changesets"
        return client.post(path, content=body, headers=self.headers("POST", path, body, **kw))

    def get(self, client: TestClient[Any], path: str, **kw: Any) -> Any:
        return client.get(path, headers=self.headers("GET", path, **kw))

    def head(self, client: TestClient[Any], hub_public: bytes) -> sync.FeedHead:
        r = self.get(client, f"/sync/v1/feeds/{self.node_id}/head")
        assert r.status_code == 200, r.text
        return sync.open_head(sync.decompress(r.content), hub_public).head

    def pull(self, client: TestClient[Any], *, after: int = 0, limit: int = 100) -> list[bytes]:
        r = self.get(client, f"/sync/v1/pull/{self.node_id}?after={after}&limit={limit}")
        assert r.status_code == 200, r.text
        frames: list[bytes] = sync.decode(sync.decompress(r.content))
        return frames

    def pulled_items(self, client: TestClient[Any], hub_public: bytes) -> list[dict[str, Any]]:
        """Every item of this clinic's hub feed, verified as a node does: hub key, feed id, chain."""
        head = sync.FeedHead(f"hub:{self.node_id}")
        items: list[dict[str, Any]] = []
        for frame in self.pull(client):
            sealed = sync.open_changeset(frame, hub_public)
            assert sync.decide(head, sealed, lambda _: None) is sync.Verdict.ACCEPT
            head = head.advance(sealed)
            items.extend(sealed.changeset.records)
        return items


def answer(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    value: dict[str, Any] = sync.decode(sync.decompress(r.content))
    return value


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def hub_home(tmp_path: Path) -> HubHome:
    return init_hub_home(tmp_path / "hub", region="511321")


@pytest.fixture
def hub_store(hub_home: HubHome, clock: Clock) -> Iterator[HubStore]:
    db = hub_home.database()
    yield HubStore(db, clock=clock)
    db.close()


@pytest.fixture
def hub_public(hub_home: HubHome) -> bytes:
    return hub_home.public_key()


def make_app(home: HubHome, store: HubStore, **kw: Any) -> Any:
    kw.setdefault("operator_hosts", OPERATOR)
    return create_app(store, key=home.key(), hub_id=home.hub_id, region=home.region, **kw)


@pytest.fixture
def client(hub_home: HubHome, hub_store: HubStore) -> Iterator[TestClient[Any]]:
    with TestClient(app=make_app(hub_home, hub_store)) as c:
        yield c


def enrolled(client: TestClient[Any], store: HubStore, clinic: str, clock: Clock | None = None) -> Clinic:
    c = Clinic(clinic, clock or Clock(store.clock()))
    r = c.enrol(client, issue_token(store, clinic))
    assert r.status_code == 201, r.text
    return c


def status_of(store: HubStore, c: Clinic) -> dict[str, Any]:
    node: dict[str, Any] = next(n for n in store.status()["nodes"] if n["node_id"] == c.node_id)
    return node


# -- enrolment -------------------------------------------------------------------------


def test_enrolment_token_works_once(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome, hub_public: bytes, clock: Clock
) -> None:
    token = issue_token(hub_store, "511321100")
    a = Clinic("511321100", clock)
    r = a.enrol(client, token)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "hub_id": hub_home.hub_id,
        "region": "511321",
        "hub_public_key": hub_public.hex(),
        "head": {"seq": 0, "hash": "00" * 32},
    }
    assert hub_store.reads().token(token) is None  # only the hash is stored
    # The same node asking again (its answer was lost) gets the same answer; anyone else is refused.
    assert a.enrol(client, token).status_code == 201
    r = Clinic("511321100", clock).enrol(client, token)
    assert r.status_code == 403 and r.json()["reason"] == "token-used"
    r = Clinic("511321100", clock).enrol(client, "not-a-token-anyone-issued")
    assert r.status_code == 403 and r.json()["reason"] == "token-unknown"
    assert r.json()["status_code"] == 403 and "ask the hub operator" in r.json()["detail"]
    # A token is bound to its clinic and expires after 7 days.
    other = issue_token(hub_store, "511321101")
    r = Clinic("511321102", clock).enrol(client, other)
    assert r.status_code == 400 and r.json()["reason"] == "malformed" and "511321101" in r.json()["detail"]
    clock.ms += 8 * DAY_MS
    r = Clinic("511321101", clock).enrol(client, other)
    assert r.status_code == 403 and r.json()["reason"] == "token-unknown" and "expired" in r.json()["detail"]
    assert [n["clinic"] for n in hub_store.status()["nodes"]] == ["511321100"]


def test_enrolment_refuses_bad_requests_without_using_the_token(
    client: TestClient[Any], hub_store: HubStore, clock: Clock
) -> None:
    token = issue_token(hub_store, "511321100")
    a = Clinic("511321100", clock)
    for body in (b"not json", b"[]", json.dumps({"token": token}).encode()):
        r = client.post("/sync/v1/enroll", content=body)
        assert r.status_code == 400 and r.json()["reason"] == "malformed", r.text
    good = {"token": token, "node_id": a.node_id, "clinic": a.clinic, "name": "x", "public_key": "ab" * 32}
    for bad in ({"public_key": "zz"}, {"public_key": "ab" * 8}, {"node_id": "node-1"}, {"name": " "}):
        r = client.post("/sync/v1/enroll", content=json.dumps({**good, **bad}).encode())
        assert r.status_code == 400 and r.json()["reason"] == "malformed", r.text
    assert a.enrol(client, token).status_code == 201


# -- push ------------------------------------------------------------------------------


def test_push_accepts_then_acknowledges_a_retry_once(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    r1 = a.resident()
    frame = a.seal(r1, a.encounter(r1))
    got = answer(a.push(client, frame))
    assert got["verdict"] == "accept" and got["held"] == []
    signed = sync.open_head(got["head"], hub_public)  # signed by the hub
    assert signed.head == sync.FeedHead(a.node_id, 1, a.feed[0].hash)
    got = answer(a.push(client, frame))
    assert got["verdict"] == "duplicate"
    assert sync.open_head(got["head"], hub_public).head.seq == 1
    assert a.head(client, hub_public) == sync.FeedHead(a.node_id, 1, a.feed[0].hash)
    node = status_of(hub_store, a)
    assert node["head"] == 1 and node["records"] == 2 and node["last_seen"] is not None
    # The exact bytes the node signed are kept, once, with how many records they carry.
    frames = hub_store.db.writer.execute(
        "SELECT frame, records FROM changesets WHERE node_id = ?", (a.node_id,)
    ).fetchall()
    assert [(bytes(f[0]), f[1]) for f in frames] == [(frame, 2)]
    got = answer(a.push(client, a.seal(a.encounter(r1, icd10="I10"))))
    assert got["verdict"] == "accept" and sync.open_head(got["head"], hub_public).head.seq == 2


def test_gap_is_refused_with_the_seq_expected(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    first = a.seal(a.resident())
    second = a.seal(a.resident())
    r = a.push(client, second)
    assert r.status_code == 409
    assert r.json()["reason"] == "chain-broken" and r.json()["expected_seq"] == 1
    assert a.head(client, hub_public).seq == 0 and status_of(hub_store, a)["records"] == 0
    assert answer(a.push(client, first))["verdict"] == "accept"
    assert answer(a.push(client, second))["verdict"] == "accept"


def test_fork_is_quarantined_alerted_and_never_applied(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    original = a.seal(a.resident())
    assert answer(a.push(client, original))["verdict"] == "accept"
    # A restored backup writes a different changeset 1.
    forked = a.seal(a.resident(), seq=1, prev=sync.ZERO_HASH)
    for _ in range(2):
        r = a.push(client, forked)
        assert r.status_code == 409 and r.json()["reason"] == "fork", r.text
        assert "quarantined" in r.json()["detail"]
    # The next seq that does not follow the head is a fork too.
    r = a.push(client, a.seal(a.resident(), seq=2, prev=b"\x01" * 32))
    assert r.status_code == 409 and r.json()["reason"] == "fork"
    assert a.head(client, hub_public) == sync.FeedHead(a.node_id, 1, a.feed[0].hash)
    node = status_of(hub_store, a)
    assert node["records"] == 1
    assert [q["seq"] for q in node["quarantined"]] == [1, 2]
    assert node["quarantined"][0]["offered_hash"] != a.feed[0].hash.hex()
    assert node["quarantined"][0]["held_hash"] == a.feed[0].hash.hex()
    alerts = hub_store.reads().alerts()
    assert [x["kind"] for x in alerts] == ["fork", "fork"] and alerts[0]["node_id"] == a.node_id
    r = CliRunner().invoke(rhip, ["hub", "status", "--home", str(hub_store.db.path.parent)])
    assert r.exit_code == 0 and "FORK at seq 1" in r.output


def test_a_batch_is_taken_in_order_and_stops_at_the_first_refused_frame(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    r1 = a.resident()
    frames = [a.seal(r1), a.seal(a.encounter(r1)), a.seal(a.encounter(r1, icd10="I10"))]
    got = answer(a.push(client, sync.pack_batch(frames[:2])))
    assert got["verdicts"] == ["accept", "accept"] and "stopped" not in got
    assert sync.open_head(got["head"], hub_public).head == sync.FeedHead(a.node_id, 2, a.feed[1].hash)
    # A resent batch overlapping the head: the known frames are duplicates, the new one is taken.
    got = answer(a.push(client, sync.pack_batch(frames)))
    assert got["verdicts"] == ["duplicate", "duplicate", "accept"]
    assert status_of(hub_store, a)["records"] == 3

    # A forged frame in the middle: the one before it is kept, the rest is not looked at.
    r2 = a.resident(name="李四")
    good, bad, after = a.seal(r2), a.seal(a.encounter(r2)), a.seal(a.encounter(r2))
    tampered = sync.seal(sync.open_changeset(bad, a.public_key).changeset, Ed25519PrivateKey.generate()).frame
    got = answer(a.push(client, sync.pack_batch([good, tampered, after])))
    assert got["verdicts"] == ["accept"] and got["stopped"]["reason"] == "bad-signature"
    assert a.head(client, hub_public).seq == 4 and status_of(hub_store, a)["records"] == 4
    # Sent again from the refused frame, the refusal comes back as the error it is.
    r = a.push(client, sync.pack_batch([tampered, after]))
    assert r.status_code == 400 and r.json()["reason"] == "bad-signature"
    assert answer(a.push(client, sync.pack_batch([bad, after])))["verdicts"] == ["accept", "accept"]
    assert status_of(hub_store, a)["records"] == 6


def test_a_fork_inside_a_batch_is_quarantined_and_what_came_before_is_kept(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    first = a.seal(a.resident())
    assert answer(a.push(client, first))["verdict"] == "accept"
    second = a.seal(a.resident())
    forked = a.seal(a.resident(), seq=2, prev=b"\x02" * 32)
    got = answer(a.push(client, sync.pack_batch([first, second, forked])))
    assert got["verdicts"] == ["duplicate", "accept"] and got["stopped"]["reason"] == "fork"
    node = status_of(hub_store, a)
    assert node["head"] == 2 and node["records"] == 2 and [q["seq"] for q in node["quarantined"]] == [2]


@pytest.mark.parametrize(
    "body",
    [
        sync.encode({"frames": []}),
        sync.encode({"frames": ["text"]}),
        sync.encode({"frames": [b"x"], "extra": 1}),
        sync.encode({"other": [b"x"]}),
        sync.encode({"frames": [b"x"] * (sync.MAX_BATCH_FRAMES + 1)}),
    ],
)
def test_a_malformed_batch_is_refused_and_nothing_stored(
    client: TestClient[Any], hub_store: HubStore, body: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    r = a.push(client, body)
    assert r.status_code == 400 and r.json()["reason"] == "malformed", r.text
    assert "batch" in r.json()["detail"] or "frame" in r.json()["detail"]
    assert status_of(hub_store, a)["head"] == 0


def test_forged_tampered_and_bad_bodies_are_refused_and_nothing_stored(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    b = enrolled(client, hub_store, "511321101")
    forger = Clinic(a.clinic, a.clock, key=Ed25519PrivateKey.generate(), node_id=a.node_id)
    forged = forger.seal(a.resident())
    r = a.push(client, forged)
    assert r.status_code == 400 and r.json()["reason"] == "bad-signature", r.text
    body, signature = sync.decode(a.seal(a.resident(), seq=1, prev=sync.ZERO_HASH))
    tampered = sync.encode([body.replace(b"511321", b"511322", 1), signature])
    r = a.push(client, tampered)
    assert r.status_code == 400 and r.json()["reason"] == "bad-signature"
    # B's changeset, even correctly signed by B, does not belong on A's feed.
    r = a.push(client, b.seal(b.resident()))
    assert r.status_code == 400 and r.json()["reason"] == "malformed"
    path = f"/sync/v1/feeds/{a.node_id}/changesets"
    for bad in (b"", b"not zlib", zlib.compress(b"\xc1 not msgpack"), zlib.compress(sync.encode({"a": 1}))):
        r = client.post(path, content=bad, headers=a.headers("POST", path, bad))
        assert r.status_code == 400 and r.json()["reason"] == "malformed", (bad, r.text)
    big = b"\0" * (sync.MAX_BODY_BYTES + 1)
    r = client.post(path, content=big, headers=a.headers("POST", path, big))
    assert r.status_code == 413 and r.json()["reason"] == "too-large"
    assert a.head(client, hub_public).seq == 0
    assert status_of(hub_store, a)["records"] == 0 and status_of(hub_store, a)["quarantined"] == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=300), compressed=st.booleans())
def test_no_garbage_body_gets_a_500(
    client: TestClient[Any], hub_store: HubStore, garbage: bytes, compressed: bool
) -> None:
    a = enrolled(client, hub_store, "511321100")
    body = zlib.compress(garbage) if compressed else garbage
    path = f"/sync/v1/feeds/{a.node_id}/changesets"
    r = client.post(path, content=body, headers=a.headers("POST", path, body))
    assert r.status_code == 400 and r.json()["reason"] in ("malformed", "bad-signature")


def test_revoked_and_unknown_nodes_are_refused(
    client: TestClient[Any], hub_store: HubStore, clock: Clock
) -> None:
    a = enrolled(client, hub_store, "511321100")
    assert answer(a.push(client, a.seal(a.resident())))["verdict"] == "accept"
    done = revoke_clinic(hub_store, "511321100", reason="laptop stolen on 2026-11-17")
    assert done.nodes == [a.node_id]
    r = a.push(client, a.seal(a.resident()))
    assert r.status_code == 403 and r.json()["reason"] == "revoked"
    assert "laptop stolen" in r.json()["detail"]
    r = a.get(client, f"/sync/v1/feeds/{a.node_id}/head")
    assert r.status_code == 403 and r.json()["reason"] == "revoked"
    stranger = Clinic("511321199", clock)
    r = stranger.push(client, stranger.seal(stranger.resident()))
    assert r.status_code == 403 and r.json()["reason"] == "unknown-node"
    assert status_of(hub_store, a)["revoked"] is True and status_of(hub_store, a)["records"] == 1


def test_request_signatures(client: TestClient[Any], hub_store: HubStore, clock: Clock) -> None:
    a = enrolled(client, hub_store, "511321100")
    b = enrolled(client, hub_store, "511321101")
    path = f"/sync/v1/feeds/{a.node_id}/head"
    r = a.get(client, path, key=Ed25519PrivateKey.generate())
    assert r.status_code == 403 and r.json()["reason"] == "bad-signature"
    r = client.get(path)
    assert r.status_code == 400 and r.json()["reason"] == "malformed"
    headers = a.headers("GET", path)
    r = client.get(path, headers={**headers, "X-Rhip-Signature": "not hex"})
    assert r.status_code == 400 and r.json()["reason"] == "malformed"
    # The query is signed too: another cursor is another request.
    signed = a.headers("GET", f"/sync/v1/pull/{a.node_id}?after=0&limit=10")
    r = client.get(f"/sync/v1/pull/{a.node_id}?after=5&limit=10", headers=signed)
    assert r.status_code == 403 and r.json()["reason"] == "bad-signature"
    # A node may only use its own feeds.
    r = b.get(client, path)
    assert r.status_code == 403 and r.json()["reason"] == "bad-signature" and b.node_id in r.json()["detail"]
    # Clinic clocks drift: two days off is fine, four is refused (the window bounds replays).
    skewed = Clinic(a.clinic, Clock(clock.ms - 2 * DAY_MS), key=a.key, node_id=a.node_id)
    assert skewed.get(client, path).status_code == 200
    stale = Clinic(a.clinic, Clock(clock.ms - 4 * DAY_MS), key=a.key, node_id=a.node_id)
    r = stale.get(client, path)
    assert r.status_code == 400 and r.json()["reason"] == "malformed" and "clock" in r.json()["detail"]


# -- held records -------------------------------------------------------------------------


def test_records_the_hub_cannot_apply_are_held_and_the_rest_stored(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    r1 = a.resident()
    invalid = a.envelope("encounter", {"visit_time": "yesterday"}, resident_id=r1["id"], check=False)
    too_new = a.envelope("encounter", encounter_data(), resident_id=r1["id"], v=99)
    unknown = a.envelope("encounter", encounter_data(), resident_id=r1["id"])
    unknown["type"] = "xray-ai-triage"
    fine = a.encounter(r1)
    got = answer(a.push(client, a.seal(r1, invalid, too_new, unknown, fine)))
    assert got["verdict"] == "accept"
    assert got["held"] == [
        {"record_id": invalid["id"], "reason": "invalid"},
        {"record_id": too_new["id"], "reason": "version-too-new"},
        {"record_id": unknown["id"], "reason": "unknown-type"},
    ]
    assert sync.open_head(got["head"], hub_public).head.seq == 1  # the feed advances
    node = status_of(hub_store, a)
    assert node["head"] == 1 and node["records"] == 2
    assert [h["reason"] for h in node["held"]] == ["invalid", "version-too-new", "unknown-type"]
    assert "visit_time" in node["held"][0]["detail"] and "upgrade" in node["held"][1]["detail"]
    r = a.get(client, f"/sync/v1/held/{a.node_id}")
    assert r.status_code == 200
    assert [(h["record_id"], h["reason"], h["seq"]) for h in r.json()] == [
        (invalid["id"], "invalid", 1),
        (too_new["id"], "version-too-new", 1),
        (unknown["id"], "unknown-type", 1),
    ]
    # A retry of the changeset is a duplicate and reports what is still held.
    got = answer(a.push(client, a.feed[0].frame))
    assert got["verdict"] == "duplicate" and len(got["held"]) == 3
    # Retrying changes nothing while the cause remains.
    report = retry_held(hub_store, HubHome.open(hub_store.db.path.parent).key())
    assert report.applied == 0 and len(report.still_held) == 3


def test_record_checks_in_worker_processes_hold_and_store_exactly_as_inline(
    hub_home: HubHome, hub_store: HubStore, hub_public: bytes, tmp_path: Path
) -> None:
    other_home = init_hub_home(tmp_path / "inline", region="511321")
    other_store = other_home.store()
    outcomes = []
    for home, store, workers in ((hub_home, hub_store, 2), (other_home, other_store, 0)):
        with TestClient(app=make_app(home, store, check_workers=workers)) as client:
            a = enrolled(client, store, "511321100")
            r1 = a.resident()
            invalid = a.envelope("encounter", {"visit_time": "yesterday"}, resident_id=r1["id"], check=False)
            frames = [a.seal(r1, invalid), a.seal(a.encounter(r1)), a.seal(a.update(r1, phone="13912345678"))]
            got = answer(a.push(client, sync.pack_batch(frames)))
            node = status_of(store, a)
            outcomes.append(
                (
                    got["verdicts"],
                    [h["reason"] for h in got["held"]],
                    node["records"],
                    [h["detail"] for h in node["held"]],
                    store.reads().demographics(r1["resident_id"])["fields"]["phone"]["value"],
                )
            )
    other_store.db.close()
    assert outcomes[0] == outcomes[1]
    verdicts, held, records, details, phone = outcomes[0]
    assert verdicts == ["accept"] * 3 and held == ["invalid"] and records == 3 and phone == "13912345678"
    assert "visit_time" in details[0]


def test_a_record_is_immutable_identical_copy_no_op_different_copy_held(
    client: TestClient[Any], hub_store: HubStore
) -> None:
    a = enrolled(client, hub_store, "511321100")
    r1 = a.resident()
    visit = a.encounter(r1)
    assert answer(a.push(client, a.seal(r1, visit)))["held"] == []
    assert answer(a.push(client, a.seal(visit)))["held"] == []  # the same fact again: nothing to do
    changed = {**visit, "data": {**visit["data"], "chief_complaint": "头痛"}}
    got = answer(a.push(client, a.seal(changed)))
    assert got["held"] == [{"record_id": visit["id"], "reason": "conflicting-copy"}]
    assert status_of(hub_store, a)["records"] == 2 and status_of(hub_store, a)["head"] == 3


def test_retry_held_applies_a_record_once_its_cause_is_gone(
    hub_home: HubHome, hub_store: HubStore, client: TestClient[Any], clock: Clock
) -> None:
    # A record dated three days after both the hub's and its writer's clocks (a date typed
    # wrong past the node's checks, say) is held; it applies once the cause is gone.
    a = enrolled(client, hub_store, "511321100", clock)
    ahead = clock.ms + 3 * DAY_MS
    baby = a.resident(name="李小宝", birth=_date(ahead), sex="2")
    visit = a.encounter(baby, when=_date(ahead) + "T10:00:00")
    got = answer(a.push(client, a.seal(baby, visit)))
    assert got["held"] == [{"record_id": baby["id"], "reason": "invalid"}]
    assert "future" in status_of(hub_store, a)["held"][0]["detail"]
    assert status_of(hub_store, a)["records"] == 1
    clock.ms += 3 * DAY_MS  # the date arrives (or the hub is upgraded: either way the cause is gone)
    report = retry_held(hub_store, hub_home.key())
    assert report.applied == 1 and report.still_held == []
    assert status_of(hub_store, a)["records"] == 2 and status_of(hub_store, a)["held"] == []
    assert a.get(client, f"/sync/v1/held/{a.node_id}").json() == []
    assert hub_store.reads().demographics(baby["id"])["fields"]["name"]["value"] == "李小宝"


def test_held_records_are_retried_at_start_up(
    hub_home: HubHome, hub_store: HubStore, client: TestClient[Any], clock: Clock
) -> None:
    a = enrolled(client, hub_store, "511321100", clock)
    got = answer(a.push(client, a.seal(a.resident(birth=_date(clock.ms + 2 * DAY_MS)))))
    assert len(got["held"]) == 1
    clock.ms += 2 * DAY_MS
    with TestClient(app=make_app(hub_home, hub_store)):
        pass
    assert status_of(hub_store, a)["held"] == [] and status_of(hub_store, a)["records"] == 1


# -- clocks and demographics ------------------------------------------------------------------


def test_skew_is_recorded_and_a_fast_clock_cannot_win_every_field(
    client: TestClient[Any], hub_store: HubStore, clock: Clock
) -> None:
    a = enrolled(client, hub_store, "511321100")
    fast = enrolled(client, hub_store, "511321101", Clock(clock.ms + 10 * DAY_MS))
    reg = a.resident(phone="13900000001")
    assert answer(a.push(client, a.seal(reg)))["verdict"] == "accept"
    # The fast clinic changes the phone offline, stamped ten days ahead; its clock is set right
    # before it reconnects (requests more than 3 days off are refused), its stamps stay.
    change = fast.update(reg, phone="13900000002")
    fast.clock.ms = clock.ms
    assert answer(fast.push(client, fast.seal(change)))["held"] == []
    assert status_of(hub_store, fast)["skew_s"] == pytest.approx(10 * 86_400, abs=1)
    assert status_of(hub_store, a)["skew_s"] == pytest.approx(0, abs=1)
    # Ten minutes later the home clinic, which had not seen that change, sets another phone.
    clock.ms += 10 * 60_000
    a.clock.ms += 10 * 60_000
    assert answer(a.push(client, a.seal(a.update(reg, phone="13900000003"))))["held"] == []
    demo = hub_store.reads().demographics(reg["id"])
    phone = demo["fields"]["phone"]
    assert phone["value"] == "13900000003" and phone["author"] == a.node_id
    assert phone["conflict"] is True  # for a person to confirm
    history = [(h["value"], h["outcome"]) for h in demo["history"] if h["field"] == "phone"]
    assert history == [
        ("13900000001", "superseded"),
        ("13900000002", "superseded"),
        ("13900000003", "current"),
    ]
    assert demo["fields"]["name"]["conflict"] is False


def test_an_older_concurrent_change_loses_but_is_kept(client: TestClient[Any], hub_store: HubStore) -> None:
    a = enrolled(client, hub_store, "511321100")
    b = enrolled(client, hub_store, "511321101")
    reg = a.resident(phone="13900000001")
    b_change = b.update(reg, phone="13900000002")  # written first, arrives last
    a.clock.ms += 60_000
    a_change = a.update(reg, phone="13900000003")
    answer(a.push(client, a.seal(reg, a_change)))
    answer(b.push(client, b.seal(b_change)))
    demo = hub_store.reads().demographics(reg["id"])
    assert demo["fields"]["phone"]["value"] == "13900000003" and demo["fields"]["phone"]["conflict"]
    lost = [h for h in demo["history"] if h["outcome"] == "lost"]
    assert [(h["value"], h["author"], h["conflict"]) for h in lost] == [("13900000002", b.node_id, True)]


# -- identity links and pull ---------------------------------------------------------------------


def test_same_identity_number_links_residents_and_feeds_each_clinic(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    b = enrolled(client, hub_store, "511321101")
    number = id_number("1970-05-12", "1")
    ra = a.resident(id_number=number)
    a_visit = a.encounter(ra)
    answer(a.push(client, a.seal(ra, a_visit)))
    assert a.pulled_items(client, hub_public) == []  # nobody else holds this person yet
    rb = b.resident(name="张叁", id_number=number)
    b_visit = b.encounter(rb, icd10="I10")
    answer(b.push(client, b.seal(rb, b_visit)))
    directory, *to_a = a.pulled_items(client, hub_public)
    # The feed names a clinic before its first record: code and name, for the node to show.
    assert directory == {
        "kind": "directory",
        "nodes": [{"node_id": b.node_id, "clinic": "511321101", "name": "511321101 卫生院"}],
    }
    # The person's records first (matching follows the upload), then the link that names them.
    assert [i.get("id", i.get("kind")) for i in to_a] == [rb["id"], b_visit["id"], "link"]
    assert to_a[0] == rb and to_a[1] == b_visit  # the records as their author sealed them
    link = to_a[2]
    assert link["resident_id"] == ra["id"] and link["linked"] == [
        {"resident_id": rb["id"], "node_id": b.node_id}
    ]
    assert "unlinked" not in link
    directory, *to_b = b.pulled_items(client, hub_public)
    assert directory["nodes"] == [{"node_id": a.node_id, "clinic": "511321100", "name": "511321100 卫生院"}]
    assert [i.get("id", i.get("kind")) for i in to_b] == [ra["id"], a_visit["id"], "link"]
    assert to_b[2]["master_id"] == link["master_id"]
    assert to_b[2]["linked"] == [{"resident_id": ra["id"], "node_id": a.node_id}]
    # From now on, what either clinic writes about the person reaches the other, once.
    later = b.encounter(rb, when="2026-03-05T10:00:00")
    answer(b.push(client, b.seal(later)))
    assert [i.get("id") for i in a.pulled_items(client, hub_public)][-1] == later["id"]
    assert [i["kind"] for i in a.pulled_items(client, hub_public) if "kind" in i] == ["directory", "link"]
    assert all(i.get("author") != b.node_id for i in b.pulled_items(client, hub_public))
    # Another person without an identity number (and a placeholder card number) links nobody.
    c = enrolled(client, hub_store, "511321102")
    rc = c.resident(
        name="王五",
        birth="1981-02-03",
        id_number=None,
        id_number_missing=next(iter(schemas.code_list("id_missing_reason").codes)).code,
        card_number="00000000",
    )
    answer(c.push(client, c.seal(rc)))
    assert c.pulled_items(client, hub_public) == []


def test_pull_pages_by_cursor_and_limit(
    client: TestClient[Any], hub_store: HubStore, hub_public: bytes
) -> None:
    a = enrolled(client, hub_store, "511321100")
    b = enrolled(client, hub_store, "511321101")
    number = id_number("1985-01-20", "2")
    ra = a.resident(sex="2", birth="1985-01-20", id_number=number)
    answer(a.push(client, a.seal(ra)))
    rb = b.resident(sex="2", birth="1985-01-20", id_number=number)
    answer(b.push(client, b.seal(rb)))
    for n in range(3):
        answer(b.push(client, b.seal(b.encounter(rb, when=f"2026-04-0{n + 1}T09:00:00"))))
    everything = a.pull(client)
    assert len(everything) == 4
    seqs = [sync.open_changeset(f, hub_public).changeset.seq for f in everything]
    assert seqs == [1, 2, 3, 4]
    assert a.pull(client, after=0, limit=1) == everything[:1]
    assert a.pull(client, after=1, limit=2) == everything[1:3]
    assert a.pull(client, after=4) == []
    # A node that reads the preset dictionary gets the smaller stream; an older one plain zlib.
    path = f"/sync/v1/pull/{a.node_id}?after=0"
    plain = client.get(path, headers=a.headers("GET", path)).content
    preset = client.get(path, headers={**a.headers("GET", path), "X-Rhip-Zdict": "1"}).content
    assert sync.decode(zlib.decompress(plain)) == everything
    assert sync.decode(sync.decompress(preset)) == everything and len(preset) < len(plain)
    for query in ("after=-1", "limit=0", "limit=5000", "after=x"):
        r = a.get(client, f"/sync/v1/pull/{a.node_id}?{query}")
        assert r.status_code == 400 and r.json()["reason"] == "malformed", (query, r.text)


# -- operators ------------------------------------------------------------------------------


def test_status_endpoint_for_operators_on_loopback_only(
    client: TestClient[Any], hub_home: HubHome, hub_store: HubStore
) -> None:
    a = enrolled(client, hub_store, "511321100")
    answer(a.push(client, a.seal(a.resident())))
    r = client.get("/api/v1/status")
    assert r.status_code == 200
    assert r.json() == hub_store.status()
    (node,) = r.json()["nodes"]
    assert {"clinic", "head", "records", "last_seen", "skew_s", "quarantined", "held"} <= set(node)
    assert (node["clinic"], node["head"], node["records"]) == ("511321100", 1, 1)
    with TestClient(app=make_app(hub_home, hub_store, operator_hosts=frozenset({"127.0.0.1"}))) as far:
        r = far.get("/api/v1/status")
        assert r.status_code == 403 and r.json()["reason"] == "forbidden"


def test_every_error_is_json_with_a_reason(client: TestClient[Any]) -> None:
    r = client.get("/sync/v1/nowhere")
    assert r.status_code == 404 and r.json()["reason"] == "not-found"
    r = client.get("/sync/v1/enroll")
    assert r.status_code == 405 and r.json()["reason"] == "method-not-allowed"
    assert set(r.json()) == {"status_code", "detail", "reason"}


# -- the command line -------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(rhip, list(args), catch_exceptions=False)


def test_cli_init_token_revoke_status_retry(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    r = run("hub", "init", "--home", str(home), "--region", "511321")
    assert r.exit_code == 0, r.output
    key = home / "keys" / "hub.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert json.loads((home / "config.json").read_text())["region"] == "511321"
    r = CliRunner().invoke(rhip, ["hub", "init", "--home", str(home), "--region", "511321"])
    assert r.exit_code != 0 and "refusing to overwrite" in r.output
    r = run("hub", "enroll-token", "--home", str(home), "--clinic", "511321100")
    assert r.exit_code == 0
    token = r.stdout.strip().splitlines()[-1]
    # The token enrols a node at the running hub; the hub then reports it.
    h = HubHome.open(home)
    hub_clock = Clock(dt.datetime(2020, 6, 1, tzinfo=dt.UTC).timestamp().__int__() * 1000)
    store = h.store(clock=hub_clock)
    a = Clinic("511321100", Clock(hub_clock.ms))
    with TestClient(app=make_app(h, store)) as client:
        assert a.enrol(client, token).status_code == 201
        # Pushed while the hub's clock said 2020: a resident born in 2021 is held as invalid.
        got = answer(a.push(client, a.seal(a.resident(birth="2021-01-01", sex="2"))))
        assert [x["reason"] for x in got["held"]] == ["invalid"]
    store.db.close()
    r = run("hub", "status", "--home", str(home), "--json")
    assert r.exit_code == 0
    report = json.loads(r.stdout)
    (node,) = report["nodes"]
    assert set(node) >= {"clinic", "head", "records", "last_seen", "skew_s", "quarantined", "held"}
    assert (node["clinic"], node["head"], node["records"], node["node_id"]) == ("511321100", 1, 0, a.node_id)
    assert [x["reason"] for x in node["held"]] == ["invalid"]
    r = run("hub", "status", "--home", str(home))
    assert "511321100" in r.output and "held" in r.output
    # Today's calendar has passed 2021: retry-held applies it.
    r = run("hub", "retry-held", "--home", str(home))
    assert r.exit_code == 0 and "1 held record(s) applied, 0 still held" in r.output
    node = json.loads(run("hub", "status", "--home", str(home), "--json").stdout)["nodes"][0]
    assert node["records"] == 1 and node["held"] == []
    r = run("hub", "revoke", "--home", str(home), "--clinic", "511321100", "--reason", "disk cloned")
    assert r.exit_code == 0 and a.node_id in r.output
    node = json.loads(run("hub", "status", "--home", str(home), "--json").stdout)["nodes"][0]
    assert node["revoked"] is True
    r = CliRunner().invoke(rhip, ["hub", "revoke", "--home", str(home), "--clinic", "511321100"])
    assert r.exit_code != 0 and "nothing" not in r.output and "no enrolled node" in r.output


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    r = CliRunner().invoke(rhip, ["hub", "status", "--home", str(tmp_path / "none")])
    assert r.exit_code != 0 and "not a hub home" in r.output
    home = tmp_path / "hub"
    run("hub", "init", "--home", str(home), "--region", "511321")
    r = CliRunner().invoke(rhip, ["hub", "enroll-token", "--home", str(home), "--clinic", "no spaces!"])
    assert r.exit_code != 0 and "clinic" in r.output
    r = CliRunner().invoke(rhip, ["hub", "init", "--home", str(tmp_path / "h2"), "--region", "?"])
    assert r.exit_code != 0 and "region" in r.output
    (home / "keys" / "hub.key").chmod(0o644)
    with pytest.raises(HomeError, match="chmod 600"):
        HubHome.open(home)
    r = CliRunner().invoke(rhip, ["hub", "status", "--home", str(home)])
    assert r.exit_code != 0 and "readable by other users" in r.output


def test_database_is_wal_with_full_sync(hub_store: HubStore) -> None:
    conn = sqlite3.connect(hub_store.db.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert hub_store.db.writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    conn.close()


def test_a_fast_clinics_facts_are_stored_not_held_for_skew(
    client: TestClient[Any], hub_store: HubStore, clock: Clock
) -> None:
    # Its clock runs two days ahead: a baby born "today" by that clock is a fact, not an error.
    ahead = Clock(clock.ms + 2 * DAY_MS)
    a = enrolled(client, hub_store, "511321100", ahead)
    got = answer(a.push(client, a.seal(a.resident(name="周小宝", birth=_date(ahead.ms), sex="1"))))
    assert got["held"] == [] and got["verdict"] == "accept"
    assert status_of(hub_store, a)["records"] == 1
    assert status_of(hub_store, a)["skew_s"] > 86_400  # reported to the operator instead
