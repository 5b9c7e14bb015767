"""The generator's state and the people it follows: the township over one period, its households and
members, and each member's timeline of items.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, TypeVar

from .._idnumber import check_digit
from ._items import SynthItem, SynthRecord, SynthResident
from ._tables import ERAS
from ._town import COUNTY, Town, Village

__all__ = ["YEAR", "Generator", "Household", "Person", "Timeline", "minutes_of"]

_T = TypeVar("_T")
YEAR = 365.25


class Generator:
    """One township over one period: the randomness, calendar, staff and counters every builder draws on."""

    def __init__(self, rng: random.Random, *, today: dt.date, years: int, town: Town) -> None:
        self.rng = rng
        self.today = today.toordinal()
        self.start = self.today - round(years * YEAR)
        self.years = years
        self.town = town
        self.iso_cache: dict[int, str] = {}
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.n_people = 0
        self.n_records = 0
        self.n_households = 0
        self.serial = 0
        self.card_batch = rng.randrange(10_000)  # cards of another run (seed) on the same node differ
        village_w = [3.0 if v.community else 2.0 for v in town.villages]
        self.village_cum = tuple(accumulate(village_w))
        # Clans: each village has one or two dominant surnames (its name's, if it has one).
        self.clans: dict[str, tuple[str, ...]] = {}
        for v in town.villages:
            clans = [v.clan] if v.clan else []
            while len(clans) < 2:
                s = town.surnames[bisect(town.surname_cum, rng.random() * town.surname_cum[24])]
                if s not in clans:
                    clans.append(s)
            self.clans[v.code] = tuple(clans)
        self.doctors = tuple(self._staff_name() for _ in range(6))
        self.public_health = tuple(self._staff_name() for _ in range(3))
        self.nurses = tuple(self._staff_name(sex="2") for _ in range(3))
        self.lab_staff = tuple(self._staff_name() for _ in range(2))
        self.village_doctors = {v.code: self._staff_name() for v in town.villages}
        self.county_doctors = tuple(self._staff_name() for _ in range(6))

    # -- small helpers ---------------------------------------------------------------------

    def iso(self, day: int) -> str:
        s = self.iso_cache.get(day)
        if s is None:
            s = self.iso_cache[day] = dt.date.fromordinal(day).isoformat()
        return s

    def at(self, day: int, minutes: int) -> str:
        """A date-time on ``day``, ``minutes`` after midnight (kept within the day)."""
        minutes = max(0, min(minutes, 23 * 60 + 59))
        return f"{self.iso(day)}T{minutes // 60:02d}:{minutes % 60:02d}:00"

    def clinic_time(self) -> int:
        rng = self.rng
        if rng.random() < 0.72:
            return rng.randrange(8 * 60, 11 * 60 + 30)
        return rng.randrange(14 * 60, 17 * 60)

    def pick(self, options: Sequence[_T]) -> _T:
        return options[self.rng.randrange(len(options))]

    def weighted(self, table: Sequence[tuple[float, _T]]) -> _T:
        total = sum(w for w, _ in table)
        x = self.rng.random() * total
        for w, item in table:
            x -= w
            if x < 0:
                return item
        return table[-1][1]

    def month(self, day: int) -> int:
        return dt.date.fromordinal(day).month - 1

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, prod = math.exp(-lam), 0, self.rng.random()
        while prod > limit:
            k += 1
            prod *= self.rng.random()
        return k

    def lot(self, day: int) -> str:
        d = dt.date.fromordinal(day - self.rng.randrange(60, 400))
        return f"{d.year}{d.month:02d}{self.pick('ABCDE')}{self.rng.randrange(1, 200):03d}"

    # -- names and numbers -----------------------------------------------------------------------

    def _staff_name(self, sex: str | None = None) -> str:
        rng = self.rng
        sex = sex or ("1" if rng.random() < 0.55 else "2")
        surname = self.town.surnames[
            bisect(self.town.surname_cum[:60], rng.random() * self.town.surname_cum[59])
        ]
        return surname + self.given_name(sex, 1975 + rng.randrange(25))

    def surname(self, village: Village | None = None) -> str:
        rng = self.rng
        if village is not None and rng.random() < 0.22:
            return self.pick(self.clans[village.code])
        cum = self.town.surname_cum
        return self.town.surnames[bisect(cum, rng.random() * cum[-1])]

    def given_name(self, sex: str, year: int, generation: str | None = None) -> str:
        rng = self.rng
        first, second, single = next(e for end, e in ERAS if year < end)[sex]
        if generation is None and rng.random() < single:
            return self.pick(second)
        if sex == "2" and year >= 1995 and rng.random() < 0.06:
            c = self.pick(second)
            return c + c  # 婷婷, 欣欣
        return (generation or self.pick(first)) + self.pick(second)

    def id_number(self, born: int, sex: str) -> str:
        birth = dt.date.fromordinal(born).strftime("%Y%m%d")
        rng = self.rng
        while True:
            seq = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
            if seq == 0:
                continue
            body = f"{COUNTY}{birth}{seq:03d}"
            if body not in self.used_ids:
                self.used_ids.add(body)
                return body + check_digit(body)

    def phone(self) -> str:
        rng = self.rng
        while True:
            prefix = self.pick(
                (
                    "139",
                    "135",
                    "138",
                    "158",
                    "159",
                    "152",
                    "182",
                    "187",
                    "181",
                    "177",
                    "199",
                    "180",
                    "133",
                    "189",
                )
            )
            number = f"{prefix}{rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number


@dataclass(eq=False)
class Household:
    """A household being built; its key starts the key of every item of its members."""

    key: str
    village: Village
    hid: str
    street: str
    members: list[Person] = field(default_factory=list)
    count: int = 0

    def next_key(self) -> str:
        self.count += 1
        return f"{self.key}/R{self.count}"


@dataclass(eq=False)
class Person:
    """A household member as the generator follows them; the health fields steer their care."""

    key: str
    hh: Household
    sex: str
    born: int  # date ordinal
    surname: str
    given: str
    rel: str = "02"
    name_latin: str | None = None
    ethnicity: str = "01"
    mother: Person | None = None
    father: Person | None = None
    spouse: Person | None = None
    link_spouse: bool = False  # this (later) spouse carries the spouse link
    away: bool = False
    married: bool = False
    widowed: bool = False
    phone: str | None = None
    id_number: str | None = None
    newborn: bool = False
    children: list[Person] = field(default_factory=list)
    # health
    height: float = 0.0
    weight: float = 0.0
    z: float = 0.0  # growth percentile of a child
    htn: int | None = None  # year of diagnosis
    dm: int | None = None
    copd: bool = False
    chd: bool = False
    smd: tuple[str, str, int] | None = None  # (icd10, kind, year)
    tb_start: int | None = None
    smoker: str = "never"
    cigarettes: int = 0
    drinker: str = "never"
    alcohol: float = 0.0
    allergy: tuple[float, str, str, str | None, str, str] | None = None
    death: int | None = None
    death_cause: str | None = None
    control: float = 0.7  # chance a chronic follow-up finds the condition controlled
    regimen: tuple[str, ...] = ()
    dm_regimen: tuple[str, ...] = ()
    insulin: tuple[str, str, str] | None = None
    psych_regimen: tuple[str, ...] = ()
    disabilities: tuple[str, ...] = ()
    birth_info: dict[str, Any] | None = None  # a child born during the period: its birth record
    pregnancy_key: str | None = None  # ... and the key of its mother's pregnancy registration

    @property
    def name(self) -> str:
        return self.surname + self.given

    def age(self, day: int) -> float:
        return (day - self.born) / YEAR


class Timeline:
    """One person's items during the period, in time order when emitted."""

    def __init__(self, gen: Generator, p: Person) -> None:
        self.gen = gen
        self.p = p
        self.begin = max(gen.start, p.born)
        self.end = min(gen.today, p.death) if p.death is not None else gen.today
        self._items: list[tuple[int, int, SynthItem]] = []
        self._n = 0

    def add(self, day: int, type_: str, data: dict[str, Any], refs: dict[str, str] | None = None) -> str:
        self.gen.n_records += 1
        key = f"{self.p.hh.key}/C{self.gen.n_records}"
        self._n += 1
        self._items.append((day, self._n, SynthRecord(key, self.p.key, type_, data, refs or {})))
        return key

    def add_resident(self, day: int, item: SynthResident) -> None:
        self._n += 1
        self._items.append((day, self._n, item))

    def items(self) -> list[SynthItem]:
        self._items.sort(key=lambda t: (t[0], t[1]))
        out: list[SynthItem] = [it for _, _, it in self._items]
        death = next((it for it in out if isinstance(it, SynthRecord) and it.type == "death"), None)
        if death is not None:  # the death record closes the file
            out.remove(death)
            out.append(death)
        return out


def minutes_of(when: str) -> int:
    """Minutes after midnight of an ISO date-time (``YYYY-MM-DDTHH:MM...``)."""
    return int(when[11:13]) * 60 + int(when[14:16])
