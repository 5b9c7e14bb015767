"""Key populations: hypertension and type 2 diabetes follow-ups, severe mental disorder
follow-up and tuberculosis treatment follow-up (national basic public health service).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from ._facts import Fact, Name, Note, blame, check_order
from ._public_health import (
    Diastolic,
    Glucose,
    Systolic,
    check_next_after,
    check_none_alone,
    check_pressure,
    check_referral,
)
from ._registry import Body, Category, register
from ._types import DateStr, ShortText, code_in

__all__ = [
    "ChronicMedication",
    "DangerousBehaviour",
    "DiabetesFollowup",
    "HypertensionFollowup",
    "InsulinUse",
    "MentalFollowup",
    "SocialFunction",
    "TbFollowup",
]

AdherenceCode = Annotated[str, code_in("adherence")]
ControlStatusCode = Annotated[str, code_in("control_status")]
DangerousBehaviourCode = Annotated[str, code_in("dangerous_behaviour")]
DiabetesSymptomCode = Annotated[str, code_in("diabetes_symptom")]
DrugCode = Annotated[str, code_in("drug")]
FollowupMethodCode = Annotated[str, code_in("followup_method")]
FrequencyCode = Annotated[str, code_in("frequency")]
FunctionLevelCode = Annotated[str, code_in("function_level")]
HospitalizationStatusCode = Annotated[str, code_in("hospitalization_status")]
HypertensionSymptomCode = Annotated[str, code_in("hypertension_symptom")]
HypoglycemiaCode = Annotated[str, code_in("hypoglycemia")]
InsightCode = Annotated[str, code_in("insight")]
LockStatusCode = Annotated[str, code_in("lock_status")]
MentalClassificationCode = Annotated[str, code_in("mental_classification")]
MentalSymptomCode = Annotated[str, code_in("mental_symptom")]
RehabilitationCode = Annotated[str, code_in("rehabilitation")]
SaltIntakeCode = Annotated[str, code_in("salt_intake")]
SputumResultCode = Annotated[str, code_in("sputum_result")]
TbDosingCode = Annotated[str, code_in("tb_dosing")]
TbDrugCode = Annotated[str, code_in("tb_drug")]
TbOutcomeCode = Annotated[str, code_in("tb_outcome")]
TbStageCode = Annotated[str, code_in("tb_stage")]
TbSupervisorCode = Annotated[str, code_in("tb_supervisor")]
TbSymptomCode = Annotated[str, code_in("tb_symptom")]
TreatmentEffectCode = Annotated[str, code_in("treatment_effect")]


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
        check_none_alone(getattr(self, "symptoms", []), "symptoms")
        check_pressure(self.systolic, self.diastolic)
        if self.adverse_reaction_note and not self.adverse_reaction:
            raise blame("adverse_reaction", "is false but adverse_reaction_note describes one")
        if self.control == "adverse" and not self.adverse_reaction:
            raise blame("adverse_reaction", "is false but control is adverse")
        check_referral(self.referral, self.referral_reason)
        check_next_after("followup_date", self.followup_date, "next_followup", self.next_followup)
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
        check_referral(self.referral, self.referral_reason)
        check_next_after("followup_date", self.followup_date, "next_followup", self.next_followup)
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
        check_none_alone(self.symptoms, "symptoms")
        if self.adverse_reaction_note and not self.adverse_reaction:
            raise blame("adverse_reaction", "is false but adverse_reaction_note describes one")
        check_referral(self.referral, self.referral_reason)
        if self.outcome is not None and self.next_followup is not None:
            raise blame(
                "next_followup",
                "is given but outcome {outcome} ends the treatment",
                outcome=self.outcome,
            )
        check_next_after("followup_date", self.followup_date, "next_followup", self.next_followup)
        return self
