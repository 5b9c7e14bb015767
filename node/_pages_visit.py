"""The pages of a visit: recording it in the consulting room, the cashier, the pharmacy, the examinations."""

from __future__ import annotations

from typing import Any

__all__ = ["VISIT_PAGES"]

VISIT_PAGES: list[Any] = []
