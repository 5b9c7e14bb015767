"""Checks every clinical record type shares.

A fact cannot be dated after the caller's today (``Fact``); a failed check names
the one field a clerk must correct (``blame``); dates in the wrong order are
reported against the later one (``check_order``); text patterns say what they
expect (``matching``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from ._registry import Body, record_type, today_from

__all__ = [
    "AsciiCode",
    "Fact",
    "LongText",
    "Name",
    "Note",
    "blame",
    "calendar_day",
    "check_order",
    "matching",
]


def blame(field: str, message: str, **values: Any) -> PydanticCustomError:
    """An error reported against ``field`` (a dotted path below the model that raises it)."""
    return PydanticCustomError("record", message, {**values, "field": field})


def calendar_day(value: str) -> dt.date:
    """The calendar day of a date or date-time string (local wall clock)."""
    return dt.date.fromisoformat(value[:10])


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _before(a: str, b: str) -> bool:
    """Whether ``a`` lies strictly before ``b``; a bare date compares by day."""
    if len(a) == 10 or len(b) == 10:
        return calendar_day(a) < calendar_day(b)
    x, y = _instant(a), _instant(b)
    if (x.tzinfo is None) != (y.tzinfo is None):  # one without offset: compare wall clocks
        x, y = x.replace(tzinfo=None), y.replace(tzinfo=None)
    return x < y


def check_order(
    earlier_field: str,
    earlier: str | None,
    later_field: str,
    later: str | None,
    *,
    blame_earlier: bool = False,
) -> None:
    """Raise when ``later_field`` lies before ``earlier_field``.

    The error is reported against ``later_field``, or against ``earlier_field``
    when that is the one more likely mistyped (a secondary date against the
    record's own date).
    """
    if earlier is None or later is None or not _before(later, earlier):
        return
    if blame_earlier:
        raise blame(
            earlier_field,
            "{earlier} is after {later_field} {later}",
            earlier=earlier,
            later_field=later_field,
            later=later,
        )
    raise blame(
        later_field,
        "{later} is before {earlier_field} {earlier}",
        later=later,
        earlier_field=earlier_field,
        earlier=earlier,
    )


def matching(regex: str, what: str) -> BeforeValidator:
    """A text validator: the whole (trimmed) value matches ``regex``, else "... is not {what}"."""
    compiled = re.compile(regex)

    def _match(value: Any) -> str:
        text = value.strip() if isinstance(value, str) else value
        if not isinstance(text, str) or not compiled.fullmatch(text):
            raise PydanticCustomError(
                "pattern", "{value} is not {what}", {"value": repr(value), "what": what}
            )
        return text

    return BeforeValidator(_match)


# A code issued by someone else (clinic, lab panel, operation, lot): short, printable ASCII.
AsciiCode = Annotated[str, matching(r"[0-9A-Za-z._/-]{1,20}", "a code (up to 20 letters, digits or . _ / -)")]
Name = Annotated[str, Field(min_length=1, max_length=50)]
Note = Annotated[str, Field(max_length=2000)]
LongText = Annotated[str, Field(max_length=10_000)]


class Fact(Body):
    """A registered clinical record: its date field (and ``past_fields``) may not be in the future.

    Dates that look ahead (next visit, expected delivery, next dose due) are not listed.
    """

    past_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _not_in_future(self, info: ValidationInfo) -> Self:
        today = today_from(info)
        if today is None or not self.record_type_name:
            return self
        for name in (record_type(self.record_type_name).date_field, *self.past_fields):
            value = getattr(self, name)
            if isinstance(value, str) and calendar_day(value) > today:
                raise blame(
                    name,
                    "{value} is in the future (today is {today})",
                    value=value,
                    today=today.isoformat(),
                )
        return self
