"""The national public-health forms: the whole body as a DocumentReference, plus what can be coded.

A form maps to a ``DocumentReference`` holding its body as JSON; the vital signs, lab values
(LOINC), diagnoses (ICD-10) and medications in it also become their own resources, which the
document names in ``context.related``. A record type with no mapper of its own maps as a
document only (``document_only``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from .._envelope import Status
from .._registry import record_type
from ._common import (
    CANONICAL,
    SNOMED_SYSTEM,
    Json,
    code_zh,
    coding,
    date_time,
    instant,
    loinc_concept,
    put,
    quantity,
    rhip_coding,
    rhip_concept,
    snomed_concept,
    text_concept,
    uri_ref,
)
from ._resources import Mapper, RecordResources

__all__ = ["MAPPERS", "document_only"]

_FASTING_GLUCOSE = ("14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma")
_RANDOM_GLUCOSE = ("15074-8", "Glucose [Moles/volume] in Blood")
_HBA1C = ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")
_HEMOGLOBIN = ("718-7", "Hemoglobin [Mass/volume] in Blood")


def _document(out: RecordResources) -> Json:
    """The record as a DocumentReference carrying its whole (current-version) body as JSON."""
    env, rt = out.env, record_type(out.env.type)
    doc = out.new("DocumentReference")
    data = json.dumps(out.body, ensure_ascii=False, sort_keys=True).encode()
    author = out.body.get("doctor") or out.body.get("assessor") or out.body.get("attended_by")
    put(
        doc,
        status="entered-in-error" if env.status is Status.ENTERED_IN_ERROR else "current",
        docStatus="amended" if env.status is Status.AMENDED else "final",
        type={
            "coding": [coding(f"{CANONICAL}/CodeSystem/record-type", rt.name, rt.title_zh)],
            "text": rt.title_zh,
        },
        category=[
            {
                "coding": [coding(f"{CANONICAL}/CodeSystem/health-file-category", str(rt.category))],
                "text": rt.subcategory or str(rt.category),
            }
        ],
        subject=out.patient,
        date=instant(env.effective),
        author=[{"display": author}] if isinstance(author, str) else None,
        relatesTo=[{"code": "replaces", "target": uri_ref(env.supersedes)}] if env.supersedes else None,
        description=rt.title_en,
        content=[
            {
                "attachment": {
                    "contentType": "application/json",
                    "language": "zh-CN",
                    "data": base64.b64encode(data).decode("ascii"),
                    "title": rt.title_zh,
                    "creation": date_time(env.effective),
                },
                "format": coding(f"{CANONICAL}/CodeSystem/record-format", f"{rt.name}/v{rt.version}"),
            }
        ],
        context={"period": {"start": date_time(env.effective)}},
    )
    return doc


def _form(extra: Callable[[RecordResources, str], None] | None = None) -> Callable[[RecordResources], None]:
    def mapper(out: RecordResources) -> None:
        doc = _document(out)
        if extra is not None:
            extra(out, out.env.effective)
        if len(out.resources) > 1:  # the document names what was coded from it
            doc["context"]["related"] = [out.ref(r) for r in out.resources[1:]]

    return mapper


def _health_exam(out: RecordResources, when: str) -> None:
    b = out.body
    out.vitals({**b.get("vitals", {}), "bmi": b.get("bmi"), "waist_cm": b.get("waist_cm")}, when)
    aux = b.get("auxiliary") or {}
    out.lab_value("fasting-glucose", _FASTING_GLUCOSE, aux.get("fasting_glucose"), unit="mmol/L", when=when)
    for i, code in enumerate(b.get("health_problems", [])):
        out.condition(f"problem/{i}", code, category="problem-list-item", when=None)
    smoking = (b.get("lifestyle") or {}).get("smoking_status")
    if smoking:
        out.observation(
            "smoking",
            loinc_concept("72166-2", "Tobacco smoking status"),
            when=when,
            category="social-history",
            value={"valueCodeableConcept": rhip_concept("smoking_status", smoking)},
        )


def _chronic_followup(out: RecordResources, when: str) -> None:
    b = out.body
    out.vitals({k: b.get(k) for k in ("systolic", "diastolic", "weight_kg", "heart_rate")}, when)
    out.lab_value("fasting-glucose", _FASTING_GLUCOSE, b.get("fasting_glucose"), unit="mmol/L", when=when)
    out.lab_value("random-glucose", _RANDOM_GLUCOSE, b.get("random_glucose"), unit="mmol/L", when=when)
    out.lab_value("hba1c", _HBA1C, b.get("hba1c"), unit="%", when=when)
    _medications(out, when)


def _medications(out: RecordResources, when: str) -> None:
    for i, med in enumerate(out.body.get("medications", [])):
        out.medication_statement(f"medication/{i}", med["drug"], med["dose"], med["frequency"], when)


def _pregnancy_registration(out: RecordResources, when: str) -> None:
    b = out.body
    out.observation(
        "pregnancy-status",
        loinc_concept("82810-3", "Pregnancy status"),
        when=when,
        category="social-history",
        value={"valueCodeableConcept": snomed_concept("77386006", "Pregnant", "已孕")},
    )
    out.observation(
        "lmp",
        loinc_concept("8665-2", "Last menstrual period start date"),
        when=when,
        category="exam",
        value={"valueDateTime": b["last_menstrual_period"]},
    )
    if b.get("expected_delivery_date"):
        out.observation(
            "edd",
            loinc_concept("11778-8", "Delivery date Estimated"),
            when=when,
            category="exam",
            value={"valueDateTime": b["expected_delivery_date"]},
        )
    out.observation(
        "gravidity",
        loinc_concept("11996-6", "[#] Pregnancies"),
        when=when,
        category="exam",
        value={"valueInteger": b["gravidity"]},
    )
    out.observation(
        "parity",
        loinc_concept("11977-6", "[#] Parity"),
        when=when,
        category="exam",
        value={"valueInteger": b["parity"]},
    )
    first = b.get("first_check") or {}
    out.vitals({k: first.get(k) for k in ("systolic", "diastolic", "weight_kg", "height_cm")}, when)
    out.lab_value("hemoglobin", _HEMOGLOBIN, first.get("hemoglobin"), unit="g/L", when=when)


def _prenatal_visit(out: RecordResources, when: str) -> None:
    b = out.body
    out.vitals({k: b.get(k) for k in ("systolic", "diastolic", "weight_kg")}, when)
    weeks = b["gestational_weeks"] + (b.get("gestational_days") or 0) / 7
    out.observation(
        "ga",
        loinc_concept("49051-6", "Gestational age in weeks"),
        when=when,
        category="exam",
        value={"valueQuantity": quantity(round(weeks, 2), "wk")},
    )
    if b.get("fundal_height_cm") is not None:
        out.observation(
            "fundal-height",
            loinc_concept("11881-0", "Uterus Fundal height Tape measure"),
            when=when,
            category="exam",
            value={"valueQuantity": quantity(b["fundal_height_cm"], "cm")},
        )
    if b.get("fetal_heart_rate") is not None:
        out.observation(
            "fetal-heart-rate",
            loinc_concept("55283-6", "Fetal Heart rate"),
            when=when,
            category="exam",
            value={"valueQuantity": quantity(b["fetal_heart_rate"], "/min")},
        )
    out.lab_value("hemoglobin", _HEMOGLOBIN, b.get("hemoglobin"), unit="g/L", when=when)


def _delivery_extra(out: RecordResources, when: str) -> None:
    b = out.body
    proc = out.new("Procedure", "delivery")
    put(
        proc,
        status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
        category=snomed_concept("386637004", "Obstetric procedure"),
        code={
            "coding": [
                coding(SNOMED_SYSTEM, "236973005", "Delivery procedure"),
                rhip_coding("delivery_mode", b["mode"]),
            ],
            "text": code_zh("delivery_mode", b["mode"]),
        },
        subject=out.patient,
        performedDateTime=date_time(b["delivery_time"]),
        performer=[{"actor": {"display": b["attended_by"]}}] if b.get("attended_by") else None,
        location={"display": b.get("place_name") or code_zh("delivery_place", b["place"])},
        outcome=rhip_concept("maternal_outcome", b["outcome"]) if b.get("outcome") else None,
        complication=[text_concept(b["complications"])] if b.get("complications") else None,
    )
    for i, baby in enumerate(b["newborns"]):
        child = uri_ref(baby["child_resident_id"]) if baby.get("child_resident_id") else None
        if child is None:
            continue  # observations of a newborn without a resident record stay in the document
        out.observation(
            f"newborn/{i}/weight",
            loinc_concept("8339-4", "Birth weight Measured"),
            when=b["delivery_time"],
            category="exam",
            subject=child,
            value={"valueQuantity": quantity(baby["weight_g"], "g")},
        )
        for key, code, display in (
            ("apgar_1min", "9272-6", "1 minute Apgar Score"),
            ("apgar_5min", "9274-2", "5 minute Apgar Score"),
        ):
            if baby.get(key) is not None:
                out.observation(
                    f"newborn/{i}/{key}",
                    loinc_concept(code, display),
                    when=b["delivery_time"],
                    category="exam",
                    subject=child,
                    value={"valueQuantity": quantity(baby[key], "{score}")},
                )


def _postpartum_visit(out: RecordResources, when: str) -> None:
    b = out.body
    out.vitals({k: b.get(k) for k in ("systolic", "diastolic", "temperature_c")}, when)


def _newborn_visit(out: RecordResources, when: str) -> None:
    b = out.body
    out.vitals(
        {
            "temperature_c": b.get("temperature_c"),
            "weight_kg": b["weight_g"] / 1000 if b.get("weight_g") else None,
        },
        when,
    )
    if b.get("birth_weight_g") is not None:
        out.observation(
            "birth-weight",
            loinc_concept("8339-4", "Birth weight Measured"),
            when=when,
            category="exam",
            value={"valueQuantity": quantity(b["birth_weight_g"], "g")},
        )


def _child_check(out: RecordResources, when: str) -> None:
    b = out.body
    out.vitals({k: b.get(k) for k in ("weight_kg", "height_cm", "head_circumference_cm")}, when)
    out.lab_value("hemoglobin", _HEMOGLOBIN, b.get("hemoglobin"), unit="g/L", when=when)


def _elderly_assessment(out: RecordResources, when: str) -> None:
    b = out.body
    out.observation(
        "self-care",
        {
            "coding": [
                coding(
                    f"{CANONICAL}/CodeSystem/assessment", "elderly-self-care", "老年人生活自理能力评估总分"
                )
            ],
            "text": "生活自理能力评估",
        },
        when=when,
        category="survey",
        value={"valueInteger": b["total"]},
        interpretation=[rhip_concept("self_care_level", b["level"])] if b.get("level") else None,
    )


MAPPERS: dict[str, Mapper] = {
    "health_exam": _form(_health_exam),
    "hypertension_followup": _form(_chronic_followup),
    "diabetes_followup": _form(_chronic_followup),
    "mental_followup": _form(_medications),
    "tb_followup": _form(),
    "pregnancy_registration": _form(_pregnancy_registration),
    "prenatal_visit": _form(_prenatal_visit),
    "delivery": _form(_delivery_extra),
    "postpartum_visit": _form(_postpartum_visit),
    "newborn_visit": _form(_newborn_visit),
    "child_check": _form(_child_check),
    "elderly_assessment": _form(_elderly_assessment),
}
document_only: Mapper = _form()  # a record type without a mapper of its own
