"""Allergies, immunisations, referrals and consultations, birth and death.

A referral never changes status in place: accepting, completing or cancelling it
is a later record. The receiving clinic accepts or declines with a
``referral_response``; a referral back (下转) names the referral out it answers.
A consultation's answer is a new version of the request (same fact, written at
the consulting clinic).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from ._facts import AsciiCode, Fact, Name, blame, calendar_day, check_order, matching
from ._idnumber import id_number_birth_date, id_number_sex
from ._registry import Body, Category, register
from ._types import DateStr, DateTimeStr, Icd10Code, IdNumber, RecordRef, ShortText, code_in

__all__ = [
    "Allergy",
    "Birth",
    "Consultation",
    "Death",
    "DeathCause",
    "Immunization",
    "Referral",
    "ReferralResponse",
]

AllergenCategoryCode = Annotated[str, code_in("allergen_category")]
AllergySeverityCode = Annotated[str, code_in("allergy_severity")]
AllergyStatusCode = Annotated[str, code_in("allergy_status")]
DeathPlaceCode = Annotated[str, code_in("death_place")]
DeliveryPlaceCode = Annotated[str, code_in("delivery_place")]
DrugCode = Annotated[str, code_in("drug")]
InjectionSiteCode = Annotated[str, code_in("injection_site")]
ReferralDirectionCode = Annotated[str, code_in("referral_direction")]
RouteCode = Annotated[str, code_in("route")]
SexCode = Annotated[str, code_in("sex")]
UrgencyCode = Annotated[str, code_in("urgency")]
VaccineCode = Annotated[str, code_in("vaccine")]

Text500 = Annotated[str, Field(min_length=1, max_length=500)]
LongText = Annotated[str, Field(max_length=10_000)]
LotNumber = Annotated[str, matching(r"[0-9A-Za-z-]{1,30}", "a lot number (up to 30 letters, digits or -)")]
BirthCertificateNumber = Annotated[
    str, matching(r"[0-9A-Z]{6,20}", "a birth certificate number (6-20 capital letters or digits)")
]
DeathCertificateNumber = Annotated[
    str,
    matching(r"[0-9A-Z-]{4,30}", "a death certificate number (4-30 capital letters, digits or -)"),
]
MotherAge = (10, 65)  # plausible age in years of a mother at a birth


@register(
    "allergy",
    category=Category.PERSONAL,
    subcategory="allergy",
    date_field="recorded_on",
    title_zh="过敏史",
    title_en="Allergy",
)
class Allergy(Fact):
    recorded_on: DateStr
    substance: ShortText
    substance_category: AllergenCategoryCode
    drug: DrugCode | None = None
    reaction: Text500 | None = None
    severity: AllergySeverityCode | None = None
    status: AllergyStatusCode = "active"
    onset_on: DateStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.drug is not None and self.substance_category != "drug":
            raise blame(
                "drug",
                "is given but substance_category is {category}; set it to drug or remove the drug",
                category=self.substance_category,
            )
        check_order("onset_on", self.onset_on, "recorded_on", self.recorded_on, blame_earlier=True)
        return self


@register(
    "immunization",
    category=Category.IMMUNIZATION,
    subcategory="vaccination",
    date_field="given_at",
    title_zh="预防接种记录",
    title_en="Immunisation",
)
class Immunization(Fact):
    given_at: DateTimeStr
    vaccine: VaccineCode
    dose_number: int = Field(ge=1, le=5)
    lot_number: LotNumber
    manufacturer: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    site: InjectionSiteCode | None = None
    route: RouteCode | None = None
    administered_by: Name | None = None
    adverse_event: Text500 | None = None  # AEFI (疑似预防接种异常反应), when one was seen
    next_due_on: DateStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.next_due_on is not None and calendar_day(self.next_due_on) <= calendar_day(self.given_at):
            raise blame(
                "next_due_on",
                "{due} is not after given_at {given}",
                due=self.next_due_on,
                given=self.given_at,
            )
        return self


@register(
    "referral",
    category=Category.REFERRAL,
    subcategory="referral",
    date_field="referred_at",
    title_zh="双向转诊单",
    title_en="Referral",
)
class Referral(Fact):
    referred_at: DateTimeStr
    direction: ReferralDirectionCode  # out (上转) or back (下转)
    from_clinic: AsciiCode
    to_clinic: AsciiCode
    reason: Text500
    preliminary_diagnoses: list[Icd10Code] = Field(default_factory=list, max_length=20)
    history_summary: LongText | None = None
    treatment_given: LongText | None = None
    urgency: UrgencyCode = "routine"
    referring_doctor: Name | None = None
    # A referral back only:
    referral_id: RecordRef | None = None  # the referral out this answers
    results: LongText | None = None
    discharge_summary_id: RecordRef | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.to_clinic == self.from_clinic:
            raise blame("to_clinic", "{clinic} is the referring clinic itself", clinic=self.to_clinic)
        if self.direction == "back":
            if self.referral_id is None:
                raise blame("referral_id", "is required for a referral back: name the referral out")
        else:
            for name in ("referral_id", "results", "discharge_summary_id"):
                if getattr(self, name) is not None:
                    raise blame(
                        name,
                        "belongs on a referral back, not on a referral {direction}",
                        direction=self.direction,
                    )
        return self


@register(
    "referral_response",
    category=Category.REFERRAL,
    subcategory="referral",
    date_field="responded_at",
    title_zh="转诊接收回复",
    title_en="Referral response",
)
class ReferralResponse(Fact):
    """The receiving clinic accepts or declines a referral out (declining says why); the referring
    clinic closes it (``closed``) once the referral back has come."""

    responded_at: DateTimeStr
    referral_id: RecordRef  # the referral out this answers
    decision: Literal["accepted", "declined", "closed"]
    reason: Text500 | None = None
    responded_by: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.decision == "declined" and not self.reason:
            raise blame("reason", "is required when a referral is declined: say why")
        return self


@register(
    "consultation",
    category=Category.REFERRAL,
    subcategory="consultation",
    date_field="requested_at",
    title_zh="远程会诊",
    title_en="Consultation",
)
class Consultation(Fact):
    past_fields = ("answered_at",)

    requested_at: DateTimeStr
    requesting_clinic: AsciiCode
    consulting_clinic: AsciiCode
    requested_by: Name | None = None
    question: Annotated[str, Field(min_length=1, max_length=5000)]
    diagnoses: list[Icd10Code] = Field(default_factory=list, max_length=20)
    attachment_ids: list[RecordRef] = Field(default_factory=list, max_length=50)
    answer: LongText | None = None
    answered_at: DateTimeStr | None = None
    answered_by: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.answered_at is not None and not self.answer:
            raise blame("answer", "is required when answered_at is given")
        if self.answer and self.answered_at is None:
            raise blame("answered_at", "is required when an answer is given")
        if self.answered_by is not None and not self.answer:
            raise blame("answered_by", "is given but there is no answer")
        check_order("requested_at", self.requested_at, "answered_at", self.answered_at)
        return self


@register(
    "birth",
    category=Category.BIRTH_DEATH,
    subcategory="birth",
    date_field="birth_time",
    title_zh="出生医学记录",
    title_en="Birth",
)
class Birth(Fact):
    birth_time: DateTimeStr
    place: DeliveryPlaceCode
    place_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    child_name: Name | None = None
    sex: SexCode
    weight_g: int = Field(ge=300, le=7000)
    length_cm: float | None = Field(default=None, ge=20, le=70)
    gestational_weeks: int = Field(ge=20, le=45)
    multiple_birth_order: int | None = Field(default=None, ge=1, le=8)
    mother_id: RecordRef
    mother_name: Name
    mother_id_number: IdNumber | None = None
    father_name: Name | None = None
    pregnancy_id: RecordRef | None = None
    birth_certificate_number: BirthCertificateNumber | None = None
    midwife: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.mother_id_number is not None:
            if id_number_sex(self.mother_id_number) != "2":
                raise blame("mother_id_number", "is a man's identity number (odd sequence digit)")
            born = id_number_birth_date(self.mother_id_number)
            day = calendar_day(self.birth_time)
            age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
            if not MotherAge[0] <= age <= MotherAge[1]:
                raise blame(
                    "mother_id_number",
                    "says the mother was born {born}, which makes her {age} at this birth; check the number",
                    born=born.isoformat(),
                    age=age,
                )
        return self


class DeathCause(Body):
    description: Text500
    icd10: Icd10Code | None = None
    interval: Annotated[str, Field(max_length=50)] | None = None  # onset to death, e.g. "3天"


@register(
    "death",
    category=Category.BIRTH_DEATH,
    subcategory="death",
    date_field="death_time",
    title_zh="死亡医学证明",
    title_en="Death",
)
class Death(Fact):
    death_time: DateTimeStr
    place: DeathPlaceCode
    immediate_cause: Text500
    causes_chain: list[DeathCause] = Field(default_factory=list, max_length=4)  # (a) to (d)
    underlying_cause: Icd10Code
    other_conditions: list[DeathCause] = Field(default_factory=list, max_length=10)
    certifier: Name
    certificate_number: DeathCertificateNumber | None = None
    certified_on: DateStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_order("death_time", self.death_time, "certified_on", self.certified_on)
        return self
