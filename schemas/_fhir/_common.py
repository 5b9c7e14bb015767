"""The vocabulary every mapper shares: code systems, codings and concepts, quantities, times, references.

Nothing here knows a record type; each builder turns one body value into one FHIR datatype.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from .._codes import code_list
from .._envelope import Status

__all__ = [
    "ATC_SYSTEM",
    "CANONICAL",
    "DICOM_SYSTEM",
    "EXT",
    "ICD9CM_SYSTEM",
    "ICD10_SYSTEM",
    "LOINC_SYSTEM",
    "RESIDENT_ID_SYSTEM",
    "SNOMED_SYSTEM",
    "THO",
    "UCUM_SYSTEM",
    "URI_IDENTIFIER",
    "Json",
    "code_en",
    "code_system",
    "code_zh",
    "coding",
    "date_time",
    "display_ref",
    "icd10_concept",
    "identifier",
    "instant",
    "is_loinc",
    "loinc_concept",
    "narrative",
    "number",
    "observation_status",
    "put",
    "quantity",
    "request_status",
    "rhip_coding",
    "rhip_concept",
    "snomed_concept",
    "text_concept",
    "tho_concept",
    "uri_ref",
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
THO = "http://terminology.hl7.org/CodeSystem/"
EXT = f"{CANONICAL}/StructureDefinition/"
_CST = dt.timezone(dt.timedelta(hours=8))

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


# -- codings and concepts -----------------------------------------------------------------


def coding(system: str, code: str, display: str | None = None) -> Json:
    """A Coding; the display only when there is one."""
    out: Json = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def rhip_coding(list_name: str, code: str) -> Json:
    """A Coding of a code from one of rhip's lists, displayed in Chinese."""
    entry = code_list(list_name).get(code)
    return coding(code_system(list_name), code, entry.zh if entry else None)


def rhip_concept(list_name: str, code: str, *extra: Json) -> Json:
    """A CodeableConcept of a code from one of rhip's lists (plus standard codings), text in Chinese."""
    entry = code_list(list_name).get(code)
    return {"coding": [*extra, rhip_coding(list_name, code)], "text": entry.zh if entry else code}


def text_concept(text: str) -> Json:
    """A CodeableConcept of free text only."""
    return {"text": text}


def icd10_concept(code: str, note: str | None = None) -> Json:
    """An ICD-10 CodeableConcept; its text is the note, else the Chinese name."""
    entry = code_list("icd10").get(code)
    out: Json = {"coding": [coding(ICD10_SYSTEM, code, entry.en if entry else None)]}
    out["text"] = note or (entry.zh if entry else code)
    return out


def loinc_concept(code: str, display: str, text: str | None = None) -> Json:
    """A LOINC CodeableConcept."""
    return {"coding": [coding(LOINC_SYSTEM, code, display)], "text": text or display}


def snomed_concept(code: str, display: str, text: str | None = None) -> Json:
    """A SNOMED CT CodeableConcept."""
    return {"coding": [coding(SNOMED_SYSTEM, code, display)], "text": text or display}


def tho_concept(system: str, code: str, display: str) -> Json:
    """A CodeableConcept from an HL7 terminology (THO) code system."""
    return {"coding": [coding(THO + system, code, display)]}


def code_zh(list_name: str, code: str) -> str:
    """The Chinese name of a code in one of rhip's lists (the code itself if unlisted)."""
    entry = code_list(list_name).get(code)
    return entry.zh if entry else code


def code_en(list_name: str, code: str) -> str:
    """The English name of a code in one of rhip's lists (the code itself if unlisted)."""
    entry = code_list(list_name).get(code)
    return entry.en if entry else code


# -- values and times -------------------------------------------------------------------


def number(value: Any) -> int | float:
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


def quantity(value: Any, unit: str | None) -> Json:
    """A Quantity, UCUM coded when the unit is one UCUM knows."""
    out: Json = {"value": number(value)}
    if unit:
        out["unit"] = unit
        ucum = _UCUM_UNITS.get(unit)
        if ucum is not None:
            out["system"] = UCUM_SYSTEM
            out["code"] = ucum
    return out


def date_time(value: str) -> str:
    """A FHIR date or dateTime: a time always carries an offset (clinic time is +08:00)."""
    if len(value) == 10:
        return value
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_CST)
    return moment.isoformat(timespec="seconds")


def instant(value: str) -> str:
    """A FHIR instant (seconds and offset required); a bare date counts as midnight clinic time."""
    return date_time(value if len(value) > 10 else f"{value}T00:00:00")


# -- text, references, statuses -------------------------------------------------------------


def narrative(title: str, lines: Iterable[tuple[str, Any]]) -> Json:
    """A generated XHTML narrative: a heading and one line per label that has a value."""
    rows = "".join(
        f"<p><b>{html.escape(label)}</b>: {html.escape(str(value))}</p>"
        for label, value in lines
        if value not in (None, "", [])
    )
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><h3>{html.escape(title)}</h3>{rows}</div>',
    }


def uri_ref(resource_id: str, display: str | None = None) -> Json:
    """A Reference to a resource by its ``urn:uuid:`` id."""
    out: Json = {"reference": f"urn:uuid:{resource_id}"}
    if display:
        out["display"] = display
    return out


def display_ref(name: str | None) -> Json | None:
    """A Reference by name only (a doctor, a lab), or None without a name."""
    return {"display": name} if name else None


def put(resource: Json, **fields: Any) -> Json:
    """Set the fields that have a value (not None, not empty)."""
    for key, value in fields.items():
        if value is not None and value not in ([], {}):
            resource[key.rstrip("_")] = value
    return resource


def identifier(type_: Json, system: str, value: str, use: str | None = None) -> Json:
    """An Identifier."""
    return put({}, use=use, type=type_, system=system, value=value)


def observation_status(status: Status) -> str:
    """The Observation / DiagnosticReport status of a record status."""
    return {Status.FINAL: "final", Status.AMENDED: "amended", Status.ENTERED_IN_ERROR: "entered-in-error"}[
        status
    ]


def request_status(status: Status, default: str) -> str:
    """A request's status: ``default`` unless the record was entered in error."""
    return "entered-in-error" if status is Status.ENTERED_IN_ERROR else default


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
