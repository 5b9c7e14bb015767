"""The resident health card at this node: who the card belongs to here, and what to write after a visit.

Rules:
1. A card is matched to a resident of this node by its identity number
   (exact), else by its card number (exact), through the desk search index
   (``_search``). No match is not an error: the card's own data still
   identifies the person and shows the emergency data, marked as from the card.
2. What the node adds after a visit (``card_writes``) is the visit's ring record
   and the emergency notes for what the node knows that the card does not
   show (``cardreader.new_notes``): the card only ever gains warnings.
3. Role checks and the audit are the API's; these functions read the store only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cardreader import (
    CardContent,
    Channel,
    Emergency,
    EmergencyNote,
    Visit,
    add_note,
    append_visit,
    emergency_from,
    encode_note,
    encode_visit,
    new_notes,
    visit_from,
)
from schemas import RecordEnvelope

from ._rows import NotFound
from ._store import NodeStore

__all__ = ["EMERGENCY_TYPES", "CardMatch", "CardWrites", "card_writes", "match_card", "node_emergency"]

# Record types the emergency data set is drawn from (besides the resident's own fields).
EMERGENCY_TYPES = ["allergy", "hypertension_followup", "diabetes_followup", "mental_followup", "tb_followup"]


@dataclass(frozen=True)
class CardMatch:
    resident_id: str
    matched_by: str  # id_number or card_number


@dataclass(frozen=True)
class CardWrites:
    visit: Visit
    notes: list[EmergencyNote]

    def as_json(self, card: CardContent) -> dict[str, Any]:
        """What to write, for a desk app holding the card: the records as hex, and the notes already on it."""
        number = card.issuer.card_number
        return {
            "visit": encode_visit(self.visit, card_number=number).hex(),
            "notes": [encode_note(n, card_number=number).hex() for n in self.notes],
            "notes_on_card": len(card.notes),
        }

    def write(self, ch: Channel, card: CardContent) -> None:
        """Onto ``card`` (as read): the visit into its ring, the notes after those it holds."""
        number = card.issuer.card_number
        append_visit(ch, self.visit, card_number=number)
        for i, note in enumerate(self.notes):
            add_note(ch, note, card_number=number, written=len(card.notes) + i)


def match_card(store: NodeStore, content: CardContent) -> CardMatch | None:
    """The resident of this node the card belongs to, or None."""
    wanted = (
        ("id_number", content.holder.id_number.upper()),
        ("card_number", content.issuer.card_number.upper()),
    )
    for kind, value in wanted:
        for hit in store.search(value, limit=5):
            if str(hit.get(kind) or "").upper() == value and hit.get("exact"):
                return CardMatch(str(hit["id"]), kind)
    return None


def node_emergency(store: NodeStore, resident_id: str, *, encounters: bool = False) -> Emergency:
    """The emergency data set as this node's records have it."""
    resident = store.resident(resident_id)
    types = EMERGENCY_TYPES + (["encounter"] if encounters else [])
    records = [(e.type, e.data) for e in store.records_of(resident_id, types=types)]
    return emergency_from(resident, records)


def _encounter(store: NodeStore, resident_id: str, encounter_id: str) -> RecordEnvelope:
    env = store.record(encounter_id)
    linked = {e.resident_id for e in store.records_of(resident_id, types=["encounter"])}
    if env.type != "encounter" or env.resident_id not in linked | {resident_id}:
        raise NotFound(f"no encounter {encounter_id} of resident {resident_id} on this node")
    return env


def card_writes(
    store: NodeStore,
    resident_id: str,
    encounter_id: str,
    card: CardContent,
    *,
    clinic: str,
    clinic_name: str,
    today: dt.date,
) -> CardWrites:
    """The ring record of the encounter and the emergency notes the card lacks."""
    encounter = _encounter(store, resident_id, encounter_id)
    prescriptions = [
        e.data
        for e in store.records_of(resident_id, types=["prescription"])
        if e.data.get("encounter_id") == encounter.id
    ]
    visit = visit_from(encounter.data, prescriptions, clinic=clinic, clinic_name=clinic_name)
    now = node_emergency(store, resident_id, encounters=True)
    return CardWrites(visit, new_notes(card, now, on=today, clinic=clinic))
