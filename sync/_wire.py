"""Canonical msgpack encoding, bounded decoding and bounded decompression.

Rules:
1. Encoding is canonical: map keys sorted, binary as bin, text as str, ints
   in their shortest form, floats as float64. The same value encodes to the same bytes
   on every node and version, so a re-built changeset hashes the same.
2. Signatures and hashes are over the exact bytes received. Nothing is ever
   re-encoded before verifying.
3. Bodies are zlib; a node's uploads (and pulls it asks for so) use the
   preset dictionary ``ZDICT_V1``, which any stream may name and ``decompress``
   always supplies.
4. Decoding is bounded before it starts: a frame over ``MAX_FRAME_BYTES``,
   or a compressed body that would inflate past it, is refused without
   allocating the whole of it.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgpack
import msgspec

from ._errors import Malformed
from ._zdict import ZDICT_V1

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_FRAME_BYTES",
    "ZDICT_V1",
    "compress",
    "decode",
    "decompress",
    "encode",
]

MAX_FRAME_BYTES = 1 << 20  # one decoded frame (a changeset with its signature)
MAX_BODY_BYTES = 256 << 10  # one compressed HTTP body
_MAX_ITEMS = 50_000  # elements in any one array or map


# msgspec sorts map keys at every level: the same value gives the same bytes (identical to
# msgpack-python's output for sorted dicts), at a fraction of the cost of sorting in Python.
_ENCODER = msgspec.msgpack.Encoder(order="sorted")


def encode(value: Any) -> bytes:
    """Canonical msgpack of ``value``: dicts with text keys, lists, str, bytes, int, float, bool, None."""
    return _ENCODER.encode(value)


def decode(data: bytes) -> Any:
    """Decode one msgpack value with every size bounded; Malformed if it is not exactly one valid value."""
    if len(data) > MAX_FRAME_BYTES:
        raise Malformed(f"frame of {len(data)} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=True,
        max_buffer_size=MAX_FRAME_BYTES,
        max_str_len=MAX_FRAME_BYTES,
        max_bin_len=MAX_FRAME_BYTES,
        max_array_len=_MAX_ITEMS,
        max_map_len=_MAX_ITEMS,
        max_ext_len=0,
    )
    try:
        unpacker.feed(data)
        value = unpacker.unpack()
    except msgpack.OutOfData:
        raise Malformed("frame ends before its value does (truncated)") from None
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, TypeError) as exc:
        raise Malformed(f"frame is not valid msgpack: {exc}") from None
    if unpacker.tell() != len(data):
        raise Malformed("frame has bytes after its value")
    return value


def compress(data: bytes, *, preset: bool = False) -> bytes:
    """zlib-compress ``data``; with ``preset`` against the shared dictionary (``ZDICT_V1``).

    Only a peer that said it reads the dictionary gets a preset stream
    (``decompress`` here always does); plain streams keep older peers working.
    """
    if not preset:
        return zlib.compress(data, 6)
    deflater = zlib.compressobj(9, zdict=ZDICT_V1)
    return deflater.compress(data) + deflater.flush()


def decompress(data: bytes, *, limit: int = MAX_FRAME_BYTES) -> bytes:
    """Inflate a zlib body, refusing (without inflating it all) one that would exceed ``limit``."""
    if len(data) > MAX_BODY_BYTES:
        raise Malformed(f"body of {len(data)} bytes exceeds the limit of {MAX_BODY_BYTES}")
    if limit < 0:
        raise ValueError("limit must not be negative")
    inflater = zlib.decompressobj(zdict=ZDICT_V1)  # used only if the stream asks for it
    try:
        # zlib reads max_length=0 as "no limit": ask for one byte past the limit and check.
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise Malformed(f"body is not zlib data: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise Malformed(f"body inflates past the limit of {limit} bytes")
    if not inflater.eof:
        raise Malformed("body is truncated (zlib stream does not end)")
    if inflater.unused_data:
        raise Malformed("body has bytes after its zlib stream")
    return out
