"""FHIR R4 export of rhip records: what the hub sends to other health systems.

Rules:
1. Pure: no I/O, no clock reads. The body is upgraded to the current version of
   its type (``validate``) before it is mapped, so old records export like new ones.
2. Every registered record type maps. The core clinical types map to their own
   resources; the national public-health forms (follow-ups, checks, examinations)
   map to a ``DocumentReference`` holding the whole body as JSON, plus the coded
   resources that can be derived from them (vital signs and lab values with LOINC,
   diagnoses with ICD-10, medications).
3. Ids are stable: the record's main resource has the record id; resources derived
   from it have a UUIDv5 of the record id and their role; a ``Patient`` has the
   resident id. References are ``urn:uuid:<id>``, so a ``Bundle`` of several
   records links up by itself.
4. ``meta.source`` is the authoring node (``urn:uuid:<node id>``), ``meta.lastUpdated``
   the record's HLC wall time. Every main resource carries the record id as an
   ``urn:ietf:rfc:3986`` identifier.
5. Date-times without an offset are clinic wall-clock time, China Standard Time (+08:00).

``to_fhir`` gives one record's main resource with the others of that record
``contained``; ``fhir_resources`` gives them side by side; ``fhir_bundle`` lays the
resources of many records out as a ``collection`` Bundle (one ``Patient`` per
resident, its newest version, marked deceased when a death record is in the bundle).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import re
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from ._codes import code_list
from ._envelope import RecordEnvelope, Status
from ._registry import record_type, validate

__all__ = [
    "CANONICAL",
    "ICD10_SYSTEM",
    "LOINC_SYSTEM",
    "RESIDENT_ID_SYSTEM",
    "fhir_bundle",
    "fhir_resources",
    "is_loinc",
    "to_fhir",
]

Json = dict[str, Any]

# The region publishes its code systems, extensions and questionnaires under one canonical base.
CANONICAL = "https://fhir.rhip.example/r4"
# The resident identity number (居民身份证号), as identified in the WS/T 500 shared-document headers.
RESIDENT_ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
ICD9CM_SYSTEM = "http://hl7.org/fhir/sid/icd-9-cm"
LOINC_SYSTEM = "http://loinc.org"
SNOMED_SYSTEM = "http://snomed.info/sct"
UCUM_SYSTEM = "http://unitsofmeasure.org"
ATC_SYSTEM = "http://www.whocc.no/atc"
DICOM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
URI_IDENTIFIER = "urn:ietf:rfc:3986"
_THO = "http://terminology.hl7.org/CodeSystem/"
_EXT = f"{CANONICAL}/StructureDefinition/"
_NAMESPACE = uuid.UUID("6f1c33a2-5d0e-5b8c-9a41-3c2f7d1e8b90")  # UUIDv5 namespace of derived resource ids
_CST = dt.timezone(dt.timedelta(hours=8))
_HLC_COUNTER_BITS = 16  # an HLC stamp is wall_ms << 16 | counter (sync.Stamp)

# Code lists that are national standards get the standard's name in their system URI.
_STANDARD_LISTS = {
    "division": "gb-t-2260",
    "sex": "gb-t-2261.1",
    "marital_status": "gb-t-2261.2",
    "ethnicity": "gb-t-3304",
    "relation": "gb-t-4761",
}


def code_system(list_name: str) -> str:
    """The FHIR system URI of one of rhip's code lists."""
    return f"{CANONICAL}/CodeSystem/{_STANDARD_LISTS.get(list_name, list_name.replace('_', '-'))}"


# -- small builders ----------------------------------------------------------------------


def _coding(system: str, code: str, display: str | None = None) -> Json:
    out: Json = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _local(list_name: str, code: str) -> Json:
    entry = code_list(list_name).get(code)
    return _coding(code_system(list_name), code, entry.zh if entry else None)


def _concept(list_name: str, code: str, *extra: Json) -> Json:
    """A CodeableConcept of a code from one of rhip's lists (plus standard codings), text in Chinese."""
    entry = code_list(list_name).get(code)
    return {"coding": [*extra, _local(list_name, code)], "text": entry.zh if entry else code}


def _text(text: str) -> Json:
    return {"text": text}


def _icd10(code: str, note: str | None = None) -> Json:
    entry = code_list("icd10").get(code)
    out: Json = {"coding": [_coding(ICD10_SYSTEM, code, entry.en if entry else None)]}
    out["text"] = note or (entry.zh if entry else code)
    return out


def _loinc(code: str, display: str, text: str | None = None) -> Json:
    return {"coding": [_coding(LOINC_SYSTEM, code, display)], "text": text or display}


def _snomed(code: str, display: str, text: str | None = None) -> Json:
    return {"coding": [_coding(SNOMED_SYSTEM, code, display)], "text": text or display}


def _tho(system: str, code: str, display: str) -> Json:
    return {"coding": [_coding(_THO + system, code, display)]}


def _number(value: Any) -> int | float:
    """A JSON number for FHIR's decimal from a body value (Decimal bodies travel as text)."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int | float):
        return value
    d = Decimal(str(value))
    return int(d) if d == d.to_integral_value() and "." not in str(value) else float(d)


_UCUM_UNITS = {
    "mmol/L": "mmol/L",
    "umol/L": "umol/L",
    "μmol/L": "umol/L",
    "µmol/L": "umol/L",
    "g/L": "g/L",
    "mg/L": "mg/L",
    "mg/dL": "mg/dL",
    "U/L": "U/L",
    "IU/L": "[IU]/L",
    "%": "%",
    "10^9/L": "10*9/L",
    "10^12/L": "10*12/L",
    "×10^9/L": "10*9/L",
    "×10^12/L": "10*12/L",
    "fL": "fL",
    "pg": "pg",
    "mm/h": "mm/h",
    "s": "s",
    "ng/mL": "ng/mL",
    "pmol/L": "pmol/L",
    "mIU/L": "m[IU]/L",
    "kg": "kg",
    "g": "g",
    "cm": "cm",
    "mm[Hg]": "mm[Hg]",
    "mmHg": "mm[Hg]",
    "/min": "/min",
    "Cel": "Cel",
    "℃": "Cel",
    "kg/m2": "kg/m2",
    "wk": "wk",
    "d": "d",
    "mL": "mL",
    "ml": "mL",
    "mg": "mg",
    "ug": "ug",
    "{score}": "{score}",
}
_DOSE_UNITS = {"mg": "mg", "g": "g", "ug": "ug", "ml": "mL", "iu": "[IU]", "u": "[U]"}


def _quantity(value: Any, unit: str | None) -> Json:
    out: Json = {"value": _number(value)}
    if unit:
        out["unit"] = unit
        ucum = _UCUM_UNITS.get(unit)
        if ucum is not None:
            out["system"] = UCUM_SYSTEM
            out["code"] = ucum
    return out


def _when(value: str) -> str:
    """A FHIR date or dateTime: a time always carries an offset (clinic time is +08:00)."""
    if len(value) == 10:
        return value
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_CST)
    return moment.isoformat(timespec="seconds")


def _instant(value: str) -> str:
    """A FHIR instant (seconds and offset required); a bare date counts as midnight clinic time."""
    return _when(value if len(value) > 10 else f"{value}T00:00:00")


def _narrative(title: str, lines: Iterable[tuple[str, Any]]) -> Json:
    rows = "".join(
        f"<p><b>{html.escape(label)}</b>: {html.escape(str(value))}</p>"
        for label, value in lines
        if value not in (None, "", [])
    )
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><h3>{html.escape(title)}</h3>{rows}</div>',
    }


def _uri_ref(resource_id: str, display: str | None = None) -> Json:
    out: Json = {"reference": f"urn:uuid:{resource_id}"}
    if display:
        out["display"] = display
    return out


def _display(name: str | None) -> Json | None:
    return {"display": name} if name else None


def _put(resource: Json, **fields: Any) -> Json:
    """Set the fields that have a value (not None, not empty)."""
    for key, value in fields.items():
        if value is not None and value not in ([], {}):
            resource[key.rstrip("_")] = value
    return resource


def _loinc_check_digit(digits: str) -> str:
    """LOINC's mod-10 check digit of the part before the hyphen."""
    rev = digits[::-1]
    odd = rev[0::2][::-1]  # positions 1, 3, 5 … from the right, read left to right
    even = rev[1::2][::-1]
    total = sum(int(c) for c in even + str(int(odd) * 2))
    return str((10 - total % 10) % 10)


_LOINC_RE = re.compile(r"^(\d{1,7})-(\d)$")


def is_loinc(code: str | None) -> bool:
    """Whether ``code`` is a well-formed LOINC number (its check digit agrees)."""
    m = _LOINC_RE.match(code or "")
    return m is not None and _loinc_check_digit(m.group(1)) == m.group(2)


# -- one record's resources -----------------------------------------------------------------


class _Out:
    """The resources one record maps to; the first made is the main one."""

    def __init__(self, env: RecordEnvelope, body: Json) -> None:
        self.env = env
        self.body = body
        self.resources: list[Json] = []
        self.patient = _uri_ref(env.resident_id)
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
                return _uri_ref(value)
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
        _put(
            obs,
            status=_observation_status(self.env.status),
            category=[_tho("observation-category", category, _OBS_CATEGORIES[category])],
            code=code,
            subject=fields.pop("subject", self.patient),
            encounter=self.encounter_ref(),
            effectiveDateTime=_when(when) if when else None,
        )
        if value is not None:
            obs.update(value)
        return _put(obs, **fields)

    def vital(self, key: str, value: Any, when: str | None) -> Json | None:
        """One vital sign or body measure by its body field name (LOINC coded)."""
        spec = _VITALS.get(key)
        if value is None or spec is None:
            return None
        loinc, display, unit = spec
        code = _loinc(loinc, display)
        if key == "spo2":
            code["coding"].append(_coding(LOINC_SYSTEM, "2708-6", "Oxygen saturation in Arterial blood"))
        return self.observation(
            f"vital/{key}", code, when=when, value={"valueQuantity": _quantity(value, unit)}
        )

    def vitals(self, values: Json, when: str | None) -> None:
        systolic, diastolic = values.get("systolic"), values.get("diastolic")
        if systolic is not None or diastolic is not None:
            components = [
                {
                    "code": _loinc(code, display),
                    "valueQuantity": _quantity(v, "mm[Hg]"),
                }
                for code, display, v in (
                    ("8480-6", "Systolic blood pressure", systolic),
                    ("8462-4", "Diastolic blood pressure", diastolic),
                )
                if v is not None
            ]
            self.observation(
                "vital/bp",
                _loinc("85354-9", "Blood pressure panel with all children optional"),
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
                _loinc(*loinc),
                when=when,
                category="laboratory",
                value={"valueQuantity": _quantity(value, unit)},
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
        _put(
            cond,
            clinicalStatus=(
                _tho("condition-clinical", clinical, clinical.capitalize())
                if clinical and verification != "entered-in-error"
                else None
            ),
            verificationStatus=_tho("condition-ver-status", verification, verification.capitalize()),
            category=[_tho("condition-category", category, _CONDITION_CATEGORIES[category])],
            code=_icd10(icd10, text) if icd10 else (_text(text) if text else None),
            subject=self.patient,
            encounter=self.encounter_ref() if category == "encounter-diagnosis" else None,
            onsetDateTime=_when(when) if when else None,
            recordedDate=_when(self.env.effective) if category == "encounter-diagnosis" else None,
            note=[{"text": note}] if note else None,
        )
        return cond

    def medication_statement(self, role: str, drug: str, dose: str, frequency: str, when: str) -> Json:
        ms = self.new("MedicationStatement", role)
        timing = _timing(frequency)
        dosage: Json = {"text": f"{dose} {_code_zh('frequency', frequency)}"}
        if timing:
            dosage["timing"] = timing
        return _put(
            ms,
            status="entered-in-error" if self.env.status is Status.ENTERED_IN_ERROR else "active",
            medicationCodeableConcept=_drug(drug),
            subject=self.patient,
            context=self.encounter_ref(),
            effectiveDateTime=_when(when),
            dateAsserted=_when(when),
            dosage=[dosage],
        )


_FASTING_GLUCOSE = ("14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma")
_RANDOM_GLUCOSE = ("15074-8", "Glucose [Moles/volume] in Blood")
_HBA1C = ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")
_HEMOGLOBIN = ("718-7", "Hemoglobin [Mass/volume] in Blood")

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


def _observation_status(status: Status) -> str:
    return {Status.FINAL: "final", Status.AMENDED: "amended", Status.ENTERED_IN_ERROR: "entered-in-error"}[
        status
    ]


def _code_zh(list_name: str, code: str) -> str:
    entry = code_list(list_name).get(code)
    return entry.zh if entry else code


def _code_en(list_name: str, code: str) -> str:
    entry = code_list(list_name).get(code)
    return entry.en if entry else code


def _drug(code: str) -> Json:
    entry = code_list("drug").get(code)
    codings = [_local("drug", code)]
    atc = entry.extra.get("atc") if entry else None
    if isinstance(atc, str):
        codings.insert(0, _coding(ATC_SYSTEM, atc))
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


def _route(code: str) -> Json:
    snomed = _ROUTES.get(code)
    return _concept("route", code, *([_coding(SNOMED_SYSTEM, *snomed)] if snomed else []))


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


def _timing(frequency: str, days: int | None = None) -> Json | None:
    spec = _FREQUENCIES.get(frequency)
    if spec is None:  # prn: no schedule, given as needed
        return None
    repeat = dict(spec[0])
    if days is not None and "count" not in repeat:
        repeat["boundsDuration"] = {"value": days, "unit": "d", "system": UCUM_SYSTEM, "code": "d"}
    codings = [_local("frequency", frequency)]
    if spec[1]:
        codings.insert(0, _coding(_THO + "v3-GTSAbbreviation", spec[1]))
    return {"repeat": repeat, "code": {"coding": codings, "text": _code_zh("frequency", frequency)}}


def _dosage(item: Json, sequence: int = 1) -> Json:
    """A Dosage from a prescription item (drug, dose, dose_unit, route, frequency[, days])."""
    unit = item.get("dose_unit")
    dose_text = f"{item['dose']}{_code_zh('dose_unit', unit) if unit else ''}"
    text = " ".join(
        t
        for t in (
            dose_text,
            _code_zh("route", item["route"]) if item.get("route") else "",
            _code_zh("frequency", item["frequency"]) if item.get("frequency") else "",
            f"{item['days']}天" if item.get("days") else "",
        )
        if t
    )
    dosage: Json = {"sequence": sequence, "text": text}
    if item.get("frequency"):
        timing = _timing(item["frequency"], item.get("days"))
        if timing:
            dosage["timing"] = timing
        if item["frequency"] == "prn":
            dosage["asNeededBoolean"] = True
    if item.get("route"):
        dosage["route"] = _route(item["route"])
    if unit:
        quantity: Json = {"value": _number(item["dose"]), "unit": _code_zh("dose_unit", unit)}
        if unit in _DOSE_UNITS:
            quantity.update(system=UCUM_SYSTEM, code=_DOSE_UNITS[unit])
        dosage["doseAndRate"] = [
            {"type": _tho("dose-rate-type", "ordered", "Ordered"), "doseQuantity": quantity}
        ]
    return dosage


def _request_status(status: Status, default: str) -> str:
    return "entered-in-error" if status is Status.ENTERED_IN_ERROR else default


# -- resident -------------------------------------------------------------------------------

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
    return _put(
        {},
        extension=[
            {"url": _EXT + "division-code", "valueCoding": _local("division", code)},
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


def _identifier(type_: Json, system: str, value: str, use: str | None = None) -> Json:
    return _put({}, use=use, type=type_, system=system, value=value)


def _resident(out: _Out) -> None:
    b = out.body
    p = out.new("Patient", resource_id=out.env.resident_id)
    identifiers = list(p.pop("identifier"))
    if b.get("id_number"):
        identifiers.append(
            _identifier(
                _tho("v2-0203", "NI", "National unique individual identifier"),
                RESIDENT_ID_SYSTEM,
                b["id_number"],
                "official",
            )
        )
    if b.get("card_number"):
        identifiers.append(
            _identifier(_text("居民健康卡号"), f"{CANONICAL}/sid/resident-health-card", b["card_number"])
        )
    if b.get("insurance_number"):
        identifiers.append(
            _identifier(
                _tho("v2-0203", "MB", "Member Number"),
                f"{CANONICAL}/sid/resident-insurance",
                b["insurance_number"],
            )
        )
    for other in b.get("other_ids", []):
        known = _ID_TYPES.get(other["type"])
        type_ = _concept("id_type", other["type"], *([_coding(_THO + "v2-0203", *known)] if known else []))
        identifiers.append(
            _identifier(type_, f"{CANONICAL}/sid/{other['type'].replace('_', '-')}", other["number"])
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
    extension = [{"url": _EXT + "sex", "valueCoding": _local("sex", b["sex"])}]
    if b.get("ethnicity"):
        extension.append({"url": _EXT + "ethnicity", "valueCoding": _local("ethnicity", b["ethnicity"])})
    marital = b.get("marital_status")
    contacts = [
        {
            "relationship": [
                _tho("v2-0131", "C", "Emergency Contact"),
                _concept("relation", c["relation"]),
            ],
            "name": {"text": c["name"]},
            "telecom": [_telecom(c["phone"])],
        }
        for c in b.get("emergency_contacts", [])
    ]
    _put(
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
            _concept(
                "marital_status",
                marital,
                _coding(_THO + "v3-MaritalStatus", *_MARITAL[marital])
                if marital in _MARITAL
                else _coding(_THO + "v3-NullFlavor", "UNK", "unknown"),
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
            _loinc("882-1", "ABO and Rh group [Type] in Blood"),
            when=None,
            category="laboratory",
            component=[
                {
                    "code": _loinc("883-9", "ABO group [Type] in Blood"),
                    "valueCodeableConcept": _concept("abo", blood["abo"]),
                },
                {
                    "code": _loinc("10331-7", "Rh [Type] in Blood"),
                    "valueCodeableConcept": _concept("rh", blood.get("rh", "unknown")),
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
            "code": _icd10(item["icd10"], item.get("description"))
            if item.get("icd10")
            else _text(item["description"])
        }
        _put(
            fmh,
            status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
            patient=out.patient,
            relationship=_concept("relation", item["relation"]),
            condition=[condition],
        )


# -- outpatient encounter and prescription ----------------------------------------------------


def _encounter_status(status: Status) -> str:
    return "entered-in-error" if status is Status.ENTERED_IN_ERROR else "finished"


def _encounter(out: _Out) -> None:
    b = out.body
    when = b["visit_time"]
    enc = out.new("Encounter")
    diagnoses: list[Json] = []
    for i, dx in enumerate(b["diagnoses"]):
        cond = out.condition(f"dx/{i}", dx["icd10"], note=dx.get("note"))
        diagnoses.append(_put({"condition": out.ref(cond)}, rank=1 if dx.get("primary") else None))
    out.vitals(b.get("vitals", {}), when)
    for i, order in enumerate(b.get("orders", [])):
        sr = out.new("ServiceRequest", f"order/{i}")
        _put(
            sr,
            status=_request_status(out.env.status, "completed"),
            intent="order",
            category=[_concept("order_kind", order["kind"])],
            code=_text(order["item"]),
            subject=out.patient,
            encounter=out.ref(enc),
            authoredOn=_when(when),
            requester=_display(b.get("doctor")),
            note=[{"text": order["note"]}] if order.get("note") else None,
        )
    _put(
        enc,
        text=_narrative(
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
        class_=_coding(_THO + "v3-ActCode", "AMB", "ambulatory"),
        type=[_text("门诊就诊")],
        serviceType=_text(b["department"]) if b.get("department") else None,
        subject=out.patient,
        participant=(
            [
                {
                    "type": [_tho("v3-ParticipationType", "ATND", "attender")],
                    "individual": {"display": b["doctor"]},
                }
            ]
            if b.get("doctor")
            else None
        ),
        period={"start": _when(when)},
        reasonCode=[_text(b["chief_complaint"])],
        diagnosis=diagnoses,
    )


def _prescription(out: _Out) -> None:
    b = out.body
    group = out.new("RequestGroup")
    group_id = {"system": URI_IDENTIFIER, "value": f"urn:uuid:{out.env.id}"}
    actions = []
    for i, item in enumerate(b["items"]):
        mr = out.new("MedicationRequest", f"item/{i}")
        _put(
            mr,
            status=_request_status(out.env.status, "active"),
            intent="order",
            category=[_tho("medicationrequest-category", "outpatient", "Outpatient")],
            medicationCodeableConcept=_drug(item["drug"]),
            subject=out.patient,
            encounter=out.encounter_ref(),
            authoredOn=_when(b["prescribed_at"]),
            requester=_display(b.get("doctor")),
            groupIdentifier=group_id,
            note=[{"text": b["note"]}] if b.get("note") else None,
            dosageInstruction=[_dosage(item)],
            dispenseRequest={
                "quantity": {"value": item["quantity"], "unit": _code_zh("dose_unit", item["dose_unit"])},
                "expectedSupplyDuration": {
                    "value": item["days"],
                    "unit": "d",
                    "system": UCUM_SYSTEM,
                    "code": "d",
                },
            },
        )
        actions.append({"resource": out.ref(mr)})
    _put(
        group,
        groupIdentifier=group_id,
        status=_request_status(out.env.status, "active"),
        intent="order",
        code=_text(out.title),
        subject=out.patient,
        encounter=out.encounter_ref(),
        authoredOn=_when(b["prescribed_at"]),
        author=_display(b.get("doctor")),
        note=[{"text": b["note"]}] if b.get("note") else None,
        action=actions,
    )


# -- lab and imaging ----------------------------------------------------------------------------

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
        return {"valueQuantity": _quantity(value, unit)}
    text = str(value).strip()
    if _NUMBER_RE.match(text):
        return {"valueQuantity": _quantity(text, unit)}
    m = _COMPARATOR_RE.match(text)
    if m:
        q = _quantity(m.group(2), unit)
        q["comparator"] = {"≤": "<=", "≥": ">="}.get(m.group(1), m.group(1))
        return {"valueQuantity": q}
    return {"valueString": text}


def _lab_report(out: _Out) -> None:
    b = out.body
    report = out.new("DiagnosticReport")
    when = b.get("collected_at") or b["reported_at"]
    specimen = out.new("Specimen", "specimen")
    snomed = _SPECIMENS.get(b["specimen"])
    _put(
        specimen,
        type=_concept("specimen", b["specimen"], *([_coding(SNOMED_SYSTEM, *snomed)] if snomed else [])),
        subject=out.patient,
        collection={"collectedDateTime": _when(b["collected_at"])} if b.get("collected_at") else None,
    )
    results = []
    for i, item in enumerate(b["items"]):
        codings = []
        if is_loinc(item.get("code")):
            codings.append(_coding(LOINC_SYSTEM, item["code"]))
        elif item.get("code"):
            codings.append(_coding(f"{CANONICAL}/CodeSystem/lab-item", item["code"]))
        low, high = item.get("reference_low"), item.get("reference_high")
        ref_range = _put(
            {},
            low=_quantity(low, item.get("unit")) if low is not None else None,
            high=_quantity(high, item.get("unit")) if high is not None else None,
            text=item.get("reference_range"),
        )
        flag = item.get("abnormal")
        obs = out.observation(
            f"item/{i}",
            _put({"coding": codings}, text=item["name"]) if codings else _text(item["name"]),
            when=when,
            category="laboratory",
            value=_lab_value(item["value"], item.get("unit")),
            issued=_instant(b["reported_at"]),
            interpretation=(
                [
                    {
                        "coding": [
                            _coding(_THO + "v3-ObservationInterpretation", flag, _INTERPRETATION[flag])
                        ],
                        "text": _code_zh("abnormal_flag", flag),
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
        [_coding(f"{CANONICAL}/CodeSystem/lab-panel", b["panel_code"], b["panel_name"])]
        if b.get("panel_code")
        else []
    )
    if is_loinc(b.get("panel_code")):
        panel = [_coding(LOINC_SYSTEM, b["panel_code"], b["panel_name"])]
    _put(
        report,
        status=_observation_status(out.env.status),
        category=[_tho("v2-0074", "LAB", "Laboratory")],
        code=_put({"coding": panel}, text=b["panel_name"]) if panel else _text(b["panel_name"]),
        subject=out.patient,
        encounter=out.encounter_ref(),
        effectiveDateTime=_when(when),
        issued=_instant(b["reported_at"]),
        performer=[p for p in (_display(b.get("lab_name")), _display(b.get("reported_by"))) if p],
        resultsInterpreter=[_display(b["reviewer"])] if b.get("reviewer") else None,
        specimen=[out.ref(specimen)],
        result=results,
        conclusion=b.get("note"),
    )


def _imaging_report(out: _Out) -> None:
    b = out.body
    report = out.new("DiagnosticReport")
    when = b.get("examined_at") or b["reported_at"]
    study = out.new("ImagingStudy", "study")
    identifiers: list[Json] = []
    if b.get("study_uid"):
        identifiers.append({"system": "urn:dicom:uid", "value": f"urn:oid:{b['study_uid']}"})
    if b.get("accession_number"):
        identifiers.append({"type": _tho("v2-0203", "ACSN", "Accession ID"), "value": b["accession_number"]})
    modality = _coding(DICOM_SYSTEM, b["modality"], _code_en("modality", b["modality"]))
    description = f"{_code_zh('modality', b['modality'])} {_code_zh('body_part', b['body_part'])}"
    _put(
        study,
        identifier=identifiers,
        status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "available",
        modality=[modality],
        subject=out.patient,
        encounter=out.encounter_ref(),
        started=_when(when),
        interpreter=[_display(b["reporting_doctor"])],
        location=_display(b.get("institution")),
        description=description,
    )
    _put(
        report,
        text=_narrative(
            out.title, [("检查", description), ("所见", b.get("findings")), ("结论", b["conclusion"])]
        ),
        status=_observation_status(out.env.status),
        category=[_tho("v2-0074", "RAD", "Radiology")],
        code={
            "coding": [_coding(LOINC_SYSTEM, "18748-4", "Diagnostic imaging study")],
            "text": description,
        },
        subject=out.patient,
        encounter=out.encounter_ref(),
        effectiveDateTime=_when(when),
        issued=_instant(b["reported_at"]),
        performer=[p for p in (_display(b.get("institution")),) if p] or None,
        resultsInterpreter=[
            p for p in (_display(b["reporting_doctor"]), _display(b.get("reviewing_doctor"))) if p
        ],
        imagingStudy=[out.ref(study)],
        conclusion=b["conclusion"],
        conclusionCode=[
            _snomed("263654008", "Abnormal", "阳性")
            if b["positive"]
            else _snomed("17621005", "Normal", "阴性")
        ],
    )


# -- allergy, immunisation, referral, consultation, birth, death ---------------------------------

_ALLERGY_CATEGORY = {"drug": "medication", "food": "food", "environment": "environment"}
_SEVERITY = {"mild": "mild", "moderate": "moderate", "severe": "severe", "life_threatening": "severe"}


def _allergy(out: _Out) -> None:
    b = out.body
    ai = out.new("AllergyIntolerance")
    error = out.env.status is Status.ENTERED_IN_ERROR
    code = _drug(b["drug"]) if b.get("drug") else {"text": b["substance"]}
    code["text"] = b["substance"]
    reaction = None
    if b.get("reaction"):
        reaction = [
            _put({"manifestation": [_text(b["reaction"])]}, severity=_SEVERITY.get(b.get("severity") or ""))
        ]
    status = b.get("status", "active")
    _put(
        ai,
        clinicalStatus=(None if error else _tho("allergyintolerance-clinical", status, status.capitalize())),
        verificationStatus=_tho(
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
        onsetDateTime=_when(b["onset_on"]) if b.get("onset_on") else None,
        recordedDate=_when(b["recorded_on"]),
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


def _immunization(out: _Out) -> None:
    b = out.body
    imm = out.new("Immunization")
    site = _SITES.get(b.get("site") or "")
    notes = [t for t in (f"下次接种 {b['next_due_on']}" if b.get("next_due_on") else None,) if t]
    _put(
        imm,
        status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
        vaccineCode=_concept("vaccine", b["vaccine"]),
        patient=out.patient,
        encounter=out.encounter_ref(),
        occurrenceDateTime=_when(b["given_at"]),
        primarySource=True,
        lotNumber=b["lot_number"],
        manufacturer=_display(b.get("manufacturer")),
        site=(
            _concept("injection_site", b["site"], *([_coding(_THO + "v3-ActSite", *site)] if site else []))
            if b.get("site")
            else None
        ),
        route=_route(b["route"]) if b.get("route") else None,
        performer=[{"actor": {"display": b["administered_by"]}}] if b.get("administered_by") else None,
        note=[{"text": n} for n in notes] or None,
        reaction=None,
        protocolApplied=[{"doseNumberPositiveInt": b["dose_number"]}],
    )
    if b.get("adverse_event"):
        aefi = out.observation(
            "aefi",
            _text("疑似预防接种异常反应"),
            when=b["given_at"],
            category="exam",
            value={"valueString": b["adverse_event"]},
        )
        imm["reaction"] = [{"date": _when(b["given_at"]), "detail": out.ref(aefi)}]


_PRIORITY = {"routine": "routine", "urgent": "urgent", "emergency": "stat"}


def _referral(out: _Out) -> None:
    b = out.body
    sr = out.new("ServiceRequest")
    direction = _concept("referral_direction", b["direction"])
    notes = [
        f"{label}：{b[k]}"
        for k, label in (
            ("history_summary", "病史摘要"),
            ("treatment_given", "已行治疗"),
            ("results", "诊治结果"),
        )
        if b.get(k)
    ]
    _put(
        sr,
        basedOn=[_uri_ref(b["referral_id"])] if b.get("referral_id") else None,
        status=_request_status(out.env.status, "active"),
        intent="order",
        category=[direction],
        priority=_PRIORITY.get(b.get("urgency", "routine"), "routine"),
        code=_snomed("3457005", "Patient referral", out.title),
        subject=out.patient,
        authoredOn=_when(b["referred_at"]),
        requester=_put(
            {"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["from_clinic"]}},
            display=b.get("referring_doctor"),
        ),
        performer=[{"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["to_clinic"]}}],
        reasonCode=[_text(b["reason"]), *(_icd10(c) for c in b.get("preliminary_diagnoses", []))],
        supportingInfo=[_uri_ref(b["discharge_summary_id"])] if b.get("discharge_summary_id") else None,
        note=[{"text": n} for n in notes] or None,
    )


def _consultation(out: _Out) -> None:
    b = out.body
    sr = out.new("ServiceRequest")
    _put(
        sr,
        status=_request_status(out.env.status, "completed" if b.get("answer") else "active"),
        intent="order",
        code=_snomed("11429006", "Consultation", out.title),
        subject=out.patient,
        authoredOn=_when(b["requested_at"]),
        requester=_put(
            {"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["requesting_clinic"]}},
            display=b.get("requested_by"),
        ),
        performer=[{"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["consulting_clinic"]}}],
        reasonCode=[_text(b["question"]), *(_icd10(c) for c in b.get("diagnoses", []))],
        supportingInfo=[_uri_ref(a) for a in b.get("attachment_ids", [])],
    )
    if b.get("answer"):
        answer = out.new("Communication", "answer")
        _put(
            answer,
            basedOn=[out.ref(sr)],
            status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
            subject=out.patient,
            sent=_when(b["answered_at"]),
            sender=_put(
                {"identifier": {"system": f"{CANONICAL}/sid/clinic", "value": b["consulting_clinic"]}},
                display=b.get("answered_by"),
            ),
            payload=[{"contentString": b["answer"]}],
        )


def _birth(out: _Out) -> None:
    b = out.body
    components = [
        {"code": _loinc("8339-4", "Birth weight Measured"), "valueQuantity": _quantity(b["weight_g"], "g")},
        {
            "code": _loinc("49051-6", "Gestational age in weeks"),
            "valueQuantity": _quantity(b["gestational_weeks"], "wk"),
        },
        {
            "code": _loinc("76689-9", "Sex assigned at birth"),
            "valueCodeableConcept": _concept("sex", b["sex"]),
        },
    ]
    if b.get("length_cm") is not None:
        components.append(
            {"code": _loinc("8302-2", "Body height"), "valueQuantity": _quantity(b["length_cm"], "cm")}
        )
    obs = out.observation(
        "",
        _loinc("21112-8", "Birth date", out.title),
        when=b["birth_time"],
        category="exam",
        value={"valueDateTime": _when(b["birth_time"])},
        component=components,
    )
    if b.get("birth_certificate_number"):
        obs["identifier"].append(
            {"system": f"{CANONICAL}/sid/birth-certificate", "value": b["birth_certificate_number"]}
        )
    obs["note"] = [
        {"text": t}
        for t in (
            f"出生地点：{_code_zh('delivery_place', b['place'])}"
            + (f"（{b['place_name']}）" if b.get("place_name") else ""),
            f"接生者：{b['midwife']}" if b.get("midwife") else None,
        )
        if t
    ]
    mother = out.new("RelatedPerson", "mother")
    _put(
        mother,
        identifier=(
            [
                _identifier(
                    _tho("v2-0203", "NI", "National unique individual identifier"),
                    RESIDENT_ID_SYSTEM,
                    b["mother_id_number"],
                )
            ]
            if b.get("mother_id_number")
            else None
        ),
        patient=out.patient,
        relationship=[_tho("v3-RoleCode", "NMTH", "natural mother")],
        name=[{"text": b["mother_name"]}],
        gender="female",
        extension=[{"url": _EXT + "resident", "valueReference": _uri_ref(b["mother_id"])}],
    )
    obs["extension"] = [{"url": _EXT + "birth-mother", "valueReference": out.ref(mother)}]
    if b.get("father_name"):
        father = out.new("RelatedPerson", "father")
        obs["extension"].append({"url": _EXT + "birth-father", "valueReference": out.ref(father)})
        _put(
            father,
            patient=out.patient,
            relationship=[_tho("v3-RoleCode", "NFTH", "natural father")],
            name=[{"text": b["father_name"]}],
            gender="male",
        )


def _death(out: _Out) -> None:
    b = out.body
    components: list[Json] = [
        {
            "code": _loinc("80358-5", "Cause of death.underlying [Type]"),
            "valueCodeableConcept": _icd10(b["underlying_cause"]),
        },
        {
            "code": _loinc("69453-9", "Cause of death [US Standard Certificate of Death]"),
            "valueCodeableConcept": _text(b["immediate_cause"]),
        },
        {
            "code": _loinc("58332-8", "Location of death"),
            "valueCodeableConcept": _concept("death_place", b["place"]),
        },
    ]
    for cause in [*b.get("causes_chain", []), *b.get("other_conditions", [])]:
        concept = (
            _icd10(cause["icd10"], cause["description"])
            if cause.get("icd10")
            else _text(cause["description"])
        )
        components.append(
            {
                "code": _loinc("69453-9", "Cause of death [US Standard Certificate of Death]"),
                "valueCodeableConcept": concept,
            }
        )
    obs = out.observation(
        "",
        _loinc("81956-5", "Date+time of death", out.title),
        when=b["death_time"],
        category="exam",
        value={"valueDateTime": _when(b["death_time"])},
        performer=[{"display": b["certifier"]}],
        component=components,
    )
    if b.get("certificate_number"):
        obs["identifier"].append(
            {"system": f"{CANONICAL}/sid/death-certificate", "value": b["certificate_number"]}
        )
    if b.get("certified_on"):
        obs["issued"] = _instant(b["certified_on"])


# -- inpatient ------------------------------------------------------------------------------------


def _inpatient_stay(out: _Out) -> None:
    b = out.body
    enc = out.new("Encounter")
    admitting = out.condition("dx/admitting", b["admitting_diagnosis"], when=b["admission_time"])
    diagnoses = [
        {"condition": out.ref(admitting), "use": _tho("diagnosis-role", "AD", "Admission diagnosis")}
    ]
    for i, dx in enumerate(b.get("discharge_diagnoses", [])):
        outcome = dx.get("outcome")
        cond = out.condition(
            f"dx/{i}",
            dx["icd10"],
            clinical="resolved" if outcome == "cured" else "active",
            note="；".join(
                t
                for t in (_code_zh("diagnosis_outcome", outcome) if outcome else "", dx.get("note") or "")
                if t
            )
            or None,
        )
        diagnoses.append(
            _put(
                {"condition": out.ref(cond), "use": _tho("diagnosis-role", "DD", "Discharge diagnosis")},
                rank=1 if dx.get("primary") else None,
            )
        )
    for i, op in enumerate(b.get("operations", [])):
        proc = out.new("Procedure", f"operation/{i}")
        _put(
            proc,
            status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
            code=_put(
                {"coding": [_coding(ICD9CM_SYSTEM, op["code"])]} if op.get("code") else {},
                text=op["name"],
            ),
            subject=out.patient,
            encounter=out.ref(enc),
            performedDateTime=_when(op["date"]),
            performer=[{"actor": {"display": op["surgeon"]}}] if op.get("surgeon") else None,
        )
    period = _put(
        {"start": _when(b["admission_time"])},
        end=_when(b["discharge_time"]) if b.get("discharge_time") else None,
    )
    location = " ".join(
        t for t in (b["department"], b.get("ward") or "", f"{b['bed']}床" if b.get("bed") else "") if t
    )
    finished = b.get("discharge_time") is not None
    _put(
        enc,
        identifier=[
            *enc["identifier"],
            *(
                [
                    {
                        "type": _tho("v2-0203", "VN", "Visit number"),
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
        class_=_coding(_THO + "v3-ActCode", "IMP", "inpatient encounter"),
        type=[_text(out.title)],
        serviceType=_text(b["department"]),
        subject=out.patient,
        participant=(
            [
                {
                    "type": [_tho("v3-ParticipationType", "ATND", "attender")],
                    "individual": {"display": b["attending_doctor"]},
                }
            ]
            if b.get("attending_doctor")
            else None
        ),
        period=period,
        diagnosis=diagnoses,
        hospitalization=_put(
            {},
            admitSource=_concept("admission_route", b["admission_route"])
            if b.get("admission_route")
            else None,
            dischargeDisposition=_concept("discharge_outcome", b["outcome"]) if b.get("outcome") else None,
        ),
        location=[{"location": {"display": location}}],
        extension=[
            {"url": _EXT + k.replace("_", "-"), "valueMoney": {"value": _number(b[k]), "currency": "CNY"}}
            for k in ("total_cost", "insurance_paid")
            if b.get(k) is not None
        ],
    )


def _inpatient_order(out: _Out) -> None:
    b = out.body
    status = "stopped" if b.get("stopped_at") else "active" if b["kind"] == "long_term" else "completed"
    kind = _concept("inpatient_order_kind", b["kind"])
    if b.get("drug"):
        mr = out.new("MedicationRequest")
        item = {k: b.get(k) for k in ("dose", "dose_unit", "route", "frequency")}
        _put(
            mr,
            status=_request_status(out.env.status, status),
            intent="order",
            category=[_tho("medicationrequest-category", "inpatient", "Inpatient"), kind],
            medicationCodeableConcept=_drug(b["drug"]),
            subject=out.patient,
            encounter=out.encounter_ref(),
            authoredOn=_when(b["ordered_at"]),
            requester=_display(b.get("doctor")),
            note=[{"text": b["content"]}],
            dosageInstruction=[_dosage({**item, "dose": b["dose"]})],
            dispenseRequest=(
                {"validityPeriod": {"start": _when(b["ordered_at"]), "end": _when(b["stopped_at"])}}
                if b.get("stopped_at")
                else None
            ),
        )
        return
    sr = out.new("ServiceRequest")
    _put(
        sr,
        status=_request_status(out.env.status, status),
        intent="order",
        category=[kind],
        code=_text(b["content"]),
        subject=out.patient,
        encounter=out.encounter_ref(),
        occurrencePeriod=_put(
            {"start": _when(b["ordered_at"])}, end=_when(b["stopped_at"]) if b.get("stopped_at") else None
        ),
        authoredOn=_when(b["ordered_at"]),
        requester=_display(b.get("doctor")),
    )


def _discharge_summary(out: _Out) -> None:
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
                _put(
                    {"title": title},
                    code=_loinc(*loinc, title) if loinc else _text(title),
                    text=_narrative(title, [(title, b[key])]),
                )
            )
    dx_entries = []
    for i, dx in enumerate(b["discharge_diagnoses"]):
        cond = out.condition(f"dx/{i}", dx["icd10"], when=None, note=dx.get("note"))
        dx_entries.append(out.ref(cond))
    sections.append(
        {
            "title": "出院诊断",
            "code": _loinc("11535-2", "Hospital discharge Dx Narrative", "出院诊断"),
            "text": _narrative(
                "出院诊断",
                [
                    (
                        ("主要诊断" if d.get("primary") else "其他诊断"),
                        f"{d['icd10']} {_code_zh('icd10', d['icd10'])}",
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
        _put(
            mr,
            status=_request_status(out.env.status, "active"),
            intent="order",
            category=[_tho("medicationrequest-category", "discharge", "Discharge")],
            medicationCodeableConcept=_drug(item["drug"]),
            subject=out.patient,
            encounter=out.encounter_ref(),
            authoredOn=_when(b["discharge_time"]),
            requester=_display(b.get("doctor")),
            dosageInstruction=[_dosage(item)],
            dispenseRequest={"quantity": {"value": item["quantity"]}},
        )
        meds.append(out.ref(mr))
    if meds:
        sections.append(
            {
                "title": "出院带药",
                "code": _loinc("10183-2", "Hospital discharge medications Narrative", "出院带药"),
                "text": _narrative(
                    "出院带药",
                    [(str(i + 1), _dosage(m)["text"]) for i, m in enumerate(b["discharge_medication"])],
                ),
                "entry": meds,
            }
        )
    _put(
        comp,
        status="entered-in-error"
        if out.env.status is Status.ENTERED_IN_ERROR
        else "amended"
        if out.env.status is Status.AMENDED
        else "final",
        type=_loinc("18842-5", "Discharge summary", out.title),
        subject=out.patient,
        encounter=out.encounter_ref(),
        date=_when(b["discharge_time"]),
        author=[{"display": b.get("doctor") or "出院医师"}],
        title=out.title,
        event=(
            [{"period": {"start": _when(b["admission_time"]), "end": _when(b["discharge_time"])}}]
            if b.get("admission_time")
            else None
        ),
        section=sections,
    )


# -- public-health forms: the whole body as a document, plus what can be coded ------------------


def _document(out: _Out) -> Json:
    """The record as a DocumentReference carrying its whole (current-version) body as JSON."""
    env, rt = out.env, record_type(out.env.type)
    doc = out.new("DocumentReference")
    data = json.dumps(out.body, ensure_ascii=False, sort_keys=True).encode()
    author = out.body.get("doctor") or out.body.get("assessor") or out.body.get("attended_by")
    _put(
        doc,
        status="entered-in-error" if env.status is Status.ENTERED_IN_ERROR else "current",
        docStatus="amended" if env.status is Status.AMENDED else "final",
        type={
            "coding": [_coding(f"{CANONICAL}/CodeSystem/record-type", rt.name, rt.title_zh)],
            "text": rt.title_zh,
        },
        category=[
            {
                "coding": [_coding(f"{CANONICAL}/CodeSystem/health-file-category", str(rt.category))],
                "text": rt.subcategory or str(rt.category),
            }
        ],
        subject=out.patient,
        date=_instant(env.effective),
        author=[{"display": author}] if isinstance(author, str) else None,
        relatesTo=[{"code": "replaces", "target": _uri_ref(env.supersedes)}] if env.supersedes else None,
        description=rt.title_en,
        content=[
            {
                "attachment": {
                    "contentType": "application/json",
                    "language": "zh-CN",
                    "data": base64.b64encode(data).decode("ascii"),
                    "title": rt.title_zh,
                    "creation": _when(env.effective),
                },
                "format": _coding(f"{CANONICAL}/CodeSystem/record-format", f"{rt.name}/v{rt.version}"),
            }
        ],
        context={"period": {"start": _when(env.effective)}},
    )
    return doc


def _form(extra: Callable[[_Out, str], None] | None = None) -> Callable[[_Out], None]:
    def mapper(out: _Out) -> None:
        doc = _document(out)
        if extra is not None:
            extra(out, out.env.effective)
        if len(out.resources) > 1:  # the document names what was coded from it
            doc["context"]["related"] = [out.ref(r) for r in out.resources[1:]]

    return mapper


def _health_exam(out: _Out, when: str) -> None:
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
            _loinc("72166-2", "Tobacco smoking status"),
            when=when,
            category="social-history",
            value={"valueCodeableConcept": _concept("smoking_status", smoking)},
        )


def _chronic_followup(out: _Out, when: str) -> None:
    b = out.body
    out.vitals({k: b.get(k) for k in ("systolic", "diastolic", "weight_kg", "heart_rate")}, when)
    out.lab_value("fasting-glucose", _FASTING_GLUCOSE, b.get("fasting_glucose"), unit="mmol/L", when=when)
    out.lab_value("random-glucose", _RANDOM_GLUCOSE, b.get("random_glucose"), unit="mmol/L", when=when)
    out.lab_value("hba1c", _HBA1C, b.get("hba1c"), unit="%", when=when)
    _medications(out, when)


def _medications(out: _Out, when: str) -> None:
    for i, med in enumerate(out.body.get("medications", [])):
        out.medication_statement(f"medication/{i}", med["drug"], med["dose"], med["frequency"], when)


def _pregnancy_registration(out: _Out, when: str) -> None:
    b = out.body
    out.observation(
        "pregnancy-status",
        _loinc("82810-3", "Pregnancy status"),
        when=when,
        category="social-history",
        value={"valueCodeableConcept": _snomed("77386006", "Pregnant", "已孕")},
    )
    out.observation(
        "lmp",
        _loinc("8665-2", "Last menstrual period start date"),
        when=when,
        category="exam",
        value={"valueDateTime": b["last_menstrual_period"]},
    )
    if b.get("expected_delivery_date"):
        out.observation(
            "edd",
            _loinc("11778-8", "Delivery date Estimated"),
            when=when,
            category="exam",
            value={"valueDateTime": b["expected_delivery_date"]},
        )
    out.observation(
        "gravidity",
        _loinc("11996-6", "[#] Pregnancies"),
        when=when,
        category="exam",
        value={"valueInteger": b["gravidity"]},
    )
    out.observation(
        "parity",
        _loinc("11977-6", "[#] Parity"),
        when=when,
        category="exam",
        value={"valueInteger": b["parity"]},
    )
    first = b.get("first_check") or {}
    out.vitals({k: first.get(k) for k in ("systolic", "diastolic", "weight_kg", "height_cm")}, when)
    out.lab_value("hemoglobin", _HEMOGLOBIN, first.get("hemoglobin"), unit="g/L", when=when)


def _prenatal_visit(out: _Out, when: str) -> None:
    b = out.body
    out.vitals({k: b.get(k) for k in ("systolic", "diastolic", "weight_kg")}, when)
    weeks = b["gestational_weeks"] + (b.get("gestational_days") or 0) / 7
    out.observation(
        "ga",
        _loinc("49051-6", "Gestational age in weeks"),
        when=when,
        category="exam",
        value={"valueQuantity": _quantity(round(weeks, 2), "wk")},
    )
    if b.get("fundal_height_cm") is not None:
        out.observation(
            "fundal-height",
            _loinc("11881-0", "Uterus Fundal height Tape measure"),
            when=when,
            category="exam",
            value={"valueQuantity": _quantity(b["fundal_height_cm"], "cm")},
        )
    if b.get("fetal_heart_rate") is not None:
        out.observation(
            "fetal-heart-rate",
            _loinc("55283-6", "Fetal Heart rate"),
            when=when,
            category="exam",
            value={"valueQuantity": _quantity(b["fetal_heart_rate"], "/min")},
        )
    out.lab_value("hemoglobin", _HEMOGLOBIN, b.get("hemoglobin"), unit="g/L", when=when)


def _delivery_extra(out: _Out, when: str) -> None:
    b = out.body
    proc = out.new("Procedure", "delivery")
    _put(
        proc,
        status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "completed",
        category=_snomed("386637004", "Obstetric procedure"),
        code={
            "coding": [
                _coding(SNOMED_SYSTEM, "236973005", "Delivery procedure"),
                _local("delivery_mode", b["mode"]),
            ],
            "text": _code_zh("delivery_mode", b["mode"]),
        },
        subject=out.patient,
        performedDateTime=_when(b["delivery_time"]),
        performer=[{"actor": {"display": b["attended_by"]}}] if b.get("attended_by") else None,
        location={"display": b.get("place_name") or _code_zh("delivery_place", b["place"])},
        outcome=_concept("maternal_outcome", b["outcome"]) if b.get("outcome") else None,
        complication=[_text(b["complications"])] if b.get("complications") else None,
    )
    for i, baby in enumerate(b["newborns"]):
        child = _uri_ref(baby["child_resident_id"]) if baby.get("child_resident_id") else None
        if child is None:
            continue  # observations of a newborn without a resident record stay in the document
        out.observation(
            f"newborn/{i}/weight",
            _loinc("8339-4", "Birth weight Measured"),
            when=b["delivery_time"],
            category="exam",
            subject=child,
            value={"valueQuantity": _quantity(baby["weight_g"], "g")},
        )
        for key, code, display in (
            ("apgar_1min", "9272-6", "1 minute Apgar Score"),
            ("apgar_5min", "9274-2", "5 minute Apgar Score"),
        ):
            if baby.get(key) is not None:
                out.observation(
                    f"newborn/{i}/{key}",
                    _loinc(code, display),
                    when=b["delivery_time"],
                    category="exam",
                    subject=child,
                    value={"valueQuantity": _quantity(baby[key], "{score}")},
                )


def _postpartum_visit(out: _Out, when: str) -> None:
    b = out.body
    out.vitals({k: b.get(k) for k in ("systolic", "diastolic", "temperature_c")}, when)


def _newborn_visit(out: _Out, when: str) -> None:
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
            _loinc("8339-4", "Birth weight Measured"),
            when=when,
            category="exam",
            value={"valueQuantity": _quantity(b["birth_weight_g"], "g")},
        )


def _child_check(out: _Out, when: str) -> None:
    b = out.body
    out.vitals({k: b.get(k) for k in ("weight_kg", "height_cm", "head_circumference_cm")}, when)
    out.lab_value("hemoglobin", _HEMOGLOBIN, b.get("hemoglobin"), unit="g/L", when=when)


def _elderly_assessment(out: _Out, when: str) -> None:
    b = out.body
    out.observation(
        "self-care",
        {
            "coding": [
                _coding(
                    f"{CANONICAL}/CodeSystem/assessment", "elderly-self-care", "老年人生活自理能力评估总分"
                )
            ],
            "text": "生活自理能力评估",
        },
        when=when,
        category="survey",
        value={"valueInteger": b["total"]},
        interpretation=[_concept("self_care_level", b["level"])] if b.get("level") else None,
    )


_MAPPERS: dict[str, Callable[[_Out], None]] = {
    "resident": _resident,
    "encounter": _encounter,
    "prescription": _prescription,
    "lab_report": _lab_report,
    "imaging_report": _imaging_report,
    "allergy": _allergy,
    "immunization": _immunization,
    "referral": _referral,
    "consultation": _consultation,
    "birth": _birth,
    "death": _death,
    "inpatient_stay": _inpatient_stay,
    "inpatient_order": _inpatient_order,
    "discharge_summary": _discharge_summary,
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


# -- the face -----------------------------------------------------------------------------------


def fhir_resources(envelope: RecordEnvelope) -> list[Json]:
    """Every FHIR resource one record maps to, the main one first; references are ``urn:uuid:``."""
    body = validate(envelope.type, envelope.data, version=envelope.v)  # upgrades old versions
    out = _Out(envelope, body)
    _MAPPERS.get(envelope.type, _form())(out)
    return out.resources


def _rewrite_refs(value: Any, local: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: (local.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite_refs(v, local))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_refs(v, local) for v in value]
    return value


def to_fhir(envelope: RecordEnvelope) -> Json:
    """One record as one FHIR R4 resource; the other resources it maps to are ``contained``.

    Contained resources keep no narrative and no ``meta.lastUpdated`` (dom-1, dom-4);
    references between them become ``#id``, references to the main resource ``#``.
    """
    main, *others = fhir_resources(envelope)
    if not others:
        return main
    local = {f"urn:uuid:{r['id']}": f"#{r['id']}" for r in others}
    local[f"urn:uuid:{main['id']}"] = "#"
    contained = []
    for r in others:
        inner = {k: v for k, v in r.items() if k != "text"}
        inner["meta"] = {k: v for k, v in r["meta"].items() if k != "lastUpdated"}
        contained.append(_rewrite_refs(inner, local))
    out: Json = _rewrite_refs(main, local)
    out["contained"] = contained
    return out


def fhir_bundle(envelopes: Iterable[RecordEnvelope]) -> Json:
    """Records as a FHIR ``collection`` Bundle: one entry per resource.

    A resident exports once, as its newest version (by HLC, then author); a resident
    with a death record in the bundle gets ``Patient.deceasedDateTime``.
    """
    records = list(envelopes)
    newest: dict[str, RecordEnvelope] = {}
    deaths: dict[str, str] = {}
    for env in records:
        if env.type == "resident":
            held = newest.get(env.resident_id)
            if held is None or (env.hlc, env.author) > (held.hlc, held.author):
                newest[env.resident_id] = env
        elif env.type == "death" and env.status is not Status.ENTERED_IN_ERROR:
            deaths[env.resident_id] = _when(env.data["death_time"])
    entries: list[Json] = []
    seen: set[str] = set()
    for env in records:
        if env.type == "resident" and newest[env.resident_id] is not env:
            continue
        for resource in fhir_resources(env):
            url = f"urn:uuid:{resource['id']}"
            if url in seen:
                continue  # the same record given twice
            seen.add(url)
            if resource["resourceType"] == "Patient" and env.resident_id in deaths:
                resource["deceasedDateTime"] = deaths[env.resident_id]
            entries.append({"fullUrl": url, "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
