"""The virtual card's operating system: ISO 7816-4 commands over a card image, no I/O.

Rules:
1. Commands: SELECT (by AID, by FID, the MF), READ BINARY and UPDATE BINARY
   (15-bit offset on the current EF, or SFI with an offset below 256), READ
   RECORD and UPDATE RECORD (record number, SFI or current EF), APPEND RECORD
   (cyclic: becomes record 1, the oldest is lost; linear: the first blank
   record, ``6A84`` when none is left), GET RESPONSE. Anything else: ``6D00``.
2. Elementary files are reached only once the application is selected. A
   blocked application answers its SELECT with ``6283`` and stays unselected.
3. READ BINARY past the end returns what there is with ``6282``; READ RECORD
   with an Le that is not the record length answers ``6Cxx`` (the right Le).
4. ``get_response=True`` behaves as a T=0 card: every answer with data is
   announced as ``61xx`` and fetched with GET RESPONSE, at most ``chunk`` bytes
   at a time (so the reader's 61xx chaining is exercised).
5. Every successful update calls ``on_change`` with the image, once, after the
   change: the emulator saves the image there.
"""

from __future__ import annotations

from collections.abc import Callable

from ._apdu import MAX_LE, SW, Command, Response
from ._image import CardImage
from ._layout import EF, MF, FileKind, FileSpec
from ._tlv import encode

__all__ = ["VirtualCard"]


class VirtualCard:
    """One card: its image, what is selected, and a pending response for GET RESPONSE."""

    def __init__(
        self,
        image: CardImage,
        *,
        get_response: bool = False,
        chunk: int = MAX_LE,
        on_change: Callable[[CardImage], None] | None = None,
    ) -> None:
        self.image = image
        self.get_response = get_response
        self.chunk = max(1, min(chunk, MAX_LE))
        self.on_change = on_change
        self.commands = 0
        self.reset()

    def reset(self) -> None:
        self.app = False
        self.current: FileSpec | None = None
        self._pending = b""

    # -- entry point ---------------------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """One command APDU in, one response APDU out."""
        self.commands += 1
        try:
            command = Command.decode(raw)
        except ValueError:
            return Response(b"", SW.WRONG_LENGTH).encode()
        if command.cla != 0x00:
            return Response(b"", SW.CLA_NOT_SUPPORTED).encode()
        if command.ins == 0xC0:
            return self._get_response(command).encode()
        self._pending = b""
        handler = {
            0xA4: self._select,
            0xB0: self._read_binary,
            0xD6: self._update_binary,
            0xB2: self._read_record,
            0xDC: self._update_record,
            0xE2: self._append_record,
        }.get(command.ins)
        response = handler(command) if handler else Response(b"", SW.INS_NOT_SUPPORTED)
        if self.get_response and response.data and response.sw in (SW.OK, SW.END_OF_FILE):
            self._pending = response.data
            return Response(b"", 0x6100 | min(len(response.data), MAX_LE) % 256).encode()
        return response.encode()

    def _get_response(self, command: Command) -> Response:
        if not self._pending:
            return Response(b"", 0x6985)  # conditions of use not satisfied: nothing waits
        size = min(command.le or MAX_LE, self.chunk)
        out, self._pending = self._pending[:size], self._pending[size:]
        if self._pending:
            return Response(out, 0x6100 | min(len(self._pending), MAX_LE) % 256)
        return Response(out, SW.OK)

    # -- selection -------------------------------------------------------------------------------

    def _select(self, c: Command) -> Response:
        if c.p1 == 0x04:
            if c.data != self.image.aid:
                return Response(b"", SW.FILE_NOT_FOUND)
            if self.image.state == "blocked":
                self.app, self.current = False, None
                return Response(b"", SW.FILE_INVALIDATED)
            self.app, self.current = True, None
            fci = encode(0x6F, [encode(0x84, self.image.aid), encode(0xA5, [encode(0x88, b"\x01")])])
            return Response(fci, SW.OK)
        if c.p1 in (0x00, 0x02) and len(c.data) == 2:
            fid = int.from_bytes(c.data, "big")
            if fid == MF and c.p1 == 0x00:
                self.app, self.current = False, None
                return Response(encode(0x62, [encode(0x82, b"\x38"), encode(0x83, c.data)]), SW.OK)
            if not self.app:
                return Response(b"", SW.FILE_NOT_FOUND)
            spec = next((s for s in EF.ALL if s.fid == fid), None)
            if spec is None:
                return Response(b"", SW.FILE_NOT_FOUND)
            self.current = spec
            return Response(self._fcp(spec), SW.OK)
        return Response(b"", SW.WRONG_P1P2)

    @staticmethod
    def _fcp(spec: FileSpec) -> bytes:
        if spec.kind is FileKind.TRANSPARENT:
            descriptor = b"\x01"
        else:
            kind = 0x06 if spec.kind is FileKind.CYCLIC else 0x02
            descriptor = bytes([kind, 0x21]) + spec.size.to_bytes(2, "big") + bytes([spec.records])
        return encode(
            0x62,
            [
                encode(0x80, spec.allocated.to_bytes(2, "big")),
                encode(0x82, descriptor),
                encode(0x83, spec.fid.to_bytes(2, "big")),
                encode(0x88, bytes([spec.sfi << 3])),
            ],
        )

    def _by_sfi(self, sfi: int) -> FileSpec | None:
        if not self.app:
            return None
        spec = next((s for s in EF.ALL if s.sfi == sfi), None)
        if spec is not None:
            self.current = spec
        return spec

    # -- transparent files -------------------------------------------------------------------------

    def _binary_target(self, c: Command) -> tuple[FileSpec | None, int, Response | None]:
        if c.p1 & 0x80:
            if c.p1 & 0x60:
                return None, 0, Response(b"", SW.WRONG_P1P2)
            spec = self._by_sfi(c.p1 & 0x1F)
            offset = c.p2
        else:
            spec = self.current if self.app else None
            offset = (c.p1 << 8) | c.p2
        if spec is None:
            return None, 0, Response(b"", SW.FILE_NOT_FOUND)
        if spec.kind is not FileKind.TRANSPARENT:
            return None, 0, Response(b"", SW.COMMAND_NOT_ALLOWED)
        if offset > spec.size:
            return None, 0, Response(b"", SW.WRONG_P1P2)
        return spec, offset, None

    def _read_binary(self, c: Command) -> Response:
        spec, offset, refused = self._binary_target(c)
        if refused is not None or spec is None:
            return refused or Response(b"", SW.FILE_NOT_FOUND)
        want = c.le or MAX_LE
        data = bytes(self.image.files[spec.fid][offset : offset + want])
        return Response(data, SW.OK if len(data) == want else SW.END_OF_FILE)

    def _update_binary(self, c: Command) -> Response:
        spec, offset, refused = self._binary_target(c)
        if refused is not None or spec is None:
            return refused or Response(b"", SW.FILE_NOT_FOUND)
        if offset + len(c.data) > spec.size:
            return Response(b"", SW.NOT_ENOUGH_MEMORY)
        self.image.files[spec.fid][offset : offset + len(c.data)] = c.data
        self._changed()
        return Response(b"", SW.OK)

    # -- record files ------------------------------------------------------------------------------

    def _record_target(self, c: Command, *, numbered: bool = True) -> tuple[FileSpec | None, Response | None]:
        if numbered and c.p2 & 0x07 != 0x04:
            return None, Response(b"", 0x6A86)  # only "record number in P1" is supported
        sfi = c.p2 >> 3
        spec = self._by_sfi(sfi) if sfi else (self.current if self.app else None)
        if spec is None:
            return None, Response(b"", SW.FILE_NOT_FOUND)
        if spec.kind is FileKind.TRANSPARENT:
            return None, Response(b"", SW.COMMAND_NOT_ALLOWED)
        if numbered and not 1 <= c.p1 <= spec.records:
            return None, Response(b"", SW.RECORD_NOT_FOUND)
        return spec, None

    def _read_record(self, c: Command) -> Response:
        spec, refused = self._record_target(c)
        if refused is not None or spec is None:
            return refused or Response(b"", SW.FILE_NOT_FOUND)
        if (c.le or MAX_LE) != spec.size:
            return Response(b"", 0x6C00 | spec.size % 256)
        return Response(self.image.records[spec.fid][c.p1 - 1], SW.OK)

    def _update_record(self, c: Command) -> Response:
        spec, refused = self._record_target(c)
        if refused is not None or spec is None:
            return refused or Response(b"", SW.FILE_NOT_FOUND)
        if len(c.data) > spec.size:
            return Response(b"", SW.WRONG_LENGTH)
        self.image.records[spec.fid][c.p1 - 1] = c.data + bytes(spec.size - len(c.data))
        self._changed()
        return Response(b"", SW.OK)

    def _append_record(self, c: Command) -> Response:
        if c.p1 != 0 or c.p2 & 0x07:
            return Response(b"", SW.WRONG_P1P2)
        spec, refused = self._record_target(c, numbered=False)
        if refused is not None or spec is None:
            return refused or Response(b"", SW.FILE_NOT_FOUND)
        if len(c.data) > spec.size:
            return Response(b"", SW.WRONG_LENGTH)
        record = c.data + bytes(spec.size - len(c.data))
        records = self.image.records[spec.fid]
        if spec.kind is FileKind.CYCLIC:
            records.insert(0, record)
            records.pop()
        else:
            blank = next((i for i, r in enumerate(records) if not any(r)), None)
            if blank is None:
                return Response(b"", SW.NOT_ENOUGH_MEMORY)
            records[blank] = record
        self._changed()
        return Response(b"", SW.OK)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.image)
