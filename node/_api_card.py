"""The resident health card at the desk: identify the card's holder, and what to write after a visit.

The desk's card reader sends what it read, byte for byte (``cardreader.CardFiles``);
the node checks it itself against the hub key it learned at enrolment, never
trusting the reader's judgement.

Rules:
1. ``POST /api/v1/card/read`` needs ``resident.search`` (identifying a person at
   the desk). The card's emergency data and recent visits are shown only to a
   role that may read allergy and encounter records (``_access``); others get
   the holder's identity and the node's summary, and ``withheld`` says what not.
2. Every read is audited (``read:card``) before the answer leaves the node,
   with the resident when the card matches one here, and refused or failed
   checks too (the card number and the reason, in the audit log only).
3. A card that fails its checks answers 422 with ``verified: false``, the
   ``reason`` and the desk message; an expired card answers 200 with
   ``expired: true`` and a warning, because its emergency data is genuine.
4. ``POST /api/v1/card/visit`` needs ``record.write``: it answers the ring record
   and the emergency notes to write to the card still in the reader.
5. A node that is not enrolled has no hub key: card routes answer 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.params import JSONBody

from cardreader import (
    CardError,
    CardExpired,
    CardFiles,
    CardRead,
    UntrustedNode,
    open_card,
)
from schemas import FieldError, RecordInvalid

from ._access import Permission
from ._api_support import Ctx
from ._auth import Staff
from ._cards import card_writes, match_card, node_emergency
from ._web_auth import require

__all__ = ["CardController", "card_error", "card_view", "identify", "open_files", "open_presented"]

Req = Request[Staff, Any, Any]


def _files(data: dict[str, Any]) -> CardFiles:
    try:
        return CardFiles.from_json(data.get("card"))
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise RecordInvalid([FieldError(field, message or str(exc))]) from None


def _trust(request: Req) -> bytes:
    trust: bytes | None = request.app.state.card_trust
    if trust is None:
        raise UntrustedNode(
            "this node is not enrolled with a hub, so it cannot tell a genuine health card from a forged "
            "one: enrol it (rhip node enroll) and restart it"
        )
    return trust


def _today() -> dt.date:
    return dt.datetime.now().date()


def checked(files: CardFiles, trust: bytes) -> tuple[CardRead, str | None]:
    """The checked card and, for an expired one (still shown), a warning; else the CardError."""
    try:
        return open_card(files, trust=trust, today=_today()), None
    except CardExpired as exc:
        return exc.card, str(exc)


def _open(ctx: Ctx, files: CardFiles, trust: bytes) -> tuple[CardRead, str | None]:
    """The checked card and a warning, or the audited refusal."""
    try:
        return checked(files, trust)
    except CardError as exc:
        ctx.audit("read:card", detail={"verified": False, "reason": exc.reason})
        raise


def open_presented(ctx: Ctx, data: dict[str, Any]) -> tuple[CardRead, str | None]:
    """The card in a request (``{"card": <CardFiles JSON>}``), checked; failures audited and raised."""
    return _open(ctx, _files(data), _trust(ctx.request))


def card_view(ctx: Ctx, card: CardRead) -> tuple[dict[str, Any], list[str]]:
    """What the caller's role may see of a card, and the names of the parts withheld (rule 1)."""
    readable = ctx.readable()
    shown = card.as_json()
    withheld = []
    if "allergy" not in readable:
        shown.pop("emergency")
        withheld.append("emergency")
    if "encounter" not in readable:
        shown.pop("visits")
        withheld.append("visits")
    return shown, withheld


def open_files(ctx: Ctx, files: CardFiles) -> tuple[CardRead, str | None]:
    """A card read by the node's own desk reader, checked as a presented one (failures audited, raised)."""
    return _open(ctx, files, _trust(ctx.request))


def identify(ctx: Ctx, card: CardRead, warning: str | None) -> dict[str, Any]:
    """The checked card's holder here and what the role may see of the card, audited as ``read:card``."""
    match = match_card(ctx.store, card.content)
    readable = ctx.readable()
    shown, withheld = card_view(ctx, card)
    resident = None
    node_side: dict[str, Any] | None = None
    if match is not None:
        resident = ctx.store.resident_summaries([match.resident_id])[0]
        if "allergy" in readable:
            here = node_emergency(ctx.store, match.resident_id)
            node_side = {
                "allergies": [
                    {"substance": a.substance, "reaction": a.reaction, "severity": a.severity}
                    for a in here.allergies
                ],
                "conditions": list(here.conditions),
            }
    ctx.audit(
        "read:card",
        resident_id=match.resident_id if match else None,
        detail={
            "card_number": card.content.issuer.card_number,
            "verified": True,
            "expired": card.expired,
        },
    )
    return {
        "verified": True,
        "expired": card.expired,
        "warning": warning,
        "source": "node" if match else "card",
        "matched_by": match.matched_by if match else None,
        "resident": resident,
        "card": shown,
        "node_emergency": node_side,
        "withheld": withheld,
    }


class CardController(Controller):
    path = "/api/v1/card"
    tags = ("card",)

    @post("/read", guards=[require(Permission.SEARCH)], sync_to_thread=True, status_code=200)
    def read(self, request: Req, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """Who holds this card and what matters in an emergency: ``{"card": <CardFiles JSON>}``."""
        ctx = Ctx(request)
        card, warning = open_presented(ctx, data)
        return identify(ctx, card, warning)

    @post("/visit", guards=[require(Permission.WRITE_RECORDS)], sync_to_thread=True, status_code=200)
    def visit(self, request: Req, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """What to write to the card at the end of a visit: ``{"card": …, "encounter_id": "…"}``."""
        ctx = Ctx(request)
        encounter_id = data.get("encounter_id")
        if not isinstance(encounter_id, str) or not encounter_id:
            raise RecordInvalid([FieldError("encounter_id", "is required (the visit's encounter record id)")])
        card, _ = _open(ctx, _files(data), _trust(request))
        match = match_card(ctx.store, card.content)
        if match is None:
            raise RecordInvalid(
                [FieldError("card", "belongs to no resident of this node; register them first")]
            )
        writes = card_writes(
            ctx.store,
            match.resident_id,
            encounter_id,
            card.content,
            clinic=request.app.state.clinic,
            clinic_name=request.app.state.name,
            today=_today(),
        )
        ctx.audit("write:card", resident_id=match.resident_id, record_id=encounter_id, reason="care")
        return writes.as_json(card.content)


def card_error(_: Request[Any, Any, Any], exc: CardError) -> Response[dict[str, Any]]:
    """A card that fails its checks (422), or a node that cannot check cards (409)."""
    status = 409 if isinstance(exc, UntrustedNode) else 422
    return Response(
        {"status_code": status, "verified": False, "reason": exc.reason, "detail": str(exc)},
        status_code=status,
    )
