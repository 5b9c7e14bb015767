"""The envelope every record travels in, on a node, over sync and at the hub.

A record is never edited. A new version of a clinical fact is a new envelope
with ``supersedes`` pointing at the previous version and the same ``fact_id``;
``status`` says whether it amends the fact or marks it entered-in-error. A
demographic change is a new ``resident`` envelope whose ``changed`` lists the
fields it sets (per-field last-writer-wins by ``(hlc, author)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["RecordEnvelope", "Status"]


class Status(StrEnum):
    FINAL = "final"
    AMENDED = "amended"
    ENTERED_IN_ERROR = "entered-in-error"


@dataclass(frozen=True)
class RecordEnvelope:
    id: str  # UUIDv7 minted where the record was created
    fact_id: str  # id of the first version of this fact (== id for a new fact)
    type: str
    v: int  # schema version of ``data``
    resident_id: str
    author: str  # node id of the node that wrote it
    hlc: int  # packed hybrid logical clock stamp
    effective: str  # the date/time the fact is about, orders the file tree
    data: dict[str, Any]
    status: Status = Status.FINAL
    supersedes: str | None = None
    recorded_by: str | None = None  # staff account on the authoring node
    reason: str | None = None  # why a correction or retraction was made
    changed: tuple[str, ...] | None = field(default=None)  # demographic fields this version sets

    def as_dict(self) -> dict[str, Any]:
        """The envelope as plain data (``data`` is shared, not copied: envelopes are never mutated)."""
        return {
            "id": self.id,
            "fact_id": self.fact_id,
            "type": self.type,
            "v": self.v,
            "resident_id": self.resident_id,
            "author": self.author,
            "hlc": self.hlc,
            "effective": self.effective,
            "data": self.data,
            "status": str(self.status),
            "supersedes": self.supersedes,
            "recorded_by": self.recorded_by,
            "reason": self.reason,
            "changed": list(self.changed) if self.changed is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RecordEnvelope:
        changed = d.get("changed")
        return cls(
            id=d["id"],
            fact_id=d["fact_id"],
            type=d["type"],
            v=int(d["v"]),
            resident_id=d["resident_id"],
            author=d["author"],
            hlc=int(d["hlc"]),
            effective=d["effective"],
            data=d["data"],
            status=Status(d.get("status", "final")),
            supersedes=d.get("supersedes"),
            recorded_by=d.get("recorded_by"),
            reason=d.get("reason"),
            changed=tuple(changed) if changed is not None else None,
        )
