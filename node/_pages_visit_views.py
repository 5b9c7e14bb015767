"""What the visit pages show and how their forms become desk calls, as plain data: no requests,
no auditing, no HTML.

Rules:
1. A form is turned into exactly the body the desk API would send to the same
   ``Desk`` call; what cannot be that body (a dose that is not a number) is
   refused here, named by the form field, before anything is stored.
2. The desk's errors name request fields (``encounter.chief_complaint``,
   ``prescriptions.0.items.1.dose``); they are shown beside the form field that
   fed them, and anything with no field of the form above the form.
3. Money is whole fen, shown as yuan with two decimals (``schemas.fen_to_yuan``).
4. Labels come from the code lists in the page's language; an unknown code is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import schemas
from schemas import FieldError, RecordInvalid, SettlementSplit, VisitState, fen_to_yuan

from ._pages_views import code_label, mask_id

__all__ = [
    "EXAM_KINDS_SHOWN",
    "LAB_ROWS",
    "VITAL_FIELDS",
    "Consultation",
    "FormProblems",
    "as_problems",
    "bill_view",
    "checkin_body",
    "consultation_body",
    "dispense_field",
    "dispense_items",
    "exam_field",
    "exam_result_body",
    "order_view",
    "picked_codes",
    "usage",
    "visit_options",
    "visit_view",
    "vitals_body",
    "vitals_field",
    "yuan",
]

# The triage form's fields: the ``Vitals`` fields of the ``triaged`` step, in the nurse's order.
VITAL_FIELDS = (
    ("temperature_c", float),
    ("systolic", int),
    ("diastolic", int),
    ("pulse", int),
    ("respiration", int),
    ("spo2", int),
    ("weight_kg", float),
    ("height_cm", float),
)
EXAM_KINDS_SHOWN = ("lab", "imaging", "ecg", "ultrasound")
LAB_ROWS = 5  # result lines offered on the lab result form
RX_FIELDS = ("dose", "dose_unit", "route", "frequency", "days", "quantity")
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")


@dataclass
class FormProblems:
    """Each problem beside its form field; those with no field of the form in ``other``."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.other)

    def absorb(self, errors: Iterable[FieldError], where: Callable[[str], str | None]) -> None:
        """The desk's errors, each put beside the form field ``where`` names for it (rule 2)."""
        for e in errors:
            name = where(e.field)
            if name is None:
                self.other.append(str(e))
            else:
                self.add(name, e.message)


def yuan(fen: int | None) -> str:
    return "" if fen is None else fen_to_yuan(fen)


def _label(entry: schemas.Code, lang: str) -> str:
    return entry.en if lang == "en" else entry.zh


def _choices(list_name: str, lang: str) -> list[dict[str, str]]:
    return [{"code": c.code, "label": _label(c, lang)} for c in schemas.code_list(list_name).codes]


def visit_options(lang: str) -> dict[str, Any]:
    """The select options of the visit forms, from the code lists."""
    services = schemas.code_list("service").codes
    exams: dict[str, list[dict[str, str]]] = {}
    for c in services:
        if c.extra.get("kind") in EXAM_KINDS_SHOWN:
            exams.setdefault(c.extra["kind"], []).append(
                {"code": c.code, "label": _label(c, lang), "price": str(c.extra.get("price", ""))}
            )
    return {
        "department": _choices("department", lang),
        "scheme": _choices("insurance_scheme", lang),
        "payment_method": _choices("payment_method", lang),
        "dose_unit": _choices("dose_unit", lang),
        "route": _choices("route", lang),
        "frequency": _choices("frequency", lang),
        "urgency": _choices("urgency", lang),
        "abnormal": _choices("abnormal_flag", lang),
        "exams": [
            {"kind": k, "label": code_label("order_kind", k, lang), "services": exams[k]}
            for k in EXAM_KINDS_SHOWN
            if k in exams
        ],
        "treatments": [
            {"code": c.code, "label": _label(c, lang), "price": str(c.extra.get("price", ""))}
            for c in services
            if c.extra.get("kind") == "treatment"
        ],
    }


# -- reading a visit ---------------------------------------------------------------------------------


def order_view(order: schemas.OrderLine, lang: str) -> dict[str, Any]:
    out = order.as_json()
    out["label"] = code_label("service", order.service, lang)
    out["urgency_label"] = code_label("urgency", order.urgency, lang)
    return out


# The open work a step already says (``awaiting_payment`` is the payment pending).
_STEP_WORK = {"awaiting_payment": "payment", "awaiting_dispensing": "dispensing", "exams_pending": "exams"}


def visit_view(state: VisitState, lang: str, *, full_ids: bool = False) -> dict[str, Any]:
    """The visit as its page shows it: the fold's step, charges, medicine, orders, payments, history.

    The insurance number is masked like an identity number unless ``full_ids``.
    """
    return {
        "visit_id": state.visit_id,
        "resident_id": state.resident_id,
        "step": state.step.value,
        "open": state.step.open,
        "consulted": state.encounter_id is not None,
        "queue_number": state.queue_number,
        "day": state.day,
        "registered_at": state.registered_at,
        "department": code_label("department", state.department, lang),
        "scheme": code_label("insurance_scheme", state.scheme, lang),
        "insurance_number": state.insurance_number if full_ids else mask_id(state.insurance_number),
        "pending": state.pending,
        "also_pending": [p for p in state.pending if p != _STEP_WORK.get(state.step.value)],
        "due": yuan(state.due_fen),
        "due_fen": state.due_fen,
        "drugs": [{**d.as_json(), "label": code_label("drug", d.drug, lang)} for d in state.drugs],
        "prescriptions": sorted({d.prescription_id for d in state.drugs}),
        "orders": [order_view(o, lang) for o in state.orders],
        "payments": [
            {
                **p,
                "total": yuan(p["total_fen"]),
                "insurance": yuan(p["insurance_fen"]),
                "self": yuan(p["self_fen"]),
                "method_label": code_label("payment_method", p["method"], lang),
            }
            for p in state.payments
        ],
        "events": [e.as_json() for e in sorted(state.events, key=lambda e: e.at)],
        "anomalies": list(state.anomalies),
    }


def usage(item: Mapping[str, Any], lang: str) -> dict[str, str]:
    """How a prescription item is taken, for the pharmacist's label: dose, route, frequency, days."""
    return {
        "dose": f"{item.get('dose', '')} {code_label('dose_unit', item.get('dose_unit'), lang)}".strip(),
        "route": code_label("route", item.get("route"), lang),
        "frequency": code_label("frequency", item.get("frequency"), lang),
        "days": str(item.get("days", "")),
    }


def bill_view(lines: list[dict[str, Any]], s: SettlementSplit, lang: str) -> dict[str, Any]:
    """The cashier's quote: each line due, the total and how it divides (rule 3)."""

    def line_label(ln: dict[str, Any]) -> str:
        list_name = "drug" if ln["source"] == "drug" else "service"
        label = code_label(list_name, ln["code"], lang)
        return label if label != ln["code"] else str(ln.get("name") or ln["code"])

    return {
        "lines": [
            {
                "label": line_label(ln),
                "quantity": ln["quantity"],
                "unit_price": yuan(ln["unit_price_fen"]),
                "amount": yuan(ln["amount_fen"]),
                "insured": ln["insured"],
            }
            for ln in lines
        ],
        "total_fen": s.total_fen,
        "total": yuan(s.total_fen),
        "eligible": yuan(s.eligible_fen),
        "deductible": yuan(s.deductible_fen),
        "ratio_percent": f"{s.ratio_permille / 10:g}",
        "insurance": yuan(s.insurance_fen),
        "self": yuan(s.self_fen),
    }


# -- forms into desk calls ---------------------------------------------------------------------------


def _trimmed(form: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    return {n: (form.get(n) or "").strip() for n in names}


def checkin_body(form: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any], FormProblems]:
    """The check-in form: the values as typed and the ``Desk.checkin`` keywords."""
    values = _trimmed(form, ("resident_id", "department", "scheme", "insurance_number"))
    problems = FormProblems()
    if not values["department"]:
        problems.add("department", "is required: choose the department")
    body: dict[str, Any] = {
        "resident_id": values["resident_id"],
        "department": values["department"],
        "scheme": values["scheme"] or None,
        "insurance_number": values["insurance_number"] or None,
    }
    return values, body, problems


def _number(text: str, kind: type, name: str, problems: FormProblems) -> float | int | None:
    if not text:
        return None
    try:
        return kind(text)  # type: ignore[no-any-return]
    except ValueError:
        problems.add(name, "must be a whole number" if kind is int else "must be a number")
        return None


def vitals_body(form: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any] | None, FormProblems]:
    """The triage form: the values as typed and the ``vitals`` of the step (None if none were taken)."""
    values = _trimmed(form, [n for n, _ in VITAL_FIELDS])
    problems = FormProblems()
    vitals = {}
    for name, kind in VITAL_FIELDS:
        number = _number(values[name], kind, name, problems)
        if number is not None:
            vitals[name] = number
    return values, vitals or None, problems


def vitals_field(name: str) -> str | None:
    """``vitals.systolic`` → ``systolic``; the diastolic-below-systolic rule is the diastolic field's."""
    rest = name.removeprefix("vitals").lstrip(".")
    known = {n for n, _ in VITAL_FIELDS}
    if rest in known:
        return rest
    return "diastolic" if rest == "" and name.startswith("vitals") else None


def picked_codes(form: Mapping[str, str], prefix: str) -> list[str]:
    """The codes of ticked ``<prefix>.<code>`` boxes, in the order of the form.

    Only ICD-10 codes hold dots; ``rx.<drug>.dose`` and the like are a ticked drug's details.
    """
    out = []
    for key, value in form.items():
        if not key.startswith(prefix + "."):
            continue
        code = key[len(prefix) + 1 :]
        if prefix != "diagnosis" and "." in code:
            continue
        if value and _CODE.match(code) and code not in out:
            out.append(code)
    return out


@dataclass
class Consultation:
    """The consultation form read: what was typed and the ``Desk.consult`` keywords."""

    values: dict[str, Any]
    encounter: dict[str, Any]
    prescriptions: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    fees: list[dict[str, Any]]
    problems: FormProblems
    drugs: list[str]

    def field_of(self, name: str) -> str | None:
        """The form field a desk error names (rule 2)."""
        parts = name.split(".")
        if parts[0] == "encounter" and len(parts) > 1:
            if parts[1] in ("chief_complaint", "present_illness", "physical_exam", "advice"):
                return parts[1]
            if parts[1] == "diagnoses":
                return "diagnoses"
            return None
        if parts[0] == "prescriptions" and len(parts) >= 4 and parts[2] == "items":
            index = int(parts[3]) if parts[3].isdigit() else -1
            if 0 <= index < len(self.drugs):
                detail = parts[4] if len(parts) > 4 and parts[4] in RX_FIELDS else "drug"
                return f"rx.{self.drugs[index]}" + ("" if detail == "drug" else f".{detail}")
        if parts[0] == "prescriptions":
            return "drugs"
        if parts[0] in ("orders", "fees"):
            return parts[0]
        return None


_NOTES = ("chief_complaint", "present_illness", "physical_exam", "advice")


def consultation_body(form: Mapping[str, str]) -> Consultation:
    """The consultation form (rule 1): encounter, one prescription of the ticked drugs, orders, fees."""
    problems = FormProblems()
    values: dict[str, Any] = _trimmed(form, (*_NOTES, "primary_diagnosis", "urgency", "icd10_q", "drug_q"))
    diagnoses = picked_codes(form, "diagnosis")
    primary = values["primary_diagnosis"] if values["primary_diagnosis"] in diagnoses else None
    primary = primary or (diagnoses[0] if diagnoses else None)
    encounter: dict[str, Any] = {n: values[n] for n in _NOTES if values[n]}
    encounter["diagnoses"] = [{"icd10": c, "primary": c == primary} for c in diagnoses]
    if not values["chief_complaint"]:
        problems.add("chief_complaint", "is required: what brings the resident in")
    if not diagnoses:
        problems.add("diagnoses", "pick at least one diagnosis (search ICD-10 by code or name)")

    drugs = picked_codes(form, "rx")
    items = []
    rx_values: dict[str, dict[str, str]] = {}
    for code in drugs:
        typed = _trimmed(form, [f"rx.{code}.{f}" for f in RX_FIELDS])
        rx_values[code] = {f: typed[f"rx.{code}.{f}"] for f in RX_FIELDS}
        item: dict[str, Any] = {"drug": code}
        for f in ("dose_unit", "route", "frequency"):
            item[f] = rx_values[code][f] or None
        item["dose"] = rx_values[code]["dose"] or None
        for f in ("days", "quantity"):
            item[f] = _number(rx_values[code][f], int, f"rx.{code}.{f}", problems)
        for f in RX_FIELDS:
            if item.get(f) is None and not problems.fields.get(f"rx.{code}.{f}"):
                problems.add(f"rx.{code}.{f}", "is required")
        items.append({k: v for k, v in item.items() if v is not None})
    values["rx"] = rx_values
    values["drugs"] = drugs
    values["diagnoses"] = diagnoses

    orders_picked = picked_codes(form, "order")
    urgency = values["urgency"] or "routine"
    orders = [{"service": s, "urgency": urgency} for s in orders_picked]
    values["orders"] = orders_picked
    fees = []
    fee_values = {}
    for key, text in form.items():
        if key.startswith("fee.") and (text or "").strip():
            code = key[4:]
            fee_values[code] = text.strip()
            quantity = _number(text.strip(), int, key, problems)
            if quantity is not None and quantity < 0:
                problems.add(key, "must not be negative")
            elif quantity:
                fees.append({"service": code, "quantity": quantity})
    values["fees"] = fee_values
    return Consultation(
        values=values,
        encounter=encounter,
        prescriptions=[{"items": items}] if items else [],
        orders=orders,
        fees=fees,
        problems=problems,
        drugs=drugs,
    )


def dispense_items(
    form: Mapping[str, str], lines: list[dict[str, Any]]
) -> tuple[dict[str, str], list[dict[str, Any]], FormProblems]:
    """The pharmacy form of one prescription: ``qty.<index>`` per item; 0 or empty hands over none."""
    problems = FormProblems()
    values = {f"qty.{ln['index']}": (form.get(f"qty.{ln['index']}") or "").strip() for ln in lines}
    items = []
    for ln in lines:
        name = f"qty.{ln['index']}"
        quantity = _number(values[name], int, name, problems)
        if quantity:
            items.append({"index": ln["index"], "quantity": quantity})
        elif quantity is not None and quantity < 0:
            problems.add(name, "must not be negative")
    if not items and not problems:
        problems.add("items", "give the number of packs handed over for at least one item")
    values["note"] = (form.get("note") or "").strip()
    return values, items, problems


def dispense_field(name: str, items: list[dict[str, Any]]) -> str | None:
    """``items.0.quantity`` → the ``qty.<index>`` field it came from."""
    parts = name.split(".")
    if parts[0] == "items" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(items):
        return f"qty.{items[int(parts[1])]['index']}"
    return "items" if parts[0] == "items" else None


_IMAGING_FIELDS = ("findings", "conclusion", "reporting_doctor")
_LAB_COLUMNS = ("name", "value", "unit", "reference_low", "reference_high", "abnormal")


def exam_result_body(
    form: Mapping[str, str], kind: str
) -> tuple[dict[str, Any], str, dict[str, Any], FormProblems]:
    """The result form: the values, the report type and its ``data`` (the desk adds the order's defaults)."""
    problems = FormProblems()
    note = (form.get("note") or "").strip()
    if kind == "lab":
        rows = [{c: (form.get(f"item.{i}.{c}") or "").strip() for c in _LAB_COLUMNS} for i in range(LAB_ROWS)]
        items = []
        for i, row in enumerate(rows):
            if not any(row.values()):
                continue
            item: dict[str, Any] = {"name": row["name"], "value": row["value"]}
            number = _number(row["value"], float, f"item.{i}.value", FormProblems())
            if number is not None:
                item["value"] = number
            if row["unit"]:
                item["unit"] = row["unit"]
            for c in ("reference_low", "reference_high"):
                bound = _number(row[c], float, f"item.{i}.{c}", problems)
                if bound is not None:
                    item[c] = bound
            if row["abnormal"]:
                item["abnormal"] = row["abnormal"]
            items.append((i, item))
        if not items:
            problems.add("item.0.name", "enter at least one result line (name and value)")
        data: dict[str, Any] = {"items": [it for _, it in items]}
        if note:
            data["note"] = note
        values: dict[str, Any] = {"rows": rows, "note": note, "row_of": [i for i, _ in items]}
        return values, "lab_report", data, problems
    typed = _trimmed(form, _IMAGING_FIELDS)
    data = {k: v for k, v in typed.items() if v}
    data["positive"] = bool(form.get("positive"))
    return {**typed, "positive": data["positive"]}, "imaging_report", data, problems


def exam_field(name: str, values: dict[str, Any]) -> str | None:
    """``data.items.1.value`` → ``item.<row>.value``; ``data.conclusion`` → ``conclusion``."""
    parts = name.split(".")
    if parts[0] != "data" or len(parts) < 2:
        return None
    if parts[1] == "items":
        rows: list[int] = values.get("row_of", [])
        if len(parts) >= 3 and parts[2].isdigit() and int(parts[2]) < len(rows):
            column = parts[3] if len(parts) > 3 and parts[3] in _LAB_COLUMNS else "value"
            return f"item.{rows[int(parts[2])]}.{column}"
        return "item.0.name"
    if parts[1] in (*_IMAGING_FIELDS, "positive", "note"):
        return parts[1]
    return None


def as_problems(exc: RecordInvalid, where: Callable[[str], str | None]) -> FormProblems:
    problems = FormProblems()
    problems.absorb(exc.errors, where)
    return problems
