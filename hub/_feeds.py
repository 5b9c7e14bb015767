"""The hub's outgoing feeds: one per node, id ``hub:<node_id>``, signed with the hub's key.

Rules:
1. A node's feed holds what its clinic should hold: records about its
   residents written at other clinics, and identity links. A record never
   goes back to the node that wrote it, and never to one feed twice.
2. Items are routed while a changeset is applied and sealed into the feeds in
   the same transaction, so the feeds grow incrementally and never miss an
   accepted record.
3. A feed changeset is sealed once and stored; a pull sends the stored bytes.
4. A pull answer holds whole frames, in seq order, and stays under the body
   limit the node enforces (at least one frame, so a feed always moves).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import SCHEMA_RELEASE
from sync import MAX_BODY_BYTES, Stamp, compress, decode, encode, pack_changesets

from ._store import Reads, Writes

__all__ = ["MAX_PULL_LIMIT", "FeedRouter", "link_item", "pull_body", "pull_frames"]

MAX_PULL_LIMIT = 1000
_PULL_BYTES = MAX_BODY_BYTES - 4096  # room for the list header; frames are incompressible at worst


def link_item(resident_id: str, master_id: str, linked: list[tuple[str, str]]) -> dict[str, Any]:
    """An identity link as it travels in a hub feed (see docs/sync.md)."""
    return {
        "kind": "link",
        "resident_id": resident_id,
        "master_id": master_id,
        "linked": [{"resident_id": r, "node_id": n} for r, n in linked],
    }


class FeedRouter:
    """Collects the items one transaction routes to each node's feed, then seals them there."""

    def __init__(self, tx: Writes, *, now_ms: int) -> None:
        self.tx = tx
        self.now_ms = now_ms
        self.pending: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        self._holders: dict[str, set[str]] = {}  # resident → nodes holding it, until links change

    def record(self, record_id: str, resident_id: str, author: str, hlc: int, content: bytes) -> None:
        """Route an accepted record to every other node that holds its resident."""
        holders = self._holders.get(resident_id)
        if holders is None:
            holders = self._holders[resident_id] = self.tx.nodes_holding(resident_id)
        targets = holders - {author}
        if not targets:
            return
        record = decode(content)
        for target in sorted(targets):
            if self.tx.mark_routed(target, record_id):
                self.pending[target].append((hlc, record))

    def links_changed(self) -> None:
        """Residents were registered or linked: who holds whom must be read again."""
        self._holders.clear()

    def backfill(self, target: str, resident_id: str) -> None:
        """Send a node every stored record about a resident it has just been linked to."""
        for record_id, author, hlc, content in self.tx.records_about(resident_id):
            if author != target and self.tx.mark_routed(target, record_id):
                self.pending[target].append((hlc, decode(content)))

    def link(self, target: str, item: dict[str, Any]) -> None:
        self.pending[target].append((Stamp(self.now_ms).pack(), item))

    def seal(self, key: Ed25519PrivateKey) -> int:
        """Seal what was routed into each feed, continuing its chain; returns the changesets made."""
        made = 0
        for target in sorted(self.pending):
            items = self.pending[target]
            if not items:
                continue
            head = self.tx.hub_feed_head(target)
            for sealed in pack_changesets(
                items,
                feed=head.feed,
                next_seq=head.seq + 1,
                prev_hash=head.hash,
                schema=SCHEMA_RELEASE,
                key=key,
            ):
                self.tx.add_hub_frame(
                    target,
                    sealed.changeset.seq,
                    sealed.hash,
                    sealed.frame,
                    items=len(sealed.changeset.records),
                    now_ms=self.now_ms,
                )
                made += 1
        self.pending.clear()
        return made


def pull_frames(reads: Reads, node_id: str, *, after: int, limit: int) -> list[bytes]:
    """The node's feed frames with seq > ``after``: at most ``limit``, within the body limit."""
    frames: list[bytes] = []
    size = 0
    for _, frame in reads.hub_frames(node_id, after=after, limit=min(limit, MAX_PULL_LIMIT)):
        if frames and size + len(frame) > _PULL_BYTES:
            break
        frames.append(frame)
        size += len(frame)
    return frames


def pull_body(reads: Reads, node_id: str, *, after: int, limit: int, preset: bool = False) -> bytes:
    """A pull answer: zlib-compressed msgpack list of frames (preset dictionary if the node reads it)."""
    return compress(encode(pull_frames(reads, node_id, after=after, limit=limit)), preset=preset)
