"""Where a visit stands: the fold of its records, the same on the node that wrote them and at the hub.

Rules:
1. A visit's state is a function of the *set* of its records, never of the
   order they were written or arrive in: steps are facts that happened
   (triaged, called, consulted …), money and medicine are sums over records.
   Two workstations writing at once both count; nothing is overwritten.
2. Records name facts by fact id (the first version's id); where a fact has
   several versions the current one (superseded by no other given) counts, and
   an entered-in-error one charges nothing.
3. A charge is owed for each registration fee, consultation fee, prescription
   item and examination order; a refund withdraws quantities; a payment counts
   unless a refund reverses it. What is owed and not paid is due.
4. The step follows from the facts, in this order: the earliest of finished /
   cancelled / left ends the visit; before a consultation it is registered,
   waiting (triaged) or in consultation (called); after it, awaiting payment
   while anything is due, then awaiting dispensing while paid medicine is not
   handed over, then exams pending while paid orders lack a report, else paid.
5. What cannot happen on one node (medicine dispensed beyond what was paid, a
   payment for a line nobody owes) is reported in ``anomalies``, never hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ._codes import code_list
from ._envelope import RecordEnvelope, Status
from ._money import drug_price_fen, service_price_fen, yuan_to_fen

__all__ = [
    "VISIT_TYPES",
    "Charge",
    "DrugLine",
    "OrderLine",
    "Step",
    "VisitEvent",
    "VisitState",
    "fold_visit",
    "referenced_facts",
]

# The record types that carry a visit's id in ``visit_id`` (besides the visit itself).
VISIT_TYPES = ("visit_step", "payment", "refund", "dispense")

Key = tuple[str, str, int, str]  # (source, fact id, item index, drug or service code)


class Step(StrEnum):
    REGISTERED = "registered"
    WAITING = "waiting"
    IN_CONSULTATION = "in_consultation"
    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_DISPENSING = "awaiting_dispensing"
    EXAMS_PENDING = "exams_pending"
    PAID = "paid"
    DONE = "done"
    CANCELLED = "cancelled"
    LEFT = "left"

    @property
    def open(self) -> bool:
        return self not in (Step.DONE, Step.CANCELLED, Step.LEFT)


@dataclass(frozen=True)
class Charge:
    """One thing charged for, with how much of it is owed (after refunds) and paid."""

    source: str
    ref: str
    index: int
    code: str
    name: str
    category: str
    unit_price_fen: int
    insured: bool
    charged: int
    withdrawn: int
    paid: int

    @property
    def key(self) -> Key:
        return (self.source, self.ref, self.index, self.code)

    @property
    def owed(self) -> int:
        return max(0, self.charged - self.withdrawn)

    @property
    def due(self) -> int:
        return max(0, self.owed - self.paid)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ref": self.ref,
            "index": self.index,
            "code": self.code,
            "name": self.name,
            "category": self.category,
            "unit_price_fen": self.unit_price_fen,
            "insured": self.insured,
            "charged": self.charged,
            "withdrawn": self.withdrawn,
            "paid": self.paid,
            "due": self.due,
            "due_fen": self.due * self.unit_price_fen,
        }


@dataclass(frozen=True)
class DrugLine:
    prescription_id: str
    index: int
    drug: str
    prescribed: int
    paid: int
    dispensed: int

    @property
    def to_dispense(self) -> int:
        return max(0, self.paid - self.dispensed)

    def as_json(self) -> dict[str, Any]:
        return {
            "prescription_id": self.prescription_id,
            "index": self.index,
            "drug": self.drug,
            "prescribed": self.prescribed,
            "paid": self.paid,
            "dispensed": self.dispensed,
            "to_dispense": self.to_dispense,
        }


@dataclass(frozen=True)
class OrderLine:
    order_id: str
    service: str
    kind: str
    urgency: str
    paid: bool
    withdrawn: bool
    collected_at: str | None
    reported_at: str | None
    report_ids: tuple[str, ...]

    @property
    def pending(self) -> bool:
        return self.paid and not self.withdrawn and self.reported_at is None

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "service": self.service,
            "kind": self.kind,
            "urgency": self.urgency,
            "paid": self.paid,
            "withdrawn": self.withdrawn,
            "collected_at": self.collected_at,
            "reported_at": self.reported_at,
            "report_ids": list(self.report_ids),
            "status": "withdrawn"
            if self.withdrawn
            else "reported"
            if self.reported_at
            else "collected"
            if self.collected_at
            else "paid"
            if self.paid
            else "unpaid",
        }


@dataclass(frozen=True)
class VisitEvent:
    at: str
    kind: str  # a visit_step step, or payment / refund / dispense
    record_id: str
    by: str | None
    workstation: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "kind": self.kind,
            "record_id": self.record_id,
            "by": self.by,
            "workstation": self.workstation,
        }


@dataclass(frozen=True)
class VisitState:
    visit_id: str
    resident_id: str
    author: str
    registered_at: str
    queue_number: int
    department: str
    scheme: str
    insurance_number: str | None
    card_number: str | None
    step: Step
    step_since: str
    called_at: str | None  # when the doctor first called (or, without a call, consulted) the resident
    encounter_id: str | None
    ended_reason: str | None
    charges: tuple[Charge, ...]
    drugs: tuple[DrugLine, ...]
    orders: tuple[OrderLine, ...]
    payments: tuple[dict[str, Any], ...]
    events: tuple[VisitEvent, ...]
    anomalies: tuple[str, ...] = field(default=())

    @property
    def day(self) -> str:
        return self.registered_at[:10]

    @property
    def due_fen(self) -> int:
        """What is owed and not paid (a cancelled registration owes nothing)."""
        if self.step is Step.CANCELLED:
            return 0
        return sum(c.due * c.unit_price_fen for c in self.charges)

    @property
    def pending(self) -> list[str]:
        """The work still open: payment, dispensing, exams (none on a cancelled registration)."""
        if self.step is Step.CANCELLED:
            return []
        out = []
        if any(c.due for c in self.charges):
            out.append("payment")
        if any(d.to_dispense for d in self.drugs):
            out.append("dispensing")
        if any(o.pending for o in self.orders):
            out.append("exams")
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "visit_id": self.visit_id,
            "resident_id": self.resident_id,
            "day": self.day,
            "registered_at": self.registered_at,
            "queue_number": self.queue_number,
            "department": self.department,
            "scheme": self.scheme,
            "insurance_number": self.insurance_number,
            "card_number": self.card_number,
            "step": self.step.value,
            "step_since": self.step_since,
            "called_at": self.called_at,
            "encounter_id": self.encounter_id,
            "ended_reason": self.ended_reason,
            "pending": self.pending,
            "due_fen": self.due_fen,
            "charges": [c.as_json() for c in self.charges],
            "drugs": [d.as_json() for d in self.drugs],
            "orders": [o.as_json() for o in self.orders],
            "payments": list(self.payments),
            "events": [e.as_json() for e in self.events],
            "anomalies": list(self.anomalies),
        }


def referenced_facts(records: Iterable[RecordEnvelope]) -> set[str]:
    """Fact ids the visit's steps name (encounter, prescriptions, orders, reports): fetch these too."""
    out: set[str] = set()
    for env in records:
        if env.type != "visit_step":
            continue
        d = env.data
        if d.get("encounter_id"):
            out.add(d["encounter_id"])
        for name in ("prescription_ids", "order_ids", "report_ids"):
            out.update(d.get(name, []))
    return out


def _order(env: RecordEnvelope) -> tuple[int, str, str]:
    return (env.hlc, env.author, env.id)


def _current(records: list[RecordEnvelope], anomalies: list[str]) -> dict[str, RecordEnvelope]:
    """fact id -> its current version among ``records`` (superseded by none of them)."""
    superseded = {e.supersedes for e in records if e.supersedes}
    by_fact: dict[str, list[RecordEnvelope]] = defaultdict(list)
    for env in records:
        if env.id not in superseded:
            by_fact[env.fact_id].append(env)
    out = {}
    for fact, heads in by_fact.items():
        if len(heads) > 1:
            anomalies.append(f"record {fact} has {len(heads)} current versions; the newest counts")
        out[fact] = max(heads, key=_order)
    return out


def _charge_info(source: str, code: str) -> tuple[str, str, bool]:
    """(name, charge category, insured) of a drug or service code."""
    if source == "drug":
        entry = code_list("drug").get(code)
        tcm = bool(entry and entry.extra.get("tcm"))
        return (entry.zh if entry else code), ("drug_tcm" if tcm else "drug_western"), True
    entry = code_list("service").get(code)
    if entry is None:
        return code, "other", False
    return entry.zh, str(entry.extra.get("category", "other")), bool(entry.extra.get("insured", False))


def fold_visit(records: Iterable[RecordEnvelope]) -> VisitState:
    """The state of one visit from its records (module rules); ValueError without its visit record."""
    anomalies: list[str] = []
    current = _current(list(records), anomalies)
    visits = [e for e in current.values() if e.type == "visit"]
    if len(visits) != 1:
        raise ValueError(f"a visit's records hold {len(visits)} visit registrations, not 1")
    visit = visits[0]
    vid = visit.fact_id
    own = sorted(
        (
            e
            for e in current.values()
            if e.type in VISIT_TYPES
            and e.data.get("visit_id") == vid
            and e.status is not Status.ENTERED_IN_ERROR
        ),
        key=_order,
    )
    steps = [e for e in own if e.type == "visit_step"]

    def live(fact_id: str, type_: str) -> RecordEnvelope | None:
        env = current.get(fact_id)
        if env is None or env.type != type_ or env.status is Status.ENTERED_IN_ERROR:
            return None
        return env

    # -- what is charged (rule 3) -------------------------------------------------------------
    charged: dict[Key, int] = defaultdict(int)
    prices: dict[Key, int] = {}
    for i, fee in enumerate(visit.data.get("fees", [])):
        key = ("registration", vid, i, fee["service"])
        charged[key] += fee.get("quantity", 1)
        prices[key] = service_price_fen(fee["service"])
    prescriptions: list[RecordEnvelope] = []
    orders: list[RecordEnvelope] = []
    encounter_id = None
    for s in (s for s in steps if s.data["step"] == "consulted"):
        for i, fee in enumerate(s.data.get("fees", [])):
            key = ("fee", s.fact_id, i, fee["service"])
            charged[key] += fee.get("quantity", 1)
            prices[key] = service_price_fen(fee["service"])
        encounter_id = encounter_id or s.data.get("encounter_id")
        for fact in s.data.get("prescription_ids", []):
            if (rx := live(fact, "prescription")) is not None:
                prescriptions.append(rx)
        for fact in s.data.get("order_ids", []):
            if (order := live(fact, "service_order")) is not None:
                orders.append(order)
    for rx in prescriptions:
        for i, item in enumerate(rx.data["items"]):
            key = ("drug", rx.fact_id, i, item["drug"])
            charged[key] += item["quantity"]
            given = item.get("unit_price")
            prices[key] = yuan_to_fen(given) if given is not None else drug_price_fen(item["drug"])
    for order in orders:
        key = ("service", order.fact_id, 0, order.data["service"])
        charged[key] += 1
        prices[key] = service_price_fen(order.data["service"])

    # -- refunds withdraw, payments pay (unless reversed) ----------------------------------------
    refunds = [e for e in own if e.type == "refund"]
    reversed_ids = {r.data["payment_id"] for r in refunds}
    withdrawn: dict[Key, int] = defaultdict(int)
    for r in refunds:
        for line in r.data["lines"]:
            withdrawn[(line["source"], line["ref"], line.get("index", 0), line["code"])] += line["quantity"]
    paid: dict[Key, int] = defaultdict(int)
    payment_views = []
    for p in (e for e in own if e.type == "payment"):
        active = p.fact_id not in reversed_ids
        s = p.data["settlement"]
        payment_views.append(
            {
                "payment_id": p.fact_id,
                "receipt_number": p.data["receipt_number"],
                "paid_at": p.data["paid_at"],
                "total_fen": p.data["total_fen"],
                "insurance_fen": s["insurance_fen"],
                "self_fen": s["self_fen"],
                "method": p.data["method"],
                "refunded": not active,
                "replaces": p.data.get("replaces"),
            }
        )
        if not active:
            continue
        for line in p.data["lines"]:
            key = (line["source"], line["ref"], line.get("index", 0), line["code"])
            paid[key] += line["quantity"]
            prices.setdefault(key, line["unit_price_fen"])
            if key not in charged:
                receipt = p.data["receipt_number"]
                anomalies.append(f"payment {receipt} charges {key[1]} item {key[2]}, which is not owed")

    charges = []
    for key in sorted(set(charged) | set(paid), key=lambda k: (k[0] != "registration", k)):
        source, ref, index, code = key
        name, category, insured = _charge_info(source, code)
        c = Charge(
            source,
            ref,
            index,
            code,
            name,
            category,
            prices[key],
            insured,
            charged.get(key, 0),
            withdrawn.get(key, 0),
            paid.get(key, 0),
        )
        if c.paid > c.owed:
            anomalies.append(f"{name}: {c.paid} paid but {c.owed} owed; refund the difference")
        charges.append(c)

    # -- medicine -------------------------------------------------------------------------------
    dispensed: dict[tuple[str, int, str], int] = defaultdict(int)
    for d in (e for e in own if e.type == "dispense"):
        for item in d.data["items"]:
            dispensed[(d.data["prescription_id"], item["index"], item["drug"])] += item["quantity"]
    drugs = []
    for rx in prescriptions:
        for i, item in enumerate(rx.data["items"]):
            key = ("drug", rx.fact_id, i, item["drug"])
            paid_now = min(paid.get(key, 0), charged[key] - withdrawn.get(key, 0))
            line = DrugLine(
                rx.fact_id,
                i,
                item["drug"],
                item["quantity"],
                max(0, paid_now),
                dispensed.get((rx.fact_id, i, item["drug"]), 0),
            )
            if line.dispensed > paid.get(key, 0):
                anomalies.append(f"{item['drug']}: {line.dispensed} dispensed but {line.paid} paid")
            drugs.append(line)

    # -- examinations and tests -----------------------------------------------------------------
    collected: dict[str, str] = {}
    reported: dict[str, tuple[str, tuple[str, ...]]] = {}
    for s in steps:
        for oid in s.data.get("order_ids", []):
            if s.data["step"] == "collected":
                collected.setdefault(oid, s.data["at"])
            elif s.data["step"] == "reported" and oid not in reported:
                reported[oid] = (s.data["at"], tuple(s.data["report_ids"]))
    order_lines = []
    for o in orders:
        key = ("service", o.fact_id, 0, o.data["service"])
        rep = reported.get(o.fact_id)
        order_lines.append(
            OrderLine(
                o.fact_id,
                o.data["service"],
                o.data.get("kind") or "",
                o.data.get("urgency", "routine"),
                paid=paid.get(key, 0) >= 1,
                withdrawn=withdrawn.get(key, 0) >= 1,
                collected_at=collected.get(o.fact_id),
                reported_at=rep[0] if rep else None,
                report_ids=rep[1] if rep else (),
            )
        )

    # -- the step (rule 4) ------------------------------------------------------------------------
    def first(step: str) -> RecordEnvelope | None:
        return next((s for s in steps if s.data["step"] == step), None)

    terminal = next((s for s in steps if s.data["step"] in ("finished", "cancelled", "left")), None)
    consulted = [s for s in steps if s.data["step"] == "consulted"]
    called, triaged = first("called"), first("triaged")
    seen = called or (consulted[0] if consulted else None)  # when the doctor first saw the resident
    money = [e for e in own if e.type in ("payment", "refund", "dispense")]
    latest = max([e.effective for e in [*consulted, *money]], default=visit.effective)
    due = any(c.due for c in charges)
    if terminal is not None:
        step = {"finished": Step.DONE, "cancelled": Step.CANCELLED, "left": Step.LEFT}[terminal.data["step"]]
        since = terminal.data["at"]
    elif not consulted:
        step, since = (
            (Step.IN_CONSULTATION, called.data["at"])
            if called
            else (Step.WAITING, triaged.data["at"])
            if triaged
            else (Step.REGISTERED, visit.data["registered_at"])
        )
    elif due:
        step, since = Step.AWAITING_PAYMENT, latest
    elif any(d.to_dispense for d in drugs):
        step, since = Step.AWAITING_DISPENSING, latest
    elif any(o.pending for o in order_lines):
        step, since = Step.EXAMS_PENDING, latest
    else:
        step, since = Step.PAID, latest

    events = tuple(
        VisitEvent(
            e.effective,
            e.data["step"] if e.type == "visit_step" else e.type,
            e.id,
            e.recorded_by,
            e.data.get("workstation"),
        )
        for e in [visit, *own]
    )
    return VisitState(
        visit_id=vid,
        resident_id=visit.resident_id,
        author=visit.author,
        registered_at=visit.data["registered_at"],
        queue_number=visit.data["queue_number"],
        department=visit.data["department"],
        scheme=visit.data.get("scheme", "self_pay"),
        insurance_number=visit.data.get("insurance_number"),
        card_number=visit.data.get("card_number"),
        step=step,
        step_since=since,
        called_at=seen.data["at"] if seen else None,
        encounter_id=encounter_id,
        ended_reason=terminal.data.get("reason") if terminal else None,
        charges=tuple(charges),
        drugs=tuple(drugs),
        orders=tuple(order_lines),
        payments=tuple(payment_views),
        events=events,
        anomalies=tuple(anomalies),
    )
