"""What the clinic's pages show, as plain data: no requests, no auditing, no HTML.

Rules:
1. Identity numbers are shown in full only to roles that maintain demographics
   (``Permission.UPDATE_DEMOGRAPHICS`` in ``_access``); other roles see the last
   four characters.
2. The emergency data (allergies, serious conditions) is shown exactly when the
   card API shows it: to roles that may read allergy records.
3. Labels come from the code lists and record types, in the page's language;
   an unknown code is shown as it is.
4. Dates are passed in (the desk's clock), never read here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import schemas
from cardreader import CONDITIONS
from schemas import RecordInvalid

from ._access import Permission, Role, allowed
from ._cards import node_emergency
from ._db import Database
from ._duplicates import DuplicateCandidate
from ._store import NodeStore
from ._sync_state import SyncState, sync_status

__all__ = [
    "REGISTRATION_FIELDS",
    "age_on",
    "code_label",
    "duplicate_rows",
    "emergency_view",
    "form_errors",
    "mask_id",
    "person_row",
    "registration_body",
    "registration_options",
    "sees_full_id",
    "sync_bar",
    "tree_view",
]

_SHOWN_DIGITS = 4


def sees_full_id(role: Role) -> bool:
    return allowed(role, Permission.UPDATE_DEMOGRAPHICS)


def mask_id(number: str | None) -> str | None:
    """``5113…1234`` → ``**************1234`` (rule 1)."""
    if not number:
        return number
    return "*" * max(0, len(number) - _SHOWN_DIGITS) + number[-_SHOWN_DIGITS:]


def age_on(birth_date: str | None, today: dt.date) -> int | None:
    if not birth_date:
        return None
    try:
        born = dt.date.fromisoformat(birth_date[:10])
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def code_label(list_name: str, code: str | None, lang: str) -> str:
    if not code:
        return ""
    entry = schemas.code_list(list_name).get(code)
    if entry is None:
        return code
    return entry.en if lang == "en" else entry.zh


def person_row(summary: dict[str, Any], *, role: Role, today: dt.date, lang: str) -> dict[str, Any]:
    """One resident as a search hit or queue line shows them."""
    number = summary.get("id_number")
    return {
        "id": summary["id"],
        "name": summary.get("name") or "",
        "sex": code_label("sex", summary.get("sex"), lang),
        "age": age_on(summary.get("birth_date"), today),
        "birth_date": summary.get("birth_date"),
        "id_number": number if sees_full_id(role) else mask_id(number),
        "phone": summary.get("phone"),
        "deceased_on": summary.get("deceased_on"),
        "matched": summary.get("matched"),
    }


def emergency_view(
    store: NodeStore, resident_id: str, *, readable: frozenset[str], lang: str
) -> dict[str, Any] | None:
    """Allergies and serious conditions from this node's records; None for roles not shown them (rule 2)."""
    if "allergy" not in readable:
        return None
    here = node_emergency(store, resident_id)
    return {
        "allergies": [
            {"substance": a.substance, "reaction": a.reaction, "severity": a.severity} for a in here.allergies
        ],
        "conditions": [
            (CONDITIONS[c][1] if lang == "en" else CONDITIONS[c][0]) if c in CONDITIONS else c
            for c in here.conditions
        ],
    }


def tree_view(tree: dict[str, Any], *, lang: str) -> list[dict[str, Any]]:
    """The file tree's categories in the page's language: only those with records, newest first."""
    out = []
    for cat in tree["categories"]:
        records = [r for g in cat["groups"] for r in g["records"]]
        if not records:
            continue
        records.sort(key=lambda r: r["effective"], reverse=True)
        out.append(
            {
                "category": cat["category"],
                "title": cat["title_en"] if lang == "en" else cat["title_zh"],
                "records": [
                    {
                        "id": r["id"],
                        "title": r["title_en"] if lang == "en" else r["title_zh"],
                        "effective": r["effective"],
                        "status": r["status"],
                        "versions": r["versions"],
                        "shared": r["shared"],
                        "source": r.get("source"),
                        "via": r.get("via"),
                    }
                    for r in records
                ],
            }
        )
    return out


def sync_bar(db: Database, *, enrolled: bool) -> dict[str, Any]:
    """What every page shows of sync: online, offline or not enrolled; last sync; changes waiting."""
    status = sync_status(db)
    state = SyncState(db)
    if not enrolled:
        link = "not-enrolled"
    elif state.failures() == 0 and status["last_sync"] is not None:
        link = "online"
    else:
        link = "offline"
    return {
        "link": link,
        "last_sync": status["last_sync"],
        "pending": status["pending"],
        "last_attempt": state.get("last_attempt"),
        "last_error": state.get("last_error"),
        "errors": status["errors"],
    }


# -- the registration form -----------------------------------------------------------------------------

# The form's fields, in the order the desk fills them in.
REGISTRATION_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "id_number",
    "id_number_missing",
    "phone",
    "division_code",
    "street",
    "insurance_number",
)
_ADDRESS_FIELDS = ("division_code", "street")


def registration_options(lang: str) -> dict[str, Any]:
    """The select options from the code lists: sex, why an ID is missing, villages by township."""

    def label(entry: Any) -> str:
        return str(entry.en if lang == "en" else entry.zh)

    divisions = schemas.code_list("division").codes
    towns = {c.code: label(c) for c in divisions if len(c.code) == 9}
    villages: dict[str, list[dict[str, str]]] = {}
    for c in divisions:
        if len(c.code) == 12 and not c.code.endswith("000"):
            town = towns.get(c.code[:9], c.code[:9])
            villages.setdefault(town, []).append({"code": c.code, "label": label(c)})
    return {
        "sex": [{"code": c.code, "label": label(c)} for c in schemas.code_list("sex").codes],
        "id_missing": [
            {"code": c.code, "label": label(c)} for c in schemas.code_list("id_missing_reason").codes
        ],
        "villages": villages,
    }


def registration_body(form: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The form as typed (trimmed) and the body for ``register_resident``; empty fields are left out."""
    values = {f: (form.get(f) or "").strip() for f in REGISTRATION_FIELDS}
    born = values["birth_date"]
    if len(born) == 8 and born.isdigit():  # 19700512, quicker to type at the desk
        values["birth_date"] = f"{born[:4]}-{born[4:6]}-{born[6:]}"
    values["id_number"] = values["id_number"].upper()
    body: dict[str, Any] = {f: v for f, v in values.items() if v and f not in _ADDRESS_FIELDS}
    address = {f: values[f] for f in _ADDRESS_FIELDS if values[f]}
    if address:
        body["address"] = address
    return values, body


def form_errors(exc: RecordInvalid) -> tuple[dict[str, list[str]], list[str]]:
    """Each problem beside its form field; problems with no field of the form go in the second list."""
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for e in exc.errors:
        field = e.field.removeprefix("address.") if e.field.startswith("address") else e.field
        if field == "address":
            field = "division_code"
        if field in REGISTRATION_FIELDS:
            by_field.setdefault(field, []).append(e.message)
        else:
            other.append(str(e))
    return by_field, other


def duplicate_rows(store: NodeStore, candidates: list[DuplicateCandidate]) -> list[dict[str, Any]]:
    """The possible duplicates a registration was flagged with: name, birth date, masked ID, phone."""
    found = {r["id"]: r for r in store.resident_summaries([c.resident_id for c in candidates])}
    rows = []
    for c in candidates:
        summary = found.get(c.resident_id, {})
        rows.append(
            {
                "id": c.resident_id,
                "name": c.name,
                "birth_date": c.birth_date,
                "id_number": mask_id(summary.get("id_number")),
                "phone": summary.get("phone"),
                "reasons": list(c.reasons),
            }
        )
    return rows
