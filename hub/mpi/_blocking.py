"""Blocking: the few registrations worth comparing with one registration, found by key.

Each pass turns a profile into keys; two registrations are candidates when
they share a key of any pass. The passes overlap on purpose, so one error
(a mistyped year, a homophone, a swapped day and month, a new village) still
leaves another pass that brings the pair together.

Rules:

1. The passes are the table :data:`PASSES`, in the order the index reads them.
   Birth dates enter keys with day and month unordered (``1980|0305`` for
   both 1980-03-05 and 1980-05-03), so a swap never separates a pair.
   Name keys use the *sounds* of the name's readings (:func:`._names.sound`),
   so homophones, surname readings, Latin spellings and dialect confusions
   meet.
2. A key shared by more than its pass's ``cap`` registrations says little
   (a placeholder phone everyone got, a name as common as 王伟 in one year):
   that block is skipped, in bulk linking and in index look-ups alike. Other
   passes still find the pair.
3. Keys are strings here; the persistent index stores a 64-bit hash of each
   (:func:`key_hash`); a collision only adds a candidate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ._names import sound
from ._normal import Profile

__all__ = ["PASSES", "Pass", "blocking_keys", "key_hash"]


@dataclass(frozen=True)
class Pass:
    name: str
    cap: int
    help: str


PASSES: tuple[Pass, ...] = (
    Pass("id_number", 30, "identity number body, 17 digits (a wrong check character still meets)"),
    Pass("other_id", 30, "card number or other id"),
    Pass("phone", 20, "phone number"),
    Pass("name_year", 100, "sound of the whole name + birth year"),
    Pass("surname_date", 100, "sound of the surname + birth date: the given name mistyped"),
    Pass("given_date", 100, "sound of the given name + birth date: the surname mistyped or misread"),
    Pass("name_monthday", 100, "sound of the whole name + birth month and day: the year mistyped"),
    Pass("name_village", 100, "sound of the whole name + village: birth date missing or wrong"),
    Pass("name", 30, "sound of the whole name alone: birth date missing and the person moved"),
)
_MAX_SOUNDS = 4


def blocking_keys(p: Profile) -> list[tuple[int, str]]:
    """(pass index, key) for every key of a profile, pass by pass."""
    out: list[tuple[int, str]] = []
    if p.id_body:
        out.append((0, "i" + p.id_body))
    out += [(1, "o" + o) for o in sorted(p.other_ids)]
    out += [(2, "p" + ph) for ph in sorted(p.phones)]
    name = p.name
    if name is None:
        return out
    sounds = _sounds(name.sounds, name.primary)
    day = _day(p.birth) if p.birth else None
    year = p.birth[:4] if p.birth else None
    if year:
        out += [(3, f"n{s}|{year}") for s in sounds]
    if day and year:
        out += [(4, f"s{s}|{year}{day}") for s in sorted(name.surname_sounds)[:_MAX_SOUNDS]]
        out += [(5, f"g{s}|{year}{day}") for s in sorted(name.given_sounds)[:_MAX_SOUNDS]]
    if day:
        out += [(6, f"m{s}|{day}") for s in sounds]
    if p.village:
        out += [(7, f"v{s}|{p.village}") for s in sounds]
    out += [(8, f"a{s}") for s in sounds]
    return out


def _sounds(sounds: frozenset[str], primary: str) -> list[str]:
    first = sound(primary)
    rest = sorted(s for s in sounds if s != first)
    return [first, *rest][:_MAX_SOUNDS]


def _day(birth: str) -> str | None:
    """Month and day, the smaller first; None for a year-only date."""
    m, d = birth[4:6], birth[6:8]
    if m == "00":
        return None
    return m + d if m <= d else d + m


def key_hash(key: str) -> int:
    """A signed 64-bit hash of a key, as SQLite stores an INTEGER."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
