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

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Self

from pydantic import Field, model_validator

from ._medical import Vitals
from ._medical_inpatient import Fact, Name, blame, calendar_day, check_order
from ._registry import Body, Category, register
from ._types import CodeOf, DateStr, DateTimeStr, Icd10Code, RecordRef, ShortText

__all__ = [
    "ChildCheck",
    "ChronicMedication",
    "Delivery",
    "DiabetesFollowup",
    "ElderlyAssessment",
    "HealthExam",
    "HypertensionFollowup",
    "MentalFollowup",
    "Newborn",
    "NewbornVisit",
    "PostpartumVisit",
    "PregnancyRegistration",
    "PrenatalVisit",
    "TbFollowup",
]

if TYPE_CHECKING:  # mypy reads a code as the str it is; pydantic gets the validating type
    AdherenceCode = str
    ControlStatusCode = str
    DangerousBehaviourCode = str
    DeliveryModeCode = str
    DeliveryPlaceCode = str
    DiabetesSymptomCode = str
    DietHabitCode = str
    DrinkingStatusCode = str
    DrugCode = str
    ExamAssessmentCode = str
    ExamSymptomCode = str
    ExerciseFrequencyCode = str
    FeedingCode = str
    FollowupMethodCode = str
    FrequencyCode = str
    FunctionLevelCode = str
    GrowthEvalCode = str
    HealthGuidanceCode = str
    HearingCode = str
    HospitalizationStatusCode = str
    HypertensionSymptomCode = str
    HypoglycemiaCode = str
    InsightCode = str
    JaundiceCode = str
    LockStatusCode = str
    MaternalOutcomeCode = str
    MentalClassificationCode = str
    MentalSymptomCode = str
    MotorFunctionCode = str
    NewbornOutcomeCode = str
    NormalAbnormalCode = str
    RehabilitationCode = str
    SaltIntakeCode = str
    SelfCareLevelCode = str
    SexCode = str
    SmokingStatusCode = str
    SputumResultCode = str
    TbDosingCode = str
    TbDrugCode = str
    TbOutcomeCode = str
    TbStageCode = str
    TbSupervisorCode = str
    TbSymptomCode = str
    TestResultCode = str
    TreatmentEffectCode = str
    UmbilicalCordCode = str
else:
    AdherenceCode = CodeOf("adherence")
    ControlStatusCode = CodeOf("control_status")
    DangerousBehaviourCode = CodeOf("dangerous_behaviour")
    DeliveryModeCode = CodeOf("delivery_mode")
    DeliveryPlaceCode = CodeOf("delivery_place")
    DiabetesSymptomCode = CodeOf("diabetes_symptom")
    DietHabitCode = CodeOf("diet_habit")
    DrinkingStatusCode = CodeOf("drinking_status")
    DrugCode = CodeOf("drug")
    ExamAssessmentCode = CodeOf("exam_assessment")
    ExamSymptomCode = CodeOf("exam_symptom")
    ExerciseFrequencyCode = CodeOf("exercise_frequency")
    FeedingCode = CodeOf("feeding")
    FollowupMethodCode = CodeOf("followup_method")
    FrequencyCode = CodeOf("frequency")
    FunctionLevelCode = CodeOf("function_level")
    GrowthEvalCode = CodeOf("growth_eval")
    HealthGuidanceCode = CodeOf("health_guidance")
    HearingCode = CodeOf("hearing")
    HospitalizationStatusCode = CodeOf("hospitalization_status")
    HypertensionSymptomCode = CodeOf("hypertension_symptom")
    HypoglycemiaCode = CodeOf("hypoglycemia")
    InsightCode = CodeOf("insight")
    JaundiceCode = CodeOf("jaundice")
    LockStatusCode = CodeOf("lock_status")
    MaternalOutcomeCode = CodeOf("maternal_outcome")
    MentalClassificationCode = CodeOf("mental_classification")
    MentalSymptomCode = CodeOf("mental_symptom")
    MotorFunctionCode = CodeOf("motor_function")
    NewbornOutcomeCode = CodeOf("newborn_outcome")
    NormalAbnormalCode = CodeOf("normal_abnormal")
    RehabilitationCode = CodeOf("rehabilitation")
    SaltIntakeCode = CodeOf("salt_intake")
    SelfCareLevelCode = CodeOf("self_care_level")
    SexCode = CodeOf("sex")
    SmokingStatusCode = CodeOf("smoking_status")
    SputumResultCode = CodeOf("sputum_result")
    TbDosingCode = CodeOf("tb_dosing")
    TbDrugCode = CodeOf("tb_drug")
    TbOutcomeCode = CodeOf("tb_outcome")
    TbStageCode = CodeOf("tb_stage")
    TbSupervisorCode = CodeOf("tb_supervisor")
    TbSymptomCode = CodeOf("tb_symptom")
    TestResultCode = CodeOf("test_result")
    TreatmentEffectCode = CodeOf("treatment_effect")
    UmbilicalCordCode = CodeOf("umbilical_cord")

Note = Annotated[str, Field(max_length=2000)]
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


# --- checks shared by the forms ----------------------------------------------------------


def _pressure(systolic: int | None, diastolic: int | None, field: str = "diastolic") -> None:
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        raise blame(field, "{d} must be lower than systolic {s}", d=diastolic, s=systolic)


def _none_alone(codes: Sequence[str], field: str) -> None:
    """``none`` (无症状) cannot be ticked together with a symptom."""
    if "none" in codes and len(codes) > 1:
        raise blame(field, "lists none together with other codes; keep one or the other")


def _referral(referral: bool, reason: str | None) -> None:
    if referral and not reason:
        raise blame("referral_reason", "is required when referral is true")
    if reason and not referral:
        raise blame("referral", "is false but a referral_reason is given")


def _next_after(date_field: str, date: str, next_field: str, next_date: str | None) -> None:
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
        _none_alone(self.symptoms, "symptoms")
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
        _pressure(self.systolic, self.diastolic)
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
        _pressure(self.systolic, self.diastolic)
        if self.high_risk_factors and not self.high_risk:
            raise blame("high_risk", "is false but high_risk_factors are listed")
        _referral(self.referral, self.referral_reason)
        _next_after("visit_date", self.visit_date, "next_visit_date", self.next_visit_date)
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
        _pressure(self.systolic, self.diastolic)
        if self.classification == "normal":
            for name in ("mental_state", "breast", "lochia", "uterus", "wound"):
                finding = getattr(self, name)
                if finding is not None and finding.status == "abnormal":
                    raise blame("classification", "is normal but {name} is abnormal", name=name)
        _referral(self.referral, self.referral_reason)
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
        _referral(self.referral, self.referral_reason)
        _next_after("visit_date", self.visit_date, "next_visit_date", self.next_visit_date)
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
        _referral(self.referral, self.referral_reason)
        _next_after("check_date", self.check_date, "next_check_date", self.next_check_date)
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


# --- chronic disease follow-up: hypertension and type 2 diabetes --------------------------------


class ChronicMedication(Body):
    drug: DrugCode
    dose: ShortText  # as written on the form: "5mg", "1片"
    frequency: FrequencyCode


class _ChronicFollowup(Fact):
    """The shape the hypertension and diabetes follow-up forms share."""

    followup_date: DateStr
    method: FollowupMethodCode
    symptoms_other: Note | None = None
    systolic: Systolic
    diastolic: Diastolic
    weight_kg: float | None = Field(default=None, ge=20, le=300)
    heart_rate: int | None = Field(default=None, ge=20, le=250)
    other_signs: Note | None = None
    cigarettes_per_day: int | None = Field(default=None, ge=0, le=100)
    alcohol_liang_per_day: float | None = Field(default=None, ge=0, le=50)
    exercise_times_per_week: int | None = Field(default=None, ge=0, le=21)
    exercise_minutes: int | None = Field(default=None, ge=0, le=600)
    salt_intake: SaltIntakeCode | None = None
    psychological_adjustment: FunctionLevelCode | None = None
    compliance: FunctionLevelCode | None = None
    adherence: AdherenceCode
    adverse_reaction: bool = False
    adverse_reaction_note: Note | None = None
    control: ControlStatusCode
    medications: list[ChronicMedication] = Field(default_factory=list, max_length=10)
    referral: bool = False
    referral_reason: Note | None = None
    next_followup: DateStr | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _none_alone(getattr(self, "symptoms", []), "symptoms")
        _pressure(self.systolic, self.diastolic)
        if self.adverse_reaction_note and not self.adverse_reaction:
            raise blame("adverse_reaction", "is false but adverse_reaction_note describes one")
        if self.control == "adverse" and not self.adverse_reaction:
            raise blame("adverse_reaction", "is false but control is adverse")
        _referral(self.referral, self.referral_reason)
        _next_after("followup_date", self.followup_date, "next_followup", self.next_followup)
        return self


@register(
    "hypertension_followup",
    category=Category.KEY_POPULATION,
    subcategory="hypertension",
    date_field="followup_date",
    title_zh="高血压患者随访",
    title_en="Hypertension follow-up",
)
class HypertensionFollowup(_ChronicFollowup):
    symptoms: list[HypertensionSymptomCode] = Field(default_factory=list, max_length=10)


class InsulinUse(Body):
    kind: ShortText  # product or type, e.g. "门冬胰岛素30"
    dose: ShortText  # as written: "早12U 晚10U"


@register(
    "diabetes_followup",
    category=Category.KEY_POPULATION,
    subcategory="diabetes",
    date_field="followup_date",
    title_zh="2型糖尿病患者随访",
    title_en="Type 2 diabetes follow-up",
)
class DiabetesFollowup(_ChronicFollowup):
    symptoms: list[DiabetesSymptomCode] = Field(default_factory=list, max_length=10)
    staple_food_g_per_day: int | None = Field(default=None, ge=0, le=2000)
    fasting_glucose: Glucose | None = None  # mmol/L
    random_glucose: Annotated[float, Field(ge=1, le=50)] | None = None  # mmol/L
    hba1c: Annotated[float, Field(ge=3, le=20)] | None = None  # %
    hypoglycemia: HypoglycemiaCode | None = None
    insulin: InsulinUse | None = None


# --- severe mental disorder (严重精神障碍) ----------------------------------------------------


class DangerousBehaviour(Body):
    kind: DangerousBehaviourCode
    count: int = Field(ge=1, le=100)  # times since the last follow-up


class SocialFunction(Body):
    personal_care: FunctionLevelCode | None = None
    housework: FunctionLevelCode | None = None
    work: FunctionLevelCode | None = None  # productive labour and work
    learning: FunctionLevelCode | None = None
    social_interaction: FunctionLevelCode | None = None


@register(
    "mental_followup",
    category=Category.KEY_POPULATION,
    subcategory="mental",
    date_field="followup_date",
    title_zh="严重精神障碍患者随访",
    title_en="Severe mental disorder follow-up",
)
class MentalFollowup(Fact):
    followup_date: DateStr
    method: FollowupMethodCode
    risk_level: int = Field(ge=0, le=5)
    symptoms: list[MentalSymptomCode] = Field(default_factory=list, max_length=15)
    insight: InsightCode | None = None
    sleep: FunctionLevelCode | None = None
    diet: FunctionLevelCode | None = None
    social_function: SocialFunction | None = None
    dangerous_behaviours: list[DangerousBehaviour] = Field(default_factory=list, max_length=10)
    lock_status: LockStatusCode | None = None
    hospitalization: HospitalizationStatusCode | None = None
    last_discharge_date: DateStr | None = None
    lab: Note | None = None
    adherence: AdherenceCode
    adverse_reaction: bool = False
    adverse_reaction_note: Note | None = None
    treatment_effect: TreatmentEffectCode | None = None
    rehabilitation: list[RehabilitationCode] = Field(default_factory=list, max_length=6)
    classification: MentalClassificationCode
    medications: list[ChronicMedication] = Field(default_factory=list, max_length=10)
    referral: bool = False
    referral_reason: Note | None = None
    next_followup: DateStr | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # Classification follows the risk level: 3-5 unstable, 1-2 at best basically stable.
        if self.risk_level >= 3 and self.classification != "unstable":
            raise blame("classification", "must be unstable at risk level {r}", r=self.risk_level)
        if self.risk_level >= 1 and self.classification == "stable":
            raise blame(
                "classification",
                "cannot be stable at risk level {r}; stable needs level 0",
                r=self.risk_level,
            )
        seen: set[str] = set()
        for i, behaviour in enumerate(self.dangerous_behaviours):
            if behaviour.kind in seen:
                raise blame(
                    f"dangerous_behaviours.{i}.kind",
                    "{kind} is listed twice; add up the counts",
                    kind=behaviour.kind,
                )
            seen.add(behaviour.kind)
        check_order(
            "last_discharge_date",
            self.last_discharge_date,
            "followup_date",
            self.followup_date,
            blame_earlier=True,
        )
        if self.adverse_reaction_note and not self.adverse_reaction:
            raise blame("adverse_reaction", "is false but adverse_reaction_note describes one")
        _referral(self.referral, self.referral_reason)
        _next_after("followup_date", self.followup_date, "next_followup", self.next_followup)
        return self


# --- tuberculosis (肺结核患者) ----------------------------------------------------------------


@register(
    "tb_followup",
    category=Category.KEY_POPULATION,
    subcategory="tuberculosis",
    date_field="followup_date",
    title_zh="肺结核患者随访",
    title_en="Tuberculosis follow-up",
)
class TbFollowup(Fact):
    followup_date: DateStr
    method: FollowupMethodCode
    treatment_month: int = Field(ge=1, le=24)
    stage: TbStageCode
    supervisor: TbSupervisorCode
    symptoms: list[TbSymptomCode] = Field(default_factory=list, max_length=10)
    symptoms_other: Note | None = None
    sputum_result: SputumResultCode | None = None
    regimen: Annotated[str, Field(min_length=1, max_length=30)] | None = None  # e.g. 2HRZE/4HR
    drugs: list[TbDrugCode] = Field(default_factory=list, max_length=10)
    dosing: TbDosingCode | None = None
    missed_doses: int = Field(default=0, ge=0, le=400)
    adverse_reaction: bool = False
    adverse_reaction_note: Note | None = None
    complications: Note | None = None
    referral: bool = False
    referral_reason: Note | None = None
    outcome: TbOutcomeCode | None = None  # when treatment ends
    next_followup: DateStr | None = None
    doctor: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _none_alone(self.symptoms, "symptoms")
        if self.adverse_reaction_note and not self.adverse_reaction:
            raise blame("adverse_reaction", "is false but adverse_reaction_note describes one")
        _referral(self.referral, self.referral_reason)
        if self.outcome is not None and self.next_followup is not None:
            raise blame(
                "next_followup",
                "is given but outcome {outcome} ends the treatment",
                outcome=self.outcome,
            )
        _next_after("followup_date", self.followup_date, "next_followup", self.next_followup)
        return self
