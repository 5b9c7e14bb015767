"""The 18-digit resident identity number (GB 11643-1999).

Layout: 6-digit GB/T 2260 address code, 8-digit birth date (YYYYMMDD),
3-digit sequence (odd for men, even for women), 1 check character computed
with ISO 7064 MOD 11-2 over the first 17 digits ('X' stands for 10).
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "IdNumberError",
    "check_digit",
    "id_number_birth_date",
    "id_number_sex",
    "parse_id_number",
]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# Placeholders that staff type when the real number is not at hand; they pass
# the check digit by chance or not at all, and must never identify anyone.
_PLACEHOLDER_BODIES = frozenset(str(d) * 17 for d in range(10)) | {"12345678901234567"}
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


class IdNumberError(ValueError):
    pass


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def parse_id_number(value: str) -> str:
    """Return the normalised number (upper-case X) or raise IdNumberError saying why."""
    s = value.strip().upper()
    if len(s) != 18:
        raise IdNumberError(f"{value!r} is not 18 characters (has {len(s)})")
    body, last = s[:17], s[17]
    if not body.isdigit() or not (last.isdigit() or last == "X"):
        raise IdNumberError(f"{value!r} must be 17 digits followed by a digit or X")
    if body in _PLACEHOLDER_BODIES:
        raise IdNumberError(f"{value!r} is a placeholder, not a real identity number")
    if body[:2] not in _PROVINCES:
        raise IdNumberError(f"{value!r} starts with {body[:2]}, which is not a province code")
    try:
        dt.date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        raise IdNumberError(f"{value!r} contains {body[6:14]}, which is not a birth date") from None
    expected = check_digit(body)
    if last != expected:
        raise IdNumberError(f"{value!r} has check digit {last}, expected {expected}")
    return s


def id_number_birth_date(number: str) -> dt.date:
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def id_number_sex(number: str) -> str:
    """GB/T 2261.1 sex code implied by the sequence digit: '1' male, '2' female."""
    return "1" if int(number[16]) % 2 else "2"
