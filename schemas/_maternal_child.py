"""Key populations: maternal care (pregnancy registration to postpartum visit) and children 0-6.

The mother's records link to her pregnancy registration by ``pregnancy_id``, and a
delivery's newborns to their own resident records, so a child's file starts before birth.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import Field, model_validator

from ._facts import Fact, Name, Note, blame, calendar_day, check_order
from ._public_health import (
    Diastolic,
    EddTolerance,
    Finding,
    Hemoglobin,
    LongestPregnancy,
    PregnancyDays,
    Systolic,
    Weeks,
    check_next_after,
    check_pressure,
    check_referral,
)
from ._registry import Body, Category, register
from ._types import DateStr, DateTimeStr, RecordRef, ShortText, code_in

__all__ = [
    "ChildCheck",
    "Delivery",
    "FirstPrenatalCheck",
    "Newborn",
    "NewbornVisit",
    "PostpartumVisit",
    "PregnancyRegistration",
    "PrenatalVisit",
]

DeliveryModeCode = Annotated[str, code_in("delivery_mode")]
DeliveryPlaceCode = Annotated[str, code_in("delivery_place")]
FeedingCode = Annotated[str, code_in("feeding")]
GrowthEvalCode = Annotated[str, code_in("growth_eval")]
JaundiceCode = Annotated[str, code_in("jaundice")]
MaternalOutcomeCode = Annotated[str, code_in("maternal_outcome")]
NewbornOutcomeCode = Annotated[str, code_in("newborn_outcome")]
NormalAbnormalCode = Annotated[str, code_in("normal_abnormal")]
SexCode = Annotated[str, code_in("sex")]
TestResultCode = Annotated[str, code_in("test_result")]
UmbilicalCordCode = Annotated[str, code_in("umbilical_cord")]


# --- maternal care -------------------------------------------------------------------------


class FirstPrenatalCheck(Body):
    gestational_weeks: Weeks | None = None
    weight_kg: float | None = Field(default=None, ge=30, le=200)
    height_cm: float | None = Field(default=None, ge=120, le=200)
    systolic: Systolic | None = None
    diastolic: Diastolic | None = None
    hemoglobin: Hemoglobin | None = None
    hbsag: TestResultCode | None = None
    syphilis: TestResultCode | None = None
    hiv: TestResultCode | None = None
    findings: Note | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_pressure(self.systolic, self.diastolic)
        return self


@register(
    "pregnancy_registration",
    category=Category.KEY_POPULATION,
    subcategory="maternal",
    date_field="registered_on",
    title_zh="孕产妇建册登记",
    title_en="Pregnancy registration",
)
class PregnancyRegistration(Fact):
    past_fields = ("last_menstrual_period",)

    registered_on: DateStr
    last_menstrual_period: DateStr
    expected_delivery_date: DateStr | None = None  # LMP + 280 days unless corrected by ultrasound
    gravidity: int = Field(ge=1, le=20)  # pregnancies, this one included
    parity: int = Field(ge=0, le=19)  # births before this pregnancy
    high_risk_factors: list[ShortText] = Field(default_factory=list, max_length=20)
    husband_name: Name | None = None
    first_check: FirstPrenatalCheck | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        lmp = calendar_day(self.last_menstrual_period)
        check_order(
            "last_menstrual_period",
            self.last_menstrual_period,
            "registered_on",
            self.registered_on,
            blame_earlier=True,
        )
        weeks = (calendar_day(self.registered_on) - lmp).days // 7
        if weeks * 7 > LongestPregnancy:
            raise blame(
                "last_menstrual_period",
                "{lmp} is {weeks} weeks before registered_on; a pregnancy lasts at most 44 weeks",
                lmp=self.last_menstrual_period,
                weeks=weeks,
            )
        if self.parity >= self.gravidity:
            raise blame(
                "parity",
                "{p} earlier births cannot reach gravidity {g}, which counts this pregnancy",
                p=self.parity,
                g=self.gravidity,
            )
        derived = lmp + dt.timedelta(days=PregnancyDays)
        if self.expected_delivery_date is None:
            object.__setattr__(self, "expected_delivery_date", derived.isoformat())
        elif abs((calendar_day(self.expected_delivery_date) - derived).days) > EddTolerance:
            raise blame(
                "expected_delivery_date",
                "{edd} is more than 3 weeks from {derived} (last_menstrual_period + 280 days)",
                edd=self.expected_delivery_date,
                derived=derived.isoformat(),
            )
        return self


@register(
    "prenatal_visit",
    category=Category.KEY_POPULATION,
    subcategory="maternal",
    date_field="visit_date",
    title_zh="产前随访",
    title_en="Prenatal visit",
)
class PrenatalVisit(Fact):
    pregnancy_id: RecordRef  # fact id of the pregnancy_registration
    visit_date: DateStr
    gestational_weeks: Weeks
    gestational_days: int | None = Field(default=None, ge=0, le=6)
    weight_kg: float | None = Field(default=None, ge=30, le=200)
    systolic: Systolic | None = None
    diastolic: Diastolic | None = None
    fundal_height_cm: float | None = Field(default=None, ge=5, le=50)
    abdominal_circumference_cm: float | None = Field(default=None, ge=40, le=160)
    fetal_heart_rate: int | None = Field(default=None, ge=60, le=240)
    hemoglobin: Hemoglobin | None = None
    findings: Note | None = None
    high_risk: bool = False
    high_risk_factors: list[ShortText] = Field(default_factory=list, max_length=20)
    advice: Note | None = None
    referral: bool = False
    referral_reason: Note | None = None
    next_visit_date: DateStr | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_pressure(self.systolic, self.diastolic)
        if self.high_risk_factors and not self.high_risk:
            raise blame("high_risk", "is false but high_risk_factors are listed")
        check_referral(self.referral, self.referral_reason)
        check_next_after("visit_date", self.visit_date, "next_visit_date", self.next_visit_date)
        return self


class Newborn(Body):
    sex: SexCode
    outcome: NewbornOutcomeCode = "live"
    weight_g: int = Field(ge=300, le=7000)
    length_cm: float | None = Field(default=None, ge=20, le=70)
    apgar_1min: int | None = Field(default=None, ge=0, le=10)
    apgar_5min: int | None = Field(default=None, ge=0, le=10)
    birth_defects: Note | None = None
    child_resident_id: RecordRef | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.outcome == "stillbirth":
            for name in ("apgar_1min", "apgar_5min"):
                if getattr(self, name):
                    raise blame(name, "must be 0 for a stillbirth")
        return self


@register(
    "delivery",
    category=Category.KEY_POPULATION,
    subcategory="maternal",
    date_field="delivery_time",
    title_zh="分娩记录",
    title_en="Delivery",
)
class Delivery(Fact):
    pregnancy_id: RecordRef  # fact id of the pregnancy_registration
    delivery_time: DateTimeStr
    gestational_weeks: int = Field(ge=20, le=45)
    mode: DeliveryModeCode
    place: DeliveryPlaceCode
    place_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    outcome: MaternalOutcomeCode | None = None
    blood_loss_ml: int | None = Field(default=None, ge=0, le=10_000)
    complications: Note | None = None
    newborns: list[Newborn] = Field(min_length=1, max_length=8)
    attended_by: Name | None = None


@register(
    "postpartum_visit",
    category=Category.KEY_POPULATION,
    subcategory="maternal",
    date_field="visit_date",
    title_zh="产后访视",
    title_en="Postpartum visit",
)
class PostpartumVisit(Fact):
    pregnancy_id: RecordRef  # fact id of the pregnancy_registration
    visit_date: DateStr
    # A home visit in the first week, the health check at 42 days.
    days_after_delivery: int = Field(ge=0, le=90)
    temperature_c: float | None = Field(default=None, ge=30, le=45)
    systolic: Systolic | None = None
    diastolic: Diastolic | None = None
    general_health: Note | None = None
    mental_state: Finding | None = None
    breast: Finding | None = None
    lochia: Finding | None = None
    uterus: Finding | None = None
    wound: Finding | None = None  # perineal or caesarean wound, when there is one
    classification: NormalAbnormalCode
    advice: Note | None = None
    referral: bool = False
    referral_reason: Note | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_pressure(self.systolic, self.diastolic)
        if self.classification == "normal":
            for name in ("mental_state", "breast", "lochia", "uterus", "wound"):
                finding = getattr(self, name)
                if finding is not None and finding.status == "abnormal":
                    raise blame("classification", "is normal but {name} is abnormal", name=name)
        check_referral(self.referral, self.referral_reason)
        return self


# --- children 0-6 ------------------------------------------------------------------------------


@register(
    "newborn_visit",
    category=Category.KEY_POPULATION,
    subcategory="child",
    date_field="visit_date",
    title_zh="新生儿家庭访视",
    title_en="Newborn home visit",
)
class NewbornVisit(Fact):
    visit_date: DateStr
    days_old: int = Field(ge=0, le=42)
    pregnancy_id: RecordRef | None = None  # the mother's pregnancy registration
    birth_weight_g: int | None = Field(default=None, ge=300, le=7000)
    weight_g: int | None = Field(default=None, ge=300, le=10_000)
    temperature_c: float | None = Field(default=None, ge=30, le=45)
    feeding: FeedingCode | None = None
    jaundice: JaundiceCode | None = None
    umbilical_cord: UmbilicalCordCode | None = None
    findings: Note | None = None
    advice: Note | None = None
    referral: bool = False
    referral_reason: Note | None = None
    next_visit_date: DateStr | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_referral(self.referral, self.referral_reason)
        check_next_after("visit_date", self.visit_date, "next_visit_date", self.next_visit_date)
        return self


@register(
    "child_check",
    category=Category.KEY_POPULATION,
    subcategory="child",
    date_field="check_date",
    title_zh="儿童健康检查",
    title_en="Well-child check",
)
class ChildCheck(Fact):
    check_date: DateStr
    age_months: int = Field(ge=0, le=83)
    weight_kg: float | None = Field(default=None, ge=1, le=60)
    height_cm: float | None = Field(default=None, ge=40, le=140)
    head_circumference_cm: float | None = Field(default=None, ge=25, le=60)
    weight_for_age: GrowthEvalCode | None = None
    height_for_age: GrowthEvalCode | None = None
    weight_for_height: GrowthEvalCode | None = None
    development_passed: bool | None = None  # age milestones of the development warning signs
    hemoglobin: Hemoglobin | None = None
    findings: Note | None = None
    advice: Note | None = None
    referral: bool = False
    referral_reason: Note | None = None
    next_check_date: DateStr | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_referral(self.referral, self.referral_reason)
        check_next_after("check_date", self.check_date, "next_check_date", self.next_check_date)
        return self
