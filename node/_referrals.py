"""Two-way referral and remote consultation at a clinic: the facts written, and the status read from them.

Rules:
1. Records stay immutable facts; a status is derived from the set of records
   this node holds, never stored or edited. A referral out is ``sent``; the
   receiving clinic's ``referral_response`` makes it ``accepted`` or
   ``declined``; a referral back naming it makes it ``back``; the referring
   clinic's closing response (decision ``closed``) makes it ``closed``.
   A consultation is ``requested`` until a version of it carries an answer
   (``answered``).
2. Who answers is decided by clinic code: a referral is incoming here when
   its ``to_clinic`` is this clinic, outgoing when its ``from_clinic`` is; a
   consultation likewise by ``consulting_clinic`` / ``requesting_clinic``.
3. Every write is a local record (through the store's writer, with its
   outbox entry) and needs no hub: the hub routes it to the other clinic
   when this node next syncs (``hub._ingest``, rule 7). A response, a
   referral back and an answer are written about the referred resident
   (registered at the other clinic, so not in this node's residents table).
4. A consultation's answer is a new version of the request (same fact,
   ``supersedes`` it), written at the consulting clinic: the requesting
   clinic then holds the answer as the consultation's current version.
5. A write the current status forbids (a second response, a referral back
   before acceptance) raises ``ReferralConflict`` naming the field, and
   stores nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import schemas
from schemas import FieldError, RecordEnvelope, RecordInvalid, Status

from ._rows import RECORD_COLUMNS, NotFound, StoreError, envelope_of
from ._store import NodeStore

__all__ = [
    "CONSULTATION_STATUSES",
    "DIRECTIONS",
    "REFERRAL_STATUSES",
    "Clinic",
    "ReferralConflict",
    "answer_consultation",
    "close_referral",
    "consultations",
    "refer_back",
    "refer_out",
    "referrals",
    "request_consultation",
    "respond",
]

REFERRAL_STATUSES = ("sent", "accepted", "declined", "back", "closed")
CONSULTATION_STATUSES = ("requested", "answered")
DIRECTIONS = ("out", "in")


class ReferralConflict(StoreError):
    """A referral or consultation write that its current status forbids."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Clinic:
    """This node as the referral records name it: its store, its clinic code, who acts."""

    store: NodeStore
    code: str
    user: str  # the staff account (recorded_by)
    signer: str  # the name written into the record (referring_doctor, responded_by …)


def _now(store: NodeStore) -> str:
    """The clinic's local time to the minute, from the store's clock (rule 3 of the store)."""
    return dt.datetime.fromtimestamp(store._wall_ms() / 1000).strftime("%Y-%m-%dT%H:%M")


def _write(
    clinic: Clinic,
    type_: str,
    resident_id: str,
    data: dict[str, Any],
    *,
    fact_id: str | None = None,
    supersedes: str | None = None,
    reason: str | None = None,
) -> RecordEnvelope:
    """Validate and append a record about ``resident_id`` (local or referred here) with its outbox entry."""
    store = clinic.store
    body = schemas.validate(type_, data, today=store._today())
    with store.transaction() as w:
        if supersedes is not None:
            current = w.conn.execute("SELECT is_current FROM records WHERE id = ?", (supersedes,)).fetchone()
            if current is None or not current[0]:
                raise ReferralConflict("id", f"record {supersedes} was superseded meanwhile; list again")
        env = w._new(
            type_,
            resident_id,
            body,
            user=clinic.user,
            fact_id=fact_id,
            status=Status.AMENDED if supersedes else Status.FINAL,
            supersedes=supersedes,
            reason=reason,
        )
        return w._append(env)


def _records(store: NodeStore, where: str, args: tuple[Any, ...]) -> list[RecordEnvelope]:
    rows = store.db.reader().execute(f"SELECT {RECORD_COLUMNS} FROM records WHERE {where}", args).fetchall()
    return [envelope_of(r) for r in rows]


def _live(env: RecordEnvelope) -> bool:
    return env.status is not Status.ENTERED_IN_ERROR


def _one(store: NodeStore, record_id: str, type_: str) -> RecordEnvelope:
    found = [e for e in _records(store, "id = ? AND type = ?", (record_id, type_)) if _live(e)]
    if not found:
        raise NotFound(f"no {type_} {record_id} on this node; sync, or check the id with the list")
    return found[0]


def _invalid(type_: str, field: str, message: str) -> RecordInvalid:
    return RecordInvalid([FieldError(field, message)], record_type=type_)


# -- referrals ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Referral:
    out: RecordEnvelope
    responses: list[RecordEnvelope]  # referral_response naming it, oldest first
    backs: list[RecordEnvelope]  # referrals back naming it, oldest first

    def response(self, *decisions: str) -> RecordEnvelope | None:
        found = [r for r in self.responses if r.data["decision"] in decisions]
        return found[-1] if found else None

    @property
    def status(self) -> str:
        if self.response("closed"):
            return "closed"
        if self.backs:
            return "back"
        answer = self.response("accepted", "declined")
        return str(answer.data["decision"]) if answer else "sent"


def _referral(store: NodeStore, record_id: str) -> _Referral:
    out = _one(store, record_id, "referral")
    if out.data.get("direction") != "out":
        raise NotFound(f"record {record_id} is a referral back; name the referral out it answers")
    linked = [
        e
        for e in _records(
            store,
            "type IN ('referral_response', 'referral') AND is_current = 1 "
            "AND json_extract(data, '$.referral_id') = ? ORDER BY hlc, id",
            (record_id,),
        )
        if _live(e)
    ]
    return _Referral(
        out,
        [e for e in linked if e.type == "referral_response"],
        [e for e in linked if e.type == "referral"],
    )


def refer_out(clinic: Clinic, resident_id: str, data: dict[str, Any]) -> RecordEnvelope:
    """Refer a resident registered here to another clinic (``to_clinic``)."""
    body = {
        **data,
        "direction": "out",
        "from_clinic": clinic.code,
        "referred_at": data.get("referred_at") or _now(clinic.store),
        "referring_doctor": data.get("referring_doctor") or clinic.signer,
    }
    return clinic.store.add_record(resident_id, "referral", body, user=clinic.user)


def _incoming(clinic: Clinic, record_id: str) -> _Referral:
    ref = _referral(clinic.store, record_id)
    if ref.out.data["to_clinic"] != clinic.code:
        raise ReferralConflict(
            "id", f"referral {record_id} was sent to clinic {ref.out.data['to_clinic']}, not to this one"
        )
    return ref


def respond(clinic: Clinic, record_id: str, *, accept: bool, reason: str | None = None) -> RecordEnvelope:
    """Accept or decline (with a reason) a referral sent to this clinic; once."""
    ref = _incoming(clinic, record_id)
    if ref.status != "sent":
        raise ReferralConflict("id", f"referral {record_id} is {ref.status} already; it is answered once")
    body = {
        "responded_at": _now(clinic.store),
        "referral_id": record_id,
        "decision": "accepted" if accept else "declined",
        "reason": reason,
        "responded_by": clinic.signer,
    }
    return _write(clinic, "referral_response", ref.out.resident_id, body)


def refer_back(clinic: Clinic, record_id: str, data: dict[str, Any]) -> RecordEnvelope:
    """Send an accepted referral back to the referring clinic with results and the discharge summary."""
    ref = _incoming(clinic, record_id)
    if ref.status != "accepted":
        raise ReferralConflict(
            "id", f"referral {record_id} is {ref.status}; only an accepted referral is referred back"
        )
    summary_id = data.get("discharge_summary_id")
    if summary_id is not None:
        _check_summary(clinic.store, ref.out.resident_id, summary_id)
    out = ref.out.data
    body = {
        "referred_at": _now(clinic.store),
        "reason": "转回原转诊机构继续治疗",
        "urgency": out.get("urgency", "routine"),
        **{k: v for k, v in data.items() if v is not None},
        "direction": "back",
        "from_clinic": clinic.code,
        "to_clinic": out["from_clinic"],
        "referral_id": record_id,
        "referring_doctor": clinic.signer,
    }
    return _write(clinic, "referral", ref.out.resident_id, body)


def _check_summary(store: NodeStore, resident_id: str, summary_id: Any) -> None:
    """The discharge summary must be held here and be about the referred resident (or one linked to it)."""
    found = (
        _records(store, "id = ? AND type = 'discharge_summary'", (summary_id,))
        if isinstance(summary_id, str)
        else []
    )
    if not found:
        raise _invalid("referral", "discharge_summary_id", f"no discharge summary {summary_id} on this node")
    about = found[0].resident_id
    linked = store.db.reader().execute(
        "SELECT 1 FROM links WHERE resident_id = ? AND remote_resident_id = ?", (about, resident_id)
    )
    if about != resident_id and linked.fetchone() is None:
        raise _invalid("referral", "discharge_summary_id", "is about another resident than the referral")


def close_referral(clinic: Clinic, record_id: str) -> RecordEnvelope:
    """The referring clinic, having the referral back, closes its referral out."""
    ref = _referral(clinic.store, record_id)
    if ref.out.data["from_clinic"] != clinic.code:
        raise ReferralConflict(
            "id", f"referral {record_id} was not sent from this clinic; its sender closes it"
        )
    if ref.status != "back":
        raise ReferralConflict("id", f"referral {record_id} is {ref.status}; it closes once it is back")
    body = {
        "responded_at": _now(clinic.store),
        "referral_id": record_id,
        "decision": "closed",
        "responded_by": clinic.signer,
    }
    return _write(clinic, "referral_response", ref.out.resident_id, body)


def _resident(store: NodeStore, resident_id: str) -> dict[str, Any]:
    """Name, sex and birth date of a resident registered here or referred here."""
    found = _records(store, "type = 'resident' AND resident_id = ? AND is_current = 1", (resident_id,))
    data = found[-1].data if found else {}
    return {k: data.get(k) for k in ("name", "sex", "birth_date")}


def _response_json(env: RecordEnvelope | None) -> dict[str, Any] | None:
    if env is None:
        return None
    keys = ("decision", "reason", "responded_at", "responded_by")
    return {"record_id": env.id, **{k: env.data.get(k) for k in keys}}


def _back_json(store: NodeStore, env: RecordEnvelope, readable: frozenset[str]) -> dict[str, Any]:
    summary_id = env.data.get("discharge_summary_id")
    summary = None
    if summary_id and "discharge_summary" in readable:
        held = _records(store, "id = ? AND type = 'discharge_summary'", (summary_id,))
        summary = {"record_id": held[0].id, **held[0].data} if held else None
    return {
        "record_id": env.id,
        "referred_at": env.data["referred_at"],
        "results": env.data.get("results"),
        "discharge_summary_id": summary_id,
        "discharge_summary": summary,  # None until it has synced here (or the role may not read it)
    }


def referrals(
    store: NodeStore, clinic: str, *, direction: str | None, status: str | None, readable: frozenset[str]
) -> list[dict[str, Any]]:
    """Referrals out of (``out``) or into (``in``) clinic ``clinic``, newest first, each with its status."""
    outs = _records(
        store,
        "type = 'referral' AND is_current = 1 AND json_extract(data, '$.direction') = 'out' "
        "AND (json_extract(data, '$.from_clinic') = ?1 OR json_extract(data, '$.to_clinic') = ?1) "
        "ORDER BY hlc DESC, id",
        (clinic,),
    )
    items = []
    for out in filter(_live, outs):
        way = "out" if out.data["from_clinic"] == clinic else "in"
        if direction is not None and way != direction:
            continue
        ref = _referral(store, out.id)
        if status is not None and ref.status != status:
            continue
        keys = ("referred_at", "from_clinic", "to_clinic", "reason", "urgency", "preliminary_diagnoses")
        items.append(
            {
                "id": out.id,
                "direction": way,
                "status": ref.status,
                "resident_id": out.resident_id,
                "resident": _resident(store, out.resident_id),
                **{k: out.data.get(k) for k in keys},
                "referring_doctor": out.data.get("referring_doctor"),
                "response": _response_json(ref.response("accepted", "declined")),
                "back": _back_json(store, ref.backs[-1], readable) if ref.backs else None,
                "closed": _response_json(ref.response("closed")),
            }
        )
    return items


# -- consultations -----------------------------------------------------------------------------------


def request_consultation(clinic: Clinic, resident_id: str, data: dict[str, Any]) -> RecordEnvelope:
    """Ask another clinic (``consulting_clinic``) a question about a resident registered here."""
    body = {
        **data,
        "requesting_clinic": clinic.code,
        "requested_at": data.get("requested_at") or _now(clinic.store),
        "requested_by": data.get("requested_by") or clinic.signer,
    }
    for name in ("answer", "answered_at", "answered_by"):
        if body.get(name) is not None:
            raise _invalid("consultation", name, "is written by the consulting clinic when it answers")
    return clinic.store.add_record(resident_id, "consultation", body, user=clinic.user)


def answer_consultation(clinic: Clinic, record_id: str, answer: str) -> RecordEnvelope:
    """Answer a consultation asked of this clinic: a new version of the request carrying the answer."""
    request = _one(clinic.store, record_id, "consultation")
    if request.data["consulting_clinic"] != clinic.code:
        raise ReferralConflict(
            "id", f"consultation {record_id} was asked of clinic {request.data['consulting_clinic']}"
        )
    current = _records(clinic.store, "fact_id = ? AND is_current = 1", (request.fact_id,))
    if request.data.get("answer") or any(e.data.get("answer") for e in current):
        raise ReferralConflict("id", f"consultation {record_id} is answered already")
    if not current or current[0].id != record_id:
        raise ReferralConflict("id", f"consultation {record_id} has a newer version; answer that one")
    body = {
        **request.data,
        "answer": answer,
        "answered_at": _now(clinic.store),
        "answered_by": clinic.signer,
    }
    return _write(
        clinic,
        "consultation",
        request.resident_id,
        body,
        fact_id=request.fact_id,
        supersedes=request.id,
        reason="answered",
    )


def consultations(
    store: NodeStore, clinic: str, *, direction: str | None, status: str | None
) -> list[dict[str, Any]]:
    """Consultations asked by (``out``) or of (``in``) clinic ``clinic``, newest request first."""
    current = _records(
        store,
        "type = 'consultation' AND is_current = 1 AND (json_extract(data, '$.requesting_clinic') = ?1 "
        "OR json_extract(data, '$.consulting_clinic') = ?1) ORDER BY hlc DESC, id",
        (clinic,),
    )
    items = []
    for env in filter(_live, current):
        way = "out" if env.data["requesting_clinic"] == clinic else "in"
        state = "answered" if env.data.get("answer") else "requested"
        if (direction is not None and way != direction) or (status is not None and state != status):
            continue
        keys = (
            "requested_at",
            "requesting_clinic",
            "consulting_clinic",
            "requested_by",
            "question",
            "diagnoses",
        )
        items.append(
            {
                "id": env.id,
                "fact_id": env.fact_id,
                "direction": way,
                "status": state,
                "resident_id": env.resident_id,
                "resident": _resident(store, env.resident_id),
                **{k: env.data.get(k) for k in keys},
                **{k: env.data.get(k) for k in ("answer", "answered_at", "answered_by")},
            }
        )
    items.sort(key=lambda i: str(i["requested_at"]), reverse=True)
    return items
