"""Privacy of shared records: which records are sensitive, and whether the resident consented to share them.

Rules:
1. A record is *sensitive* when its type is a sensitive type (built in:
   ``mental_followup``, the severe-mental-disorder follow-ups) or any ICD-10
   code in it falls under a sensitive prefix (built in: HIV disease B20–B24,
   sexually transmitted infections A50–A64, schizophrenia and other psychoses
   F20–F29, bipolar disorder F31). Operators add types and ICD-10 prefixes or
   ranges (``rhip hub privacy --sensitive``); built-in ones cannot be removed.
2. Residents' demographics (``resident``) and consents are never sensitive:
   they identify the person and carry the consent itself. (A summary leaves
   out the sensitive items of a resident's past and family history.)
3. A sensitive record is shared with another clinic only when the resident
   consented: the newest current ``consent`` record (by its date, then its
   stamp) of any registration of the master person says ``permit``. A later
   ``deny`` stops further sharing; what was shared stays shared.
4. Without consent a clinician may still *break the glass* (``hub._shared``):
   the records are returned once, audited, and raised to the operator.

Pure: the rules are data; the store reads and writes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import schemas

__all__ = [
    "BUILTIN_ICD",
    "BUILTIN_TYPES",
    "PrivacyRules",
    "consent_permits",
    "icd_codes",
    "parse_sensitive",
]

BUILTIN_TYPES = frozenset({"mental_followup"})


def _range(first: str, last: str) -> tuple[str, ...]:
    letter = first[0]
    return tuple(f"{letter}{n:02d}" for n in range(int(first[1:]), int(last[1:]) + 1))


BUILTIN_ICD: tuple[str, ...] = (
    *_range("B20", "B24"),  # HIV disease
    *_range("A50", "A64"),  # infections with a predominantly sexual mode of transmission
    *_range("F20", "F29"),  # schizophrenia, schizotypal and delusional disorders
    "F31",  # bipolar affective disorder
)
NEVER_SENSITIVE = frozenset({"resident", "consent"})

_ICD_PREFIX_RE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$")
_ICD_RANGE_RE = re.compile(r"^([A-Z])([0-9]{2})-([A-Z])([0-9]{2})$")
_ICD_KEYS = frozenset({"icd10", "underlying_cause", "admitting_diagnosis"})
_ICD_LIST_KEYS = frozenset({"diagnoses", "preliminary_diagnoses", "health_problems"})


def parse_sensitive(text: str) -> list[tuple[str, str]]:
    """``(value, kind)`` pairs for one operator entry: a record type (kind ``type``), an ICD-10
    prefix (``A53``, ``F32.1``) or a range within one letter (``A50-A64``) (kind ``icd``).

    Raises ValueError with what is expected.
    """
    value = text.strip()
    if not value:
        raise ValueError("give a record type or an ICD-10 code, prefix or range")
    known = {rt.name for rt in schemas.record_types()}
    if value in known:
        if value in NEVER_SENSITIVE:
            raise ValueError(f"{value} records are always shared: they identify the resident or hold consent")
        return [(value, "type")]
    code = value.upper()
    if _ICD_PREFIX_RE.match(code):
        return [(code, "icd")]
    if match := _ICD_RANGE_RE.match(code):
        a, first, b, last = match.groups()
        if a != b or int(first) > int(last):
            raise ValueError(f"{value}: an ICD-10 range runs within one letter, low to high (A50-A64)")
        return [(c, "icd") for c in _range(a + first, b + last)]
    raise ValueError(
        f"{value!r} is neither a record type ({', '.join(sorted(known - NEVER_SENSITIVE)[:4])}, …) "
        "nor an ICD-10 code, prefix or range (F32, B20.1, A50-A64)"
    )


def icd_codes(data: Any) -> Iterator[str]:
    """Every ICD-10 code a record body carries (diagnoses, causes, problems, history)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in _ICD_KEYS and isinstance(value, str):
                yield value
            elif key in _ICD_LIST_KEYS and isinstance(value, list):
                for item in value:
                    if isinstance(item, str):
                        yield item
                    else:
                        yield from icd_codes(item)
            elif isinstance(value, dict | list):
                yield from icd_codes(value)
    elif isinstance(data, list):
        for item in data:
            yield from icd_codes(item)


@dataclass(frozen=True)
class PrivacyRules:
    """The sensitive record types and ICD-10 prefixes in force (rule 1)."""

    types: frozenset[str] = BUILTIN_TYPES
    icd_prefixes: tuple[str, ...] = BUILTIN_ICD

    @classmethod
    def with_operator(cls, added: Iterable[tuple[str, str]]) -> PrivacyRules:
        """The built-in rules plus ``(value, kind)`` pairs an operator added."""
        entries = list(added)
        types = BUILTIN_TYPES | {v for v, k in entries if k == "type"}
        icd = tuple(dict.fromkeys((*BUILTIN_ICD, *(v for v, k in entries if k == "icd"))))
        return cls(frozenset(types), icd)

    def sensitive_code(self, code: object) -> bool:
        """Whether one ICD-10 code falls under a sensitive prefix."""
        return isinstance(code, str) and code.upper().startswith(self.icd_prefixes)

    def sensitive(self, record: dict[str, Any]) -> bool:
        """Whether a record (``RecordEnvelope.as_dict()``) is sensitive (rules 1, 2)."""
        type_ = record.get("type")
        if type_ in NEVER_SENSITIVE:
            return False
        if type_ in self.types:
            return True
        return any(self.sensitive_code(code) for code in icd_codes(record.get("data")))

    def as_json(self) -> dict[str, Any]:
        return {"types": sorted(self.types), "icd_prefixes": list(self.icd_prefixes)}


def consent_permits(consents: Iterable[dict[str, Any]]) -> bool:
    """Whether the newest current consent among these records permits sharing (rule 3)."""
    records = [c for c in consents if c.get("type") == "consent"]
    superseded = {c.get("supersedes") for c in records if c.get("supersedes")}
    current = [c for c in records if c.get("id") not in superseded and c.get("status") != "entered-in-error"]
    if not current:
        return False
    newest = max(current, key=lambda c: (str(c.get("effective", "")), int(c.get("hlc", 0)), str(c["id"])))
    data = newest.get("data")
    return isinstance(data, dict) and data.get("decision") == "permit"
