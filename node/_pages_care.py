"""The pages of continuing care: follow-ups, referrals, consultations, the shared summary, break-glass."""

from __future__ import annotations

from typing import Any

__all__ = ["CARE_PAGES"]

CARE_PAGES: list[Any] = []
