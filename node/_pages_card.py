"""The card at the registration desk, in the pages: a presented card opens its holder at once.

Rules:
1. The desk page watches the desk reader (``_card_desk``) through ``/desk/card``,
   a fragment it refreshes every second with the presentation number it has
   seen. A newer card answers ``HX-Redirect`` to ``/desk/card/{seq}``: the card
   opens on its own, with no key pressed. Without scripts, the fragment's link does it.
2. Opening checks the card and finds its holder exactly as ``POST /api/v1/card/read``
   (``_api_card.identify``: same permission, same ``read:card`` audit). A holder
   registered here gets the resident page with the card's emergency data first;
   a holder unknown here gets the card's identity and emergency data, and, for
   roles that may register, "register from the card" (``desk:card-registration``,
   as the API). A card that fails its checks gets its desk message (422).
3. A presentation opens only while that card is still in the reader: once it is
   withdrawn the node has forgotten it (410).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from cardreader import CONDITIONS, CardError, CardRead, UntrustedNode

from ._access import Permission
from ._api_card import identify, open_files
from ._api_desk import register_holder
from ._api_support import Ctx
from ._card_desk import DeskReader, Presented
from ._pages_base import PAGE_ERRORS, Req, desk_reader, page_lang, render
from ._pages_resident import resident_page
from ._pages_views import code_label, mask_id, sees_full_id
from ._web_auth import require

__all__ = ["CardPages", "card_panel", "reader_view"]

_REFRESH = "1s"


def card_panel(shown: dict[str, Any], *, warning: str | None, lang: str, full_id: bool) -> dict[str, Any]:
    """The card as the panel shows it: the holder, the emergency data if the role sees it, the warning."""
    holder = dict(shown["holder"])
    holder["sex_label"] = code_label("sex", holder.get("sex"), lang)
    if not full_id:
        holder["id_number"] = mask_id(holder.get("id_number"))
    emergency = shown.get("emergency")
    if emergency is not None:

        def label(code: str) -> str:
            return CONDITIONS[code][lang == "en"] if code in CONDITIONS else code

        blood = emergency["blood"]
        rh = {"positive": "Rh+", "negative": "Rh-"}.get(blood["rh"], "")
        emergency = {
            "blood": None if blood["abo"] == "unknown" and not rh else f"{blood['abo']} {rh}".strip(),
            "allergies": emergency["allergies"]
            + [n["allergy"] for n in emergency["added_by_clinics"] if n.get("allergy")],
            "conditions": [label(c["code"]) for c in emergency["conditions"]]
            + [label(n["condition"]["code"]) for n in emergency["added_by_clinics"] if n.get("condition")],
            "contacts": emergency["contacts"],
        }
    return {
        "number": shown["card_number"],
        "expires_on": shown["issuer"]["expires_on"],
        "expired": shown["expired"],
        "warning": warning,
        "holder": holder,
        "emergency": emergency,
        "visits": shown.get("visits"),
    }


class CardPages(Controller):
    path = "/desk/card"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    guards = [require(Permission.SEARCH)]  # noqa: RUF012 - Litestar's layer attribute

    @get("/", sync_to_thread=False)
    def status(self, request: Req, seen: FromQuery[int] = 0) -> Response[str]:
        """The reader's state for the desk page; a card newer than ``seen`` opens itself (rule 1)."""
        reader = desk_reader(request)
        latest = reader.latest()
        headers = {}
        if latest is not None and latest.seq > seen:
            headers["HX-Redirect"] = f"/desk/card/{latest.seq}"
        response = render(request, "_card_status.html", reader=reader_view(reader))
        response.headers.update(headers)
        return response

    @get("/{seq:int}", sync_to_thread=True)
    def open(self, request: Req, seq: FromPath[int]) -> Response[str]:
        """The presented card's holder: their resident page, or the card alone (rule 2)."""
        ctx = Ctx(request)
        card = self._card(request, ctx, seq)
        if isinstance(card, Response):
            return card
        read, warning = card
        answer = identify(ctx, read, warning)
        panel = card_panel(
            answer["card"], warning=warning, lang=page_lang(request), full_id=sees_full_id(ctx.staff.role)
        )
        if answer["resident"] is not None and answer["resident"].get("id"):
            return resident_page(request, answer["resident"]["id"], card=panel)
        return render(request, "card.html", card=panel, seq=seq, error=None)

    @post("/{seq:int}/register", guards=[require(Permission.REGISTER)], sync_to_thread=True, status_code=303)
    def register(self, request: Req, seq: FromPath[int]) -> Response[Any]:
        """Register the card's holder here from the verified card (provisional; the hub links them),
        as ``POST /api/v1/desk/card-registration``."""
        ctx = Ctx(request)
        card = self._card(request, ctx, seq)
        if isinstance(card, Response):
            return card
        register_holder(ctx, request.app.state.desk, card[0], via="page")
        return Redirect(f"/desk/card/{seq}", status_code=303)

    def _card(self, request: Req, ctx: Ctx, seq: int) -> tuple[CardRead, str | None] | Response[str]:
        """Presentation ``seq``, checked; else the page saying why (withdrawn 410, refused 422/409)."""
        presented = desk_reader(request).get(seq)
        if presented is None:
            return render(request, "card.html", status=410, card=None, seq=seq, error={"reason": "withdrawn"})
        return self._checked(request, ctx, presented)

    def _checked(
        self, request: Req, ctx: Ctx, presented: Presented
    ) -> tuple[CardRead, str | None] | Response[str]:
        error: CardError | None = presented.error
        if error is None and presented.files is not None:
            try:
                return open_files(ctx, presented.files)
            except CardError as exc:
                error = exc
        assert error is not None
        status = 409 if isinstance(error, UntrustedNode) else 422
        return render(
            request,
            "card.html",
            status=status,
            card=None,
            seq=presented.seq,
            error={"reason": error.reason, "message": str(error)},
        )


def reader_view(reader: DeskReader) -> dict[str, Any]:
    """The desk reader as the desk page shows it, and the presentation number it has seen."""
    latest = reader.latest()
    return {
        "status": reader.status,
        "seq": latest.seq if latest is not None else reader.seq,
        "open": f"/desk/card/{latest.seq}" if latest is not None else None,
        "refresh": _REFRESH,
    }
