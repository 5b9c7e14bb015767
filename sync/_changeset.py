"""Changesets: the signed, hash-chained unit of a feed.

Rules:
1. A feed has one writer. Its changesets are numbered 1, 2, 3 … and each
   names the SHA-256 of the previous one's body (``prev_hash``; zeros for seq 1).
2. The signature covers the exact body bytes; the hash is of the exact body
   bytes. A frame is ``msgpack([body, signature])``.
3. A changeset is opened (verified) before anything in it is trusted, and its
   structure is checked field by field before any record is looked at.
4. Changesets stay small (``TARGET_BODY_BYTES``) so one crosses a 2G link in
   seconds; one record never spans two changesets.
5. A push body is one frame, or a batch ``{"frames": [frame, …]}`` of at most
   ``MAX_BATCH_FRAMES`` consecutive frames of one feed, so a slow link pays one
   round trip for several changesets. Each frame in a batch is still opened on
   its own: a batch adds no trust.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ._errors import LocalError, Malformed
from ._keys import SIGNATURE_BYTES, sign, verify
from ._wire import MAX_FRAME_BYTES, decode, encode

__all__ = [
    "MAX_BATCH_FRAMES",
    "PROTOCOL",
    "TARGET_BODY_BYTES",
    "ZERO_HASH",
    "Changeset",
    "SealedChangeset",
    "open_changeset",
    "pack_batch",
    "pack_changesets",
    "seal",
    "unpack_push",
]

PROTOCOL = 1
ZERO_HASH = bytes(32)
TARGET_BODY_BYTES = 48 << 10  # ~48 KB before compression: seconds on a 2G link
_MAX_RECORD_BYTES = 512 << 10
MAX_BATCH_FRAMES = 64  # frames in one push body
_MSGPACK_MAPS = frozenset({*range(0x80, 0x90), 0xDE, 0xDF})  # first byte of a msgpack map


@dataclass(frozen=True)
class Changeset:
    feed: str
    seq: int
    prev_hash: bytes
    hlc_min: int
    hlc_max: int
    schema: int  # the record-model release of the writer (see schemas.SCHEMA_RELEASE)
    records: tuple[dict[str, Any], ...]

    def body(self) -> dict[str, Any]:
        return {
            "proto": PROTOCOL,
            "feed": self.feed,
            "seq": self.seq,
            "prev": self.prev_hash,
            "hlc": [self.hlc_min, self.hlc_max],
            "schema": self.schema,
            "records": list(self.records),
        }


@dataclass(frozen=True)
class SealedChangeset:
    """A changeset with the exact bytes that were signed, as stored and sent."""

    changeset: Changeset
    body: bytes
    signature: bytes

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.body).digest()

    @property
    def frame(self) -> bytes:
        return encode([self.body, self.signature])


def seal(changeset: Changeset, key: Ed25519PrivateKey) -> SealedChangeset:
    if changeset.seq < 1:
        raise LocalError(f"seq must start at 1, not {changeset.seq}")
    if len(changeset.prev_hash) != 32:
        raise LocalError("prev_hash must be 32 bytes")
    body = encode(changeset.body())
    if len(body) + SIGNATURE_BYTES + 16 > MAX_FRAME_BYTES:
        raise LocalError(f"changeset body of {len(body)} bytes is over the frame limit")
    return SealedChangeset(changeset, body, sign(key, body))


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise Malformed(f"changeset field {name!r} is missing or not {getattr(kind, '__name__', kind)}")
    return value


def open_changeset(frame: bytes, public_key: bytes | Callable[[str], bytes]) -> SealedChangeset:
    """Verify and decode a frame.

    ``public_key`` is the writer's key, or a function from the feed id in the
    (not yet trusted) body to that feed's registered key; it may raise to
    refuse an unknown or revoked feed.
    """
    outer = decode(frame)
    if not (isinstance(outer, list) and len(outer) == 2 and all(isinstance(p, bytes) for p in outer)):
        raise Malformed("frame must be [body bytes, signature bytes]")
    body_bytes, signature = outer
    body = decode(body_bytes)
    if not isinstance(body, dict):
        raise Malformed("changeset body must be a map")
    feed = _field(body, "feed", str)
    key = public_key(feed) if callable(public_key) else public_key
    verify(key, body_bytes, signature)
    if _field(body, "proto", int) != PROTOCOL:
        raise Malformed(f"protocol {body['proto']} is not {PROTOCOL}; upgrade the older side")
    seq = _field(body, "seq", int)
    prev = _field(body, "prev", bytes)
    hlc = _field(body, "hlc", list)
    records = _field(body, "records", list)
    if seq < 1 or len(prev) != 32:
        raise Malformed("seq must be >= 1 and prev a 32-byte hash")
    if (
        len(hlc) != 2
        or not all(isinstance(h, int) and not isinstance(h, bool) for h in hlc)
        or hlc[0] > hlc[1]
    ):
        raise Malformed("hlc must be [min, max] integers")
    if not all(isinstance(r, dict) for r in records):
        raise Malformed("every record must be a map")
    cs = Changeset(feed, seq, prev, hlc[0], hlc[1], _field(body, "schema", int), tuple(records))
    return SealedChangeset(cs, body_bytes, signature)


def pack_changesets(
    records: Iterable[tuple[int, dict[str, Any]]],
    *,
    feed: str,
    next_seq: int,
    prev_hash: bytes,
    schema: int,
    key: Ed25519PrivateKey,
    target_bytes: int = TARGET_BODY_BYTES,
    limit: int | None = None,
) -> list[SealedChangeset]:
    """Group ``(hlc, record)`` pairs, in order, into sealed changesets continuing a feed.

    Each changeset holds as many records as fit in ``target_bytes`` (at least
    one). ``limit`` caps how many changesets are made in one call.
    """
    out: list[SealedChangeset] = []
    if limit is not None and limit < 1:
        return out
    batch: list[dict[str, Any]] = []
    stamps: list[int] = []
    size = 0
    seq, prev = next_seq, prev_hash

    def flush() -> None:
        nonlocal seq, prev, batch, stamps, size
        sealed = seal(Changeset(feed, seq, prev, min(stamps), max(stamps), schema, tuple(batch)), key)
        out.append(sealed)
        seq, prev, batch, stamps, size = seq + 1, sealed.hash, [], [], 0

    for hlc, record in records:
        n = len(encode(record))
        if n > _MAX_RECORD_BYTES:
            raise LocalError(f"record {record.get('id')} is {n} bytes, over the {_MAX_RECORD_BYTES} limit")
        if batch and size + n > target_bytes:
            flush()
            if limit is not None and len(out) >= limit:
                return out
        batch.append(record)
        stamps.append(hlc)
        size += n
    if batch and (limit is None or len(out) < limit):
        flush()
    return out


def pack_batch(frames: Sequence[bytes]) -> bytes:
    """A push body carrying several frames, in feed order (rule 5); LocalError if there are too many."""
    if not 1 <= len(frames) <= MAX_BATCH_FRAMES:
        raise LocalError(f"a batch holds 1 to {MAX_BATCH_FRAMES} frames, not {len(frames)}")
    return encode({"frames": list(frames)})


def unpack_push(data: bytes) -> tuple[list[bytes], bool]:
    """The frames of an (inflated) push body and whether it was a batch; Malformed if it is neither.

    A single frame is returned as is, undecoded: ``open_changeset`` decodes
    and verifies it.
    """
    if not data or data[0] not in _MSGPACK_MAPS:
        return [data], False
    value = decode(data)
    frames = value.get("frames") if isinstance(value, dict) else None
    if not isinstance(frames, list) or set(value) != {"frames"}:
        raise Malformed('a batch must be a map {"frames": [frame, ...]}')
    if not 1 <= len(frames) <= MAX_BATCH_FRAMES:
        raise Malformed(f"a batch holds 1 to {MAX_BATCH_FRAMES} frames, not {len(frames)}")
    if not all(isinstance(f, bytes) for f in frames):
        raise Malformed("every frame in a batch must be bytes")
    return frames, True
