"""A real hub process, real node homes and real node processes on loopback, for the reliability tests.

* ``HubProcess``: ``rhip hub serve`` as a subprocess on a free port of 127.0.0.1; stopped
  (SIGTERM), killed (SIGKILL) and started again on the same home. Each start takes a fresh
  port, and the ``FaultyProxy`` in front of it is pointed at it: nodes only know the proxy.
* ``NodeProcess``: a node home enrolled with the proxy's URL. ``rhip node sync`` and
  ``rhip node status --json`` run as subprocesses; visits are written by a writer subprocess
  (``writer_main``) through ``node.NodeStore`` that prints an acknowledgement after each commit.
* ``check_invariant``: the one check run after every scenario, over the databases opened
  read-only with sqlite3 (see its docstring).

Subprocesses run ``python -c "from cli import main; main()"`` with the working tree first on
``PYTHONPATH``, as the tests import it. (The ``.venv/bin/rhip`` script is not used: the editable
install predates ``hub/__init__.py`` and resolves ``hub`` as a namespace package outside the
repository directory.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import schemas
import sync
from node import NodeHome, NodeStore, enroll, init_home

from .netfault import FaultyProxy

__all__ = [
    "DAY_MS",
    "REPO",
    "Cluster",
    "HubProcess",
    "InvariantReport",
    "NodeProcess",
    "acknowledged",
    "canonical",
    "check_invariant",
    "integrity_ok",
    "read_only",
    "resident_body",
    "rhip",
    "shared_numbers",
    "sync_main",
    "wall_ms",
    "write_visits",
    "writer_main",
]

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
RHIP = [PYTHON, "-c", "from cli import main; main()"]
DAY_MS = 86_400_000


def child_env() -> dict[str, str]:
    """The environment of every subprocess: the working tree first on the path, quiet Python."""
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": str(REPO) + (os.pathsep + path if path else ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def rhip(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``rhip ARGS`` as a subprocess; returns the finished process (not checked)."""
    return subprocess.run(
        [*RHIP, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
        check=False,
    )


def checked(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if proc.returncode != 0:
        raise AssertionError(f"{proc.args[3:]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def integrity_ok(path: Path) -> bool:
    conn = read_only(path)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


_SPAWNED: list[subprocess.Popen[Any]] = []  # node processes to kill if a test ends before it does


def spawn(args: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    _SPAWNED.append(proc)
    return proc


def stop_process(proc: subprocess.Popen[Any], *, kill: bool = False, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the hub ------------------------------------------------------------------------------------


class HubProcess:
    """``rhip hub serve`` on a home, as a subprocess that can be stopped, killed and started again."""

    def __init__(self, home: Path, *, region: str = "511321") -> None:
        self.home = home
        self.region = region
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        self.on_start: list[Callable[[int], None]] = []
        self.log = home.parent / f"{home.name}.log"

    def init(self) -> HubProcess:
        from hub import init_hub_home  # not imported by the node subprocesses that import this module

        init_hub_home(self.home, region=self.region)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.home / "hub.db"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, timeout: float = 30) -> HubProcess:
        assert not self.running, "the hub is already running"
        for _ in range(5):  # a free port can be taken by someone else before the hub binds it
            self.port = free_port()
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen(
                    [*RHIP, "hub", "serve", "--home", str(self.home), "--port", str(self.port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=child_env(),
                )
            if self._wait_ready(timeout):
                self.starts += 1
                for hook in self.on_start:
                    hook(self.port)
                return self
        raise AssertionError(f"the hub did not start; see {self.log}:\n{self.log.read_text()[-3000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return True
            time.sleep(0.05)
        stop_process(self.proc, kill=True)
        return False

    def stop(self) -> None:
        """SIGTERM: the hub shuts down as an operator would stop it."""
        if self.proc is not None:
            stop_process(self.proc)

    def kill(self) -> None:
        """SIGKILL: the hub's machine loses power."""
        if self.proc is not None:
            stop_process(self.proc, kill=True)

    def restart(self, *, kill: bool = False) -> None:
        self.kill() if kill else self.stop()
        self.start()

    def token(self, clinic: str, *, cli: bool = False) -> str:
        """A one-time enrolment token (through ``rhip hub enroll-token`` when ``cli``)."""
        if cli:
            return checked(
                rhip("hub", "enroll-token", "--home", self.home, "--clinic", clinic)
            ).stdout.split()[-1]
        from hub import HubHome, issue_token

        store = HubHome.open(self.home).store()
        try:
            return issue_token(store, clinic)
        finally:
            store.db.close()

    def status(self) -> dict[str, Any]:
        """``rhip hub status --json``."""
        result: dict[str, Any] = json.loads(
            checked(rhip("hub", "status", "--home", self.home, "--json")).stdout
        )
        return result

    def node_status(self, node_id: str) -> dict[str, Any]:
        return next(n for n in self.status()["nodes"] if n["node_id"] == node_id)

    def connect(self) -> sqlite3.Connection:
        return read_only(self.db_path)

    def scalar(self, sql: str, *args: Any) -> Any:
        conn = self.connect()
        try:
            return conn.execute(sql, args).fetchone()[0]
        finally:
            conn.close()

    def wait_linked(self, timeout_s: float = 60.0) -> None:
        """Until the master index has matched every queued registration (the hub links in the background)."""
        deadline = time.monotonic() + timeout_s
        while self.scalar("SELECT count(*) FROM mpi_queue"):
            if time.monotonic() > deadline:
                raise AssertionError(f"the hub's master index did not drain its queue in {timeout_s:.0f} s")
            time.sleep(0.05)

    def snapshot(self) -> dict[str, Any]:
        """What the hub holds of every feed: changesets and records, byte for byte."""
        conn = self.connect()
        try:
            return {
                "changesets": conn.execute(
                    "SELECT node_id, seq, hash, frame FROM changesets ORDER BY node_id, seq"
                ).fetchall(),
                "records": conn.execute(
                    "SELECT id, node_id, seq, content FROM records ORDER BY id"
                ).fetchall(),
                "heads": conn.execute(
                    "SELECT node_id, head_seq, head_hash FROM nodes ORDER BY node_id"
                ).fetchall(),
            }
        finally:
            conn.close()


# -- nodes --------------------------------------------------------------------------------------


@dataclass
class NodeProcess:
    """A node home enrolled with the hub through the proxy; its work runs in subprocesses."""

    home: NodeHome
    skew_ms: int = 0

    @property
    def node_id(self) -> str:
        return self.home.node_id

    @property
    def clinic(self) -> str:
        return self.home.clinic

    @property
    def path(self) -> Path:
        return self.home.path

    @property
    def db_path(self) -> Path:
        return self.home.db_path

    def sync(self, *, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """One ``rhip node sync`` (or, for a node with a skewed clock, the same round on that clock)."""
        if self.skew_ms:
            return subprocess.run(
                [PYTHON, "-c", "from tests.cluster import sync_main; sync_main()", self._config()],
                capture_output=True,
                text=True,
                env=child_env(),
                timeout=timeout,
                check=False,
            )
        return rhip("node", "sync", "--home", self.path, timeout=timeout)

    def sync_ok(self) -> str:
        return checked(self.sync()).stdout

    def spawn_sync(self) -> subprocess.Popen[str]:
        """``rhip node sync`` started, not waited for."""
        return spawn([*RHIP, "node", "sync", "--home", str(self.path)])

    def status(self) -> dict[str, Any]:
        """``rhip node status --json``."""
        result: dict[str, Any] = json.loads(
            checked(rhip("node", "status", "--home", self.path, "--json")).stdout
        )
        return result

    def _config(self, **extra: Any) -> str:
        return json.dumps({"home": str(self.path), "skew_ms": self.skew_ms, **extra})

    def write(self, visits: int, *, seed: int, shared: Iterable[str] = (), timeout: float = 300) -> list[str]:
        """Write ``visits`` visits in a writer subprocess; the ids it acknowledged."""
        proc = subprocess.run(
            [
                PYTHON,
                "-c",
                "from tests.cluster import writer_main; writer_main()",
                self._config(visits=visits, seed=seed, shared=list(shared)),
            ],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"writer failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return acknowledged(proc.stdout)

    def spawn_writer(self, *, seed: int, shared: Iterable[str] = ()) -> subprocess.Popen[str]:
        """A writer that writes visits until it is killed, printing ``ack <ids>`` after each commit."""
        return spawn(
            [
                PYTHON,
                "-c",
                "from tests.cluster import writer_main; writer_main()",
                self._config(visits=None, seed=seed, shared=list(shared)),
            ]
        )

    @contextlib.contextmanager
    def store(self) -> Iterator[NodeStore]:
        """The node's store in this process (for setup and small writes); closed afterwards."""
        db = self.home.database()
        try:
            yield NodeStore(db, node_id=self.node_id, wall_ms=lambda: wall_ms() + self.skew_ms)
        finally:
            db.close()

    def connect(self) -> sqlite3.Connection:
        return read_only(self.db_path)

    def scalar(self, sql: str, *args: Any) -> Any:
        conn = self.connect()
        try:
            return conn.execute(sql, args).fetchone()[0]
        finally:
            conn.close()

    def own_ids(self) -> set[str]:
        conn = self.connect()
        try:
            return {r[0] for r in conn.execute("SELECT id FROM records WHERE author = ?", (self.node_id,))}
        finally:
            conn.close()


def acknowledged(stdout: str) -> list[str]:
    """The record ids a writer acknowledged (``ack <id> …`` lines; a cut-off last line is ignored)."""
    ids: list[str] = []
    for line in stdout.splitlines(keepends=True):
        parts = line.split()
        if line.endswith("\n") and parts[:1] == ["ack"]:
            ids += parts[1:]
    return ids


@dataclass
class Cluster:
    """One hub process behind one fault-injecting proxy, and the nodes enrolled through it."""

    root: Path
    hub: HubProcess = field(init=False)
    proxy: FaultyProxy = field(init=False)
    nodes: list[NodeProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hub = HubProcess(self.root / "hub").init()
        self.hub.start()
        self.proxy = FaultyProxy(self.hub.port)
        self.hub.on_start.append(self._retarget)

    def _retarget(self, port: int) -> None:
        self.proxy.target = ("127.0.0.1", port)

    def add_node(self, clinic: str, *, cli: bool = False, skew_ms: int = 0) -> NodeProcess:
        """A new node home enrolled with the proxy's URL (``rhip node init/enroll`` when ``cli``)."""
        path = self.root / f"node-{len(self.nodes)}-{clinic}"
        if cli:
            checked(rhip("node", "init", "--home", path, "--clinic", clinic, "--name", f"卫生院 {clinic}"))
            token = self.hub.token(clinic, cli=True)
            checked(rhip("node", "enroll", "--home", path, "--hub", self.proxy.url, "--token", token))
            home = NodeHome.open(path)
        else:
            home = init_home(path, clinic=clinic, name=f"卫生院 {clinic}")
            enroll(home, hub_url=self.proxy.url, token=self.hub.token(clinic))
        node = NodeProcess(home, skew_ms=skew_ms)
        self.nodes.append(node)
        return node

    def converge(self, nodes: Iterable[NodeProcess] | None = None) -> None:
        """Clean syncs of every node until none pulls anything new, then nothing is pending anywhere."""
        chosen = list(self.nodes if nodes is None else nodes)
        self.proxy.set(cut_up_after=None, cut_down_after=None, refuse=False, latency_s=0.0, bytes_per_s=None)
        if not self.hub.running:
            self.hub.start()
        for _ in range(2):  # the second pass pulls what the first pass routed to the others
            for n in chosen:
                n.sync_ok()
            self.hub.wait_linked()  # links (and the records they bring) are routed after the upload
        for n in chosen:
            status = n.status()
            assert status["pending"] == 0, (n.clinic, status)

    def check(self, nodes: Iterable[NodeProcess] | None = None, **options: Any) -> InvariantReport:
        return check_invariant(self.hub.db_path, list(self.nodes if nodes is None else nodes), **options)

    def close(self) -> None:
        while _SPAWNED:
            stop_process(_SPAWNED.pop(), kill=True)
        self.proxy.close()
        self.hub.stop()


# -- the invariant ------------------------------------------------------------------------------

_NODE_COLUMNS = (
    "id, fact_id, type, v, resident_id, author, hlc, effective, status, supersedes, recorded_by, reason, "
    "changed, data"
)


def _node_record(row: tuple[Any, ...]) -> dict[str, Any]:
    rid, fact, typ, v, res, author, hlc, eff, status, sup, by, reason, changed, data = row
    return {
        "id": rid,
        "fact_id": fact,
        "type": typ,
        "v": v,
        "resident_id": res,
        "author": author,
        "hlc": hlc,
        "effective": eff,
        "status": status,
        "supersedes": sup,
        "recorded_by": by,
        "reason": reason,
        "changed": json.loads(changed) if changed else None,
        "data": json.loads(data),
    }


def _frame_records(frame: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    body_bytes, _signature = sync.decode(frame)
    body = sync.decode(body_bytes)
    return body, list(body["records"])


@dataclass
class InvariantReport:
    own: dict[str, int] = field(default_factory=dict)  # node id -> records it wrote, all on the hub
    pulled: dict[str, int] = field(default_factory=dict)  # node id -> hub feed records applied there


def check_invariant(
    hub_db: Path,
    nodes: list[Any],
    *,
    held: Iterable[str] = (),
    pulled_held: Iterable[str] = (),
) -> InvariantReport:
    """Every record each node wrote is on the hub exactly once, and each node holds its hub feed.

    ``nodes`` are objects with ``node_id`` and ``db_path`` (a ``NodeProcess``). For each node N:

    1. The hub's changesets of N's feed are seqs 1..head, each body hashing to its stored hash,
       byte for byte the changesets N stored (``feed``); no changeset is half-applied: each
       record of each frame is a row of ``records`` from that feed or a held row at its index.
    2. Every record N wrote (``records.author`` = N) is in exactly one of those changesets and
       in the hub's ``records`` with identical content (canonical JSON), unless its id is in
       ``held`` (then it is held, unresolved, and not stored). The hub holds no record authored
       by N that N does not have.
    3. N's outbox is all acknowledged (nothing pending past the hub's head).
    4. N applied its whole hub feed: ``pulled_feed`` is the hub's feed ``hub:N`` seq for seq and
       hash for hash; every record in it is on N with identical content and an author other
       than N; the identity links in it, applied in order (``unlinked`` removes), are N's links.
       Only ids in ``pulled_held`` may be kept back unapplied.
    5. Every database passes ``PRAGMA integrity_check``.
    """
    held, pulled_held = set(held), set(pulled_held)
    report = InvariantReport()
    assert integrity_ok(hub_db), "the hub's database is damaged"
    hub = read_only(hub_db)
    try:
        for node in nodes:
            assert integrity_ok(node.db_path), f"node {node.node_id}'s database is damaged"
            conn = read_only(node.db_path)
            try:
                report.own[node.node_id] = _check_push(hub, conn, node.node_id, held)
                report.pulled[node.node_id] = _check_pull(hub, conn, node.node_id, pulled_held)
            finally:
                conn.close()
    finally:
        hub.close()
    return report


def _check_push(hub: sqlite3.Connection, conn: sqlite3.Connection, node_id: str, held: set[str]) -> int:
    head_seq, head_hash = hub.execute(
        "SELECT head_seq, head_hash FROM nodes WHERE node_id = ?", (node_id,)
    ).fetchone()
    rows = hub.execute(
        "SELECT seq, hash, frame, records FROM changesets WHERE node_id = ? ORDER BY seq", (node_id,)
    ).fetchall()
    assert [r[0] for r in rows] == list(range(1, head_seq + 1)), f"feed {node_id}: seqs are not 1..{head_seq}"
    if rows:
        assert rows[-1][1] == head_hash, f"feed {node_id}: head hash is not the last changeset's"
    mine = dict(conn.execute("SELECT seq, hash FROM feed").fetchall())
    carried: Counter[str] = Counter()
    prev = sync.ZERO_HASH
    for seq, digest, frame, count in rows:
        body, records = _frame_records(frame)
        body_bytes = sync.decode(frame)[0]
        assert hashlib.sha256(body_bytes).digest() == digest, f"feed {node_id} seq {seq}: hash mismatch"
        assert body["prev"] == prev and body["seq"] == seq and body["feed"] == node_id
        assert mine.get(seq) == digest, f"feed {node_id} seq {seq}: the node stored a different changeset"
        assert count == len(records), f"feed {node_id} seq {seq}: record count"
        prev = digest
        for idx, record in enumerate(records):
            carried[record["id"]] += 1
            stored = hub.execute("SELECT node_id FROM records WHERE id = ?", (record["id"],)).fetchone()
            held_row = hub.execute(
                "SELECT resolved_ms FROM held WHERE node_id = ? AND seq = ? AND idx = ?", (node_id, seq, idx)
            ).fetchone()
            assert stored is not None or held_row is not None, (
                f"feed {node_id} seq {seq}: record {idx} ({record['id']}) neither stored nor held: "
                "a half-applied changeset"
            )
            if stored is not None:
                assert stored[0] == node_id
    twice = sorted(rid for rid, n in carried.items() if n > 1)
    assert not twice, f"feed {node_id}: records carried by more than one changeset: {twice[:5]}"

    own = {
        r[0]: canonical(_node_record(r))
        for r in conn.execute(f"SELECT {_NODE_COLUMNS} FROM records WHERE author = ?", (node_id,))
    }
    on_hub = {
        rid: canonical(sync.decode(content))
        for rid, content in hub.execute("SELECT id, content FROM records WHERE author = ?", (node_id,))
    }
    missing = sorted(set(own) - set(on_hub) - held)
    assert not missing, f"node {node_id}: {len(missing)} record(s) not on the hub, e.g. {missing[:3]}"
    extra = sorted(set(on_hub) - set(own))
    assert not extra, f"the hub holds {len(extra)} record(s) of node {node_id} that it does not have"
    differ = sorted(rid for rid in on_hub if on_hub[rid] != own[rid])
    assert not differ, f"node {node_id}: the hub's copy differs for {differ[:3]}"
    not_carried = sorted(set(own) - set(carried))
    assert not not_carried, f"node {node_id}: records in no changeset the hub holds: {not_carried[:3]}"
    for rid in held & set(own):
        assert rid not in on_hub, f"held record {rid} is stored"
        row = hub.execute(
            "SELECT count(*) FROM held WHERE node_id = ? AND record_id = ? AND resolved_ms IS NULL",
            (node_id, rid),
        ).fetchone()
        assert row[0] == 1, f"record {rid} is not held exactly once"
    unacked = conn.execute(
        "SELECT count(*) FROM outbox WHERE shipped_seq IS NULL OR shipped_seq > ?", (head_seq,)
    ).fetchone()[0]
    assert unacked == 0, f"node {node_id}: {unacked} record(s) not acknowledged by the hub"
    return len(own)


def _check_pull(
    hub: sqlite3.Connection, conn: sqlite3.Connection, node_id: str, pulled_held: set[str]
) -> int:
    frames = hub.execute(
        "SELECT seq, hash, frame FROM hub_feeds WHERE node_id = ? ORDER BY seq", (node_id,)
    ).fetchall()
    assert [f[0] for f in frames] == list(range(1, len(frames) + 1))
    applied = [(s, bytes(h)) for s, h in conn.execute("SELECT seq, hash FROM pulled_feed ORDER BY seq")]
    assert applied == [(s, bytes(h)) for s, h, _ in frames], (
        f"node {node_id} applied hub feed {[s for s, _ in applied][-3:]} of {len(frames)}"
    )
    local = {r[0] for r in conn.execute("SELECT id FROM residents")}
    links = {(a, b) for a, b in conn.execute("SELECT resident_id, remote_resident_id FROM links")}
    kept = {r[0] for r in conn.execute("SELECT record_id FROM pulled_held")}
    assert kept <= pulled_held, (
        f"node {node_id} keeps pulled items unapplied: {sorted(kept - pulled_held)[:3]}"
    )
    records = 0
    linked: dict[tuple[str, str], bool] = {}  # (resident, other) -> linked, as the feed's link items leave it
    for _seq, _digest, frame in frames:
        _, items = _frame_records(frame)
        for item in items:
            if item.get("kind") == "directory":
                continue
            if item.get("kind") == "link":
                mentioned = [(item["resident_id"], None)] + [
                    (i["resident_id"], i.get("node_id")) for i in item["linked"]
                ]
                mine = {r for r, n in mentioned if n == node_id or (n is None and r in local)}
                holders = mine or {item["resident_id"]}  # a referred resident's links are kept under it
                for rid in holders:
                    for other, _n in mentioned:
                        if other not in holders:
                            linked[(rid, other)] = True
                    for gone in item.get("unlinked", []):
                        if gone["resident_id"] not in holders:
                            linked[(rid, gone["resident_id"])] = False
                continue
            records += 1
            if item["id"] in pulled_held:
                continue
            row = conn.execute(f"SELECT {_NODE_COLUMNS} FROM records WHERE id = ?", (item["id"],)).fetchone()
            assert row is not None, f"node {node_id} lacks pulled record {item['id']}"
            assert row[5] != node_id, f"node {node_id}: pulled record {item['id']} claims to be its own"
            assert canonical(_node_record(row)) == canonical(item), f"pulled record {item['id']} differs"
    for (rid, other), present in linked.items():
        if present:
            assert (rid, other) in links, f"node {node_id}: link {rid} -> {other} missing"
        else:
            assert (rid, other) not in links, f"node {node_id}: link {rid} -> {other} was unlinked"
    return records


# -- what the node subprocesses run -------------------------------------------------------------

_ICD10 = ("J06.9", "I10", "E11.9", "K29.7", "M54.5", "J20.9")
_NAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def id_number(rng: random.Random, birth: dt.date, sex: str) -> str:
    order = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
    body = f"511321{birth:%Y%m%d}{order:03d}"
    return body + schemas.check_digit(body)


def resident_body(rng: random.Random, *, number: str | None = None) -> dict[str, Any]:
    if number is not None:  # the same person everywhere: name, birth date and sex from the number
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        sex = "1" if int(number[16]) % 2 else "2"
        naming = random.Random(number)
    else:
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 70 * 365))
        sex = rng.choice("12")
        naming = rng
    villages = [c.code for c in schemas.code_list("division").codes if len(c.code) == 12]
    return {
        "name": naming.choice(_NAMES) + naming.choice(_GIVEN) + naming.choice(("", *_GIVEN)),
        "sex": sex,
        "birth_date": birth.isoformat(),
        "id_number": number or id_number(rng, birth, sex),
        "address": {"division_code": rng.choice(villages)},
        "phone": f"13{rng.randrange(10**9):09d}",
    }


def shared_numbers(seed: int, n: int) -> list[str]:
    """Identity numbers of people who visit more than one clinic (registered at each)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 50 * 365))
        out.append(id_number(rng, birth, rng.choice("12")))
    return out


def encounter_body(rng: random.Random, when: dt.datetime) -> dict[str, Any]:
    return {
        "visit_time": when.isoformat(timespec="minutes"),
        "chief_complaint": rng.choice(("发热、咳嗽2天", "头晕1周", "腰痛3天", "复诊取药")),
        "vitals": {"temperature_c": round(rng.uniform(36.2, 39.0), 1), "pulse": rng.randrange(60, 110)},
        "diagnoses": [{"icd10": rng.choice(_ICD10), "primary": True}],
        "charges": [{"item": "诊查费", "category": "consultation", "unit_price": "10.00"}],
    }


def prescription_body(rng: random.Random, when: dt.datetime, encounter_id: str) -> dict[str, Any]:
    drugs = [c for c in schemas.code_list("drug").codes if c.extra.get("form") == "tablet"]
    drug = rng.choice(drugs[:20])
    return {
        "prescribed_at": when.isoformat(timespec="minutes"),
        "encounter_id": encounter_id,
        "items": [
            {
                "drug": drug.code,
                "dose": "1",
                "dose_unit": drug.extra.get("dose_unit", "tab"),
                "route": "po",
                "frequency": "tid",
                "days": 3,
                "quantity": 9,
            }
        ],
    }


def write_visits(
    store: NodeStore,
    rng: random.Random,
    *,
    clock: Callable[[], int] = wall_ms,
    shared: list[str] | None = None,
    new_resident: float = 0.3,
) -> Iterator[list[str]]:
    """Write visits forever, yielding the ids of each committed transaction.

    A visit registers a resident (one of ``shared`` identity numbers, if not yet here, else a new
    person) or writes an encounter and its prescription for a resident of this clinic, in one
    transaction. Visit times are days before the node's own today.
    """
    shared = list(shared or [])
    conn = store.db.reader()
    residents = [r[0] for r in conn.execute("SELECT id FROM residents")]
    taken = {r[0] for r in conn.execute("SELECT id_number FROM residents WHERE id_number IS NOT NULL")}
    while True:
        if not residents or rng.random() < new_resident:
            free = [n for n in shared if n not in taken]
            number = rng.choice(free) if free and rng.random() < 0.5 else None
            data = resident_body(rng, number=number)
            if data["id_number"] in taken:
                continue
            env = store.register_resident(data, user="clerk").envelope
            residents.append(env.id)
            taken.add(data["id_number"])
            yield [env.id]
            continue
        resident = rng.choice(residents)
        today = dt.datetime.fromtimestamp(clock() / 1000)  # the node's own clock
        when = (today - dt.timedelta(days=rng.randrange(1, 60), minutes=rng.randrange(0, 600))).replace(
            second=0, microsecond=0
        )
        with store.transaction() as w:
            enc = w.add_record(resident, "encounter", encounter_body(rng, when), user="doctor")
            rx = w.add_record(
                resident,
                "prescription",
                prescription_body(rng, when + dt.timedelta(minutes=5), enc.id),
                user="doctor",
            )
        yield [enc.id, rx.id]


def writer_main() -> None:
    """``python -c 'from tests.cluster import writer_main; writer_main()' CONFIG``: a clinic at work.

    CONFIG is JSON: ``home``, ``visits`` (how many; null = until killed), ``seed``, ``shared``
    (identity numbers of people also registered elsewhere), ``skew_ms`` (this clinic's clock
    error). Prints ``ack <ids>`` once each visit is committed.
    """
    cfg = json.loads(sys.argv[1])
    home = NodeHome.open(cfg["home"])
    skew = int(cfg.get("skew_ms") or 0)

    def clock() -> int:
        return wall_ms() + skew

    db = home.database()
    store = NodeStore(db, node_id=home.node_id, wall_ms=clock)
    visits = cfg.get("visits")
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    rng = random.Random(cfg["seed"])
    for n, ids in enumerate(write_visits(store, rng, clock=clock, shared=cfg.get("shared")), 1):
        out.write("ack " + " ".join(ids) + "\n")
        out.flush()
        if visits is not None and n >= visits:
            break
    db.close()


def sync_main() -> None:
    """``rhip node sync`` for a node whose clock is off by ``skew_ms`` (CONFIG as ``writer_main``).

    A clinic PC with a wrong clock is wrong for everything: record stamps and request stamps.
    """
    from node import SyncClient, SyncError, sync_status

    cfg = json.loads(sys.argv[1])
    home = NodeHome.open(cfg["home"])
    skew = int(cfg.get("skew_ms") or 0)

    def clock() -> int:
        return wall_ms() + skew

    db = home.database()
    client = SyncClient.for_home(home, NodeStore(db, node_id=home.node_id, wall_ms=clock), wall_ms=clock)
    try:
        result = client.round()
    except SyncError as exc:
        print(
            f"Error: sync failed ({exc.reason}): {exc} [{sync_status(db)['pending']} wait]", file=sys.stderr
        )
        sys.exit(1)
    finally:
        client.close()
        db.close()
    if result.pending:
        print(f"Error: {result.pending} record(s) not on the hub yet", file=sys.stderr)
        sys.exit(1)
    print(f"the hub holds everything: {result.pushed} sent, {result.pulled} pulled ({result.applied})")
