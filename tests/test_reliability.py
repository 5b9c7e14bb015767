"""Reliability, end to end: a real hub process, real node homes and node processes, and a
fault-injecting TCP proxy between them (``tests/netfault.py``); see ``tests/cluster.py``.

After every scenario the one invariant (``cluster.check_invariant``) holds: every record
written on every node is on the hub exactly once with identical content, the hub holds no
record a node did not write, nothing is pending after a clean sync, and every node holds its
whole hub feed.

Decisions worth knowing:

* Clock skew: a clinic PC with a wrong clock is wrong for everything, so a skewed node writes
  (``NodeStore(wall_ms=…)``) *and* signs its requests (``SyncClient(wall_ms=…)``) on that clock
  (``cluster.sync_main``); the hub's request window is 3 days, so ±2 days syncs and 4 days is
  refused with a clear message.
* Records of an older (or newer) record-model version are written through the node's one
  write path (``Writer._append``: record and outbox row in one transaction) with an envelope
  that carries that version, as an older or newer rhip would have written it. Anything
  outside the node (a changeset sealed beside the node's own feed) would fork its feed.
* Direct frames (replay, reorder, tamper, forge) are the node's own sealed changesets: the
  node seals them in a round whose uploads fail (an httpx transport that refuses POSTs), and
  the test sends them itself, signed as the node signs.
* The hypothesis machine drives nodes in-process (``SyncClient.round``) against the real hub
  process through the proxy, to afford many interleavings; process kills are covered by the
  SIGKILL scenarios.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uuid6
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

import schemas
import sync
from node import PUSH_BYTES, HubUnreachable, NodeStore, SyncClient, sync_status
from schemas import RecordEnvelope, Status

from .cluster import (
    DAY_MS,
    Cluster,
    NodeProcess,
    acknowledged,
    check_invariant,
    integrity_ok,
    resident_body,
    rhip,
    shared_numbers,
    wall_ms,
    write_visits,
)

CLINIC_A, CLINIC_B, CLINIC_C = "511321100", "511321101", "511321102"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    c.close()


# -- helpers ------------------------------------------------------------------------------------


class NoUploads(httpx.HTTPTransport):
    """The link drops every changeset upload (heads and pulls pass): a round seals, then fails."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/changesets"):
            raise httpx.ConnectError("the link dropped during the upload", request=request)
        return super().handle_request(request)


def seal_offline(
    node: NodeProcess, *, changeset_bytes: int = sync.TARGET_BODY_BYTES
) -> list[tuple[int, bytes]]:
    """Let the node seal its outbox in a round whose uploads all fail; its stored ``(seq, frame)``s."""
    db = node.home.database()
    store = NodeStore(db, node_id=node.node_id)
    client = SyncClient.for_home(node.home, store, transport=NoUploads(), changeset_bytes=changeset_bytes)
    try:
        with pytest.raises(HubUnreachable):
            client.round()
        rows = db.reader().execute("SELECT seq, body, signature FROM feed ORDER BY seq").fetchall()
    finally:
        client.close()
        db.close()
    return [(seq, sync.encode([body, sig])) for seq, body, sig in rows]


def node_key(node: NodeProcess) -> Ed25519PrivateKey:
    return sync.private_key_from_pem((node.path / "keys" / "node.key").read_bytes())


def signed_post(
    url: str, frame: bytes, *, signer: str, key: Ed25519PrivateKey, feed: str | None = None
) -> httpx.Response:
    """POST one changeset frame to the hub as a node does: compressed, request signed by ``signer``."""
    path = f"/sync/v1/feeds/{feed or signer}/changesets"
    body = sync.compress(frame)
    stamp = wall_ms()
    signature = sync.sign_request(key, method="POST", path=path, node_id=signer, wall_ms=stamp, body=body)
    headers = {
        "Content-Type": "application/x-rhip-frame",
        "X-Rhip-Node": signer,
        "X-Rhip-Time": str(stamp),
        "X-Rhip-Signature": signature.hex(),
    }
    return httpx.post(url + path, content=body, headers=headers, timeout=30)


def answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    value: dict[str, Any] = sync.decode(sync.decompress(response.content))
    return value


def counts(cluster: Cluster) -> tuple[int, ...]:
    """Rows of the hub's changesets, records and outgoing feeds."""
    conn = cluster.hub.connect()
    try:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("changesets", "records", "hub_feeds")
        )
    finally:
        conn.close()


def hub_head(cluster: Cluster, node: NodeProcess) -> int:
    return int(cluster.hub.scalar("SELECT head_seq FROM nodes WHERE node_id = ?", node.node_id))


def frame_bytes_after(node: NodeProcess, seq: int) -> tuple[int, int, int]:
    """The node's stored changesets above ``seq`` (what is left to send): how many, in how many POSTs,
    and their bytes as the node sends them (grouped by ``PUSH_BYTES``, compressed as uploads are)."""
    conn = node.connect()
    try:
        rows = conn.execute("SELECT body, signature FROM feed WHERE seq > ? ORDER BY seq", (seq,)).fetchall()
    finally:
        conn.close()
    posts: list[list[bytes]] = []
    size = 0
    for body, signature in rows:
        frame = sync.encode([body, signature])
        if not posts or size + len(frame) > PUSH_BYTES or len(posts[-1]) == sync.MAX_BATCH_FRAMES:
            posts.append([])
            size = 0
        posts[-1].append(frame)
        size += len(frame)
    sent = sum(len(sync.compress(p[0] if len(p) == 1 else sync.pack_batch(p), preset=True)) for p in posts)
    return len(rows), len(posts), sent


def node_consistent(node: NodeProcess) -> None:
    """A node database after a crash: intact, every own record with its outbox row, the feed whole."""
    assert integrity_ok(node.db_path)
    conn = node.connect()
    try:
        q = conn.execute
        own = {r[0] for r in q("SELECT id FROM records WHERE author = ?", (node.node_id,))}
        outbox = [r[0] for r in q("SELECT record_id FROM outbox")]
        assert sorted(outbox) == sorted(own), "a record without its outbox row, or the reverse"
        seqs = [r[0] for r in q("SELECT seq FROM feed ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)), "the node's feed has a gap"
        shipped = {r[0] for r in q("SELECT DISTINCT shipped_seq FROM outbox WHERE shipped_seq IS NOT NULL")}
        assert shipped == set(seqs), "sealed outbox rows and stored changesets disagree"
        carried = sum(r[0] for r in q("SELECT record_count FROM feed"))
        assert carried == q("SELECT count(*) FROM outbox WHERE shipped_seq IS NOT NULL").fetchone()[0]
        pulled = [r[0] for r in q("SELECT seq FROM pulled_feed ORDER BY seq")]
        assert pulled == list(range(1, len(pulled) + 1)), "the applied hub feed has a gap"
        cursor = q("SELECT value FROM sync_state WHERE key = 'pull_cursor'").fetchone()
        assert (int(cursor[0]) if cursor else 0) == len(pulled), "pull cursor and applied feed disagree"
    finally:
        conn.close()


def hub_consistent(cluster: Cluster) -> None:
    """The hub database after a crash: intact; every feed 1..head; no changeset half-applied."""
    assert integrity_ok(cluster.hub.db_path)
    conn = cluster.hub.connect()
    try:
        conn.execute("BEGIN")  # one snapshot: the hub may still be finishing a killed node's upload
        for node_id, head in conn.execute("SELECT node_id, head_seq FROM nodes").fetchall():
            rows = conn.execute(
                "SELECT seq, frame, records FROM changesets WHERE node_id = ? ORDER BY seq", (node_id,)
            ).fetchall()
            assert [r[0] for r in rows] == list(range(1, head + 1))
            for seq, frame, n in rows:
                records = sync.decode(sync.decode(frame)[0])["records"]
                assert len(records) == n
                stored = conn.execute(
                    "SELECT count(*) FROM records WHERE node_id = ? AND seq = ?", (node_id, seq)
                ).fetchone()[0]
                held = conn.execute(
                    "SELECT count(*) FROM held WHERE node_id = ? AND seq = ?", (node_id, seq)
                ).fetchone()[0]
                assert stored + held >= n, (
                    f"changeset {seq} of {node_id} is half-applied ({stored}+{held} of {n})"
                )
        for (node_id,) in conn.execute("SELECT DISTINCT node_id FROM hub_feeds").fetchall():
            seqs = [
                r[0]
                for r in conn.execute("SELECT seq FROM hub_feeds WHERE node_id = ? ORDER BY seq", (node_id,))
            ]
            assert seqs == list(range(1, len(seqs) + 1))
    finally:
        conn.close()


# -- the hub down for a day -------------------------------------------------------------------------


def test_hub_down_for_a_day_then_back(cluster: Cluster) -> None:
    """Clinics keep working through a day without the hub; syncs fail clearly; nothing is lost."""
    shared = shared_numbers(11, 6)
    a = cluster.add_node(CLINIC_A, cli=True)
    b = cluster.add_node(CLINIC_B, cli=True)
    a.write(10, seed=1, shared=shared)
    b.write(10, seed=2, shared=shared)
    cluster.converge()
    before = {n.node_id: n.status()["last_sync"] for n in (a, b)}

    cluster.hub.stop()
    written = {a.node_id: 0, b.node_id: 0}
    for stretch in range(3):  # a day of clinic work in three stretches, a sync attempt after each
        if stretch == 2:  # the hub machine is back, but the link refuses connections a while longer
            cluster.hub.start()
            cluster.proxy.set(refuse=True)
        for i, n in enumerate((a, b)):
            written[n.node_id] += len(n.write(60, seed=100 + 2 * stretch + i, shared=shared))
            result = n.sync()
            assert result.returncode != 0
            assert "sync failed (unreachable)" in result.stderr, result.stderr
            assert "nothing is lost" in result.stderr
            status = n.status()
            assert status["pending"] == written[n.node_id]
            assert status["last_sync"] == before[n.node_id]
            assert status["errors"][0]["reason"] == "unreachable"
    assert all(w >= 200 for w in written.values()), written  # hundreds of records waited

    cluster.proxy.set(refuse=False)
    cluster.converge()
    report = cluster.check()
    assert report.own[a.node_id] >= 200 + 10 and report.own[b.node_id] >= 200 + 10
    assert report.pulled[a.node_id] > 0 and report.pulled[b.node_id] > 0  # shared residents flowed


# -- the link cut at each tenth of an upload -------------------------------------------------------


@pytest.mark.slow
def test_link_cut_at_each_tenth_of_an_upload_resumes_without_resending(cluster: Cluster) -> None:
    node = cluster.add_node(CLINIC_A)
    visits = 300
    node.write(visits, seed=1)
    start = cluster.proxy.bytes_up
    node.sync_ok()
    total = cluster.proxy.bytes_up - start  # one full upload of a backlog this size, with its requests
    changesets = hub_head(cluster, node)
    assert changesets >= 4, "the backlog should span several changesets"

    for k in range(1, 10):
        node.write(visits, seed=100 + k)
        head_before = hub_head(cluster, node)
        cluster.proxy.set(cut_up_after=int(total * k / 10))
        result = node.sync()
        assert result.returncode != 0 and "unreachable" in result.stderr, (k, result.stdout, result.stderr)
        cluster.proxy.set(cut_up_after=None)

        held = hub_head(cluster, node)
        assert held >= head_before
        left, posts, left_bytes = frame_bytes_after(node, held)
        assert left > 0, f"cut at {k}/10 should leave changesets to send"
        start = cluster.proxy.bytes_up
        node.sync_ok()
        resent = cluster.proxy.bytes_up - start
        # What the resumed round sent: the changesets the hub lacked, plus requests' headers
        # (head, each upload, pull: about 600 bytes each), and nothing the hub held.
        assert left_bytes <= resent <= left_bytes + 800 * (posts + 3), (k, left, left_bytes, resent)
        cluster.check()
        assert cluster.hub.scalar(
            "SELECT count(*) = count(DISTINCT seq) AND count(*) = max(seq) FROM changesets WHERE node_id = ?",
            node.node_id,
        ), "each seq exactly once"
    cluster.converge()
    cluster.check()


# -- duplicated, replayed, reordered, tampered and forged changesets --------------------------------


def test_duplicated_replayed_reordered_tampered_and_forged_changesets(cluster: Cluster) -> None:
    a = cluster.add_node(CLINIC_A)
    b = cluster.add_node(CLINIC_B)
    a.write(40, seed=1)
    b.write(5, seed=2)
    b.sync_ok()
    frames = dict(seal_offline(a, changeset_bytes=6000))
    assert len(frames) >= 5
    key, url = node_key(a), cluster.hub.url

    def post(seq: int, **kw: Any) -> httpx.Response:
        return signed_post(url, frames[seq], signer=a.node_id, key=key, **kw)

    assert answer(post(1))["verdict"] == "accept"
    rows = counts(cluster)
    # Duplicated: the same frame again is acknowledged and stores nothing.
    again = answer(post(1))
    assert (
        again["verdict"] == "duplicate"
        and sync.open_head(again["head"], cluster_hub_key(cluster)).head.seq == 1
    )
    assert counts(cluster) == rows
    # Replayed: the very same HTTP request (same stamp and signature) stores nothing either.
    request = post(1).request
    replay = httpx.post(str(request.url), content=request.content, headers=dict(request.headers), timeout=30)
    assert answer(replay)["verdict"] == "duplicate" and counts(cluster) == rows

    # Reordered: 3 before 2 is refused naming the seq expected; in order both are taken.
    early = post(3)
    assert early.status_code == 409 and early.json()["reason"] == "chain-broken"
    assert early.json()["expected_seq"] == 2
    assert counts(cluster) == rows
    assert answer(post(2))["verdict"] == "accept"
    assert answer(post(3))["verdict"] == "accept"
    rows = counts(cluster)

    # Tampered: one byte of a record changed in flight (still valid msgpack and UTF-8: a
    # continuation byte of the first character of a chief complaint).
    body, signature = sync.decode(frames[4])
    at = body.index(b"chief_complaint") + len(b"chief_complaint") + 2
    tampered = bytearray(body)
    tampered[at] ^= 0x01
    assert sync.decode(bytes(tampered)) != sync.decode(body)
    bad = signed_post(url, sync.encode([bytes(tampered), signature]), signer=a.node_id, key=key)
    assert bad.status_code == 400 and bad.json()["reason"] == "bad-signature", bad.text
    # Truncated: the frame cut short.
    bad = signed_post(url, frames[4][:-40], signer=a.node_id, key=key)
    assert bad.status_code == 400 and bad.json()["reason"] == "malformed", bad.text
    # Forged: the same changeset signed with a key that is not the node's.
    forged = sync.encode([body, sync.sign(Ed25519PrivateKey.generate(), body)])
    bad = signed_post(url, forged, signer=a.node_id, key=key)
    assert bad.status_code == 400 and bad.json()["reason"] == "bad-signature", bad.text
    # Another node's frame replayed to a different feed: as that node, and as the writer.
    bad = signed_post(url, frames[4], signer=b.node_id, key=node_key(b))
    assert bad.status_code == 400 and bad.json()["reason"] == "malformed", bad.text
    bad = signed_post(url, frames[4], signer=a.node_id, key=key, feed=b.node_id)
    assert bad.status_code == 403 and bad.json()["reason"] == "bad-signature", bad.text
    # A request signed by a key that is not the signer's.
    bad = signed_post(url, frames[4], signer=a.node_id, key=Ed25519PrivateKey.generate())
    assert bad.status_code == 403, bad.text
    assert counts(cluster) == rows, "nothing refused was stored"
    assert hub_head(cluster, a) == 3 and hub_head(cluster, b) == 1

    # The node itself resumes at the hub's head and sends the rest.
    cluster.converge()
    cluster.check()
    assert cluster.hub.node_status(a.node_id)["quarantined"] == []


def cluster_hub_key(cluster: Cluster) -> bytes:
    return sync.public_bytes(sync.private_key_from_pem((cluster.hub.home / "keys" / "hub.key").read_bytes()))


# -- nodes killed while writing and while syncing ----------------------------------------------------


@pytest.mark.slow
def test_nodes_sigkilled_while_writing_and_syncing(cluster: Cluster) -> None:
    """SIGKILLs at random points of a writer and of a ``rhip node sync`` running side by side
    (at least 28 of each, on two nodes, cumulative); then one clean sync."""
    rng = random.Random(20261125)
    shared = shared_numbers(21, 8)
    nodes = [cluster.add_node(CLINIC_A), cluster.add_node(CLINIC_B)]
    cluster.proxy.set(latency_s=0.002, bytes_per_s=100_000)  # a slow link: rounds take a while
    acked: dict[str, set[str]] = {n.node_id: set() for n in nodes}
    kills = {"write": 0, "sync": 0}
    trials = 0
    while min(kills.values()) < 28:
        assert trials < 60, f"too few kills landed mid-sync: {kills}"
        node = nodes[trials % 2]
        trials += 1
        connections = cluster.proxy.connections
        writer = node.spawn_writer(seed=1000 + trials, shared=shared)
        syncer = node.spawn_sync()
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 20
        while cluster.proxy.connections == connections and syncer.poll() is None:  # it talks to the hub
            assert time.monotonic() < deadline
            time.sleep(0.002)
        began = time.monotonic()
        plan = sorted([(rng.uniform(0.0, 0.4), "write"), (rng.uniform(0.0, 0.3), "sync")])
        for at, what in plan:
            proc = writer if what == "write" else syncer
            time.sleep(max(0.0, began + at - time.monotonic()))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills[what] += 1
        out, _ = writer.communicate()
        syncer.communicate()
        acked[node.node_id] |= set(acknowledged(out))
        node_consistent(node)
        lost = acked[node.node_id] - node.own_ids()
        assert not lost, f"trial {trials}: acknowledged records lost: {sorted(lost)[:3]}"
    assert sum(kills.values()) >= 56
    hub_consistent(cluster)
    cluster.converge()
    report = cluster.check()
    for n in nodes:
        assert acked[n.node_id] <= n.own_ids()
        assert report.own[n.node_id] >= len(acked[n.node_id])


# -- the hub killed while ingesting -----------------------------------------------------------------------


@pytest.mark.slow
def test_hub_sigkilled_while_ingesting(cluster: Cluster) -> None:
    """20 SIGKILLs of the hub in the middle of a large upload, restarted on the same home each time.

    Odd trials run over a slow link (the kill lands while a changeset arrives), even ones over a
    fast one (it lands while the hub validates and stores changesets).
    """
    rng = random.Random(4242)
    node = cluster.add_node(CLINIC_A)
    other = cluster.add_node(CLINIC_B)
    shared = shared_numbers(31, 10)
    other.write(20, seed=2, shared=shared)
    other.sync_ok()
    interrupted = 0
    for trial in range(20):
        if not cluster.hub.running:
            cluster.hub.start()
        # Keep a backlog the hub needs longer to take than the kill can wait (0.4 s), even over the
        # fast link with batched uploads: many changesets.
        if unsent(cluster, node) < 3000:
            node.write(1500, seed=100 + trial, shared=shared)
        cluster.proxy.set(bytes_per_s=60_000 if trial % 2 else None)
        sent = cluster.proxy.bytes_up
        proc = node.spawn_sync()
        deadline = time.monotonic() + 20
        while cluster.proxy.bytes_up - sent < 2000 and proc.poll() is None:  # the first upload is on
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.4))
        cluster.hub.kill()
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            interrupted += 1
            assert "unreachable" in err, err
        hub_consistent(cluster)
        node_consistent(node)
    assert interrupted >= 18, f"only {interrupted} of 20 kills interrupted a sync"
    cluster.converge()
    cluster.check()
    hub_consistent(cluster)
    assert cluster.hub.starts >= 21


def unsent(cluster: Cluster, node: NodeProcess) -> int:
    """Records of the node the hub does not hold yet."""
    head = hub_head(cluster, node)
    return int(node.scalar("SELECT count(*) FROM outbox WHERE shipped_seq IS NULL OR shipped_seq > ?", head))


# -- clocks skewed by two days -----------------------------------------------------------------------------


def test_node_clocks_skewed_by_two_days(cluster: Cluster) -> None:
    shared = shared_numbers(41, 6)
    ahead = cluster.add_node(CLINIC_A, skew_ms=2 * DAY_MS)
    behind = cluster.add_node(CLINIC_B, skew_ms=-2 * DAY_MS)
    far = cluster.add_node(CLINIC_C, skew_ms=4 * DAY_MS)
    for i, n in enumerate((ahead, behind, far)):
        n.write(30, seed=i, shared=shared)

    # Four days off is outside the hub's request window: refused, and the operator told why.
    result = far.sync()
    assert result.returncode != 0
    assert "clock is wrong" in result.stderr, result.stderr
    assert far.status()["pending"] == len(far.own_ids())

    cluster.converge([ahead, behind])
    cluster.check([ahead, behind])
    skew = {n["node_id"]: n["skew_s"] for n in cluster.hub.status()["nodes"]}
    assert abs(skew[ahead.node_id] - 2 * 86_400) < 600, skew
    assert abs(skew[behind.node_id] + 2 * 86_400) < 600, skew

    far.skew_ms = 0  # the clinic sets its clock: its records (stamped 4 days ahead) go through
    cluster.converge()
    cluster.check()
    assert cluster.hub.node_status(far.node_id)["skew_s"] > 3 * 86_400  # its stamps stay ahead


def test_a_fast_clinics_facts_dated_by_its_own_clock_are_stored(cluster: Cluster) -> None:
    ahead = cluster.add_node(CLINIC_A, skew_ms=2 * DAY_MS)
    rng = random.Random(3)
    with ahead.store() as store:
        rid = store.register_resident(resident_body(rng), user="clerk").envelope.id
        now = dt.datetime.fromtimestamp((wall_ms() + ahead.skew_ms) / 1000)  # the clinic's clock
        store.add_record(
            rid,
            "immunization",
            {
                "given_at": now.isoformat(timespec="minutes"),
                "vaccine": "HepB",
                "dose_number": 1,
                "lot_number": "B12",
            },
            user="nurse",
        )
    ahead.sync_ok()
    assert ahead.status()["errors"] == []
    assert cluster.hub.node_status(ahead.node_id)["held"] == []
    cluster.check()


# -- a node restored from an old backup ----------------------------------------------------------------


@dataclass
class DatabaseView:
    """A node as the invariant sees it: an id and a database file."""

    node_id: str
    db_path: Path


def backup(db: Path, to: Path) -> None:
    src = sqlite3.connect(db)
    dst = sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def restore(backup_file: Path, db: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup_file, db)


def test_a_node_restored_from_an_old_backup_never_overwrites_the_hub(
    cluster: Cluster, tmp_path: Path
) -> None:
    a = cluster.add_node(CLINIC_A)
    a.write(20, seed=1)
    a.sync_ok()
    old = tmp_path / "a-backup.db"
    backup(a.db_path, old)  # last night's backup, taken while the node is idle
    a.write(20, seed=2)
    a.sync_ok()
    original = tmp_path / "a-original.db"
    backup(a.db_path, original)  # what the disk held before it died

    restore(old, a.db_path)  # the disk died; the clinic restores last night's backup and works on
    a.write(5, seed=3)
    snapshot = cluster.hub.snapshot()
    result = a.sync()
    assert result.returncode != 0
    assert "database is older than what the hub holds" in result.stderr, result.stderr
    assert "re-enrol" in result.stderr and "nothing local is lost" in result.stderr
    assert cluster.hub.snapshot() == snapshot, "the restored node changed the hub"
    status = a.status()
    assert status["pending"] >= 5 and status["errors"][0]["reason"] == "feed-behind-hub"
    check_invariant(cluster.hub.db_path, [DatabaseView(a.node_id, original)])


def test_a_cloned_node_is_refused_and_its_fork_quarantined(cluster: Cluster, tmp_path: Path) -> None:
    """Two machines run one node's copy: the second is refused; its changeset, sent anyway, is a fork."""
    b = cluster.add_node(CLINIC_B)
    b.write(10, seed=1)
    b.sync_ok()
    clone_home = tmp_path / "clone"
    shutil.copytree(b.path, clone_home)  # the disk cloned while the node is idle
    clone = NodeProcess(type(b.home).open(clone_home))
    b.write(10, seed=2)
    clone.write(10, seed=3)
    forked = dict(seal_offline(clone))  # the clone seals its next changeset offline …
    b.sync_ok()  # … and the original sends its own at that seq first
    seq = hub_head(cluster, b)
    assert seq in forked
    snapshot = cluster.hub.snapshot()

    result = clone.sync()
    assert result.returncode != 0
    assert "holds a different changeset" in result.stderr, result.stderr
    assert cluster.hub.snapshot() == snapshot

    refused = signed_post(cluster.hub.url, forked[seq], signer=b.node_id, key=node_key(b))
    assert refused.status_code == 409 and refused.json()["reason"] == "fork", refused.text
    assert "quarantined" in refused.json()["detail"]
    assert cluster.hub.snapshot() == snapshot, "a fork is never applied"
    quarantined = cluster.hub.node_status(b.node_id)["quarantined"]
    assert [q["seq"] for q in quarantined] == [seq]
    assert cluster.hub.scalar("SELECT count(*) FROM alerts WHERE kind = 'fork'") == 1

    b.write(5, seed=4)  # the real node carries on
    cluster.converge([b])
    cluster.check([b])


# -- a revoked node ----------------------------------------------------------------------------------------


def test_a_revoked_node_is_refused_and_keeps_its_records(cluster: Cluster) -> None:
    shared = shared_numbers(51, 4)
    a = cluster.add_node(CLINIC_A)
    b = cluster.add_node(CLINIC_B)
    a.write(15, seed=1, shared=shared)
    b.write(15, seed=2, shared=shared)
    cluster.converge()
    a.write(15, seed=3, shared=shared)
    before = a.status()["pending"]
    records = a.scalar("SELECT count(*) FROM records")
    on_hub = cluster.hub.scalar("SELECT count(*) FROM records WHERE author = ?", a.node_id)

    revoked = rhip(
        "hub", "revoke", "--home", cluster.hub.home, "--clinic", CLINIC_A, "--reason", "laptop stolen"
    )
    assert revoked.returncode == 0 and a.node_id in revoked.stdout, revoked.stderr

    result = a.sync()
    assert result.returncode != 0
    assert "revoked" in result.stderr and "laptop stolen" in result.stderr, result.stderr
    assert a.status()["pending"] == before > 0
    assert a.scalar("SELECT count(*) FROM records") == records
    assert cluster.hub.scalar("SELECT count(*) FROM records WHERE author = ?", a.node_id) == on_hub
    node_consistent(a)
    assert cluster.hub.node_status(a.node_id)["revoked"] is True

    b.write(10, seed=4, shared=shared)  # the others carry on
    cluster.converge([b])
    cluster.check([b])


# -- an older node against a newer hub -------------------------------------------------------------------


def _written_as(
    node: NodeProcess, type_: str, data: dict[str, Any], v: int, *, resident_id: str | None = None
) -> str:
    """Write one record as a release of rhip with record-model version ``v`` of ``type_`` would."""
    rt = schemas.record_type(type_)
    with node.store() as store, store.transaction() as w:
        rid = str(uuid6.uuid7())
        env = RecordEnvelope(
            id=rid,
            fact_id=rid,
            type=type_,
            v=v,
            resident_id=resident_id or rid,
            author=node.node_id,
            hlc=store.clock.now(wall_ms()).pack(),
            effective=str(data.get(rt.date_field) or dt.date.today().isoformat()),
            data=data,
            status=Status.FINAL,
            recorded_by="clerk",
            changed=tuple(sorted(data)) if type_ == "resident" else None,
        )
        w._append(env)  # the node's one write path: the record and its outbox row together
    return rid


def test_an_older_node_against_a_newer_hub(cluster: Cluster) -> None:
    old = cluster.add_node(CLINIC_A)
    peer = cluster.add_node(CLINIC_B)
    rng = random.Random(7)
    number = shared_numbers(61, 1)[0]
    with peer.store() as store:
        local = store.register_resident(resident_body(rng, number=number), user="clerk").envelope.id
    peer.sync_ok()

    old.write(10, seed=1)
    v1 = resident_body(rng, number=number)
    v1["ncms_number"] = "NCMS-2009-00417"  # resident v1 kept the insurance number here
    older = _written_as(old, "resident", v1, 1)
    newer = _written_as(
        old, "encounter", {"visit_time": "2026-11-20T09:00", "future_field": 1}, 99, resident_id=older
    )
    old.write(10, seed=2)

    result = old.sync()
    assert result.returncode == 0, result.stderr
    assert "holds back 1 record" in result.stderr
    errors = old.status()["errors"]
    assert [(e["kind"], e["reason"], e["record_id"]) for e in errors] == [("held", "version-too-new", newer)]
    hub = cluster.hub.node_status(old.node_id)
    assert [(h["record_id"], h["reason"]) for h in hub["held"]] == [(newer, "version-too-new")]
    # The v1 record is stored as sent and read upgraded: the hub knows the insurance number.
    assert cluster.hub.scalar("SELECT v FROM records WHERE id = ?", older) == 1
    value = cluster.hub.scalar(
        "SELECT value FROM resident_fields WHERE resident_id = ? AND field = 'insurance_number'", older
    )
    assert json.loads(value) == "NCMS-2009-00417"

    cluster.converge()
    cluster.check(held={newer})
    # The peer holds the same person: it got the v1 record (the invariant compared it byte for byte).
    assert peer.scalar("SELECT v FROM records WHERE id = ?", older) == 1
    assert peer.scalar(
        "SELECT count(*) FROM links WHERE resident_id = ? AND remote_resident_id = ?", local, older
    )


def test_a_linked_clinic_merges_the_renamed_field_of_an_older_node(cluster: Cluster) -> None:
    old = cluster.add_node(CLINIC_A)
    peer = cluster.add_node(CLINIC_B)
    rng = random.Random(8)
    number = shared_numbers(71, 1)[0]
    with peer.store() as store:
        local = store.register_resident(resident_body(rng, number=number), user="clerk").envelope.id
    peer.sync_ok()
    v1 = {**resident_body(rng, number=number), "ncms_number": "NCMS-2009-00417"}
    older = _written_as(old, "resident", v1, 1)
    cluster.converge()
    cluster.check()
    hub_value = cluster.hub.scalar(
        "SELECT value FROM resident_fields WHERE resident_id = ? AND field = 'insurance_number'", older
    )
    assert json.loads(hub_value) == "NCMS-2009-00417"  # the hub upgrades and merges it
    with peer.store() as store:  # the clinic linked to the same person should too
        assert store.resident(local).get("insurance_number") == "NCMS-2009-00417"


# -- convergence over random interleavings ------------------------------------------------------------


class Convergence(RuleBasedStateMachine):
    """Two clinics and the real hub: writes, syncs, links cut mid-sync and hub restarts, in any order.

    After a final clean sync of both, the invariant holds.
    """

    cluster: Cluster
    examples = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).examples += 1
        self.n = type(self).examples
        self.shared = shared_numbers(1000 + self.n, 2)  # the same people at both clinics
        self.nodes: dict[str, tuple[NodeProcess, NodeStore, SyncClient]] = {}
        self.restarts = 0

    @initialize()
    def clinics(self) -> None:
        for name, clinic in (("a", f"5113211{self.n:02d}"), ("b", f"5113212{self.n:02d}")):
            node = self.cluster.add_node(clinic)
            db = node.home.database()
            store = NodeStore(db, node_id=node.node_id)
            self.nodes[name] = (node, store, SyncClient.for_home(node.home, store, changeset_bytes=8000))

    @rule(name=st.sampled_from("ab"), visits=st.integers(1, 12), seed=st.integers(0, 1 << 20))
    def write(self, name: str, visits: int, seed: int) -> None:
        _, store, _ = self.nodes[name]
        gen = write_visits(store, random.Random(seed), shared=self.shared, new_resident=0.4)
        for _ in range(visits):
            next(gen)

    @rule(name=st.sampled_from("ab"), person=st.integers(0, 1))
    def register_shared_person(self, name: str, person: int) -> None:
        _, store, _ = self.nodes[name]
        number = self.shared[person]
        if store.db.reader().execute("SELECT 1 FROM residents WHERE id_number = ?", (number,)).fetchone():
            return
        store.register_resident(resident_body(random.Random(person), number=number), user="clerk")

    @rule(name=st.sampled_from("ab"))
    def sync(self, name: str) -> None:
        self.nodes[name][2].round()

    @rule(name=st.sampled_from("ab"), cut=st.integers(50, 8000), upload=st.booleans())
    def sync_cut_midway(self, name: str, cut: int, upload: bool) -> None:
        self.cluster.proxy.set(**{"cut_up_after" if upload else "cut_down_after": cut})
        try:
            self.nodes[name][2].round()
            event("a round with a cut link completed")
        except HubUnreachable:
            event("a round with a cut link failed")
        finally:
            # The budget belongs to the connection: close it, or the next round reusing it is cut too.
            self.cluster.proxy.set(cut_up_after=None, cut_down_after=None)
            self.cluster.proxy.drop_all()

    @precondition(lambda self: self.restarts < 2)  # each takes a second
    @rule(kill=st.booleans())
    def restart_hub(self, kill: bool) -> None:
        self.restarts += 1
        self.cluster.hub.restart(kill=kill)
        event("the hub was killed" if kill else "the hub was stopped")

    def teardown(self) -> None:
        try:
            if self.nodes:
                for _ in range(2):
                    for _, _, client in self.nodes.values():
                        result = client.round()
                        assert result.pending == 0
                    self.cluster.hub.wait_linked()  # the master index links after the upload
                for node, store, _ in self.nodes.values():
                    assert sync_status(store.db)["pending"] == 0
                    node_consistent(node)
                report = check_invariant(self.cluster.hub.db_path, [n for n, _, _ in self.nodes.values()])
                event(f"records pulled: {'some' if sum(report.pulled.values()) else 'none'}")
        finally:
            for _, store, client in self.nodes.values():
                client.close()
                store.db.close()


@pytest.mark.slow
def test_convergence_over_random_interleavings(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        Convergence.cluster = cluster
        Convergence.examples = 0
        run_state_machine_as_test(
            Convergence,
            settings=settings(
                max_examples=15,
                stateful_step_count=20,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        cluster.close()
