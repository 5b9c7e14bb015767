"""Applying the hub's feed to the node's store, once a changeset of it has been verified.

Rules:
1. One hub changeset is applied in one transaction together with the cursor
   advance (``pulled_feed``, ``sync_state.pull_cursor``): a crash leaves both
   or neither, so nothing is applied twice or skipped.
2. Each item is applied under a savepoint. A record this node cannot apply
   (unknown type, newer schema version, a conflicting copy, malformed) is kept
   in ``pulled_held`` with its reason and retried every round; it never blocks
   the rest of the changeset or of the feed.
3. Records keep their author and are stored through ``Writer.apply_remote``
   (no outbox entry, idempotent by id). Identity links (``kind: link``) are
   stored through ``Writer.apply_link``; the residents a link item names as
   ``unlinked`` lose their link (``_remote.remove_links``). A ``directory``
   item names clinics (``_remote.save_directory``).
4. An item of a kind this node does not know is kept in ``pulled_held``
   (reason ``unknown-kind``) and applied after an upgrade; it never blocks.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import schemas
import sync
from schemas import RecordEnvelope

from ._remote import remove_links, save_directory
from ._store import NodeStore, StoreError, Writer
from ._sync_errors import HubAnswerInvalid
from ._sync_state import SyncState, iso

__all__ = ["HubFeedApplier"]

log = logging.getLogger("rhip.node.sync")


def _envelope_from_wire(record: dict[str, Any]) -> RecordEnvelope:
    for name in ("id", "fact_id", "type", "resident_id", "author", "effective"):
        if not isinstance(record.get(name), str):
            raise ValueError(f"pulled record lacks {name!r}")
    if not isinstance(record.get("data"), dict):
        raise ValueError("pulled record's data is not a map")
    for name in ("v", "hlc"):
        if not isinstance(record.get(name), int) or isinstance(record.get(name), bool):
            raise ValueError(f"pulled record's {name!r} is not an integer")
    try:
        return RecordEnvelope.from_dict(record)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"pulled record is malformed: {exc}") from exc


class UnknownKind(ValueError):
    """A hub feed item of a kind this software does not know (a newer hub): kept, applied after an upgrade."""


def _hold_reason(exc: Exception) -> str:
    if isinstance(exc, UnknownKind):
        return "unknown-kind"
    if isinstance(exc, schemas.UnknownRecordType):
        return "unknown-type"
    if isinstance(exc, schemas.VersionTooNew):
        return "version-too-new"
    if isinstance(exc, schemas.RecordInvalid):
        return "invalid"
    if isinstance(exc, sync.SyncError):
        return exc.reason
    if isinstance(exc, StoreError):
        return "not-applicable"
    return "malformed"


class HubFeedApplier:
    """Stores verified changesets of the hub's feed for one node."""

    def __init__(self, store: NodeStore, *, wall_ms: Callable[[], int]) -> None:
        self.store = store
        self._wall_ms = wall_ms

    def apply(self, sealed: sync.SealedChangeset) -> int:
        """Apply one verified hub changeset with its cursor advance; returns records stored."""
        seq = sealed.changeset.seq
        stored = 0
        with self.store.transaction() as w:
            held = w.conn.execute("SELECT hash FROM pulled_feed WHERE seq = ?", (seq,)).fetchone()
            if held is not None:  # another round (`rhip node sync` beside the server) applied it first
                if bytes(held[0]) != sealed.hash:
                    raise HubAnswerInvalid(
                        f"the hub's feed changeset {seq} differs from the one applied before", reason="fork"
                    )
                return 0
            for index, record in enumerate(sealed.changeset.records):
                stored += self._apply_one(w, record, f"link@{seq}.{index}", seq)
            w.conn.execute("INSERT INTO pulled_feed (seq, hash) VALUES (?, ?)", (seq, sealed.hash))
            SyncState.put(w.conn, pull_cursor=seq)
        return stored

    def retry_held(self) -> None:
        """Try again every pulled item kept back (after an upgrade, or once its cause is gone)."""
        rows = (
            self.store.db.reader()
            .execute("SELECT record_id, pulled_seq, record FROM pulled_held ORDER BY pulled_seq, record_id")
            .fetchall()
        )
        if not rows:
            return
        with self.store.transaction() as w:
            for record_id, seq, blob in rows:
                w.conn.execute("DELETE FROM pulled_held WHERE record_id = ?", (record_id,))
                self._apply_one(w, sync.decode(blob), record_id, seq)

    def _apply_one(self, w: Writer, record: dict[str, Any], link_key: str, seq: int) -> int:
        """Apply one item under a savepoint; keep it in pulled_held if it cannot be applied."""
        w.conn.execute("SAVEPOINT pulled_record")
        try:
            kind = record.get("kind")
            stored = 0
            if kind == "link":
                self._apply_link(w, record)
            elif kind == "directory":
                nodes = record.get("nodes")
                if not (isinstance(nodes, list) and all(isinstance(n, dict) for n in nodes)):
                    raise ValueError("directory lacks its nodes")
                save_directory(w.conn, nodes)
            elif kind is not None:
                raise UnknownKind(f"hub feed item of unknown kind {kind!r}")
            else:
                stored = int(w.apply_remote(_envelope_from_wire(record)))
        except (schemas.SchemaError, sync.SyncError, StoreError, ValueError) as exc:
            w.conn.execute("ROLLBACK TO pulled_record")
            w.conn.execute("RELEASE pulled_record")
            record_id = record.get("id") if isinstance(record.get("id"), str) else link_key
            self._hold(w.conn, str(record_id), record, seq, exc)
            return 0
        w.conn.execute("RELEASE pulled_record")
        return stored

    def _apply_link(self, w: Writer, record: dict[str, Any]) -> None:
        """Link the local residents a link names to the remote ones, whichever side the hub put them on,
        and drop their links to the residents it names as ``unlinked``.

        A node holding none of them (a resident referred to it) keeps the links under the named
        resident, so its shared record shows the person's other registrations too.
        """
        linked = record.get("linked")
        unlinked = record.get("unlinked", [])
        top = record.get("resident_id")
        master = record.get("master_id")
        if not (
            isinstance(top, str)
            and isinstance(linked, list)
            and isinstance(unlinked, list)
            and all(
                isinstance(i, dict) and isinstance(i.get("resident_id"), str) for i in (*linked, *unlinked)
            )
            and (master is None or isinstance(master, str))
        ):
            raise ValueError("link lacks resident_id, master_id or linked residents")
        mentioned: list[tuple[str, str | None]] = [(top, None)]
        for item in linked:
            node = item.get("node_id")
            mentioned.append((item["resident_id"], node if isinstance(node, str) else None))
        local = {
            rid
            for rid, node in mentioned
            if node == self.store.node_id
            or (node is None and w.conn.execute("SELECT 1 FROM residents WHERE id = ?", (rid,)).fetchone())
        }
        holders = sorted(local) or [top]
        remote = [(rid, node) for rid, node in mentioned if rid not in holders]
        gone = [i["resident_id"] for i in unlinked if i["resident_id"] not in holders]
        for rid in holders:
            if gone:
                remove_links(w, rid, gone)
            w.apply_link(rid, remote, master_id=master)

    def _hold(
        self, conn: sqlite3.Connection, record_id: str, record: dict[str, Any], seq: int, exc: Exception
    ) -> None:
        reason = _hold_reason(exc)
        conn.execute(
            "INSERT OR REPLACE INTO pulled_held (record_id, pulled_seq, record, reason, message, at) "
            "VALUES (?,?,?,?,?,?)",
            (
                record_id,
                seq,
                sync.encode(record),
                reason,
                f"pulled record kept, not applied yet: {exc}",
                iso(self._wall_ms()),
            ),
        )
        log.warning("pulled record %s kept unapplied (%s)", record_id, reason)
