"""The desk workflow of a visit on one node: card, queue, triage, consultation, finish or cancel.

Rules:
1. Every step is one ``BEGIN IMMEDIATE`` transaction through the store's
   ``Writer``: the state the step is checked against (``load_visit`` on the
   writer's connection) and the records it writes are one atomic unit, and
   every record gets its outbox entry, so it syncs like any other.
2. A step only ever adds records (``visit_step``, ``payment`` …); nothing is
   updated. The state is their fold (``schemas.fold_visit``), so two
   workstations acting on one visit at once both leave their step.
3. A step the state does not allow (dispensing before payment, paying what is
   paid) raises ``DeskConflict`` naming the field at fault; bad input raises
   ``RecordInvalid`` naming it. Either way nothing is stored.
4. Time comes from ``clock`` (the node's calendar and wall time); nothing here
   needs the hub.

The cashier's, pharmacy's and examination rooms' steps are in ``_desk_services``
(``Desk``, the whole workflow).
Roles are checked by the callers (API guards, CLI), as for the store.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cardreader import CardContent
from schemas import FieldError, RecordEnvelope, RecordInvalid, VisitState, code_list

from . import _desk_read as read
from ._access import Role
from ._auth import AuthError, Staff
from ._cards import CardWrites, card_writes, match_card
from ._db import Database
from ._desk_read import DeskConflict
from ._duplicates import DuplicateCandidate
from ._store import NodeStore, Writer

__all__ = [
    "DEFAULT_FEES",
    "DeskResult",
    "FrontDesk",
    "Holder",
    "PresentedCard",
    "desk_staff",
    "prefixed",
    "store_clock",
]

# Charged at registration unless the desk says otherwise: the general consultation fee of primary care.
DEFAULT_FEES = ("general_consultation",)


def store_clock(store: NodeStore) -> Callable[[], dt.datetime]:
    """The node's local time: its calendar day (``store`` today) at the wall clock's time of day."""

    def now() -> dt.datetime:
        wall = dt.datetime.fromtimestamp(store._wall_ms() / 1000)
        today = store._today()
        return wall if wall.date() == today else dt.datetime.combine(today, wall.time())

    return now


def prefixed(prefix: str, exc: RecordInvalid) -> list[FieldError]:
    """The errors of one part of a request, named from the request's top (``prescriptions.0.items``)."""
    return [FieldError(f"{prefix}.{e.field}".rstrip("."), e.message) for e in exc.errors]


@dataclass(frozen=True)
class PresentedCard:
    """A health card that passed ``cardreader.open_card`` (possibly expired)."""

    content: CardContent
    signing_key: str
    expired: bool = False


@dataclass(frozen=True)
class Holder:
    """The resident a card belongs to on this node, found or provisionally registered."""

    resident_id: str
    created: bool
    provisional: bool
    duplicates: tuple[DuplicateCandidate, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "resident_id": self.resident_id,
            "created": self.created,
            "provisional": self.provisional,
            "duplicates": [d.as_json() for d in self.duplicates],
        }


@dataclass(frozen=True)
class DeskResult:
    """The visit after a step, and the records the step wrote (in order)."""

    state: VisitState
    records: tuple[RecordEnvelope, ...] = ()
    holder: Holder | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def written(self, type_: str) -> list[RecordEnvelope]:
        return [r for r in self.records if r.type == type_]

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "visit": self.state.as_json(),
            "records": [{"id": r.id, "type": r.type} for r in self.records],
            **self.extra,
        }
        if self.holder is not None:
            out["holder"] = self.holder.as_json()
        return out


def desk_staff(db: Database, name: str) -> Staff:
    """The active staff account a desk step is done as (the command line names it; the API authenticates)."""
    row = (
        db.reader()
        .execute(
            "SELECT name, role, display_name FROM users WHERE name = ? AND active = 1",
            (name.strip().lower(),),
        )
        .fetchone()
    )
    if row is None:
        raise AuthError(f"user: no active account {name!r}")
    return Staff(row[0], Role(row[1]), row[2])


def _name(user: Staff) -> str:
    return user.display_name or user.name


class FrontDesk:
    """Today's visits on one node, one step at a time (module rules): the registration desk,
    triage and the consulting room. ``_desk_services.Desk`` adds the cashier, pharmacy and exams."""

    def __init__(
        self, store: NodeStore, *, clinic: str, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.store = store
        self.clinic = clinic or "clinic"
        self.clock = clock or store_clock(store)

    def now(self) -> dt.datetime:
        return self.clock().replace(microsecond=0)

    def stamp(self) -> str:
        return self.now().isoformat(timespec="seconds")

    # -- reading ------------------------------------------------------------------------------

    def visit(self, visit_id: str) -> VisitState:
        return read.load_visit(self.store.db.reader(), visit_id)

    def queue(self, day: dt.date | None = None, *, department: str | None = None) -> list[VisitState]:
        return read.day_visits(
            self.store.db.reader(), self.store.node_id, day or self.now().date(), department=department
        )

    def provisional(self, resident_id: str) -> bool:
        return read.is_provisional(self.store.db.reader(), resident_id)

    # -- shared by the steps ------------------------------------------------------------------

    def open_visit(self, w: Writer, visit_id: str) -> VisitState:
        state = read.load_visit(w.conn, visit_id)
        if not state.step.open:
            raise DeskConflict("visit_id", f"the visit has ended ({state.step.value}); register a new one")
        return state

    def add_step(self, w: Writer, state: VisitState, step: str, user: Staff, **fields: Any) -> RecordEnvelope:
        data = {"visit_id": state.visit_id, "at": self.stamp(), "step": step}
        data.update({k: v for k, v in fields.items() if v not in (None, [], {})})
        return w.add_record(state.resident_id, "visit_step", data, user=user.name)

    # -- the card and the queue ---------------------------------------------------------------

    def _holder(self, w: Writer, card: PresentedCard, user: Staff) -> Holder:
        c = card.content
        found = read.find_card_holder(w.conn, c.holder.id_number, c.issuer.card_number)
        if found is not None:
            return Holder(found, created=False, provisional=read.is_provisional(w.conn, found))
        data: dict[str, Any] = {
            "name": c.holder.name,
            "sex": c.holder.sex,
            "birth_date": c.holder.birth_date.isoformat(),
            "id_number": c.holder.id_number,
            "card_number": c.issuer.card_number,
        }
        if c.insurance_number:
            data["insurance_number"] = c.insurance_number
        try:
            reg = w.register_resident(data, user=user.name)
        except RecordInvalid as exc:
            where = {"card_number": "card.issuer.card_number", "insurance_number": "card.insurance_number"}
            raise RecordInvalid(
                [
                    FieldError(where.get(e.field.split(".")[0], f"card.holder.{e.field}"), e.message)
                    for e in exc.errors
                ],
                record_type="resident",
            ) from None
        w.add_record(
            reg.envelope.id,
            "card_registration",
            {
                "registered_at": self.stamp(),
                "card_number": c.issuer.card_number,
                "authority_code": c.issuer.authority_code,
                "signing_key": card.signing_key,
                "expired": card.expired,
                "from_card": sorted(data),
            },
            user=user.name,
        )
        return Holder(reg.envelope.id, created=True, provisional=True, duplicates=tuple(reg.duplicates))

    def register_from_card(self, card: PresentedCard, *, user: Staff) -> Holder:
        """The card's holder on this node; registered provisionally from the card when unknown here."""
        with self.store.transaction() as w:
            return self._holder(w, card, user)

    def checkin(
        self,
        *,
        user: Staff,
        department: str,
        resident_id: str | None = None,
        card: PresentedCard | None = None,
        doctor: str | None = None,
        scheme: str | None = None,
        insurance_number: str | None = None,
        fees: list[dict[str, Any]] | None = None,
        note: str | None = None,
    ) -> DeskResult:
        """Put a resident (named, or the holder of ``card``) in today's queue of ``department``."""
        if (resident_id is None) == (card is None):
            raise RecordInvalid([FieldError("resident_id", "give either the resident's id or the card")])
        with self.store.transaction() as w:
            holder = self._holder(w, card, user) if card is not None else None
            rid = holder.resident_id if holder is not None else str(resident_id)
            row = w.conn.execute("SELECT data, deceased_on FROM residents WHERE id = ?", (rid,)).fetchone()
            if row is None:
                raise DeskConflict("resident_id", f"no resident {rid} on this node; register them first")
            if row[1] is not None:
                raise DeskConflict("resident_id", f"a death is recorded for this resident on {row[1]}")
            resident: dict[str, Any] = json.loads(row[0])
            today = self.now().date()
            for other in read.resident_visits(w.conn, self.store.node_id, rid, today):
                if other.department == department and other.step.open:
                    raise DeskConflict(
                        "resident_id",
                        f"already in today's queue of this department as number {other.queue_number}",
                    )
            insured = insurance_number or resident.get("insurance_number")
            data: dict[str, Any] = {
                "registered_at": self.stamp(),
                "queue_number": read.next_queue_number(w.conn, self.store.node_id, today, department),
                "department": department,
                "source": "card" if card is not None else "desk",
                "scheme": scheme or ("urban_rural_resident" if insured else "self_pay"),
                "fees": [{"service": f} for f in DEFAULT_FEES] if fees is None else fees,
            }
            card_number = card.content.issuer.card_number if card is not None else resident.get("card_number")
            optional = {
                "doctor": doctor,
                "insurance_number": insured,
                "card_number": card_number,
                "note": note,
            }
            data.update({k: v for k, v in optional.items() if v})
            if data["scheme"] == "self_pay":
                data.pop("insurance_number", None)
            visit = w.add_record(rid, "visit", data, user=user.name)
            state = read.load_visit(w.conn, visit.id)
        return DeskResult(state, (visit,), holder=holder)

    # -- steps before and at the consultation ----------------------------------------------------

    def triage(
        self,
        visit_id: str,
        *,
        user: Staff,
        vitals: dict[str, Any] | None = None,
        workstation: str | None = None,
    ) -> DeskResult:
        """The nurse has seen the resident (vitals, if taken): waiting for the doctor."""
        with self.store.transaction() as w:
            state = self.open_visit(w, visit_id)
            if state.encounter_id is not None:
                raise DeskConflict("visit_id", "the consultation is already recorded")
            step = self.add_step(w, state, "triaged", user, vitals=vitals, workstation=workstation)
            return DeskResult(read.load_visit(w.conn, visit_id), (step,))

    def call(self, visit_id: str, *, user: Staff, workstation: str | None = None) -> DeskResult:
        """The doctor calls the resident in (again, if they did not come)."""
        with self.store.transaction() as w:
            state = self.open_visit(w, visit_id)
            if state.encounter_id is not None:
                raise DeskConflict("visit_id", "the consultation is already recorded")
            step = self.add_step(w, state, "called", user, workstation=workstation)
            return DeskResult(read.load_visit(w.conn, visit_id), (step,))

    def consult(
        self,
        visit_id: str,
        *,
        user: Staff,
        encounter: dict[str, Any] | None = None,
        prescriptions: list[dict[str, Any]] | None = None,
        orders: list[dict[str, Any]] | None = None,
        fees: list[dict[str, Any]] | None = None,
        workstation: str | None = None,
    ) -> DeskResult:
        """The doctor's encounter, prescriptions, examination orders and fees, in one transaction.

        The first consultation of a visit records its encounter; a later one adds
        prescriptions, orders or fees (the encounter is corrected through the records API).
        """
        prescriptions, orders, fees = prescriptions or [], orders or [], fees or []
        doctor = _name(user)
        now = self.stamp()
        errors: list[FieldError] = []
        written: list[RecordEnvelope] = []
        with self.store.transaction() as w:
            state = self.open_visit(w, visit_id)
            rid = state.resident_id
            encounter_id = state.encounter_id
            if encounter is not None and encounter_id is not None:
                raise DeskConflict(
                    "encounter",
                    f"the visit's encounter {encounter_id} is recorded; correct it through the records",
                )
            if encounter is None and encounter_id is None:
                raise RecordInvalid(
                    [FieldError("encounter", "is required at the visit's first consultation")]
                )
            if encounter is not None:
                body: dict[str, Any] = {
                    "visit_time": now,
                    "department": _department_zh(state.department),
                    "doctor": doctor,
                    **encounter,
                }
                if "orders" not in encounter and orders:
                    body["orders"] = _encounter_orders(orders)
                try:
                    env = w.add_record(rid, "encounter", body, user=user.name)
                    written.append(env)
                    encounter_id = env.id
                except RecordInvalid as exc:
                    errors += prefixed("encounter", exc)
            rx_ids = []
            for i, p in enumerate(prescriptions):
                body = {"prescribed_at": now, "doctor": doctor, **p, "items": _priced(p.get("items"))}
                if encounter_id:
                    body["encounter_id"] = encounter_id
                try:
                    env = w.add_record(rid, "prescription", body, user=user.name)
                    written.append(env)
                    rx_ids.append(env.id)
                except RecordInvalid as exc:
                    errors += prefixed(f"prescriptions.{i}", exc)
            order_ids = []
            for i, o in enumerate(orders):
                body = {"ordered_at": now, "doctor": doctor, "visit_id": visit_id, **o}
                if encounter_id:
                    body["encounter_id"] = encounter_id
                try:
                    env = w.add_record(rid, "service_order", body, user=user.name)
                    written.append(env)
                    order_ids.append(env.id)
                except RecordInvalid as exc:
                    errors += prefixed(f"orders.{i}", exc)
            if not (encounter or prescriptions or orders or fees):
                errors.append(FieldError("prescriptions", "give prescriptions, orders or fees to add"))
            if errors:
                raise RecordInvalid(errors)
            # the step's own fields (fees) are named as in the request: fees.0.service
            step = self.add_step(
                w,
                state,
                "consulted",
                user,
                encounter_id=encounter_id if encounter is not None else None,
                prescription_ids=rx_ids,
                order_ids=order_ids,
                fees=fees,
                workstation=workstation,
            )
            return DeskResult(read.load_visit(w.conn, visit_id), (*written, step))

    # -- the end of a visit -------------------------------------------------------------------------

    def finish(self, visit_id: str, *, user: Staff, card_number: str | None = None) -> DeskResult:
        """The visit is over: nothing may be due; examinations still running stay on the worklist."""
        with self.store.transaction() as w:
            state = self.open_visit(w, visit_id)
            if state.encounter_id is None:
                raise DeskConflict("visit_id", "no consultation is recorded; cancel the visit instead")
            if state.due_fen:
                raise DeskConflict(
                    "visit_id", f"{state.due_fen / 100:.2f} yuan is due: take the payment first"
                )
            step = self.add_step(w, state, "finished", user, card_number=card_number)
            return DeskResult(read.load_visit(w.conn, visit_id), (step,))

    def finish_with_card(
        self, visit_id: str, *, user: Staff, card: CardContent, clinic_name: str
    ) -> tuple[DeskResult, CardWrites]:
        """Finish the visit of ``card``'s holder, and what to write onto the card (ring and notes).

        RecordInvalid (field ``card``) when the card is not this visit's resident's: nothing is done.
        """
        resident_id = self.visit(visit_id).resident_id
        match = match_card(self.store, card)
        if match is None or match.resident_id != resident_id:
            raise RecordInvalid([FieldError("card", "belongs to someone else than this visit's resident")])
        result = self.finish(visit_id, user=user, card_number=card.issuer.card_number)
        encounter_id = result.state.encounter_id
        assert encounter_id is not None  # finish refuses a visit without a consultation
        writes = card_writes(
            self.store,
            resident_id,
            encounter_id,
            card,
            clinic=self.clinic,
            clinic_name=clinic_name,
            today=self.now().date(),
        )
        return result, writes

    def cancel(self, visit_id: str, *, user: Staff, reason: str, left: bool = False) -> DeskResult:
        """Cancel the registration (退号), or record that the resident left before the visit was complete.

        A cancelled visit may hold no payment: refund it first. A resident who left
        keeps what they paid for on the worklists.
        """
        with self.store.transaction() as w:
            state = self.open_visit(w, visit_id)
            active = [p for p in state.payments if not p["refunded"]]
            if active and not left:
                raise DeskConflict(
                    "visit_id", f"payment {active[0]['receipt_number']} stands: refund it before cancelling"
                )
            step = self.add_step(w, state, "left" if left else "cancelled", user, reason=reason)
            return DeskResult(read.load_visit(w.conn, visit_id), (step,))


def _department_zh(code: str) -> str:
    entry = code_list("department").get(code)
    return entry.zh if entry else code


def _encounter_orders(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The national data set's order list of the encounter, from the catalogue orders."""
    out = []
    for o in orders:
        entry = code_list("service").get(str(o.get("service")))
        if entry is not None:
            out.append({"kind": entry.extra["kind"], "item": entry.zh})
    return out


def _priced(items: Any) -> Any:
    """Prescription items with the catalogue's price where none is given (what the cashier charges)."""
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        entry = code_list("drug").get(str(item.get("drug"))) if isinstance(item, dict) else None
        if entry is not None and item.get("unit_price") is None and entry.extra.get("price") is not None:
            out.append({**item, "unit_price": str(entry.extra["price"])})
        else:
            out.append(item)
    return out
