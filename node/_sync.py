"""The node's sync client: seal the outbox into this node's feed, push it, pull the hub's feed.

Rules:
1. A round is: ask the hub's head (verified with the hub's key) → refuse if
   the hub holds more of this feed than the node does → seal → push every
   stored changeset above the head, in order, several per POST → pull the
   hub's feed from the cursor (skipped when the last push answer says the
   hub's feed for this node ends at the cursor). Nothing the hub
   acknowledged is sent again; an interrupted upload resumes at the hub's
   head next round.
2. Sealing happens only after the hub's head is known and continues the
   node's own stored feed, so a node restored from an old backup never seals
   a seq the hub already holds: it stops with ``FeedBehindHub`` and keeps
   everything local (re-enrol it as a new node).
3. Sealed changesets are stored (``feed``) in the same transaction that sets
   their outbox rows' ``shipped_seq``; a re-send is byte-identical.
4. Each pulled changeset is verified (hub key, feed ``hub:<node_id>``, chain
   by ``sync.decide``) before ``HubFeedApplier`` stores it, in one
   transaction with the cursor advance (see ``_pull``).
5. Time, the transport and the key are passed in; one round runs at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import schemas
import sync

from ._home import NodeHome
from ._hub_client import HubClient, HubConfig
from ._pull import HubFeedApplier
from ._rows import RECORD_COLUMNS, envelope_of
from ._store import NodeStore
from ._sync_errors import FeedBehindHub, HubAnswerInvalid, HubRefused, SyncError
from ._sync_state import SyncState, add_held, iso, outbox_pending, sync_status

__all__ = ["PUSH_BYTES", "RoundResult", "SyncClient", "enroll", "load_node_key"]

log = logging.getLogger("rhip.node.sync")
log.addHandler(logging.NullHandler())  # quiet unless the application configures logging (`rhip node sync`)

_SEAL_BATCH = 2000  # outbox rows sealed per transaction
_CHAIN_RESETS = 3  # chain-broken answers followed in one round before giving up
# One POST carries whole changesets up to this many bytes before compression: clinic records
# compress about 7:1 with the preset dictionary, so ~35 KB on the wire, about 4 s at 64 kbit/s.
# A dropped 2G connection costs little, and a slow link pays one round trip per several changesets.
PUSH_BYTES = 256 << 10
_ON_DEMAND_TIMEOUT_S = 20.0  # a desk waits for a summary at most this long; then it works offline


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def load_node_key(home: Path) -> Ed25519PrivateKey:
    path = home / "keys" / "node.key"
    try:
        return sync.private_key_from_pem(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SyncError(f"cannot read this node's key {path}: {exc}") from exc


@dataclass(frozen=True)
class RoundResult:
    sealed: int  # changesets sealed this round
    pushed: int  # changesets the hub acknowledged this round
    hub_head: int  # the hub's head of this node's feed afterwards
    pulled: int  # hub changesets applied
    applied: int  # records from them stored here
    held: int  # this node's records the hub holds back (reported)
    pending: int  # records not yet on the hub

    def as_json(self) -> dict[str, int]:
        return asdict(self)


class SyncClient:
    """Sync one node with its hub. Thread-safe: rounds are serialised."""

    def __init__(
        self,
        store: NodeStore,
        hub: HubConfig,
        *,
        key: Ed25519PrivateKey,
        transport: httpx.BaseTransport | None = None,
        wall_ms: Callable[[], int] = _wall_ms,
        timeout_s: float = 60.0,
        pull_limit: int = 64,
        max_pull_pages: int = 1000,
        changeset_bytes: int = sync.TARGET_BODY_BYTES,
        push_bytes: int = PUSH_BYTES,
    ) -> None:
        self.store = store
        self.hub = hub
        self.node_id = store.node_id
        self.state = SyncState(store.db)
        self._key = key
        self._wall_ms = wall_ms
        self._pull_limit = pull_limit
        self._max_pull_pages = max_pull_pages
        self._changeset_bytes = changeset_bytes
        self._push_bytes = push_bytes
        self._http = HubClient(
            hub.hub_url,
            node_id=self.node_id,
            key=key,
            wall_ms=wall_ms,
            ca_file=hub.ca_file,
            transport=transport,
            timeout_s=timeout_s,
        )
        self._applier = HubFeedApplier(store, wall_ms=wall_ms)
        self._lock = threading.RLock()
        self._transport = transport

    @classmethod
    def for_home(cls, home: NodeHome, store: NodeStore, **options: Any) -> SyncClient:
        """The client of an enrolled node home (NotEnrolled otherwise)."""
        return cls(store, HubConfig.load(home.path), key=load_node_key(home.path), **options)

    def close(self) -> None:
        self._http.close()

    def status(self) -> dict[str, Any]:
        return sync_status(self.store.db)

    # -- shared records on demand (while the hub answers) -----------------------

    def _on_demand(self) -> HubClient:
        """A connection of its own, so a desk's request never waits behind a sync round."""
        return HubClient(
            self.hub.hub_url,
            node_id=self.node_id,
            key=self._key,
            wall_ms=self._wall_ms,
            ca_file=self.hub.ca_file,
            transport=self._transport,
            timeout_s=_ON_DEMAND_TIMEOUT_S,
        )

    def shared_summary(self, *, resident: str, reason: str, user: str) -> dict[str, Any]:
        """A visiting resident's shared summary from the hub; HubUnreachable when it does not answer."""
        client = self._on_demand()
        try:
            return client.summary(resident=resident, reason=reason, user=user)
        finally:
            client.close()

    def break_glass(self, *, resident_id: str, reason: str, user: str) -> dict[str, Any]:
        """The sensitive records the hub withheld from this node about a resident, once."""
        client = self._on_demand()
        try:
            return client.break_glass(resident_id=resident_id, reason=reason, user=user)
        finally:
            client.close()

    # -- a round ----------------------------------------------------------------

    def round(self) -> RoundResult:
        """Push everything not on the hub, then pull; records the outcome in sync_state."""
        with self._lock:
            try:
                result = self._round()
            except SyncError as exc:
                self.state.record_failure(self._wall_ms(), exc.reason, str(exc))
                log.warning("sync round failed (%s): %s", exc.reason, exc)
                raise
            except Exception as exc:
                self.state.record_failure(self._wall_ms(), "internal", type(exc).__name__)
                raise
            self.state.record_success(self._wall_ms())
            log.info(
                "sync round: sealed %d, pushed %d (hub head %d), pulled %d changesets (%d records)",
                result.sealed,
                result.pushed,
                result.hub_head,
                result.pulled,
                result.applied,
            )
            return result

    def _round(self) -> RoundResult:
        head = self.fetch_head(waiting=outbox_pending(self.store.db))
        self._check_feed_continues(head)
        sealed = self._seal()
        pushed, head_seq, held, pull_head = self._push(head)
        if held or self._has_held_reports():
            items = self._http.held()
            with self.store.db.write() as conn:
                SyncState.replace_held(conn, items, self._wall_ms())
            held = len(items)
        pulled, applied = self.pull(hub_feed_ends_at=pull_head)
        return RoundResult(
            sealed=sealed,
            pushed=pushed,
            hub_head=head_seq,
            pulled=pulled,
            applied=applied,
            held=held,
            pending=outbox_pending(self.store.db),
        )

    def _has_held_reports(self) -> bool:
        row = self.store.db.reader().execute("SELECT 1 FROM sync_errors WHERE kind = 'held' LIMIT 1")
        return row.fetchone() is not None

    def _open_head(self, frame: bytes) -> sync.SignedHead:
        try:
            signed = sync.open_head(frame, self.hub.public_key)
        except sync.SyncError as exc:
            raise HubAnswerInvalid(f"the hub's head does not verify with its key: {exc}") from exc
        if signed.head.feed != self.node_id:
            raise HubAnswerInvalid(
                f"the hub answered with the head of feed {signed.head.feed}, not this node's"
            )
        with self.store.db.write() as conn:
            SyncState.set_hub_head(conn, signed.head.seq, signed.head.hash, signed.wall_ms)
        return signed

    def fetch_head(self, *, waiting: int | None = None) -> sync.FeedHead:
        """The hub's verified head of this node's feed (also kept in sync_state); ``waiting`` is
        reported to the hub's operators."""
        return self._open_head(self._http.head(waiting=waiting)).head

    # -- push -------------------------------------------------------------------

    def _last_stored(self) -> tuple[int, bytes]:
        row = (
            self.store.db.reader().execute("SELECT seq, hash FROM feed ORDER BY seq DESC LIMIT 1").fetchone()
        )
        return (row[0], row[1]) if row else (0, sync.ZERO_HASH)

    def _check_feed_continues(self, head: sync.FeedHead) -> None:
        last, _ = self._last_stored()
        if head.seq > last:
            raise FeedBehindHub(
                f"this node's database is older than what the hub holds: the hub has changeset {head.seq} "
                f"of this node's feed, this database only {last} (restored from an old backup?); "
                "nothing was sent and nothing local is lost, but this feed cannot continue: "
                "re-enrol as a new node (a new `rhip node init` home and enrolment token)"
            )
        if head.seq:
            row = (
                self.store.db.reader().execute("SELECT hash FROM feed WHERE seq = ?", (head.seq,)).fetchone()
            )
            if row is None or row[0] != head.hash:
                raise FeedBehindHub(
                    f"the hub holds a different changeset {head.seq} of this node's feed than this database "
                    "(restored from a backup or copied from another node?); nothing was sent and nothing "
                    "local is lost, but this feed cannot continue: re-enrol as a new node"
                )

    def _seal(self) -> int:
        """Pack unsealed outbox rows into changesets continuing the stored feed; returns how many."""
        total = 0
        while True:
            with self.store.db.write() as conn:
                rows = conn.execute(
                    f"SELECT {', '.join('r.' + c.strip() for c in RECORD_COLUMNS.split(','))} "
                    "FROM outbox o JOIN records r ON r.id = o.record_id "
                    "WHERE o.shipped_seq IS NULL ORDER BY o.seq LIMIT ?",
                    (_SEAL_BATCH,),
                ).fetchall()
                if not rows:
                    return total
                last = conn.execute("SELECT seq, hash FROM feed ORDER BY seq DESC LIMIT 1").fetchone()
                next_seq, prev = (last[0] + 1, last[1]) if last else (1, sync.ZERO_HASH)
                envelopes = [envelope_of(r) for r in rows]
                try:
                    sealed = sync.pack_changesets(
                        [(e.hlc, e.as_dict()) for e in envelopes],
                        feed=self.node_id,
                        next_seq=next_seq,
                        prev_hash=prev,
                        schema=schemas.SCHEMA_RELEASE,
                        key=self._key,
                        target_bytes=self._changeset_bytes,
                    )
                except sync.LocalError as exc:
                    raise SyncError(f"cannot seal the outbox: {exc}") from exc
                now = iso(self._wall_ms())
                for cs in sealed:
                    conn.execute(
                        "INSERT INTO feed (seq, hash, body, signature, record_count, sealed_at) "
                        "VALUES (?,?,?,?,?,?)",
                        (cs.changeset.seq, cs.hash, cs.body, cs.signature, len(cs.changeset.records), now),
                    )
                    conn.executemany(
                        "UPDATE outbox SET shipped_seq = ? WHERE record_id = ?",
                        [(cs.changeset.seq, r["id"]) for r in cs.changeset.records],
                    )
                total += len(sealed)
            if len(rows) < _SEAL_BATCH:
                return total

    def _batch(self, first: int) -> list[tuple[int, bytes, bytes]]:
        """Stored changesets from seq ``first`` on, ``(seq, hash, frame)``, as many as one POST carries.

        A POST carries whole changesets up to ``push_bytes`` before compression
        (at least one): seconds on a 2G link, so a dropped connection costs little.
        """
        batch: list[tuple[int, bytes, bytes]] = []
        size = 0
        rows = self.store.db.reader().execute(
            "SELECT seq, hash, body, signature FROM feed WHERE seq >= ? ORDER BY seq LIMIT ?",
            (first, sync.MAX_BATCH_FRAMES),
        )
        for seq, digest, body, signature in rows:
            if batch and seq != batch[-1][0] + 1:
                break  # a gap cannot happen (the feed is written in order); never send one
            frame = sync.encode([body, signature])
            if batch and size + len(frame) > self._push_bytes:
                break
            batch.append((seq, digest, frame))
            size += len(frame)
        return batch

    def _push(self, head: sync.FeedHead) -> tuple[int, int, int, int | None]:
        """Send every stored changeset above ``head``.

        Returns (acknowledged, hub head seq, held, where the hub's feed for
        this node ends as its last answer said, if it said).
        """
        next_seq, head_seq, pushed, held, resets = head.seq + 1, head.seq, 0, 0, 0
        pull_head: int | None = None
        while True:
            batch = self._batch(next_seq)
            if not batch:
                return pushed, head_seq, held, pull_head
            try:
                answer = self._http.push([frame for _, _, frame in batch])
            except HubRefused as exc:
                if exc.reason != "chain-broken" or exc.expected_seq is None or resets >= _CHAIN_RESETS:
                    raise
                resets += 1
                last, _ = self._last_stored()
                if exc.expected_seq > last + 1 or exc.expected_seq < 1:
                    raise FeedBehindHub(
                        f"the hub expects changeset {exc.expected_seq} of this node's feed but this database "
                        f"ends at {last} (restored from an old backup?); nothing local is lost: "
                        "re-enrol as a new node"
                    ) from exc
                log.info("hub expects changeset %d of this feed; resending from there", exc.expected_seq)
                next_seq = exc.expected_seq
                continue
            verdicts = answer.get("verdicts") or [answer["verdict"]]
            if not verdicts or any(v not in ("accept", "duplicate") for v in verdicts):
                raise HubAnswerInvalid(f"the hub answered an unknown verdict {answer['verdict']!r}")
            if len(verdicts) > len(batch):
                raise HubAnswerInvalid("the hub answered for more changesets than were sent")
            signed = self._open_head(answer["head"])
            last_seq, last_hash, _ = batch[len(verdicts) - 1]
            if signed.head.seq == last_seq and signed.head.hash != last_hash:
                raise HubAnswerInvalid(f"the hub acknowledged changeset {last_seq} with a different hash")
            reports = [h for h in answer.get("held", []) if isinstance(h, dict)]
            if reports:
                with self.store.db.write() as conn:
                    add_held(conn, reports, self._wall_ms())
            held += len(reports)
            head_seq, pushed, next_seq = signed.head.seq, pushed + len(verdicts), last_seq + 1
            raw = answer.get("pull_head")
            pull_head = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
            if len(verdicts) < len(batch):
                # The hub stopped early (answer["stopped"]): the next POST starts with the changeset
                # it did not take, alone, and its refusal comes back as an error with its reason.
                log.info("hub took %d of %d changesets; sending the rest again", len(verdicts), len(batch))

    # -- pull -------------------------------------------------------------------

    @property
    def hub_feed(self) -> str:
        return f"hub:{self.node_id}"

    def _pulled_head(self) -> sync.FeedHead:
        row = (
            self.store.db.reader()
            .execute("SELECT seq, hash FROM pulled_feed ORDER BY seq DESC LIMIT 1")
            .fetchone()
        )
        return sync.FeedHead(self.hub_feed, row[0], row[1]) if row else sync.FeedHead(self.hub_feed)

    def _pulled_hash(self, seq: int) -> bytes | None:
        row = self.store.db.reader().execute("SELECT hash FROM pulled_feed WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else bytes(row[0])

    def pull(self, *, hub_feed_ends_at: int | None = None) -> tuple[int, int]:
        """Apply the hub's feed from the cursor; returns (changesets applied, records stored).

        ``hub_feed_ends_at`` is where the hub's last push answer said this
        node's hub feed ends: when the cursor is there already, the round
        trip is saved (the next round without uploads asks anyway).
        """
        with self._lock:
            self._applier.retry_held()
            if hub_feed_ends_at is not None and hub_feed_ends_at <= self._pulled_head().seq:
                return 0, 0
            frames_applied = records = 0
            for _ in range(self._max_pull_pages):
                head = start = self._pulled_head()
                frames = self._http.pull(after=head.seq, limit=self._pull_limit)
                for frame in frames:
                    try:
                        sealed = sync.open_changeset(frame, self.hub.public_key)
                        verdict = sync.decide(head, sealed, self._pulled_hash)
                    except sync.SyncError as exc:
                        raise HubAnswerInvalid(
                            f"a changeset of the hub's feed was refused ({exc.reason}): {exc}; "
                            f"nothing from it was applied and the cursor stays at {head.seq}",
                            reason=exc.reason,
                        ) from exc
                    if verdict is sync.Verdict.DUPLICATE:
                        continue
                    records += self._applier.apply(sealed)
                    head = head.advance(sealed)
                    frames_applied += 1
                # The hub may send fewer than asked (its size cap): ask until it has nothing newer,
                # or until the cursor is where the hub said its feed ends.
                if head.seq == start.seq or (hub_feed_ends_at is not None and head.seq >= hub_feed_ends_at):
                    break
            return frames_applied, records


def enroll(
    home: NodeHome,
    *,
    hub_url: str,
    token: str,
    ca_file: Path | None = None,
    transport: httpx.BaseTransport | None = None,
    wall_ms: Callable[[], int] = _wall_ms,
) -> HubConfig:
    """Register this node's public key with the hub (one-time token) and keep the hub's in HOME/hub.json."""
    path = HubConfig.path_in(home.path)
    if path.exists():
        raise SyncError(f"this node is already enrolled ({path} exists); remove that file to enrol again")
    key = load_node_key(home.path)
    ca = str(ca_file.resolve()) if ca_file is not None else None
    client = HubClient(
        hub_url, node_id=home.node_id, key=None, wall_ms=wall_ms, ca_file=ca, transport=transport
    )
    try:
        answer = client.enroll(
            token=token, clinic=home.clinic, name=home.name, public_key=sync.public_bytes(key)
        )
    finally:
        client.close()
    try:
        config = HubConfig(
            hub_url=hub_url.rstrip("/"),
            hub_id=str(answer["hub_id"]),
            region=str(answer["region"]),
            hub_public_key=str(answer["hub_public_key"]),
            ca_file=ca,
        )
        if len(config.public_key) != 32:
            raise ValueError("the hub's public key is not 32 bytes")
    except (KeyError, ValueError) as exc:
        raise HubAnswerInvalid(f"the hub's enrolment answer is incomplete: {exc}") from exc
    config.save(home.path)
    return config
