"""The resident's consent to share sensitive records (severe mental disorder, HIV/STD, …) with other clinics.

A consent is a fact like any other: withdrawing it is a later consent record
that denies (or a correction of this one). The hub shares sensitive records
only while the newest current consent of the person permits it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ._facts import Fact, Name
from ._registry import Category, register
from ._types import DateStr, code_in

__all__ = ["Consent"]

ConsentDecisionCode = Annotated[str, code_in("consent_decision")]


@register(
    "consent",
    category=Category.PERSONAL,
    subcategory="consent",
    date_field="given_on",
    title_zh="信息共享知情同意",
    title_en="Consent to share sensitive records",
)
class Consent(Fact):
    given_on: DateStr
    decision: ConsentDecisionCode
    signed_by: Name  # the resident, or the guardian who signs for them
    guardian_relation: Annotated[str, code_in("relation")] | None = None  # when a guardian signs
    witness: Name | None = None
    note: Annotated[str, Field(max_length=500)] | None = None
