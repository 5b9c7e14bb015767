"""Lab and imaging (PACS) reports.

A lab item's abnormal flag is never left to chance: when the value and a numeric
reference range are both known, an omitted flag is derived from them and a given
flag must agree with them.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from ._facts import AsciiCode, Fact, Name, blame, check_order, matching
from ._registry import Body, Category, register
from ._types import DateTimeStr, RecordRef, ShortText, code_in

__all__ = ["ImagingReport", "LabItem", "LabReport"]

AbnormalFlagCode = Annotated[str, code_in("abnormal_flag")]
BodyPartCode = Annotated[str, code_in("body_part")]
ModalityCode = Annotated[str, code_in("modality")]
SpecimenCode = Annotated[str, code_in("specimen")]

Finite = Annotated[float, Field(allow_inf_nan=False)]
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_VALUE_MAX = 200


def _lab_value(value: Any) -> float | str:
    """A result is a finite number or a short text ("阴性", "<0.5", "1:320")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise PydanticCustomError("lab_value", "{value} is not a finite number", {"value": value})
        return float(value)
    if isinstance(value, str) and 0 < len(value.strip()) <= _VALUE_MAX:
        return value.strip()
    raise PydanticCustomError(
        "lab_value",
        "{value} is not a result: give a number or a text of 1-200 characters",
        {"value": repr(value)[:40]},
    )


LabValue = Annotated[float | str, BeforeValidator(_lab_value)]


def _numeric(value: float | str) -> float | None:
    """The number a result states, if it states one plainly ("5.6" yes, "<0.5" or "阴性" no)."""
    if isinstance(value, float):
        return value
    text = value.strip()
    return float(text) if _NUMBER_RE.match(text) else None


class LabItem(Body):
    code: AsciiCode | None = None  # LOINC or the lab's own code
    name: ShortText
    value: LabValue
    unit: Annotated[str, Field(max_length=30)] | None = None
    reference_low: Finite | None = None
    reference_high: Finite | None = None
    reference_range: Annotated[str, Field(max_length=100)] | None = None  # as printed: "<5.2"
    abnormal: AbnormalFlagCode | None = None

    @model_validator(mode="after")
    def _flag_agrees(self) -> Self:
        low, high = self.reference_low, self.reference_high
        if low is not None and high is not None and low > high:
            raise blame("reference_high", "{high} is below reference_low {low}", high=high, low=low)
        number = _numeric(self.value)
        if number is None or (low is None and high is None):
            return self
        if high is not None and number > high:
            implied = "H"
        elif low is not None and number < low:
            implied = "L"
        else:
            implied = "N"
        if self.abnormal is None:
            object.__setattr__(self, "abnormal", implied)
            return self
        agrees = {
            "N": implied == "N",
            "H": implied == "H",
            "HH": implied == "H",
            "L": implied == "L",
            "LL": implied == "L",
            "A": implied != "N",
        }[self.abnormal]
        if not agrees:
            raise blame(
                "abnormal",
                "flag {flag} contradicts value {value} with reference range {range} "
                "(the value is {where}); correct the flag, the value or the range",
                flag=self.abnormal,
                value=self.value,
                range=f"{'' if low is None else low}–{'' if high is None else high}",
                where={"N": "within range", "H": "above range", "L": "below range"}[implied],
            )
        return self


@register(
    "lab_report",
    category=Category.LAB_IMAGING,
    subcategory="lab",
    date_field="reported_at",
    title_zh="检验报告",
    title_en="Lab report",
)
class LabReport(Fact):
    past_fields = ("collected_at",)

    reported_at: DateTimeStr
    collected_at: DateTimeStr | None = None
    specimen: SpecimenCode
    panel_name: ShortText
    panel_code: AsciiCode | None = None
    encounter_id: RecordRef | None = None  # the encounter that ordered it
    items: list[LabItem] = Field(min_length=1, max_length=200)
    lab_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    reported_by: Name | None = None
    reviewer: Name | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_order("collected_at", self.collected_at, "reported_at", self.reported_at, blame_earlier=True)
        return self


_UID_MAX = 64


def _dicom_uid(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("uid", "{value} is not a DICOM UID", {"value": repr(value)})
    text = value.strip()
    if len(text) > _UID_MAX:
        raise PydanticCustomError(
            "uid", "is {n} characters long; a DICOM UID has at most 64", {"n": len(text)}
        )
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise PydanticCustomError(
            "uid",
            "{value} is not a DICOM UID (digits separated by dots, e.g. 1.2.840.10008...)",
            {"value": repr(text)},
        )
    for part in parts:
        if len(part) > 1 and part.startswith("0"):
            raise PydanticCustomError(
                "uid",
                "{value} is not a DICOM UID: component {part} has a leading zero",
                {"value": repr(text), "part": part},
            )
    return text


DicomUid = Annotated[str, BeforeValidator(_dicom_uid)]
AccessionNumber = Annotated[
    str, matching(r"[\x20-\x7e]{1,16}", "an accession number (up to 16 ASCII characters)")
]


@register(
    "imaging_report",
    category=Category.LAB_IMAGING,
    subcategory="imaging",
    date_field="reported_at",
    title_zh="影像检查报告",
    title_en="Imaging report",
)
class ImagingReport(Fact):
    past_fields = ("examined_at",)

    reported_at: DateTimeStr
    examined_at: DateTimeStr | None = None
    modality: ModalityCode
    body_part: BodyPartCode
    study_uid: DicomUid | None = None
    accession_number: AccessionNumber | None = None
    encounter_id: RecordRef | None = None
    findings: Annotated[str, Field(max_length=10_000)] | None = None
    conclusion: Annotated[str, Field(min_length=1, max_length=5000)]
    positive: bool
    reporting_doctor: Name
    reviewing_doctor: Name | None = None
    institution: Annotated[str, Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_order("examined_at", self.examined_at, "reported_at", self.reported_at, blame_earlier=True)
        return self
