"""Reader and card events, and how two snapshots of the readers become events (pure).

Rules:
1. A snapshot maps each reader's name to whether a card is in it (and its
   ATR). Events are the difference between two snapshots, in an order a desk
   can follow: cards withdrawn, then readers detached, then readers attached,
   then cards inserted.
2. A reader that disappears with a card in it reports the card withdrawn
   first; a reader that appears with a card in it reports the card inserted
   after the reader. A card swapped between two polls (another ATR) is a
   withdrawal and an insertion.
3. ``at`` is the monotonic time (seconds) at which PC/SC reported the change,
   passed in: the monitor stamps it, the desk measures from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CardEvent",
    "CardInserted",
    "CardWithdrawn",
    "ReaderAttached",
    "ReaderDetached",
    "ReaderState",
    "ServiceLost",
    "diff",
]


@dataclass(frozen=True)
class ReaderState:
    present: bool = False
    atr: bytes = b""


@dataclass(frozen=True)
class ReaderAttached:
    reader: str
    at: float


@dataclass(frozen=True)
class ReaderDetached:
    reader: str
    at: float


@dataclass(frozen=True)
class CardInserted:
    reader: str
    atr: bytes
    at: float


@dataclass(frozen=True)
class CardWithdrawn:
    reader: str
    at: float


@dataclass(frozen=True)
class ServiceLost:
    """The PC/SC service (pcscd) stopped answering; the monitor keeps trying to reach it."""

    message: str
    at: float


CardEvent = ReaderAttached | ReaderDetached | CardInserted | CardWithdrawn | ServiceLost


def diff(
    before: Mapping[str, ReaderState], after: Mapping[str, ReaderState], *, at: float
) -> list[CardEvent]:
    """The events that take the readers from ``before`` to ``after``."""
    withdrawn: list[CardEvent] = []
    detached: list[CardEvent] = []
    attached: list[CardEvent] = []
    inserted: list[CardEvent] = []
    for reader in sorted(before.keys() | after.keys()):
        old, new = before.get(reader), after.get(reader)
        was = old is not None and old.present
        now = new is not None and new.present
        swapped = was and now and old is not None and new is not None and old.atr != new.atr
        if was and (not now or swapped):
            withdrawn.append(CardWithdrawn(reader, at))
        if old is not None and new is None:
            detached.append(ReaderDetached(reader, at))
        if old is None and new is not None:
            attached.append(ReaderAttached(reader, at))
        if now and new is not None and (not was or swapped):
            inserted.append(CardInserted(reader, new.atr, at))
    return withdrawn + detached + attached + inserted
