"""The resident: personal basic information, the one mutable (demographic) record type.

Version history:
- v1: insurance number held in ``ncms_number`` (New Rural Cooperative Medical Scheme).
- v2: the scheme merged into the urban-rural resident insurance; the field is
  ``insurance_number``. v1 bodies are upgraded on read.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from ._codes import code_list
from ._idnumber import id_number_birth_date, id_number_sex
from ._registry import Body, Category, Kind, register, today_from
from ._types import DateStr, DivisionCode, Icd10Code, IdNumber, Phone, RecordRef, ShortText, code_in

__all__ = [
    "REGISTRATION_CSV_COLUMNS",
    "Address",
    "BloodType",
    "EmergencyContact",
    "FamilyLinks",
    "OtherId",
    "Resident",
]

# A registration as one CSV row: how registrations travel in bulk between systems
# (``rhip mpi link`` reads and the labelled generator writes these columns, as text).
REGISTRATION_CSV_COLUMNS = (
    "record_id",
    "family_name",
    "given_name",
    "sex",
    "birth_date",
    "id_number",
    "other_id",
    "phone",
    "address",
    "village",
    "township",
)

AdultAge = 16  # years from which a resident is expected to hold an identity number


class Address(Body):
    division_code: DivisionCode
    township: str | None = Field(default=None, max_length=50)
    village: str | None = Field(default=None, max_length=50)
    street: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _names_match_code(self) -> Address:
        # Fill township/village names from the division code list, and refuse
        # names that contradict the code (a clerk picked the wrong village).
        divisions = code_list("division")
        code = self.division_code
        town = divisions.get(code[:9]) if len(code) in (9, 12) else None
        village = divisions.get(code) if len(code) == 12 and not code.endswith("000") else None
        updates: dict[str, Any] = {}
        for field, entry in (("township", town), ("village", village)):
            given = getattr(self, field)
            if entry is None:
                continue
            if given is None:
                updates[field] = entry.zh
            elif given not in (entry.zh, entry.en):
                raise PydanticCustomError(
                    "address",
                    "{given} does not match division code {code} ({name})",
                    {"field": field, "given": repr(given), "code": code, "name": entry.zh},
                )
        for k, v in updates.items():
            object.__setattr__(self, k, v)
        return self


class OtherId(Body):
    type: Annotated[str, code_in("id_type")]
    number: Annotated[str, Field(min_length=1, max_length=40)]


class BloodType(Body):
    abo: Annotated[str, code_in("abo")]
    rh: Annotated[str, code_in("rh")] = "unknown"


class HistoryItem(Body):
    icd10: Icd10Code | None = None
    description: str | None = Field(default=None, max_length=200)
    since: DateStr | None = None

    @model_validator(mode="after")
    def _something(self) -> HistoryItem:
        if self.icd10 is None and not self.description:
            raise PydanticCustomError(
                "history", "give an icd10 code or a description", {"field": "description"}
            )
        return self


class FamilyHistoryItem(HistoryItem):
    relation: Annotated[str, code_in("relation")]


class EmergencyContact(Body):
    name: ShortText
    relation: Annotated[str, code_in("relation")]
    phone: Phone


class FamilyLinks(Body):
    household_id: str | None = Field(default=None, max_length=40)
    relation_to_head: Annotated[str, code_in("relation")] | None = None
    mother_id: RecordRef | None = None
    father_id: RecordRef | None = None
    spouse_id: RecordRef | None = None


@register(
    "resident",
    category=Category.PERSONAL,
    subcategory="basic",
    kind=Kind.DEMOGRAPHIC,
    date_field="birth_date",
    title_zh="个人基本信息",
    title_en="Personal basic information",
    version=2,
    upgraders={1: lambda b: {("insurance_number" if k == "ncms_number" else k): v for k, v in b.items()}},
)
class Resident(Body):
    name: Annotated[str, Field(min_length=1, max_length=50)]
    name_latin: str | None = Field(default=None, max_length=100)
    sex: Annotated[str, code_in("sex")]
    birth_date: DateStr
    id_number: IdNumber | None = None
    id_number_missing: Annotated[str, code_in("id_missing_reason")] | None = None
    other_ids: list[OtherId] = Field(default_factory=list, max_length=5)
    card_number: Annotated[str, Field(pattern=r"^[0-9A-Z]{8,20}$")] | None = None
    ethnicity: Annotated[str, code_in("ethnicity")] | None = None
    address: Address | None = None
    phone: Phone | None = None
    marital_status: Annotated[str, code_in("marital_status")] | None = None
    occupation: Annotated[str, code_in("occupation")] | None = None
    insurance_number: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{6,30}$")] | None = None
    blood_type: BloodType | None = None
    past_history: list[HistoryItem] = Field(default_factory=list, max_length=50)
    family_history: list[FamilyHistoryItem] = Field(default_factory=list, max_length=50)
    disabilities: list[Annotated[str, code_in("disability")]] = Field(default_factory=list, max_length=10)
    emergency_contacts: list[EmergencyContact] = Field(default_factory=list, max_length=5)
    family: FamilyLinks | None = None

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Resident:
        today = today_from(info)
        born = dt.date.fromisoformat(self.birth_date)
        if today is not None and born > today:
            raise PydanticCustomError(
                "birth_date",
                "{value} is in the future",
                {"value": self.birth_date, "field": "birth_date"},
            )
        if self.id_number:
            implied = id_number_birth_date(self.id_number)
            if implied != born:
                raise PydanticCustomError(
                    "id_number",
                    "its birth date {implied} does not match birth_date {given}",
                    {
                        "implied": implied.isoformat(),
                        "given": self.birth_date,
                        "field": "id_number",
                    },
                )
            if self.sex in ("1", "2") and id_number_sex(self.id_number) != self.sex:
                raise PydanticCustomError(
                    "id_number",
                    "its sequence digit says sex {implied}, but sex is {given}",
                    {
                        "implied": id_number_sex(self.id_number),
                        "given": self.sex,
                        "field": "id_number",
                    },
                )
        elif today is not None and self.id_number_missing is None and not self.other_ids:
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            if age >= AdultAge:
                raise PydanticCustomError(
                    "id_number",
                    "is required for a resident aged {age}; give it, another id in "
                    "other_ids, or the reason in id_number_missing",
                    {"age": age, "field": "id_number"},
                )
        return self
