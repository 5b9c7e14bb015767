"""The resources one record maps to, and the derived resources several record types share.

Vital signs, lab values, conditions and medication statements are made the same way
whichever record they come from. Ids follow the package rules: the main resource has
the record id, a derived resource a UUIDv5 of the record id and its role.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from .._envelope import RecordEnvelope, Status
from .._registry import record_type
from ._common import (
    LOINC_SYSTEM,
    URI_IDENTIFIER,
    Json,
    code_zh,
    coding,
    date_time,
    icd10_concept,
    loinc_concept,
    observation_status,
    put,
    quantity,
    text_concept,
    tho_concept,
    uri_ref,
)
from ._medication import dosage_timing, drug_concept

__all__ = ["Mapper", "RecordResources"]

_NAMESPACE = uuid.UUID("6f1c33a2-5d0e-5b8c-9a41-3c2f7d1e8b90")  # UUIDv5 namespace of derived resource ids
_HLC_COUNTER_BITS = 16  # an HLC stamp is wall_ms << 16 | counter (sync.Stamp)

_ONE_IDENTIFIER = frozenset({"Composition", "QuestionnaireResponse"})  # identifier 0..1, not a list

_OBS_CATEGORIES = {
    "vital-signs": "Vital Signs",
    "laboratory": "Laboratory",
    "exam": "Exam",
    "survey": "Survey",
    "social-history": "Social History",
    "imaging": "Imaging",
}
_CONDITION_CATEGORIES = {
    "encounter-diagnosis": "Encounter Diagnosis",
    "problem-list-item": "Problem List Item",
}

# body field -> (LOINC, display, UCUM unit)
_VITALS: dict[str, tuple[str, str, str]] = {
    "temperature_c": ("8310-5", "Body temperature", "Cel"),
    "pulse": ("8867-4", "Heart rate", "/min"),
    "heart_rate": ("8867-4", "Heart rate", "/min"),
    "respiration": ("9279-1", "Respiratory rate", "/min"),
    "height_cm": ("8302-2", "Body height", "cm"),
    "weight_kg": ("29463-7", "Body weight", "kg"),
    "spo2": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
    "waist_cm": ("8280-0", "Waist Circumference at umbilicus by Tape measure", "cm"),
    "head_circumference_cm": ("9843-4", "Head Occipital-frontal circumference", "cm"),
}


class RecordResources:
    """The resources one record maps to; the first made is the main one."""

    def __init__(self, env: RecordEnvelope, body: Json) -> None:
        self.env = env
        self.body = body
        self.resources: list[Json] = []
        self.patient = uri_ref(env.resident_id)
        self.title = record_type(env.type).title_zh

    def new(self, resource_type: str, role: str = "", *, resource_id: str | None = None) -> Json:
        env = self.env
        rid = resource_id or (env.id if not role else str(uuid.uuid5(_NAMESPACE, f"{env.id}/{role}")))
        meta: Json = {
            "lastUpdated": dt.datetime.fromtimestamp((env.hlc >> _HLC_COUNTER_BITS) / 1000, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "source": f"urn:uuid:{env.author}",
        }
        resource: Json = {"resourceType": resource_type, "id": rid, "meta": meta}
        if not self.resources:
            record = {"system": URI_IDENTIFIER, "value": f"urn:uuid:{env.id}"}
            resource["identifier"] = record if resource_type in _ONE_IDENTIFIER else [record]
        self.resources.append(resource)
        return resource

    @property
    def main_ref(self) -> Json:
        return {"reference": f"urn:uuid:{self.resources[0]['id']}"}

    def ref(self, resource: Json) -> Json:
        return {"reference": f"urn:uuid:{resource['id']}"}

    def encounter_ref(self) -> Json | None:
        """The encounter this record belongs to: its own, if it is one, else the one it names."""
        first = self.resources[0] if self.resources else None
        if first is not None and first["resourceType"] == "Encounter":
            return self.ref(first)
        for name in ("encounter_id", "stay_id"):
            value = self.body.get(name)
            if isinstance(value, str):
                return uri_ref(value)
        return None

    # -- derived resources --------------------------------------------------------

    def observation(
        self,
        role: str,
        code: Json,
        *,
        when: str | None,
        category: str = "vital-signs",
        value: Json | None = None,
        **fields: Any,
    ) -> Json:
        obs = self.new("Observation", role)
        put(
            obs,
            status=observation_status(self.env.status),
            category=[tho_concept("observation-category", category, _OBS_CATEGORIES[category])],
            code=code,
            subject=fields.pop("subject", self.patient),
            encounter=self.encounter_ref(),
            effectiveDateTime=date_time(when) if when else None,
        )
        if value is not None:
            obs.update(value)
        return put(obs, **fields)

    def vital(self, key: str, value: Any, when: str | None) -> Json | None:
        """One vital sign or body measure by its body field name (LOINC coded)."""
        spec = _VITALS.get(key)
        if value is None or spec is None:
            return None
        loinc, display, unit = spec
        code = loinc_concept(loinc, display)
        if key == "spo2":
            code["coding"].append(coding(LOINC_SYSTEM, "2708-6", "Oxygen saturation in Arterial blood"))
        return self.observation(
            f"vital/{key}", code, when=when, value={"valueQuantity": quantity(value, unit)}
        )

    def vitals(self, values: Json, when: str | None) -> None:
        systolic, diastolic = values.get("systolic"), values.get("diastolic")
        if systolic is not None or diastolic is not None:
            components = [
                {
                    "code": loinc_concept(code, display),
                    "valueQuantity": quantity(v, "mm[Hg]"),
                }
                for code, display, v in (
                    ("8480-6", "Systolic blood pressure", systolic),
                    ("8462-4", "Diastolic blood pressure", diastolic),
                )
                if v is not None
            ]
            self.observation(
                "vital/bp",
                loinc_concept("85354-9", "Blood pressure panel with all children optional"),
                when=when,
                component=components,
            )
        for key in _VITALS:
            self.vital(key, values.get(key), when)

    def lab_value(
        self, role: str, loinc: tuple[str, str], value: Any, *, unit: str, when: str | None
    ) -> None:
        if value is not None:
            self.observation(
                role,
                loinc_concept(*loinc),
                when=when,
                category="laboratory",
                value={"valueQuantity": quantity(value, unit)},
            )

    def condition(
        self,
        role: str,
        icd10: str | None,
        *,
        text: str | None = None,
        category: str = "encounter-diagnosis",
        when: str | None = None,
        clinical: str | None = "active",
        note: str | None = None,
    ) -> Json:
        cond = self.new("Condition", role)
        verification = "entered-in-error" if self.env.status is Status.ENTERED_IN_ERROR else "confirmed"
        put(
            cond,
            clinicalStatus=(
                tho_concept("condition-clinical", clinical, clinical.capitalize())
                if clinical and verification != "entered-in-error"
                else None
            ),
            verificationStatus=tho_concept("condition-ver-status", verification, verification.capitalize()),
            category=[tho_concept("condition-category", category, _CONDITION_CATEGORIES[category])],
            code=icd10_concept(icd10, text) if icd10 else (text_concept(text) if text else None),
            subject=self.patient,
            encounter=self.encounter_ref() if category == "encounter-diagnosis" else None,
            onsetDateTime=date_time(when) if when else None,
            recordedDate=date_time(self.env.effective) if category == "encounter-diagnosis" else None,
            note=[{"text": note}] if note else None,
        )
        return cond

    def medication_statement(self, role: str, drug: str, dose: str, frequency: str, when: str) -> Json:
        ms = self.new("MedicationStatement", role)
        timing = dosage_timing(frequency)
        dosage: Json = {"text": f"{dose} {code_zh('frequency', frequency)}"}
        if timing:
            dosage["timing"] = timing
        return put(
            ms,
            status="entered-in-error" if self.env.status is Status.ENTERED_IN_ERROR else "active",
            medicationCodeableConcept=drug_concept(drug),
            subject=self.patient,
            context=self.encounter_ref(),
            effectiveDateTime=date_time(when),
            dateAsserted=date_time(when),
            dosage=[dosage],
        )


Mapper = Callable[[RecordResources], None]  # fills one record's resources from its body
