"""The record-type registry: the one definition of every record type.

Rules:
1. Every record type is a pydantic model (``Body``) registered once with its name,
   current schema version, file-tree category, kind and date field.
2. ``validate`` is the only way data becomes a record body: it upgrades older
   versions first, then validates, then returns plain JSON-able data.
3. Older versions stay readable forever: raising a type's version means adding
   an upgrader from the previous version, never editing stored data.
4. A version newer than this software knows raises ``VersionTooNew``; the
   caller keeps the record and applies it after an upgrade.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ._errors import FieldError, RecordInvalid, UnknownRecordType, VersionTooNew

__all__ = [
    "Body",
    "Category",
    "Kind",
    "RecordType",
    "check",
    "errors_from_pydantic",
    "fields_set",
    "record_type",
    "record_types",
    "register",
    "today_from",
    "validate",
]


class Category(StrEnum):
    """Top-level branches of the health file tree (national basic data set)."""

    PERSONAL = "personal"
    EXAMINATION = "examination"
    KEY_POPULATION = "key_population"
    MEDICAL_SERVICE = "medical_service"
    LAB_IMAGING = "lab_imaging"
    IMMUNIZATION = "immunization"
    REFERRAL = "referral"
    BIRTH_DEATH = "birth_death"


class Kind(StrEnum):
    DEMOGRAPHIC = "demographic"  # mutable per field, last writer wins
    CLINICAL = "clinical"  # immutable fact; corrections supersede


class Body(BaseModel):
    """Base of every record body: strict about unknown fields, trims strings."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    record_type_name: ClassVar[str] = ""


Upgrader = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class RecordType:
    name: str
    version: int
    model: type[Body]
    category: Category
    subcategory: str
    kind: Kind
    date_field: str
    title_zh: str
    title_en: str
    # upgraders[v] turns a version-v body into a version-(v+1) body.
    upgraders: dict[int, Upgrader] = field(default_factory=dict)


_REGISTRY: dict[str, RecordType] = {}


def register(
    name: str,
    *,
    category: Category,
    subcategory: str = "",
    kind: Kind = Kind.CLINICAL,
    date_field: str,
    title_zh: str,
    title_en: str,
    version: int = 1,
    upgraders: dict[int, Upgrader] | None = None,
) -> Callable[[type[Body]], type[Body]]:
    """Class decorator registering a record body model under ``name``."""

    def wrap(model: type[Body]) -> type[Body]:
        if name in _REGISTRY:
            raise RuntimeError(f"record type {name!r} registered twice")
        ups = dict(upgraders or {})
        missing = [v for v in range(1, version) if v not in ups]
        if missing:
            raise RuntimeError(f"record type {name!r} lacks upgraders from versions {missing}")
        if date_field not in model.model_fields:
            raise RuntimeError(f"record type {name!r}: date field {date_field!r} is not a field")
        _REGISTRY[name] = RecordType(
            name, version, model, category, subcategory, kind, date_field, title_zh, title_en, ups
        )
        model.record_type_name = name
        return model

    return wrap


def record_type(name: str) -> RecordType:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownRecordType(name, list(_REGISTRY)) from None


def record_types() -> list[RecordType]:
    return list(_REGISTRY.values())


_PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this record",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


def errors_from_pydantic(exc: ValidationError) -> list[FieldError]:
    out: list[FieldError] = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        extra_field = (err.get("ctx") or {}).get("field")
        if extra_field:
            loc.append(str(extra_field))  # a model-level check that blames one field
        path = ".".join(loc)
        kind = err["type"]
        if kind in _PYDANTIC_MESSAGES:
            message = _PYDANTIC_MESSAGES[kind]
            if kind not in ("missing", "extra_forbidden") and "input" in err:
                message = f"{_short(err['input'])} {message}"
        elif kind in ("string_too_short", "too_short") and err.get("ctx", {}).get("min_length") == 1:
            message = "must not be empty"
        else:
            message = err["msg"]
            message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
                message = f"{_short(err.get('input'))} is out of range: {message.lower()}"
        out.append(FieldError(path, message))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate(
    name: str,
    data: Any,
    *,
    version: int | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Validate ``data`` as a body of record type ``name`` and return it normalised.

    ``version`` is the schema version the data was written in (default: current);
    older versions are upgraded first. ``today`` enables checks against the
    calendar (no birth dates in the future); the caller owns the clock.
    """
    dumped: dict[str, Any] = _model(name, data, version, today).model_dump(mode="json", exclude_none=True)
    return dumped


def check(
    name: str,
    data: Any,
    *,
    version: int | None = None,
    today: dt.date | None = None,
) -> None:
    """``validate`` without building the normalised body: for a reader that only needs the verdict."""
    _model(name, data, version, today)


def _model(name: str, data: Any, version: int | None, today: dt.date | None) -> BaseModel:
    rt = record_type(name)
    if not isinstance(data, dict):
        raise RecordInvalid([FieldError("", f"a {name} record must be a JSON object")], record_type=name)
    v = rt.version if version is None else version
    if v > rt.version:
        raise VersionTooNew(name, v, rt.version)
    if v < 1:
        raise RecordInvalid([FieldError("v", f"schema version {v} does not exist")], record_type=name)
    body = dict(data)
    for step in range(v, rt.version):
        body = rt.upgraders[step](body)
    try:
        return rt.model.model_validate(body, context={"today": today})
    except ValidationError as exc:
        raise RecordInvalid(errors_from_pydantic(exc), record_type=name) from None


def fields_set(
    name: str, changed: tuple[str, ...] | list[str] | None, data: dict[str, Any], body: dict[str, Any]
) -> tuple[str, ...]:
    """The fields a demographic version sets, named as in the current schema.

    ``changed`` lists the writer's field names (all of them when None); an older
    version's body was upgraded from ``data`` to ``body``, so fields that only
    exist after the upgrade (renamed ones) count as set, and names the upgrade
    removed do not.
    """
    if changed is None:
        return tuple(sorted(body))
    known = record_type(name).model.model_fields
    return tuple(sorted({f for f in changed if f in known} | (set(body) - set(data))))


# Used by model validators to reach the caller's calendar.
def today_from(info: Any) -> dt.date | None:
    ctx = getattr(info, "context", None) or {}
    value = ctx.get("today")
    return value if isinstance(value, dt.date) else None
