"""BER-TLV as the card stores it (ISO/IEC 7816-4 annex D, the subset this card uses).

Rules:
1. Tags are one or two bytes (two when the low five bits of the first are all
   set); lengths are definite, short form below 128 and ``81 xx`` / ``82 xx xx``
   above. Nothing longer exists on this card.
2. Encoding is canonical: the shortest length form, children in the order given.
   A decoder accepts only that form, so one value has one encoding and a
   signature over the bytes means one thing.
3. ``00`` and ``FF`` bytes between or after objects are padding (an EF is
   allocated larger than its content), never a tag.
4. Any structural fault raises ``TlvError``; the callers turn it into
   "the card is damaged".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Tlv",
    "TlvError",
    "decode_all",
    "decode_one",
    "encode",
    "encode_length",
    "is_constructed",
    "total_length",
]

_PADDING = (0x00, 0xFF)


class TlvError(ValueError):
    """Bytes that are not canonical BER-TLV."""


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes

    def children(self) -> list[Tlv]:
        if not is_constructed(self.tag):
            raise TlvError(f"tag {self.tag:X} is primitive; it has no children")
        return decode_all(self.value, padding=False)


def is_constructed(tag: int) -> bool:
    first = tag >> 8 if tag > 0xFF else tag
    return bool(first & 0x20)


def _tag_bytes(tag: int) -> bytes:
    if tag <= 0xFF:
        if tag & 0x1F == 0x1F:
            raise TlvError(f"tag {tag:02X} announces a second byte")
        return bytes([tag])
    if tag > 0xFFFF or (tag >> 8) & 0x1F != 0x1F or tag & 0x80:
        raise TlvError(f"tag {tag:X} is not a two-byte tag")
    return tag.to_bytes(2, "big")


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    raise TlvError(f"length {n} is over 65535")


def encode(tag: int, value: bytes | list[bytes]) -> bytes:
    """One TLV object; a list value is the concatenation of already-encoded children."""
    body = b"".join(value) if isinstance(value, list) else value
    return _tag_bytes(tag) + encode_length(len(body)) + body


def _read_header(data: bytes, pos: int, *, whole: bool = True) -> tuple[int, int, int]:
    """``(tag, length, value_start)`` of the object at ``pos`` (``whole``: its value must be there too)."""
    end = len(data)
    if pos >= end:
        raise TlvError("truncated before a tag")
    tag = data[pos]
    if tag in _PADDING:
        raise TlvError(f"byte {tag:02X} at {pos} is padding, not a tag")
    pos += 1
    if tag & 0x1F == 0x1F:
        if pos >= end:
            raise TlvError("truncated inside a two-byte tag")
        second = data[pos]
        if second & 0x80:
            raise TlvError("tags longer than two bytes are not used on this card")
        tag = (tag << 8) | second
        pos += 1
    if pos >= end:
        raise TlvError(f"truncated before the length of tag {tag:X}")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x81:
        if pos >= end or data[pos] < 0x80:
            raise TlvError(f"length of tag {tag:X} is not in its shortest form")
        length = data[pos]
        pos += 1
    elif first == 0x82:
        if pos + 2 > end:
            raise TlvError(f"truncated inside the length of tag {tag:X}")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length <= 0xFF:
            raise TlvError(f"length of tag {tag:X} is not in its shortest form")
        pos += 2
    else:
        raise TlvError(f"length byte {first:02X} of tag {tag:X} is not used on this card")
    if whole and pos + length > end:
        raise TlvError(f"tag {tag:X} claims {length} bytes but only {end - pos} remain")
    return tag, length, pos


def decode_one(data: bytes) -> tuple[Tlv, int]:
    """The first object of ``data`` and the number of bytes it takes."""
    tag, length, start = _read_header(data, 0)
    return Tlv(tag, bytes(data[start : start + length])), start + length


def total_length(header: bytes) -> int | None:
    """How many bytes the object starting ``header`` takes, or None if the header is cut short."""
    try:
        _, length, start = _read_header(header, 0, whole=False)
    except TlvError:
        return None
    return start + length


def decode_all(data: bytes, *, padding: bool = True) -> list[Tlv]:
    """Every object of ``data`` in order; with ``padding``, 00/FF bytes between objects are skipped."""
    out: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if padding and data[pos] in _PADDING:
            pos += 1
            continue
        tag, length, start = _read_header(data, pos)
        out.append(Tlv(tag, bytes(data[start : start + length])))
        pos = start + length
    return out
