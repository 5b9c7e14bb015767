"""Allergies, immunisations, referrals, consultations, births and deaths."""

from __future__ import annotations

from .._envelope import Status
from ._common import (
    CANONICAL,
    EXT,
    RESIDENT_ID_SYSTEM,
    THO,
    Json,
    code_zh,
    coding,
    date_time,
    display_ref,
    icd10_concept,
    identifier,
    instant,
    loinc_concept,
    put,
    quantity,
    request_status,
    rhip_concept,
    snomed_concept,
    text_concept,
    tho_concept,
    uri_ref,
)
from ._medication import drug_concept, route_concept
from ._resources import Mapper, RecordResources

__all__ = ["MAPPERS"]

_ALLERGY_CATEGORY = {"drug": "medication", "food": "food", "environment": "environment"}
_SEVERITY = {"mild": "mild", "moderate": "moderate", "severe": "severe", "life_threatening": "severe"}


def _allergy(out: RecordResources) -> None:
    b = out.body
    ai = out.new("AllergyIntolerance")
    error = out.env.status is Status.ENTERED_IN_ERROR
    code = drug_concept(b["drug"]) if b.get("drug") else {"text": b["substance"]}
    code["text"] = b["substance"]
    reaction = None
    if b.get("reaction"):
        reaction = [
            put(
                {"manifestation": [text_concept(b["reaction"])]},
                severity=_SEVERITY.get(b.get("severity") or ""),
            )
        ]
    status = b.get("status", "active")
    put(
        ai,
        clinicalStatus=(
            None if error else tho_concept("allergyintolerance-clinical", status, status.capitalize())
        ),
        verificationStatus=tho_concept(
            "allergyintolerance-verification",
            "entered-in-error" if error else "confirmed",
            "Entered in Error" if error else "Confirmed",
        ),
        category=[_ALLERGY_CATEGORY[b["substance_category"]]]
        if b["substance_category"] in _ALLERGY_CATEGORY
        else None,
        criticality="high" if b.get("severity") == "life_threatening" else None,
        code=code,
        patient=out.patient,
        onsetDateTime=date_time(b["onset_on"]) if b.get("onset_on") else None,
        recordedDate=date_time(b["recorded_on"]),
        reaction=reaction,
    )


# rhip injection site -> HL7 v3 ActSite
_SITES = {
    "L_deltoid": ("LD", "left deltoid"),
    "R_deltoid": ("RD", "right deltoid"),
    "L_thigh": ("LT", "left thigh"),
    "R_thigh": ("RT", "right thigh"),
    "L_upper_arm_lat": ("LUA", "left upper arm"),
    "R_upper_arm_lat": ("RUA", "right upper arm"),
}


def _immunization(out: RecordResources) -> None:
    b = out.body
    imm = out.new("Immunization")
    site = _SITES.get(b.get("site") or "")
    notes = [t for t in (f"下次接种 {b['next_due_on']}" if b.get("next_due_on") else None,) if t]
    put(
        imm,
        status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
        vaccineCode=rhip_concept("vaccine", b["vaccine"]),
        patient=out.patient,
        encounter=out.encounter_ref(),
        occurrenceDateTime=date_time(b["given_at"]),
        primarySource=True,
        lotNumber=b["lot_number"],
        manufacturer=display_ref(b.get("manufacturer")),
        site=(
            rhip_concept("injection_site", b["site"], *([coding(THO + "v3-ActSite", *site)] if site else []))
            if b.get("site")
            else None
        ),
        route=route_concept(b["route"]) if b.get("route") else None,
        performer=[{"actor": {"display": b["administered_by"]}}] if b.get("administered_by") else None,
        note=[{"text": n} for n in notes] or None,
        reaction=None,
        protocolApplied=[{"doseNumberPositiveInt": b["dose_number"]}],
    )
    if b.get("adverse_event"):
        aefi = out.observation(
            "aefi",
            text_concept("疑似预防接种异常反应"),
            when=b["given_at"],
            category="exam",
            value={"valueString": b["adverse_event"]},
        )
        imm["reaction"] = [{"date": date_time(b["given_at"]), "detail": out.ref(aefi)}]


_PRIORITY = {"routine": "routine", "urgent": "urgent", "emergency": "stat"}


def _referral(out: RecordResources) -> None:
    b = out.body
    sr = out.new("ServiceRequest")
    direction = rhip_concept("referral_direction", b["direction"])
    notes = [
        f"{label}：{b[k]}"
        for k, label in (
            ("history_summary", "病史摘要"),
            ("treatment_given", "已行治疗"),
            ("results", "诊治结果"),
        )
        if b.get(k)
    ]
    put(
        sr,
        basedOn=[uri_ref(b["referral_id"])] if b.get("referral_id") else None,
        status=request_status(out.env.status, "active"),
        intent="order",
        category=[direction],
        priority=_PRIORITY.get(b.get("urgency", "routine"), "routine"),
        code=snomed_concept("3457005", "Patient referral", out.title),
        subject=out.patient,
        authoredOn=date_time(b["referred_at"]),
        requester=put(
            {"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["from_clinic"]}},
            display=b.get("referring_doctor"),
        ),
        performer=[{"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["to_clinic"]}}],
        reasonCode=[
            text_concept(b["reason"]),
            *(icd10_concept(c) for c in b.get("preliminary_diagnoses", [])),
        ],
        supportingInfo=[uri_ref(b["discharge_summary_id"])] if b.get("discharge_summary_id") else None,
        note=[{"text": n} for n in notes] or None,
    )


_TASK_STATUS = {"accepted": "accepted", "declined": "rejected", "closed": "completed"}


def _referral_response(out: RecordResources) -> None:
    b = out.body
    task = out.new("Task")
    put(
        task,
        status=request_status(out.env.status, _TASK_STATUS[b["decision"]]),
        intent="order",
        code=snomed_concept("3457005", "Patient referral", out.title),
        focus=uri_ref(b["referral_id"]),
        for_=out.patient,
        authoredOn=date_time(b["responded_at"]),
        owner=display_ref(b.get("responded_by")),
        statusReason=text_concept(b["reason"]) if b.get("reason") else None,
    )


def _consultation(out: RecordResources) -> None:
    b = out.body
    sr = out.new("ServiceRequest")
    put(
        sr,
        status=request_status(out.env.status, "completed" if b.get("answer") else "active"),
        intent="order",
        code=snomed_concept("11429006", "Consultation", out.title),
        subject=out.patient,
        authoredOn=date_time(b["requested_at"]),
        requester=put(
            {"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["requesting_clinic"]}},
            display=b.get("requested_by"),
        ),
        performer=[{"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["consulting_clinic"]}}],
        reasonCode=[text_concept(b["question"]), *(icd10_concept(c) for c in b.get("diagnoses", []))],
        supportingInfo=[uri_ref(a) for a in b.get("attachment_ids", [])],
    )
    if b.get("answer"):
        answer = out.new("Communication", "answer")
        put(
            answer,
            basedOn=[out.ref(sr)],
            status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
            subject=out.patient,
            sent=date_time(b["answered_at"]),
            sender=put(
                {"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["consulting_clinic"]}},
                display=b.get("answered_by"),
            ),
            payload=[{"contentString": b["answer"]}],
        )


def _birth(out: RecordResources) -> None:
    b = out.body
    components = [
        {
            "code": loinc_concept("8339-4", "Birth weight Measured"),
            "valueQuantity": quantity(b["weight_g"], "g"),
        },
        {
            "code": loinc_concept("49051-6", "Gestational age in weeks"),
            "valueQuantity": quantity(b["gestational_weeks"], "wk"),
        },
        {
            "code": loinc_concept("76689-9", "Sex assigned at birth"),
            "valueCodeableConcept": rhip_concept("sex", b["sex"]),
        },
    ]
    if b.get("length_cm") is not None:
        components.append(
            {"code": loinc_concept("8302-2", "Body height"), "valueQuantity": quantity(b["length_cm"], "cm")}
        )
    obs = out.observation(
        "",
        loinc_concept("21112-8", "Birth date", out.title),
        when=b["birth_time"],
        category="exam",
        value={"valueDateTime": date_time(b["birth_time"])},
        component=components,
    )
    if b.get("birth_certificate_number"):
        obs["identifier"].append(
            {"system": f"{CANONICAL}/sid/birth-certificate", "value": b["birth_certificate_number"]}
        )
    obs["note"] = [
        {"text": t}
        for t in (
            f"出生地点：{code_zh('delivery_place', b['place'])}"
            + (f"（{b['place_name']}）" if b.get("place_name") else ""),
            f"接生者：{b['midwife']}" if b.get("midwife") else None,
        )
        if t
    ]
    mother = out.new("RelatedPerson", "mother")
    put(
        mother,
        identifier=(
            [
                identifier(
                    tho_concept("v2-0203", "NI", "National unique individual identifier"),
                    RESIDENT_ID_SYSTEM,
                    b["mother_id_number"],
                )
            ]
            if b.get("mother_id_number")
            else None
        ),
        patient=out.patient,
        relationship=[tho_concept("v3-RoleCode", "NMTH", "natural mother")],
        name=[{"text": b["mother_name"]}],
        gender="female",
        extension=[{"url": EXT + "resident", "valueReference": uri_ref(b["mother_id"])}],
    )
    obs["extension"] = [{"url": EXT + "birth-mother", "valueReference": out.ref(mother)}]
    if b.get("father_name"):
        father = out.new("RelatedPerson", "father")
        obs["extension"].append({"url": EXT + "birth-father", "valueReference": out.ref(father)})
        put(
            father,
            patient=out.patient,
            relationship=[tho_concept("v3-RoleCode", "NFTH", "natural father")],
            name=[{"text": b["father_name"]}],
            gender="male",
        )


def _death(out: RecordResources) -> None:
    b = out.body
    components: list[Json] = [
        {
            "code": loinc_concept("80358-5", "Cause of death.underlying [Type]"),
            "valueCodeableConcept": icd10_concept(b["underlying_cause"]),
        },
        {
            "code": loinc_concept("69453-9", "Cause of death [US Standard Certificate of Death]"),
            "valueCodeableConcept": text_concept(b["immediate_cause"]),
        },
        {
            "code": loinc_concept("58332-8", "Location of death"),
            "valueCodeableConcept": rhip_concept("death_place", b["place"]),
        },
    ]
    for cause in [*b.get("causes_chain", []), *b.get("other_conditions", [])]:
        concept = (
            icd10_concept(cause["icd10"], cause["description"])
            if cause.get("icd10")
            else text_concept(cause["description"])
        )
        components.append(
            {
                "code": loinc_concept("69453-9", "Cause of death [US Standard Certificate of Death]"),
                "valueCodeableConcept": concept,
            }
        )
    obs = out.observation(
        "",
        loinc_concept("81956-5", "Date+time of death", out.title),
        when=b["death_time"],
        category="exam",
        value={"valueDateTime": date_time(b["death_time"])},
        performer=[{"display": b["certifier"]}],
        component=components,
    )
    if b.get("certificate_number"):
        obs["identifier"].append(
            {"system": f"{CANONICAL}/sid/death-certificate", "value": b["certificate_number"]}
        )
    if b.get("certified_on"):
        obs["issued"] = instant(b["certified_on"])


MAPPERS: dict[str, Mapper] = {
    "allergy": _allergy,
    "immunization": _immunization,
    "referral": _referral,
    "referral_response": _referral_response,
    "consultation": _consultation,
    "birth": _birth,
    "death": _death,
}
