"""The emergency data set and the visit summary, drawn from a resident's records (plain data in).

Both the hub (issuing a card) and a node (writing a visit and what changed)
use these, so a card says the same thing whoever wrote it.

Rules:
1. Input is plain record data as the schemas define it (``type`` and ``data``
   of current versions only: corrected and entered-in-error versions are the
   caller's to drop). Nothing here reads a database.
2. Allergies: active allergy records, newest first, at most ``LIMITS['allergies']``.
   Text too long for the card is shortened with "…" (the full text stays in
   the record); codes are never shortened.
3. Serious conditions: from the key-population follow-ups (hypertension,
   type 2 diabetes, severe mental disorder, tuberculosis) and from ICD-10
   codes in the resident's past history and in encounter diagnoses
   (``CONDITION_ICD10`` prefixes), in the order of ``CONDITIONS``.
4. Blood group from the resident's ``blood_type``; emergency contacts from
   ``emergency_contacts``, the first ``LIMITS['contacts']``.
5. A visit is the encounter's date, the clinic, its diagnoses (primary first)
   and the drugs of its prescriptions, within the record's limits.
6. ``new_notes`` is what a clinic should add after a visit: allergies and
   conditions the card does not show yet, and the blood group if the card's
   is unknown. It never removes anything: a card only gains warnings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from ._layout import (
    CONDITIONS,
    LIMITS,
    Allergy,
    BloodGroup,
    CardContent,
    Contact,
    Emergency,
    EmergencyNote,
    Visit,
)

__all__ = [
    "CONDITION_ICD10",
    "CONDITION_RECORDS",
    "allergies_from",
    "clip",
    "conditions_from",
    "emergency_from",
    "new_notes",
    "visit_from",
]

CONDITION_RECORDS: dict[str, str] = {
    "hypertension_followup": "hypertension",
    "diabetes_followup": "diabetes",
    "mental_followup": "severe-mental-disorder",
    "tb_followup": "tuberculosis",
}

# ICD-10 code prefixes that name a serious condition.
CONDITION_ICD10: dict[str, tuple[str, ...]] = {
    "asthma": ("J45", "J46"),
    "heart-disease": (
        "I05",
        "I06",
        "I07",
        "I08",
        "I09",
        "I20",
        "I21",
        "I22",
        "I23",
        "I24",
        "I25",
        "I42",
        "I50",
    ),
    "epilepsy": ("G40", "G41"),
    "diabetes": ("E10", "E11", "E12", "E13", "E14"),
    "hypertension": ("I10", "I11", "I12", "I13", "I15"),
    "dialysis": ("Z49", "Z99.2", "N18.5"),
    "pacemaker": ("Z95.0", "Z45.0"),
    "anticoagulant": ("Z79.01", "Z92.1"),
    "haemophilia": ("D66", "D67", "D68.0"),
    "severe-mental-disorder": ("F20", "F25", "F31"),
    "tuberculosis": ("A15", "A16", "A17", "A18", "A19"),
    "transplant": ("Z94",),
}

Record = tuple[str, Mapping[str, Any]]  # (type, data)


def clip(text: str | None, limit: str) -> str | None:
    """``text`` shortened to the card's limit for ``limit``, ending in "…" when cut."""
    if not text:
        return None
    text = " ".join(text.split())
    most = LIMITS[limit]
    return text if len(text) <= most else text[: most - 1] + "…"


def _condition_of_icd(code: str) -> str | None:
    for condition, prefixes in CONDITION_ICD10.items():
        if any(code.startswith(p) for p in prefixes):
            return condition
    return None


def conditions_from(resident: Mapping[str, Any], records: Iterable[Record]) -> tuple[str, ...]:
    found: set[str] = set()
    for item in resident.get("past_history") or []:
        if isinstance(item, Mapping) and isinstance(item.get("icd10"), str):
            found.add(_condition_of_icd(item["icd10"]) or "")
    for type_, data in records:
        if type_ in CONDITION_RECORDS:
            found.add(CONDITION_RECORDS[type_])
        elif type_ == "encounter":
            for d in data.get("diagnoses") or []:
                if isinstance(d, Mapping) and isinstance(d.get("icd10"), str):
                    found.add(_condition_of_icd(d["icd10"]) or "")
    return tuple(c for c in CONDITIONS if c in found)[: LIMITS["conditions"]]


def _allergy(data: Mapping[str, Any]) -> Allergy:
    return Allergy(
        substance=clip(str(data.get("substance") or data.get("drug") or "?"), "substance") or "?",
        reaction=clip(data.get("reaction"), "reaction"),
        severity=data.get("severity") if isinstance(data.get("severity"), str) else None,
    )


def allergies_from(records: Iterable[Record]) -> tuple[Allergy, ...]:
    active = [
        data
        for type_, data in records
        if type_ == "allergy" and data.get("status", "active") == "active" and data.get("substance")
    ]
    active.sort(key=lambda d: str(d.get("recorded_on", "")), reverse=True)
    out: list[Allergy] = []
    seen: set[str] = set()
    for data in active:
        allergy = _allergy(data)
        if allergy.substance not in seen:
            seen.add(allergy.substance)
            out.append(allergy)
    return tuple(out[: LIMITS["allergies"]])


def _blood(resident: Mapping[str, Any]) -> BloodGroup:
    blood = resident.get("blood_type")
    if not isinstance(blood, Mapping):
        return BloodGroup()
    return BloodGroup(str(blood.get("abo") or "unknown"), str(blood.get("rh") or "unknown"))


def emergency_from(resident: Mapping[str, Any], records: Iterable[Record]) -> Emergency:
    """The emergency data set of a resident: blood group, allergies, serious conditions, contacts."""
    recs = list(records)
    contacts = []
    for c in (resident.get("emergency_contacts") or [])[: LIMITS["contacts"]]:
        name = clip(c.get("name"), "contact_name")
        if name and c.get("phone"):
            contacts.append(Contact(name, str(c.get("relation") or "99"), str(c["phone"])))
    return Emergency(_blood(resident), allergies_from(recs), conditions_from(resident, recs), tuple(contacts))


def visit_from(
    encounter: Mapping[str, Any], prescriptions: Iterable[Mapping[str, Any]], *, clinic: str, clinic_name: str
) -> Visit:
    """The ring record of one encounter and the prescriptions written at it."""
    diagnoses = sorted(
        (d for d in encounter.get("diagnoses") or [] if isinstance(d, Mapping) and d.get("icd10")),
        key=lambda d: not d.get("primary", False),
    )
    drugs: list[str] = []
    for p in prescriptions:
        for item in p.get("items") or []:
            drug = item.get("drug") if isinstance(item, Mapping) else None
            if isinstance(drug, str) and drug not in drugs and len(drug) <= LIMITS["drug"]:
                drugs.append(drug)
    return Visit(
        on=dt.date.fromisoformat(str(encounter["visit_time"])[:10]),
        clinic=clinic[: LIMITS["clinic"]],
        clinic_name=clip(clinic_name, "clinic_name") or clinic,
        diagnoses=tuple(str(d["icd10"]) for d in diagnoses)[: LIMITS["diagnoses"]],
        prescriptions=tuple(drugs[: LIMITS["prescriptions"]]),
    )


def new_notes(card: CardContent, now: Emergency, *, on: dt.date, clinic: str) -> list[EmergencyNote]:
    """Emergency notes for what ``now`` knows and the card (issued data and notes) does not show."""
    shown_allergies = {a.substance for a in card.emergency.allergies}
    shown_allergies |= {n.allergy.substance for n in card.notes if n.allergy}
    shown_conditions = set(card.emergency.conditions) | {n.condition for n in card.notes if n.condition}
    blood_known = card.emergency.blood.abo != "unknown" or any(
        n.blood and n.blood.abo != "unknown" for n in card.notes
    )
    notes: list[EmergencyNote] = []
    if not blood_known and now.blood.abo != "unknown":
        notes.append(EmergencyNote(on, clinic, blood=now.blood))
    notes += [
        EmergencyNote(on, clinic, allergy=a) for a in now.allergies if a.substance not in shown_allergies
    ]
    notes += [EmergencyNote(on, clinic, condition=c) for c in now.conditions if c not in shown_conditions]
    return notes
