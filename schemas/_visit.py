"""The desk workflow of an outpatient visit: registration, its steps, exam and lab orders, card registration.

A visit (门诊挂号) is registered once; everything that happens to it afterwards
is a later record naming it (``visit_id``): a ``visit_step`` for each step
(triage, call, consultation, specimen or examination, report, finish, cancel),
a ``service_order`` for each examination or test, and the cashier's and
pharmacy's records (``_billing``). Nothing about a visit is edited in place, so
workstations that write at the same time never overwrite each other and the
hub can rebuild the visit from what it received (``_visit_state``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from ._codes import code_list
from ._facts import Fact, Name, Note, blame, matching
from ._medical import Vitals
from ._registry import Body, Category, register
from ._types import DateTimeStr, RecordRef, code_in

__all__ = [
    "EXAM_KINDS",
    "FEE_KINDS",
    "CardNumber",
    "CardRegistration",
    "FeeItem",
    "InsuranceNumber",
    "ServiceOrder",
    "Visit",
    "VisitStep",
    "service_of",
]

# Service catalogue kinds: what a doctor orders as an examination or test, and what is charged as a fee.
EXAM_KINDS = frozenset({"lab", "imaging", "ecg", "ultrasound"})
FEE_KINDS = frozenset({"fee", "treatment"})

CardNumber = Annotated[str, matching(r"[0-9A-Z]{8,20}", "a card number (8-20 capital letters or digits)")]
InsuranceNumber = Annotated[
    str, matching(r"[0-9A-Za-z-]{6,30}", "an insurance number (6-30 letters, digits or -)")
]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Workstation = Annotated[str, Field(min_length=1, max_length=50)]


def service_of(kinds: frozenset[str], what: str) -> BeforeValidator:
    """A code of the service catalogue whose kind is one of ``kinds``."""

    def service_code(value: Any) -> str:
        text = value.strip() if isinstance(value, str) else value
        entry = code_list("service").get(text) if isinstance(text, str) else None
        if entry is None:
            raise PydanticCustomError(
                "code", "{value} is not a service of the catalogue", {"value": repr(value)}
            )
        if entry.extra.get("kind") not in kinds:
            raise PydanticCustomError(
                "code",
                "{value} is {kind} ({name}), not {what}",
                {"value": text, "kind": entry.extra.get("kind"), "name": entry.zh, "what": what},
            )
        return str(text)

    return BeforeValidator(service_code)


FeeCode = Annotated[str, service_of(FEE_KINDS, "a fee or treatment")]
ExamCode = Annotated[str, service_of(EXAM_KINDS, "an examination or laboratory test")]


class FeeItem(Body):
    service: FeeCode
    quantity: int = Field(default=1, ge=1, le=100, strict=True)


@register(
    "visit",
    category=Category.MEDICAL_SERVICE,
    subcategory="outpatient",
    date_field="registered_at",
    title_zh="门诊挂号",
    title_en="Outpatient registration",
)
class Visit(Fact):
    registered_at: DateTimeStr
    queue_number: int = Field(ge=1, le=9999, strict=True)
    department: Annotated[str, code_in("department")]
    doctor: Name | None = None
    source: Annotated[str, code_in("visit_source")] = "desk"
    card_number: CardNumber | None = None
    scheme: Annotated[str, code_in("insurance_scheme")] = "self_pay"
    insurance_number: InsuranceNumber | None = None
    fees: list[FeeItem] = Field(default_factory=list, max_length=10)
    note: Note | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        scheme = code_list("insurance_scheme").get(self.scheme)
        if scheme is not None and scheme.extra.get("number_required") and not self.insurance_number:
            raise blame("insurance_number", "is required for {scheme}", scheme=scheme.zh)
        if self.source == "card" and not self.card_number:
            raise blame("card_number", "is required when the resident was identified by the card")
        return self


@register(
    "visit_step",
    category=Category.MEDICAL_SERVICE,
    subcategory="outpatient",
    date_field="at",
    title_zh="就诊环节",
    title_en="Outpatient visit step",
)
class VisitStep(Fact):
    """One step of a visit, as it happened at one workstation."""

    # step -> the optional fields recorded with it (the others must be absent)
    FIELDS: ClassVar[dict[str, frozenset[str]]] = {
        "triaged": frozenset({"vitals"}),
        "called": frozenset(),
        "consulted": frozenset({"encounter_id", "prescription_ids", "order_ids", "fees"}),
        "collected": frozenset({"order_ids"}),
        "reported": frozenset({"order_ids", "report_ids"}),
        "finished": frozenset({"card_number"}),
        "cancelled": frozenset({"reason"}),
        "left": frozenset({"reason"}),
    }

    visit_id: RecordRef
    at: DateTimeStr
    step: Annotated[str, code_in("visit_step")]
    workstation: Workstation | None = None
    vitals: Vitals | None = None
    encounter_id: RecordRef | None = None
    prescription_ids: list[RecordRef] = Field(default_factory=list, max_length=30)
    order_ids: list[RecordRef] = Field(default_factory=list, max_length=50)
    fees: list[FeeItem] = Field(default_factory=list, max_length=30)
    report_ids: list[RecordRef] = Field(default_factory=list, max_length=20)
    card_number: CardNumber | None = None
    reason: Reason | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _fits_the_step(self) -> Self:
        allowed = self.FIELDS.get(self.step, frozenset())
        for name in sorted(set().union(*self.FIELDS.values()) - allowed):
            if getattr(self, name) not in (None, []):
                raise blame(name, "is not recorded with step {step}", step=self.step)
        if self.step == "consulted" and not (
            self.encounter_id or self.prescription_ids or self.order_ids or self.fees
        ):
            raise blame("encounter_id", "a consultation records an encounter, prescriptions, orders or fees")
        if self.step in ("collected", "reported") and not self.order_ids:
            raise blame("order_ids", "name the orders this step is for")
        if self.step == "reported" and not self.report_ids:
            raise blame("report_ids", "name the report records")
        if self.step in ("cancelled", "left") and not self.reason:
            raise blame("reason", "say why the visit ends here")
        for name in ("prescription_ids", "order_ids", "report_ids"):
            ids = getattr(self, name)
            if len(set(ids)) != len(ids):
                raise blame(name, "names a record twice")
        return self


@register(
    "service_order",
    category=Category.MEDICAL_SERVICE,
    subcategory="outpatient",
    date_field="ordered_at",
    title_zh="检查检验申请",
    title_en="Examination or laboratory order",
)
class ServiceOrder(Fact):
    """One examination or test ordered at a consultation; its result is a lab or imaging report."""

    ordered_at: DateTimeStr
    service: ExamCode
    kind: Annotated[str, code_in("order_kind")] | None = None  # derived from the catalogue
    visit_id: RecordRef | None = None
    encounter_id: RecordRef | None = None
    urgency: Annotated[str, code_in("urgency")] = "routine"
    doctor: Name | None = None
    clinical_note: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _kind_agrees(self) -> Self:
        entry = code_list("service").get(self.service)
        implied = entry.extra.get("kind") if entry else None
        if self.kind is None:
            object.__setattr__(self, "kind", implied)
        elif self.kind != implied:
            raise blame(
                "kind",
                "{kind} contradicts service {service} (a {implied} order)",
                kind=self.kind,
                service=self.service,
                implied=implied,
            )
        return self


@register(
    "card_registration",
    category=Category.PERSONAL,
    subcategory="registration",
    date_field="registered_at",
    title_zh="持卡临时建档",
    title_en="Provisional registration from a health card",
)
class CardRegistration(Fact):
    """A resident registered from a verified health card alone, until the master index links them."""

    registered_at: DateTimeStr
    card_number: CardNumber
    authority_code: Annotated[str, matching(r"[0-9]{6,12}", "a GB/T 2260 code (6-12 digits)")]
    signing_key: Annotated[str, matching(r"[0-9a-f]{8,64}", "a key id (hex)")]
    expired: bool = False
    from_card: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1, max_length=20)
