"""Registrations as they arrive, and the normalised profile the index compares.

A :class:`Registration` holds raw text, as a clinic, a CSV file or a legacy
system gives it; :func:`profile` reads it into a :class:`Profile`. Reading never
fails: a value that cannot be read is dropped and its field named in
``Profile.problems`` (never the value: personal data stays out of logs).

Rules:

1. Sex: ``1``/``M``/``male``/``男`` → ``1``; ``2``/``F``/``female``/``女`` → ``2``;
   anything else (``0``, ``9``, ``unknown``) is unknown, not a problem.
2. Birth dates: ``1980-03-05``, ``1980/3/5``, ``1980.3.5``, ``19800305``,
   ``1980年3月5日``, a trailing time, and day-first ``05.03.1980``/``05/03/1980``
   (month-first when the first part cannot be a month's day … i.e. when the
   second part is above 12). Stored as ``YYYYMMDD``; a date the calendar
   refuses (1980-02-30, 1980-13-05) is kept when its parts are plausible, for
   the comparisons can still see it is a typo or a swap. A bare year gives
   ``YYYY0000``.
3. Identity numbers: 18 characters (lower-case ``x`` accepted), 15-digit
   legacy numbers (read as ``19`` + the 6-digit date), 17 digits (check
   character missing). The 17-digit *body* identifies; the number is
   ``valid`` when its body is plausible (province, date: :mod:`schemas._idnumber`)
   and its check character right, else ``weak``. Placeholders (``111…``,
   ``000…``, ``1234567…``, a run of eight equal digits) are dropped.
   A number is *consistent* with its registration when its date and sex digit
   agree with the registration's birth date and sex (where given). A missing
   birth date or sex is taken from a plausible number.
4. Other ids and card numbers: upper case, letters and digits only, several
   separated by ``,;/|``; placeholders (shorter than 4, one repeated
   character, ``NA``, ``NULL``, ``无`` …) dropped. An 18-character value
   that reads as an identity number fills a missing identity number.
5. Phones: digits; ``+86``/``0086`` before a mobile dropped; several
   separated by ``,;/|``; a landline ``0571-88776655`` also gives its local
   number. Fewer than 7 digits, or placeholders (one or two distinct digits,
   six equal digits in a row, ``123456789``) are dropped.
6. Places: a 12-digit village or 9-digit township division code reads as its
   name (GB/T 2260 list); names lose their suffix (村, 社区, 村委会, 镇, 乡,
   街道, Village, Town …) and read as pinyin, so 王家村, 王家 and
   ``Wangjia Village`` are one village.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas import IdNumberError, check_digit, code_list, parse_id_number
from schemas._names import char_readings, fold_latin

from ._names import Name, read_name
from ._names import clear_cache as _read_name_cache_clear

__all__ = ["Profile", "Registration", "profile", "read_profile", "trim_caches"]

VALID = "valid"
WEAK = "weak"


@dataclass(frozen=True, slots=True)
class Registration:
    """One registration of a resident, as raw text. Only ``record_id`` is required.

    ``other_id`` holds a card number or any other id (several may be separated
    by ``,``); ``village`` and ``township`` a name or a division code.
    """

    record_id: str
    family_name: str = ""
    given_name: str = ""
    name_latin: str = ""
    sex: str = ""
    birth_date: str = ""
    id_number: str = ""
    other_id: str = ""
    phone: str = ""
    address: str = ""
    village: str = ""
    township: str = ""
    mother_name: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, str | None]) -> Registration:
        """A registration from a CSV row (unknown columns ignored, missing ones empty)."""
        values = {k.strip().lower(): (v or "") for k, v in row.items() if isinstance(k, str)}
        return cls(**{f: str(values.get(f, "")) for f in _FIELDS})

    @classmethod
    def from_resident(cls, record_id: str, body: Mapping[str, Any], *, mother_name: str = "") -> Registration:
        """A registration from a resident record body (``schemas`` type ``resident``, v2)."""
        address = body.get("address") or {}
        others = [body.get("card_number") or ""]
        others += [o.get("number", "") for o in body.get("other_ids") or () if isinstance(o, Mapping)]
        return cls(
            record_id=record_id,
            family_name=str(body.get("name") or ""),
            name_latin=str(body.get("name_latin") or ""),
            sex=str(body.get("sex") or ""),
            birth_date=str(body.get("birth_date") or ""),
            id_number=str(body.get("id_number") or ""),
            other_id=",".join(str(o) for o in others if o),
            phone=str(body.get("phone") or ""),
            address=str(address.get("street") or ""),
            village=str(address.get("division_code") or address.get("village") or ""),
            township=str(address.get("township") or ""),
            mother_name=mother_name,
        )


_FIELDS = tuple(f for f in Registration.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Profile:
    """A registration read for comparison (see the module rules). ``None``/empty: not given."""

    source: Registration
    name: Name | None
    sex: str | None
    birth: str | None
    birth_from_id: bool
    id_number: str | None  # as read: 17-digit body + check character (or "" when missing)
    id_status: str | None  # VALID or WEAK
    id_consistent: bool
    other_ids: frozenset[str]
    phones: frozenset[str]
    village: str | None
    township: str | None
    address: str | None
    mother: Name | None
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def record_id(self) -> str:
        return self.source.record_id

    @property
    def id_body(self) -> str | None:
        return self.id_number[:17] if self.id_number else None

    @property
    def trusted_id(self) -> str | None:
        """The identity number's body when it may link deterministically: valid and consistent."""
        trusted = self.id_number and self.id_status == VALID and self.id_consistent
        return self.id_number[:17] if trusted and self.id_number else None


@functools.lru_cache(maxsize=32_768)
def profile(reg: Registration) -> Profile:
    """:func:`read_profile`, remembered for the registrations read most recently."""
    return read_profile(reg)


def trim_caches(limit: int = 4_096) -> bool:
    """Empty the caches of read registrations, names and places once more than ``limit`` registrations
    are remembered; True if they were emptied.

    Bulk linking and benchmarks keep them whole; a long-running hub calls this between transactions
    so its memory stays bounded (a full cache holds a few hundred MB).
    """
    if profile.cache_info().currsize <= limit:
        return False
    profile.cache_clear()
    _read_name_cache_clear()
    _place_key.cache_clear()
    return True


def read_profile(reg: Registration) -> Profile:
    """Read a registration (never raises; unreadable fields are named in ``problems``)."""
    problems: list[str] = []
    name = read_name(reg.family_name, reg.given_name, reg.name_latin)
    if name is None and (reg.family_name.strip() or reg.given_name.strip() or reg.name_latin.strip()):
        problems.append("name")
    sex = parse_sex(reg.sex)
    birth = parse_birth(reg.birth_date)
    if birth is None and reg.birth_date.strip():
        problems.append("birth_date")
    others = parse_other_ids(reg.other_id)
    idn = parse_id(reg.id_number)
    if idn is None and reg.id_number.strip():
        if not _is_placeholder_id(reg.id_number):
            problems.append("id_number")
        if (moved := _code(reg.id_number)) and not _placeholder_code(moved) and len(moved) != 18:
            others |= {moved}  # a card or passport number typed in the wrong box
    if idn is None:
        for other in sorted(others):
            if (idn := parse_id(other)) is not None:
                others -= {other}
                break
    phones = parse_phones(reg.phone)
    if not phones and reg.phone.strip() and not _is_placeholder_phone(reg.phone):
        problems.append("phone")
    village, town = place(reg.village, reg.township)
    birth_from_id = False
    consistent = False
    if idn is not None:
        number = idn[0]
        implied_birth, implied_sex = number[6:14], "1" if int(number[16]) % 2 else "2"
        consistent = (birth is None or birth == implied_birth) and (sex is None or sex == implied_sex)
        if birth is None and _plausible_date(implied_birth):
            birth, birth_from_id = implied_birth, True
        if sex is None:
            sex = implied_sex
    return Profile(
        source=reg,
        name=name,
        sex=sex,
        birth=birth,
        birth_from_id=birth_from_id,
        id_number=idn[0] if idn else None,
        id_status=idn[1] if idn else None,
        id_consistent=consistent,
        other_ids=frozenset(others),
        phones=frozenset(phones),
        village=village,
        township=town,
        address=address_key(reg.address),
        mother=read_name(reg.mother_name) if reg.mother_name.strip() else None,
        problems=tuple(problems),
    )


# -- sex and dates (rules 1, 2) -----------------------------------------------------------

_MALE = frozenset({"1", "m", "male", "man", "boy", "男", "男性", "男人", "h"})
_FEMALE = frozenset({"2", "f", "female", "woman", "girl", "女", "女性", "女人", "w"})


def parse_sex(text: str) -> str | None:
    """``1`` (male), ``2`` (female) or None (unknown, unstated or unreadable)."""
    value = unicodedata.normalize("NFKC", text).strip().casefold().rstrip(".")
    return "1" if value in _MALE else "2" if value in _FEMALE else None


_TIME_RE = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_YMD_RE = re.compile(r"(\d{4})[-/.\s](\d{1,2})[-/.\s](\d{1,2})")
_DMY_RE = re.compile(r"(\d{1,2})[-/.\s](\d{1,2})[-/.\s](\d{4})")
_MIN_YEAR, _MAX_YEAR = 1880, 2100


def parse_birth(text: str) -> str | None:
    """``YYYYMMDD`` (rule 2), or None when the text is not a date."""
    s = unicodedata.normalize("NFKC", text).strip()
    s = s.replace("年", "-").replace("月", "-").replace("日", "").replace("号", "").strip("- ")
    s = _TIME_RE.sub("", s).strip()
    y = m = d = 0
    if match := _YMD_RE.fullmatch(s):
        y, m, d = (int(g) for g in match.groups())
    elif match := _DMY_RE.fullmatch(s):
        a, b, y = (int(g) for g in match.groups())
        d, m = (b, a) if b > 12 >= a else (a, b)  # day first unless that cannot be
    elif s.isdigit() and len(s) == 8:
        if _MIN_YEAR <= int(s[:4]) <= _MAX_YEAR:
            y, m, d = int(s[:4]), int(s[4:6]), int(s[6:])
        else:
            d, m, y = int(s[:2]), int(s[2:4]), int(s[4:])
    elif s.isdigit() and len(s) == 4:
        y = int(s)
        return f"{y:04d}0000" if _MIN_YEAR <= y <= _MAX_YEAR else None
    else:
        return None
    if not (_MIN_YEAR <= y <= _MAX_YEAR and 1 <= m <= 31 and 1 <= d <= 31 and min(m, d) <= 12):
        return None
    return f"{y:04d}{m:02d}{d:02d}"


def _plausible_date(yyyymmdd: str) -> bool:
    y, m, d = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    return _MIN_YEAR <= y <= _MAX_YEAR and 1 <= m <= 12 and 1 <= d <= 31


# -- identifiers (rules 3, 4) ------------------------------------------------------------

_NOT_ALNUM_RE = re.compile(r"[^0-9A-Z]+")
_NO_VALUE = frozenset({"NA", "NAN", "NULL", "NONE", "NIL", "UNKNOWN", "无", "不详", "暂无", "NO"})


def _code(text: str) -> str:
    return _NOT_ALNUM_RE.sub("", unicodedata.normalize("NFKC", text).upper())


def _run(s: str) -> int:
    """Length of the longest run of one repeated character, or of digits counting up or down."""
    best = same = up = down = 1
    for a, b in itertools.pairwise(s):
        same = same + 1 if a == b else 1
        step = (int(b) - int(a)) % 10 if a.isdigit() and b.isdigit() else 0
        up = up + 1 if step == 1 else 1
        down = down + 1 if step == 9 else 1
        best = max(best, same, up, down)
    return best if s else 0


def _same_run(s: str) -> int:
    """Length of the longest run of one repeated character."""
    return max((len(list(g)) for _, g in itertools.groupby(s)), default=0)


def _is_placeholder_id(text: str) -> bool:
    code = _code(text)
    return len(code) >= 15 and _run(code[:17]) >= 8


def parse_id(text: str) -> tuple[str, str] | None:
    """(number, VALID or WEAK) of an identity number (rule 3), or None."""
    s = _code(text)
    if len(s) == 18 and s[:17].isdigit() and (s[17].isdigit() or s[17] == "X"):
        body, last = s[:17], s[17]
    elif len(s) == 15 and s.isdigit():
        body, last = s[:6] + "19" + s[6:], ""
    elif len(s) == 17 and s.isdigit():
        body, last = s, "?"
    else:
        return None
    if _run(body) >= 8:
        return None
    check = check_digit(body)
    try:
        parse_id_number(body + check)
    except IdNumberError:
        return body + (last or check), WEAK
    if last in ("", check):
        return body + check, VALID
    return body + last, WEAK


def _placeholder_code(code: str) -> bool:
    return len(code) < 4 or code in _NO_VALUE or len(set(code)) == 1 or _run(code) >= 8


def parse_other_ids(text: str) -> frozenset[str]:
    """Card numbers and other ids, normalised, placeholders dropped (rule 4)."""
    parts = re.split(r"[,;/|，；、]+", unicodedata.normalize("NFKC", text))
    codes = {_code(p) for p in parts}
    return frozenset(c for c in codes if c and not _placeholder_code(c))


# -- phones (rule 5) ---------------------------------------------------------------------

_PHONE_SPLIT_RE = re.compile(r"[,;/|，；、]+|\s{2,}|或")


def _is_placeholder_phone(text: str) -> bool:
    digits = "".join(c for c in unicodedata.normalize("NFKC", text) if c.isdigit())
    return bool(digits) and _placeholder_phone(digits)


def _placeholder_phone(digits: str) -> bool:
    return len(set(digits)) <= 2 or _same_run(digits) >= 6 or _run(digits) >= 9


def parse_phones(text: str) -> frozenset[str]:
    """Phone numbers as digits (rule 5); a landline also as its local number."""
    out: set[str] = set()
    for part in _PHONE_SPLIT_RE.split(unicodedata.normalize("NFKC", text)):
        digits = "".join(c for c in part if c.isdigit())
        if digits.startswith("0086"):
            digits = digits[4:]
        elif digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
            digits = digits[2:]
        if not 7 <= len(digits) <= 12 or _placeholder_phone(digits):
            continue
        out.add(digits)
        if digits.startswith("0") and len(digits) >= 10:
            out.add(digits[3:] if digits[1] in "12" else digits[4:])
    return frozenset(out)


# -- places (rule 6) ---------------------------------------------------------------------

_VILLAGE_SUFFIXES = (
    "社区居民委员会", "村民委员会", "居民委员会", "社区居委会", "村委会", "居委会", "社区", "村",
)  # fmt: skip
_TOWN_SUFFIXES = ("街道办事处", "办事处", "街道", "镇", "乡")
_LATIN_PLACE_WORDS = frozenset(
    {"village", "cun", "community", "shequ", "town", "township", "zhen", "xiang", "subdistrict", "jiedao"}
)
_ADDRESS_DROP_RE = re.compile(r"[\s,.;:·，。；：、()（）#-]+")


def place(village: str, township: str) -> tuple[str | None, str | None]:
    """(village key, township key) of what a registration gives (rule 6)."""
    v_code = _code(village)
    t_code = _code(township)
    divisions = code_list("division")
    v_text, t_text = village, township
    if v_code.isdigit() and len(v_code) == 12 and v_code == village.strip():
        entry = divisions.get(v_code)
        v_text = entry.zh if entry else v_code
        if not township.strip():
            town = divisions.get(v_code[:9])
            t_text = town.zh if town else ""
    if t_code.isdigit() and len(t_code) == 9 and t_code == township.strip():
        entry = divisions.get(t_code)
        t_text = entry.zh if entry else t_code
    return _place_key(v_text, _VILLAGE_SUFFIXES), _place_key(t_text, _TOWN_SUFFIXES)


@functools.lru_cache(maxsize=65_536)
def _place_key(text: str, suffixes: tuple[str, ...]) -> str | None:
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
    if not s:
        return None
    if s.isdigit():
        return s
    if any(ord(c) > 0x2FFF for c in s):
        s = s.replace(" ", "")
        for suffix in suffixes:
            if s.endswith(suffix) and len(s) > len(suffix):
                s = s[: -len(suffix)]
                break
        readings = [char_readings(c) for c in s]
        key = "".join(r[0] if r else c for r, c in zip(readings, s, strict=True))
        return key or None
    words = [fold_latin(w) for w in s.split(" ")]
    kept = [w for w in words if w and w not in _LATIN_PLACE_WORDS]
    key = "".join(kept) or "".join(words)
    for tail in ("cun", "zhen", "xiang"):
        if key.endswith(tail) and len(key) > len(tail) + 2:
            key = key[: -len(tail)]
            break
    return key or None


def address_key(text: str) -> str | None:
    """The address without spaces and punctuation, case folded; None when empty."""
    s = _ADDRESS_DROP_RE.sub("", unicodedata.normalize("NFKC", text).casefold())
    return s or None
