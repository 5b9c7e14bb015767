"""The desk workflow over HTTP: ``/api/v1/desk/…`` (docs/desk.md).

Rules:
1. One guard per step (``_access`` rule 4); a refused step is audited and answers 403.
2. Every read of a person's visit or of a list of people (queue, worklist) is
   audited before it is answered; every step is audited with its records.
3. Bad input answers 400/422 with ``errors: [{field, message}]``; a step the
   visit's state forbids answers 409 the same way; nothing is stored.
4. A visit's state carries no diagnosis and no result: only what is charged,
   paid, handed over and done, which every desk role's step needs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from cardreader import CardRead
from schemas import EXAM_KINDS, FieldError, RecordInvalid, Step

from . import _desk_read as read
from ._access import Permission, allowed
from ._api_card import card_view, open_presented
from ._api_support import Ctx
from ._auth import Staff
from ._desk import DeskResult, Holder, PresentedCard
from ._desk_read import queue_entry
from ._desk_services import Desk
from ._web_auth import require

__all__ = ["DeskController"]

Req = Request[Staff, Any, Any]
PENDING = ("payment", "dispensing", "exams")


def _desk(request: Req) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _text(data: dict[str, Any], name: str, *, required: bool = False, limit: int = 500) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RecordInvalid([FieldError(name, "is required (text)" if value is None else "must be text")])
    if len(value) > limit:
        raise RecordInvalid([FieldError(name, f"must be at most {limit} characters")])
    return value.strip()


def _objects(data: dict[str, Any], name: str) -> list[dict[str, Any]] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RecordInvalid([FieldError(name, "must be a list of objects")])
    return value


def _object(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    if value is not None and not isinstance(value, dict):
        raise RecordInvalid([FieldError(name, "must be an object")])
    return value


def register_holder(ctx: Ctx, desk: Desk, card: CardRead, **detail: Any) -> Holder:
    """The checked card's holder here: found, or registered provisionally from the card; audited
    (``register:card`` or ``read:card``, reason ``registration``) with ``detail`` added."""
    holder = desk.register_from_card(PresentedCard(card.content, card.key_id, card.expired), user=ctx.staff)
    ctx.audit(
        "register:card" if holder.created else "read:card",
        resident_id=holder.resident_id,
        detail={
            "card_number": card.content.issuer.card_number,
            "verified": True,
            "created": holder.created,
            **detail,
        },
        reason="registration",
    )
    return holder


class DeskController(Controller):
    path = "/api/v1/desk"
    tags = ("desk",)

    def _done(self, ctx: Ctx, action: str, result: DeskResult, **extra: Any) -> Response[dict[str, Any]]:
        ctx.audit(
            f"desk:{action}",
            resident_id=result.state.resident_id,
            record_id=result.state.visit_id,
            detail={"records": [r.id for r in result.records]},
            reason="care",
        )
        return Response({**result.as_json(), **extra}, status_code=201)

    # -- the card and the queue ------------------------------------------------------------------

    @post("/card-registration", guards=[require(Permission.REGISTER)], sync_to_thread=True, status_code=200)
    def card_registration(self, request: Req, data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        """The card's holder here: found, or registered provisionally from the verified card (201)."""
        ctx = Ctx(request)
        card, warning = open_presented(ctx, data)
        holder = register_holder(ctx, _desk(request), card)
        shown, withheld = card_view(ctx, card)
        body = {
            "holder": holder.as_json(),
            "resident": ctx.store.resident_summaries([holder.resident_id])[0],
            "warning": warning,
            "card": shown,
            "withheld": withheld,
        }
        return Response(body, status_code=201 if holder.created else 200)

    @post("/checkin", guards=[require(Permission.DESK_CHECKIN)], sync_to_thread=True)
    def checkin(self, request: Req, data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        """Put a resident in today's queue: ``{"resident_id" | "card", "department", …}``."""
        ctx = Ctx(request)
        department = _text(data, "department", required=True, limit=40)
        assert department is not None
        presented = None
        shown: dict[str, Any] | None = None
        withheld: list[str] = []
        if data.get("card") is not None:
            if data.get("resident_id") is not None:
                raise RecordInvalid([FieldError("resident_id", "give either the resident's id or the card")])
            if not allowed(ctx.staff.role, Permission.REGISTER):  # the holder may be registered from the card
                ctx.deny("register", f"role {ctx.staff.role.value} may not register residents")
            card, _ = open_presented(ctx, data)
            presented = PresentedCard(card.content, card.key_id, card.expired)
            shown, withheld = card_view(ctx, card)
        result = _desk(request).checkin(
            user=ctx.staff,
            department=department,
            resident_id=_text(data, "resident_id", required=presented is None, limit=40),
            card=presented,
            doctor=_text(data, "doctor", limit=50),
            scheme=_text(data, "scheme", limit=40),
            insurance_number=_text(data, "insurance_number", limit=40),
            fees=_objects(data, "fees"),
            note=_text(data, "note", limit=2000),
        )
        extra = {"card": shown, "withheld": withheld} if shown is not None else {}
        return self._done(ctx, "checkin", result, **extra)

    @get("/queue", guards=[require(Permission.DESK_QUEUE)], sync_to_thread=True)
    def queue(
        self,
        request: Req,
        day: Annotated[dt.date | None, QueryParameter(description="YYYY-MM-DD; default today")] = None,
        department: Annotated[str | None, QueryParameter(description="a department code")] = None,
        step: Annotated[str | None, QueryParameter(description="steps, comma-separated")] = None,
        pending: Annotated[str | None, QueryParameter(description="payment, dispensing or exams")] = None,
    ) -> dict[str, Any]:
        """A workstation's queue: the day's visits, by department and number, filtered by step or work."""
        ctx = Ctx(request)
        steps = None
        if step:
            try:
                steps = {Step(s.strip()) for s in step.split(",") if s.strip()}
            except ValueError:
                known = ", ".join(s.value for s in Step)
                raise RecordInvalid(
                    [FieldError("step", f"{step!r} names no step (known: {known})")]
                ) from None
        if pending is not None and pending not in PENDING:
            raise RecordInvalid([FieldError("pending", f"{pending!r} is not one of {', '.join(PENDING)}")])
        desk = _desk(request)
        now = desk.now()
        states = [
            s
            for s in desk.queue(day or now.date(), department=department)
            if (steps is None or s.step in steps) and (pending is None or pending in s.pending)
        ]
        residents = {
            r["id"]: r for r in ctx.store.resident_summaries(sorted({s.resident_id for s in states}))
        }
        ctx.audit(
            "read:queue",
            detail={
                "day": (day or now.date()).isoformat(),
                "step": step,
                "pending": pending,
                "residents": sorted(residents),
            },
        )
        return {
            "day": (day or now.date()).isoformat(),
            "visits": [queue_entry(s, residents.get(s.resident_id), now) for s in states],
        }

    @get("/worklist/exams", guards=[require(Permission.DESK_EXAMS)], sync_to_thread=True)
    def exam_worklist(
        self,
        request: Req,
        since: Annotated[dt.date | None, QueryParameter(description="first day; default 7 days ago")] = None,
        kind: Annotated[str | None, QueryParameter(description="lab, imaging, ecg or ultrasound")] = None,
    ) -> dict[str, Any]:
        """Paid examinations and tests without a report, oldest first."""
        ctx = Ctx(request)
        if kind is not None and kind not in EXAM_KINDS:
            raise RecordInvalid(
                [FieldError("kind", f"{kind!r} is not one of {', '.join(sorted(EXAM_KINDS))}")]
            )
        desk = _desk(request)
        first = since or desk.now().date() - dt.timedelta(days=7)
        items = read.exam_worklist(desk.store.db.reader(), desk.store.node_id, first, kind=kind)
        residents = {
            r["id"]: r for r in ctx.store.resident_summaries(sorted({i["resident_id"] for i in items}))
        }
        ctx.audit(
            "read:worklist", detail={"since": first.isoformat(), "kind": kind, "residents": sorted(residents)}
        )
        return {
            "since": first.isoformat(),
            "orders": [{**i, "resident": residents.get(i["resident_id"])} for i in items],
        }

    # -- one visit -----------------------------------------------------------------------------------

    @get("/visits/{visit_id:str}", guards=[require(Permission.DESK_QUEUE)], sync_to_thread=True)
    def visit(self, request: Req, visit_id: FromPath[str]) -> dict[str, Any]:
        """Where the visit stands, what is charged and paid, handed over and done, and its history."""
        ctx = Ctx(request)
        desk = _desk(request)
        state = desk.visit(visit_id)
        ctx.audit("read:visit", resident_id=state.resident_id, record_id=visit_id)
        return {
            **state.as_json(),
            "resident": ctx.store.resident_summaries([state.resident_id])[0],
            "provisional": desk.provisional(state.resident_id),
            "queue": queue_entry(state, None, desk.now()),
        }

    @post("/visits/{visit_id:str}/triage", guards=[require(Permission.DESK_TRIAGE)], sync_to_thread=True)
    def triage(
        self, request: Req, visit_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """The nurse's triage, with vitals if taken: ``{"vitals": {...}, "workstation": "分诊台"}``."""
        ctx = Ctx(request)
        result = _desk(request).triage(
            visit_id,
            user=ctx.staff,
            vitals=_object(data, "vitals"),
            workstation=_text(data, "workstation", limit=50),
        )
        return self._done(ctx, "triage", result)

    @post("/visits/{visit_id:str}/call", guards=[require(Permission.DESK_CONSULT)], sync_to_thread=True)
    def call(
        self, request: Req, visit_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """The doctor calls the resident in: ``{"workstation": "诊室2"}``."""
        ctx = Ctx(request)
        result = _desk(request).call(
            visit_id, user=ctx.staff, workstation=_text(data, "workstation", limit=50)
        )
        return self._done(ctx, "call", result)

    @post(
        "/visits/{visit_id:str}/consultation", guards=[require(Permission.DESK_CONSULT)], sync_to_thread=True
    )
    def consultation(
        self, request: Req, visit_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """The doctor's step: ``{"encounter", "prescriptions", "orders": [{"service"}], "fees"}``."""
        ctx = Ctx(request)
        result = _desk(request).consult(
            visit_id,
            user=ctx.staff,
            encounter=_object(data, "encounter"),
            prescriptions=_objects(data, "prescriptions"),
            orders=_objects(data, "orders"),
            fees=_objects(data, "fees"),
            workstation=_text(data, "workstation", limit=50),
        )
        return self._done(ctx, "consultation", result)

    @get("/visits/{visit_id:str}/bill", guards=[require(Permission.DESK_CHARGE)], sync_to_thread=True)
    def bill(self, request: Req, visit_id: FromPath[str]) -> dict[str, Any]:
        """What is due now and how it divides between the insurance fund and the resident."""
        ctx = Ctx(request)
        desk = _desk(request)
        state = desk.visit(visit_id)
        lines, s = desk.quote(visit_id)
        ctx.audit("read:bill", resident_id=state.resident_id, record_id=visit_id)
        return {
            "visit_id": visit_id,
            "scheme": state.scheme,
            "lines": lines,
            "total_fen": s.total_fen,
            **s.as_json(),
        }

    @post("/visits/{visit_id:str}/payments", guards=[require(Permission.DESK_CHARGE)], sync_to_thread=True)
    def pay(
        self, request: Req, visit_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Take payment of everything due: ``{"method": "cash", "expected_total_fen": 1234}``."""
        ctx = Ctx(request)
        expected = data.get("expected_total_fen")
        if expected is not None and (
            not isinstance(expected, int) or isinstance(expected, bool) or expected < 0
        ):
            raise RecordInvalid([FieldError("expected_total_fen", "must be a whole number of fen")])
        method = _text(data, "method", required=True, limit=40)
        assert method is not None
        result = _desk(request).pay(visit_id, user=ctx.staff, method=method, expected_total_fen=expected)
        return self._done(ctx, "payment", result)

    @post("/payments/{payment_id:str}/refund", guards=[require(Permission.DESK_CHARGE)], sync_to_thread=True)
    def refund(
        self, request: Req, payment_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Give back lines of a payment (all without ``lines``): ``{"lines": [...], "reason": "…"}``."""
        ctx = Ctx(request)
        reason = _text(data, "reason", required=True)
        assert reason is not None
        result = _desk(request).refund(
            payment_id, user=ctx.staff, reason=reason, lines=_objects(data, "lines")
        )
        return self._done(ctx, "refund", result)

    @post("/visits/{visit_id:str}/dispense", guards=[require(Permission.DESK_DISPENSE)], sync_to_thread=True)
    def dispense(
        self, request: Req, visit_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Hand over paid medicine: ``{"prescription_id": "…", "items": [{"index", "quantity"}]}``."""
        ctx = Ctx(request)
        prescription_id = _text(data, "prescription_id", required=True, limit=40)
        assert prescription_id is not None
        result = _desk(request).dispense(
            visit_id,
            user=ctx.staff,
            prescription_id=prescription_id,
            items=_objects(data, "items"),
            note=_text(data, "note", limit=2000),
        )
        return self._done(ctx, "dispense", result)

    @post("/orders/{order_id:str}/collect", guards=[require(Permission.DESK_EXAMS)], sync_to_thread=True)
    def collect(
        self, request: Req, order_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """The specimen is taken or the examination done: ``{"workstation": "检验科"}``."""
        ctx = Ctx(request)
        result = _desk(request).collect(
            order_id, user=ctx.staff, workstation=_text(data, "workstation", limit=50)
        )
        return self._done(ctx, "collect", result)

    @post("/orders/{order_id:str}/result", guards=[require(Permission.DESK_EXAMS)], sync_to_thread=True)
    def result(
        self, request: Req, order_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """The order's report: ``{"type": "lab_report" | "imaging_report", "data": {...}}``."""
        ctx = Ctx(request)
        type_ = _text(data, "type", required=True, limit=40)
        body = _object(data, "data")
        if body is None:
            raise RecordInvalid([FieldError("data", "is required (the report's fields as an object)")])
        assert type_ is not None
        result = _desk(request).report_result(order_id, user=ctx.staff, type_=type_, data=body)
        return self._done(ctx, "result", result)

    @post("/visits/{visit_id:str}/finish", guards=[require(Permission.DESK_FINISH)], sync_to_thread=True)
    def finish(
        self, request: Req, visit_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Close the visit; with ``{"card": …}`` also answer what to write to the card (ring and notes)."""
        ctx = Ctx(request)
        desk = _desk(request)
        if data.get("card") is None:
            return self._done(ctx, "finish", desk.finish(visit_id, user=ctx.staff))
        card, _ = open_presented(ctx, data)
        result, writes = desk.finish_with_card(
            visit_id, user=ctx.staff, card=card.content, clinic_name=request.app.state.name
        )
        ctx.audit("write:card", resident_id=result.state.resident_id, record_id=visit_id, reason="care")
        return self._done(ctx, "finish", result, card_writes=writes.as_json(card.content))

    @post("/visits/{visit_id:str}/cancel", guards=[require(Permission.DESK_CHECKIN)], sync_to_thread=True)
    def cancel(
        self, request: Req, visit_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Cancel the registration (``{"reason"}``), or record that the resident left (``"left": true``)."""
        ctx = Ctx(request)
        reason = _text(data, "reason", required=True)
        left = data.get("left", False)
        if not isinstance(left, bool):
            raise RecordInvalid([FieldError("left", "must be true or false")])
        assert reason is not None
        result = _desk(request).cancel(visit_id, user=ctx.staff, reason=reason, left=left)
        return self._done(ctx, "left" if left else "cancel", result)
