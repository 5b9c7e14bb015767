"""Two-way referral and remote consultation over the node's API (see ``_referrals`` for the rules).

Rules:
1. Every write is a local record that syncs later: nothing here needs the
   hub at request time, so a clinic refers, accepts and answers offline.
2. Doctors act (``Permission.REFER``); doctors and nurses read
   (``Permission.READ_REFERRALS``). Every list is audited with what was read.
3. Bad input answers 400/422 with ``errors: [{field, message}]``; a write
   the status forbids answers 409 with the field; neither stores anything.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from ._access import Permission
from ._api_support import Ctx
from ._auth import Staff
from ._referrals import (
    CONSULTATION_STATUSES,
    DIRECTIONS,
    REFERRAL_STATUSES,
    Clinic,
    ReferralConflict,
    answer_consultation,
    close_referral,
    consultations,
    refer_back,
    refer_out,
    referrals,
    request_consultation,
    respond,
)
from ._web_auth import require

__all__ = ["ReferralController"]

Req = Request[Staff, Any, Any]
Answer = Response[dict[str, Any]]

_TEXT_LIMIT = {"reason": 500, "answer": 10_000, "results": 10_000}
# Fields of a referral out and a consultation request the caller gives; the rest this node fills in.
_REFERRAL_FIELDS = (
    "to_clinic",
    "reason",
    "preliminary_diagnoses",
    "history_summary",
    "treatment_given",
    "urgency",
)
_BACK_FIELDS = ("results", "discharge_summary_id", "reason", "history_summary", "treatment_given")
_CONSULT_FIELDS = ("consulting_clinic", "question", "diagnoses", "attachment_ids")


def _bad(status: int, field: str, message: str) -> Answer:
    return Response(
        {
            "status_code": status,
            "detail": f"{field}: {message}",
            "errors": [{"field": field, "message": message}],
        },
        status_code=status,
    )


def _clinic(ctx: Ctx) -> Clinic:
    return Clinic(
        ctx.store, ctx.request.app.state.clinic, ctx.staff.name, ctx.staff.display_name or ctx.staff.name
    )


def _text(data: dict[str, Any], name: str, *, required: bool) -> str | Answer | None:
    value = data.get(name)
    if value is None and not required:
        return None
    limit = _TEXT_LIMIT[name]
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        return _bad(
            400, name, f"is required (1-{limit} characters)" if required else f"must be 1-{limit} characters"
        )
    return value.strip()


def _required(data: dict[str, Any], name: str) -> str | Answer:
    value = _text(data, name, required=True)
    return value if value is not None else _bad(400, name, "is required")


def _resident(data: dict[str, Any]) -> str | Answer:
    value = data.get("resident_id")
    if not isinstance(value, str) or not value:
        return _bad(400, "resident_id", "is required: the id of a resident registered at this clinic")
    return value


def _unknown(data: dict[str, Any], allowed: tuple[str, ...]) -> Answer | None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        return _bad(400, extra[0], f"is not accepted here (give only {', '.join(allowed)})")
    return None


def _about_resident(data: dict[str, Any], allowed: tuple[str, ...]) -> tuple[str, dict[str, Any]] | Answer:
    """``(resident_id, the record's fields)`` of a new referral or consultation, or the refusal."""
    resident_id = _resident(data)
    if isinstance(resident_id, Response):
        return resident_id
    body = {k: v for k, v in data.items() if k != "resident_id"}
    refused = _unknown(body, allowed)
    return refused if refused is not None else (resident_id, body)


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> Answer | None:
    if value is not None and value not in allowed:
        return _bad(400, name, f"must be one of {', '.join(allowed)}")
    return None


def _conflict(exc: ReferralConflict) -> Answer:
    return _bad(409, exc.field, exc.message)


class ReferralController(Controller):
    path = "/api/v1"
    tags = ("referrals",)

    # -- referrals ----------------------------------------------------------------------------------

    @post("/referrals", guards=[require(Permission.REFER)], sync_to_thread=True, status_code=201)
    def refer(self, request: Req, data: JSONBody[dict[str, Any]]) -> Answer:
        """Refer a resident registered here to another clinic: ``{"resident_id", "to_clinic", "reason",
        "preliminary_diagnoses"?, "history_summary"?, "treatment_given"?, "urgency"?}``."""
        ctx = Ctx(request)
        asked = _about_resident(data, _REFERRAL_FIELDS)
        if isinstance(asked, Response):
            return asked
        resident_id, body = asked
        env = refer_out(_clinic(ctx), resident_id, body)
        ctx.audit("referral:out", resident_id=resident_id, record_id=env.id)
        return Response({"id": env.id, "status": "sent", "record": env.as_dict()}, status_code=201)

    @get("/referrals", guards=[require(Permission.READ_REFERRALS)], sync_to_thread=True)
    def list_referrals(
        self, request: Req, direction: FromQuery[str | None] = None, status: FromQuery[str | None] = None
    ) -> Answer:
        """Referrals sent from (``direction=out``) or to (``in``) this clinic, each with its status
        (sent, accepted, declined, back, closed), the response, and the referral back with results."""
        ctx = Ctx(request)
        refused = _choice("direction", direction, DIRECTIONS) or _choice("status", status, REFERRAL_STATUSES)
        if refused is not None:
            return refused
        items = referrals(
            ctx.store, request.app.state.clinic, direction=direction, status=status, readable=ctx.readable()
        )
        ctx.audit(
            "read:referrals",
            detail={"direction": direction, "status": status, "records": [i["id"] for i in items]},
        )
        return Response({"referrals": items})

    @post(
        "/referrals/{record_id:str}/accept",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=201,
    )
    def accept(self, request: Req, record_id: FromPath[str]) -> Answer:
        """Accept a referral sent to this clinic (once)."""
        return self._respond(request, record_id, {}, accept=True)

    @post(
        "/referrals/{record_id:str}/decline",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=201,
    )
    def decline(self, request: Req, record_id: FromPath[str], data: JSONBody[dict[str, Any]]) -> Answer:
        """Decline a referral sent to this clinic, saying why: ``{"reason"}``."""
        return self._respond(request, record_id, data, accept=False)

    def _respond(self, request: Req, record_id: str, data: dict[str, Any], *, accept: bool) -> Answer:
        ctx = Ctx(request)
        reason = None if accept else _required(data, "reason")
        if isinstance(reason, Response):
            return reason
        try:
            env = respond(_clinic(ctx), record_id, accept=accept, reason=reason)
        except ReferralConflict as exc:
            return _conflict(exc)
        ctx.audit(
            "referral:accept" if accept else "referral:decline", resident_id=env.resident_id, record_id=env.id
        )
        return Response(
            {"id": record_id, "status": env.data["decision"], "record": env.as_dict()}, status_code=201
        )

    @post(
        "/referrals/{record_id:str}/back",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=201,
    )
    def back(self, request: Req, record_id: FromPath[str], data: JSONBody[dict[str, Any]]) -> Answer:
        """Refer an accepted referral back to the referring clinic: ``{"results", "discharge_summary_id"?,
        "reason"?, "history_summary"?, "treatment_given"?}``; the discharge summary must be held here."""
        ctx = Ctx(request)
        refused = _unknown(data, _BACK_FIELDS)
        if refused is not None:
            return refused
        results = _required(data, "results")
        if isinstance(results, Response):
            return results
        try:
            env = refer_back(_clinic(ctx), record_id, {**data, "results": results})
        except ReferralConflict as exc:
            return _conflict(exc)
        ctx.audit("referral:back", resident_id=env.resident_id, record_id=env.id)
        return Response({"id": record_id, "status": "back", "record": env.as_dict()}, status_code=201)

    @post(
        "/referrals/{record_id:str}/close",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=201,
    )
    def close(self, request: Req, record_id: FromPath[str]) -> Answer:
        """Close a referral this clinic sent, once its referral back has come."""
        ctx = Ctx(request)
        try:
            env = close_referral(_clinic(ctx), record_id)
        except ReferralConflict as exc:
            return _conflict(exc)
        ctx.audit("referral:close", resident_id=env.resident_id, record_id=env.id)
        return Response({"id": record_id, "status": "closed", "record": env.as_dict()}, status_code=201)

    # -- consultations ------------------------------------------------------------------------------

    @post("/consultations", guards=[require(Permission.REFER)], sync_to_thread=True, status_code=201)
    def consult(self, request: Req, data: JSONBody[dict[str, Any]]) -> Answer:
        """Ask another clinic's doctor about a resident registered here: ``{"resident_id",
        "consulting_clinic", "question", "diagnoses"?, "attachment_ids"?}``."""
        ctx = Ctx(request)
        asked = _about_resident(data, _CONSULT_FIELDS)
        if isinstance(asked, Response):
            return asked
        resident_id, body = asked
        env = request_consultation(_clinic(ctx), resident_id, body)
        ctx.audit("consultation:request", resident_id=resident_id, record_id=env.id)
        return Response({"id": env.id, "status": "requested", "record": env.as_dict()}, status_code=201)

    @get("/consultations", guards=[require(Permission.READ_REFERRALS)], sync_to_thread=True)
    def list_consultations(
        self, request: Req, direction: FromQuery[str | None] = None, status: FromQuery[str | None] = None
    ) -> Answer:
        """Consultations this clinic asked (``direction=out``) or was asked (``in``), by status."""
        ctx = Ctx(request)
        refused = _choice("direction", direction, DIRECTIONS) or _choice(
            "status", status, CONSULTATION_STATUSES
        )
        if refused is not None:
            return refused
        items = consultations(ctx.store, request.app.state.clinic, direction=direction, status=status)
        ctx.audit(
            "read:consultations",
            detail={"direction": direction, "status": status, "records": [i["id"] for i in items]},
        )
        return Response({"consultations": items})

    @post(
        "/consultations/{record_id:str}/answer",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=201,
    )
    def answer(self, request: Req, record_id: FromPath[str], data: JSONBody[dict[str, Any]]) -> Answer:
        """Answer a consultation asked of this clinic: ``{"answer"}`` (a new version of the request)."""
        ctx = Ctx(request)
        text = _required(data, "answer")
        if isinstance(text, Response):
            return text
        try:
            env = answer_consultation(_clinic(ctx), record_id, text)
        except ReferralConflict as exc:
            return _conflict(exc)
        ctx.audit("consultation:answer", resident_id=env.resident_id, record_id=env.id)
        return Response({"id": env.id, "status": "answered", "record": env.as_dict()}, status_code=201)
