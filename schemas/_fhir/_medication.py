"""Medications: drugs (ATC), routes (SNOMED CT), schedules (HL7 timing) and prescribed dosages."""

from __future__ import annotations

from .._codes import code_list
from ._common import (
    ATC_SYSTEM,
    SNOMED_SYSTEM,
    THO,
    UCUM_SYSTEM,
    Json,
    code_zh,
    coding,
    number,
    rhip_coding,
    rhip_concept,
    tho_concept,
)

__all__ = ["dosage_timing", "drug_concept", "prescribed_dosage", "route_concept"]


_DOSE_UNITS = {"mg": "mg", "g": "g", "ug": "ug", "ml": "mL", "iu": "[IU]", "u": "[U]"}


def drug_concept(code: str) -> Json:
    """A drug as a CodeableConcept, with its ATC code when the drug list has one."""
    entry = code_list("drug").get(code)
    codings = [rhip_coding("drug", code)]
    atc = entry.extra.get("atc") if entry else None
    if isinstance(atc, str):
        codings.insert(0, coding(ATC_SYSTEM, atc))
    return {"coding": codings, "text": entry.zh if entry else code}


# SNOMED CT route of administration (the binding FHIR's Dosage.route suggests).
_ROUTES: dict[str, tuple[str, str]] = {
    "po": ("26643006", "Oral route"),
    "sl": ("37839007", "Sublingual route"),
    "iv": ("47625008", "Intravenous route"),
    "ivgtt": ("47625008", "Intravenous route"),
    "im": ("78421000", "Intramuscular route"),
    "sc": ("34206005", "Subcutaneous route"),
    "id": ("372464004", "Intradermal route"),
    "inh": ("447694001", "Respiratory tract route"),
    "top": ("6064005", "Topical route"),
    "oph": ("54485002", "Ophthalmic route"),
    "ot": ("10547007", "Otic route"),
    "nas": ("46713006", "Nasal route"),
    "pr": ("37161004", "Rectal route"),
    "pv": ("16857009", "Vaginal route"),
}


def route_concept(code: str) -> Json:
    """A route of administration, with its SNOMED CT code when there is one."""
    snomed = _ROUTES.get(code)
    return rhip_concept("route", code, *([coding(SNOMED_SYSTEM, *snomed)] if snomed else []))


# frequency code -> (Timing.repeat, HL7 timing abbreviation)
_FREQUENCIES: dict[str, tuple[Json, str | None]] = {
    "qd": ({"frequency": 1, "period": 1, "periodUnit": "d"}, "QD"),
    "bid": ({"frequency": 2, "period": 1, "periodUnit": "d"}, "BID"),
    "tid": ({"frequency": 3, "period": 1, "periodUnit": "d"}, "TID"),
    "qid": ({"frequency": 4, "period": 1, "periodUnit": "d"}, "QID"),
    "q6h": ({"frequency": 1, "period": 6, "periodUnit": "h"}, "Q6H"),
    "q8h": ({"frequency": 1, "period": 8, "periodUnit": "h"}, "Q8H"),
    "q12h": ({"frequency": 1, "period": 12, "periodUnit": "h"}, None),
    "qn": ({"frequency": 1, "period": 1, "periodUnit": "d", "when": ["HS"]}, "BED"),
    "qod": ({"frequency": 1, "period": 2, "periodUnit": "d"}, "QOD"),
    "qw": ({"frequency": 1, "period": 1, "periodUnit": "wk"}, "WK"),
    "biw": ({"frequency": 2, "period": 1, "periodUnit": "wk"}, None),
    "st": ({"count": 1}, None),
}


def dosage_timing(frequency: str, days: int | None = None) -> Json | None:
    """The Timing of a frequency code (for ``days`` days); None when it has no schedule (prn)."""
    spec = _FREQUENCIES.get(frequency)
    if spec is None:  # prn: no schedule, given as needed
        return None
    repeat = dict(spec[0])
    if days is not None and "count" not in repeat:
        repeat["boundsDuration"] = {"value": days, "unit": "d", "system": UCUM_SYSTEM, "code": "d"}
    codings = [rhip_coding("frequency", frequency)]
    if spec[1]:
        codings.insert(0, coding(THO + "v3-GTSAbbreviation", spec[1]))
    return {"repeat": repeat, "code": {"coding": codings, "text": code_zh("frequency", frequency)}}


def prescribed_dosage(item: Json, sequence: int = 1) -> Json:
    """A Dosage from a prescription item (drug, dose, dose_unit, route, frequency[, days])."""
    unit = item.get("dose_unit")
    dose_text = f"{item['dose']}{code_zh('dose_unit', unit) if unit else ''}"
    text = " ".join(
        t
        for t in (
            dose_text,
            code_zh("route", item["route"]) if item.get("route") else "",
            code_zh("frequency", item["frequency"]) if item.get("frequency") else "",
            f"{item['days']}天" if item.get("days") else "",
        )
        if t
    )
    dosage: Json = {"sequence": sequence, "text": text}
    if item.get("frequency"):
        timing = dosage_timing(item["frequency"], item.get("days"))
        if timing:
            dosage["timing"] = timing
        if item["frequency"] == "prn":
            dosage["asNeededBoolean"] = True
    if item.get("route"):
        dosage["route"] = route_concept(item["route"])
    if unit:
        quantity: Json = {"value": number(item["dose"]), "unit": code_zh("dose_unit", unit)}
        if unit in _DOSE_UNITS:
            quantity.update(system=UCUM_SYSTEM, code=_DOSE_UNITS[unit])
        dosage["doseAndRate"] = [
            {"type": tho_concept("dose-rate-type", "ordered", "Ordered"), "doseQuantity": quantity}
        ]
    return dosage
