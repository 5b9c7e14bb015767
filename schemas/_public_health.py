"""Public health: the annual health examination and key-population management.

Key populations (national basic public health service): maternal care, children
0-6, the elderly, hypertension, type 2 diabetes, severe mental disorder and
tuberculosis. The mother's records link to her pregnancy registration by
``pregnancy_id``, and a delivery's newborns to their own resident records, so a
child's file starts before birth.

Values a form derives (BMI, expected delivery date, self-care total and level)
are filled in when omitted and must agree when given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Self

from pydantic import Field, model_validator

from ._facts import Fact, Name, Note, blame, calendar_day
from ._medical import Vitals
from ._registry import Body, Category, register
from ._types import DateStr, Icd10Code, ShortText, code_in

__all__ = [
    "AuxiliaryExams",
    "BmiRange",
    "BmiTolerance",
    "Diastolic",
    "EddTolerance",
    "ElderlyAssessment",
    "Finding",
    "Glucose",
    "HealthExam",
    "Hemoglobin",
    "Lifestyle",
    "LongestPregnancy",
    "OrganFunction",
    "PregnancyDays",
    "Systolic",
    "Weeks",
    "check_next_after",
    "check_none_alone",
    "check_pressure",
    "check_referral",
]


Systolic = Annotated[int, Field(ge=50, le=300)]
Diastolic = Annotated[int, Field(ge=20, le=200)]
Glucose = Annotated[float, Field(ge=1, le=35)]  # mmol/L
Hemoglobin = Annotated[int, Field(ge=30, le=250)]  # g/L
Weeks = Annotated[int, Field(ge=4, le=44)]

PregnancyDays = 280  # LMP to expected delivery (Naegele's rule)
EddTolerance = 21  # days an ultrasound-corrected due date may differ from LMP + 280
LongestPregnancy = 44 * 7
BmiTolerance = 0.5
BmiRange = (8.0, 80.0)

DietHabitCode = Annotated[str, code_in("diet_habit")]
DrinkingStatusCode = Annotated[str, code_in("drinking_status")]
ExamAssessmentCode = Annotated[str, code_in("exam_assessment")]
ExamSymptomCode = Annotated[str, code_in("exam_symptom")]
ExerciseFrequencyCode = Annotated[str, code_in("exercise_frequency")]
HealthGuidanceCode = Annotated[str, code_in("health_guidance")]
HearingCode = Annotated[str, code_in("hearing")]
MotorFunctionCode = Annotated[str, code_in("motor_function")]
NormalAbnormalCode = Annotated[str, code_in("normal_abnormal")]
SelfCareLevelCode = Annotated[str, code_in("self_care_level")]
SmokingStatusCode = Annotated[str, code_in("smoking_status")]


# --- checks shared by the forms ----------------------------------------------------------


def check_pressure(systolic: int | None, diastolic: int | None, field: str = "diastolic") -> None:
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        raise blame(field, "{d} must be lower than systolic {s}", d=diastolic, s=systolic)


def check_none_alone(codes: Sequence[str], field: str) -> None:
    """``none`` (无症状) cannot be ticked together with a symptom."""
    if "none" in codes and len(codes) > 1:
        raise blame(field, "lists none together with other codes; keep one or the other")


def check_referral(referral: bool, reason: str | None) -> None:
    if referral and not reason:
        raise blame("referral_reason", "is required when referral is true")
    if reason and not referral:
        raise blame("referral", "is false but a referral_reason is given")


def check_next_after(date_field: str, date: str, next_field: str, next_date: str | None) -> None:
    if next_date is not None and calendar_day(next_date) <= calendar_day(date):
        raise blame(
            next_field,
            "{next} is not after {what} {date}",
            next=next_date,
            what=date_field,
            date=date,
        )


class Finding(Body):
    """One examined item: normal, or abnormal with what was seen."""

    status: NormalAbnormalCode
    note: Note | None = None

    @model_validator(mode="after")
    def _abnormal_described(self) -> Self:
        if self.status == "abnormal" and not self.note:
            raise blame("note", "describe what is abnormal")
        return self


# --- health examination (健康体检) -------------------------------------------------------------


class Lifestyle(Body):
    smoking_status: SmokingStatusCode | None = None
    cigarettes_per_day: int | None = Field(default=None, ge=0, le=100)
    drinking_status: DrinkingStatusCode | None = None
    alcohol_liang_per_day: float | None = Field(default=None, ge=0, le=50)  # 两 of liquor
    exercise_frequency: ExerciseFrequencyCode | None = None
    exercise_minutes: int | None = Field(default=None, ge=0, le=600)
    diet: list[DietHabitCode] = Field(default_factory=list, max_length=6)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.smoking_status == "never" and self.cigarettes_per_day:
            raise blame(
                "cigarettes_per_day",
                "{n} a day, but smoking_status is never",
                n=self.cigarettes_per_day,
            )
        if self.drinking_status == "never" and self.alcohol_liang_per_day:
            raise blame(
                "alcohol_liang_per_day",
                "{n} a day, but drinking_status is never",
                n=self.alcohol_liang_per_day,
            )
        return self


Acuity = Annotated[float, Field(ge=0, le=2.0)]  # decimal visual acuity


class OrganFunction(Body):
    vision_left: Acuity | None = None
    vision_right: Acuity | None = None
    hearing: HearingCode | None = None
    motor_function: MotorFunctionCode | None = None


class AuxiliaryExams(Body):
    fasting_glucose: Glucose | None = None  # mmol/L
    blood_routine: Note | None = None
    urine_routine: Note | None = None
    ecg: Note | None = None
    chest_xray: Note | None = None
    b_ultrasound: Note | None = None


@register(
    "health_exam",
    category=Category.EXAMINATION,
    subcategory="examination",
    date_field="exam_date",
    title_zh="健康体检",
    title_en="Health examination",
)
class HealthExam(Fact):
    exam_date: DateStr
    symptoms: list[ExamSymptomCode] = Field(default_factory=list, max_length=25)
    symptoms_other: Note | None = None
    vitals: Vitals = Field(default_factory=Vitals)
    bmi: float | None = Field(default=None, ge=BmiRange[0], le=BmiRange[1])
    waist_cm: float | None = Field(default=None, ge=30, le=200)
    lifestyle: Lifestyle | None = None
    organ_function: OrganFunction | None = None
    physical_findings: Annotated[str, Field(max_length=5000)] | None = None
    auxiliary: AuxiliaryExams | None = None
    health_problems: list[Icd10Code] = Field(default_factory=list, max_length=30)
    assessment: ExamAssessmentCode | None = None
    abnormalities: list[ShortText] = Field(default_factory=list, max_length=20)
    guidance: list[HealthGuidanceCode] = Field(default_factory=list, max_length=15)
    guidance_note: Note | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_none_alone(self.symptoms, "symptoms")
        weight, height = self.vitals.weight_kg, self.vitals.height_cm
        if weight is not None and height is not None:
            computed = round(weight / (height / 100) ** 2, 1)
            if not BmiRange[0] <= computed <= BmiRange[1]:
                raise blame(
                    "vitals.weight_kg",
                    "{w} kg at height {h} cm gives BMI {computed}, which is not plausible; "
                    "check weight and height",
                    w=f"{weight:g}",
                    h=f"{height:g}",
                    computed=computed,
                )
            if self.bmi is None:
                object.__setattr__(self, "bmi", computed)
            elif abs(self.bmi - computed) > BmiTolerance:
                raise blame(
                    "bmi",
                    "{bmi} does not match weight {w} kg and height {h} cm (BMI {computed})",
                    bmi=f"{self.bmi:g}",
                    w=f"{weight:g}",
                    h=f"{height:g}",
                    computed=computed,
                )
        if self.assessment == "abnormal" and not self.abnormalities:
            raise blame("abnormalities", "list what is abnormal when assessment is abnormal")
        if self.assessment == "normal" and self.abnormalities:
            raise blame("abnormalities", "are listed but assessment is normal")
        return self


# --- the elderly: self-care assessment (老年人生活自理能力评估) ----------------------------

# Scores each item may take, by its four grades (independent ... dependent).
SELF_CARE_SCORES: dict[str, tuple[int, ...]] = {
    "eating": (0, 3, 5),
    "grooming": (0, 1, 3, 7),
    "dressing": (0, 3, 5),
    "toileting": (0, 1, 5, 10),
    "activity": (0, 1, 5, 10),
}
# Lowest total of each level: 0-3 self-sufficient, 4-8 mild, 9-18 moderate, 19+ dependent.
SELF_CARE_LEVELS: tuple[tuple[int, str], ...] = ((19, "3"), (9, "2"), (4, "1"), (0, "0"))


@register(
    "elderly_assessment",
    category=Category.KEY_POPULATION,
    subcategory="elderly",
    date_field="assessed_on",
    title_zh="老年人生活自理能力评估",
    title_en="Elderly self-care assessment",
)
class ElderlyAssessment(Fact):
    assessed_on: DateStr
    eating: int = Field(ge=0, le=10)
    grooming: int = Field(ge=0, le=10)
    dressing: int = Field(ge=0, le=10)
    toileting: int = Field(ge=0, le=10)
    activity: int = Field(ge=0, le=10)
    total: int | None = Field(default=None, ge=0, le=50)
    level: SelfCareLevelCode | None = None
    assessor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name, allowed in SELF_CARE_SCORES.items():
            if getattr(self, name) not in allowed:
                raise blame(
                    name,
                    "{v} is not a score of this item (one of {allowed})",
                    v=getattr(self, name),
                    allowed=", ".join(map(str, allowed)),
                )
        total = sum(getattr(self, name) for name in SELF_CARE_SCORES)
        if self.total is None:
            object.__setattr__(self, "total", total)
        elif self.total != total:
            raise blame(
                "total",
                "{given} is not the sum of the item scores ({total})",
                given=self.total,
                total=total,
            )
        level = next(code for lowest, code in SELF_CARE_LEVELS if total >= lowest)
        if self.level is None:
            object.__setattr__(self, "level", level)
        elif self.level != level:
            raise blame(
                "level",
                "{given} does not match total {total}, which is level {level}",
                given=self.level,
                total=total,
                level=level,
            )
        return self
