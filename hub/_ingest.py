"""Ingest: take one changeset from a node's feed and apply it.

Rules:
1. Nothing a node sends is trusted before its frame is opened with the key
   that node enrolled (``sync.open_changeset`` with a lookup that refuses
   unknown and revoked nodes) and its place in the feed decided (``sync.decide``).
2. Accepting stores the exact frame, every record, every held record and
   every feed item it routes in one transaction, and the head advances with
   them. A duplicate stores nothing and is acknowledged again. A batch of
   frames is one transaction; signatures and record checks (schemas) run
   before it, outside the write lock.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import schemas
from schemas import FieldError, Kind, RecordEnvelope, RecordInvalid, Status
from sync import (
    ChainBroken,
    ConflictingCopy,
    FeedHead,
    FieldVersion,
    Fork,
    Malformed,
    PeerError,
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

__all__ = [
    "MAX_AHEAD_MS",
    "Applier",
    "BatchReceipt",
    "Checked",
    "OpenedBatch",
    "Receipt",
    "RetryReport",
    "apply_batch",
    "check_batch",
    "check_record",
    "checked_from_verdicts",
    "known_node",
    "open_batch",
    "receive",
    "receive_batch",
    "retry_held",
    "verdicts_of_bodies",
]

log = logging.getLogger("rhip.hub.ingest")

MAX_AHEAD_MS = 5 * 60_000  # demographic stamps count as at most this far past receipt
_SKEW_BOUND_MS = 1 << 52  # a stamp beyond this is nonsense; store the bound, not an overflow
_TEXT_FIELDS = ("id", "fact_id", "type", "resident_id", "author", "effective")
_OPTIONAL_TEXT = ("supersedes", "recorded_by", "reason")
_STATUSES = frozenset(str(s) for s in Status)


@dataclass(frozen=True)
class Receipt:
    """What the hub did with one changeset."""

    verdict: Verdict
    head: FeedHead
    held: list[HeldRecord]


@dataclass(frozen=True)
class BatchReceipt:
    """What the hub did with a push of several changesets: one receipt per frame it took, in order.

    ``stopped`` is the refusal of the first frame it did not take (the frames
    after it were not looked at); the node sends that frame again first and
    gets the refusal as an error.
    """

    receipts: list[Receipt]
    head: FeedHead
    pull_head: int  # the seq the node's hub feed ends at: nothing to pull when its cursor is there
    stopped: PeerError | None = None


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
    return receive_batch(store, [frame], node_id=node_id, key=key).receipts[0]


def receive_batch(
    store: HubStore, frames: list[bytes], *, node_id: str, key: Ed25519PrivateKey
) -> BatchReceipt:
    """Open, decide and apply consecutive frames of ``node_id``'s feed, in one transaction.

    Signatures are verified and records checked before the write lock is
    taken. A refusal of the first frame is raised as ``receive`` raises it;
    a refusal of a later one stops the batch there (``stopped``) and keeps
    what came before it. (The hub's API runs the same three steps with the
    record checks in worker processes: ``open_batch``, ``check_batch``, ``apply_batch``.)
    """
    batch = open_batch(store, frames, node_id=node_id)
    checked = check_batch(batch, now_ms=store.now_ms())
    return apply_batch(store, batch, checked, key=key)


@dataclass(frozen=True)
class OpenedBatch:
    """The frames of a push that verified, in order, and the refusal of the first that did not."""

    node_id: str
    opened: list[tuple[SealedChangeset, bytes]]
    stopped: PeerError | None


def open_batch(store: HubStore, frames: list[bytes], *, node_id: str) -> OpenedBatch:
    """Verify each frame with the key ``node_id`` enrolled; raises the refusal of the first frame."""

    def lookup(feed: str) -> bytes:
        if feed != node_id:
            raise Malformed(f"changeset of feed {feed} sent on the feed of node {node_id}")
        return known_node(store.reads(), feed).public_key

    opened: list[tuple[SealedChangeset, bytes]] = []
    for frame in frames:
        try:
            opened.append((open_changeset(frame, lookup), frame))
        except PeerError as exc:
            if not opened:
                raise
            return OpenedBatch(node_id, opened, exc)
    return OpenedBatch(node_id, opened, None)


def check_batch(batch: OpenedBatch, *, now_ms: int) -> list[list[Checked]]:
    """Check every record of every opened changeset (pure: no database, no lock)."""
    return [check_records(s.changeset.records, sender=batch.node_id, now_ms=now_ms) for s, _ in batch.opened]


def apply_batch(
    store: HubStore, batch: OpenedBatch, checked: list[list[Checked]], *, key: Ed25519PrivateKey
) -> BatchReceipt:
    """Decide and apply an opened, checked batch in one transaction (rule 2)."""
    node_id, stopped = batch.node_id, batch.stopped
    receipts: list[Receipt] = []
    fork: tuple[SealedChangeset, bytes, Fork] | None = None
    with store.transaction() as tx:
        now = store.now_ms()
        head = known_node(tx, node_id).head
        for (sealed, frame), items in zip(batch.opened, checked, strict=True):
            try:
                receipt = _accept(tx, store, sealed, frame, items, head=head, now_ms=now, key=key)
            except ChainBroken as exc:
                if not receipts:
                    raise
                stopped = exc
                break
            except Fork as exc:
                fork, stopped = (sealed, frame, exc), exc
                break
            receipts.append(receipt)
            head = receipt.head
        if receipts and receipts[-1].verdict is Verdict.DUPLICATE:
            tx.touch_node(node_id, now)
        pull_head = tx.hub_feed_head(node_id).seq
    if fork is not None:
        _quarantine(store, *fork)
        if not receipts:
            raise fork[2]
    return BatchReceipt(receipts, head, pull_head, stopped)


def _accept(
    tx: Writes,
    store: HubStore,
    sealed: SealedChangeset,
    frame: bytes,
    checked: list[Checked],
    *,
    head: FeedHead,
    now_ms: int,
    key: Ed25519PrivateKey,
) -> Receipt:
    cs = sealed.changeset
    verdict = decide(head, sealed, lambda seq: tx.changeset_hash(cs.feed, seq))
    if verdict is Verdict.DUPLICATE:
        return Receipt(verdict, head, tx.held(cs.feed, seq=cs.seq))
    skew = _skew_ms(sealed, now_ms)
    tx.add_changeset(
        cs.feed, cs.seq, sealed.hash, frame, records=len(cs.records), skew_ms=skew, now_ms=now_ms
    )
    apply = Applier(tx, sender=cs.feed, seq=cs.seq, received_ms=now_ms, now_ms=now_ms, new_id=store.new_id)
    held: list[HeldRecord] = []
    for idx, problem in apply.all(checked):
        held.append(
            tx.hold(
                cs.feed,
                cs.seq,
                idx,
                record_id=_record_id(checked[idx].record),
                reason=problem[0],
                detail=problem[1],
                now_ms=now_ms,
            )
        )
    routed = apply.router.seal(key)
    new_head = head.advance(sealed)
    tx.set_head(new_head, skew_ms=skew, now_ms=now_ms)
    log.info(
        "feed %s: accepted changeset %d (%d records, %d held, %d feed changesets routed, skew %d s)",
        cs.feed,
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
        if type(value) is not str or not value or len(value) > 200:
            errors.append(FieldError(name, "must be text of 1-200 characters"))
    for name in _OPTIONAL_TEXT:
        value = record.get(name)
        if value is not None and type(value) is not str:
            errors.append(FieldError(name, "must be text or null"))
    for name, top in (("v", 1 << 31), ("hlc", 1 << 63)):
        value = record.get(name)
        if type(value) is not int or not 0 <= value < top:
            errors.append(FieldError(name, "must be a non-negative whole number"))
    if type(record.get("data")) is not dict:
        errors.append(FieldError("data", "must be a map"))
    if record.get("status", "final") not in _STATUSES:
        errors.append(FieldError("status", f"must be one of {', '.join(sorted(_STATUSES))}"))
    changed = record.get("changed")
    if changed is not None and not (isinstance(changed, list) and all(type(f) is str for f in changed)):
        errors.append(FieldError("changed", "must be a list of field names or null"))
    if not errors and record["author"] != sender:
        errors.append(FieldError("author", "is not the node whose feed carried the record"))
    if errors:
        raise RecordInvalid(errors, record_type=str(record.get("type", "")))
    return RecordEnvelope.from_dict(record)


@dataclass(frozen=True)
class Checked:
    """One record after the checks that need no database (see ``check_record``)."""

    record: dict[str, Any]
    content: bytes  # its canonical bytes, as stored
    env: RecordEnvelope | None  # None when held
    body: dict[str, Any] | None  # the normalised body of a demographic record (merged per field)
    problem: tuple[str, str] | None  # (reason, detail) when it must be held


def check_record(record: dict[str, Any], *, sender: str, now_ms: int) -> Checked:
    """Check one record against the envelope rules and its schema; pure, so it runs before any lock.

    A record that fails is held, never dropped: ``problem`` says why.
    """
    problem, body = _verdict(record, sender=sender, now_ms=now_ms)
    return _checked(record, problem, body)


def _verdict(
    record: dict[str, Any], *, sender: str, now_ms: int
) -> tuple[tuple[str, str] | None, dict[str, Any] | None]:
    """``(problem, body)``: why the record must be held, or its normalised body if it is demographic."""
    try:
        env = _envelope(record, sender)
        body = schemas.validate(env.type, env.data, version=env.v, today=_today(now_ms, env.hlc))
    except schemas.VersionTooNew as exc:
        return ("version-too-new", str(exc)), None
    except schemas.UnknownRecordType as exc:
        return ("unknown-type", str(exc)), None
    except RecordInvalid as exc:
        return ("invalid", str(exc)), None
    try:
        encode(record)
    except TypeError as exc:  # a map with non-text keys cannot be stored canonically
        return ("invalid", f"record cannot be encoded canonically: {exc}"), None
    demographic = schemas.record_type(env.type).kind is Kind.DEMOGRAPHIC
    return None, (body if demographic else None)


def _checked(record: dict[str, Any], problem: tuple[str, str] | None, body: dict[str, Any] | None) -> Checked:
    if problem is not None:
        return Checked(record, b"", None, None, problem)
    return Checked(record, encode(record), RecordEnvelope.from_dict(record), body, None)


def check_records(records: Sequence[dict[str, Any]], *, sender: str, now_ms: int) -> list[Checked]:
    return [check_record(r, sender=sender, now_ms=now_ms) for r in records]


Verdicts = list[tuple[tuple[str, str] | None, dict[str, Any] | None]]


def verdicts_of_bodies(bodies: list[bytes], sender: str, now_ms: int) -> list[Verdicts]:
    """``_verdict`` of every record of each (verified) changeset body: what a check worker runs.

    Only the verdicts travel back (a problem, or a demographic body): the
    records themselves stay in the process that verified them.
    """
    out: list[Verdicts] = []
    for body in bodies:
        records = decode(body)["records"]
        out.append([_verdict(r, sender=sender, now_ms=now_ms) for r in records])
    return out


def checked_from_verdicts(batch: OpenedBatch, verdicts: list[Verdicts]) -> list[list[Checked]]:
    """Join a worker's verdicts with the opened changesets' records."""
    if len(verdicts) != len(batch.opened):
        raise RuntimeError("the check worker answered for a different number of changesets")
    out: list[list[Checked]] = []
    for (sealed, _), per_record in zip(batch.opened, verdicts, strict=True):
        records = sealed.changeset.records
        if len(per_record) != len(records):
            raise RuntimeError("the check worker answered for a different number of records")
        out.append([_checked(r, p, b) for r, (p, b) in zip(records, per_record, strict=True)])
    return out


class Applier:
    """Stores the checked records of one changeset: immutability, demographics, identity links, routing.

    Records are inserted together at the end, and before anything reads them
    back (a link's backfill); what each needs to know of the store — copies
    already held — is read once per changeset, not once per record.
    """

    def __init__(
        self,
        tx: Writes,
        *,
        sender: str,
        seq: int,
        received_ms: int,
        now_ms: int,
        new_id: Callable[[], str],
    ) -> None:
        self.tx = tx
        self.sender = sender
        self.seq = seq
        self.received_ms = received_ms
        self.now_ms = now_ms
        self.new_id = new_id
        self.router = FeedRouter(tx, now_ms=now_ms)
        self._pending: list[tuple[dict[str, Any], bytes]] = []
        self._stored: dict[str, bytes] = {}
        self._residents: set[str] = set()

    def all(self, checked: list[Checked]) -> list[tuple[int, tuple[str, str]]]:
        """Apply every record of the changeset; ``(index, (reason, detail))`` of those held."""
        self._stored = self.tx.record_contents([c.env.id for c in checked if c.env is not None])
        held = []
        for idx, item in enumerate(checked):
            problem = self._apply(item, self._stored.get)
            if problem is not None:
                held.append((idx, problem))
        self.flush()
        return held

    def one(self, item: Checked) -> tuple[str, str] | None:
        """Apply one checked record (a held one, retried); ``(reason, detail)`` if it is held still."""
        problem = self._apply(item, self.tx.record_content)
        self.flush()
        return problem

    def _apply(self, item: Checked, stored_copy: Callable[[str], bytes | None]) -> tuple[str, str] | None:
        env = item.env
        if item.problem is not None or env is None:
            return item.problem or ("invalid", "record was not checked")
        stored = stored_copy(env.id)
        if stored is not None:
            try:
                same_fact(decode(stored), item.record)
            except ConflictingCopy as exc:
                return "conflicting-copy", str(exc)
            return None  # already held here, byte for byte: nothing to do
        # Every check is done: from here on the record is stored.
        self._pending.append((item.record, item.content))
        self._stored[env.id] = item.content
        registration = env.type == "resident" and env.id == env.resident_id
        if registration or env.resident_id not in self._residents:
            self.tx.ensure_resident(env.resident_id, env.author, self.now_ms, home=registration)
            self._residents.add(env.resident_id)
            self.router.links_changed()
        if item.body is not None:
            _merge_demographics(self.tx, env, item.body, received_ms=self.received_ms, now_ms=self.now_ms)
            if self.tx.resident_master(env.resident_id) is None:
                self.flush()  # a link backfills other nodes from the records table
                _link_identity(self.tx, self.router, env.resident_id, now_ms=self.now_ms, new_id=self.new_id)
                self.router.links_changed()
        self.router.record(item.record)
        return None

    def flush(self) -> None:
        if self._pending:
            self.tx.add_records(self._pending, node_id=self.sender, seq=self.seq, now_ms=self.now_ms)
            self._pending = []


def _merge_demographics(
    tx: Writes, env: RecordEnvelope, body: dict[str, Any], *, received_ms: int, now_ms: int
) -> None:
    fields = schemas.fields_set(env.type, env.changed, env.data, body)
    stamp = clamp_stamp(env.hlc, received_ms, MAX_AHEAD_MS)
    states = tx.field_states(env.resident_id)
    for field in fields:
        incoming = FieldVersion(body.get(field), stamp, env.author, env.id, env.supersedes)
        state = states.get(field)
        merge = merge_field(state.version if state else None, incoming)
        if merge.changed:
            if state is not None:
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
            apply = Applier(
                tx,
                sender=held.node_id,
                seq=held.seq,
                received_ms=received_ms,
                now_ms=now,
                new_id=store.new_id,
            )
            record = _record_at(frame, held.idx)
            problem = apply.one(check_record(record, sender=held.node_id, now_ms=now))
            if problem is None:
                tx.resolve_held(held.id, now)
                apply.router.seal(key)
                applied += 1
            elif problem != (held.reason, held.detail):
                tx.update_held(held.id, *problem)
    report = RetryReport(applied, store.reads().held())
    log.info("retry of held records: %d applied, %d still held", applied, len(report.still_held))
    return report
