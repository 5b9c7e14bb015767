"""Card images: the bytes of a card's file system in a file the emulator serves.

Format (JSON, UTF-8)::

    {"format": "rhip-card-image/1", "atr": "3B8C80…", "aid": "D156…", "state": "active",
     "files":   {"0001": "<hex of all allocated bytes>", …},
     "records": {"0007": ["<hex of record 1>", …], …}}

Rules:
1. An image holds every EF of the layout at its allocated size; records in
   card order (record 1 first; in the cyclic visits file, record 1 is the newest).
2. ``state`` is ``active`` or ``blocked`` (the application refuses SELECT, as a
   card blocked by its issuer does).
3. ``save`` is atomic (write a temporary file, fsync, rename): an emulator
   killed mid-write leaves the old image or the new one, never half of each.
4. ``personalise`` is the issuer's side: it encodes the content, signs it with
   the card-issuing key and lays it out. Keys are passed in.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ._layout import (
    AID,
    EF,
    CardContent,
    FileKind,
    LayoutError,
    encode_emergency,
    encode_holder,
    encode_insurance,
    encode_issuer,
    encode_note,
    encode_visit,
)
from ._sign import sign_card

__all__ = ["FOREIGN_AID", "FORMAT", "HEALTH_CARD_ATR", "CardImage", "ImageError", "atr", "card_files"]

FORMAT = "rhip-card-image/1"
FOREIGN_AID = bytes.fromhex("A0000000031010")  # a payment application: a card of another kind
STATES = ("active", "blocked")


class ImageError(ValueError):
    """A card image file that cannot be used; the message names the file and the fault."""


def atr(historical: bytes) -> bytes:
    """An ATR announcing T=1 with ``historical`` bytes and its check byte."""
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


HEALTH_CARD_ATR = atr(b"RHIP-HC1")


@dataclass
class CardImage:
    atr: bytes = HEALTH_CARD_ATR
    aid: bytes = AID
    state: str = "active"
    files: dict[int, bytearray] = field(default_factory=dict)
    records: dict[int, list[bytes]] = field(default_factory=dict)

    @classmethod
    def blank(cls, *, aid: bytes = AID, card_atr: bytes = HEALTH_CARD_ATR) -> CardImage:
        """A formatted card straight from the factory: every file allocated, nothing written."""
        image = cls(card_atr, aid)
        for s in EF.ALL:
            if s.kind is FileKind.TRANSPARENT:
                image.files[s.fid] = bytearray(s.size)
            else:
                image.records[s.fid] = [bytes(s.size) for _ in range(s.records)]
        return image

    @classmethod
    def foreign(cls) -> CardImage:
        """A card of another kind (a bank card): its application is not the resident health card's."""
        return cls.blank(aid=FOREIGN_AID, card_atr=atr(b"BANKCARD"))

    @classmethod
    def personalise(
        cls, content: CardContent, *, card_key: Ed25519PrivateKey, certificate: bytes
    ) -> CardImage:
        image = cls.blank()
        for fid, data in card_files(content, card_key=card_key, certificate=certificate).items():
            if isinstance(data, list):
                image.records[fid] = data
            else:
                image.files[fid][: len(data)] = data
        return image

    # -- files ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "atr": self.atr.hex().upper(),
            "aid": self.aid.hex().upper(),
            "state": self.state,
            "files": {f"{fid:04X}": bytes(data).hex() for fid, data in sorted(self.files.items())},
            "records": {f"{fid:04X}": [r.hex() for r in recs] for fid, recs in sorted(self.records.items())},
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "image") -> CardImage:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ImageError(f"{source}: not a card image (format must be {FORMAT!r})")
        try:
            image = cls(
                bytes.fromhex(data["atr"]),
                bytes.fromhex(data["aid"]),
                str(data["state"]),
                {int(k, 16): bytearray.fromhex(v) for k, v in data["files"].items()},
                {int(k, 16): [bytes.fromhex(r) for r in v] for k, v in data["records"].items()},
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ImageError(f"{source}: damaged card image ({type(exc).__name__}: {exc})") from None
        if image.state not in STATES:
            raise ImageError(f"{source}: state {image.state!r} must be one of {', '.join(STATES)}")
        for s in EF.ALL:
            if s.kind is FileKind.TRANSPARENT:
                if len(image.files.get(s.fid, b"")) != s.size:
                    raise ImageError(f"{source}: EF {s.fid:04X} ({s.name}) must hold {s.size} bytes")
            else:
                recs = image.records.get(s.fid, [])
                if len(recs) != s.records or any(len(r) != s.size for r in recs):
                    raise ImageError(f"{source}: EF {s.fid:04X} ({s.name}) must hold {s.records} records")
        return image

    @classmethod
    def load(cls, path: Path) -> CardImage:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ImageError(f"{path}: cannot read the card image ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise ImageError(f"{path}: not a card image (not JSON)") from None
        return cls.from_json(data, source=str(path))

    def save(self, path: Path) -> None:
        """Write the image atomically, readable by its owner only (it holds personal data)."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.to_json(), fh, indent=1)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def card_files(
    content: CardContent, *, card_key: Ed25519PrivateKey, certificate: bytes
) -> dict[int, bytes | list[bytes]]:
    """Every EF's bytes for ``content``: templates (unpadded) for transparent EFs, full records for others."""
    number = content.issuer.card_number
    signed = {
        EF.ISSUER.fid: encode_issuer(content.issuer),
        EF.HOLDER.fid: encode_holder(content.holder),
        EF.EMERGENCY.fid: encode_emergency(content.emergency),
        EF.INSURANCE.fid: encode_insurance(content.insurance_number),
    }
    if len(content.visits) > EF.VISITS.records:
        raise LayoutError(f"visits: {len(content.visits)} is more than the ring holds ({EF.VISITS.records})")
    if len(content.notes) > EF.NOTES.records:
        raise LayoutError(f"notes: {len(content.notes)} is more than the card holds ({EF.NOTES.records})")
    blank_visit, blank_note = bytes(EF.VISITS.size), bytes(EF.NOTES.size)
    visits = [encode_visit(v, card_number=number) for v in content.visits]
    notes = [encode_note(n, card_number=number) for n in content.notes]
    out: dict[int, bytes | list[bytes]] = dict(signed)
    out[EF.CERTIFICATE.fid] = certificate
    out[EF.SIGNATURE.fid] = sign_card(card_key, signed)
    out[EF.VISITS.fid] = visits + [blank_visit] * (EF.VISITS.records - len(visits))
    out[EF.NOTES.fid] = notes + [blank_note] * (EF.NOTES.records - len(notes))
    for fid, data in out.items():
        spec = next(s for s in EF.ALL if s.fid == fid)
        if isinstance(data, bytes) and len(data) > spec.size:
            raise LayoutError(f"{spec.name}: {len(data)} bytes is over the card's {spec.size}")
    return out
