"""FHIR R4 export: every record type maps to well-formed resources with the standard codings."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import schemas
from schemas._fhir import CANONICAL, ICD10_SYSTEM, LOINC_SYSTEM, RESIDENT_ID_SYSTEM, fhir_resources, is_loinc

from .conftest import encounter_data, prescription_data, resident_data
from .test_record_types import EXAMPLES, REF, TODAY

NODE = "01970f3a-0000-7000-8000-00000000000a"
RESIDENT = "01970f3a-0000-7000-8000-0000000000aa"
HLC = (1_750_000_000_000 << 16) | 7

# Elements R4 requires (cardinality 1..) of each resource type the export makes.
REQUIRED: dict[str, tuple[str, ...]] = {
    "Patient": (),
    "Encounter": ("status", "class"),
    "Condition": ("subject",),
    "Observation": ("status", "code"),
    "MedicationRequest": ("status", "intent", "medicationCodeableConcept", "subject"),
    "MedicationStatement": ("status", "medicationCodeableConcept", "subject"),
    "RequestGroup": ("status", "intent"),
    "DiagnosticReport": ("status", "code"),
    "Specimen": (),
    "ImagingStudy": ("status", "subject"),
    "AllergyIntolerance": ("patient",),
    "Immunization": ("status", "vaccineCode", "patient", "occurrenceDateTime"),
    "ServiceRequest": ("status", "intent", "subject"),
    "Communication": ("status",),
    "Procedure": ("status", "subject"),
    "RelatedPerson": ("patient",),
    "FamilyMemberHistory": ("status", "patient", "relationship"),
    "Composition": ("status", "type", "date", "author", "title"),
    "DocumentReference": ("status", "content"),
    "Task": ("status", "intent"),
    "Invoice": ("status",),
    "MedicationDispense": ("status", "medicationCodeableConcept"),
    "Consent": ("status", "scope", "category"),
}
# Required value sets of the status elements.
STATUSES: dict[str, set[str]] = {
    "Consent": {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    "Encounter": {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                  "entered-in-error", "unknown"},
    "Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                    "entered-in-error", "unknown"},
    "DiagnosticReport": {"registered", "partial", "preliminary", "final", "amended", "corrected",
                         "appended", "cancelled", "entered-in-error", "unknown"},
    "MedicationRequest": {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped",
                          "draft", "unknown"},
    "MedicationStatement": {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold",
                            "unknown", "not-taken"},
    "RequestGroup": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    "ServiceRequest": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    "Immunization": {"completed", "entered-in-error", "not-done"},
    "ImagingStudy": {"registered", "available", "cancelled", "entered-in-error", "unknown"},
    "Procedure": {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                  "entered-in-error", "unknown"},
    "Composition": {"preliminary", "final", "amended", "entered-in-error"},
    "DocumentReference": {"current", "superseded", "entered-in-error"},
    "Communication": {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                      "entered-in-error", "unknown"},
    "FamilyMemberHistory": {"partial", "completed", "entered-in-error", "health-unknown"},
    "Task": {"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
             "on-hold", "failed", "completed", "entered-in-error"},
    "Invoice": {"draft", "issued", "balanced", "cancelled", "entered-in-error"},
    "MedicationDispense": {"preparation", "in-progress", "cancelled", "on-hold", "completed",
                           "entered-in-error", "stopped", "declined", "unknown"},
}  # fmt: skip
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
DATETIME = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$")


def _resident() -> dict[str, Any]:
    return resident_data(
        name_latin="Zhang San",
        card_number="ABCD12345678",
        marital_status="20",
        ethnicity="01",
        blood_type={"abo": "A", "rh": "positive"},
        past_history=[{"icd10": "I10", "since": "2010-01-01"}],
        family_history=[{"relation": "51", "icd10": "E11.9"}],
        emergency_contacts=[{"name": "李四", "relation": "10", "phone": "13900000001"}],
        other_ids=[{"type": "passport", "number": "E12345678"}],
    )


def _encounter() -> dict[str, Any]:
    return {
        **encounter_data("2025-06-01T09:30:00", "J06.9"),
        "department": "全科",
        "doctor": "王医生",
        "vitals": {
            "temperature_c": 38.4,
            "pulse": 92,
            "respiration": 20,
            "systolic": 128,
            "diastolic": 82,
            "spo2": 97,
        },
        "diagnoses": [{"icd10": "J06.9", "primary": True}, {"icd10": "I10"}],
        "orders": [{"kind": "lab", "item": "血常规"}],
    }


ALL_EXAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    **EXAMPLES,
    "resident": _resident,
    "encounter": _encounter,
    "prescription": lambda: prescription_data("2025-06-01T09:40:00"),
}


def envelope(name: str, data: dict[str, Any] | None = None, **changes: Any) -> schemas.RecordEnvelope:
    rt = schemas.record_type(name)
    body = schemas.validate(name, data if data is not None else ALL_EXAMPLES[name](), today=TODAY)
    rid = RESIDENT if name == "resident" else str(uuid.uuid5(uuid.NAMESPACE_URL, f"test/{name}"))
    env = schemas.RecordEnvelope(
        id=rid,
        fact_id=rid,
        type=name,
        v=rt.version,
        resident_id=rid if name == "resident" else RESIDENT,
        author=NODE,
        hlc=HLC,
        effective=str(body[rt.date_field]),
        data=body,
    )
    return dataclasses.replace(env, **changes)


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON tree."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def codings(resource: Any, system: str) -> list[str]:
    return [v["code"] for k, v in walk(resource) if k == "coding" for v in v if v.get("system") == system]


def check_resource(r: dict[str, Any], *, contained: bool = False) -> None:
    rtype = r["resourceType"]
    assert rtype in REQUIRED, f"unexpected resource type {rtype}"
    assert FHIR_ID.match(r["id"]), r["id"]
    for element in REQUIRED[rtype]:
        assert r.get(element) not in (None, [], {}, ""), f"{rtype}.{element} is required"
    if rtype in STATUSES:
        assert r["status"] in STATUSES[rtype], f"{rtype}.status {r['status']!r}"
    assert r["meta"]["source"] == f"urn:uuid:{NODE}"
    if contained:
        assert "text" not in r and "lastUpdated" not in r["meta"] and "contained" not in r  # dom-1, 2, 4
    for key, value in walk(r):
        if key == "coding":
            assert all(c.get("system") and c.get("code") for c in value), value
        if key in ("effectiveDateTime", "occurrenceDateTime", "authoredOn", "recordedDate", "onsetDateTime"):
            assert DATETIME.match(value), f"{key} {value!r} is not a FHIR dateTime (offset required)"
        if key in ("issued", "lastUpdated"):
            assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", value), value
        if key == "reference":
            assert value == "#" or value.startswith(("#", "urn:uuid:")), value
        if key == "div":
            assert value.startswith('<div xmlns="http://www.w3.org/1999/xhtml">'), value
    if rtype == "Observation" and r["category"][0]["coding"][0]["code"] == "vital-signs":
        assert r.get("subject") and r.get("effectiveDateTime")
        assert "valueQuantity" in r or r.get("component"), "a vital sign has a value or components"
    json.dumps(r)  # plain JSON all the way down


# --- every record type -------------------------------------------------------------------------


def test_every_registered_record_type_has_an_example() -> None:
    assert set(ALL_EXAMPLES) == {rt.name for rt in schemas.record_types()}


@pytest.mark.parametrize("name", sorted(ALL_EXAMPLES))
def test_record_maps_to_a_valid_resource(name: str) -> None:
    env = envelope(name)
    resource = schemas.to_fhir(env)
    check_resource(resource)
    assert {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{env.id}"} in (
        resource["identifier"] if isinstance(resource["identifier"], list) else [resource["identifier"]]
    )
    ids = {c["id"] for c in resource.get("contained", [])}
    for c in resource.get("contained", []):
        check_resource(c, contained=True)
    for key, value in walk(resource):
        if key == "reference" and value.startswith("#") and value != "#":
            assert value[1:] in ids, f"{value} names no contained resource"
    for c in resource.get("contained", []):  # dom-3: each is referenced, or references its container
        assert any(v == f"#{c['id']}" for k, v in walk(resource) if k == "reference") or any(
            v == "#" for k, v in walk(c) if k == "reference"
        ), f"contained {c['resourceType']} is not linked to its container"


@pytest.mark.parametrize("name", sorted(ALL_EXAMPLES))
def test_entered_in_error_and_amended_show_in_the_resource(name: str) -> None:
    for status in (schemas.Status.ENTERED_IN_ERROR, schemas.Status.AMENDED):
        resources = fhir_resources(envelope(name, status=status))
        for r in resources:
            check_resource(r)
        main = resources[0]
        if status is schemas.Status.ENTERED_IN_ERROR:
            marks = [v for k, v in walk(main) if k in ("status", "code") and v == "entered-in-error"]
            assert marks or main.get("active") is False or "verificationStatus" in main, main["resourceType"]


# --- the bundle -----------------------------------------------------------------------------------


def test_bundle_is_a_collection_whose_references_resolve() -> None:
    envs = [envelope(name) for name in sorted(ALL_EXAMPLES)]
    bundle = schemas.fhir_bundle(envs)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls)), "fullUrls are unique (bdl-7)"
    for entry in bundle["entry"]:
        check_resource(entry["resource"])
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    patients = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert [p["id"] for p in patients] == [RESIDENT]
    by_url = set(urls)
    for entry in bundle["entry"]:  # everything is about the resident, who is in the bundle
        r = entry["resource"]
        assert (r.get("subject") or r.get("patient") or {"reference": f"urn:uuid:{RESIDENT}"}) in (
            {"reference": f"urn:uuid:{RESIDENT}"},
            *({"reference": f"urn:uuid:{ref}"} for ref in REF),  # a newborn's own record (delivery)
        )
    # Resources derived from a record point at that record's main resource, which is in the bundle.
    encounter = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["id"] == envs_id(envs, "encounter")
    )
    for dx in encounter["diagnosis"]:
        assert dx["condition"]["reference"] in by_url
    json.dumps(bundle, ensure_ascii=False)


def envs_id(envs: list[schemas.RecordEnvelope], name: str) -> str:
    return next(e.id for e in envs if e.type == name)


def test_bundle_exports_the_newest_resident_and_marks_a_death() -> None:
    first = envelope("resident")
    newer_data = {**_resident(), "phone": "13911112222"}
    newer = envelope(
        "resident",
        data=newer_data,
        id=str(uuid.uuid4()),
        hlc=HLC + (1 << 16),
        status=schemas.Status.AMENDED,
        supersedes=first.id,
    )
    death = envelope("death", resident_id=first.resident_id)
    bundle = schemas.fhir_bundle([newer, first, death])
    patients = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == 1
    assert patients[0]["telecom"][0]["value"] == "13911112222"
    assert patients[0]["deceasedDateTime"] == "2025-03-01T22:10:00+08:00"


# --- what each mapping must carry ---------------------------------------------------------------


def test_resident_is_a_patient_with_national_identifiers() -> None:
    env = envelope("resident")
    p = schemas.to_fhir(env)
    assert p["resourceType"] == "Patient" and p["id"] == env.resident_id
    number = next(i for i in p["identifier"] if i.get("system") == RESIDENT_ID_SYSTEM)
    assert number["value"] == env.data["id_number"] and number["use"] == "official"
    assert p["gender"] == "male" and p["birthDate"] == "1970-05-12"
    sex = next(e for e in p["extension"] if e["url"].endswith("/sex"))
    assert sex["valueCoding"]["code"] == "1"
    address = p["address"][0]
    division = address["extension"][0]["valueCoding"]
    assert division["code"] == env.data["address"]["division_code"] and "gb-t-2260" in division["system"]
    assert address["country"] == "CN" and address["district"] and address["line"]
    assert p["telecom"] == [{"system": "phone", "value": env.data["phone"], "use": "mobile"}]
    assert codings(p["maritalStatus"], "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus") == ["M"]
    assert p["contact"][0]["relationship"][0]["coding"][0]["code"] == "C"
    assert "I10" in codings(p, ICD10_SYSTEM)  # past history, as contained Conditions
    assert {"883-9", "10331-7"} <= set(codings(p, LOINC_SYSTEM))  # blood type


def test_version_1_resident_exports_as_current_version() -> None:
    data = {**resident_data(), "ncms_number": "NC123456"}
    env = schemas.RecordEnvelope(
        id=RESIDENT, fact_id=RESIDENT, type="resident", v=1, resident_id=RESIDENT, author=NODE,
        hlc=HLC, effective="1970-05-12", data=data,
    )  # fmt: skip
    p = schemas.to_fhir(env)
    assert any(
        i.get("value") == "NC123456" and i["system"].endswith("/resident-insurance") for i in p["identifier"]
    )


def test_encounter_carries_icd10_conditions_and_loinc_vitals() -> None:
    enc = schemas.to_fhir(envelope("encounter"))
    assert enc["resourceType"] == "Encounter" and enc["class"]["code"] == "AMB"
    assert enc["period"]["start"] == "2025-06-01T09:30:00+08:00"
    conditions = [c for c in enc["contained"] if c["resourceType"] == "Condition"]
    assert [codings(c, ICD10_SYSTEM) for c in conditions] == [["J06.9"], ["I10"]]
    assert enc["diagnosis"][0] == {"condition": {"reference": f"#{conditions[0]['id']}"}, "rank": 1}
    assert all(c["encounter"] == {"reference": "#"} for c in conditions)
    observations = {
        codings(o["code"], LOINC_SYSTEM)[0]: o for o in enc["contained"] if o["resourceType"] == "Observation"
    }
    assert {"8310-5", "8867-4", "9279-1", "85354-9", "59408-5"} <= set(observations)
    assert observations["8310-5"]["valueQuantity"] == {
        "value": 38.4, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"
    }  # fmt: skip
    bp = observations["85354-9"]
    assert "valueQuantity" not in bp
    assert {codings(c["code"], LOINC_SYSTEM)[0]: c["valueQuantity"]["value"] for c in bp["component"]} == {
        "8480-6": 128,
        "8462-4": 82,
    }
    assert all(o["category"][0]["coding"][0]["code"] == "vital-signs" for o in observations.values())


def test_prescription_is_one_medication_request_per_item() -> None:
    data = prescription_data("2025-06-01T09:40:00")
    data["items"].append({**data["items"][0], "frequency": "prn", "route": "im", "dose_unit": "mg"})
    group = schemas.to_fhir(envelope("prescription", data=data))
    assert group["resourceType"] == "RequestGroup"
    requests = [c for c in group["contained"] if c["resourceType"] == "MedicationRequest"]
    assert len(requests) == 2 and [a["resource"]["reference"] for a in group["action"]] == [
        f"#{r['id']}" for r in requests
    ]
    first, second = (r["dosageInstruction"][0] for r in requests)
    assert first["timing"]["repeat"] == {
        "frequency": 3, "period": 1, "periodUnit": "d",
        "boundsDuration": {"value": 3, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"},
    }  # fmt: skip
    assert first["timing"]["code"]["coding"][0]["code"] == "TID"
    assert codings(first["route"], "http://snomed.info/sct") == ["26643006"]  # oral
    assert second["asNeededBoolean"] is True and "timing" not in second
    assert codings(second["route"], "http://snomed.info/sct") == ["78421000"]  # intramuscular
    assert second["doseAndRate"][0]["doseQuantity"]["code"] == "mg"
    assert all(r["intent"] == "order" and r["groupIdentifier"] == group["groupIdentifier"] for r in requests)


def test_lab_report_has_loinc_observations_with_ranges_and_flags() -> None:
    data = EXAMPLES["lab_report"]()
    data["items"].append(
        {"code": "2093-3", "name": "总胆固醇", "value": "<0.5", "unit": "mmol/L", "reference_range": "<5.2"}
    )
    report = schemas.to_fhir(envelope("lab_report", data=data))
    assert report["resourceType"] == "DiagnosticReport"
    assert report["category"][0]["coding"][0]["code"] == "LAB"
    observations = [c for c in report["contained"] if c["resourceType"] == "Observation"]
    assert [r["reference"] for r in report["result"]] == [f"#{o['id']}" for o in observations]
    glucose, cholesterol, protein, loinc_item = observations
    assert glucose["valueQuantity"]["value"] == 7.2 and glucose["valueQuantity"]["code"] == "mmol/L"
    assert glucose["referenceRange"] == [
        {
            "low": {"value": 3.9, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
            "high": {"value": 6.1, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
        }
    ]
    assert glucose["interpretation"][0]["coding"][0]["code"] == "H"  # derived by the schema: 7.2 > 6.1
    assert cholesterol["interpretation"][0]["coding"][0]["code"] == "N"
    assert protein["valueString"] == "阴性" and protein["referenceRange"] == [{"text": "阴性"}]
    assert codings(glucose["code"], LOINC_SYSTEM) == []  # "GLU" is the lab's own code, not LOINC
    assert codings(glucose["code"], f"{CANONICAL}/CodeSystem/lab-item") == ["GLU"]
    assert codings(loinc_item["code"], LOINC_SYSTEM) == ["2093-3"]
    assert loinc_item["valueQuantity"]["comparator"] == "<" and loinc_item["valueQuantity"]["value"] == 0.5
    assert any(c["resourceType"] == "Specimen" for c in report["contained"])


def test_imaging_report_has_a_study_with_its_dicom_uid() -> None:
    report = schemas.to_fhir(envelope("imaging_report"))
    assert report["resourceType"] == "DiagnosticReport" and report["conclusion"] == "心肺膈未见异常"
    assert codings(report["code"], LOINC_SYSTEM) == ["18748-4"]
    study = next(c for c in report["contained"] if c["resourceType"] == "ImagingStudy")
    assert report["imagingStudy"] == [{"reference": f"#{study['id']}"}]
    assert {"system": "urn:dicom:uid", "value": f"urn:oid:{EXAMPLES['imaging_report']()['study_uid']}"} in (
        study["identifier"]
    )
    assert study["modality"] == [
        {
            "system": "http://dicom.nema.org/resources/ontology/DCM",
            "code": "DX",
            "display": "Digital radiography",
        }
    ]


def test_allergy_immunization_death_and_inpatient_codings() -> None:
    allergy = schemas.to_fhir(envelope("allergy"))
    assert allergy["resourceType"] == "AllergyIntolerance" and allergy["category"] == ["medication"]
    assert allergy["reaction"][0]["severity"] == "moderate"
    imm = schemas.to_fhir(envelope("immunization"))
    assert imm["resourceType"] == "Immunization" and imm["protocolApplied"] == [{"doseNumberPositiveInt": 1}]
    assert imm["lotNumber"] == "202503B12" and imm["occurrenceDateTime"] == "2025-06-05T10:15:00+08:00"
    death = schemas.to_fhir(envelope("death"))
    assert death["resourceType"] == "Observation" and codings(death["code"], LOINC_SYSTEM) == ["81956-5"]
    underlying = next(c for c in death["component"] if codings(c["code"], LOINC_SYSTEM) == ["80358-5"])
    assert codings(underlying, ICD10_SYSTEM) == [EXAMPLES["death"]()["underlying_cause"]]
    stay = schemas.to_fhir(envelope("inpatient_stay"))
    assert stay["class"]["code"] == "IMP" and len(codings(stay, ICD10_SYSTEM)) == 3
    summary = schemas.to_fhir(envelope("discharge_summary"))
    assert codings(summary["type"], LOINC_SYSTEM) == ["18842-5"] and codings(summary, ICD10_SYSTEM)
    referral = schemas.to_fhir(envelope("referral"))
    assert codings(referral["reasonCode"], ICD10_SYSTEM) == EXAMPLES["referral"]()["preliminary_diagnoses"]


def test_a_referral_response_is_a_task_on_the_referral() -> None:
    declined = schemas.to_fhir(envelope("referral_response"))
    assert (declined["resourceType"], declined["status"]) == ("Task", "rejected")
    assert declined["focus"] == {"reference": f"urn:uuid:{REF[0]}"}
    assert declined["statusReason"]["text"] == EXAMPLES["referral_response"]()["reason"]
    accepted = {**EXAMPLES["referral_response"](), "decision": "accepted", "reason": None}
    task = schemas.to_fhir(envelope("referral_response", accepted))
    assert task["status"] == "accepted" and "statusReason" not in task


def test_public_health_forms_keep_the_whole_body_and_code_what_they_can() -> None:
    import base64

    for name in ("hypertension_followup", "prenatal_visit", "child_check", "health_exam", "tb_followup"):
        env = envelope(name)
        doc = schemas.to_fhir(env)
        assert doc["resourceType"] == "DocumentReference"
        body = json.loads(base64.b64decode(doc["content"][0]["attachment"]["data"]))
        assert body == env.data
    htn = schemas.to_fhir(envelope("hypertension_followup"))
    assert {"85354-9", "29463-7", "8867-4"} <= set(codings(htn, LOINC_SYSTEM))
    assert any(c["resourceType"] == "MedicationStatement" for c in htn["contained"])
    dm = schemas.to_fhir(envelope("diabetes_followup"))
    assert {"14771-0", "4548-4"} <= set(codings(dm, LOINC_SYSTEM))
    prenatal = schemas.to_fhir(envelope("prenatal_visit"))
    assert {"49051-6", "11881-0", "55283-6"} <= set(codings(prenatal, LOINC_SYSTEM))
    exam = schemas.to_fhir(envelope("health_exam"))
    assert "I10" in codings(exam, ICD10_SYSTEM) and "39156-5" in codings(exam, LOINC_SYSTEM)


@pytest.mark.parametrize("code", ["8310-5", "8867-4", "85354-9", "8480-6", "8462-4", "4548-4", "1558-6",
                                  "2093-3", "13457-7", "718-7", "81956-5", "18842-5", "10331-7"])  # fmt: skip
def test_loinc_check_digit_accepts_real_codes(code: str) -> None:
    assert is_loinc(code)


@pytest.mark.parametrize("code", ["8310-4", "8867-3", "GLU", "", None, "12345678-1", "1-2-3"])
def test_loinc_check_digit_refuses_others(code: str | None) -> None:
    assert not is_loinc(code)
