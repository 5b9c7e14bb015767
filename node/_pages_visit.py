"""The pages of a visit: recording it in the consulting room, the cashier, the pharmacy, the examinations."""

from __future__ import annotations

from typing import Any

from ._api_support import Ctx
from ._pages_base import Req

__all__ = ["VISIT_PAGES", "resident_context"]

VISIT_PAGES: list[Any] = []


def resident_context(request: Req, ctx: Ctx, resident_id: str) -> dict[str, Any]:
    """What ``_resident_visit.html`` needs on the resident page (called by ``_pages_resident``)."""
    return {}
