"""Households and their members: who lives together, how they are related, their health and fate.

Builders draw members only; the resident record is made from a member by ``_residents``.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect
from collections.abc import Callable

from ._body import growth
from ._core import YEAR, Generator, Household, Person
from ._tables import (
    ALLERGENS,
    DM_REGIMENS,
    ERAS,
    HTN_REGIMENS,
    INSULINS,
    PSYCH_REGIMENS,
    SMD_DIAGNOSES,
    STREETS,
    TIBETAN,
    TUJIA_SURNAMES,
    YI_GIVEN,
    YI_SURNAMES,
)

__all__ = ["household", "profile", "settle"]

# fmt: off
_HOUSEHOLD_KINDS: tuple[tuple[float, str], ...] = (
    (11, "elderly_single"), (17, "elderly_couple"), (28, "left_behind"), (20, "core"), (13, "empty_nest"),
    (8, "with_widow"), (4, "bachelor"), (5, "young"),
)
# fmt: on


def household(gen: Generator, room: int) -> Household:
    """A new household of a kind drawn by weight, cut to ``room`` (and at most six) members."""
    rng = gen.rng
    gen.n_households += 1
    village = gen.town.villages[bisect(gen.village_cum, rng.random() * gen.village_cum[-1])]
    n = gen.n_households
    if village.community:
        street = f"{gen.pick(STREETS)}{rng.randrange(1, 300)}号"
        if rng.random() < 0.5:
            street += f"{rng.randrange(1, 6)}单元{rng.randrange(1, 8)}楼{rng.randrange(1, 5)}号"
    else:
        street = f"{rng.randrange(1, 13)}组{rng.randrange(1, 80)}号"
    hh = Household(f"H{n}", village, f"{village.code}{n:06d}", street)
    kind = gen.weighted(_HOUSEHOLD_KINDS)
    _BUILDERS[kind](gen, hh)
    del hh.members[min(room, 6) :]
    for p in hh.members:
        if p.spouse is not None and p.spouse not in hh.members:
            p.spouse, p.link_spouse = None, False
        if p.mother is not None and p.mother not in hh.members:
            p.mother = None
        if p.father is not None and p.father not in hh.members:
            p.father = None
    gen.n_people += len(hh.members)
    return hh


def _person(
    gen: Generator,
    hh: Household,
    sex: str,
    born: int,
    surname: str | None = None,
    *,
    rel: str,
    generation: str | None = None,
) -> Person:
    year = dt.date.fromordinal(born).year
    surname = surname or gen.surname(hh.village if sex == "1" else None)
    p = Person(hh.next_key(), hh, sex, born, surname, gen.given_name(sex, year, generation), rel=rel)
    hh.members.append(p)
    return p


def _born_at_age(gen: Generator, age: float) -> int:
    return gen.today - int(age * YEAR) - gen.rng.randrange(365)


def _couple(
    gen: Generator, hh: Household, age: float, *, rel_h: str, rel_w: str, surname: str | None = None
) -> tuple[Person, Person]:
    rng = gen.rng
    h = _person(gen, hh, "1", _born_at_age(gen, age), surname, rel=rel_h)
    gap = max(-3.0, min(10.0, rng.gauss(2.5, 2.2)))
    w = _person(gen, hh, "2", _born_at_age(gen, max(age - gap, 19.0)), None, rel=rel_w)
    _marry(h, w)
    return h, w


def _marry(h: Person, w: Person) -> None:
    h.spouse, w.spouse = w, h
    h.married = w.married = True
    w.link_spouse = True  # the wife is yielded after her husband


def _children(
    gen: Generator,
    hh: Household,
    mother: Person,
    father: Person | None,
    *,
    count: int,
    rels: tuple[str, str],
    keep: Callable[[Person], bool] | None = None,
) -> list[Person]:
    """Children born to ``mother`` at plausible ages, only those born before the period starts."""
    rng = gen.rng
    out: list[Person] = []
    day = mother.born + int(rng.uniform(20.5, 28) * YEAR)
    year = dt.date.fromordinal(mother.born).year + 25
    generation = (
        gen.pick(next(e for end, e in ERAS if year < end)["1"][0])
        if year < 1985 and rng.random() < 0.6
        else None
    )
    surname = father.surname if father else mother.surname
    for _ in range(count):
        if day > gen.start or day > gen.today:
            break
        sex = "1" if rng.random() < 0.53 else "2"  # rural sex ratio at birth
        child = Person(
            "",
            hh,
            sex,
            day,
            surname,
            gen.given_name(sex, dt.date.fromordinal(day).year, generation if sex == "1" else None),
            rel=rels[0] if sex == "1" else rels[1],
            mother=mother,
            father=father,
        )
        mother.children.append(child)
        if father:
            father.children.append(child)
        if keep is None or keep(child):
            child.key = hh.next_key()
            hh.members.append(child)
            out.append(child)
        day += int(rng.uniform(2, 7) * YEAR)
    return out


# -- household kinds -------------------------------------------------------------------------------


def _hh_elderly_single(gen: Generator, hh: Household) -> None:
    rng = gen.rng
    sex = "2" if rng.random() < 0.68 else "1"
    p = _person(gen, hh, sex, _born_at_age(gen, rng.triangular(66, 99, 79)), rel="02")
    p.widowed = rng.random() < 0.9


def _hh_elderly_couple(gen: Generator, hh: Household) -> None:
    _couple(gen, hh, gen.rng.triangular(60, 93, 71), rel_h="02", rel_w="10")


def _hh_left_behind(gen: Generator, hh: Household) -> None:
    """Grandparents at home with grandchildren; the parents work away much of the year."""
    rng = gen.rng
    gf, gm = _couple(gen, hh, rng.triangular(54, 86, 67), rel_h="02", rel_w="10")
    alone = rng.random()
    son_age = gm.age(gen.today) - rng.uniform(21, 30)
    if son_age < 21:
        son_age = 21 + rng.random() * 3
    son = _person(gen, hh, "1", _born_at_age(gen, son_age), gf.surname, rel="20")
    son.mother, son.father = gm, gf
    gm.children.append(son)
    gf.children.append(son)
    dil = _person(gen, hh, "2", _born_at_age(gen, max(19.5, son_age - rng.uniform(-1, 4))), rel="38")
    _marry(son, dil)
    son.away = rng.random() < 0.7
    dil.away = son.away and rng.random() < 0.65
    n = gen.weighted(((0.3, 1), (0.58, 2), (0.12, 3)))
    _children(gen, hh, dil, son, count=n, rels=("41", "42"))
    if alone < 0.12:  # a grandparent has died: the widow(er) stays head
        gone = gm if rng.random() < 0.4 else gf
        hh.members.remove(gone)
        other = gf if gone is gm else gm
        other.spouse, other.married, other.widowed, other.link_spouse = None, False, True, False
        other.rel = "02"
        son.mother = son.mother if son.mother is not gone else None
        son.father = son.father if son.father is not gone else None
    elif rng.random() < 0.3:  # the son is the registered head
        son.rel, dil.rel = "02", "10"
        gf.rel, gm.rel = "51", "52"
        for c in hh.members[4:]:
            c.rel = "20" if c.sex == "1" else "30"


def _hh_core(gen: Generator, hh: Household) -> None:
    rng = gen.rng
    h, w = _couple(gen, hh, rng.triangular(32, 64, 54), rel_h="02", rel_w="10")
    if rng.random() < 0.25:
        h.away = True
        w.away = rng.random() < 0.5

    def stays(c: Person) -> bool:
        age = c.age(gen.today)
        return not (c.sex == "2" and age > 23 and rng.random() < 0.8) and not (
            age > 30 and rng.random() < 0.7
        )

    kids = _children(
        gen, hh, w, h, count=gen.weighted(((0.35, 1), (0.5, 2), (0.15, 3))), rels=("20", "30"), keep=stays
    )
    for c in kids:
        if c.age(gen.today) >= 18 and rng.random() < 0.6:
            c.away = True


def _hh_empty_nest(gen: Generator, hh: Household) -> None:
    h, _ = _couple(gen, hh, gen.rng.uniform(47, 68), rel_h="02", rel_w="10")
    h.away = gen.rng.random() < 0.2


def _hh_with_widow(gen: Generator, hh: Household) -> None:
    rng = gen.rng
    age = rng.uniform(40, 62)
    mother = _person(gen, hh, "2", _born_at_age(gen, min(98, age + rng.uniform(21, 32))), rel="52")
    mother.widowed = True
    h = _person(gen, hh, "1", _born_at_age(gen, age), rel="02")
    h.mother = mother
    mother.children.append(h)
    w = _person(gen, hh, "2", _born_at_age(gen, max(19.5, age - rng.gauss(2.5, 2))), rel="10")
    _marry(h, w)
    _children(
        gen,
        hh,
        w,
        h,
        count=gen.weighted(((0.5, 1), (0.5, 2))),
        rels=("20", "30"),
        keep=lambda c: c.age(gen.today) < 26 or rng.random() < 0.3,
    )


def _hh_bachelor(gen: Generator, hh: Household) -> None:
    rng = gen.rng
    age = rng.uniform(32, 66)
    if rng.random() < 0.5 and age < 66:
        mother = _person(gen, hh, "2", _born_at_age(gen, min(97, age + rng.uniform(21, 30))), rel="02")
        mother.widowed = True
        son = _person(gen, hh, "1", _born_at_age(gen, age), rel="20")
        son.mother = mother
        mother.children.append(son)
    else:
        _person(gen, hh, "1", _born_at_age(gen, age), rel="02")


def _hh_young(gen: Generator, hh: Household) -> None:
    rng = gen.rng
    h, w = _couple(gen, hh, rng.uniform(23, 33), rel_h="02", rel_w="10")
    h.away = rng.random() < 0.5
    w.away = h.away and rng.random() < 0.5
    _children(gen, hh, w, h, count=gen.weighted(((0.6, 1), (0.4, 2))), rels=("20", "30"))


_BUILDERS: dict[str, Callable[[Generator, Household], None]] = {
    "elderly_single": _hh_elderly_single,
    "elderly_couple": _hh_elderly_couple,
    "left_behind": _hh_left_behind,
    "core": _hh_core,
    "empty_nest": _hh_empty_nest,
    "with_widow": _hh_with_widow,
    "bachelor": _hh_bachelor,
    "young": _hh_young,
}

# -- people's details ---------------------------------------------------------------------------


def settle(gen: Generator, hh: Household) -> None:
    """Ethnicity, phones, health profile and fate of each member."""
    rng = gen.rng
    members = hh.members
    minority = rng.random()
    if minority < 0.004:  # a Yi wife married in from Liangshan
        wives = [p for p in members if p.sex == "2" and p.spouse is not None and p.rel in ("10", "38")]
        if wives:
            w = wives[-1]
            (sn, sl), (gn, gl) = gen.pick(YI_SURNAMES), gen.pick(YI_GIVEN["2"])
            w.surname, w.given, w.name_latin, w.ethnicity = sn, gn, f"{sl} {gl}", "07"
            for c in w.children:
                if rng.random() < 0.5:
                    c.ethnicity = "07"
    elif minority < 0.006:  # a Hui family
        for p in members:
            p.ethnicity = "03"
            if p.sex == "1" or p.mother is not None:
                p.surname = "马"
    elif minority < 0.008:  # a Tujia family from the Chongqing side
        surname = gen.pick(TUJIA_SURNAMES)
        for p in members:
            p.ethnicity = "15"
            if p.sex == "1" or p.mother is not None:
                p.surname = surname
    elif minority < 0.009:  # a Tibetan wife
        wives = [p for p in members if p.sex == "2" and p.spouse is not None]
        if wives:
            gn, gl = gen.pick(TIBETAN["2"])
            wives[-1].surname, wives[-1].given, wives[-1].name_latin, wives[-1].ethnicity = (
                "",
                gn,
                gl,
                "04",
            )
    for p in members:
        if p.surname == "朴" and rng.random() < 0.7:
            p.ethnicity = "10"
    for p in members:
        profile(gen, p)
    _phones(gen, hh)


def _phones(gen: Generator, hh: Household) -> None:
    rng = gen.rng
    for p in hh.members:
        age = p.age(gen.today)
        own = (
            1.0
            if p.away
            else 0.95
            if 18 <= age <= 60
            else 0.7
            if 60 < age <= 75
            else 0.35
            if age > 75
            else 0.5
            if age >= 14
            else 0.0
        )
        if rng.random() < own:
            p.phone = gen.phone()
    home = [p for p in hh.members if p.phone and not p.away]
    anyone = [p for p in hh.members if p.phone]
    for p in hh.members:
        if p.phone:
            continue
        guardian = p.mother if p.mother is not None and p.mother.phone and not p.mother.away else None
        src = guardian or (home[0] if home else anyone[0] if anyone else None)
        if src is not None:
            p.phone = src.phone


def profile(gen: Generator, p: Person) -> None:
    """Body, habits, chronic conditions and regimens, allergy and disability; then the fate."""
    rng = gen.rng
    age = p.age(gen.today)
    male = p.sex == "1"
    if age >= 18:
        p.height = rng.gauss(166 if male else 155, 5.5) - max(0.0, age - 60) * 0.12
        bmi = max(17.0, min(35.0, rng.gauss(23.2, 3.0)))
    else:
        p.z = max(-2.6, min(2.6, rng.gauss(0.0, 0.9)))
        p.height = growth(p.sex, age * 12)[1] * (1 + 0.035 * p.z)
        bmi = 0.0
    if male and age >= 15:
        p.smoker = gen.weighted(((0.52, "current"), (0.12, "former"), (0.36, "never")))
        p.cigarettes = rng.choice((5, 10, 10, 15, 20, 20, 30)) if p.smoker == "current" else 0
        p.drinker = gen.weighted(((0.35, "occasional"), (0.15, "frequent"), (0.12, "daily"), (0.38, "never")))
        p.alcohol = rng.choice((1.0, 2.0, 2.0, 3.0, 4.0)) if p.drinker in ("frequent", "daily") else 0.0
    elif age >= 15 and rng.random() < 0.03:
        p.smoker, p.cigarettes = "current", 5
    if (age >= 18 and not p.away) or age >= 35:
        year = dt.date.fromordinal(gen.today).year
        risk_htn = (
            0.0
            if age < 30
            else 0.05
            if age < 45
            else 0.17
            if age < 55
            else 0.28
            if age < 65
            else 0.38
            if age < 75
            else 0.46
        )
        if bmi > 27:
            risk_htn *= 1.4
        if rng.random() < risk_htn:
            p.htn = year - int(rng.uniform(0, max(1.0, age - 33)))
            bmi += 1.2
        risk_dm = 0.0 if age < 30 else 0.025 if age < 45 else 0.06 if age < 55 else 0.085 if age < 65 else 0.1
        if p.htn is not None:
            risk_dm *= 1.5
        if rng.random() < risk_dm:
            p.dm = year - int(rng.uniform(0, max(1.0, age - 33) * 0.7))
            bmi += 1.0
        smoked = p.smoker != "never"
        if (age >= 55 and smoked and rng.random() < 0.22) or (age >= 65 and rng.random() < 0.03):
            p.copd = True
        if age >= 60 and rng.random() < (0.06 if age < 70 else 0.11):
            p.chd = True
        if 18 <= age < 80 and rng.random() < 0.006:
            icd, kind, _ = gen.weighted(tuple((w, (c, k, w)) for c, k, w in SMD_DIAGNOSES))
            p.smd = (icd, kind, year - int(rng.uniform(1, max(2.0, age - 17))))
        if rng.random() < (0.0015 if age < 60 else 0.003) * (1.6 if male else 0.7):
            p.tb_start = rng.randrange(gen.start - 150, gen.today - 10)
    if age >= 18:
        p.weight = round(bmi * (p.height / 100) ** 2, 1)
        p.control = rng.uniform(0.35, 0.95)
        if p.htn is not None:
            p.regimen = gen.weighted(HTN_REGIMENS) if rng.random() < 0.93 else ()
        if p.dm is not None:
            p.dm_regimen = gen.weighted(DM_REGIMENS)
            if rng.random() < 0.1:
                p.insulin = gen.pick(INSULINS)
        if p.smd is not None:
            p.psych_regimen = gen.pick(PSYCH_REGIMENS[p.smd[1]])
    if rng.random() < 0.05:
        allergens = [a for a in ALLERGENS if a[1] != "鸡蛋" or age < 12]
        p.allergy = gen.weighted(tuple((a[0], a) for a in allergens))
    if age >= 16 and rng.random() < (0.015 if age < 60 else 0.05):
        p.disabilities = (gen.weighted(((6, "4"), (2, "1"), (2, "2"), (1, "5"), (0.5, "3"))),)
    if p.smd is not None and rng.random() < 0.6:
        p.disabilities = ("6",)
    _fate(gen, p)


def _fate(gen: Generator, p: Person) -> None:
    """Whether (and of what) the person dies during the period."""
    if gen.years == 0:
        return
    rng = gen.rng
    start = max(gen.start, p.born)
    mid_age = p.age((start + gen.today) // 2)
    q = (
        0.0003
        if mid_age < 15
        else 0.0008
        if mid_age < 35
        else 0.002
        if mid_age < 50
        else 0.005
        if mid_age < 60
        else 0.011
        if mid_age < 70
        else 0.03
        if mid_age < 80
        else 0.085
        if mid_age < 90
        else 0.2
    )
    q *= (
        0.53
        * (1.2 if p.htn is not None else 1.0)
        * (1.3 if p.dm is not None else 1.0)
        * (1.6 if p.copd else 1.0)
    )
    if rng.random() >= 1 - (1 - q) ** ((gen.today - start) / YEAR):
        return
    p.death = rng.randrange(start + 1, gen.today + 1)
    age = p.age(p.death)
    table: list[tuple[float, str]] = [
        (2 + 3 * (p.htn is not None), "I63.9"),
        (1 + 2 * (p.htn is not None), "I61.9"),
        (1.5 + (p.dm is not None) + 3 * p.chd, "I21.9"),
        (0.5 + 2 * p.chd * (age > 75), "I50.9"),
        (0.4 + 6 * p.copd, "J44.9"),
        (0.5 + 1.5 * (p.smoker != "never"), "C34.9"),
        (0.8, "C15.9"),
        (0.6, "C16.9"),
        (0.6, "C22.0"),
        (0.8 * (age > 80), "J18.9"),
        (0.8 * (p.dm is not None), "N18.9"),
        (3.0 * (age > 90), "R54"),
        (1.0 * (age < 60), "V89.2"),
        (0.5 * (age < 15) + 0.05, "T75.1"),
        (0.6 * (age > 80), "W19"),
    ]
    p.death_cause = gen.weighted([(w, c) for w, c in table if w > 0])
