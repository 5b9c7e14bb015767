"""Field types shared by the record types, each validating with a message a person can act on.

Errors are raised as ``PydanticCustomError`` so their text reaches the user
verbatim (no "Value error," prefix) and ``RecordInvalid`` can prefix the field path.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from ._codes import code_list
from ._idnumber import IdNumberError, parse_id_number

__all__ = [
    "DateStr",
    "DateTimeStr",
    "DivisionCode",
    "Icd10Code",
    "IdNumber",
    "Phone",
    "RecordRef",
    "ShortText",
    "Text",
    "code_in",
]

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise PydanticCustomError(
            "date", "{value} is not a date (expected YYYY-MM-DD)", {"value": repr(value)}
        )
    text = value.strip()
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("date", "{value} is not a date", {"value": text}) from None
    if text < "1880-01-01":
        raise PydanticCustomError("date", "{value} is too early to be a real date", {"value": text})
    return text


def _datetime(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if not isinstance(value, str):
        raise PydanticCustomError("datetime", "{value} is not a date and time", {"value": repr(value)})
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError(
            "datetime",
            "{value} is not a date and time (expected YYYY-MM-DDTHH:MM)",
            {"value": text},
        ) from None
    return parsed.isoformat(timespec="seconds")


def _id_number(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("id_number", "{value} is not an identity number", {"value": repr(value)})
    try:
        return parse_id_number(value)
    except IdNumberError as exc:
        raise PydanticCustomError("id_number", str(exc)) from None


def _phone(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("phone", "{value} is not a phone number", {"value": repr(value)})
    text = value.strip().replace(" ", "")
    if not _PHONE_RE.match(text):
        raise PydanticCustomError(
            "phone",
            "{value} is not a mobile (11 digits) or landline (0xx-xxxxxxx) number",
            {"value": text},
        )
    return text


def _record_ref(value: Any) -> str:
    if not isinstance(value, str) or not _UUID_RE.match(value.strip().lower()):
        raise PydanticCustomError("ref", "{value} is not a record id", {"value": repr(value)})
    return value.strip().lower()


def _code_validator(list_name: str) -> BeforeValidator:
    def check(value: Any) -> str:
        text = str(value).strip() if isinstance(value, str | int) else value
        codes = code_list(list_name)
        if not isinstance(text, str) or text not in codes:
            raise PydanticCustomError(
                "code",
                "{value} is not a known {title} code",
                {"value": repr(value), "title": codes.title},
            )
        return text

    return BeforeValidator(check)


def _icd10(value: Any) -> str:
    codes = code_list("icd10")
    text = value.strip().upper() if isinstance(value, str) else value
    if not isinstance(text, str) or text not in codes:
        raise PydanticCustomError(
            "code", "{value} is not an ICD-10 code used in primary care", {"value": repr(value)}
        )
    return text


def _division(value: Any) -> str:
    codes = code_list("division")
    text = str(value).strip() if isinstance(value, str | int) else value
    if not isinstance(text, str) or text not in codes:
        raise PydanticCustomError(
            "code",
            "{value} is not a GB/T 2260 division code of this region",
            {"value": repr(value)},
        )
    return text


def code_in(list_name: str) -> BeforeValidator:
    """Validator for a string that must be a code of the named list: ``Annotated[str, code_in("sex")]``."""
    return _code_validator(list_name)


DateStr = Annotated[str, BeforeValidator(_date)]
DateTimeStr = Annotated[str, BeforeValidator(_datetime)]
IdNumber = Annotated[str, BeforeValidator(_id_number)]
Phone = Annotated[str, BeforeValidator(_phone)]
RecordRef = Annotated[str, BeforeValidator(_record_ref)]
Icd10Code = Annotated[str, BeforeValidator(_icd10)]
DivisionCode = Annotated[str, BeforeValidator(_division)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=20_000)]
