"""Merge rules.

1. Clinical facts are immutable: a record id is stored once; a second copy
   with the same id and the same content is a no-op, with different content it
   is refused (``ConflictingCopy``) — a correction is always a new record.
2. Demographics merge per field: the value with the highest
   ``(hlc, author)`` wins. The loser is never dropped: it is returned so the
   caller keeps it in history.
3. A losing value is a *conflict* (for a person to confirm) when its writer
   had not seen the winning value: the change was not based on the version
   that set the winner (``based_on``). A later edit on top of the winner is
   an ordinary update, not a conflict.
4. Stamps from a node whose clock runs ahead are clamped to the receiver's
   clock plus the drift bound before comparing, so a wrong clock cannot win
   every field for days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._errors import PeerError
from ._hlc import COUNTER_BITS

__all__ = ["ConflictingCopy", "FieldMerge", "FieldVersion", "clamp_stamp", "merge_field", "same_fact"]


class ConflictingCopy(PeerError):
    reason = "conflicting-copy"


@dataclass(frozen=True)
class FieldVersion:
    value: Any
    hlc: int
    author: str
    record_id: str
    based_on: str | None = None  # the resident version the writer edited (its ``supersedes``)

    def key(self) -> tuple[int, str, str]:
        # record_id breaks the (impossible but for a cloned node) tie, so every order converges.
        return (self.hlc, self.author, self.record_id)


@dataclass(frozen=True)
class FieldMerge:
    winner: FieldVersion
    loser: FieldVersion | None
    conflict: bool
    changed: bool  # the current value changed


def clamp_stamp(hlc: int, received_ms: int, max_ahead_ms: int) -> int:
    limit = (received_ms + max_ahead_ms) << COUNTER_BITS
    return min(hlc, limit)


def merge_field(current: FieldVersion | None, incoming: FieldVersion) -> FieldMerge:
    if current is None:
        return FieldMerge(incoming, None, conflict=False, changed=True)
    if current.record_id == incoming.record_id:
        return FieldMerge(current, None, conflict=False, changed=False)
    if incoming.key() > current.key():
        winner, loser = incoming, current
        # The writer edited the version that set the current value: an ordinary update.
        seen = incoming.based_on == current.record_id
    else:
        winner, loser = current, incoming
        seen = False
    conflict = not seen and loser.value != winner.value
    return FieldMerge(winner, loser, conflict=conflict, changed=winner is incoming)


def same_fact(stored: dict[str, Any], offered: dict[str, Any]) -> bool:
    """True if two copies of one record id are the same; raises ConflictingCopy if not."""
    if stored == offered:
        return True
    raise ConflictingCopy(
        f"record {offered.get('id')} arrived with content different from the copy already held; "
        "records are immutable, so one of the two writers is faulty"
    )
