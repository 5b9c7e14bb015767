"""The desk workflow of a visit: registration (Encounter), steps (Task), orders (ServiceRequest),
payments and refunds (Invoice), dispensing (MedicationDispense).

A visit's records name it by id, so its Task, Invoice and MedicationDispense
resources point at the visit's Encounter (``urn:uuid:<visit id>``). Money is
CNY with two decimals, converted exactly from the records' whole fen.
"""

from __future__ import annotations

from .._envelope import Status
from .._money import fen_to_yuan
from ._common import (
    CANONICAL,
    THO,
    Json,
    code_zh,
    coding,
    date_time,
    display_ref,
    number,
    put,
    request_status,
    rhip_coding,
    rhip_concept,
    text_concept,
    tho_concept,
    uri_ref,
)
from ._medication import drug_concept
from ._resources import Mapper, RecordResources

__all__ = ["MAPPERS"]

_PRIORITY = {"routine": "routine", "urgent": "urgent", "emergency": "stat"}
_ERROR = Status.ENTERED_IN_ERROR


def _money(fen: int) -> Json:
    return {"value": number(fen_to_yuan(fen)), "currency": "CNY"}


def _visit(out: RecordResources) -> None:
    b = out.body
    enc = out.new("Encounter")
    put(
        enc,
        identifier=[
            *enc["identifier"],
            {
                "type": tho_concept("v2-0203", "VN", "Visit number"),
                "system": f"{CANONICAL}/sid/queue-number/{b['registered_at'][:10]}/{b['department']}",
                "value": str(b["queue_number"]),
            },
        ],
        status="entered-in-error" if out.env.status is _ERROR else "arrived",
        class_=coding(THO + "v3-ActCode", "AMB", "ambulatory"),
        type=[text_concept(out.title)],
        serviceType=rhip_concept("department", b["department"]),
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
        period={"start": date_time(b["registered_at"])},
    )


def _visit_step(out: RecordResources) -> None:
    b = out.body
    task = out.new("Task")
    ended = b["step"] in ("cancelled", "left")
    outputs = [
        {"type": text_concept(name), "valueReference": uri_ref(ref)}
        for name, refs in (
            ("encounter", [b["encounter_id"]] if b.get("encounter_id") else []),
            ("prescription", b.get("prescription_ids", [])),
            ("order", b.get("order_ids", [])),
            ("report", b.get("report_ids", [])),
        )
        for ref in refs
    ]
    put(
        task,
        status="entered-in-error" if out.env.status is _ERROR else "cancelled" if ended else "completed",
        intent="order",
        businessStatus={"coding": [rhip_coding("visit_step", b["step"])]},
        code=text_concept(out.title),
        focus=uri_ref(b["visit_id"]),
        for_=out.patient,
        encounter=uri_ref(b["visit_id"]),
        executionPeriod={"start": date_time(b["at"])},
        statusReason=text_concept(b["reason"]) if b.get("reason") else None,
        note=[{"text": b["note"]}] if b.get("note") else None,
    )
    if b.get("vitals"):  # taken at triage: each an Observation, listed as the step's output
        out.vitals(b["vitals"], b["at"])
        outputs += [
            {"type": text_concept("vital-signs"), "valueReference": out.ref(r)} for r in out.resources[1:]
        ]
    put(task, output=outputs)


def _service_order(out: RecordResources) -> None:
    b = out.body
    sr = out.new("ServiceRequest")
    put(
        sr,
        status=request_status(out.env.status, "active"),
        intent="order",
        category=[rhip_concept("order_kind", b["kind"])] if b.get("kind") else None,
        priority=_PRIORITY.get(b.get("urgency", "routine"), "routine"),
        code=rhip_concept("service", b["service"]),
        subject=out.patient,
        encounter=out.encounter_ref() or (uri_ref(b["visit_id"]) if b.get("visit_id") else None),
        authoredOn=date_time(b["ordered_at"]),
        requester=display_ref(b.get("doctor")),
        note=[{"text": b["clinical_note"]}] if b.get("clinical_note") else None,
    )


def _line_item(line: Json, sequence: int) -> Json:
    catalogue = "drug" if line["source"] == "drug" else "service"
    return {
        "sequence": sequence,
        "chargeItemCodeableConcept": {
            "coding": [
                rhip_coding(catalogue, line["code"]),
                rhip_coding("charge_category", line["category"]),
            ],
            "text": line["name"],
        },
        "priceComponent": [
            {"type": "base", "factor": line["quantity"], "amount": _money(line["amount_fen"])},
        ],
    }


def _payment(out: RecordResources) -> None:
    b = out.body
    s = b["settlement"]
    inv = out.new("Invoice")
    put(
        inv,
        identifier=[*inv["identifier"], {"system": f"{CANONICAL}/sid/receipt", "value": b["receipt_number"]}],
        status="entered-in-error" if out.env.status is _ERROR else "balanced",
        type=text_concept(out.title),
        subject=out.patient,
        date=date_time(b["paid_at"]),
        participant=[{"actor": {"display": b["cashier"]}}] if b.get("cashier") else None,
        lineItem=[_line_item(line, i + 1) for i, line in enumerate(b["lines"])],
        totalPriceComponent=[
            {
                "type": "deduction",
                "code": rhip_concept("insurance_scheme", s["scheme"]),
                "amount": _money(s["insurance_fen"]),
            }
        ],
        totalGross=_money(b["total_fen"]),
        totalNet=_money(s["self_fen"]),
        paymentTerms=code_zh("payment_method", b["method"]),
        note=[{"text": f"replaces {b['replaces']}"}] if b.get("replaces") else None,
    )


def _refund(out: RecordResources) -> None:
    b = out.body
    inv = out.new("Invoice")
    put(
        inv,
        identifier=[*inv["identifier"], {"system": f"{CANONICAL}/sid/receipt", "value": b["refund_number"]}],
        status="entered-in-error" if out.env.status is _ERROR else "cancelled",
        cancelledReason=b["reason"],
        type=text_concept(out.title),
        subject=out.patient,
        date=date_time(b["refunded_at"]),
        participant=[{"actor": {"display": b["cashier"]}}] if b.get("cashier") else None,
        totalPriceComponent=[{"type": "deduction", "amount": _money(b["insurance_fen"])}],
        totalGross=_money(-b["total_fen"]),
        totalNet=_money(-b["self_fen"]),
        note=[{"text": f"reverses payment {b['payment_id']}"}],
    )


def _dispense(out: RecordResources) -> None:
    b = out.body
    main: Json | None = None
    for i, item in enumerate(b["items"]):
        md = out.new("MedicationDispense", f"item/{i}" if i else "")
        put(
            md,
            status="entered-in-error" if out.env.status is _ERROR else "completed",
            medicationCodeableConcept=drug_concept(item["drug"]),
            subject=out.patient,
            context=uri_ref(b["visit_id"]),
            performer=[{"actor": {"display": b["pharmacist"]}}] if b.get("pharmacist") else None,
            authorizingPrescription=[uri_ref(b["prescription_id"])],
            quantity={"value": item["quantity"]},
            whenHandedOver=date_time(b["dispensed_at"]),
            note=[{"text": b["note"]}] if b.get("note") and main is None else None,
            # the items of one dispensing point at its first, which holds the record's identifier
            supportingInformation=[out.ref(main)] if main is not None else None,
        )
        main = main or md


MAPPERS: dict[str, Mapper] = {
    "visit": _visit,
    "visit_step": _visit_step,
    "service_order": _service_order,
    "payment": _payment,
    "refund": _refund,
    "dispense": _dispense,
}
