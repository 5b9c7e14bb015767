"""The resident page, rendered for a search hit, a queue line or a card presented at the desk.

The visit and care areas' parts of the page (``_resident_visit.html``,
``_resident_care.html``, included by ``resident.html``) fetch what they show themselves.
"""

from __future__ import annotations

from typing import Any

from litestar import Response

from ._access import DEFAULT_PURPOSE
from ._api_support import Ctx
from ._pages_base import Req, page_lang, page_today, render
from ._pages_views import code_label, emergency_view, person_row, tree_view
from ._tree import file_tree

__all__ = ["resident_page"]


def resident_page(
    request: Req, resident_id: str, *, card: dict[str, Any] | None = None, status: int = 200
) -> Response[str]:
    """Demographics, the emergency data and the health file tree, audited as the API's file tree.

    ``card``: the checked card just presented at the desk (``_pages_card``), shown first.
    """
    ctx = Ctx(request)
    lang, readable = page_lang(request), ctx.readable()
    tree = file_tree(ctx.store, resident_id, readable=readable)
    emergency = emergency_view(ctx.store, resident_id, readable=readable, lang=lang)
    why = DEFAULT_PURPOSE[ctx.staff.role]  # the purpose the API records for this role
    ctx.audit("read:file-tree", resident_id=resident_id, reason=why, detail={"via": "page"})
    for mother_id in tree["mother_records_read"]:
        ctx.audit("read:prenatal-via-child", resident_id=mother_id, detail={"child": resident_id}, reason=why)
    resident = tree["resident"]
    person = person_row(resident, role=ctx.staff.role, today=page_today(request), lang=lang)
    return render(
        request,
        "resident.html",
        status=status,
        person=person,
        address=code_label("division", (resident.get("address") or {}).get("division_code"), lang),
        emergency=emergency,
        categories=tree_view(tree, lang=lang),
        links=tree["links"],
        clinical=bool(readable),
        card=card,
    )
