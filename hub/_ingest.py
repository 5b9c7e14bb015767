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
   A registration whose demographics changed is queued for the master index
   (``mpi_queue``) in the same transaction; ``_linker`` matches it after, so
   matching never holds up a clinic's upload.
7. A referral (``to_clinic``) or a consultation (``consulting_clinic``) makes
   that clinic's nodes holders of the resident's shared record, so what they
   write back (a response, a referral back, an answer) reaches the resident's
   other holders like any record about the resident. A consent sends the
   sensitive records held back until then (``_feeds``, ``_privacy``).
8. Skew is measured and stored, never a reason to refuse.
9. Logs carry node ids, seqs, counts and reasons, never record contents.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec
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
    "CheckedRecords",
    "OpenedBatch",
    "Receipt",
    "RetryReport",
    "apply_batch",
    "check_record",
    "known_node",
    "open_and_check",
    "retry_held",
]

log = logging.getLogger("rhip.hub.ingest")

MAX_AHEAD_MS = 5 * 60_000  # demographic stamps count as at most this far past receipt
_SKEW_BOUND_MS = 1 << 52  # a stamp beyond this is nonsense; store the bound, not an overflow
_TEXT_FIELDS = ("id", "fact_id", "type", "resident_id", "author", "effective")
_OPTIONAL_TEXT = ("supersedes", "recorded_by", "reason")
_STATUSES = frozenset(str(s) for s in Status)
# Record types that make a clinic hold the resident (rule 7): the field naming that clinic.
_RECEIVING_CLINIC = {"referral": "to_clinic", "consultation": "consulting_clinic"}


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


@dataclass(frozen=True, slots=True)
class Checked:
    """One record of a verified changeset after every check that needs no database.

    ``row`` is ``(id, fact_id, type, v, resident_id, author, hlc)`` and
    ``content`` its canonical bytes, for a record that applies; ``problem``
    is ``(reason, detail)`` for one that must be held. A demographic record
    also carries itself and its normalised body (merged per field).
    """

    row: tuple[str, str, str, int, str, str, int] | None
    content: bytes
    problem: tuple[str, str] | None = None
    record_id: str | None = None
    demographic: dict[str, Any] | None = None
    body: dict[str, Any] | None = None


Row = list[Any]  # [id, fact_id, type, v, resident_id, author, hlc, content]: a record to store


class CheckedRecords:
    """The checked records of one changeset, in order, as they cross from a worker process.

    ``rows[i]`` is record i ready to store, or None if it is held;
    ``special[i]`` is the ``Checked`` of a held or demographic record (its
    problem, or itself and its body to merge).

    Pickled compactly: the rows as one msgpack blob, without the records'
    bytes when they are a span of the changeset body (as a node's canonical
    encoding makes them) — the receiving process has the body and puts them
    back (``attach``). So the server process never builds an object per
    record it only has to store, nor receives its bytes twice.
    """

    __slots__ = ("rows", "spans", "special")

    def __init__(
        self, rows: list[Row | None], special: dict[int, Checked], spans: list[list[int] | None] | None = None
    ) -> None:
        self.rows = rows
        self.special = special
        self.spans = spans

    @classmethod
    def of(cls, checked: Sequence[Checked], body: bytes = b"") -> CheckedRecords:
        rows: list[Row | None] = []
        spans: list[list[int] | None] = []
        special: dict[int, Checked] = {}
        cursor = 0
        for idx, c in enumerate(checked):
            rows.append(None if c.row is None else [*c.row, c.content])
            start = body.find(c.content, cursor) if c.row is not None and body else -1
            spans.append(None if start < 0 else [start, start + len(c.content)])
            cursor = cursor if start < 0 else start + len(c.content)
            if c.problem is not None or c.demographic is not None:
                special[idx] = Checked(None, b"", c.problem, c.record_id, c.demographic, c.body)
        return cls(rows, special, spans)

    def attach(self, body: bytes) -> CheckedRecords:
        """Put back the bytes of records that crossed as spans of ``body``."""
        if self.spans is not None:
            for row, span in zip(self.rows, self.spans, strict=True):
                if row is not None and span is not None:
                    row[7] = body[span[0] : span[1]]
            self.spans = None
        return self

    def __len__(self) -> int:
        return len(self.rows)

    def record_id(self, idx: int) -> str | None:
        row = self.rows[idx]
        if row is not None:
            return str(row[0])
        special = self.special.get(idx)
        return special.record_id if special else None

    def __reduce__(self) -> tuple[Any, ...]:
        spans = self.spans or [None] * len(self.rows)
        rows = [
            row if row is None or span is None else [*row[:7], None]
            for row, span in zip(self.rows, spans, strict=True)
        ]
        return (_checked_records, (encode(rows), encode(self.spans), self.special))


def _checked_records(blob: bytes, spans: bytes, special: dict[int, Checked]) -> CheckedRecords:
    return CheckedRecords(_ROWS.decode(blob), special, _SPANS.decode(spans))


_SPANS = msgspec.msgpack.Decoder(list[list[int] | None] | None)
_ROWS = msgspec.msgpack.Decoder(list[list[Any] | None])


@dataclass(frozen=True)
class OpenedBatch:
    """A push after the pure steps: each frame that verified with its checked records, in order,
    and the refusal of the first frame that did not."""

    node_id: str
    opened: list[tuple[SealedChangeset, bytes, CheckedRecords]]
    stopped: PeerError | None


def open_and_check(frames: list[bytes], *, public_key: bytes, node_id: str, now_ms: int) -> OpenedBatch:
    """Verify each frame with ``node_id``'s key and check its records; raises the refusal of the first.

    Pure (no database, no clock): it runs in worker processes. The
    changesets it returns carry no records (their bytes are in the frames);
    the records travel as ``CheckedRecords``.
    """
    opened: list[tuple[SealedChangeset, bytes, CheckedRecords]] = []
    for frame in frames:
        try:
            sealed = open_changeset(frame, _feed_key(node_id, public_key))
        except PeerError as exc:
            if not opened:
                raise
            return OpenedBatch(node_id, opened, exc)
        cs = sealed.changeset
        checked = CheckedRecords.of(
            [check_record(r, sender=node_id, now_ms=now_ms) for r in cs.records], sealed.body
        )
        light = SealedChangeset(replace(cs, records=()), sealed.body, sealed.signature)
        opened.append((light, frame, checked))
    return OpenedBatch(node_id, opened, None)


def _feed_key(node_id: str, public_key: bytes) -> Callable[[str], bytes]:
    def lookup(feed: str) -> bytes:
        if feed != node_id:
            raise Malformed(f"changeset of feed {feed} sent on the feed of node {node_id}")
        return public_key

    return lookup


def apply_batch(store: HubStore, batch: OpenedBatch, *, key: Ed25519PrivateKey) -> BatchReceipt:
    """Decide and apply an opened, checked batch in one transaction (rule 2).

    A refusal of the batch's first frame is raised (ChainBroken, or Fork after
    quarantining it); a refusal of a later one stops the batch there
    (``stopped``) and keeps what came before it. The batch comes from
    ``open_and_check``, which the API runs in worker processes (``hub._checks``).
    """
    node_id, stopped = batch.node_id, batch.stopped
    receipts: list[Receipt] = []
    fork: tuple[SealedChangeset, bytes, Fork] | None = None
    with store.transaction() as tx:
        now = store.now_ms()
        head = known_node(tx, node_id).head
        for sealed, frame, checked in batch.opened:
            try:
                receipt = _accept(tx, store, sealed, frame, checked, head=head, now_ms=now, key=key)
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
    checked: CheckedRecords,
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
    tx.add_changeset(cs.feed, cs.seq, sealed.hash, frame, records=len(checked), skew_ms=skew, now_ms=now_ms)
    apply = Applier(tx, sender=cs.feed, seq=cs.seq, received_ms=now_ms, now_ms=now_ms, new_id=store.new_id)
    held: list[HeldRecord] = []
    for idx, problem in apply.all(checked):
        held.append(
            tx.hold(
                cs.feed,
                cs.seq,
                idx,
                record_id=checked.record_id(idx),
                reason=problem[0],
                detail=problem[1],
                now_ms=now_ms,
            )
        )
    routed = apply.router.seal(key)
    new_head = head.advance(sealed)
    tx.set_head(new_head, skew_ms=skew, now_ms=now_ms)
    log.debug(
        "feed %s: accepted changeset %d (%d records, %d held, %d feed changesets routed, skew %d s)",
        cs.feed,
        cs.seq,
        len(checked),
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
    return _day_after(max(now_ms, Stamp.unpack(hlc).wall_ms) // _DAY_MS)


_DAY_MS = 86_400_000


@functools.lru_cache(maxsize=64)
def _day_after(day: int) -> dt.date:
    """The UTC calendar date after day number ``day`` since 1970 (a record's ``today``, cached)."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=day + 1)


def _envelope(record: dict[str, Any], sender: str) -> None:
    """Check the type of every envelope field of the record; RecordInvalid if one is wrong."""
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


def check_record(record: dict[str, Any], *, sender: str, now_ms: int) -> Checked:
    """Check one record against the envelope rules and its schema; pure, so it runs before any lock.

    A record that fails is held, never dropped: ``problem`` says why.
    """
    try:
        _envelope(record, sender)
        kind, v, hlc = record["type"], record["v"], record["hlc"]
        today = _today(now_ms, hlc)
        demographic = schemas.record_type(kind).kind is Kind.DEMOGRAPHIC
        body = None
        if demographic:  # merged per field: its normalised body is needed
            body = schemas.validate(kind, record["data"], version=v, today=today)
        else:
            schemas.check(kind, record["data"], version=v, today=today)
        content = encode(record)
    except schemas.VersionTooNew as exc:
        return Checked(None, b"", ("version-too-new", str(exc)), _record_id(record))
    except schemas.UnknownRecordType as exc:
        return Checked(None, b"", ("unknown-type", str(exc)), _record_id(record))
    except RecordInvalid as exc:
        return Checked(None, b"", ("invalid", str(exc)), _record_id(record))
    except TypeError as exc:  # a map with non-text keys cannot be stored canonically
        return Checked(
            None, b"", ("invalid", f"record cannot be encoded canonically: {exc}"), _record_id(record)
        )
    rid = record["id"]
    row = (rid, record["fact_id"], kind, v, record["resident_id"], record["author"], hlc)
    if demographic:
        return Checked(row, content, record_id=rid, demographic=record, body=body)
    return Checked(row, content, record_id=rid)


class Applier:
    """Stores the checked records of one changeset: immutability, demographics, the master index,
    referrals, consents, routing.

    Records are inserted together at the end, and before anything reads them
    back (a link's backfill); copies already held are looked up once per
    changeset, not once per record.
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
        self._pending: list[Row] = []
        self._stored: dict[str, bytes] = {}
        self._residents: set[str] = set()

    def all(self, checked: CheckedRecords) -> list[tuple[int, tuple[str, str]]]:
        """Apply every record of the changeset; ``(index, (reason, detail))`` of those held."""
        self._stored = self.tx.record_contents([row[0] for row in checked.rows if row is not None])
        held = []
        for idx, row in enumerate(checked.rows):
            problem = self._apply(row, checked.special.get(idx), self._stored.get)
            if problem is not None:
                held.append((idx, problem))
        self.flush()
        return held

    def one(self, item: Checked) -> tuple[str, str] | None:
        """Apply one checked record (a held one, retried); ``(reason, detail)`` if it is held still."""
        row = None if item.row is None else [*item.row, item.content]
        problem = self._apply(row, item, self.tx.record_content)
        self.flush()
        return problem

    def _apply(
        self, row: Row | None, special: Checked | None, stored_copy: Callable[[str], bytes | None]
    ) -> tuple[str, str] | None:
        if row is None:
            return special.problem if special and special.problem else ("invalid", "record was not checked")
        rid, _, type_, _, resident_id, author, hlc, content = row
        stored = stored_copy(rid)
        if stored is not None:
            if stored != content:
                try:
                    same_fact(decode(stored), decode(content))
                except ConflictingCopy as exc:
                    return "conflicting-copy", str(exc)
            return None  # already held here: nothing to do
        # Every check is done: from here on the record is stored.
        self._pending.append(row)
        self._stored[rid] = content
        registration = type_ == "resident" and rid == resident_id
        if registration or resident_id not in self._residents:
            self.tx.ensure_resident(resident_id, author, self.now_ms, home=registration)
            self._residents.add(resident_id)
            self.router.links_changed()
        if special is not None and special.demographic is not None and special.body is not None:
            env = RecordEnvelope.from_dict(special.demographic)
            _merge_demographics(self.tx, env, special.body, received_ms=self.received_ms, now_ms=self.now_ms)
            self.tx.queue_registration(resident_id, self.now_ms)  # matched by hub._linker
        elif type_ in _RECEIVING_CLINIC:
            self._referral(rid, resident_id, author, content, field=_RECEIVING_CLINIC[type_])
        elif type_ == "consent":
            self._consent(resident_id)
        self.router.record(rid, resident_id, author, hlc, content)
        return None

    def _referral(self, record_id: str, resident_id: str, author: str, content: bytes, *, field: str) -> None:
        """A referral or consultation makes the receiving clinic's nodes hold the resident's shared record."""
        data = decode(content).get("data")
        clinic = data.get(field) if isinstance(data, dict) else None
        if not isinstance(clinic, str):
            return
        nodes = [n.node_id for n in self.tx.nodes(clinic=clinic) if not n.revoked and n.node_id != author]
        fresh = [n for n in nodes if self.tx.add_referral(resident_id, n, record_id, self.now_ms)]
        if not fresh:
            return
        self.flush()  # the backfill reads the records table
        self.router.links_changed()
        master = self.tx.resident_master(resident_id)
        members = self.tx.master_members(master) if master else []
        for node in fresh:
            for member in [r for r, _ in members] or [resident_id]:
                self.router.backfill(node, member)
            others = [m for m in members if m[0] != resident_id]
            if master is not None and others:
                self.router.link(node, link_item(resident_id, master, others))
        log.info("%s: %d node(s) now hold a referred resident's record", field, len(fresh))

    def _consent(self, resident_id: str) -> None:
        """A consent: the holders get the sensitive records held back until now (if it permits)."""
        self.flush()
        self.router.links_changed()
        if not self.router.consents(resident_id):
            return
        master = self.tx.resident_master(resident_id)
        members = [r for r, _ in self.tx.master_members(master)] if master else [resident_id]
        for node in sorted(self.tx.holder_nodes(members)):
            for member in members:
                self.router.backfill(node, member)

    def flush(self) -> None:
        if self._pending:
            self.tx.add_records(self._pending, node_id=self.sender, seq=self.seq, now_ms=self.now_ms)
            self._pending = []


def _merge_demographics(
    tx: Writes, env: RecordEnvelope, body: dict[str, Any], *, received_ms: int, now_ms: int
) -> dict[str, Any]:
    """Merge a demographic record field by field; returns the resident's current value of every field."""
    fields = schemas.fields_set(env.type, env.changed, env.data, body)
    stamp = clamp_stamp(env.hlc, received_ms, MAX_AHEAD_MS)
    states = tx.field_states(env.resident_id)
    history: list[tuple[str, FieldVersion, str, bool]] = []
    current: list[tuple[str, FieldVersion, bool]] = []
    for field in fields:
        incoming = FieldVersion(body.get(field), stamp, env.author, env.id, env.supersedes)
        state = states.get(field)
        merge = merge_field(state.version if state else None, incoming)
        if merge.changed:
            if state is not None:
                tx.supersede_field_history(env.resident_id, field, conflict=merge.conflict)
            history.append((field, incoming, "current", merge.conflict))
            current.append((field, incoming, merge.conflict))
        elif merge.loser is incoming:
            history.append((field, incoming, "lost", merge.conflict))
            if merge.conflict:
                tx.flag_conflict(env.resident_id, field)
    tx.add_field_history(env.resident_id, history, now_ms=now_ms)
    tx.set_fields(env.resident_id, current)
    merged = {field: state.version.value for field, state in states.items()}
    merged.update((field, version.value) for field, version, _ in current)
    return merged


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
