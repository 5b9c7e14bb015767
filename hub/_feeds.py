"""The hub's outgoing feeds: one per node, id ``hub:<node_id>``, signed with the hub's key.

Rules:
1. A node's feed holds what its clinic should hold: every record about every
   resident of a master person one of its residents belongs to (the whole
   lifelong record, from every clinic), every record about residents referred
   to it, identity links, and the directory of the clinics those came from.
   A record never goes back to the node that wrote it, and never to one feed
   twice (``routed``).
2. Sensitive records (``hub._privacy``) go to other clinics only while the
   resident consents; a record held back is not marked routed, so a later
   consent sends it then.
3. When residents join a master person (a link, a merge, a referral), each
   side's holders receive the other side's whole record (backfill), before
   the link items that name those residents.
4. A link item is the complete list of a resident's co-members; ``unlinked``
   names those it lost, so the node removes them (see docs/sync.md).
5. Before a node's feed names a clinic for the first time (an author, a
   linked resident's node), a ``directory`` item gives its code and name.
6. Items are routed while a changeset is applied and sealed into the feeds in
   the same transaction, so the feeds grow incrementally and never miss an
   accepted record.
7. A feed changeset is sealed once and stored; a pull sends the stored bytes.
8. A pull answer holds whole frames, in seq order, and stays under the body
   limit the node enforces (at least one frame, so a feed always moves).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import SCHEMA_RELEASE
from sync import MAX_BODY_BYTES, Stamp, compress, decode, encode, pack_changesets

from ._privacy import PrivacyRules, consent_permits
from ._store import Reads, Writes

__all__ = ["MAX_PULL_LIMIT", "FeedRouter", "directory_item", "link_item", "pull_body", "pull_frames"]

MAX_PULL_LIMIT = 1000
_PULL_BYTES = MAX_BODY_BYTES - 4096  # room for the list header; frames are incompressible at worst


def link_item(
    resident_id: str,
    master_id: str,
    linked: list[tuple[str, str]],
    unlinked: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """An identity link as it travels in a hub feed (see docs/sync.md)."""
    item: dict[str, Any] = {
        "kind": "link",
        "resident_id": resident_id,
        "master_id": master_id,
        "linked": [{"resident_id": r, "node_id": n} for r, n in linked],
    }
    gone = sorted(set(unlinked))
    if gone:
        item["unlinked"] = [{"resident_id": r, "node_id": n} for r, n in gone]
    return item


def directory_item(nodes: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Clinics a node's feed names: ``(node_id, clinic code, name)`` each (see docs/sync.md)."""
    return {
        "kind": "directory",
        "nodes": [{"node_id": n, "clinic": c, "name": name} for n, c, name in nodes],
    }


class FeedRouter:
    """Collects the items one transaction routes to each node's feed, then seals them there."""

    def __init__(self, tx: Writes, *, now_ms: int) -> None:
        self.tx = tx
        self.now_ms = now_ms
        self.pending: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        self._holders: dict[str, set[str]] = {}  # resident → nodes holding it, until links change
        self._consent: dict[str, bool] = {}  # resident → its master person consents, until links change
        self._rules: PrivacyRules | None = None

    @property
    def rules(self) -> PrivacyRules:
        if self._rules is None:
            self._rules = PrivacyRules.with_operator((v, k) for v, k, _ in self.tx.sensitive_rules())
        return self._rules

    def shareable(self, record: dict[str, Any], resident_id: str) -> bool:
        """Whether a record may go to another clinic (rule 2)."""
        if not self.rules.sensitive(record):
            return True
        return self.consents(resident_id)

    def consents(self, resident_id: str) -> bool:
        """Whether the resident's master person consented to share sensitive records."""
        known = self._consent.get(resident_id)
        if known is None:
            master = self.tx.resident_master(resident_id)
            members = [r for r, _ in self.tx.master_members(master)] if master else [resident_id]
            known = consent_permits(decode(c) for c in self.tx.records_of_type(members, "consent"))
            self._consent[resident_id] = known
        return known

    def record(self, record_id: str, resident_id: str, author: str, hlc: int, content: bytes) -> None:
        """Route an accepted record to every other node that holds its resident."""
        holders = self._holders.get(resident_id)
        if holders is None:
            holders = self._holders[resident_id] = self.tx.nodes_holding(resident_id)
        targets = holders - {author}
        if not targets:
            return
        record = decode(content)
        if not self.shareable(record, resident_id):
            return
        for target in sorted(targets):
            if self.tx.mark_routed(target, record_id):
                self.pending[target].append((hlc, record))

    def links_changed(self) -> None:
        """Residents were registered, linked, referred or consented: who holds whom must be read again."""
        self._holders.clear()
        self._consent.clear()

    def backfill(self, target: str, resident_id: str) -> None:
        """Send a node every stored record about a resident it has just come to hold (rules 2, 3)."""
        rows = [r for r in self.tx.records_about(resident_id) if r[1] != target]
        if not rows:
            return
        done = self.tx.routed_among(target, [r[0] for r in rows])
        for record_id, _author, hlc, content in rows:
            if record_id in done:
                continue
            record = decode(content)
            if self.shareable(record, resident_id) and self.tx.mark_routed(target, record_id):
                self.pending[target].append((hlc, record))

    def join(self, one: list[str], other: list[str]) -> None:
        """Two groups of residents became one person (or one was referred to the other's node):
        each group's holders get the other group's records (rule 3)."""
        for target in sorted(self.tx.holder_nodes(one)):
            for resident_id in other:
                self.backfill(target, resident_id)
        for target in sorted(self.tx.holder_nodes(other)):
            for resident_id in one:
                self.backfill(target, resident_id)

    def link(self, target: str, item: dict[str, Any]) -> None:
        self.pending[target].append((Stamp(self.now_ms).pack(), item))

    def _directory(self, target: str, items: list[tuple[int, dict[str, Any]]]) -> dict[str, Any] | None:
        """The directory item ``target`` needs before ``items`` (rule 5), or None."""
        named: set[str] = set()
        for _, item in items:
            if item.get("kind") == "link":
                named.update(i["node_id"] for i in (*item["linked"], *item.get("unlinked", ())))
            elif "author" in item:
                named.add(item["author"])
        named.discard(target)
        if not named:
            return None
        fresh = sorted(named - self.tx.announced(target))
        entries = []
        for node_id in fresh:
            node = self.tx.node(node_id)
            if node is not None and self.tx.announce(target, node_id):
                entries.append((node_id, node.clinic, node.name))
        return directory_item(entries) if entries else None

    def seal(self, key: Ed25519PrivateKey) -> int:
        """Seal what was routed into each feed, continuing its chain; returns the changesets made."""
        made = 0
        for target in sorted(self.pending):
            items = self.pending[target]
            if not items:
                continue
            directory = self._directory(target, items)
            if directory is not None:
                items = [(min(h for h, _ in items), directory), *items]
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
