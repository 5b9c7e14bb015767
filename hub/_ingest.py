"""Ingest: take one changeset from a node's feed and apply it.

Rules:
1. Nothing a node sends is trusted before its frame is opened with the key
   that node enrolled (``sync.open_changeset`` with a lookup that refuses
   unknown and revoked nodes) and its place in the feed decided (``sync.decide``).
2. Accepting stores the exact frame, every record, every held record and
   every feed item it routes in one transaction, and the head advances with
   them. A duplicate stores nothing and is acknowledged again.
3. One record never blocks the rest: a record the hub cannot apply is held
   with its reason and applies on retry (``retry_held``) once the cause is fixed.
   Reasons: ``invalid``, ``version-too-new``, ``unknown-type``, ``conflicting-copy``.
4. A fork is kept in quarantine with its frame and raised to an operator;
   it is never applied.
5. Records are immutable: the same id with the same content is a no-op.
6. Demographics merge per field (``sync.merge_field``) on stamps clamped to
   receipt time + 5 minutes; every value stays in history, conflicts flagged.
7. Skew is measured and stored, never a reason to refuse.
8. Logs carry node ids, seqs, counts and reasons, never record contents.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import schemas
from schemas import FieldError, Kind, RecordEnvelope, RecordInvalid, Status
from sync import (
    ConflictingCopy,
    FeedHead,
    FieldVersion,
    Fork,
    Malformed,
    SealedChangeset,
    Stamp,
    Verdict,
    clamp_stamp,
    decide,
    decode,
    encode,
    merge_field,
    open_changeset,
    same_fact,
)

from ._feeds import FeedRouter, link_item
from ._store import HeldRecord, HubStore, NodeInfo, NodeRefused, Reads, Writes

__all__ = ["MAX_AHEAD_MS", "Receipt", "RetryReport", "apply_record", "known_node", "receive", "retry_held"]

log = logging.getLogger("rhip.hub.ingest")

MAX_AHEAD_MS = 5 * 60_000  # demographic stamps count as at most this far past receipt
_SKEW_BOUND_MS = 1 << 52  # a stamp beyond this is nonsense; store the bound, not an overflow
_TEXT_FIELDS = ("id", "fact_id", "type", "resident_id", "author", "effective")
_OPTIONAL_TEXT = ("supersedes", "recorded_by", "reason")


@dataclass(frozen=True)
class Receipt:
    """What the hub did with one changeset."""

    verdict: Verdict
    head: FeedHead
    held: list[HeldRecord]


@dataclass(frozen=True)
class RetryReport:
    applied: int
    still_held: list[HeldRecord]


def known_node(reads: Reads, node_id: str) -> NodeInfo:
    """The enrolled, unrevoked node ``node_id``; NodeRefused otherwise."""
    node = reads.node(node_id)
    if node is None:
        raise NodeRefused(
            f"node {node_id} is not enrolled at this hub; enrol it with a token from the hub operator",
            reason="unknown-node",
        )
    if node.revoked:
        raise NodeRefused(
            f"the key of node {node_id} was revoked by the hub operator: {node.revoked_reason}",
            reason="revoked",
        )
    return node


def receive(store: HubStore, frame: bytes, *, node_id: str, key: Ed25519PrivateKey) -> Receipt:
    """Open, decide and apply one changeset frame sent on ``node_id``'s feed.

    Raises Malformed or BadSignature (the frame), NodeRefused (the node),
    ChainBroken (a gap) or Fork (after quarantining the frame).
    """

    def lookup(feed: str) -> bytes:
        if feed != node_id:
            raise Malformed(f"changeset of feed {feed} sent on the feed of node {node_id}")
        return known_node(store.reads(), feed).public_key

    sealed = open_changeset(frame, lookup)
    cs = sealed.changeset
    try:
        with store.transaction() as tx:
            now = store.now_ms()
            head = known_node(tx, node_id).head
            verdict = decide(head, sealed, lambda seq: tx.changeset_hash(node_id, seq))
            if verdict is Verdict.DUPLICATE:
                tx.touch_node(node_id, now)
                return Receipt(verdict, head, tx.held(node_id, seq=cs.seq))
            skew = _skew_ms(sealed, now)
            tx.add_changeset(
                node_id, cs.seq, sealed.hash, frame, records=len(cs.records), skew_ms=skew, now_ms=now
            )
            router = FeedRouter(tx, now_ms=now)
            held: list[HeldRecord] = []
            for idx, record in enumerate(cs.records):
                problem = apply_record(
                    tx,
                    router,
                    record,
                    sender=node_id,
                    seq=cs.seq,
                    received_ms=now,
                    now_ms=now,
                    new_id=store.new_id,
                )
                if problem is not None:
                    held.append(
                        tx.hold(
                            node_id,
                            cs.seq,
                            idx,
                            record_id=_record_id(record),
                            reason=problem[0],
                            detail=problem[1],
                            now_ms=now,
                        )
                    )
            routed = router.seal(key)
            new_head = head.advance(sealed)
            tx.set_head(new_head, skew_ms=skew, now_ms=now)
    except Fork as exc:
        _quarantine(store, sealed, frame, exc)
        raise
    log.info(
        "feed %s: accepted changeset %d (%d records, %d held, %d feed changesets routed, skew %d s)",
        node_id,
        cs.seq,
        len(cs.records),
        len(held),
        routed,
        skew // 1000,
    )
    return Receipt(Verdict.ACCEPT, new_head, held)


def _skew_ms(sealed: SealedChangeset, now_ms: int) -> int:
    ahead = Stamp.unpack(sealed.changeset.hlc_max).wall_ms - now_ms
    return max(-_SKEW_BOUND_MS, min(_SKEW_BOUND_MS, ahead))


def _quarantine(store: HubStore, sealed: SealedChangeset, frame: bytes, exc: Fork) -> None:
    feed, seq = sealed.changeset.feed, sealed.changeset.seq
    with store.transaction() as tx:
        now = store.now_ms()
        new = tx.quarantine(
            feed,
            seq,
            frame_hash=sealed.hash,
            held_hash=exc.held_hash,
            frame=frame,
            detail=str(exc),
            now_ms=now,
        )
        if new:
            tx.alert(
                "fork",
                feed,
                f"feed {feed} offered a different changeset at seq {seq}; it is quarantined and "
                "not applied. Find out which machine writes this feed (a restored backup or a "
                "cloned disk) before the clinic syncs again.",
                now,
            )
    if new:
        log.warning("feed %s: fork at seq %d quarantined; operator alerted", feed, seq)


def _record_id(record: dict[str, Any]) -> str | None:
    rid = record.get("id")
    return rid if isinstance(rid, str) else None


def _today(now_ms: int, hlc: int) -> dt.date:
    """The calendar a record is checked against: its writer's (from its HLC stamp) or the hub's.

    "Not dated in the future" guards the clerk's typing on the node; at the hub a
    clinic whose clock runs ahead must not have its facts held for skew, so the
    later of the two clocks counts. One day of slack: clinics write local dates,
    the hub's clock is UTC.
    """
    wall = max(now_ms, Stamp.unpack(hlc).wall_ms)
    return (dt.datetime.fromtimestamp(wall / 1000, dt.UTC) + dt.timedelta(days=1)).date()


def _envelope(record: dict[str, Any], sender: str) -> RecordEnvelope:
    """The record's envelope, with every field's type checked; RecordInvalid if not."""
    errors: list[FieldError] = []
    for name in _TEXT_FIELDS:
        value = record.get(name)
        if not isinstance(value, str) or not value or len(value) > 200:
            errors.append(FieldError(name, "must be text of 1-200 characters"))
    for name in _OPTIONAL_TEXT:
        if not isinstance(record.get(name), str | None):
            errors.append(FieldError(name, "must be text or null"))
    for name, top in (("v", 1 << 31), ("hlc", 1 << 63)):
        value = record.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < top:
            errors.append(FieldError(name, "must be a non-negative whole number"))
    if not isinstance(record.get("data"), dict):
        errors.append(FieldError("data", "must be a map"))
    if record.get("status", "final") not in {str(s) for s in Status}:
        errors.append(FieldError("status", f"must be one of {', '.join(str(s) for s in Status)}"))
    changed = record.get("changed")
    if changed is not None and not (isinstance(changed, list) and all(isinstance(f, str) for f in changed)):
        errors.append(FieldError("changed", "must be a list of field names or null"))
    if not errors and record["author"] != sender:
        errors.append(FieldError("author", "is not the node whose feed carried the record"))
    if errors:
        raise RecordInvalid(errors, record_type=str(record.get("type", "")))
    return RecordEnvelope.from_dict(record)


def apply_record(
    tx: Writes,
    router: FeedRouter,
    record: dict[str, Any],
    *,
    sender: str,
    seq: int,
    received_ms: int,
    now_ms: int,
    new_id: Callable[[], str],
) -> tuple[str, str] | None:
    """Store one record and merge, link and route it; ``(reason, detail)`` if it must be held instead.

    Every check runs before the first write, so a held record leaves no trace
    but its held row.
    """
    try:
        env = _envelope(record, sender)
        body = schemas.validate(env.type, env.data, version=env.v, today=_today(now_ms, env.hlc))
        content = encode(record)
        stored = tx.record_content(env.id)
        if stored is not None:
            same_fact(decode(stored), record)
            return None  # already held here, byte for byte: nothing to do
    except schemas.VersionTooNew as exc:
        return "version-too-new", str(exc)
    except schemas.UnknownRecordType as exc:
        return "unknown-type", str(exc)
    except RecordInvalid as exc:
        return "invalid", str(exc)
    except ConflictingCopy as exc:
        return "conflicting-copy", str(exc)
    except TypeError as exc:  # a map with non-text keys cannot be stored canonically
        return "invalid", f"record cannot be encoded canonically: {exc}"
    tx.add_record(record, content, node_id=sender, seq=seq, now_ms=now_ms)
    registration = env.type == "resident" and env.id == env.resident_id
    tx.ensure_resident(env.resident_id, env.author, now_ms, home=registration)
    if schemas.record_type(env.type).kind is Kind.DEMOGRAPHIC:
        _merge_demographics(tx, env, body, received_ms=received_ms, now_ms=now_ms)
        _link_identity(tx, router, env.resident_id, now_ms=now_ms, new_id=new_id)
    router.record(record)
    return None


def _merge_demographics(
    tx: Writes, env: RecordEnvelope, body: dict[str, Any], *, received_ms: int, now_ms: int
) -> None:
    fields = schemas.fields_set(env.type, env.changed, env.data, body)
    stamp = clamp_stamp(env.hlc, received_ms, MAX_AHEAD_MS)
    for field in fields:
        incoming = FieldVersion(body.get(field), stamp, env.author, env.id, env.supersedes)
        state = tx.field_state(env.resident_id, field)
        merge = merge_field(state.version if state else None, incoming)
        if merge.changed:
            tx.supersede_field_history(env.resident_id, field, conflict=merge.conflict)
            tx.add_field_history(
                env.resident_id, field, incoming, outcome="current", conflict=merge.conflict, now_ms=now_ms
            )
            tx.set_field(env.resident_id, field, incoming, conflict=merge.conflict)
        elif merge.loser is incoming:
            tx.add_field_history(
                env.resident_id, field, incoming, outcome="lost", conflict=merge.conflict, now_ms=now_ms
            )
            if merge.conflict:
                tx.flag_conflict(env.resident_id, field)


def _link_identity(
    tx: Writes, router: FeedRouter, resident_id: str, *, now_ms: int, new_id: Callable[[], str]
) -> None:
    """Link the resident to the master person of its identity number, if valid, and tell the nodes."""
    if tx.resident_master(resident_id) is not None:
        return  # re-linking on a changed number is the master index's review, not ingest's
    state = tx.field_state(resident_id, "id_number")
    if state is None or not isinstance(state.version.value, str):
        return
    try:
        number = schemas.parse_id_number(state.version.value)
    except schemas.IdNumberError:
        return
    master = tx.master_by_number(number)
    if master is None:
        master = new_id()
        tx.add_master(master, number, now_ms)
    tx.link_resident(resident_id, master)
    members = tx.master_members(master)
    if len(members) < 2:
        return
    home = dict(members)[resident_id]
    for other, node in members:  # records first, so every link names residents the node holds
        if other != resident_id:
            router.backfill(node, resident_id)
            router.backfill(home, other)
    for member, node in members:
        router.link(node, link_item(member, master, [(r, n) for r, n in members if r != member]))
    log.info("master %s: %d residents linked on identity number", master, len(members))


def _record_at(frame: bytes, idx: int) -> dict[str, Any]:
    """Record ``idx`` of a stored (already verified) changeset frame."""
    body = decode(decode(frame)[0])
    record: dict[str, Any] = body["records"][idx]
    return record


def retry_held(store: HubStore, key: Ed25519PrivateKey) -> RetryReport:
    """Try every held record again (after an upgrade, at start-up); apply those whose cause is gone."""
    applied = 0
    for held in store.reads().held():
        with store.transaction() as tx:
            now = store.now_ms()
            stored = tx.changeset(held.node_id, held.seq)
            if stored is None:  # cannot happen: held rows are written with their changeset
                continue
            frame, received_ms = stored
            router = FeedRouter(tx, now_ms=now)
            problem = apply_record(
                tx,
                router,
                _record_at(frame, held.idx),
                sender=held.node_id,
                seq=held.seq,
                received_ms=received_ms,
                now_ms=now,
                new_id=store.new_id,
            )
            if problem is None:
                tx.resolve_held(held.id, now)
                router.seal(key)
                applied += 1
            elif problem != (held.reason, held.detail):
                tx.update_held(held.id, *problem)
    report = RetryReport(applied, store.reads().held())
    log.info("retry of held records: %d applied, %d still held", applied, len(report.still_held))
    return report
