"""The sync protocol core, sans-I/O: clocks, canonical encoding, signed hash-chained changesets,
feed acceptance, signed heads and request signatures, merge rules.

Nothing here reads the clock, draws randomness, or touches the network or disk:
time, ids and keys are passed in. Node and hub drive it; tests drive it byte
for byte.

Errors::

    SyncError
    ├── PeerError  (Malformed, BadSignature, ChainBroken, Fork, ClockSkew, ConflictingCopy)
    └── LocalError
"""

from __future__ import annotations

from ._changeset import (
    MAX_BATCH_FRAMES,
    PROTOCOL,
    TARGET_BODY_BYTES,
    ZERO_HASH,
    Changeset,
    SealedChangeset,
    open_changeset,
    pack_batch,
    pack_changesets,
    seal,
    unpack_push,
)
from ._errors import BadSignature, ChainBroken, ClockSkew, Fork, LocalError, Malformed, PeerError, SyncError
from ._feed import (
    FeedHead,
    SignedHead,
    Verdict,
    check_clock,
    decide,
    open_head,
    seal_head,
    sign_request,
    verify_request,
)
from ._hlc import COUNTER_BITS, ClockDrift, HybridClock, Stamp
from ._keys import key_id, private_key_from_pem, public_bytes, sign, verify
from ._merge import ConflictingCopy, FieldMerge, FieldVersion, clamp_stamp, merge_field, same_fact
from ._wire import MAX_BODY_BYTES, MAX_FRAME_BYTES, ZDICT_V1, compress, decode, decompress, encode

__all__ = [
    "COUNTER_BITS",
    "MAX_BATCH_FRAMES",
    "MAX_BODY_BYTES",
    "MAX_FRAME_BYTES",
    "PROTOCOL",
    "TARGET_BODY_BYTES",
    "ZDICT_V1",
    "ZERO_HASH",
    "BadSignature",
    "ChainBroken",
    "Changeset",
    "ClockDrift",
    "ClockSkew",
    "ConflictingCopy",
    "FeedHead",
    "FieldMerge",
    "FieldVersion",
    "Fork",
    "HybridClock",
    "LocalError",
    "Malformed",
    "PeerError",
    "SealedChangeset",
    "SignedHead",
    "Stamp",
    "SyncError",
    "Verdict",
    "check_clock",
    "clamp_stamp",
    "compress",
    "decide",
    "decode",
    "decompress",
    "encode",
    "key_id",
    "merge_field",
    "open_changeset",
    "open_head",
    "pack_batch",
    "pack_changesets",
    "private_key_from_pem",
    "public_bytes",
    "same_fact",
    "seal",
    "seal_head",
    "sign",
    "sign_request",
    "unpack_push",
    "verify",
    "verify_request",
]
