"""Lab and imaging reports: a DiagnosticReport with its results, specimen or imaging study."""

from __future__ import annotations

import re
from typing import Any

from .._envelope import Status
from ._common import (
    CANONICAL,
    DICOM_SYSTEM,
    LOINC_SYSTEM,
    SNOMED_SYSTEM,
    THO,
    Json,
    code_en,
    code_zh,
    coding,
    date_time,
    display_ref,
    instant,
    is_loinc,
    narrative,
    observation_status,
    put,
    quantity,
    rhip_concept,
    snomed_concept,
    text_concept,
    tho_concept,
)
from ._resources import Mapper, RecordResources

__all__ = ["MAPPERS"]

# rhip specimen code -> SNOMED CT specimen type
_SPECIMENS: dict[str, tuple[str, str]] = {
    "blood": ("119297000", "Blood specimen"),
    "serum": ("119364003", "Serum specimen"),
    "plasma": ("119361006", "Plasma specimen"),
    "capillary": ("122554006", "Capillary blood specimen"),
    "urine": ("122575003", "Urine specimen"),
    "stool": ("119339001", "Stool specimen"),
    "sputum": ("119334006", "Sputum specimen"),
    "csf": ("258450006", "Cerebrospinal fluid sample"),
    "swab": ("257261003", "Swab"),
    "tissue": ("119376003", "Tissue specimen"),
}
_INTERPRETATION = {
    "N": "Normal",
    "H": "High",
    "L": "Low",
    "HH": "Critical high",
    "LL": "Critical low",
    "A": "Abnormal",
}
_COMPARATOR_RE = re.compile(r"^(<=|>=|<|>|≤|≥)\s*([+-]?(\d+(\.\d*)?|\.\d+))$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _lab_value(value: Any, unit: str | None) -> Json:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"valueQuantity": quantity(value, unit)}
    text = str(value).strip()
    if _NUMBER_RE.match(text):
        return {"valueQuantity": quantity(text, unit)}
    m = _COMPARATOR_RE.match(text)
    if m:
        q = quantity(m.group(2), unit)
        q["comparator"] = {"≤": "<=", "≥": ">="}.get(m.group(1), m.group(1))
        return {"valueQuantity": q}
    return {"valueString": text}


def _lab_report(out: RecordResources) -> None:
    b = out.body
    report = out.new("DiagnosticReport")
    when = b.get("collected_at") or b["reported_at"]
    specimen = out.new("Specimen", "specimen")
    snomed = _SPECIMENS.get(b["specimen"])
    put(
        specimen,
        type=rhip_concept("specimen", b["specimen"], *([coding(SNOMED_SYSTEM, *snomed)] if snomed else [])),
        subject=out.patient,
        collection={"collectedDateTime": date_time(b["collected_at"])} if b.get("collected_at") else None,
    )
    results = []
    for i, item in enumerate(b["items"]):
        codings = []
        if is_loinc(item.get("code")):
            codings.append(coding(LOINC_SYSTEM, item["code"]))
        elif item.get("code"):
            codings.append(coding(f"{CANONICAL}/CodeSystem/lab-item", item["code"]))
        low, high = item.get("reference_low"), item.get("reference_high")
        ref_range = put(
            {},
            low=quantity(low, item.get("unit")) if low is not None else None,
            high=quantity(high, item.get("unit")) if high is not None else None,
            text=item.get("reference_range"),
        )
        flag = item.get("abnormal")
        obs = out.observation(
            f"item/{i}",
            put({"coding": codings}, text=item["name"]) if codings else text_concept(item["name"]),
            when=when,
            category="laboratory",
            value=_lab_value(item["value"], item.get("unit")),
            issued=instant(b["reported_at"]),
            interpretation=(
                [
                    {
                        "coding": [coding(THO + "v3-ObservationInterpretation", flag, _INTERPRETATION[flag])],
                        "text": code_zh("abnormal_flag", flag),
                    }
                ]
                if flag
                else None
            ),
            specimen=out.ref(specimen),
            referenceRange=[ref_range] if ref_range else None,
        )
        results.append(out.ref(obs))
    panel = (
        [coding(f"{CANONICAL}/CodeSystem/lab-panel", b["panel_code"], b["panel_name"])]
        if b.get("panel_code")
        else []
    )
    if is_loinc(b.get("panel_code")):
        panel = [coding(LOINC_SYSTEM, b["panel_code"], b["panel_name"])]
    put(
        report,
        status=observation_status(out.env.status),
        category=[tho_concept("v2-0074", "LAB", "Laboratory")],
        code=put({"coding": panel}, text=b["panel_name"]) if panel else text_concept(b["panel_name"]),
        subject=out.patient,
        encounter=out.encounter_ref(),
        effectiveDateTime=date_time(when),
        issued=instant(b["reported_at"]),
        performer=[p for p in (display_ref(b.get("lab_name")), display_ref(b.get("reported_by"))) if p],
        resultsInterpreter=[display_ref(b["reviewer"])] if b.get("reviewer") else None,
        specimen=[out.ref(specimen)],
        result=results,
        conclusion=b.get("note"),
    )


def _imaging_report(out: RecordResources) -> None:
    b = out.body
    report = out.new("DiagnosticReport")
    when = b.get("examined_at") or b["reported_at"]
    study = out.new("ImagingStudy", "study")
    identifiers: list[Json] = []
    if b.get("study_uid"):
        identifiers.append({"system": "urn:dicom:uid", "value": f"urn:oid:{b['study_uid']}"})
    if b.get("accession_number"):
        identifiers.append(
            {"type": tho_concept("v2-0203", "ACSN", "Accession ID"), "value": b["accession_number"]}
        )
    modality = coding(DICOM_SYSTEM, b["modality"], code_en("modality", b["modality"]))
    description = f"{code_zh('modality', b['modality'])} {code_zh('body_part', b['body_part'])}"
    put(
        study,
        identifier=identifiers,
        status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "available",
        modality=[modality],
        subject=out.patient,
        encounter=out.encounter_ref(),
        started=date_time(when),
        interpreter=[display_ref(b["reporting_doctor"])],
        location=display_ref(b.get("institution")),
        description=description,
    )
    put(
        report,
        text=narrative(
            out.title, [("检查", description), ("所见", b.get("findings")), ("结论", b["conclusion"])]
        ),
        status=observation_status(out.env.status),
        category=[tho_concept("v2-0074", "RAD", "Radiology")],
        code={
            "coding": [coding(LOINC_SYSTEM, "18748-4", "Diagnostic imaging study")],
            "text": description,
        },
        subject=out.patient,
        encounter=out.encounter_ref(),
        effectiveDateTime=date_time(when),
        issued=instant(b["reported_at"]),
        performer=[p for p in (display_ref(b.get("institution")),) if p] or None,
        resultsInterpreter=[
            p for p in (display_ref(b["reporting_doctor"]), display_ref(b.get("reviewing_doctor"))) if p
        ],
        imagingStudy=[out.ref(study)],
        conclusion=b["conclusion"],
        conclusionCode=[
            snomed_concept("263654008", "Abnormal", "阳性")
            if b["positive"]
            else snomed_concept("17621005", "Normal", "阴性")
        ],
    )


MAPPERS: dict[str, Mapper] = {"lab_report": _lab_report, "imaging_report": _imaging_report}
