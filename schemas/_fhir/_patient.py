"""A resident as a FHIR Patient, with its blood type, past and family history."""

from __future__ import annotations

from .._codes import code_list
from .._envelope import Status
from ._common import (
    CANONICAL,
    EXT,
    RESIDENT_ID_SYSTEM,
    THO,
    Json,
    coding,
    icd10_concept,
    identifier,
    loinc_concept,
    put,
    rhip_coding,
    rhip_concept,
    text_concept,
    tho_concept,
)
from ._resources import Mapper, RecordResources

__all__ = ["MAPPERS"]

_GENDER = {"1": "male", "2": "female", "0": "unknown", "9": "unknown"}
_MARITAL = {
    "10": ("S", "Never Married"),
    "20": ("M", "Married"),
    "21": ("M", "Married"),
    "22": ("M", "Married"),
    "23": ("M", "Married"),
    "30": ("W", "Widowed"),
    "40": ("D", "Divorced"),
}
_ID_TYPES = {"passport": ("PPN", "Passport number"), "military_id": ("MI", "Military ID number")}


def _division_chain(code: str) -> dict[str, str]:
    """Names of the province, city, county, township and village a division code lies in."""
    divisions = code_list("division")
    names: dict[str, str] = {}
    entry = divisions.get(code)
    while entry is not None:
        level = entry.extra.get("level")
        if isinstance(level, str):
            names[level] = entry.zh
        parent = entry.extra.get("parent")
        entry = divisions.get(parent) if isinstance(parent, str) else None
    return names


def _address(address: Json) -> Json:
    code = address["division_code"]
    names = _division_chain(code)
    line = [t for t in (address.get("township"), address.get("village"), address.get("street")) if t]
    text = "".join(t for t in (names.get("province"), names.get("city"), names.get("county"), *line) if t)
    return put(
        {},
        extension=[
            {"url": EXT + "division-code", "valueCoding": rhip_coding("division", code)},
        ],
        use="home",
        type="physical",
        text=text or None,
        line=line,
        district=names.get("county"),
        city=names.get("city"),
        state=names.get("province"),
        country="CN",
    )


def _telecom(phone: str) -> Json:
    return {"system": "phone", "value": phone, "use": "mobile" if phone.startswith("1") else "home"}


def _resident(out: RecordResources) -> None:
    b = out.body
    p = out.new("Patient", resource_id=out.env.resident_id)
    identifiers = list(p.pop("identifier"))
    if b.get("id_number"):
        identifiers.append(
            identifier(
                tho_concept("v2-0203", "NI", "National unique individual identifier"),
                RESIDENT_ID_SYSTEM,
                b["id_number"],
                "official",
            )
        )
    if b.get("card_number"):
        identifiers.append(
            identifier(
                text_concept("居民健康卡号"), f"{CANONICAL}/sid/resident-health-card", b["card_number"]
            )
        )
    if b.get("insurance_number"):
        identifiers.append(
            identifier(
                tho_concept("v2-0203", "MB", "Member Number"),
                f"{CANONICAL}/sid/resident-insurance",
                b["insurance_number"],
            )
        )
    for other in b.get("other_ids", []):
        known = _ID_TYPES.get(other["type"])
        type_ = rhip_concept("id_type", other["type"], *([coding(THO + "v2-0203", *known)] if known else []))
        identifiers.append(
            identifier(type_, f"{CANONICAL}/sid/{other['type'].replace('_', '-')}", other["number"])
        )
    names = [
        {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                    "valueCode": "IDE",
                }
            ],
            "use": "official",
            "text": b["name"],
        }
    ]
    if b.get("name_latin"):
        names.append(
            {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                        "valueCode": "ABC",
                    }
                ],
                "use": "official",
                "text": b["name_latin"],
            }
        )
    extension = [{"url": EXT + "sex", "valueCoding": rhip_coding("sex", b["sex"])}]
    if b.get("ethnicity"):
        extension.append({"url": EXT + "ethnicity", "valueCoding": rhip_coding("ethnicity", b["ethnicity"])})
    marital = b.get("marital_status")
    contacts = [
        {
            "relationship": [
                tho_concept("v2-0131", "C", "Emergency Contact"),
                rhip_concept("relation", c["relation"]),
            ],
            "name": {"text": c["name"]},
            "telecom": [_telecom(c["phone"])],
        }
        for c in b.get("emergency_contacts", [])
    ]
    put(
        p,
        extension=extension,
        identifier=identifiers,
        active=out.env.status is not Status.ENTERED_IN_ERROR,
        name=names,
        telecom=[_telecom(b["phone"])] if b.get("phone") else None,
        gender=_GENDER.get(b["sex"], "unknown"),
        birthDate=b["birth_date"],
        address=[_address(b["address"])] if b.get("address") else None,
        maritalStatus=(
            rhip_concept(
                "marital_status",
                marital,
                coding(THO + "v3-MaritalStatus", *_MARITAL[marital])
                if marital in _MARITAL
                else coding(THO + "v3-NullFlavor", "UNK", "unknown"),
            )
            if marital
            else None
        ),
        contact=contacts,
    )
    blood = b.get("blood_type")
    if blood:
        out.observation(
            "blood-type",
            loinc_concept("882-1", "ABO and Rh group [Type] in Blood"),
            when=None,
            category="laboratory",
            component=[
                {
                    "code": loinc_concept("883-9", "ABO group [Type] in Blood"),
                    "valueCodeableConcept": rhip_concept("abo", blood["abo"]),
                },
                {
                    "code": loinc_concept("10331-7", "Rh [Type] in Blood"),
                    "valueCodeableConcept": rhip_concept("rh", blood.get("rh", "unknown")),
                },
            ],
        )
    for i, item in enumerate(b.get("past_history", [])):
        out.condition(
            f"history/{i}",
            item.get("icd10"),
            text=item.get("description"),
            category="problem-list-item",
            when=item.get("since"),
            clinical=None,  # a past history does not say whether the condition is still active
            note="既往史",
        )
    for i, item in enumerate(b.get("family_history", [])):
        fmh = out.new("FamilyMemberHistory", f"family/{i}")
        condition: Json = {
            "code": icd10_concept(item["icd10"], item.get("description"))
            if item.get("icd10")
            else text_concept(item["description"])
        }
        put(
            fmh,
            status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
            patient=out.patient,
            relationship=rhip_concept("relation", item["relation"]),
            condition=[condition],
        )


MAPPERS: dict[str, Mapper] = {"resident": _resident}
