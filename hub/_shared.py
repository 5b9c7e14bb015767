"""Shared records on demand: a visiting resident's summary, and breaking the glass on withheld records.

Rules:
1. A node asks for a *summary* when a card is read at its desk and the hub
   answers: by card number or identity number, with the staff member and the
   reason. Every answer (and every miss) is kept in the hub's access log.
2. The summary is the master person's shared record in brief: demographics,
   allergies, chronic conditions, active medications, recent encounters and
   lab results, each with the clinic it came from. Only current versions
   count (corrections replace, entered-in-error drops out).
3. Privacy (``hub._privacy``) applies: without the resident's consent no
   sensitive record enters the summary; ``withheld`` says that something was
   left out, never what.
4. *Breaking the glass* returns, once, the sensitive records of a resident's
   master person that were withheld from the asking node. It needs a stated
   reason, is kept in the access log and raises an operator alert. The
   records are not put in the node's feed.
5. Nothing personal is logged: logs carry node ids, master ids and counts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sync import decode

from ._privacy import PrivacyRules, consent_permits
from ._store import HubError, HubStore, NodeInfo, Reads, iso

__all__ = [
    "ACTIVE_MEDICATION_DAYS",
    "MAX_REASON",
    "RECENT",
    "SharedRefused",
    "break_glass",
    "shared_summary",
]

log = logging.getLogger("rhip.hub.shared")

RECENT = 5  # encounters and lab reports in a summary
ACTIVE_MEDICATION_DAYS = 90  # a prescription this recent counts as an active medication
MAX_REASON = 200

# Key-population follow-ups and the chronic condition each one manages.
_PROGRAMMES = {
    "hypertension_followup": ("I10", "高血压", "Hypertension"),
    "diabetes_followup": ("E11", "2型糖尿病", "Type 2 diabetes"),
    "tb_followup": ("A16", "肺结核", "Pulmonary tuberculosis"),
    "mental_followup": ("F20-F29", "严重精神障碍", "Severe mental disorder"),
}


class SharedRefused(HubError):
    """A request for shared records the hub refuses: ``status_code``, ``reason`` and the ``field``."""

    def __init__(self, status_code: int, reason: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.reason = reason
        self.field = field


def _text(value: str, field: str, *, limit: int = MAX_REASON) -> str:
    text = value.strip()
    if not text or len(text) > limit:
        raise SharedRefused(400, "malformed", f"{field} must be 1-{limit} characters", field=field)
    return text


def current_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The current versions: neither superseded nor entered in error (rule 2)."""
    records = list(records)
    superseded = {r.get("supersedes") for r in records if r.get("supersedes")}
    retracted = {r.get("fact_id") for r in records if r.get("status") == "entered-in-error"}
    return [r for r in records if r.get("id") not in superseded and r.get("fact_id") not in retracted]


def _person(reads: Reads, master_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The master person's residents and every record about them (decoded, oldest first)."""
    members = [r for r, _ in reads.master_members(master_id)]
    records = [decode(content) for m in members for _, _, _, content in reads.records_about(m)]
    return members, records


def _demographics(reads: Reads, members: list[str]) -> dict[str, Any]:
    """The newest value of every field across the person's registrations (family links stay local)."""
    latest: dict[str, tuple[int, Any]] = {}
    for resident_id in members:
        for name, state in reads.field_states(resident_id).items():
            if name not in latest or state.version.hlc > latest[name][0]:
                latest[name] = (state.version.hlc, state.version.value)
    return {k: v for k, (_, v) in sorted(latest.items()) if v is not None and k != "family"}


def _hide_history(demographics: dict[str, Any], rules: PrivacyRules) -> int:
    """Drop the sensitive items of past and family history (rule 3); returns how many."""
    hidden = 0
    for key in ("past_history", "family_history"):
        items = demographics.get(key)
        if isinstance(items, list):
            kept = [i for i in items if not (isinstance(i, dict) and rules.sensitive_code(i.get("icd10")))]
            hidden += len(items) - len(kept)
            demographics[key] = kept
    return hidden


def _date(record: dict[str, Any]) -> str:
    return str(record.get("effective") or "")


def _summary(records: list[dict[str, Any]], demographics: dict[str, Any], now_ms: int) -> dict[str, Any]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(records, key=lambda r: (_date(r), r.get("hlc", 0))):
        by_type.setdefault(str(r.get("type")), []).append(r)

    def source(r: dict[str, Any]) -> dict[str, Any]:
        return {"record_id": r["id"], "source": r["author"], "effective": _date(r)}

    allergies = [
        {
            **source(r),
            **{k: r["data"].get(k) for k in ("substance", "substance_category", "reaction", "severity")},
        }
        for r in by_type.get("allergy", [])
        if r["data"].get("status", "active") != "resolved"
    ]
    conditions: list[dict[str, Any]] = [
        {
            "code": item.get("icd10"),
            "title": item.get("description"),
            "since": item.get("since"),
            "source": None,
        }
        for item in demographics.get("past_history") or []
        if isinstance(item, dict)
    ]
    medications: list[dict[str, Any]] = []
    for type_, (code, zh, en) in _PROGRAMMES.items():
        followups = by_type.get(type_, [])
        if not followups:
            continue
        last = followups[-1]
        conditions.append(
            {"code": code, "title": zh, "title_en": en, "since": _date(followups[0]), **source(last)}
        )
        medications += [{**source(last), **m} for m in last["data"].get("medications") or []]
    today = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).date()
    since = (today - dt.timedelta(days=ACTIVE_MEDICATION_DAYS)).isoformat()
    for r in by_type.get("prescription", []):
        if _date(r)[:10] >= since:
            medications += [{**source(r), **item} for item in r["data"].get("items") or []]
    encounters = [
        {
            **source(r),
            "visit_time": r["data"].get("visit_time"),
            "chief_complaint": r["data"].get("chief_complaint"),
            "diagnoses": [d.get("icd10") for d in r["data"].get("diagnoses") or []],
        }
        for r in by_type.get("encounter", [])[-RECENT:][::-1]
    ]
    labs = [
        {
            **source(r),
            "reported_at": r["data"].get("reported_at"),
            "panel_name": r["data"].get("panel_name"),
            "items": r["data"].get("items") or [],
        }
        for r in by_type.get("lab_report", [])[-RECENT:][::-1]
    ]
    return {
        "demographics": demographics,
        "allergies": allergies,
        "conditions": conditions,
        "medications": medications,
        "encounters": encounters,
        "labs": labs,
    }


def _find(reads: Reads, number: str) -> tuple[str, str]:
    """``(master_id, field)`` of the one master person carrying this card or identity number."""
    value = number.strip().upper()
    for field in ("id_number", "card_number"):
        masters = reads.masters_with(field, value)
        if len(masters) > 1:
            raise SharedRefused(
                409,
                "ambiguous",
                f"{len(masters)} master persons carry this {field.replace('_', ' ')}; "
                "the hub operator must decide them first (rhip hub mpi review)",
                field="resident",
            )
        if masters:
            return masters[0], field
    raise SharedRefused(
        404, "not-found", "the hub holds no resident with this card or identity number", field="resident"
    )


def _directory(reads: Reads, authors: Iterable[str]) -> dict[str, dict[str, str]]:
    out = {}
    for node_id in sorted(set(authors)):
        node = reads.node(node_id)
        if node is not None:
            out[node_id] = {"clinic": node.clinic, "name": node.name}
    return out


def shared_summary(
    store: HubStore, node: NodeInfo, *, resident: str, reason: str, user: str
) -> dict[str, Any]:
    """The summary of a visiting resident (rules 1-3), logged with who asked and why."""
    reason, user = _text(reason, "reason"), _text(user, "user", limit=100)
    number = _text(resident, "resident", limit=40)
    try:
        master, field = _find(store.reads(), number)
    except SharedRefused as exc:
        with store.transaction() as tx:  # a miss is kept too: someone read a card here
            detail = {"found": False, "why": exc.reason}
            tx.log_access(
                node_id=node.node_id,
                user=user,
                action="summary",
                reason=reason,
                now_ms=store.now_ms(),
                detail=detail,
            )
        raise
    with store.transaction() as tx:
        now = store.now_ms()
        members, records = _person(tx, master)
        rules = PrivacyRules.with_operator((v, k) for v, k, _ in tx.sensitive_rules())
        consented = consent_permits(records)
        current = [r for r in current_records(records) if r.get("type") != "resident"]
        shown = [r for r in current if consented or not rules.sensitive(r)]
        demographics = _demographics(tx, members)
        hidden = 0 if consented else _hide_history(demographics, rules)
        summary = _summary(shown, demographics, now)
        withheld = len(current) - len(shown) + hidden
        tx.log_access(
            node_id=node.node_id,
            user=user,
            action="summary",
            reason=reason,
            now_ms=now,
            master_id=master,
            detail={"found": True, "by": field, "records": len(shown), "withheld": withheld},
        )
        clinics = _directory(tx, [r["author"] for r in shown])
    log.info(
        "summary of master %s for node %s (%d records, %d withheld)",
        master,
        node.node_id,
        len(shown),
        withheld,
    )
    return {
        "master_id": master,
        "resident_ids": members,
        **summary,
        "withheld": withheld > 0,
        "clinics": clinics,
        "generated_at": iso(now),
    }


def break_glass(
    store: HubStore, node: NodeInfo, *, resident_id: str, reason: str, user: str
) -> dict[str, Any]:
    """Return, once, the sensitive records withheld from ``node`` about a resident's master person
    (rule 4): logged, and raised to the operator."""
    reason, user = _text(reason, "reason"), _text(user, "user", limit=100)
    resident_id = _text(resident_id, "resident_id", limit=100)
    with store.transaction() as tx:
        now = store.now_ms()
        master = tx.resident_master(resident_id)
        if master is None:
            raise SharedRefused(
                404, "not-found", f"the hub holds no resident {resident_id}", field="resident_id"
            )
        members, records = _person(tx, master)
        rules = PrivacyRules.with_operator((v, k) for v, k, _ in tx.sensitive_rules())
        candidates = [r for r in records if r.get("author") != node.node_id and rules.sensitive(r)]
        routed = tx.routed_among(node.node_id, [r["id"] for r in candidates])
        released = [r for r in candidates if r["id"] not in routed]
        tx.log_access(
            node_id=node.node_id,
            user=user,
            action="break-glass",
            reason=reason,
            now_ms=now,
            master_id=master,
            resident_id=resident_id,
            detail={"records": len(released)},
        )
        tx.alert(
            "break-glass",
            node.node_id,
            f"{user} at clinic {node.clinic} ({node.name}) broke the glass on master person {master}: "
            f"{reason!r}; {len(released)} withheld record(s) released once",
            now,
        )
        clinics = _directory(tx, [r["author"] for r in released])
    log.warning(
        "break-glass by node %s on master %s: %d record(s) released", node.node_id, master, len(released)
    )
    return {
        "master_id": master,
        "resident_ids": members,
        "records": released,
        "clinics": clinics,
        "released_at": iso(now),
    }
