"""The order of things: household by household, residents first, then each member's timeline."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from ._chronic import chronic_followups, mental_followups, tuberculosis
from ._core import Generator, Household, Timeline
from ._deaths import death
from ._exams import allergy, annual_exams
from ._hospital import referrals_and_stays
from ._items import SynthItem
from ._maternal import child_health, plan_births, pregnancy
from ._people import household, settle
from ._residents import resident
from ._town import town_of, township_code
from ._visits import outpatient

__all__ = ["generate"]


def generate(
    *,
    residents: int,
    years: int = 3,
    seed: int = 1,
    today: dt.date,
    township: str | None = None,
) -> Iterator[SynthItem]:
    """Yield a township of ``residents`` people and ``years`` years of their care before ``today``.

    Births during the period add newborn residents (``SynthResident.newborn``)
    beyond ``residents``. ``township`` is a 9-digit code or a township's name.
    """
    if residents < 1:
        raise ValueError(f"residents: {residents} must be at least 1")
    if years < 0:
        raise ValueError(f"years: {years} must not be negative")
    town = town_of(township_code(township))
    gen = Generator(random.Random(seed), today=today, years=years, town=town)
    while gen.n_people < residents:
        hh = household(gen, residents - gen.n_people)
        yield from _emit_household(gen, hh)


def _emit_household(gen: Generator, hh: Household) -> Iterator[SynthItem]:
    settle(gen, hh)
    births: dict[int, list[tuple[int, int, bool]]] = {}
    if gen.years:
        for i, p in enumerate(hh.members):
            plan = plan_births(gen, p)
            if plan:
                births[i] = plan
                p.death = p.death_cause = None  # a mother-to-be lives through the period
    for p in list(hh.members):
        yield resident(gen, p)
    for i, p in enumerate(list(hh.members)):
        tl = Timeline(gen, p)
        _care(gen, tl)
        for lmp, delivered, twins in births.get(i, ()):
            pregnancy(gen, tl, lmp, delivered, twins)
        yield from tl.items()
        for child in [c for c in p.children if c.newborn]:
            ctl = Timeline(gen, child)
            _care(gen, ctl)
            yield from ctl.items()


def _care(gen: Generator, tl: Timeline) -> None:
    """Everything that happens to one person during the period, except their pregnancies."""
    p = tl.p
    if gen.years == 0 or tl.end < tl.begin:
        return
    if p.allergy is not None:
        allergy(gen, tl)
    if p.age(tl.end) < 7:
        child_health(gen, tl)
    outpatient(gen, tl)
    if p.htn is not None or p.dm is not None:
        chronic_followups(gen, tl)
    if p.smd is not None:
        mental_followups(gen, tl)
    if p.tb_start is not None:
        tuberculosis(gen, tl)
    annual_exams(gen, tl)
    referrals_and_stays(gen, tl)
    if p.death is not None:
        death(gen, tl)
