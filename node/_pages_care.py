"""The pages of continuing care: follow-ups, referrals, consultations, the shared summary, break-glass."""

from __future__ import annotations

from typing import Any

from ._api_support import Ctx
from ._pages_base import Req

__all__ = ["CARE_PAGES", "resident_context"]

CARE_PAGES: list[Any] = []


def resident_context(request: Req, ctx: Ctx, resident_id: str) -> dict[str, Any]:
    """What ``_resident_care.html`` needs on the resident page (called by ``_pages_resident``)."""
    return {}
