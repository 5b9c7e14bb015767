"""What the generator yields: residents to register and clinical records about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SynthItem", "SynthRecord", "SynthResident"]


@dataclass(frozen=True)
class SynthResident:
    """A resident to register. ``refs`` maps ``family.mother_id`` etc. to earlier residents' keys."""

    key: str
    data: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    newborn: bool = False  # born during the generated period (not part of ``residents``)


@dataclass(frozen=True)
class SynthRecord:
    """A clinical record of ``resident_key``; ``refs`` maps dotted paths in ``data`` to earlier keys."""

    key: str
    resident_key: str
    type: str
    data: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)


SynthItem = SynthResident | SynthRecord
