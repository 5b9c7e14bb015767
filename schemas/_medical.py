"""Medical services: outpatient encounters and prescriptions (inpatient types below them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ._registry import Body, Category, register
from ._types import DateTimeStr, Icd10Code, RecordRef, ShortText, code_in

__all__ = [
    "Charge",
    "Diagnosis",
    "Encounter",
    "Order",
    "Prescription",
    "PrescriptionItem",
    "Vitals",
]

Money = Annotated[Decimal, Field(ge=0, le=1_000_000, max_digits=10, decimal_places=2)]


class Vitals(Body):
    temperature_c: float | None = Field(default=None, ge=30, le=45)
    pulse: int | None = Field(default=None, ge=20, le=250)
    respiration: int | None = Field(default=None, ge=4, le=80)
    systolic: int | None = Field(default=None, ge=50, le=300)
    diastolic: int | None = Field(default=None, ge=20, le=200)
    height_cm: float | None = Field(default=None, ge=30, le=250)
    weight_kg: float | None = Field(default=None, ge=0.5, le=300)
    spo2: int | None = Field(default=None, ge=50, le=100)

    @model_validator(mode="after")
    def _pressure_order(self) -> Vitals:
        if self.systolic is not None and self.diastolic is not None and self.diastolic >= self.systolic:
            raise PydanticCustomError(
                "vitals",
                "{d} must be lower than systolic {s}",
                {"d": self.diastolic, "s": self.systolic, "field": "diastolic"},
            )
        return self


class Diagnosis(Body):
    icd10: Icd10Code
    primary: bool = False
    note: str | None = Field(default=None, max_length=500)


class Order(Body):
    kind: Annotated[str, code_in("order_kind")]
    item: ShortText
    note: str | None = Field(default=None, max_length=500)


class Charge(Body):
    item: ShortText
    category: Annotated[str, code_in("charge_category")]
    quantity: Annotated[Decimal, Field(gt=0, le=10_000, max_digits=8, decimal_places=2)] = Decimal(1)
    unit_price: Money
    insurance_covered: bool = True


@register(
    "encounter",
    category=Category.MEDICAL_SERVICE,
    subcategory="outpatient",
    date_field="visit_time",
    title_zh="门诊就诊记录",
    title_en="Outpatient encounter",
)
class Encounter(Body):
    visit_time: DateTimeStr
    department: str | None = Field(default=None, max_length=50)
    doctor: str | None = Field(default=None, max_length=50)
    chief_complaint: Annotated[str, Field(min_length=1, max_length=500)]
    present_illness: str | None = Field(default=None, max_length=5000)
    physical_exam: str | None = Field(default=None, max_length=5000)
    vitals: Vitals = Field(default_factory=Vitals)
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=20)
    orders: list[Order] = Field(default_factory=list, max_length=50)
    charges: list[Charge] = Field(default_factory=list, max_length=100)
    advice: str | None = Field(default=None, max_length=2000)


class PrescriptionItem(Body):
    drug: Annotated[str, code_in("drug")]
    dose: Annotated[Decimal, Field(gt=0, le=100_000, max_digits=10, decimal_places=3)]
    dose_unit: Annotated[str, code_in("dose_unit")]
    route: Annotated[str, code_in("route")]
    frequency: Annotated[str, code_in("frequency")]
    days: int = Field(ge=1, le=180)
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Money | None = None


@register(
    "prescription",
    category=Category.MEDICAL_SERVICE,
    subcategory="outpatient",
    date_field="prescribed_at",
    title_zh="处方",
    title_en="Prescription",
)
class Prescription(Body):
    encounter_id: RecordRef | None = None
    prescribed_at: DateTimeStr
    doctor: str | None = Field(default=None, max_length=50)
    items: list[PrescriptionItem] = Field(min_length=1, max_length=30)
    note: str | None = Field(default=None, max_length=1000)
