"""Field comparators: how far two profiles agree, field by field, as discrete levels.

The fields and their levels are one table, :data:`FIELDS`; levels run from the
strongest agreement to disagreement. A field missing on either side has no
level (:data:`MISSING`) and weighs nothing.

Rules:

1. ``id_number``: ``agree`` same 17-digit body, both valid; ``agree_weak``
   same body, a check character wrong or missing; ``near`` bodies one digit
   or one adjacent swap apart, *unless both are valid* (ISO 7064 MOD 11-2
   catches every single-digit error and adjacent swap, so two valid numbers
   that differ are two numbers: twins' numbers differ in the sequence digit);
   ``disagree`` otherwise.
2. ``other_id``: ``agree`` when the two share a card/other number.
3. ``name``: ``exact`` same 汉字 (or same Latin spelling); ``pinyin`` a common
   reading (homophones, surname readings 曾 zeng/ceng, 汉字 against Latin, Latin
   in either order); ``fuzzy`` the given names read alike and the surnames
   only sound alike (zh/z, n/l, -ng/-n …) or, in Latin, are a letter apart;
   ``given_only`` the given names read alike, the surnames do not;
   ``partial`` the surnames agree and the given names share a character, a
   syllable, a sound, or (Latin) are a letter apart (张文杰 / 张文涛, Zihan /
   Ziyan: twins, or a typo); ``surname_only`` the surnames agree, nothing
   else (parent and child, siblings); ``disagree``. A given name that
   differs by more than a homophone is never ``fuzzy``: that is what tells
   twins apart.
4. ``birth_date``: ``exact``; ``swap`` day and month swapped; ``near`` one
   digit off, two adjacent digits swapped, or a year apart; a year-only date
   is ``near`` a date of that year; ``disagree`` otherwise.
5. ``sex``: ``agree`` / ``disagree``.
6. ``household`` compares phone, address, village and township together, as
   they move together (a family shares all four): ``phone_home`` a shared
   phone and the same address or village; ``phone`` a shared phone only;
   ``address`` the same address (equal, one within the other, or mostly the
   same two-character shingles with the same numbers) in the same village
   (or village not given); ``village``; ``township``; ``elsewhere`` when something
   was comparable and nothing agreed.
7. ``mother``: ``agree`` when the mothers' names agree to ``fuzzy``.
8. Each agreement may name the value it agreed on (``freq_keys``): a common
   surname or a birth date everybody defaults to means less than a rare one
   (:mod:`._weights` scales by the value's frequency).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from ._names import Name
from ._normal import VALID, Profile

__all__ = ["FIELDS", "MISSING", "Comparison", "FieldSpec", "compare", "field_index", "frequency_keys"]

MISSING = -1


@dataclass(frozen=True)
class FieldSpec:
    name: str
    levels: tuple[str, ...]
    help: str


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("id_number", ("agree", "agree_weak", "near", "disagree"), "resident identity number"),
    FieldSpec("other_id", ("agree", "disagree"), "card number or other id"),
    FieldSpec(
        "name",
        ("exact", "pinyin", "fuzzy", "given_only", "partial", "surname_only", "disagree"),
        "name: 汉字, pinyin, sound, parts",
    ),
    FieldSpec("birth_date", ("exact", "swap", "near", "disagree"), "birth date"),
    FieldSpec("sex", ("agree", "disagree"), "sex"),
    FieldSpec(
        "household",
        ("phone_home", "phone", "address", "village", "township", "elsewhere"),
        "phone, address, village, township",
    ),
    FieldSpec("mother", ("agree", "disagree"), "mother's name"),
)

_F = {f.name: i for i, f in enumerate(FIELDS)}
_DIGITS_RE = re.compile(r"\d+")
_L = {(f.name, level): j for f in FIELDS for j, level in enumerate(f.levels)}


def field_index(name: str) -> int:
    return _F[name]


def level_index(field: str, level: str) -> int:
    return _L[field, level]


ID, OTHER, NAME, BIRTH, SEX, HOUSE, MOTHER = (_F[f.name] for f in FIELDS)
N_EXACT, N_PINYIN, N_FUZZY, N_GIVEN, N_PARTIAL, N_SURNAME, N_DISAGREE = range(7)
B_EXACT, B_SWAP, B_NEAR, B_DISAGREE = range(4)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two profiles compared: a level per field (MISSING when not comparable), and the agreed values.

    ``trusted_id``: both carry the same valid identity number, consistent with
    each registration's birth date and sex, or at least with each other's
    (their birth dates do not disagree, their sexes do not differ). ``distinct_ids``: both carry
    valid, consistent numbers, and they differ.
    """

    levels: tuple[int, ...]
    freq_keys: tuple[str | None, ...]
    trusted_id: bool
    distinct_ids: bool
    written_differs: bool = False  # both given names in 汉字, written differently (even if homophones)

    def level(self, field: str) -> str | None:
        j = self.levels[_F[field]]
        return None if j == MISSING else FIELDS[_F[field]].levels[j]


def compare(a: Profile, b: Profile) -> Comparison:
    """Compare two profiles field by field (rules 1-8)."""
    levels = [MISSING] * len(FIELDS)
    keys: list[str | None] = [None] * len(FIELDS)
    if a.id_number and b.id_number:
        levels[ID], keys[ID] = _ids(a, b)
    if a.other_ids and b.other_ids:
        shared = a.other_ids & b.other_ids
        levels[OTHER] = 0 if shared else 1
        keys[OTHER] = "o:" + min(shared) if shared else None
    if a.name is not None and b.name is not None:
        levels[NAME], keys[NAME] = compare_names(a.name, b.name)
    if a.birth and b.birth:
        levels[BIRTH] = _births(a.birth, b.birth)
        keys[BIRTH] = "d:" + a.birth if levels[BIRTH] in (B_EXACT, B_SWAP) else None
    if a.sex and b.sex:
        levels[SEX] = 0 if a.sex == b.sex else 1
    levels[HOUSE], keys[HOUSE] = _household(a, b)
    if a.mother is not None and b.mother is not None:
        levels[MOTHER] = 0 if compare_names(a.mother, b.mother)[0] <= N_FUZZY else 1
    ta, tb = a.trusted_id, b.trusted_id
    # One valid number on both, a birth date or sex mistyped on one form: still one number
    # (but a birth date read off the number itself proves nothing about it).
    same_number = (
        levels[ID] == 0
        and levels[BIRTH] not in (MISSING, B_DISAGREE)
        and not (a.birth_from_id or b.birth_from_id)
        and levels[SEX] != 1
    )
    return Comparison(
        levels=tuple(levels),
        freq_keys=tuple(keys),
        trusted_id=(ta is not None and ta == tb) or same_number,
        distinct_ids=ta is not None and tb is not None and ta != tb,
        written_differs=_written_differs(a.name, b.name),
    )


def _written_differs(a: Name | None, b: Name | None) -> bool:
    return bool(a and b and a.han_given and b.han_given and a.han_given != b.han_given)


def frequency_keys(p: Profile) -> list[str]:
    """The values of one profile whose frequencies weight agreements (rule 8)."""
    out: list[str] = []
    if p.name is not None:
        out += ["n:" + p.name.primary, "s:" + p.name.primary_surname]
        if p.name.primary_given:
            out.append("g:" + p.name.primary_given)
    if p.birth:
        out.append("d:" + p.birth)
    if p.id_body:
        out.append("i:" + p.id_body)
    out += ["o:" + o for o in sorted(p.other_ids)]
    out += ["p:" + ph for ph in sorted(p.phones)]
    return out


# -- identifiers ------------------------------------------------------------------------


def _ids(a: Profile, b: Profile) -> tuple[int, str | None]:
    assert a.id_number and b.id_number
    ba, bb = a.id_number[:17], b.id_number[:17]
    both_valid = a.id_status == VALID and b.id_status == VALID
    if ba == bb:
        return (0 if both_valid else 1), "i:" + ba
    if not both_valid and _one_edit(ba, bb):
        return 2, None
    return 3, None


def _one_edit(x: str, y: str) -> bool:
    """Same length, and one substitution or one adjacent transposition apart."""
    if len(x) != len(y):
        return False
    diff = [i for i, (c, d) in enumerate(zip(x, y, strict=True)) if c != d]
    if len(diff) == 1:
        return True
    i = diff[0] if len(diff) == 2 else -1
    return i >= 0 and diff[1] == i + 1 and x[i] == y[i + 1] and x[i + 1] == y[i]


# -- names ------------------------------------------------------------------------------


def compare_names(a: Name, b: Name) -> tuple[int, str | None]:
    """(level, frequency key) of two names (rule 3)."""
    if (a.han and a.han == b.han) or (not a.han and not b.han and a.primary == b.primary):
        return N_EXACT, "n:" + a.primary
    both_han = bool(a.han and b.han)
    ra, rb = (a.common, b.common) if both_han else (a.readings, b.readings)
    if ra & rb:
        return N_PINYIN, "n:" + (a.primary if a.primary in rb else b.primary)
    given = bool(a.common_givens & b.common_givens) if both_han else bool(a.givens & b.givens)
    surname = bool(a.surnames & b.surnames) or (bool(a.han_surname) and a.han_surname == b.han_surname)
    if given and not surname and _surnames_close(a, b):
        return N_FUZZY, "n:" + a.primary
    if given and not surname:
        return N_GIVEN, "g:" + a.primary_given
    surname = surname or bool(a.surname_sounds & b.surname_sounds)
    if surname and _given_overlap(a, b):
        return N_PARTIAL, "s:" + a.primary_surname
    if surname:
        return N_SURNAME, "s:" + a.primary_surname
    return N_DISAGREE, None


def _surnames_close(a: Name, b: Name) -> bool:
    """Surnames alike in sound, or (Latin) a letter apart."""
    if a.surname_sounds & b.surname_sounds:
        return True
    return (a.latin or b.latin) and any(
        min(len(x), len(y)) >= 3 and OSA.distance(x, y) <= 1 for x in a.surnames for y in b.surnames
    )


def _given_overlap(a: Name, b: Name) -> bool:
    """The given names share a character, a syllable's reading or its sound, or are a letter apart."""
    if a.given_sounds & b.given_sounds:
        return True
    if a.han_given and b.han_given:
        if set(a.han_given) & set(b.han_given):
            return True
        return any(x & y for x, y in itertools.product(a.given_syllables, b.given_syllables))
    if a.given_syllables or b.given_syllables:
        han, lat = (a, b) if a.given_syllables else (b, a)
        return any(
            g.startswith(r) or g.endswith(r) for s in han.given_syllables for r in s for g in lat.givens if r
        )
    return any(
        OSA.distance(x, y) <= 1 or (len(x) >= 3 and len(y) >= 3 and (x[:3] == y[:3] or x[-3:] == y[-3:]))
        for x in a.givens
        for y in b.givens
    )


# -- birth dates ------------------------------------------------------------------------


def _births(x: str, y: str) -> int:
    if x[4:] == "0000" or y[4:] == "0000":
        return B_NEAR if x[:4] == y[:4] else B_DISAGREE
    if x == y:
        return B_EXACT
    if x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]:
        return B_SWAP
    if _one_edit(x, y) or (x[4:] == y[4:] and abs(int(x[:4]) - int(y[:4])) == 1):
        return B_NEAR
    return B_DISAGREE


# -- household --------------------------------------------------------------------------


def _household(a: Profile, b: Profile) -> tuple[int, str | None]:
    shared_phone = a.phones & b.phones
    town = _same(a.township, b.township)
    village = _same(a.village, b.village) if town is not False else False
    address = _same_address(a.address, b.address)
    if shared_phone:
        key = "p:" + min(shared_phone)
        return (0 if address or village else 1), key
    if address and village is not False:
        return 2, None
    if village:
        return 3, None
    if town:
        return 4, None
    comparable = (a.phones and b.phones) or village is False or town is False or address is False
    return (5 if comparable else MISSING), None


def _same(x: str | None, y: str | None) -> bool | None:
    return None if not x or not y else x == y


def _same_address(x: str | None, y: str | None) -> bool | None:
    """Same address (or one within the other, or two-character shingles mostly shared); None if missing."""
    if not x or not y:
        return None
    if x == y or (min(len(x), len(y)) >= 4 and (x in y or y in x)):
        return True
    if len(x) < 3 or len(y) < 3 or _DIGITS_RE.findall(x) != _DIGITS_RE.findall(y):
        return False  # 1组66号 and 9组66号 are two houses
    sx = {x[i : i + 2] for i in range(len(x) - 1)}
    sy = {y[i : i + 2] for i in range(len(y) - 1)}
    return 2 * len(sx & sy) / (len(sx) + len(sy)) >= 0.7
