"""The cashier, the pharmacy and the examination rooms: payment, refund, dispensing, specimens and reports.

Rules (besides ``_desk``'s):
1. The cashier charges what the visit's fold says is due, at catalogue prices,
   and divides it by the scheme's rule (``schemas.split``) against what this
   node knows of the resident's year. ``expected_total_fen`` guards a quote
   against a charge added between quoting and paying.
2. A refund reverses the whole payment and withdraws the lines given back;
   the lines kept are settled again by a new payment that ``replaces`` it, in
   the same transaction (全退全收). Medicine handed over, examinations done and
   a consultation that took place cannot be refunded.
3. Medicine is handed over only as far as it is paid and not yet handed over:
   each unit at most once, partial dispensing allowed.
4. An examination is done and reported only once paid; its report is a
   ``lab_report`` or ``imaging_report`` linked to the order by a ``reported`` step.
"""

from __future__ import annotations

import sqlite3
from typing import Any, TypeGuard

import schemas
from schemas import (
    ChargeItem,
    FieldError,
    RecordEnvelope,
    RecordInvalid,
    SettlementSplit,
    Step,
    VisitState,
    code_list,
    fen_to_yuan,
    outpatient_rule,
    split,
)

from . import _desk_read as read
from ._auth import Staff
from ._desk import DeskResult, FrontDesk, prefixed
from ._desk_read import DeskConflict
from ._rows import RECORD_COLUMNS, NotFound, envelope_of
from ._store import Writer

__all__ = ["Bill", "Desk", "refundable"]

Bill = tuple[list[dict[str, Any]], SettlementSplit]


def _settle(
    conn: sqlite3.Connection, state: VisitState, lines: list[dict[str, Any]], year: int
) -> SettlementSplit:
    items = [ChargeItem(ln["amount_fen"], ln["category"], ln["insured"]) for ln in lines]
    ytd = read.year_to_date(conn, state.resident_id, state.scheme, year)
    return split(items, outpatient_rule(state.scheme), ytd)


def _bill(conn: sqlite3.Connection, state: VisitState, year: int) -> Bill:
    lines = [
        {
            "source": c.source,
            "ref": c.ref,
            "index": c.index,
            "code": c.code,
            "name": c.name,
            "category": c.category,
            "quantity": c.due,
            "unit_price_fen": c.unit_price_fen,
            "amount_fen": c.due * c.unit_price_fen,
            "insured": c.insured,
        }
        for c in state.charges
        if c.due
    ]
    return lines, _settle(conn, state, lines, year)


def _receipt(env: RecordEnvelope) -> dict[str, Any]:
    d = env.data
    return {
        "payment_id": env.id,
        "receipt_number": d["receipt_number"],
        "total_fen": d["total_fen"],
        "insurance_fen": d["settlement"]["insurance_fen"],
        "self_fen": d["settlement"]["self_fen"],
        "lines": d["lines"],
    }


def _count(value: Any, *, minimum: int = 1) -> TypeGuard[int]:
    """A whole number (not a boolean) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _withdrawals(
    state: VisitState, payment: RecordEnvelope, wanted: list[dict[str, Any]] | None
) -> list[tuple[dict[str, Any], int]]:
    """(payment line, quantity withdrawn) for what is given back; errors name ``lines.i``."""
    paid = payment.data["lines"]
    if wanted is None:
        picks = [(ln, ln["quantity"], f"lines.{i}") for i, ln in enumerate(paid)]
    else:
        picks = []
        for i, want in enumerate(wanted):
            matches = [
                ln
                for ln in paid
                if ln["source"] == want.get("source")
                and ln["ref"] == want.get("ref")
                and ln.get("index", 0) == want.get("index", 0)
            ]
            if not matches:
                raise RecordInvalid([FieldError(f"lines.{i}", "is not a line of this payment")])
            quantity = want.get("quantity", matches[0]["quantity"])
            if not _count(quantity):
                raise RecordInvalid(
                    [FieldError(f"lines.{i}.quantity", f"{quantity!r} is not a positive count")]
                )
            if quantity > matches[0]["quantity"]:
                raise RecordInvalid(
                    [
                        FieldError(
                            f"lines.{i}.quantity",
                            f"{quantity} is more than the {matches[0]['quantity']} paid",
                        )
                    ]
                )
            picks.append((matches[0], quantity, f"lines.{i}"))
    for line, quantity, where in picks:
        most, why = refundable(state, line)
        if quantity > most:
            raise DeskConflict(where, why or f"only {most} of {line['name']} may be given back")
    return [(line, quantity) for line, quantity, _ in picks]


def refundable(state: VisitState, line: dict[str, Any]) -> tuple[int, str | None]:
    """How much of a paid line may still be given back, and why not all of it: medicine not handed
    over, an examination not begun, the registration fee before the consultation."""
    if line["source"] == "drug":
        drug = next(
            d for d in state.drugs if (d.prescription_id, d.index) == (line["ref"], line.get("index", 0))
        )
        if drug.dispensed:
            why = f"{drug.dispensed} of {line['quantity']} {line['name']} already handed over"
            return max(line["quantity"] - drug.dispensed, 0), why
    elif line["source"] == "service":
        order = next(o for o in state.orders if o.order_id == line["ref"])
        if order.collected_at or order.reported_at:
            return 0, f"{line['name']} was already done"
    elif line["source"] == "registration" and state.encounter_id is not None:
        return 0, "the consultation took place"
    return line["quantity"], None


def _order_line(w: Writer, order_id: str) -> tuple[RecordEnvelope, VisitState, schemas.OrderLine]:
    order, visit_id = read.order_visit(w.conn, order_id)
    state = read.load_visit(w.conn, visit_id)
    line = next((o for o in state.orders if o.order_id == order.fact_id), None)
    if line is None:
        raise DeskConflict("order_id", "is not a live order of its visit")
    if line.withdrawn:
        raise DeskConflict("order_id", "was refunded")
    if not line.paid:
        raise DeskConflict("order_id", "is not paid: send the resident to the cashier first")
    if line.reported_at:
        raise DeskConflict("order_id", f"was reported at {line.reported_at}; correct the report instead")
    return order, state, line


class Desk(FrontDesk):
    """The whole desk workflow: ``FrontDesk`` and the cashier, the pharmacy and the examination rooms."""

    def quote(self, visit_id: str) -> Bill:
        """What paying now would charge, and the insurance share."""
        conn = self.store.db.reader()
        return _bill(conn, read.load_visit(conn, visit_id), self.now().year)

    def _payment(
        self,
        w: Writer,
        state: VisitState,
        lines: list[dict[str, Any]],
        s: SettlementSplit,
        *,
        user: Staff,
        method: str,
        replaces: str | None = None,
    ) -> RecordEnvelope:
        now = self.now()
        settlement: dict[str, Any] = {"scheme": state.scheme, **s.as_json()}
        if state.insurance_number and state.scheme != "self_pay":
            settlement["insurance_number"] = state.insurance_number
        if settlement["cap_remaining_fen"] is None:
            settlement.pop("cap_remaining_fen")
        body = {
            "visit_id": state.visit_id,
            "paid_at": now.isoformat(timespec="seconds"),
            "receipt_number": read.next_receipt_number(w.conn, self.store.node_id, self.clinic, now.date()),
            "lines": lines,
            "total_fen": s.total_fen,
            "settlement": settlement,
            "method": method,
            "cashier": user.display_name or user.name,
        }
        if replaces is not None:
            body["replaces"] = replaces
        return w.add_record(state.resident_id, "payment", body, user=user.name)

    def pay(
        self, visit_id: str, *, user: Staff, method: str, expected_total_fen: int | None = None
    ) -> DeskResult:
        """Take payment of everything due (rule 1)."""
        if method not in code_list("payment_method"):
            raise RecordInvalid([FieldError("method", f"{method!r} is not a known payment method code")])
        with self.store.transaction() as w:
            state = read.load_visit(w.conn, visit_id)
            if state.step is Step.CANCELLED:
                raise DeskConflict("visit_id", "the registration was cancelled")
            lines, s = _bill(w.conn, state, self.now().year)
            if not lines:
                raise DeskConflict("visit_id", "nothing is due on this visit")
            if expected_total_fen is not None and expected_total_fen != s.total_fen:
                raise DeskConflict(
                    "expected_total_fen",
                    f"the bill is now {fen_to_yuan(s.total_fen)} yuan, not "
                    f"{fen_to_yuan(expected_total_fen)}: something was charged or paid since the quote; "
                    "quote again",
                )
            env = self._payment(w, state, lines, s, user=user, method=method)
            return DeskResult(read.load_visit(w.conn, visit_id), (env,), extra={"payment": _receipt(env)})

    def refund(
        self, payment_id: str, *, user: Staff, reason: str, lines: list[dict[str, Any]] | None = None
    ) -> DeskResult:
        """Give back ``lines`` of a payment (all of it when None): rule 2."""
        if not isinstance(reason, str) or not reason.strip():
            raise RecordInvalid([FieldError("reason", "is required: say why the money is given back")])
        cashier = user.display_name or user.name
        with self.store.transaction() as w:
            row = w.conn.execute(
                f"SELECT {RECORD_COLUMNS} FROM records WHERE id = ? AND type = 'payment'", (payment_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no payment {payment_id} on this node")
            payment = envelope_of(row)
            if payment.author != self.store.node_id:
                raise DeskConflict("payment_id", "was taken at another clinic; refund it there")
            state = read.load_visit(w.conn, payment.data["visit_id"])
            if any(p["payment_id"] == payment_id and p["refunded"] for p in state.payments):
                raise DeskConflict("payment_id", "is already refunded")
            given_back = _withdrawals(state, payment, lines)
            paid = payment.data["settlement"]
            back = w.add_record(
                state.resident_id,
                "refund",
                {
                    "visit_id": state.visit_id,
                    "payment_id": payment_id,
                    "refunded_at": self.stamp(),
                    "refund_number": read.next_receipt_number(
                        w.conn, self.store.node_id, self.clinic, self.now().date()
                    ),
                    "lines": [
                        {k: ln[k] for k in ("source", "ref", "index", "code")} | {"quantity": q}
                        for ln, q in given_back
                    ],
                    "total_fen": payment.data["total_fen"],
                    "insurance_fen": paid["insurance_fen"],
                    "self_fen": paid["self_fen"],
                    "reason": reason.strip(),
                    "cashier": cashier,
                },
                user=user.name,
            )
            withdrawn = {(ln["source"], ln["ref"], ln.get("index", 0)): q for ln, q in given_back}
            kept = []
            for ln in payment.data["lines"]:
                quantity = ln["quantity"] - withdrawn.get((ln["source"], ln["ref"], ln.get("index", 0)), 0)
                if quantity:
                    kept.append({**ln, "quantity": quantity, "amount_fen": quantity * ln["unit_price_fen"]})
            written = [back]
            again = None
            if kept:
                state = read.load_visit(w.conn, state.visit_id)
                s = _settle(w.conn, state, kept, self.now().year)
                again = self._payment(
                    w, state, kept, s, user=user, method=payment.data["method"], replaces=payment_id
                )
                written.append(again)
            new_self = again.data["settlement"]["self_fen"] if again else 0
            new_ins = again.data["settlement"]["insurance_fen"] if again else 0
            extra = {
                "refund": {"refund_id": back.id, "refund_number": back.data["refund_number"]},
                "resettled": _receipt(again) if again else None,
                "to_resident_fen": paid["self_fen"] - new_self,  # negative: the resident pays the difference
                "to_fund_fen": paid["insurance_fen"] - new_ins,
            }
            return DeskResult(read.load_visit(w.conn, state.visit_id), tuple(written), extra=extra)

    def dispense(
        self,
        visit_id: str,
        *,
        user: Staff,
        prescription_id: str,
        items: list[dict[str, Any]] | None = None,
        note: str | None = None,
    ) -> DeskResult:
        """Hand over paid medicine of one prescription: all that is paid and not handed over, or ``items``."""
        with self.store.transaction() as w:
            state = read.load_visit(w.conn, visit_id)
            if state.step is Step.CANCELLED:
                raise DeskConflict("visit_id", "the registration was cancelled")
            lines = {d.index: d for d in state.drugs if d.prescription_id == prescription_id}
            if not lines:
                raise DeskConflict("prescription_id", "is not a prescription of this visit")
            due = {c.index: c.due for c in state.charges if c.source == "drug" and c.ref == prescription_id}

            def refused(where: str, index: int) -> DeskConflict:
                if due.get(index):
                    return DeskConflict(
                        where, f"item {index} is not paid: send the resident to the cashier first"
                    )
                return DeskConflict(where, f"item {index} is already dispensed")

            chosen: list[tuple[int, int]] = []
            if items is None:
                chosen = [(d.index, d.to_dispense) for d in lines.values() if d.to_dispense]
                if not chosen:
                    raise refused("prescription_id", min(lines))
            else:
                for i, item in enumerate(items):
                    index, quantity = item.get("index"), item.get("quantity")
                    if not _count(index, minimum=0) or index not in lines:
                        raise RecordInvalid(
                            [FieldError(f"items.{i}.index", f"{index!r} is not an item of it")]
                        )
                    line = lines[index]
                    if not line.to_dispense:
                        raise refused(f"items.{i}", index)
                    quantity = line.to_dispense if quantity is None else quantity
                    if not _count(quantity):
                        raise RecordInvalid(
                            [FieldError(f"items.{i}.quantity", f"{quantity!r} is not a positive count")]
                        )
                    if quantity > line.to_dispense:
                        raise DeskConflict(
                            f"items.{i}.quantity", f"only {line.to_dispense} are paid and not yet handed over"
                        )
                    chosen.append((index, quantity))
            body: dict[str, Any] = {
                "visit_id": visit_id,
                "prescription_id": prescription_id,
                "dispensed_at": self.stamp(),
                "items": [{"index": i, "drug": lines[i].drug, "quantity": q} for i, q in chosen],
                "pharmacist": user.display_name or user.name,
            }
            if note:
                body["note"] = note
            env = w.add_record(state.resident_id, "dispense", body, user=user.name)
            return DeskResult(read.load_visit(w.conn, visit_id), (env,))

    def collect(self, order_id: str, *, user: Staff, workstation: str | None = None) -> DeskResult:
        """The specimen is taken, or the examination performed."""
        with self.store.transaction() as w:
            order, state, line = _order_line(w, order_id)
            if line.collected_at:
                raise DeskConflict("order_id", f"was already collected at {line.collected_at}")
            step = self.add_step(
                w, state, "collected", user, order_ids=[order.fact_id], workstation=workstation
            )
            return DeskResult(read.load_visit(w.conn, state.visit_id), (step,))

    def report_result(self, order_id: str, *, user: Staff, type_: str, data: dict[str, Any]) -> DeskResult:
        """The order's result as a lab or imaging report, linked to it by a ``reported`` step."""
        with self.store.transaction() as w:
            order, state, line = _order_line(w, order_id)
            expected = "lab_report" if line.kind == "lab" else "imaging_report"
            if type_ != expected:
                raise RecordInvalid([FieldError("type", f"a {line.kind} order is answered by a {expected}")])
            entry = code_list("service").get(line.service)
            catalogue = entry.extra if entry is not None else {}
            body: dict[str, Any] = {"reported_at": self.stamp()}
            if order.data.get("encounter_id"):
                body["encounter_id"] = order.data["encounter_id"]
            if expected == "lab_report":
                body |= {
                    "specimen": catalogue.get("specimen"),
                    "panel_name": entry.zh if entry else line.service,
                }
                if catalogue.get("panel_code"):
                    body["panel_code"] = catalogue["panel_code"]
            else:
                body |= {"modality": catalogue.get("modality"), "body_part": catalogue.get("body_part")}
            body |= data
            try:
                report = w.add_record(state.resident_id, expected, body, user=user.name)
            except RecordInvalid as exc:
                raise RecordInvalid(prefixed("data", exc), record_type=expected) from None
            step = self.add_step(
                w, state, "reported", user, order_ids=[order.fact_id], report_ids=[report.id]
            )
            return DeskResult(read.load_visit(w.conn, state.visit_id), (report, step))
