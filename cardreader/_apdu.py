"""Command and response APDUs (ISO/IEC 7816-4, short form) and the exchange rules around them.

Rules:
1. Only short APDUs: at most 255 data bytes out and 256 in (``Le`` 256 is
   sent as ``00``). Longer files are read and written in chunks.
2. ``61xx`` means "xx more bytes wait" (``00``: 256 or more): the reader sends
   GET RESPONSE until the card stops saying so, and the pieces are joined.
3. ``6Cxx`` means "wrong Le, the right one is xx": the same command is sent
   once more with that Le. A second ``6Cxx`` is the card misbehaving.
4. A response shorter than its two status bytes is a card fault
   (``CardUnresponsive``), never an index error.
5. Everything here is pure: the transport is a ``transmit(bytes) -> bytes``
   callable passed in (pyscard in production, the virtual card in tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from ._errors import CardUnresponsive

__all__ = [
    "MAX_LC",
    "MAX_LE",
    "SW",
    "Channel",
    "Command",
    "Response",
    "Transmit",
    "append_record",
    "get_response",
    "read_binary",
    "read_record",
    "select_aid",
    "select_fid",
    "update_binary",
    "update_record",
]

Transmit = Callable[[bytes], bytes]
MAX_LC = 255
MAX_LE = 256
_MAX_GET_RESPONSE = 64  # GET RESPONSE rounds for one command (16 KB at 256 each): more is a looping card


class SW(IntEnum):
    """The status words this card and its reader use."""

    OK = 0x9000
    END_OF_FILE = 0x6282  # fewer bytes than Le: the end of the file was reached
    FILE_INVALIDATED = 0x6283  # the selected application is blocked
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982
    COMMAND_NOT_ALLOWED = 0x6986  # e.g. READ BINARY on a record file
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NOT_ENOUGH_MEMORY = 0x6A84
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # expected response bytes, 1-256; None: none expected

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name}: {value} is not a byte")
        if len(self.data) > MAX_LC:
            raise ValueError(f"data: {len(self.data)} bytes is over the short-APDU limit of {MAX_LC}")
        if self.le is not None and not 1 <= self.le <= MAX_LE:
            raise ValueError(f"le: {self.le} must be 1-{MAX_LE}")

    def encode(self) -> bytes:
        out = bytes([self.cla, self.ins, self.p1, self.p2])
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le % 256])
        return out

    @classmethod
    def decode(cls, raw: bytes) -> Command:
        """Parse a short APDU (the card's side); ValueError if it is not one."""
        if len(raw) < 4:
            raise ValueError(f"an APDU has at least 4 bytes, not {len(raw)}")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        lc = body[0]
        if lc == 0:
            raise ValueError("extended-length APDUs are not supported")
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:]))
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:-1]), le=body[-1] or 256)
        raise ValueError(f"Lc {lc} does not match the {len(body) - 1} bytes that follow")

    def with_le(self, le: int) -> Command:
        return Command(self.cla, self.ins, self.p1, self.p2, self.data, le)


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW.OK

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def decode(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise CardUnresponsive(
                f"the card answered {len(raw)} byte(s), not even a status; take it out and insert it again"
            )
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))


def select_aid(aid: bytes) -> Command:
    """SELECT by DF name (the application identifier), first or only occurrence, FCI returned."""
    return Command(0x00, 0xA4, 0x04, 0x00, aid, le=MAX_LE)


def select_fid(fid: int) -> Command:
    """SELECT an EF under the current DF by its file identifier, FCP returned."""
    return Command(0x00, 0xA4, 0x02, 0x04, fid.to_bytes(2, "big"), le=MAX_LE)


def read_binary(offset: int, le: int, *, sfi: int | None = None) -> Command:
    """READ BINARY of the current EF at a 15-bit offset, or of EF ``sfi`` at an offset below 256."""
    if sfi is not None:
        if not 1 <= sfi <= 30 or not 0 <= offset <= 0xFF:
            raise ValueError(f"READ BINARY by SFI needs sfi 1-30 and offset 0-255, not {sfi}/{offset}")
        return Command(0x00, 0xB0, 0x80 | sfi, offset, le=le)
    if not 0 <= offset <= 0x7FFF:
        raise ValueError(f"offset: {offset} is over 32767")
    return Command(0x00, 0xB0, offset >> 8, offset & 0xFF, le=le)


def update_binary(offset: int, data: bytes) -> Command:
    if not 0 <= offset <= 0x7FFF:
        raise ValueError(f"offset: {offset} is over 32767")
    return Command(0x00, 0xD6, offset >> 8, offset & 0xFF, data)


def read_record(number: int, sfi: int, le: int = MAX_LE) -> Command:
    """READ RECORD ``number`` (1 = first; in a cyclic file, the newest) of EF ``sfi``."""
    return Command(0x00, 0xB2, number, (sfi << 3) | 0x04, le=le)


def update_record(number: int, sfi: int, data: bytes) -> Command:
    return Command(0x00, 0xDC, number, (sfi << 3) | 0x04, data)


def append_record(sfi: int, data: bytes) -> Command:
    """APPEND RECORD: in a cyclic file the new record becomes record 1 and the oldest is overwritten."""
    return Command(0x00, 0xE2, 0x00, sfi << 3, data)


def get_response(le: int) -> Command:
    return Command(0x00, 0xC0, 0x00, 0x00, le=le)


class Channel:
    """A transmit function with the exchange rules applied and the APDUs counted."""

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit
        self.apdus = 0

    def _send(self, command: Command) -> Response:
        self.apdus += 1
        return Response.decode(self._transmit(command.encode()))

    def exchange(self, command: Command) -> Response:
        response = self._send(command)
        if response.sw1 == 0x6C:
            response = self._send(command.with_le(response.sw2 or MAX_LE))
            if response.sw1 == 0x6C:
                raise CardUnresponsive("the card asked twice for another length (6Cxx); it is faulty")
        data = response.data
        rounds = 0
        while response.sw1 == 0x61:
            rounds += 1
            if rounds > _MAX_GET_RESPONSE:
                raise CardUnresponsive("the card keeps announcing more data (61xx); it is faulty")
            response = self._send(get_response(response.sw2 or MAX_LE))
            data += response.data
        return Response(data, response.sw)
