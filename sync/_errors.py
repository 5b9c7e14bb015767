"""Sync errors, split by who was wrong.

::

    SyncError
    ├── PeerError            the other side sent something we must refuse
    │   ├── Malformed        not a well-formed frame, or over a size limit
    │   ├── BadSignature     bytes not signed by the key they claim
    │   ├── ChainBroken      seq or prev_hash does not continue the feed (a gap)
    │   ├── Fork             same seq, different bytes: quarantine, never apply
    │   └── ClockSkew        an HLC stamp too far in the future
    └── LocalError           we are in a state we must not send from
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "ChainBroken",
    "ClockSkew",
    "Fork",
    "LocalError",
    "Malformed",
    "PeerError",
    "SyncError",
]


class SyncError(Exception):
    """Base of every sync error. ``reason`` is a short machine-readable code."""

    reason = "sync-error"


class PeerError(SyncError):
    reason = "peer-error"


class Malformed(PeerError):
    reason = "malformed"


class BadSignature(PeerError):
    reason = "bad-signature"


class ChainBroken(PeerError):
    """The changeset does not follow the feed's head: ``expected_seq`` is what would."""

    reason = "chain-broken"

    def __init__(self, message: str, *, expected_seq: int) -> None:
        super().__init__(message)
        self.expected_seq = expected_seq


class Fork(PeerError):
    reason = "fork"

    def __init__(self, message: str, *, seq: int, held_hash: bytes, offered_hash: bytes) -> None:
        super().__init__(message)
        self.seq = seq
        self.held_hash = held_hash
        self.offered_hash = offered_hash


class ClockSkew(PeerError):
    reason = "clock-skew"

    def __init__(self, message: str, *, ahead_ms: int) -> None:
        super().__init__(message)
        self.ahead_ms = ahead_ms


class LocalError(SyncError):
    reason = "local-error"
