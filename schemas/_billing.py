"""The cashier's and the pharmacy's records of a visit: payment, refund, dispensing.

Money is whole fen (``_money``). A payment settles charge lines; each line names
what it charges for (``source``, ``ref`` — a fact id —, ``index``, ``code``: the
visit's registration fees, a consultation's fees, a prescription item, an
examination order). A payment is
never edited: a refund reverses the whole payment and withdraws the lines given
back; the lines kept are settled again by a new payment that ``replaces`` it
(全退全收, as the insurance schemes settle it). A dispensing names the
prescription and the items and quantities handed over.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from ._codes import code_list
from ._facts import Fact, Name, Note, blame, matching
from ._registry import Body, Category, register
from ._types import DateTimeStr, RecordRef, ShortText, code_in
from ._visit import InsuranceNumber

__all__ = ["ChargeLine", "Dispense", "DispenseItem", "Payment", "Refund", "RefundLine", "Settlement"]

Fen = Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)]
ReceiptNumber = Annotated[
    str, matching(r"[0-9A-Za-z-]{6,40}", "a receipt number (6-40 letters, digits or -)")
]
Quantity = Annotated[int, Field(ge=1, le=10_000, strict=True)]
Index = Annotated[int, Field(ge=0, le=200, strict=True)]


class ChargeLine(Body):
    source: Annotated[str, code_in("charge_source")]
    ref: RecordRef  # the fact that charges it: visit, consultation step, prescription, order
    index: Index = 0  # the item within that record
    code: Annotated[str, Field(min_length=1, max_length=60)]  # drug or service code
    name: ShortText
    category: Annotated[str, code_in("charge_category")]
    quantity: Quantity
    unit_price_fen: Fen
    amount_fen: Fen
    insured: bool

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        catalogue = "drug" if self.source == "drug" else "service"
        if self.code not in code_list(catalogue):
            raise blame("code", "{code} is not in the {cat} catalogue", code=self.code, cat=catalogue)
        if self.amount_fen != self.quantity * self.unit_price_fen:
            raise blame(
                "amount_fen",
                "{amount} is not quantity {q} x unit_price_fen {p}",
                amount=self.amount_fen,
                q=self.quantity,
                p=self.unit_price_fen,
            )
        return self

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.source, self.ref, self.index, self.code)


class Settlement(Body):
    """How the total was divided (``_money.split``), kept so anyone can check it."""

    scheme: Annotated[str, code_in("insurance_scheme")]
    insurance_number: InsuranceNumber | None = None
    eligible_fen: Fen
    deductible_fen: Fen
    ratio_permille: int = Field(ge=0, le=1000, strict=True)
    cap_remaining_fen: Fen | None = None
    insurance_fen: Fen
    self_fen: Fen


def _keys_unique(lines: list[ChargeLine]) -> None:
    seen: set[tuple[str, str, int, str]] = set()
    for i, line in enumerate(lines):
        if line.key in seen:
            raise blame(f"lines.{i}", "charges {ref} item {index} twice", ref=line.ref, index=line.index)
        seen.add(line.key)


@register(
    "payment",
    category=Category.MEDICAL_SERVICE,
    subcategory="outpatient",
    date_field="paid_at",
    title_zh="门诊收费",
    title_en="Outpatient payment",
)
class Payment(Fact):
    visit_id: RecordRef
    paid_at: DateTimeStr
    receipt_number: ReceiptNumber
    lines: list[ChargeLine] = Field(min_length=1, max_length=200)
    total_fen: Fen
    settlement: Settlement
    method: Annotated[str, code_in("payment_method")]
    cashier: Name | None = None
    replaces: RecordRef | None = None  # the refunded payment whose kept lines this settles again

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        _keys_unique(self.lines)
        total = sum(line.amount_fen for line in self.lines)
        if self.total_fen != total:
            raise blame(
                "total_fen", "{given} is not the sum of the lines ({sum})", given=self.total_fen, sum=total
            )
        s = self.settlement
        if s.insurance_fen + s.self_fen != self.total_fen:
            raise blame(
                "settlement.self_fen",
                "insurance_fen {ins} + self_fen {own} is not total_fen {total}",
                ins=s.insurance_fen,
                own=s.self_fen,
                total=self.total_fen,
            )
        if s.eligible_fen > self.total_fen:
            raise blame("settlement.eligible_fen", "{e} is more than total_fen", e=s.eligible_fen)
        if s.deductible_fen > s.eligible_fen:
            raise blame("settlement.deductible_fen", "{d} is more than eligible_fen", d=s.deductible_fen)
        if s.insurance_fen > s.eligible_fen - s.deductible_fen:
            raise blame(
                "settlement.insurance_fen",
                "{i} is more than eligible_fen less deductible_fen ({cap})",
                i=s.insurance_fen,
                cap=s.eligible_fen - s.deductible_fen,
            )
        if s.scheme == "self_pay" and s.insurance_fen:
            raise blame("settlement.insurance_fen", "must be 0 for a self-paying resident")
        return self


class RefundLine(Body):
    """A payment line given back, whole or in part (``quantity``)."""

    source: Annotated[str, code_in("charge_source")]
    ref: RecordRef
    index: Index = 0
    code: Annotated[str, Field(min_length=1, max_length=60)]
    quantity: Quantity

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.source, self.ref, self.index, self.code)


@register(
    "refund",
    category=Category.MEDICAL_SERVICE,
    subcategory="outpatient",
    date_field="refunded_at",
    title_zh="门诊退费",
    title_en="Outpatient refund",
)
class Refund(Fact):
    """The reversal of one whole payment, withdrawing ``lines``; fund and resident get their shares back."""

    visit_id: RecordRef
    payment_id: RecordRef
    refunded_at: DateTimeStr
    refund_number: ReceiptNumber
    lines: list[RefundLine] = Field(min_length=1, max_length=200)
    total_fen: Fen
    insurance_fen: Fen
    self_fen: Fen
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    cashier: Name | None = None

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        if self.insurance_fen + self.self_fen != self.total_fen:
            raise blame(
                "self_fen",
                "insurance_fen {ins} + self_fen {own} is not total_fen {total}",
                ins=self.insurance_fen,
                own=self.self_fen,
                total=self.total_fen,
            )
        seen: set[tuple[str, str, int, str]] = set()
        for i, line in enumerate(self.lines):
            if line.key in seen:
                raise blame(f"lines.{i}", "withdraws {ref} item {i} twice", ref=line.ref, i=line.index)
            seen.add(line.key)
        return self


class DispenseItem(Body):
    index: Index  # the item of the prescription
    drug: Annotated[str, code_in("drug")]
    quantity: Quantity


@register(
    "dispense",
    category=Category.MEDICAL_SERVICE,
    subcategory="outpatient",
    date_field="dispensed_at",
    title_zh="发药记录",
    title_en="Medication dispensed",
)
class Dispense(Fact):
    visit_id: RecordRef
    prescription_id: RecordRef  # the prescription (its fact id)
    dispensed_at: DateTimeStr
    items: list[DispenseItem] = Field(min_length=1, max_length=30)
    pharmacist: Name | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _items_once(self) -> Self:
        seen: set[int] = set()
        for i, item in enumerate(self.items):
            if item.index in seen:
                raise blame(f"items.{i}.index", "item {index} is listed twice", index=item.index)
            seen.add(item.index)
        return self
