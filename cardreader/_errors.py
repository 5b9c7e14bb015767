"""What can go wrong at the desk with a card, each with the message the desk shows.

Every error is a ``CardError`` with a ``reason`` (stable, for programs and the
API) and a message a clerk can act on. Faults of the card in the reader (the
peer) are split from faults of the reader, the PC/SC service or our own use
of them, so the desk can say "try another reader" or "refer the card to the hub".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._desk import CardRead

__all__ = [
    "CardBlocked",
    "CardCorrupted",
    "CardError",
    "CardExpired",
    "CardForged",
    "CardFull",
    "CardRemoved",
    "CardUnresponsive",
    "NoCard",
    "NoReader",
    "NotAHealthCard",
    "PcscUnavailable",
    "ReaderError",
    "ReaderGone",
    "ReaderTimeout",
    "UntrustedNode",
]


class CardError(Exception):
    """Base of every card and reader problem; ``str(exc)`` is the desk message."""

    reason = "card-error"


# -- the reader, the PC/SC service, or our set-up -------------------------------------


class ReaderError(CardError):
    """The reader or the PC/SC service failed; the card itself may be fine."""

    reason = "reader-error"


class PcscUnavailable(ReaderError):
    reason = "pcsc-unavailable"


class NoReader(ReaderError):
    reason = "no-reader"


class ReaderGone(ReaderError):
    reason = "reader-gone"


class ReaderTimeout(ReaderError):
    reason = "timeout"


class NoCard(ReaderError):
    reason = "no-card"


class UntrustedNode(CardError):
    """This node has no trust anchor to check cards with (not enrolled with a hub)."""

    reason = "no-trust-anchor"


# -- the card in the reader -----------------------------------------------------------


class CardRemoved(CardError):
    reason = "card-removed"


class CardUnresponsive(CardError):
    reason = "card-unresponsive"


class NotAHealthCard(CardError):
    reason = "not-a-health-card"


class CardBlocked(CardError):
    reason = "blocked"


class CardCorrupted(CardError):
    reason = "corrupted"


class CardForged(CardError):
    reason = "forged"


class CardFull(CardError):
    reason = "card-full"


class CardExpired(CardError):
    """Genuine but past its expiry date; ``card`` still holds what it says (emergency data included)."""

    reason = "expired"

    def __init__(self, message: str, *, card: CardRead) -> None:
        super().__init__(message)
        self.card = card
