"""Medical services, inpatient: the medical-record home page, doctor's orders, discharge summary.

This module also holds the few checks every clinical record type below it shares
(``Fact``, ``blame``, ``check_order``): a fact cannot be dated after the caller's
today, and a check that fails names the one field a clerk must correct.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from ._medical import Money, PrescriptionItem
from ._registry import Body, Category, record_type, register, today_from
from ._types import CodeOf, DateStr, DateTimeStr, Icd10Code, RecordRef, ShortText

__all__ = [
    "AsciiCode",
    "DischargeDiagnosis",
    "DischargeSummary",
    "Fact",
    "InpatientOrder",
    "InpatientStay",
    "Name",
    "Operation",
    "blame",
    "calendar_day",
    "check_order",
    "exactly_one_primary",
    "matching",
]

if TYPE_CHECKING:  # mypy reads a code as the str it is; pydantic gets the validating type
    AdmissionRouteCode = str
    DiagnosisOutcomeCode = str
    DischargeOutcomeCode = str
    DoseUnitCode = str
    DrugCode = str
    FrequencyCode = str
    OrderDurationCode = str
    RouteCode = str
else:
    AdmissionRouteCode = CodeOf("admission_route")
    DiagnosisOutcomeCode = CodeOf("diagnosis_outcome")
    DischargeOutcomeCode = CodeOf("discharge_outcome")
    DoseUnitCode = CodeOf("dose_unit")
    DrugCode = CodeOf("drug")
    FrequencyCode = CodeOf("frequency")
    OrderDurationCode = CodeOf("inpatient_order_kind")
    RouteCode = CodeOf("route")

# --- shared checks -----------------------------------------------------------------


def blame(field: str, message: str, **values: Any) -> PydanticCustomError:
    """An error reported against ``field`` (a dotted path below the model that raises it)."""
    return PydanticCustomError("record", message, {**values, "field": field})


def calendar_day(value: str) -> dt.date:
    """The calendar day of a date or date-time string (local wall clock)."""
    return dt.date.fromisoformat(value[:10])


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _before(a: str, b: str) -> bool:
    """Whether ``a`` lies strictly before ``b``; a bare date compares by day."""
    if len(a) == 10 or len(b) == 10:
        return calendar_day(a) < calendar_day(b)
    x, y = _instant(a), _instant(b)
    if (x.tzinfo is None) != (y.tzinfo is None):  # one without offset: compare wall clocks
        x, y = x.replace(tzinfo=None), y.replace(tzinfo=None)
    return x < y


def check_order(
    earlier_field: str,
    earlier: str | None,
    later_field: str,
    later: str | None,
    *,
    blame_earlier: bool = False,
) -> None:
    """Raise when ``later_field`` lies before ``earlier_field``.

    The error is reported against ``later_field``, or against ``earlier_field``
    when that is the one more likely mistyped (a secondary date against the
    record's own date).
    """
    if earlier is None or later is None or not _before(later, earlier):
        return
    if blame_earlier:
        raise blame(
            earlier_field,
            "{earlier} is after {later_field} {later}",
            earlier=earlier,
            later_field=later_field,
            later=later,
        )
    raise blame(
        later_field,
        "{later} is before {earlier_field} {earlier}",
        later=later,
        earlier_field=earlier_field,
        earlier=earlier,
    )


def matching(regex: str, what: str) -> BeforeValidator:
    """A text validator: the whole (trimmed) value matches ``regex``, else "... is not {what}"."""
    compiled = re.compile(regex)

    def _match(value: Any) -> str:
        text = value.strip() if isinstance(value, str) else value
        if not isinstance(text, str) or not compiled.fullmatch(text):
            raise PydanticCustomError(
                "pattern", "{value} is not {what}", {"value": repr(value), "what": what}
            )
        return text

    return BeforeValidator(_match)


# A code issued by someone else (clinic, lab panel, operation, lot): short, printable ASCII.
AsciiCode = Annotated[
    str, matching(r"[0-9A-Za-z._/-]{1,20}", "a code (up to 20 letters, digits or . _ / -)")
]
Name = Annotated[str, Field(min_length=1, max_length=50)]
Note = Annotated[str, Field(max_length=2000)]
LongText = Annotated[str, Field(max_length=10_000)]


class Fact(Body):
    """A registered clinical record: its date field (and ``past_fields``) may not be in the future.

    Dates that look ahead (next visit, expected delivery, next dose due) are not listed.
    """

    past_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _not_in_future(self, info: ValidationInfo) -> Self:
        today = today_from(info)
        if today is None or not self.record_type_name:
            return self
        for name in (record_type(self.record_type_name).date_field, *self.past_fields):
            value = getattr(self, name)
            if isinstance(value, str) and calendar_day(value) > today:
                raise blame(
                    name,
                    "{value} is in the future (today is {today})",
                    value=value,
                    today=today.isoformat(),
                )
        return self


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
