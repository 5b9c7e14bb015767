"""The resident health card: its file layout, APDUs, signatures, PC/SC access, events and an emulator.

Knows nothing of HTTP or the database. The pure parts (``_apdu``, ``_tlv``,
``_layout``, ``_sign``, ``_image``, ``_card``, ``_desk``, ``_events``) take a
``transmit(bytes) -> bytes`` function, keys and dates as arguments; only
``_emulator`` opens a socket. PC/SC itself (pyscard, libpcsclite) is the
public submodule ``cardreader.pcsc``, imported only where a reader is used,
so the hub and the node's API load this package on machines without one.

Errors (``str(exc)`` is the message the desk shows; ``exc.reason`` is stable)::

    CardError
    ├── ReaderError          the reader or the PC/SC service; the card may be fine
    │   ├── PcscUnavailable  pcscd is not running
    │   ├── NoReader         no reader connected (or not the one named)
    │   ├── ReaderGone       the reader was unplugged
    │   ├── ReaderTimeout    nothing in time: no event, or a read that stalls
    │   └── NoCard           no card in the reader
    ├── UntrustedNode        this node has no hub key to check cards with
    ├── CardRemoved          taken out mid-read or mid-write
    ├── CardUnresponsive     answers nothing sensible
    ├── NotAHealthCard       a card of another kind, or a blank one
    ├── CardBlocked          blocked by its issuer
    ├── CardCorrupted        its data is damaged
    ├── CardForged           signature or issuer certificate does not verify
    ├── CardExpired          genuine, past its date (``.card`` holds what it says)
    └── CardFull             no room left for an emergency note
"""

from __future__ import annotations

from ._apdu import SW, Channel, Command, Response, Transmit
from ._card import VirtualCard
from ._desk import (
    TRANSPARENT_EFS,
    CardFiles,
    CardRead,
    add_note,
    append_visit,
    open_card,
    read_files,
    write_card,
)
from ._emergency import allergies_from, conditions_from, emergency_from, new_notes, visit_from
from ._emulator import VPCD_HOST, VPCD_PORT, Emulator
from ._errors import (
    CardBlocked,
    CardCorrupted,
    CardError,
    CardExpired,
    CardForged,
    CardFull,
    CardRemoved,
    CardUnresponsive,
    NoCard,
    NoReader,
    NotAHealthCard,
    PcscUnavailable,
    ReaderError,
    ReaderGone,
    ReaderTimeout,
    UntrustedNode,
)
from ._events import (
    CardEvent,
    CardInserted,
    CardWithdrawn,
    ReaderAttached,
    ReaderDetached,
    ReaderState,
    ServiceLost,
    diff,
)
from ._image import HEALTH_CARD_ATR, CardImage, ImageError, card_files
from ._layout import (
    AID,
    CONDITIONS,
    EF,
    LIMITS,
    Allergy,
    BloodGroup,
    CardContent,
    Contact,
    Emergency,
    EmergencyNote,
    Holder,
    Issuer,
    LayoutError,
    Visit,
    encode_note,
    encode_visit,
)
from ._sign import certify_issuer, decode_certificate, key_id, public_bytes

__all__ = [
    "AID",
    "CONDITIONS",
    "EF",
    "HEALTH_CARD_ATR",
    "LIMITS",
    "SW",
    "TRANSPARENT_EFS",
    "VPCD_HOST",
    "VPCD_PORT",
    "Allergy",
    "BloodGroup",
    "CardBlocked",
    "CardContent",
    "CardCorrupted",
    "CardError",
    "CardEvent",
    "CardExpired",
    "CardFiles",
    "CardForged",
    "CardFull",
    "CardImage",
    "CardInserted",
    "CardRead",
    "CardRemoved",
    "CardUnresponsive",
    "CardWithdrawn",
    "Channel",
    "Command",
    "Contact",
    "Emergency",
    "EmergencyNote",
    "Emulator",
    "Holder",
    "ImageError",
    "Issuer",
    "LayoutError",
    "NoCard",
    "NoReader",
    "NotAHealthCard",
    "PcscUnavailable",
    "ReaderAttached",
    "ReaderDetached",
    "ReaderError",
    "ReaderGone",
    "ReaderState",
    "ReaderTimeout",
    "Response",
    "ServiceLost",
    "Transmit",
    "UntrustedNode",
    "VirtualCard",
    "Visit",
    "add_note",
    "allergies_from",
    "append_visit",
    "card_files",
    "certify_issuer",
    "conditions_from",
    "decode_certificate",
    "diff",
    "emergency_from",
    "encode_note",
    "encode_visit",
    "key_id",
    "new_notes",
    "open_card",
    "public_bytes",
    "read_files",
    "visit_from",
    "write_card",
]
