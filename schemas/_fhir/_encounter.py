"""Visits and stays: the outpatient encounter and prescription, the inpatient stay and what it holds.

An inpatient stay is an ``Encounter``; its orders and its discharge summary name it (``stay_id``).
"""

from __future__ import annotations

from .._envelope import Status
from ._common import (
    CANONICAL,
    EXT,
    ICD9CM_SYSTEM,
    THO,
    UCUM_SYSTEM,
    URI_IDENTIFIER,
    Json,
    code_zh,
    coding,
    date_time,
    display_ref,
    loinc_concept,
    narrative,
    number,
    put,
    request_status,
    rhip_concept,
    text_concept,
    tho_concept,
)
from ._medication import drug_concept, prescribed_dosage
from ._resources import Mapper, RecordResources

__all__ = ["MAPPERS"]


# -- outpatient ----------------------------------------------------------------------------------


def _encounter_status(status: Status) -> str:
    return "entered-in-error" if status is Status.ENTERED_IN_ERROR else "finished"


def _encounter(out: RecordResources) -> None:
    b = out.body
    when = b["visit_time"]
    enc = out.new("Encounter")
    diagnoses: list[Json] = []
    for i, dx in enumerate(b["diagnoses"]):
        cond = out.condition(f"dx/{i}", dx["icd10"], note=dx.get("note"))
        diagnoses.append(put({"condition": out.ref(cond)}, rank=1 if dx.get("primary") else None))
    out.vitals(b.get("vitals", {}), when)
    for i, order in enumerate(b.get("orders", [])):
        sr = out.new("ServiceRequest", f"order/{i}")
        put(
            sr,
            status=request_status(out.env.status, "completed"),
            intent="order",
            category=[rhip_concept("order_kind", order["kind"])],
            code=text_concept(order["item"]),
            subject=out.patient,
            encounter=out.ref(enc),
            authoredOn=date_time(when),
            requester=display_ref(b.get("doctor")),
            note=[{"text": order["note"]}] if order.get("note") else None,
        )
    put(
        enc,
        text=narrative(
            out.title,
            [
                ("就诊时间", when),
                ("科室", b.get("department")),
                ("医生", b.get("doctor")),
                ("主诉", b["chief_complaint"]),
                ("现病史", b.get("present_illness")),
                ("体格检查", b.get("physical_exam")),
                ("医嘱建议", b.get("advice")),
            ],
        ),
        status=_encounter_status(out.env.status),
        class_=coding(THO + "v3-ActCode", "AMB", "ambulatory"),
        type=[text_concept("门诊就诊")],
        serviceType=text_concept(b["department"]) if b.get("department") else None,
        subject=out.patient,
        participant=(
            [
                {
                    "type": [tho_concept("v3-ParticipationType", "ATND", "attender")],
                    "individual": {"display": b["doctor"]},
                }
            ]
            if b.get("doctor")
            else None
        ),
        period={"start": date_time(when)},
        reasonCode=[text_concept(b["chief_complaint"])],
        diagnosis=diagnoses,
    )


def _prescription(out: RecordResources) -> None:
    b = out.body
    group = out.new("RequestGroup")
    group_id = {"system": URI_IDENTIFIER, "value": f"urn:uuid:{out.env.id}"}
    actions = []
    for i, item in enumerate(b["items"]):
        mr = out.new("MedicationRequest", f"item/{i}")
        put(
            mr,
            status=request_status(out.env.status, "active"),
            intent="order",
            category=[tho_concept("medicationrequest-category", "outpatient", "Outpatient")],
            medicationCodeableConcept=drug_concept(item["drug"]),
            subject=out.patient,
            encounter=out.encounter_ref(),
            authoredOn=date_time(b["prescribed_at"]),
            requester=display_ref(b.get("doctor")),
            groupIdentifier=group_id,
            note=[{"text": b["note"]}] if b.get("note") else None,
            dosageInstruction=[prescribed_dosage(item)],
            dispenseRequest={
                "quantity": {"value": item["quantity"], "unit": code_zh("dose_unit", item["dose_unit"])},
                "expectedSupplyDuration": {
                    "value": item["days"],
                    "unit": "d",
                    "system": UCUM_SYSTEM,
                    "code": "d",
                },
            },
        )
        actions.append({"resource": out.ref(mr)})
    put(
        group,
        groupIdentifier=group_id,
        status=request_status(out.env.status, "active"),
        intent="order",
        code=text_concept(out.title),
        subject=out.patient,
        encounter=out.encounter_ref(),
        authoredOn=date_time(b["prescribed_at"]),
        author=display_ref(b.get("doctor")),
        note=[{"text": b["note"]}] if b.get("note") else None,
        action=actions,
    )


# -- inpatient ------------------------------------------------------------------------------------


def _inpatient_stay(out: RecordResources) -> None:
    b = out.body
    enc = out.new("Encounter")
    admitting = out.condition("dx/admitting", b["admitting_diagnosis"], when=b["admission_time"])
    diagnoses = [
        {"condition": out.ref(admitting), "use": tho_concept("diagnosis-role", "AD", "Admission diagnosis")}
    ]
    for i, dx in enumerate(b.get("discharge_diagnoses", [])):
        outcome = dx.get("outcome")
        cond = out.condition(
            f"dx/{i}",
            dx["icd10"],
            clinical="resolved" if outcome == "cured" else "active",
            note="；".join(
                t
                for t in (code_zh("diagnosis_outcome", outcome) if outcome else "", dx.get("note") or "")
                if t
            )
            or None,
        )
        diagnoses.append(
            put(
                {
                    "condition": out.ref(cond),
                    "use": tho_concept("diagnosis-role", "DD", "Discharge diagnosis"),
                },
                rank=1 if dx.get("primary") else None,
            )
        )
    for i, op in enumerate(b.get("operations", [])):
        proc = out.new("Procedure", f"operation/{i}")
        put(
            proc,
            status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
            code=put(
                {"coding": [coding(ICD9CM_SYSTEM, op["code"])]} if op.get("code") else {},
                text=op["name"],
            ),
            subject=out.patient,
            encounter=out.ref(enc),
            performedDateTime=date_time(op["date"]),
            performer=[{"actor": {"display": op["surgeon"]}}] if op.get("surgeon") else None,
        )
    period = put(
        {"start": date_time(b["admission_time"])},
        end=date_time(b["discharge_time"]) if b.get("discharge_time") else None,
    )
    location = " ".join(
        t for t in (b["department"], b.get("ward") or "", f"{b['bed']}床" if b.get("bed") else "") if t
    )
    finished = b.get("discharge_time") is not None
    put(
        enc,
        identifier=[
            *enc["identifier"],
            *(
                [
                    {
                        "type": tho_concept("v2-0203", "VN", "Visit number"),
                        "system": f"{CANONICAL}/sid/inpatient-number",
                        "value": b["inpatient_number"],
                    }
                ]
                if b.get("inpatient_number")
                else []
            ),
        ],
        status="entered-in-error"
        if out.env.status is Status.ENTERED_IN_ERROR
        else "finished"
        if finished
        else "in-progress",
        class_=coding(THO + "v3-ActCode", "IMP", "inpatient encounter"),
        type=[text_concept(out.title)],
        serviceType=text_concept(b["department"]),
        subject=out.patient,
        participant=(
            [
                {
                    "type": [tho_concept("v3-ParticipationType", "ATND", "attender")],
                    "individual": {"display": b["attending_doctor"]},
                }
            ]
            if b.get("attending_doctor")
            else None
        ),
        period=period,
        diagnosis=diagnoses,
        hospitalization=put(
            {},
            admitSource=rhip_concept("admission_route", b["admission_route"])
            if b.get("admission_route")
            else None,
            dischargeDisposition=rhip_concept("discharge_outcome", b["outcome"])
            if b.get("outcome")
            else None,
        ),
        location=[{"location": {"display": location}}],
        extension=[
            {"url": EXT + k.replace("_", "-"), "valueMoney": {"value": number(b[k]), "currency": "CNY"}}
            for k in ("total_cost", "insurance_paid")
            if b.get(k) is not None
        ],
    )


def _inpatient_order(out: RecordResources) -> None:
    b = out.body
    status = "stopped" if b.get("stopped_at") else "active" if b["kind"] == "long_term" else "completed"
    kind = rhip_concept("inpatient_order_kind", b["kind"])
    if b.get("drug"):
        mr = out.new("MedicationRequest")
        item = {k: b.get(k) for k in ("dose", "dose_unit", "route", "frequency")}
        put(
            mr,
            status=request_status(out.env.status, status),
            intent="order",
            category=[tho_concept("medicationrequest-category", "inpatient", "Inpatient"), kind],
            medicationCodeableConcept=drug_concept(b["drug"]),
            subject=out.patient,
            encounter=out.encounter_ref(),
            authoredOn=date_time(b["ordered_at"]),
            requester=display_ref(b.get("doctor")),
            note=[{"text": b["content"]}],
            dosageInstruction=[prescribed_dosage({**item, "dose": b["dose"]})],
            dispenseRequest=(
                {"validityPeriod": {"start": date_time(b["ordered_at"]), "end": date_time(b["stopped_at"])}}
                if b.get("stopped_at")
                else None
            ),
        )
        return
    sr = out.new("ServiceRequest")
    put(
        sr,
        status=request_status(out.env.status, status),
        intent="order",
        category=[kind],
        code=text_concept(b["content"]),
        subject=out.patient,
        encounter=out.encounter_ref(),
        occurrencePeriod=put(
            {"start": date_time(b["ordered_at"])},
            end=date_time(b["stopped_at"]) if b.get("stopped_at") else None,
        ),
        authoredOn=date_time(b["ordered_at"]),
        requester=display_ref(b.get("doctor")),
    )


def _discharge_summary(out: RecordResources) -> None:
    b = out.body
    comp = out.new("Composition")
    sections: list[Json] = []
    for key, title, loinc in (
        ("admission_condition", "入院情况", None),
        ("course_in_hospital", "诊疗经过", ("8648-8", "Hospital course Narrative")),
        ("discharge_condition", "出院情况", None),
        ("follow_up_advice", "出院医嘱", ("8653-8", "Hospital Discharge instructions")),
    ):
        if b.get(key):
            sections.append(
                put(
                    {"title": title},
                    code=loinc_concept(*loinc, title) if loinc else text_concept(title),
                    text=narrative(title, [(title, b[key])]),
                )
            )
    dx_entries = []
    for i, dx in enumerate(b["discharge_diagnoses"]):
        cond = out.condition(f"dx/{i}", dx["icd10"], when=None, note=dx.get("note"))
        dx_entries.append(out.ref(cond))
    sections.append(
        {
            "title": "出院诊断",
            "code": loinc_concept("11535-2", "Hospital discharge Dx Narrative", "出院诊断"),
            "text": narrative(
                "出院诊断",
                [
                    (
                        ("主要诊断" if d.get("primary") else "其他诊断"),
                        f"{d['icd10']} {code_zh('icd10', d['icd10'])}",
                    )
                    for d in b["discharge_diagnoses"]
                ],
            ),
            "entry": dx_entries,
        }
    )
    meds = []
    for i, item in enumerate(b.get("discharge_medication", [])):
        mr = out.new("MedicationRequest", f"medication/{i}")
        put(
            mr,
            status=request_status(out.env.status, "active"),
            intent="order",
            category=[tho_concept("medicationrequest-category", "discharge", "Discharge")],
            medicationCodeableConcept=drug_concept(item["drug"]),
            subject=out.patient,
            encounter=out.encounter_ref(),
            authoredOn=date_time(b["discharge_time"]),
            requester=display_ref(b.get("doctor")),
            dosageInstruction=[prescribed_dosage(item)],
            dispenseRequest={"quantity": {"value": item["quantity"]}},
        )
        meds.append(out.ref(mr))
    if meds:
        sections.append(
            {
                "title": "出院带药",
                "code": loinc_concept("10183-2", "Hospital discharge medications Narrative", "出院带药"),
                "text": narrative(
                    "出院带药",
                    [
                        (str(i + 1), prescribed_dosage(m)["text"])
                        for i, m in enumerate(b["discharge_medication"])
                    ],
                ),
                "entry": meds,
            }
        )
    put(
        comp,
        status="entered-in-error"
        if out.env.status is Status.ENTERED_IN_ERROR
        else "amended"
        if out.env.status is Status.AMENDED
        else "final",
        type=loinc_concept("18842-5", "Discharge summary", out.title),
        subject=out.patient,
        encounter=out.encounter_ref(),
        date=date_time(b["discharge_time"]),
        author=[{"display": b.get("doctor") or "出院医师"}],
        title=out.title,
        event=(
            [{"period": {"start": date_time(b["admission_time"]), "end": date_time(b["discharge_time"])}}]
            if b.get("admission_time")
            else None
        ),
        section=sections,
    )


MAPPERS: dict[str, Mapper] = {
    "encounter": _encounter,
    "prescription": _prescription,
    "inpatient_stay": _inpatient_stay,
    "inpatient_order": _inpatient_order,
    "discharge_summary": _discharge_summary,
}
