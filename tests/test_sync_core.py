"""The pure sync core, byte for byte: encoding, compression, signed changesets, feed acceptance,
signed heads and requests, clocks and merge rules.

Nothing here touches a disk or a socket. The two-party test joins a writer and a receiver by a
fake link (the only fake: the transport seam) that drops, duplicates, reorders and replays frames.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import tracemalloc
import zlib
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import sync
from sync import (
    COUNTER_BITS,
    MAX_BODY_BYTES,
    MAX_FRAME_BYTES,
    ZERO_HASH,
    BadSignature,
    ChainBroken,
    Changeset,
    ClockDrift,
    ClockSkew,
    ConflictingCopy,
    FeedHead,
    FieldVersion,
    Fork,
    HybridClock,
    LocalError,
    Malformed,
    PeerError,
    SealedChangeset,
    Stamp,
    SyncError,
    Verdict,
)

FAST = settings(max_examples=60, deadline=None)
COUNTER_MAX = (1 << COUNTER_BITS) - 1
INT64 = st.integers(-(2**63), 2**63 - 1)


def fixed_key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


FEED = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
WRITER = fixed_key(1)
FORGER = fixed_key(2)
RECEIVER = fixed_key(3)
WRITER_PUB = sync.public_bytes(WRITER)
FORGER_PUB = sync.public_bytes(FORGER)
RECEIVER_PUB = sync.public_bytes(RECEIVER)


class UnknownFeed(Exception):
    """What a receiver's key lookup raises for a feed it has never enrolled."""


def key_of(feed: str) -> bytes:
    if feed != FEED:
        raise UnknownFeed(feed)
    return WRITER_PUB


def record(n: int, pad: int = 0) -> dict[str, Any]:
    return {
        "id": f"rec-{n:06d}",
        "author": FEED,
        "hlc": Stamp(1_700_000_000_000 + n).pack(),
        "v": 1,
        "data": {"note": "x" * pad, "n": n},
    }


def build_chain(n: int, *, key: Ed25519PrivateKey = WRITER, feed: str = FEED) -> list[SealedChangeset]:
    out: list[SealedChangeset] = []
    prev = ZERO_HASH
    for seq in range(1, n + 1):
        stamp = Stamp(1_700_000_000_000 + seq).pack()
        sealed = sync.seal(Changeset(feed, seq, prev, stamp, stamp, 1, (record(seq),)), key)
        out.append(sealed)
        prev = sealed.hash
    return out


def flip(data: bytes, pos: int, mask: int = 0xFF) -> bytes:
    return data[:pos] + bytes([data[pos] ^ mask]) + data[pos + 1 :]


def identical(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (so True is not 1 and -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return struct.pack(">d", a) == struct.pack(">d", b)
    return bool(a == b)


SCALARS = (
    st.none()
    | st.booleans()
    | INT64
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
VALUES = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
    max_leaves=25,
)


# --- errors -----------------------------------------------------------------------------------


def test_error_tree_and_reasons_match_the_wire_contract() -> None:
    for exc in (Malformed, BadSignature, ChainBroken, Fork, ClockSkew, ConflictingCopy):
        assert issubclass(exc, PeerError)
        assert issubclass(exc, SyncError)
    assert issubclass(LocalError, SyncError)
    assert not issubclass(LocalError, PeerError)
    # docs/sync.md: the hub answers with these reasons.
    assert Malformed.reason == "malformed"
    assert BadSignature.reason == "bad-signature"
    assert ChainBroken.reason == "chain-broken"
    assert Fork.reason == "fork"


# --- canonical encoding -----------------------------------------------------------------------


def shuffled(value: Any, rnd: Any) -> Any:
    """The same value with every map's insertion order shuffled."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rnd) for v in value]
    return value


@FAST
@given(VALUES, st.randoms(use_true_random=False))
def test_encode_is_canonical_whatever_the_key_order(value: Any, rnd: Any) -> None:
    assert sync.encode(shuffled(value, rnd)) == sync.encode(value)


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_decode_inverts_encode(value: Any) -> None:
    assert identical(sync.decode(sync.encode(value)), value)


def test_encode_sorts_keys_and_keeps_bytes_apart_from_text() -> None:
    assert sync.encode({"b": 1, "a": 2}) == sync.encode({"a": 2, "b": 1})
    assert sync.decode(sync.encode({"b": b"x", "a": "x"})) == {"a": "x", "b": b"x"}
    assert list(sync.decode(sync.encode({"b": 1, "a": 2}))) == ["a", "b"]
    assert sync.decode(sync.encode((1, (2, 3)))) == [1, [2, 3]]


def test_decode_refuses_non_text_keys() -> None:
    import msgpack

    with pytest.raises(Malformed):
        sync.decode(msgpack.packb({1: "one"}))


@FAST
@given(VALUES, st.data())
def test_decode_refuses_every_truncation(value: Any, data: st.DataObject) -> None:
    frame = sync.encode(value)
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(Malformed):
        sync.decode(frame[:cut])


@FAST
@given(VALUES, st.binary(min_size=1, max_size=10))
def test_decode_refuses_trailing_bytes(value: Any, extra: bytes) -> None:
    with pytest.raises(Malformed):
        sync.decode(sync.encode(value) + extra)


def test_decode_bounds_the_frame_size() -> None:
    # bin32: a 5-byte header then the payload, so this frame is exactly the limit.
    at_limit = sync.encode(bytes(MAX_FRAME_BYTES - 5))
    assert len(at_limit) == MAX_FRAME_BYTES
    assert sync.decode(at_limit) == bytes(MAX_FRAME_BYTES - 5)
    with pytest.raises(Malformed, match="exceeds"):
        sync.decode(sync.encode(bytes(MAX_FRAME_BYTES - 4)))


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xc1",  # the one byte msgpack never uses
        b"\x91" * 5000 + b"\xc0",  # nesting deeper than any real frame
        b"\xdd\xff\xff\xff\xff",  # an array claiming 4 billion items
        b"\xdf\x00\x01\x00\x00",  # a map over the item limit
        b"\xd4\x01\x00",  # an extension type
        b"\xd6\xff\x00\x00\x00\x00",  # a timestamp extension
        b"\x81\x91\x01\x01",  # a list as a map key
        b"\xa2\xff\xfe",  # text that is not UTF-8
        b"\xc6\x7f\xff\xff\xff",  # a 2 GB bin header with nothing after it
    ],
)
def test_decode_refuses_hostile_frames(frame: bytes) -> None:
    with pytest.raises(Malformed):
        sync.decode(frame)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_decode_of_garbage_returns_or_raises_malformed(data: bytes) -> None:
    with contextlib.suppress(Malformed):
        sync.decode(data)


# --- bounded decompression --------------------------------------------------------------------


def zlib_bomb(size: int) -> bytes:
    """``size`` zero bytes, deflated, built without ever holding them all."""
    deflater = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [deflater.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(deflater.flush())
    return b"".join(parts)


def test_decompress_refuses_a_bomb_without_inflating_it() -> None:
    bomb = zlib_bomb(50_000_000)
    assert len(bomb) < MAX_BODY_BYTES  # so the inflation bound, not the input bound, must catch it
    tracemalloc.start()
    try:
        with pytest.raises(Malformed, match="inflates past"):
            sync.decompress(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_FRAME_BYTES, f"decompress held {peak} bytes for a 50 MB bomb"


@FAST
@given(st.binary(max_size=4096))
def test_decompress_inverts_compress(data: bytes) -> None:
    assert sync.decompress(sync.compress(data)) == data


@FAST
@given(st.binary(max_size=300), st.integers(1, 300))
def test_decompress_limit_is_exact(data: bytes, limit: int) -> None:
    body = sync.compress(data)
    if len(data) <= limit:
        assert sync.decompress(body, limit=limit) == data
    else:
        with pytest.raises(Malformed):
            sync.decompress(body, limit=limit)


def test_decompress_limit_zero_allows_only_an_empty_body() -> None:
    assert sync.decompress(sync.compress(b""), limit=0) == b""
    with pytest.raises(Malformed):
        sync.decompress(zlib_bomb(5 << 20), limit=0)


@FAST
@given(st.binary(min_size=1, max_size=2000), st.data())
def test_decompress_refuses_truncated_streams(data: bytes, draw: st.DataObject) -> None:
    body = sync.compress(data)
    cut = draw.draw(st.integers(0, len(body) - 1))
    with pytest.raises(Malformed):
        sync.decompress(body[:cut])


@FAST
@given(st.binary(max_size=500), st.binary(min_size=1, max_size=20))
def test_decompress_refuses_trailing_garbage(data: bytes, extra: bytes) -> None:
    with pytest.raises(Malformed, match="after its zlib stream"):
        sync.decompress(sync.compress(data) + extra)


@pytest.mark.parametrize("body", [b"not zlib at all", b"\x1f\x8b\x08\x00gzip", bytes(16), b"x\x9c\xff\xff"])
def test_decompress_refuses_non_zlib(body: bytes) -> None:
    with pytest.raises(Malformed):
        sync.decompress(body)


def test_decompress_refuses_an_oversize_body_before_reading_it() -> None:
    with pytest.raises(Malformed, match="exceeds"):
        sync.decompress(bytes(MAX_BODY_BYTES + 1))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decompress_of_garbage_returns_or_raises_malformed(data: bytes) -> None:
    with contextlib.suppress(Malformed):
        sync.decompress(data)


# --- seal and open ----------------------------------------------------------------------------

SAMPLE = sync.seal(
    Changeset(
        FEED, 7, bytes(range(32)), Stamp(1000, 1).pack(), Stamp(2000).pack(), 3, (record(1), record(2))
    ),
    WRITER,
)


def test_sealed_changeset_opens_with_the_writers_key() -> None:
    for lookup in (WRITER_PUB, key_of):
        opened = sync.open_changeset(SAMPLE.frame, lookup)
        assert opened == SAMPLE
        assert opened.hash == SAMPLE.hash
    assert sync.decode(SAMPLE.body)["proto"] == sync.PROTOCOL


def test_sealing_is_deterministic() -> None:
    again = sync.seal(SAMPLE.changeset, WRITER)
    assert again.frame == SAMPLE.frame  # Ed25519 is deterministic: a re-send is byte-identical


def test_open_refuses_another_key() -> None:
    with pytest.raises(BadSignature):
        sync.open_changeset(SAMPLE.frame, FORGER_PUB)
    forged = sync.seal(SAMPLE.changeset, FORGER)
    with pytest.raises(BadSignature):
        sync.open_changeset(forged.frame, key_of)


def test_open_lets_the_key_lookup_refuse_an_unknown_feed() -> None:
    stranger = sync.seal(Changeset("someone-else", 1, ZERO_HASH, 1, 1, 1, ()), FORGER)
    with pytest.raises(UnknownFeed):
        sync.open_changeset(stranger.frame, key_of)


def test_open_refuses_a_malformed_public_key() -> None:
    with pytest.raises(Malformed):
        sync.open_changeset(SAMPLE.frame, WRITER_PUB[:31])


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_flipping_any_byte_is_refused(mask: int) -> None:
    frame = SAMPLE.frame
    for pos in range(len(frame)):
        with pytest.raises((BadSignature, Malformed)):
            sync.open_changeset(flip(frame, pos, mask), WRITER_PUB)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAMPLE.frame) - 1), st.integers(1, 255))
def test_flipping_a_byte_with_any_mask_is_refused(pos: int, mask: int) -> None:
    with pytest.raises((BadSignature, Malformed)):
        sync.open_changeset(flip(SAMPLE.frame, pos, mask), WRITER_PUB)


def test_truncating_or_extending_a_frame_is_refused() -> None:
    frame = SAMPLE.frame
    for cut in range(len(frame)):
        with pytest.raises(Malformed):
            sync.open_changeset(frame[:cut], WRITER_PUB)
    with pytest.raises(Malformed):
        sync.open_changeset(frame + b"\x00", WRITER_PUB)


def signed_body(body: Any) -> bytes:
    raw = sync.encode(body)
    return sync.encode([raw, sync.sign(WRITER, raw)])


GOOD_BODY = sync.decode(SAMPLE.body)


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("proto", 2),
        ("proto", True),
        ("seq", 0),
        ("seq", -1),
        ("seq", True),
        ("seq", "7"),
        ("prev", bytes(31)),
        ("prev", "0" * 32),
        ("hlc", [1]),
        ("hlc", [2, 1]),
        ("hlc", [1, "2"]),
        ("hlc", [False, True]),
        ("records", {"a": 1}),
        ("records", [1]),
        ("schema", "3"),
        ("schema", None),
        ("feed", 7),
    ],
)
def test_open_checks_every_field_of_a_correctly_signed_body(change: str, value: Any) -> None:
    frame = signed_body({**GOOD_BODY, change: value})
    with pytest.raises(Malformed):
        sync.open_changeset(frame, WRITER_PUB)


@pytest.mark.parametrize(
    "frame",
    [
        signed_body([1, 2]),
        signed_body({k: v for k, v in GOOD_BODY.items() if k != "seq"}),
        sync.encode([SAMPLE.body]),
        sync.encode([SAMPLE.body, SAMPLE.signature, b""]),
        sync.encode([SAMPLE.body.decode("latin-1"), SAMPLE.signature]),
        sync.encode({"body": SAMPLE.body, "signature": SAMPLE.signature}),
    ],
)
def test_open_refuses_frames_of_the_wrong_shape(frame: bytes) -> None:
    with pytest.raises(Malformed):
        sync.open_changeset(frame, WRITER_PUB)


def test_open_refuses_a_short_signature() -> None:
    with pytest.raises(BadSignature):
        sync.open_changeset(sync.encode([SAMPLE.body, SAMPLE.signature[:63]]), WRITER_PUB)


@pytest.mark.parametrize(
    "changeset",
    [
        Changeset(FEED, 0, ZERO_HASH, 1, 1, 1, ()),
        Changeset(FEED, 1, bytes(31), 1, 1, 1, ()),
        Changeset(FEED, 1, ZERO_HASH, 1, 1, 1, ({"blob": bytes(MAX_FRAME_BYTES)},)),
    ],
)
def test_seal_refuses_what_it_must_not_send(changeset: Changeset) -> None:
    with pytest.raises(LocalError):
        sync.seal(changeset, WRITER)


# --- packing ----------------------------------------------------------------------------------

BODY_OVERHEAD = 200  # map keys, feed id, seq, prev, hlc, schema, array header


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 400)), max_size=40),
    st.integers(1, 1500),
    st.integers(1, 1000),
    st.binary(min_size=32, max_size=32),
)
def test_pack_changesets_builds_a_chain(
    items: list[tuple[int, int]], target: int, next_seq: int, prev: bytes
) -> None:
    records = [(hlc, record(i, pad)) for i, (hlc, pad) in enumerate(items)]
    packed = sync.pack_changesets(
        records, feed=FEED, next_seq=next_seq, prev_hash=prev, schema=4, key=WRITER, target_bytes=target
    )
    assert [s.changeset.seq for s in packed] == list(range(next_seq, next_seq + len(packed)))
    assert [s.changeset.prev_hash for s in packed] == [prev, *(s.hash for s in packed)][: len(packed)]
    # Every record exactly once, in order, none split.
    assert [r for s in packed for r in s.changeset.records] == [r for _, r in records]
    assert all(s.changeset.records for s in packed)
    i = 0
    for n, sealed in enumerate(packed):
        cs = sealed.changeset
        stamps = [hlc for hlc, _ in records[i : i + len(cs.records)]]
        i += len(cs.records)
        assert (cs.hlc_min, cs.hlc_max) == (min(stamps), max(stamps))
        assert (cs.feed, cs.schema) == (FEED, 4)
        sizes = [len(sync.encode(r)) for r in cs.records]
        assert sum(sizes) <= target or len(sizes) == 1
        assert len(sealed.body) <= max(target, *sizes) + BODY_OVERHEAD
        if n + 1 < len(packed):  # greedy: the next record would not have fitted
            assert sum(sizes) + len(sync.encode(packed[n + 1].changeset.records[0])) > target
        assert sync.open_changeset(sealed.frame, WRITER_PUB) == sealed


@FAST
@given(st.integers(1, 30), st.integers(1, 8))
def test_pack_changesets_limit_caps_the_count_and_resumes(count: int, limit: int) -> None:
    records = [(n, record(n, 50)) for n in range(count)]
    packed = sync.pack_changesets(
        records,
        feed=FEED,
        next_seq=1,
        prev_hash=ZERO_HASH,
        schema=1,
        key=WRITER,
        target_bytes=250,
        limit=limit,
    )
    everything = sync.pack_changesets(
        records, feed=FEED, next_seq=1, prev_hash=ZERO_HASH, schema=1, key=WRITER, target_bytes=250
    )
    assert len(packed) == min(limit, len(everything))
    assert [s.frame for s in packed] == [s.frame for s in everything[:limit]]


def test_pack_changesets_limit_zero_makes_none() -> None:
    records = [(n, record(n, 100)) for n in range(10)]
    packed = sync.pack_changesets(
        records, feed=FEED, next_seq=1, prev_hash=ZERO_HASH, schema=1, key=WRITER, target_bytes=300, limit=0
    )
    assert packed == []


def test_pack_changesets_of_nothing_is_nothing() -> None:
    assert sync.pack_changesets([], feed=FEED, next_seq=1, prev_hash=ZERO_HASH, schema=1, key=WRITER) == []


def test_pack_changesets_refuses_an_oversize_record() -> None:
    records = [(1, record(1)), (2, {"id": "huge", "data": "x" * (600 << 10)})]
    with pytest.raises(LocalError, match="huge"):
        sync.pack_changesets(records, feed=FEED, next_seq=1, prev_hash=ZERO_HASH, schema=1, key=WRITER)


def test_pack_changesets_gives_a_big_record_its_own_changeset() -> None:
    records = [(1, record(1)), (2, record(2, 2000)), (3, record(3))]
    packed = sync.pack_changesets(
        records, feed=FEED, next_seq=1, prev_hash=ZERO_HASH, schema=1, key=WRITER, target_bytes=500
    )
    assert [len(s.changeset.records) for s in packed] == [1, 1, 1]


# --- decide: the acceptance table -------------------------------------------------------------

CHAIN = build_chain(6)


def holding(chain: list[SealedChangeset], upto: int) -> tuple[FeedHead, Any]:
    """A receiver's head after ``upto`` changesets of ``chain``, and its held-hash lookup."""
    head = FeedHead(FEED)
    for sealed in chain[:upto]:
        head = head.advance(sealed)
    hashes = {s.changeset.seq: s.hash for s in chain[:upto]}
    return head, hashes.get


def test_decide_accepts_the_next_changeset() -> None:
    head, held = holding(CHAIN, 0)
    assert sync.decide(head, CHAIN[0], held) is Verdict.ACCEPT
    head, held = holding(CHAIN, 2)
    assert sync.decide(head, CHAIN[2], held) is Verdict.ACCEPT
    assert head.advance(CHAIN[2]) == FeedHead(FEED, 3, CHAIN[2].hash)


def test_decide_acknowledges_a_duplicate_again() -> None:
    head, held = holding(CHAIN, 3)
    for sealed in CHAIN[:3]:
        assert sync.decide(head, sealed, held) is Verdict.DUPLICATE


def test_decide_calls_the_same_seq_with_other_bytes_a_fork() -> None:
    head, held = holding(CHAIN, 3)
    other = sync.seal(Changeset(FEED, 2, CHAIN[0].hash, 5, 5, 1, (record(99),)), WRITER)
    with pytest.raises(Fork) as exc:
        sync.decide(head, other, held)
    assert (exc.value.seq, exc.value.held_hash, exc.value.offered_hash) == (2, CHAIN[1].hash, other.hash)


def test_decide_calls_the_next_seq_on_the_wrong_prev_a_fork() -> None:
    head, held = holding(CHAIN, 3)
    other = sync.seal(Changeset(FEED, 4, bytes(32 * [7]), 5, 5, 1, (record(4),)), WRITER)
    with pytest.raises(Fork) as exc:
        sync.decide(head, other, held)
    assert (exc.value.seq, exc.value.held_hash, exc.value.offered_hash) == (3, CHAIN[2].hash, bytes(32 * [7]))


def test_decide_refuses_a_gap_naming_the_seq_it_expects() -> None:
    head, held = holding(CHAIN, 2)
    for sealed in CHAIN[3:]:
        with pytest.raises(ChainBroken) as exc:
            sync.decide(head, sealed, held)
        assert exc.value.expected_seq == 3


def test_decide_refuses_another_feed() -> None:
    head, held = holding(CHAIN, 0)
    stranger = build_chain(1, feed="other-feed")[0]
    with pytest.raises(Malformed):
        sync.decide(head, stranger, held)


@FAST
@given(st.integers(0, 6), st.integers(1, 6))
def test_decide_table_over_every_head_and_offer(held_upto: int, offered_seq: int) -> None:
    head, held = holding(CHAIN, held_upto)
    offered = CHAIN[offered_seq - 1]
    if offered_seq <= held_upto:
        assert sync.decide(head, offered, held) is Verdict.DUPLICATE
    elif offered_seq == held_upto + 1:
        assert sync.decide(head, offered, held) is Verdict.ACCEPT
    else:
        with pytest.raises(ChainBroken) as exc:
            sync.decide(head, offered, held)
        assert exc.value.expected_seq == held_upto + 1


# --- two parties over a lossy link ------------------------------------------------------------


@dataclass
class Writer:
    """A node's side of its feed: seals records into a chain, resends from the receiver's head."""

    chain: list[SealedChangeset] = field(default_factory=list)
    acked: FeedHead = field(default_factory=lambda: FeedHead(FEED))
    acked_at: int = -1
    written: int = 0

    def write(self, count: int) -> None:
        records = [
            (Stamp(1_000 + self.written + i).pack(), record(self.written + i, 40)) for i in range(count)
        ]
        self.written += count
        self.chain += sync.pack_changesets(
            records,
            feed=FEED,
            next_seq=len(self.chain) + 1,
            prev_hash=self.chain[-1].hash if self.chain else ZERO_HASH,
            schema=1,
            key=WRITER,
            target_bytes=200,
        )

    def outgoing(self) -> list[bytes]:
        return [s.frame for s in self.chain[self.acked.seq :]]

    def hear(self, frame: bytes) -> None:
        signed = sync.open_head(frame, RECEIVER_PUB)
        seq = signed.head.seq
        # The receiver holds a prefix of exactly our chain.
        assert seq <= len(self.chain)
        assert signed.head.hash == (self.chain[seq - 1].hash if seq else ZERO_HASH)
        if signed.wall_ms > self.acked_at:  # a late answer never rolls the checkpoint back
            self.acked, self.acked_at = signed.head, signed.wall_ms


@dataclass
class Receiver:
    """A hub's side of one node feed: the held frames and the head, driven only by sync.decide."""

    head: FeedHead = field(default_factory=lambda: FeedHead(FEED))
    held: dict[int, SealedChangeset] = field(default_factory=dict)
    accepted: list[int] = field(default_factory=list)
    refused: int = 0
    quarantined: list[bytes] = field(default_factory=list)
    clock: int = 0

    def receive(self, frame: bytes) -> bytes | None:
        """The signed head to answer with, or None when the frame is refused outright."""
        before = self.head
        try:
            sealed = sync.open_changeset(frame, key_of)
            verdict = sync.decide(
                self.head, sealed, lambda seq: self.held[seq].hash if seq in self.held else None
            )
        except (BadSignature, Malformed, UnknownFeed):
            self.refused += 1
            assert self.head == before
            return None
        except ChainBroken as exc:
            assert exc.expected_seq == self.head.seq + 1
            return self.signed_head()  # the 409 names where to resume
        except Fork:
            self.quarantined.append(frame)
            assert self.head == before
            return None
        if verdict is Verdict.ACCEPT:
            assert sealed.changeset.seq == len(self.held) + 1
            self.held[sealed.changeset.seq] = sealed
            self.head = self.head.advance(sealed)
            self.accepted.append(sealed.changeset.seq)
        else:
            assert self.held[sealed.changeset.seq].body == sealed.body
        return self.signed_head()

    def signed_head(self) -> bytes:
        self.clock += 1
        return sync.seal_head(self.head, self.clock, RECEIVER).frame


@dataclass
class FakeLink:
    """Frames in flight each way; the schedule decides what arrives, when, twice, or never."""

    to_receiver: list[bytes] = field(default_factory=list)
    to_writer: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)  # every frame ever put on the wire, for replays
    hostile: set[bytes] = field(default_factory=set)  # forged, tampered or cloned frames injected

    def send(self, frames: list[bytes]) -> None:
        self.to_receiver += frames
        self.sent += frames


def deliver(link: FakeLink, receiver: Receiver, index: int) -> None:
    frame = link.to_receiver.pop(index % len(link.to_receiver))
    answer = receiver.receive(frame)
    if frame in link.hostile:
        assert answer is None, "a forged, tampered or cloned frame got an answer"
    else:
        assert answer is not None, "an honest frame was refused"
        link.to_writer.append(answer)


# Weighted by repetition: delivery and resends are common, hostile frames rarer.
STEPS: tuple[str, ...] = ("write", "send", "send", "deliver", "deliver", "deliver", "deliver", "ack", "ack")
STEPS += ("dup", "drop", "replay", "forge", "tamper", "clone")
ACTIONS = st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 2**16)), min_size=10, max_size=100)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), ACTIONS)
def test_lossy_link_converges_on_exactly_the_writers_chain(
    initial: int, schedule: list[tuple[str, int]]
) -> None:
    writer, receiver, link = Writer(), Receiver(), FakeLink()
    writer.write(initial)
    clones: set[bytes] = set()
    for action, n in schedule:
        if action == "write":
            writer.write(n % 4 + 1)
        elif action == "send":
            link.send(writer.outgoing())
        elif action == "deliver" and link.to_receiver:
            deliver(link, receiver, n)
        elif action == "ack" and link.to_writer:
            writer.hear(link.to_writer.pop(n % len(link.to_writer)))
        elif action == "dup" and link.to_receiver:
            link.to_receiver.append(link.to_receiver[n % len(link.to_receiver)])
        elif action == "drop":
            queue = link.to_receiver if n % 2 else link.to_writer
            if queue:
                queue.pop(n // 2 % len(queue))
        elif action == "replay" and link.sent:
            link.to_receiver.append(link.sent[n % len(link.sent)])
        elif action == "forge":
            # Signed by another key, but otherwise exactly what the receiver would accept next.
            forged = sync.seal(
                Changeset(FEED, receiver.head.seq + 1, receiver.head.hash, 1, 1, 1, ()), FORGER
            )
            link.to_receiver.append(forged.frame)
            link.hostile.add(forged.frame)
        elif action == "tamper" and link.sent:
            frame = link.sent[n % len(link.sent)]
            tampered = flip(frame, n % len(frame), n % 255 + 1)
            link.to_receiver.append(tampered)
            link.hostile.add(tampered)
        elif action == "clone" and receiver.head.seq:
            # A restored backup of the writer: the right key, a seq the receiver already holds, other bytes.
            seq = n % receiver.head.seq + 1
            prev = writer.chain[seq - 2].hash if seq > 1 else ZERO_HASH
            clone = sync.seal(Changeset(FEED, seq, prev, 1, 1, 1, (record(-n),)), WRITER)
            link.to_receiver.append(clone.frame)
            link.hostile.add(clone.frame)
            clones.add(clone.frame)
        assert writer.acked.seq <= receiver.head.seq

    # Then the link heals: whatever is in flight lands, and the writer resends from the head.
    for _ in range(3):
        while link.to_receiver:
            deliver(link, receiver, 0)
        while link.to_writer:
            writer.hear(link.to_writer.pop(0))
        if writer.acked.seq == len(writer.chain):
            break
        link.send(writer.outgoing())
    else:
        pytest.fail(f"no convergence: writer at {len(writer.chain)}, receiver at {receiver.head.seq}")

    assert receiver.accepted == list(range(1, len(writer.chain) + 1))
    assert {seq: s.frame for seq, s in receiver.held.items()} == {
        s.changeset.seq: s.frame for s in writer.chain
    }
    assert receiver.head == FeedHead(FEED, len(writer.chain), writer.chain[-1].hash)
    assert writer.acked == receiver.head
    assert set(receiver.quarantined) <= clones  # every fork was a clone's, and it was quarantined


def test_forged_and_tampered_changesets_never_move_the_head() -> None:
    receiver = Receiver()
    chain = build_chain(3)
    assert receiver.receive(chain[0].frame) is not None
    head = receiver.head
    forged = sync.seal(chain[1].changeset, FORGER)  # same content, wrong key
    assert receiver.receive(forged.frame) is None
    for pos in range(len(chain[1].frame)):
        assert receiver.receive(flip(chain[1].frame, pos)) is None
        assert receiver.head == head
    assert receiver.refused == 1 + len(chain[1].frame)
    assert receiver.receive(chain[1].frame) is not None
    assert receiver.head == FeedHead(FEED, 2, chain[1].hash)


# --- signed heads -----------------------------------------------------------------------------

HEAD = sync.seal_head(FeedHead(FEED, 42, bytes(range(32))), 1_700_000_000_000, RECEIVER)


@FAST
@given(st.text(max_size=40), st.integers(0, 2**40), st.binary(min_size=32, max_size=32), INT64)
def test_signed_head_round_trips(feed: str, seq: int, digest: bytes, wall_ms: int) -> None:
    signed = sync.seal_head(FeedHead(feed, seq, digest), wall_ms, RECEIVER)
    opened = sync.open_head(signed.frame, RECEIVER_PUB)
    assert opened == signed
    assert (opened.head, opened.wall_ms) == (FeedHead(feed, seq, digest), wall_ms)


def test_signed_head_refuses_another_key() -> None:
    with pytest.raises(BadSignature):
        sync.open_head(HEAD.frame, WRITER_PUB)


def test_signed_head_refuses_any_flipped_byte() -> None:
    for pos in range(len(HEAD.frame)):
        with pytest.raises((BadSignature, Malformed)):
            sync.open_head(flip(HEAD.frame, pos), RECEIVER_PUB)


@pytest.mark.parametrize(
    "body",
    [
        {"feed": FEED, "seq": "42", "hash": bytes(32), "wall_ms": 1},
        {"feed": FEED, "seq": 42, "hash": "00", "wall_ms": 1},
        {"seq": 42, "hash": bytes(32), "wall_ms": 1},
        {"feed": FEED, "seq": 42, "hash": bytes(32)},
        [FEED, 42],
    ],
)
def test_signed_head_checks_its_body(body: Any) -> None:
    raw = sync.encode(body)
    with pytest.raises(Malformed):
        sync.open_head(sync.encode([raw, sync.sign(RECEIVER, raw)]), RECEIVER_PUB)


def test_signed_head_refuses_garbage() -> None:
    for frame in (b"", b"\x92\x01\x02", sync.encode([HEAD.body]), HEAD.frame + b"\x00"):
        with pytest.raises(Malformed):
            sync.open_head(frame, RECEIVER_PUB)


# --- signed requests --------------------------------------------------------------------------

REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": f"/sync/v1/feeds/{FEED}/changesets",
    "node_id": FEED,
    "wall_ms": 1_700_000_000_000,
    "body": b"\x78\x9c frame",
}
WINDOW = 3 * 86_400_000


def verify_request(signature: bytes, *, now_ms: int = REQUEST["wall_ms"], **fields: Any) -> None:
    sync.verify_request(WRITER_PUB, signature, **{**REQUEST, **fields}, now_ms=now_ms, window_ms=WINDOW)


@FAST
@given(
    st.sampled_from(["GET", "POST", "get"]),
    st.text(max_size=60),
    st.text(max_size=40),
    st.integers(0, 2**45),
    st.binary(max_size=100),
    st.integers(-WINDOW, WINDOW),
)
def test_signed_request_round_trips(
    method: str, path: str, node_id: str, wall_ms: int, body: bytes, offset: int
) -> None:
    fields: dict[str, Any] = {
        "method": method,
        "path": path,
        "node_id": node_id,
        "wall_ms": wall_ms,
        "body": body,
    }
    signature = sync.sign_request(WRITER, **fields)
    verify_request(signature, now_ms=wall_ms + offset, **fields)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("method", "GET"),
        ("path", "/sync/v1/feeds/other/changesets"),
        ("path", REQUEST["path"] + "?after=1"),
        ("node_id", "0190a1b2-0000-7000-8000-000000000000"),
        ("wall_ms", REQUEST["wall_ms"] + 1),
        ("body", REQUEST["body"] + b"\x00"),
        ("body", b""),
    ],
)
def test_signed_request_refuses_any_changed_field(name: str, value: Any) -> None:
    signature = sync.sign_request(WRITER, **REQUEST)
    verify_request(signature)
    with pytest.raises(BadSignature):
        verify_request(signature, **{name: value})


def test_signed_request_refuses_another_key_and_a_bad_signature() -> None:
    with pytest.raises(BadSignature):
        verify_request(sync.sign_request(FORGER, **REQUEST))
    signature = sync.sign_request(WRITER, **REQUEST)
    for bad in (signature[:-1], flip(signature, 0), flip(signature, 63), b""):
        with pytest.raises(BadSignature):
            verify_request(bad)


@pytest.mark.parametrize("offset", [WINDOW + 1, -WINDOW - 1, 10 * WINDOW])
def test_signed_request_refuses_a_stamp_outside_the_window(offset: int) -> None:
    signature = sync.sign_request(WRITER, **REQUEST)
    with pytest.raises(Malformed):
        verify_request(signature, now_ms=REQUEST["wall_ms"] + offset)
    verify_request(signature, now_ms=REQUEST["wall_ms"] + (WINDOW if offset > 0 else -WINDOW))


# --- clock checks -----------------------------------------------------------------------------


def stamped(hlc_max: int) -> SealedChangeset:
    return sync.seal(Changeset(FEED, 1, ZERO_HASH, 0, hlc_max, 1, ()), WRITER)


@FAST
@given(
    st.integers(0, 2**40), st.integers(-(2**30), 2**30), st.integers(0, COUNTER_MAX), st.integers(0, 2**30)
)
def test_check_clock_reports_skew_and_refuses_past_the_bound(
    wall_ms: int, ahead: int, counter: int, bound: int
) -> None:
    sealed = stamped(Stamp(max(0, wall_ms + ahead), counter).pack())
    skew = max(0, wall_ms + ahead) - wall_ms
    if skew <= bound:
        assert sync.check_clock(sealed, wall_ms, bound) == skew
    else:
        with pytest.raises(ClockSkew) as exc:
            sync.check_clock(sealed, wall_ms, bound)
        assert exc.value.ahead_ms == skew


# --- hybrid logical clock ---------------------------------------------------------------------


@FAST
@given(st.integers(0, 2**44), st.integers(0, COUNTER_MAX), st.integers(0, 2**44), st.integers(0, COUNTER_MAX))
def test_stamp_packs_in_order(w1: int, c1: int, w2: int, c2: int) -> None:
    a, b = Stamp(w1, c1), Stamp(w2, c2)
    assert Stamp.unpack(a.pack()) == a
    assert (a < b) == (a.pack() < b.pack())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**44), min_size=1, max_size=50))
def test_now_is_strictly_increasing_whatever_the_wall_clock_does(walls: list[int]) -> None:
    clock = HybridClock()
    stamps = [clock.now(w) for w in walls]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert all(a.pack() < b.pack() for a, b in itertools.pairwise(stamps))
    assert all(s.wall_ms >= w for s, w in zip(stamps, walls, strict=True))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(), st.integers(0, 10_000), st.integers(-20_000, 400_000), st.integers(0, COUNTER_MAX)
        ),
        max_size=50,
    )
)
def test_observe_moves_past_both_clocks_or_refuses_drift(events: list[tuple[bool, int, int, int]]) -> None:
    clock = HybridClock(max_drift_ms=300_000)
    for is_remote, wall_ms, remote_offset, counter in events:
        before = clock.last
        if not is_remote:
            assert clock.now(wall_ms) > before
            continue
        remote = Stamp(max(0, wall_ms + remote_offset), counter)
        if remote.wall_ms - wall_ms > clock.max_drift_ms:
            with pytest.raises(ClockDrift):
                clock.observe(remote, wall_ms)
            assert clock.last == before
        else:
            after = clock.observe(remote, wall_ms)
            assert after > before
            assert after > remote
            assert after.wall_ms >= wall_ms
            assert after == clock.last
            assert after.counter <= COUNTER_MAX


def test_observe_refuses_a_stamp_past_the_drift_bound() -> None:
    clock = HybridClock(Stamp(1_000, 3), max_drift_ms=60_000)
    assert clock.observe(Stamp(61_000, 7), 1_000) == Stamp(61_000, 8)  # exactly at the bound
    with pytest.raises(ClockDrift) as exc:
        clock.observe(Stamp(61_002, 0), 1_000)
    assert exc.value.ahead_ms == 60_002
    assert clock.last == Stamp(61_000, 8)


def test_counter_overflow_rolls_into_the_wall_milliseconds() -> None:
    assert HybridClock(Stamp(5_000, COUNTER_MAX)).now(5_000) == Stamp(5_001, 0)
    assert HybridClock(Stamp(5_000, COUNTER_MAX)).now(1_000) == Stamp(5_001, 0)
    assert HybridClock(Stamp(5_000, COUNTER_MAX - 1)).now(5_000) == Stamp(5_000, COUNTER_MAX)
    assert HybridClock(Stamp(5_000, 2)).observe(Stamp(5_000, COUNTER_MAX), 4_000) == Stamp(5_001, 0)
    assert HybridClock(Stamp(5_000, COUNTER_MAX)).observe(Stamp(10, 0), 4_000) == Stamp(5_001, 0)
    assert HybridClock(Stamp(9, 0)).observe(Stamp(5_000, COUNTER_MAX), 5_000) == Stamp(5_001, 0)


def test_observe_takes_the_newest_of_three_clocks() -> None:
    assert HybridClock(Stamp(100, 5)).observe(Stamp(50, 9), 200) == Stamp(200, 0)
    assert HybridClock(Stamp(100, 5)).observe(Stamp(50, 9), 20) == Stamp(100, 6)
    assert HybridClock(Stamp(100, 5)).observe(Stamp(150, 9), 20) == Stamp(150, 10)
    assert HybridClock(Stamp(100, 5)).observe(Stamp(100, 9), 20) == Stamp(100, 10)


# --- merge rules ------------------------------------------------------------------------------


@st.composite
def field_versions(draw: st.DrawFn) -> list[FieldVersion]:
    keys = draw(
        st.lists(
            st.tuples(st.integers(0, 40), st.sampled_from(["node-a", "node-b", "node-c"])),
            min_size=1,
            max_size=9,
            unique=True,
        )
    )
    values = draw(st.lists(st.sampled_from(["王芳", "王方", None]), min_size=len(keys), max_size=len(keys)))
    return [
        FieldVersion(
            value, hlc, author, f"rec-{i}", draw(st.sampled_from([None, *(f"rec-{j}" for j in range(i))]))
        )
        for i, ((hlc, author), value) in enumerate(zip(keys, values, strict=True))
    ]


def merge_all(versions: list[FieldVersion]) -> tuple[FieldVersion, list[FieldVersion]]:
    current: FieldVersion | None = None
    losers: list[FieldVersion] = []
    for v in versions:
        merged = sync.merge_field(current, v)
        assert merged.changed == (merged.winner is v)
        current = merged.winner
        if merged.loser is not None:
            losers.append(merged.loser)
    assert current is not None
    return current, losers


@settings(max_examples=150, deadline=None)
@given(field_versions(), st.data())
def test_merge_converges_in_any_order_and_loses_nothing(
    versions: list[FieldVersion], data: st.DataObject
) -> None:
    best = max(versions, key=FieldVersion.key)
    for _ in range(3):
        order = data.draw(st.permutations(versions))
        winner, losers = merge_all(order)
        assert winner == best
        assert sorted(v.record_id for v in losers) == sorted(v.record_id for v in versions if v is not best)


@FAST
@given(field_versions())
def test_merging_the_current_version_again_changes_nothing(versions: list[FieldVersion]) -> None:
    winner, _ = merge_all(versions)
    merged = sync.merge_field(winner, winner)
    assert (merged.winner, merged.loser, merged.conflict, merged.changed) == (winner, None, False, False)


def test_first_value_simply_wins() -> None:
    v = FieldVersion("王芳", 10, "node-a", "rec-1")
    merged = sync.merge_field(None, v)
    assert (merged.winner, merged.loser, merged.conflict, merged.changed) == (v, None, False, True)


def test_an_edit_on_top_of_the_winner_is_an_update_not_a_conflict() -> None:
    current = FieldVersion("王芳", 10, "node-a", "rec-1")
    edit = FieldVersion("王方", 20, "node-b", "rec-2", based_on="rec-1")
    merged = sync.merge_field(current, edit)
    assert (merged.winner, merged.loser, merged.conflict, merged.changed) == (edit, current, False, True)


def test_a_concurrent_different_value_is_a_conflict_whichever_wins() -> None:
    current = FieldVersion("王芳", 10, "node-a", "rec-2", based_on="rec-1")
    newer = FieldVersion("王方", 20, "node-b", "rec-3", based_on="rec-1")
    merged = sync.merge_field(current, newer)
    assert (merged.winner, merged.loser, merged.conflict, merged.changed) == (newer, current, True, True)
    older = FieldVersion("王方", 5, "node-b", "rec-3", based_on="rec-1")
    merged = sync.merge_field(current, older)
    assert (merged.winner, merged.loser, merged.conflict, merged.changed) == (current, older, True, False)


def test_equal_values_are_never_a_conflict() -> None:
    current = FieldVersion("王芳", 10, "node-a", "rec-1")
    for hlc in (5, 20):
        merged = sync.merge_field(current, FieldVersion("王芳", hlc, "node-b", "rec-2"))
        assert merged.conflict is False
        assert merged.loser is not None


def test_author_breaks_a_tie_on_the_stamp() -> None:
    a = FieldVersion("x", 10, "node-a", "rec-1")
    b = FieldVersion("y", 10, "node-b", "rec-2")
    assert sync.merge_field(a, b).winner == b
    assert sync.merge_field(b, a).winner == b


@FAST
@given(st.integers(0, 2**60), st.integers(0, 2**40), st.integers(0, 2**30))
def test_clamp_stamp_caps_at_receipt_plus_the_bound(hlc: int, received_ms: int, bound: int) -> None:
    limit = Stamp(received_ms + bound).pack()
    clamped = sync.clamp_stamp(hlc, received_ms, bound)
    assert clamped == min(hlc, limit)


def test_a_clock_days_ahead_cannot_win_every_field() -> None:
    received = 1_700_000_000_000
    bound = 5 * 60_000
    far_future = Stamp(received + 3 * 86_400_000).pack()
    assert sync.clamp_stamp(far_future, received, bound) == Stamp(received + bound).pack()
    wrong = FieldVersion("王芳", sync.clamp_stamp(far_future, received, bound), "node-a", "rec-1")
    later = FieldVersion("王方", Stamp(received + 10 * 60_000).pack(), "node-b", "rec-2")
    assert sync.merge_field(wrong, later).winner == later


def test_same_fact_accepts_an_identical_copy() -> None:
    stored = record(1)
    assert sync.same_fact(stored, dict(reversed(list(stored.items())))) is True


def test_same_fact_refuses_a_different_copy() -> None:
    stored = record(1)
    with pytest.raises(ConflictingCopy, match=stored["id"]) as exc:
        sync.same_fact(stored, {**stored, "data": {"note": "changed", "n": 1}})
    assert isinstance(exc.value, PeerError)
    assert exc.value.reason == "conflicting-copy"


def test_preset_dictionary_streams_are_smaller_and_plain_ones_still_read() -> None:
    import zlib

    record = {
        "type": "encounter",
        "data": {"chief_complaint": "咳嗽3天", "diagnoses": [{"icd10": "J06.9", "primary": True}]},
        "status": "final",
        "recorded_by": "doctor",
    }
    frame = sync.encode([record] * 3)
    preset, plain = sync.compress(frame, preset=True), sync.compress(frame)
    assert len(preset) < len(plain)
    assert sync.decompress(preset) == frame and sync.decompress(plain) == frame
    assert zlib.decompress(plain) == frame  # an older peer reads what it is sent without the header
    with pytest.raises(zlib.error):
        zlib.decompress(preset)  # …which is why preset streams go only to peers that asked
