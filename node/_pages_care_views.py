"""What the continuing-care pages show and read from a form, as plain data: no requests, no auditing, no HTML.

Rules:
1. A follow-up form is a list of fields of one record type; a field's ``name`` is
   its dotted path in the record body (``medications.0.drug``), which is also the
   path ``RecordInvalid`` names, so each problem lands beside its field.
2. Select options come from the code lists, labelled in the page's language.
   Labels of fields are English msgids of the ``care`` catalogue.
3. An empty field is left out of the body; the record type decides what is
   required and says so.
4. Dates are passed in (the desk's clock), never read here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import schemas
from schemas import RecordEnvelope, RecordInvalid

from ._pages_views import code_label

__all__ = [
    "FOLLOWUP_KINDS",
    "Field",
    "FollowupKind",
    "Variant",
    "clinic_choices",
    "clinic_label",
    "consultation_body",
    "consultation_rows",
    "field_labels",
    "followup_body",
    "followup_fields",
    "form_problems",
    "pregnancy_choices",
    "referral_body",
    "referral_rows",
    "released_view",
    "summary_number",
    "summary_view",
]

# -- the follow-up forms -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One form field: ``name`` is the record body's dotted path (rule 1)."""

    name: str
    label: str  # English msgid (care catalogue)
    kind: str = "text"  # text, note, date, datetime, int, decimal, code, codes, yesno, check, pregnancy
    codes: str | None = None  # the code list of a code/codes field
    required: bool = False
    default: str | None = None  # "today", "now" or "staff"
    chronic_drugs: bool = False  # a drug select offering the chronic-disease drugs only


@dataclass(frozen=True)
class Variant:
    """One record type a follow-up kind writes."""

    record_type: str
    label: str  # English msgid
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class FollowupKind:
    name: str  # the path segment
    label: str  # English msgid
    variants: tuple[Variant, ...] = field(default_factory=tuple)

    def variant(self, record_type: str | None) -> Variant | None:
        if record_type is None:
            return self.variants[0]
        return next((v for v in self.variants if v.record_type == record_type), None)


def _medications(rows: int) -> tuple[Field, ...]:
    out: list[Field] = []
    for i in range(rows):
        out += [
            Field(f"medications.{i}.drug", "Medicine", "code", "drug", chronic_drugs=True),
            Field(f"medications.{i}.dose", "Dose"),
            Field(f"medications.{i}.frequency", "Frequency", "code", "frequency"),
        ]
    return tuple(out)


def _chronic(symptoms: str, extra: tuple[Field, ...]) -> tuple[Field, ...]:
    return (
        Field("followup_date", "Follow-up date", "date", required=True, default="today"),
        Field("method", "Method", "code", "followup_method", required=True),
        Field("symptoms", "Symptoms", "codes", symptoms),
        Field("systolic", "Systolic (mmHg)", "int", required=True),
        Field("diastolic", "Diastolic (mmHg)", "int", required=True),
        Field("weight_kg", "Weight (kg)", "decimal"),
        Field("heart_rate", "Heart rate (/min)", "int"),
        *extra,
        Field("salt_intake", "Salt intake", "code", "salt_intake"),
        Field("adherence", "Medication adherence", "code", "adherence", required=True),
        Field("control", "Control", "code", "control_status", required=True),
        *_medications(2),
        Field("adverse_reaction", "Adverse drug reaction", "check"),
        Field("adverse_reaction_note", "Adverse reaction, described", "note"),
        Field("referral", "Referred", "check"),
        Field("referral_reason", "Referral reason", "note"),
        Field("next_followup", "Next follow-up", "date"),
        Field("doctor", "Doctor", default="staff"),
    )


_PREGNANCY = Field("pregnancy_id", "Pregnancy", "pregnancy", required=True)

FOLLOWUP_KINDS: dict[str, FollowupKind] = {
    k.name: k
    for k in (
        FollowupKind(
            "hypertension",
            "Hypertension follow-up",
            (
                Variant(
                    "hypertension_followup", "Hypertension follow-up", _chronic("hypertension_symptom", ())
                ),
            ),
        ),
        FollowupKind(
            "diabetes",
            "Diabetes follow-up",
            (
                Variant(
                    "diabetes_followup",
                    "Diabetes follow-up",
                    _chronic(
                        "diabetes_symptom",
                        (
                            Field("fasting_glucose", "Fasting glucose (mmol/L)", "decimal"),
                            Field("hba1c", "HbA1c (%%)", "decimal"),
                            Field("hypoglycemia", "Hypoglycaemia", "code", "hypoglycemia"),
                        ),
                    ),
                ),
            ),
        ),
        FollowupKind(
            "maternal",
            "Maternal care",
            (
                Variant(
                    "prenatal_visit",
                    "Prenatal visit",
                    (
                        _PREGNANCY,
                        Field("visit_date", "Visit date", "date", required=True, default="today"),
                        Field("gestational_weeks", "Gestational weeks", "int", required=True),
                        Field("weight_kg", "Weight (kg)", "decimal"),
                        Field("systolic", "Systolic (mmHg)", "int"),
                        Field("diastolic", "Diastolic (mmHg)", "int"),
                        Field("fundal_height_cm", "Fundal height (cm)", "decimal"),
                        Field("fetal_heart_rate", "Fetal heart rate (/min)", "int"),
                        Field("hemoglobin", "Haemoglobin (g/L)", "int"),
                        Field("findings", "Findings", "note"),
                        Field("high_risk", "High risk", "check"),
                        Field("advice", "Advice", "note"),
                        Field("referral", "Referred", "check"),
                        Field("referral_reason", "Referral reason", "note"),
                        Field("next_visit_date", "Next visit", "date"),
                        Field("doctor", "Doctor", default="staff"),
                    ),
                ),
                Variant(
                    "postpartum_visit",
                    "Postpartum visit",
                    (
                        _PREGNANCY,
                        Field("visit_date", "Visit date", "date", required=True, default="today"),
                        Field("days_after_delivery", "Days after delivery", "int", required=True),
                        Field("temperature_c", "Temperature (°C)", "decimal"),
                        Field("systolic", "Systolic (mmHg)", "int"),
                        Field("diastolic", "Diastolic (mmHg)", "int"),
                        Field("general_health", "General health", "note"),
                        Field("classification", "Classification", "code", "normal_abnormal", required=True),
                        Field("advice", "Advice", "note"),
                        Field("referral", "Referred", "check"),
                        Field("referral_reason", "Referral reason", "note"),
                        Field("doctor", "Doctor", default="staff"),
                    ),
                ),
                Variant(
                    "pregnancy_registration",
                    "Pregnancy registration",
                    (
                        Field("registered_on", "Registered on", "date", required=True, default="today"),
                        Field("last_menstrual_period", "Last menstrual period", "date", required=True),
                        Field("expected_delivery_date", "Expected delivery date", "date"),
                        Field("gravidity", "Gravidity", "int", required=True),
                        Field("parity", "Parity", "int", required=True),
                        Field("husband_name", "Husband's name"),
                        Field("doctor", "Doctor", default="staff"),
                    ),
                ),
            ),
        ),
        FollowupKind(
            "child",
            "Child health check",
            (
                Variant(
                    "child_check",
                    "Child health check",
                    (
                        Field("check_date", "Check date", "date", required=True, default="today"),
                        Field("age_months", "Age (months)", "int", required=True),
                        Field("weight_kg", "Weight (kg)", "decimal"),
                        Field("height_cm", "Height (cm)", "decimal"),
                        Field("head_circumference_cm", "Head circumference (cm)", "decimal"),
                        Field("weight_for_age", "Weight for age", "code", "growth_eval"),
                        Field("height_for_age", "Height for age", "code", "growth_eval"),
                        Field("development_passed", "Development milestones passed", "yesno"),
                        Field("hemoglobin", "Haemoglobin (g/L)", "int"),
                        Field("findings", "Findings", "note"),
                        Field("advice", "Advice", "note"),
                        Field("referral", "Referred", "check"),
                        Field("referral_reason", "Referral reason", "note"),
                        Field("next_check_date", "Next check", "date"),
                        Field("doctor", "Doctor", default="staff"),
                    ),
                ),
            ),
        ),
        FollowupKind(
            "immunization",
            "Immunisation",
            (
                Variant(
                    "immunization",
                    "Immunisation",
                    (
                        Field("given_at", "Given at", "datetime", required=True, default="now"),
                        Field("vaccine", "Vaccine", "code", "vaccine", required=True),
                        Field("dose_number", "Dose number", "int", required=True),
                        Field("lot_number", "Lot number", required=True),
                        Field("manufacturer", "Manufacturer"),
                        Field("site", "Injection site", "code", "injection_site"),
                        Field("route", "Route", "code", "route"),
                        Field("administered_by", "Given by", default="staff"),
                        Field("adverse_event", "Adverse event", "note"),
                        Field("next_due_on", "Next dose due", "date"),
                    ),
                ),
            ),
        ),
    )
}


def field_labels() -> set[str]:
    """Every msgid the follow-up forms show from Python (for the catalogue test)."""
    out: set[str] = set()
    for kind in FOLLOWUP_KINDS.values():
        out.add(kind.label)
        for v in kind.variants:
            out.add(v.label)
            out |= {f.label for f in v.fields}
    return out


def _options(f: Field, lang: str) -> list[dict[str, str]]:
    assert f.codes is not None
    codes = schemas.code_list(f.codes).codes
    if f.chronic_drugs:
        codes = [c for c in codes if c.extra.get("chronic")]
    return [{"code": c.code, "label": c.en if lang == "en" else c.zh} for c in codes]


def _defaults(f: Field, *, today: dt.date, now: dt.datetime, staff: str) -> str:
    return {"today": today.isoformat(), "now": now.strftime("%Y-%m-%dT%H:%M"), "staff": staff}.get(
        f.default or "", ""
    )


def followup_fields(
    variant: Variant,
    *,
    values: dict[str, str] | None,
    errors: dict[str, list[str]],
    lang: str,
    today: dt.date,
    now: dt.datetime,
    staff: str,
    pregnancies: list[dict[str, str]],
) -> list[dict[str, Any]]:
    """The form's fields to render: each with its value (typed, or the default), options and problems."""
    out = []
    for f in variant.fields:
        typed = values.get(f.name, "") if values is not None else None
        value = _defaults(f, today=today, now=now, staff=staff) if typed is None else typed
        view: dict[str, Any] = {
            "name": f.name,
            "label": f.label,
            "kind": f.kind,
            "required": f.required,
            "value": value,
            "errors": errors.get(f.name, []),
        }
        if f.kind in ("code", "codes"):
            view["options"] = _options(f, lang)
        if f.kind == "codes":
            view["checked"] = {
                o["code"] for o in view["options"] if values and values.get(f"{f.name}.{o['code']}")
            }
        if f.kind == "pregnancy":
            view["options"] = pregnancies
        out.append(view)
    return out


def followup_body(variant: Variant, form: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The form as typed (trimmed) and the record body: empty fields left out (rule 3)."""
    values: dict[str, str] = {}
    flat: dict[str, Any] = {}
    for f in variant.fields:
        if f.kind == "codes":
            picked = []
            for c in schemas.code_list(f.codes or "").codes:
                key = f"{f.name}.{c.code}"
                if form.get(key):
                    values[key] = "on"
                    picked.append(c.code)
            if picked:
                flat[f.name] = picked
            continue
        value = (form.get(f.name) or "").strip()
        values[f.name] = value
        if f.kind == "check":
            if value:
                flat[f.name] = True
        elif f.kind == "yesno":
            if value in ("yes", "no"):
                flat[f.name] = value == "yes"
        elif value:
            flat[f.name] = value
    return values, _nest(flat)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"medications.0.drug": x}`` → ``{"medications": [{"drug": x}]}`` (rows left empty dropped)."""
    body: dict[str, Any] = {}
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for name, value in flat.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[1].isdigit():
            rows.setdefault(parts[0], {}).setdefault(int(parts[1]), {})[parts[2]] = value
        else:
            body[name] = value
    for name, by_index in rows.items():
        body[name] = [by_index[i] for i in sorted(by_index)]
    return body


def form_problems(exc: RecordInvalid, names: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Each problem beside the form field it names (or the field of the list it is in, for
    ``preliminary_diagnoses.1``); problems about no field of the form go in the second list."""
    known = set(names)
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for e in exc.errors:
        name = e.field
        while name and name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in known:
            by_field.setdefault(name, []).append(e.message)
        else:
            other.append(str(e))
    return by_field, other


def pregnancy_choices(registrations: list[RecordEnvelope]) -> list[dict[str, str]]:
    """The resident's pregnancy registrations, newest first, as options (value: the fact id)."""
    out = []
    for env in sorted(registrations, key=lambda e: e.effective, reverse=True):
        due = env.data.get("expected_delivery_date") or ""
        out.append({"code": env.fact_id, "registered": env.effective[:10], "due": str(due)})
    return out


# -- referrals and consultations -----------------------------------------------------------------------


def clinic_choices(directory: dict[str, dict[str, str]], own_code: str) -> list[dict[str, str]]:
    """The clinics the hub named to this node (not this one), by name, as options."""
    seen: dict[str, str] = {}
    for entry in directory.values():
        code, name = entry.get("clinic"), entry.get("name")
        if code and code != own_code:
            seen[code] = name or code
    return [{"code": c, "label": f"{n} ({c})"} for c, n in sorted(seen.items(), key=lambda x: x[1])]


def clinic_label(code: str | None, names: dict[str, str]) -> str:
    if not code:
        return ""
    name = names.get(code)
    return f"{name} ({code})" if name else code


def _codes(text: str) -> list[str]:
    """ICD-10 codes typed with commas, semicolons or spaces between them."""
    return [c.upper() for c in re.split(r"[\s,;，；、]+", text) if c]


REFERRAL_FIELDS = (
    "to_clinic",
    "urgency",
    "reason",
    "preliminary_diagnoses",
    "history_summary",
    "treatment_given",
)
CONSULTATION_FIELDS = ("consulting_clinic", "question", "diagnoses")


def referral_body(form: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """A referral out as typed, and the fields ``refer_out`` takes (as ``POST /api/v1/referrals``)."""
    values = {f: (form.get(f) or "").strip() for f in (*REFERRAL_FIELDS, "to_clinic_code")}
    typed = values.pop("to_clinic_code").upper()  # a clinic the directory does not name yet
    values["to_clinic"] = values["to_clinic"] or typed
    body: dict[str, Any] = {k: v for k, v in values.items() if v and k != "preliminary_diagnoses"}
    if values["preliminary_diagnoses"]:
        body["preliminary_diagnoses"] = _codes(values["preliminary_diagnoses"])
    return values, body


def consultation_body(form: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """A consultation request as typed, and the fields ``request_consultation`` takes."""
    values = {f: (form.get(f) or "").strip() for f in (*CONSULTATION_FIELDS, "consulting_clinic_code")}
    typed = values.pop("consulting_clinic_code").upper()
    values["consulting_clinic"] = values["consulting_clinic"] or typed
    body: dict[str, Any] = {k: v for k, v in values.items() if v and k != "diagnoses"}
    if values["diagnoses"]:
        body["diagnoses"] = _codes(values["diagnoses"])
    return values, body


def _diagnoses(codes: list[str] | None, lang: str) -> list[str]:
    return [
        f"{c} {code_label('icd10', c, lang)}" if schemas.code_list("icd10").get(c) else c for c in codes or []
    ]


def referral_rows(items: list[dict[str, Any]], *, names: dict[str, str], lang: str) -> list[dict[str, Any]]:
    """The referrals list (``_referrals.referrals``) as the page shows it."""
    return [
        {
            **item,
            "from_label": clinic_label(item.get("from_clinic"), names),
            "to_label": clinic_label(item.get("to_clinic"), names),
            "urgency_label": code_label("urgency", item.get("urgency"), lang),
            "diagnoses": _diagnoses(item.get("preliminary_diagnoses"), lang),
            "name": (item.get("resident") or {}).get("name") or "",
        }
        for item in items
    ]


def consultation_rows(
    items: list[dict[str, Any]], *, names: dict[str, str], lang: str
) -> list[dict[str, Any]]:
    """The consultations list (``_referrals.consultations``) as the page shows it."""
    return [
        {
            **item,
            "from_label": clinic_label(item.get("requesting_clinic"), names),
            "to_label": clinic_label(item.get("consulting_clinic"), names),
            "diagnoses": _diagnoses(item.get("diagnoses"), lang),
            "name": (item.get("resident") or {}).get("name") or "",
        }
        for item in items
    ]


# -- the shared summary and break-glass ----------------------------------------------------------------


def summary_number(resident: dict[str, Any]) -> str | None:
    """The number the hub finds a resident by: the identity number, else the health card number."""
    for name in ("id_number", "card_number"):
        value = resident.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _source(item: dict[str, Any]) -> str:
    source = item.get("source")
    if isinstance(source, dict):
        return str(source.get("name") or source.get("clinic") or source.get("node_id") or "")
    return ""


def summary_view(answer: dict[str, Any], *, lang: str) -> dict[str, Any]:
    """The hub's summary (``POST /api/v1/shared/summary``) in the page's language, with sources."""
    demo = answer.get("demographics") or {}
    return {
        "name": demo.get("name") or "",
        "sex": code_label("sex", demo.get("sex"), lang),
        "birth_date": demo.get("birth_date") or "",
        "withheld": bool(answer.get("withheld")),
        "generated_at": answer.get("generated_at") or "",
        "allergies": [
            {
                "substance": a.get("substance") or "",
                "reaction": a.get("reaction") or "",
                "severity": code_label("allergy_severity", a.get("severity"), lang),
                "source": _source(a),
            }
            for a in answer.get("allergies") or []
        ],
        "conditions": [
            {
                "code": c.get("code") or "",
                "title": (c.get("title_en") if lang == "en" else None) or c.get("title") or "",
                "since": c.get("since") or "",
                "source": _source(c),
            }
            for c in answer.get("conditions") or []
        ],
        "medications": [
            {
                "drug": code_label("drug", m.get("drug"), lang),
                "dose": " ".join(str(m[k]) for k in ("dose", "dose_unit") if m.get(k)),
                "frequency": code_label("frequency", m.get("frequency"), lang),
                "source": _source(m),
            }
            for m in answer.get("medications") or []
        ],
        "encounters": [
            {
                "when": str(e.get("visit_time") or "")[:16],
                "complaint": e.get("chief_complaint") or "",
                "diagnoses": _diagnoses(e.get("diagnoses"), lang),
                "source": _source(e),
            }
            for e in answer.get("encounters") or []
        ],
        "labs": [
            {
                "when": str(lab.get("reported_at") or "")[:16],
                "panel": lab.get("panel_name") or "",
                "source": _source(lab),
            }
            for lab in answer.get("labs") or []
        ],
    }


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def released_view(records: list[dict[str, Any]], *, lang: str) -> list[dict[str, Any]]:
    """Records released by breaking the glass: their type, date, source clinic and fields."""
    out = []
    for r in records:
        try:
            rt = schemas.record_type(str(r.get("type")))
            title = rt.title_en if lang == "en" else rt.title_zh
        except schemas.UnknownRecordType:
            title = str(r.get("type"))
        data = r.get("data") or {}
        out.append(
            {
                "id": r.get("id"),
                "title": title,
                "effective": str(r.get("effective") or "")[:16],
                "source": _source(r),
                "fields": [(k, _shown(v)) for k, v in data.items() if v not in (None, "", [], {})],
            }
        )
    return out
