"""Errors raised by the record model.

Every error names the field (a dotted path such as ``address.village_code`` or
``prescriptions.0.days``) and says what is wrong with the value, so a clerk, a
script or a sync peer can act on it without reading code.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FieldError", "RecordInvalid", "SchemaError", "UnknownRecordType", "VersionTooNew"]


class SchemaError(Exception):
    """Base class of every error the record model raises."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class RecordInvalid(SchemaError, ValueError):
    """A record failed validation; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError], *, record_type: str = "") -> None:
        self.errors = errors
        self.record_type = record_type
        what = f"{record_type} record" if record_type else "record"
        super().__init__(f"invalid {what}: " + "; ".join(str(e) for e in errors))

    def as_json(self) -> list[dict[str, str]]:
        return [{"field": e.field, "message": e.message} for e in self.errors]


class UnknownRecordType(SchemaError, KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(name)
        self.message = f"type: {name!r} is not a record type (known: {', '.join(sorted(known))})"

    def __str__(self) -> str:
        return self.message


class VersionTooNew(SchemaError):
    """A record written by newer software than this one; keep it, apply it after upgrading."""

    def __init__(self, record_type: str, version: int, known: int) -> None:
        self.record_type = record_type
        self.version = version
        self.known = known
        super().__init__(
            f"{record_type} schema version {version} is newer than this software knows "
            f"(up to {known}); upgrade rhip to read it"
        )
