"""Medical services, inpatient: the medical-record home page, doctor's orders, discharge summary."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from ._facts import AsciiCode, Fact, LongText, Name, Note, blame, check_order
from ._medical import Money, PrescriptionItem
from ._registry import Body, Category, register
from ._types import DateStr, DateTimeStr, Icd10Code, RecordRef, ShortText, code_in

__all__ = [
    "DischargeDiagnosis",
    "DischargeSummary",
    "InpatientOrder",
    "InpatientStay",
    "Operation",
    "exactly_one_primary",
]

AdmissionRouteCode = Annotated[str, code_in("admission_route")]
DiagnosisOutcomeCode = Annotated[str, code_in("diagnosis_outcome")]
DischargeOutcomeCode = Annotated[str, code_in("discharge_outcome")]
DoseUnitCode = Annotated[str, code_in("dose_unit")]
DrugCode = Annotated[str, code_in("drug")]
FrequencyCode = Annotated[str, code_in("frequency")]
OrderDurationCode = Annotated[str, code_in("inpatient_order_kind")]
RouteCode = Annotated[str, code_in("route")]


class DischargeDiagnosis(Body):
    icd10: Icd10Code
    primary: bool = False
    outcome: DiagnosisOutcomeCode | None = None
    note: Note | None = None


def exactly_one_primary(diagnoses: Sequence[DischargeDiagnosis], field: str) -> None:
    """A non-empty diagnosis list names exactly one principal diagnosis (主要诊断)."""
    if not diagnoses:
        return
    primaries = [i for i, d in enumerate(diagnoses) if d.primary]
    if not primaries:
        raise blame(field, "mark one diagnosis as primary (the principal diagnosis)")
    if len(primaries) > 1:
        raise blame(
            f"{field}.{primaries[1]}.primary",
            "only one diagnosis can be primary; {first} is already primary",
            first=f"{field}.{primaries[0]}",
        )


# --- inpatient stay: the medical-record home page (病案首页) ------------------------------


class Operation(Body):
    name: ShortText
    date: DateStr
    code: AsciiCode | None = None  # ICD-9-CM-3 operation code when known
    surgeon: Name | None = None


@register(
    "inpatient_stay",
    category=Category.MEDICAL_SERVICE,
    subcategory="inpatient",
    date_field="admission_time",
    title_zh="住院病案首页",
    title_en="Inpatient stay (medical-record home page)",
)
class InpatientStay(Fact):
    past_fields = ("discharge_time",)

    inpatient_number: AsciiCode | None = None
    admission_time: DateTimeStr
    admission_route: AdmissionRouteCode | None = None
    discharge_time: DateTimeStr | None = None  # absent while the patient is still in hospital
    department: Name
    ward: Name | None = None
    bed: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    admitting_diagnosis: Icd10Code
    discharge_diagnoses: list[DischargeDiagnosis] = Field(default_factory=list, max_length=30)
    operations: list[Operation] = Field(default_factory=list, max_length=20)
    attending_doctor: Name | None = None
    outcome: DischargeOutcomeCode | None = None
    total_cost: Money | None = None
    insurance_paid: Money | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_order("admission_time", self.admission_time, "discharge_time", self.discharge_time)
        if self.discharge_time is None:
            for name in ("outcome", "discharge_diagnoses"):
                if getattr(self, name):
                    raise blame(name, "needs discharge_time: the patient has not been discharged")
        exactly_one_primary(self.discharge_diagnoses, "discharge_diagnoses")
        for i, op in enumerate(self.operations):
            at = f"operations.{i}.date"
            check_order("admission_time", self.admission_time, at, op.date)
            check_order(at, op.date, "discharge_time", self.discharge_time, blame_earlier=True)
        if (
            self.total_cost is not None
            and self.insurance_paid is not None
            and self.insurance_paid > self.total_cost
        ):
            raise blame(
                "insurance_paid",
                "{paid} is more than total_cost {total}",
                paid=str(self.insurance_paid),
                total=str(self.total_cost),
            )
        return self


# --- doctor's orders (医嘱) ----------------------------------------------------------------


@register(
    "inpatient_order",
    category=Category.MEDICAL_SERVICE,
    subcategory="inpatient",
    date_field="ordered_at",
    title_zh="住院医嘱",
    title_en="Inpatient doctor's order",
)
class InpatientOrder(Fact):
    past_fields = ("stopped_at",)

    stay_id: RecordRef
    ordered_at: DateTimeStr
    kind: OrderDurationCode  # long_term (长期医嘱) or temporary (临时医嘱)
    content: Annotated[str, Field(min_length=1, max_length=500)]
    drug: DrugCode | None = None
    dose: Annotated[Decimal, Field(gt=0, le=100_000, max_digits=10, decimal_places=3)] | None = None
    dose_unit: DoseUnitCode | None = None
    route: RouteCode | None = None
    frequency: FrequencyCode | None = None
    doctor: Name | None = None
    stopped_at: DateTimeStr | None = None
    stopped_by: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.dose is None) != (self.dose_unit is None):
            missing = "dose_unit" if self.dose_unit is None else "dose"
            raise blame(
                missing,
                "is required when {other} is given",
                other="dose" if missing == "dose_unit" else "dose_unit",
            )
        if self.drug is not None:
            for name in ("dose", "route"):
                if getattr(self, name) is None:
                    raise blame(name, "is required for a drug order")
            if self.kind == "long_term" and self.frequency is None:
                raise blame("frequency", "is required for a long-term drug order")
        if self.stopped_at is not None and self.kind != "long_term":
            raise blame("stopped_at", "only a long-term order is stopped; a temporary order is not")
        check_order("ordered_at", self.ordered_at, "stopped_at", self.stopped_at)
        return self


# --- discharge summary (出院小结) -----------------------------------------------------------


@register(
    "discharge_summary",
    category=Category.MEDICAL_SERVICE,
    subcategory="inpatient",
    date_field="discharge_time",
    title_zh="出院小结",
    title_en="Discharge summary",
)
class DischargeSummary(Fact):
    stay_id: RecordRef
    admission_time: DateTimeStr | None = None
    discharge_time: DateTimeStr
    admission_condition: LongText | None = None
    course_in_hospital: Annotated[str, Field(min_length=1, max_length=20_000)]
    discharge_condition: Annotated[str, Field(min_length=1, max_length=5000)]
    discharge_diagnoses: list[DischargeDiagnosis] = Field(min_length=1, max_length=30)
    discharge_medication: list[PrescriptionItem] = Field(default_factory=list, max_length=30)
    follow_up_advice: LongText | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_order(
            "admission_time",
            self.admission_time,
            "discharge_time",
            self.discharge_time,
            blame_earlier=True,
        )
        exactly_one_primary(self.discharge_diagnoses, "discharge_diagnoses")
        return self
