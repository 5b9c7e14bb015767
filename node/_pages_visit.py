"""The pages of a visit: check-in, triage, the consulting room, the cashier, the pharmacy, the examinations.

Rules (besides ``_pages``'):
1. Every step goes through the same ``Desk`` call, guard and audit action as
   its ``/api/v1/desk`` route (``desk:<step>``, reason ``care``, the records
   written); the page adds ``detail.via = "page"``. Reads of a visit, a bill,
   a list of visits or the worklist are audited as ``read:visit``,
   ``read:bill``, ``read:queue`` and ``read:worklist`` (the prescriptions the
   pharmacy form reads as ``read:records``), before the page is sent.
2. A refused form comes back (422; 409 when the visit's state forbids the
   step) with each problem beside its field and what was typed kept; nothing
   is stored. A step taken redirects (303) to the page it was taken from.
3. Searching a code list (ICD-10, the essential medicines) is an htmx fragment;
   without scripts the consultation form's "Find" button does the same by
   posting the form back with the matches offered, storing nothing.
4. Finishing a visit offers to write it onto the resident's card when that
   card is in the desk reader, as ``POST …/finish`` with ``{"card": …}`` does:
   the card is checked (a refusal audited) and must be this visit's
   resident's, or nothing is done; the visit is then finished and written to
   the card (``write:card``). A card taken out during the write leaves the
   visit finished and the page saying the card was not written, and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

import schemas
from cardreader import CardError, CardRead
from schemas import RecordInvalid, VisitState

from . import _desk_read as read
from ._access import Permission, allowed
from ._api_card import checked, open_files
from ._api_support import Ctx
from ._cards import match_card
from ._desk import DeskResult
from ._desk_read import DeskConflict
from ._desk_services import Desk, refundable
from ._pages_base import PAGE_ERRORS, Form, Req, desk_reader, page_lang, render, safe_next
from ._pages_views import code_label, emergency_view, person_row, sees_full_id
from ._pages_visit_views import (
    LAB_ROWS,
    VITAL_FIELDS,
    Consultation,
    FormProblems,
    as_problems,
    bill_view,
    checkin_body,
    consultation_body,
    dispense_field,
    dispense_items,
    exam_field,
    exam_result_body,
    order_view,
    usage,
    visit_options,
    visit_view,
    vitals_body,
    vitals_field,
    yuan,
)
from ._store import NotFound
from ._web_auth import require

__all__ = ["VISIT_PAGES"]

SUGGESTIONS = 12
WORKLIST_DAYS = 7


def _desk(request: Req) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _done(ctx: Ctx, action: str, result: DeskResult, target: str) -> Response[Any]:
    """Audit a step as the API does (rule 1), then go back to the page (rule 2)."""
    ctx.audit(
        f"desk:{action}",
        resident_id=result.state.resident_id,
        record_id=result.state.visit_id,
        detail={"records": [r.id for r in result.records], "via": "page"},
        reason="care",
    )
    return Redirect(target, status_code=303)


def _visit_path(visit_id: str, anchor: str = "") -> str:
    return f"/visits/{quote(visit_id, safe='')}" + (f"#{anchor}" if anchor else "")


def _person(ctx: Ctx, request: Req, resident_id: str) -> dict[str, Any] | None:
    found = ctx.store.resident_summaries([resident_id])
    if not found:
        return None
    return person_row(
        found[0], role=ctx.staff.role, today=_desk(request).now().date(), lang=page_lang(request)
    )


def _conflict(exc: DeskConflict, where: Callable[[str], str | None] | None = None) -> FormProblems:
    """A step the visit's state forbids, shown beside the field it names (if the form has it)."""
    problems = FormProblems()
    name = where(exc.field) if where is not None else None
    if name is None:
        problems.other.append(exc.message)
    else:
        problems.add(name, exc.message)
    return problems


def _card_of(request: Req, resident_id: str) -> int | None:
    """The desk reader's presentation number when the card in it is ``resident_id``'s (rule 4)."""
    presented = desk_reader(request).latest()
    trust: bytes | None = request.app.state.card_trust
    if presented is None or presented.files is None or trust is None:
        return None
    try:
        card, _ = checked(presented.files, trust)  # not audited: nothing of the card is shown
    except CardError:
        return None  # the desk page says why the card cannot be used
    match = match_card(_desk(request).store, card.content)
    return presented.seq if match is not None and match.resident_id == resident_id else None


# -- the visit page ----------------------------------------------------------------------------------


def visit_page(
    request: Req, visit_id: str, *, status: int = 200, form: str | None = None, **state: Any
) -> Response[str]:
    """The visit as the caller's role works on it; ``form`` names the form coming back with ``state``."""
    ctx = Ctx(request)
    desk = _desk(request)
    lang = page_lang(request)
    visit = desk.visit(visit_id)
    role = ctx.staff.role
    shown_emergency = emergency_view(ctx.store, visit.resident_id, readable=ctx.readable(), lang=lang)
    ctx.audit(
        "read:visit",
        resident_id=visit.resident_id,
        record_id=visit_id,
        detail={"via": "page", "emergency": shown_emergency is not None},
    )
    bill = None
    if allowed(role, Permission.DESK_CHARGE) and "payment" in visit.pending:
        lines, split = desk.quote(visit_id)
        ctx.audit("read:bill", resident_id=visit.resident_id, record_id=visit_id, detail={"via": "page"})
        bill = bill_view(lines, split, lang)
    view = visit_view(visit, lang, full_ids=sees_full_id(role))
    refunds = []
    if allowed(role, Permission.DESK_CHARGE) and any(not p["refunded"] for p in visit.payments):
        refunds = _refunds(ctx, visit)
        ctx.audit(
            "read:bill",
            resident_id=visit.resident_id,
            record_id=visit_id,
            detail={"via": "page", "payments": [r["payment_id"] for r in refunds]},
        )
    dispensing = []
    if allowed(role, Permission.DESK_DISPENSE):
        for pid in view["prescriptions"]:
            items = [d for d in view["drugs"] if d["prescription_id"] == pid and d["to_dispense"]]
            if not items:
                continue
            written = ctx.store.versions(pid)[-1].data["items"]  # the current version: how to take it
            for d in items:
                d["usage"] = usage(written[d["index"]], lang) if d["index"] < len(written) else None
            dispensing.append({"prescription_id": pid, "items": items})
        if dispensing:
            ctx.audit(
                "read:records",
                resident_id=visit.resident_id,
                detail={"type": "prescription", "via": "page"},
            )
    forms: dict[str, Any] = {
        "triage": {"values": {}, "problems": FormProblems()},
        "consult": {"values": {}, "problems": FormProblems(), "icd10_hits": [], "drug_hits": []},
        "pay": {"problems": FormProblems()},
        "dispense": {"prescription_id": None, "values": {}, "problems": FormProblems()},
        "finish": {"problems": FormProblems()},
        "refund": {"values": {}, "problems": FormProblems()},
        "cancel": {"values": {}, "problems": FormProblems()},
        "call": {"problems": FormProblems()},
    }
    if form is not None:
        forms[form].update(state)
    card_seq = None
    if allowed(role, Permission.DESK_FINISH) and view["open"]:
        card_seq = _card_of(request, visit.resident_id)
    written = request.query_params.get("card")
    if form == "consult":
        forms["consult"] |= _picked_rows(forms["consult"], lang)
    else:
        forms["consult"] |= {"diagnosis_rows": [], "rx_rows": []}
    return render(
        request,
        "visit.html",
        status=status,
        person=_person(ctx, request, visit.resident_id),
        emergency=shown_emergency,
        visit=view,
        bill=bill,
        dispensing=dispensing,
        forms=forms,
        form=form,
        vital_fields=[n for n, _ in VITAL_FIELDS],
        options=visit_options(lang),
        refunds=refunds,
        card_seq=card_seq,
        card_written=written if written in ("written", "not-written") else None,
        card_why=request.query_params.get("why"),
    )


def _paid_lines(ctx: Ctx, payment_id: str) -> tuple[list[dict[str, Any]], bool]:
    """A payment's lines as it stands, and whether this clinic took it (only it may refund it)."""
    env = ctx.store.versions(payment_id)[-1]
    lines: list[dict[str, Any]] = env.data["lines"]
    return lines, env.author == ctx.store.node_id


def _refunds(ctx: Ctx, visit: VisitState) -> list[dict[str, Any]]:
    """Each payment standing with its lines and how much of each may still be given back."""
    out = []
    for p in visit.payments:
        if p["refunded"]:
            continue
        lines, here = _paid_lines(ctx, p["payment_id"])
        rows = []
        for i, line in enumerate(lines):
            most, why = refundable(visit, line) if here else (0, None)
            rows.append(
                {
                    "index": i,
                    "name": line["name"],
                    "paid": line["quantity"],
                    "price": yuan(line["unit_price_fen"]),
                    "most": most,
                    "why": why,
                }
            )
        out.append(
            {
                "payment_id": p["payment_id"],
                "receipt_number": p["receipt_number"],
                "here": here,
                "lines": rows,
                "any": any(r["most"] for r in rows),
            }
        )
    return out


def _picked_rows(consult: dict[str, Any], lang: str) -> dict[str, Any]:
    """The diagnoses and prescription lines ticked, then the matches "Find" offers, unticked."""
    values = consult["values"]
    diagnoses = [
        {"code": c, "label": code_label("icd10", c, lang), "checked": True} for c in values["diagnoses"]
    ]
    diagnoses += [{**h, "checked": False} for h in consult["icd10_hits"]]
    drugs = [
        {**_drug_hit(c, lang), "checked": True, "focus": False, "values": values["rx"][c]}
        for c in values["drugs"]
    ]
    drugs += [{**h, "checked": False, "focus": False, "values": _default_rx(h)} for h in consult["drug_hits"]]
    return {"diagnosis_rows": diagnoses, "rx_rows": drugs}


def _drug_hit(code: str, lang: str) -> dict[str, Any]:
    entry = schemas.code_list("drug").get(code)
    if entry is None:
        return {"code": code, "label": code, "pack": None, "price": None, "dose_unit": None}
    return {
        "code": code,
        "label": entry.en if lang == "en" else entry.zh,
        "pack": entry.extra.get("pack"),
        "price": entry.extra.get("price"),
        "dose_unit": entry.extra.get("dose_unit"),
    }


def _hits(list_name: str, q: str, lang: str) -> list[dict[str, Any]]:
    q = q.strip()
    if not q:
        return []
    return [
        {
            "code": c.code,
            "label": c.en if lang == "en" else c.zh,
            "other": c.zh if lang == "en" else c.en,
            "price": c.extra.get("price"),
            "pack": c.extra.get("pack"),
            "dose_unit": c.extra.get("dose_unit"),
        }
        for c in schemas.code_list(list_name).search(q, limit=SUGGESTIONS)
    ]


class VisitPages(Controller):
    path = "/visits"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/new", guards=[require(Permission.DESK_QUEUE)], sync_to_thread=True)
    def new(self, request: Req, resident_id: FromQuery[str]) -> Response[str]:
        """The check-in form alone, and the resident's visits today (the resident page's panel, no script)."""
        return _panel(request, resident_id, template="visit_checkin.html")

    @post("/new", guards=[require(Permission.DESK_CHECKIN)], sync_to_thread=True, status_code=303)
    def checkin(self, request: Req, data: Form) -> Response[Any]:
        """Put the resident in today's queue, as ``POST /api/v1/desk/checkin``."""
        ctx = Ctx(request)
        values, body, problems = checkin_body(data)
        status = 422
        if not problems:
            try:
                result = _desk(request).checkin(user=ctx.staff, **body)
            except RecordInvalid as exc:
                problems = as_problems(exc, lambda f: f if f in values else None)
            except DeskConflict as exc:
                problems, status = _conflict(exc), 409
            else:
                return _done(ctx, "checkin", result, _visit_path(result.state.visit_id))
        return _panel(
            request,
            values["resident_id"],
            template="visit_checkin.html",
            status=status,
            values=values,
            problems=problems,
        )

    @get("/{visit_id:str}", guards=[require(Permission.DESK_QUEUE)], sync_to_thread=True)
    def visit(self, request: Req, visit_id: FromPath[str]) -> Response[str]:
        """The visit page: the resident, where the visit stands, and the caller's next step."""
        return visit_page(request, visit_id)

    @post("/{visit_id:str}/triage", guards=[require(Permission.DESK_TRIAGE)], sync_to_thread=True)
    def triage(self, request: Req, visit_id: FromPath[str], data: Form) -> Response[Any]:
        ctx = Ctx(request)
        values, vitals, problems = vitals_body(data)
        status = 422
        if not problems:
            try:
                result = _desk(request).triage(visit_id, user=ctx.staff, vitals=vitals)
            except RecordInvalid as exc:
                problems = as_problems(exc, vitals_field)
            except DeskConflict as exc:
                problems, status = _conflict(exc), 409
            else:
                return _done(ctx, "triage", result, _visit_path(visit_id))
        return visit_page(request, visit_id, status=status, form="triage", values=values, problems=problems)

    @post("/{visit_id:str}/call", guards=[require(Permission.DESK_CONSULT)], sync_to_thread=True)
    def call(self, request: Req, visit_id: FromPath[str]) -> Response[Any]:
        ctx = Ctx(request)
        try:
            result = _desk(request).call(visit_id, user=ctx.staff)
        except DeskConflict as exc:
            return visit_page(request, visit_id, status=409, form="call", problems=_conflict(exc))
        return _done(ctx, "call", result, _visit_path(visit_id, "consultation"))

    @post("/{visit_id:str}/consultation", guards=[require(Permission.DESK_CONSULT)], sync_to_thread=True)
    def consultation(self, request: Req, visit_id: FromPath[str], data: Form) -> Response[Any]:
        """The doctor's consultation as ``POST …/consultation``; "Find" only offers matches (rule 3)."""
        ctx = Ctx(request)
        lang = page_lang(request)
        c: Consultation = consultation_body(data)
        if data.get("action") == "find":
            return visit_page(
                request,
                visit_id,
                form="consult",
                values=c.values,
                problems=FormProblems(),
                icd10_hits=[
                    h
                    for h in _hits("icd10", c.values["icd10_q"], lang)
                    if h["code"] not in c.values["diagnoses"]
                ],
                drug_hits=[h for h in _hits("drug", c.values["drug_q"], lang) if h["code"] not in c.drugs],
            )
        problems, status = c.problems, 422
        if not problems:
            try:
                result = _desk(request).consult(
                    visit_id,
                    user=ctx.staff,
                    encounter=c.encounter,
                    prescriptions=c.prescriptions,
                    orders=c.orders,
                    fees=c.fees,
                )
            except RecordInvalid as exc:
                problems = as_problems(exc, c.field_of)
            except DeskConflict as exc:
                problems, status = _conflict(exc, c.field_of), 409
            else:
                return _done(ctx, "consultation", result, _visit_path(visit_id))
        return visit_page(
            request, visit_id, status=status, form="consult", values=c.values, problems=problems
        )

    @post("/{visit_id:str}/pay", guards=[require(Permission.DESK_CHARGE)], sync_to_thread=True)
    def pay(self, request: Req, visit_id: FromPath[str], data: Form) -> Response[Any]:
        """Take payment of the bill shown, as ``POST …/payments`` with ``expected_total_fen``."""
        ctx = Ctx(request)
        method = (data.get("method") or "").strip()
        expected_text = (data.get("expected_total_fen") or "").strip()
        expected = int(expected_text) if expected_text.isdigit() else None
        problems, status = FormProblems(), 422
        if not method:
            problems.add("method", "is required: choose how the resident pays")
        else:
            try:
                result = _desk(request).pay(
                    visit_id, user=ctx.staff, method=method, expected_total_fen=expected
                )
            except RecordInvalid as exc:
                problems = as_problems(exc, lambda f: "method" if f == "method" else None)
            except DeskConflict as exc:
                problems, status = _conflict(exc), 409
            else:
                return _done(ctx, "payment", result, _visit_path(visit_id, "payments"))
        return visit_page(request, visit_id, status=status, form="pay", problems=problems, method=method)

    @post("/{visit_id:str}/refund", guards=[require(Permission.DESK_CHARGE)], sync_to_thread=True)
    def refund(self, request: Req, visit_id: FromPath[str], data: Form) -> Response[Any]:
        """Give back lines of a payment (``qty.<line>``), saying why, as ``POST …/payments/{id}/refund``."""
        ctx = Ctx(request)
        desk = _desk(request)
        payment_id = (data.get("payment_id") or "").strip()
        values = {k: (v or "").strip() for k, v in data.items() if k.startswith("qty.")}
        values |= {"payment_id": payment_id, "reason": (data.get("reason") or "").strip()}
        problems, status = FormProblems(), 422
        if payment_id not in {p["payment_id"] for p in desk.visit(visit_id).payments}:
            problems.other.append("payment_id: is not a payment of this visit")
            return visit_page(request, visit_id, status=422, form="refund", values=values, problems=problems)
        paid, _ = _paid_lines(ctx, payment_id)
        wanted, fields = [], []
        for i, line in enumerate(paid):
            text = values.get(f"qty.{i}") or "0"
            if not text.isdigit():
                problems.add(f"qty.{i}", f"{text!r} is not a whole number")
            elif int(text):
                source, ref, index = line["source"], line["ref"], line.get("index", 0)
                wanted.append({"source": source, "ref": ref, "index": index, "quantity": int(text)})
                fields.append(f"qty.{i}")
        if not values["reason"]:
            problems.add("reason", "is required: say why the money is given back")
        if not wanted and not problems.fields:
            problems.other.append("nothing to give back: enter how many of a line")

        def where(field: str) -> str | None:  # lines.<j>[.quantity] → the form's qty.<line>
            parts = field.split(".")
            if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(fields):
                return fields[int(parts[1])]
            return "reason" if field == "reason" else None

        if not problems:
            try:
                result = desk.refund(payment_id, user=ctx.staff, reason=values["reason"], lines=wanted)
            except RecordInvalid as exc:
                problems = as_problems(exc, where)
            except DeskConflict as exc:
                problems, status = _conflict(exc, where), 409
            else:
                return _done(ctx, "refund", result, _visit_path(visit_id, "payments"))
        return visit_page(request, visit_id, status=status, form="refund", values=values, problems=problems)

    @post("/{visit_id:str}/cancel", guards=[require(Permission.DESK_CHECKIN)], sync_to_thread=True)
    def cancel(self, request: Req, visit_id: FromPath[str], data: Form) -> Response[Any]:
        """Cancel the registration (退号), or record that the resident left, as ``POST …/cancel``."""
        ctx = Ctx(request)
        values = {"reason": (data.get("reason") or "").strip(), "left": "1" if data.get("left") else ""}
        problems, status = FormProblems(), 422
        if not values["reason"]:
            problems.add("reason", "is required: say why the visit ends here")
        else:
            left = bool(values["left"])
            try:
                result = _desk(request).cancel(visit_id, user=ctx.staff, reason=values["reason"], left=left)
            except RecordInvalid as exc:
                problems = as_problems(exc, lambda f: "reason" if f == "reason" else None)
            except DeskConflict as exc:
                problems, status = _conflict(exc), 409
            else:
                return _done(ctx, "left" if left else "cancel", result, _visit_path(visit_id))
        return visit_page(request, visit_id, status=status, form="cancel", values=values, problems=problems)

    @post("/{visit_id:str}/dispense", guards=[require(Permission.DESK_DISPENSE)], sync_to_thread=True)
    def dispense(self, request: Req, visit_id: FromPath[str], data: Form) -> Response[Any]:
        """Hand over paid medicine of one prescription, as ``POST …/dispense`` (partial allowed)."""
        ctx = Ctx(request)
        desk = _desk(request)
        prescription_id = (data.get("prescription_id") or "").strip()
        lines = [d.as_json() for d in desk.visit(visit_id).drugs if d.prescription_id == prescription_id]
        values, items, problems = dispense_items(data, lines)
        status = 422
        if not lines:
            problems = FormProblems(other=["this is not a prescription of the visit"])
            status = 409
        elif not problems:
            try:
                result = desk.dispense(
                    visit_id,
                    user=ctx.staff,
                    prescription_id=prescription_id,
                    items=items,
                    note=values["note"] or None,
                )
            except RecordInvalid as exc:
                problems = as_problems(exc, lambda f: dispense_field(f, items))
            except DeskConflict as exc:
                problems, status = _conflict(exc, lambda f: dispense_field(f, items)), 409
            else:
                return _done(ctx, "dispense", result, _visit_path(visit_id))
        return visit_page(
            request,
            visit_id,
            status=status,
            form="dispense",
            prescription_id=prescription_id,
            values=values,
            problems=problems,
        )

    @post("/{visit_id:str}/finish", guards=[require(Permission.DESK_FINISH)], sync_to_thread=True)
    def finish(self, request: Req, visit_id: FromPath[str], data: Form) -> Response[Any]:
        """Close the visit; with ``write_card`` also write it onto the card in the desk reader (rule 4)."""
        ctx = Ctx(request)
        desk = _desk(request)
        seq = (data.get("card_seq") or "").strip() if data.get("write_card") else ""
        card: CardRead | None = None
        if seq:
            checked = self._card(request, ctx, seq)
            if isinstance(checked, FormProblems):
                return visit_page(request, visit_id, status=422, form="finish", problems=checked)
            card = checked
        try:
            if card is None:
                result = desk.finish(visit_id, user=ctx.staff)
            else:
                clinic_name = request.app.state.name
                result, writes = desk.finish_with_card(
                    visit_id, user=ctx.staff, card=card.content, clinic_name=clinic_name
                )
        except RecordInvalid as exc:  # the card is someone else's
            problems = as_problems(exc, lambda f: "write_card" if f == "card" else None)
            return visit_page(request, visit_id, status=422, form="finish", problems=problems)
        except DeskConflict as exc:
            return visit_page(request, visit_id, status=409, form="finish", problems=_conflict(exc))
        target = _visit_path(visit_id)
        if card is not None:
            try:
                desk_reader(request).write(int(seq), lambda ch: writes.write(ch, card.content))
            except CardError as exc:
                target += f"?card=not-written&why={quote(exc.reason)}"
            else:
                ctx.audit(
                    "write:card",
                    resident_id=result.state.resident_id,
                    record_id=visit_id,
                    detail={"via": "page"},
                    reason="care",
                )
                target += "?card=written"
        return _done(ctx, "finish", result, target)

    def _card(self, request: Req, ctx: Ctx, seq: str) -> CardRead | FormProblems:
        """Presentation ``seq``'s card if it is still in the reader, checked; else why not."""
        problems = FormProblems()
        presented = desk_reader(request).get(int(seq)) if seq.isdigit() else None
        if presented is None:
            problems.add(
                "write_card", "the card is no longer in the reader: put it back, or finish without it"
            )
            return problems
        if presented.files is None:  # unreadable: the desk page says why too
            problems.add("write_card", str(presented.error))
            return problems
        try:
            card, _ = open_files(ctx, presented.files)
        except CardError as exc:
            problems.add("write_card", str(exc))
            return problems
        return card


# -- the resident page's panel ------------------------------------------------------------------------


def _panel(
    request: Req,
    resident_id: str,
    *,
    template: str,
    status: int = 200,
    values: dict[str, str] | None = None,
    problems: FormProblems | None = None,
) -> Response[str]:
    """Today's visits of one resident and the check-in form (for roles that check in)."""
    ctx = Ctx(request)
    desk = _desk(request)
    lang = page_lang(request)
    person = _person(ctx, request, resident_id)
    if person is None:
        raise NotFound(f"no resident {resident_id} on this node")
    visits = read.resident_visits(desk.store.db.reader(), desk.store.node_id, resident_id, desk.now().date())
    for v in visits:
        ctx.audit("read:visit", resident_id=resident_id, record_id=v.visit_id, detail={"via": "page"})
    if template != "_visit_panel.html":
        ctx.audit("read:demographics", resident_id=resident_id, detail={"via": "page"})
    return render(
        request,
        template,
        status=status,
        person=person,
        today=[visit_view(v, lang) for v in visits],
        values=values or {"resident_id": resident_id, "department": "", "scheme": "", "insurance_number": ""},
        problems=problems or FormProblems(),
        options=visit_options(lang),
    )


class ResidentVisitPages(Controller):
    path = "/residents"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/{resident_id:str}/visit", guards=[require(Permission.DESK_QUEUE)], sync_to_thread=True)
    def panel(self, request: Req, resident_id: FromPath[str]) -> Response[str]:
        """The resident page's visit panel (an htmx fragment; ``/visits/new`` is the same as a page)."""
        return _panel(request, resident_id, template="_visit_panel.html")


# -- code search ----------------------------------------------------------------------------------------


class CodePages(Controller):
    """Pick-lists for the consultation form (no personal data, so not audited)."""

    path = "/codes"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    guards = [require(Permission.READ_CODES)]  # noqa: RUF012 - Litestar's layer attribute

    @get("/icd10", sync_to_thread=False)
    def icd10(self, request: Req, q: FromQuery[str] = "", icd10_q: FromQuery[str] = "") -> Response[str]:
        """ICD-10 codes by code prefix or Chinese or English name, as the doctor types.

        The form's search box sends ``icd10_q`` (its name in the consultation form); ``q`` works too.
        """
        q = q or icd10_q
        return render(request, "_icd10_hits.html", hits=_hits("icd10", q, page_lang(request)), q=q)

    @get("/icd10/pick", sync_to_thread=False)
    def icd10_pick(self, request: Req, code: FromQuery[str]) -> Response[str]:
        """One diagnosis, ticked, for the form's list."""
        entry = schemas.code_list("icd10").get(code)
        if entry is None:
            return Response("", status_code=404)
        lang = page_lang(request)
        d = {"code": entry.code, "label": entry.en if lang == "en" else entry.zh, "checked": True}
        return render(request, "_icd10_pick.html", d=d, primary="")

    @get("/drug", sync_to_thread=False)
    def drug(self, request: Req, q: FromQuery[str] = "", drug_q: FromQuery[str] = "") -> Response[str]:
        """Medicines of the essential list by code or name (the form's box sends ``drug_q``)."""
        q = q or drug_q
        return render(request, "_drug_hits.html", hits=_hits("drug", q, page_lang(request)), q=q)

    @get("/drug/pick", sync_to_thread=False)
    def drug_pick(self, request: Req, code: FromQuery[str]) -> Response[str]:
        """One prescription line for the form, with the usual dose unit filled in."""
        lang = page_lang(request)
        if code not in schemas.code_list("drug"):
            return Response("", status_code=404)
        hit = _drug_hit(code, lang)
        row = {**hit, "checked": True, "focus": True, "values": _default_rx(hit)}
        return render(request, "_drug_row.html", r=row, p=FormProblems(), options=visit_options(lang))


def _default_rx(hit: dict[str, Any]) -> dict[str, str]:
    unit = hit.get("dose_unit") or ""
    return {
        "dose": "",  # typed by the doctor: the strength is in the name, the dose is a decision
        "dose_unit": unit if unit in schemas.code_list("dose_unit") else "",
        "route": "po",
        "frequency": "",
        "days": "",
        "quantity": "1",
    }


# -- the cashier, the pharmacy and the examinations ------------------------------------------------------


def _worklist_of(request: Req, pending: str, template: str) -> Response[str]:
    """Today's visits with ``pending`` work, audited as ``GET /api/v1/desk/queue?pending=…``."""
    ctx = Ctx(request)
    desk = _desk(request)
    now = desk.now()
    states = [s for s in desk.queue(now.date()) if pending in s.pending]
    residents = {r["id"]: r for r in ctx.store.resident_summaries(sorted({s.resident_id for s in states}))}
    ctx.audit(
        "read:queue",
        detail={
            "day": now.date().isoformat(),
            "step": None,
            "pending": pending,
            "residents": sorted(residents),
            "via": "page",
        },
    )
    lang = page_lang(request)
    visits = []
    for s in states:
        entry = read.queue_entry(s, None, now)
        summary = residents.get(s.resident_id)
        entry["person"] = (
            person_row(summary, role=ctx.staff.role, today=now.date(), lang=lang) if summary else None
        )
        entry["department_label"] = code_label("department", s.department, lang)
        entry["due"] = yuan(s.due_fen)
        entry["to_dispense"] = sum(d.to_dispense for d in s.drugs)
        visits.append(entry)
    return render(request, template, day=now.date().isoformat(), visits=visits)


class CashierPages(Controller):
    path = "/cashier"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/", guards=[require(Permission.DESK_CHARGE)], sync_to_thread=True)
    def cashier(self, request: Req) -> Response[str]:
        """Today's visits awaiting payment."""
        return _worklist_of(request, "payment", "cashier.html")


class PharmacyPages(Controller):
    path = "/pharmacy"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/", guards=[require(Permission.DESK_DISPENSE)], sync_to_thread=True)
    def pharmacy(self, request: Req) -> Response[str]:
        """Today's visits with paid medicine not yet handed over."""
        return _worklist_of(request, "dispensing", "pharmacy.html")


class ExamPages(Controller):
    path = "/exams"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    guards = [require(Permission.DESK_EXAMS)]  # noqa: RUF012 - Litestar's layer attribute

    @get("/", sync_to_thread=True)
    def worklist(self, request: Req) -> Response[str]:
        """Paid examinations without a report, emergencies first (as ``GET /api/v1/desk/worklist/exams``)."""
        ctx = Ctx(request)
        desk = _desk(request)
        lang = page_lang(request)
        first = desk.now().date() - dt.timedelta(days=WORKLIST_DAYS)
        items = read.exam_worklist(desk.store.db.reader(), desk.store.node_id, first)
        residents = {
            r["id"]: r for r in ctx.store.resident_summaries(sorted({i["resident_id"] for i in items}))
        }
        ctx.audit(
            "read:worklist",
            detail={"since": first.isoformat(), "kind": None, "residents": sorted(residents), "via": "page"},
        )
        today = desk.now().date()
        orders = []
        for i in items:
            summary = residents.get(i["resident_id"])
            orders.append(
                {
                    **i,
                    "label": code_label("service", i["service"], lang),
                    "urgency_label": code_label("urgency", i["urgency"], lang),
                    "person": person_row(summary, role=ctx.staff.role, today=today, lang=lang)
                    if summary
                    else None,
                }
            )
        return render(request, "exams.html", since=first.isoformat(), orders=orders)

    @post("/{order_id:str}/collect", sync_to_thread=True, status_code=303)
    def collect(self, request: Req, order_id: FromPath[str], data: Form) -> Response[Any]:
        """The specimen is taken or the examination done, as ``POST /api/v1/desk/orders/{id}/collect``."""
        ctx = Ctx(request)
        try:
            result = _desk(request).collect(order_id, user=ctx.staff)
        except DeskConflict as exc:
            return _result_page(request, order_id, status=409, problems=_conflict(exc))
        return _done(ctx, "collect", result, safe_next(data.get("next") or "/exams"))

    @get("/{order_id:str}", sync_to_thread=True)
    def result_form(self, request: Req, order_id: FromPath[str]) -> Response[str]:
        """The result form of one order."""
        return _result_page(request, order_id)

    @post("/{order_id:str}", sync_to_thread=True, status_code=303)
    def result(self, request: Req, order_id: FromPath[str], data: Form) -> Response[Any]:
        """The order's report, as ``POST /api/v1/desk/orders/{id}/result``."""
        ctx = Ctx(request)
        desk = _desk(request)
        order, _ = read.order_visit(desk.store.db.reader(), order_id)
        kind = str(order.data.get("kind") or "")
        values, type_, body, problems = exam_result_body(data, kind)
        status = 422
        if not problems:
            try:
                result = desk.report_result(order_id, user=ctx.staff, type_=type_, data=body)
            except RecordInvalid as exc:
                problems = as_problems(exc, lambda f: exam_field(f, values))
            except DeskConflict as exc:
                problems, status = _conflict(exc), 409
            else:
                return _done(ctx, "result", result, "/exams")
        return _result_page(request, order_id, status=status, values=values, problems=problems)


def _result_page(
    request: Req,
    order_id: str,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    problems: FormProblems | None = None,
) -> Response[str]:
    ctx = Ctx(request)
    desk = _desk(request)
    lang = page_lang(request)
    order, visit_id = read.order_visit(desk.store.db.reader(), order_id)
    state = desk.visit(visit_id)
    ctx.audit("read:visit", resident_id=state.resident_id, record_id=visit_id, detail={"via": "page"})
    line = next((o for o in state.orders if o.order_id == order.fact_id), None)
    kind = str(order.data.get("kind") or "")
    return render(
        request,
        "exams_result.html",
        status=status,
        person=_person(ctx, request, state.resident_id),
        order=order_view(line, lang) if line else None,
        order_id=order_id,
        visit_id=visit_id,
        kind=kind,
        lab_rows=LAB_ROWS,
        values=values or {},
        problems=problems or FormProblems(),
        options=visit_options(lang),
        staff_name=ctx.staff.display_name or ctx.staff.name,
    )


VISIT_PAGES: list[Any] = [VisitPages, ResidentVisitPages, CodePages, CashierPages, PharmacyPages, ExamPages]
