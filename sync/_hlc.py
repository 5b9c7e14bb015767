"""Hybrid logical clocks.

A stamp is (wall milliseconds, counter) packed into one integer
``wall_ms << 16 | counter`` so it sorts and stores as a plain SQLite integer.
Ties between nodes are broken by node id, never by the stamp alone.

Rules:
1. The clock never reads time itself: every call is given ``wall_ms``.
2. ``now`` is strictly increasing, even when the wall clock steps backwards.
3. ``observe`` merges a peer's stamp; a stamp further ahead of our wall clock
   than ``max_drift_ms`` is refused with ``ClockDrift`` (the peer's clock is wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COUNTER_BITS", "ClockDrift", "HybridClock", "Stamp"]

COUNTER_BITS = 16
_COUNTER_MAX = (1 << COUNTER_BITS) - 1


class ClockDrift(ValueError):
    """A stamp lies further in the future than the drift bound allows."""

    def __init__(self, stamp: Stamp, wall_ms: int, max_drift_ms: int) -> None:
        self.stamp = stamp
        self.ahead_ms = stamp.wall_ms - wall_ms
        super().__init__(
            f"clock stamp is {self.ahead_ms / 1000:.1f} s ahead of this clock "
            f"(limit {max_drift_ms / 1000:.0f} s): the sender's clock is wrong"
        )


@dataclass(frozen=True, order=True)
class Stamp:
    wall_ms: int
    counter: int = 0

    def pack(self) -> int:
        return (self.wall_ms << COUNTER_BITS) | self.counter

    @classmethod
    def unpack(cls, value: int) -> Stamp:
        return cls(value >> COUNTER_BITS, value & _COUNTER_MAX)

    def __str__(self) -> str:
        return f"{self.wall_ms}.{self.counter:05d}"


class HybridClock:
    """One node's clock. Not thread-safe; the node's single writer owns it."""

    def __init__(self, last: Stamp | None = None, *, max_drift_ms: int = 5 * 60_000) -> None:
        self.last = last or Stamp(0, 0)
        self.max_drift_ms = max_drift_ms

    def now(self, wall_ms: int) -> Stamp:
        """A fresh stamp for a local event happening at ``wall_ms``."""
        if wall_ms > self.last.wall_ms:
            self.last = Stamp(wall_ms, 0)
        else:
            self.last = self._bump(self.last)
        return self.last

    def observe(self, remote: Stamp, wall_ms: int) -> Stamp:
        """Merge a stamp received from a peer; returns the new local stamp."""
        if remote.wall_ms - wall_ms > self.max_drift_ms:
            raise ClockDrift(remote, wall_ms, self.max_drift_ms)
        top = max(wall_ms, self.last.wall_ms, remote.wall_ms)
        if top == self.last.wall_ms == remote.wall_ms:
            counter = max(self.last.counter, remote.counter) + 1
        elif top == self.last.wall_ms:
            counter = self.last.counter + 1
        elif top == remote.wall_ms:
            counter = remote.counter + 1
        else:
            counter = 0
        if counter > _COUNTER_MAX:
            self.last = Stamp(top + 1, 0)
        else:
            self.last = Stamp(top, counter)
        return self.last

    @staticmethod
    def _bump(stamp: Stamp) -> Stamp:
        if stamp.counter >= _COUNTER_MAX:
            return Stamp(stamp.wall_ms + 1, 0)
        return Stamp(stamp.wall_ms, stamp.counter + 1)
