"""The sync protocol core (sans-I/O): clocks now; envelopes, signatures and feeds to come.

Nothing here reads the clock, draws randomness or touches the network or disk:
time, ids and keys are passed in.
"""

from __future__ import annotations

from ._hlc import COUNTER_BITS, ClockDrift, HybridClock, Stamp

__all__ = ["COUNTER_BITS", "ClockDrift", "HybridClock", "Stamp"]
