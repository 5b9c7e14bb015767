"""The demo county's townships: what is fixed about one (villages, clinic, drug prices, diagnosis tables)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

from .._codes import code_list
from ._conditions import AGE_BANDS, DX, SEASONS, Dx
from ._tables import (
    ALLERGENS,
    CHILD_SWAP,
    CHRONIC,
    DEATH_CAUSES,
    INPATIENT_RX,
    INSULINS,
    REFERRALS,
    RX,
    SCHEDULE,
    SMD_DIAGNOSES,
    STAYS,
    SURNAME_TABLE,
)

__all__ = ["COUNTY", "DEFAULT_TOWNSHIP", "Town", "Village", "town_of", "township_code", "township_codes"]

COUNTY = "511321"
DEFAULT_TOWNSHIP = "511321100"


def township_codes() -> list[str]:
    """The 9-digit township codes of the demo county, in code order."""
    return [c.code for c in code_list("division").codes if len(c.code) == 9 and c.code.startswith(COUNTY)]


def township_code(township: str | None) -> str:
    """The 9-digit code of ``township`` (a code or a Chinese or English name; None: the default)."""
    codes = township_codes()
    if township is None:
        return DEFAULT_TOWNSHIP if DEFAULT_TOWNSHIP in codes else codes[0]
    divisions = code_list("division")
    for code in codes:
        entry = divisions.get(code)
        if township in (code, entry.zh if entry else None, entry.en if entry else None):
            return code
    raise ValueError(f"township: {township!r} is not a township of county {COUNTY} ({', '.join(codes)})")


@dataclass(frozen=True)
class Village:
    """A village (or urban community) of a township."""

    code: str
    name: str
    community: bool
    clan: str | None  # the surname in the village's name (王家村 -> 王)


@dataclass(frozen=True)
class Town:
    """What is fixed about a township, computed once per code (no randomness)."""

    code: str
    name: str
    villages: tuple[Village, ...]
    clinic: str  # the township hospital's name
    drugs: dict[str, dict[str, Any]]  # code -> price, pack size, unit, name, tcm
    surnames: tuple[str, ...]
    surname_cum: tuple[float, ...]
    dx_tables: dict[tuple[int, str, int], tuple[tuple[Dx, ...], tuple[float, ...]]]


@cache
def town_of(code: str) -> Town:
    """What is fixed about township ``code``, built once; checks the tables against the code lists."""
    divisions = code_list("division")
    entry = divisions.get(code)
    if entry is None:  # pragma: no cover - township_code checked it
        raise ValueError(f"township: {code} is not in the division list")
    villages = []
    for c in divisions.codes:
        if c.extra.get("parent") == code and len(c.code) == 12:
            clan = c.zh[0] if c.zh.endswith("家村") and len(c.zh) == 3 else None
            villages.append(Village(c.code, c.zh, c.extra.get("kind") == "community", clan))
    if not villages:
        raise ValueError(f"township: {code} ({entry.zh}) has no villages in the division list")
    drugs = {}
    for d in code_list("drug").codes:
        m = re.match(r"(\d+)", str(d.extra.get("pack", "1")))
        drugs[d.code] = {
            "name": d.zh,
            "price": str(d.extra.get("price") or "1.00"),
            "pack": int(m.group(1)) if m else 1,
            "unit": str(d.extra.get("dose_unit", "tab")),
            "tcm": bool(d.extra.get("tcm")),
        }
    _check_tables(drugs)
    surnames = tuple(s for s, _ in SURNAME_TABLE)
    cum = tuple(accumulate(w for _, w in SURNAME_TABLE))
    return Town(code, entry.zh, tuple(villages), f"{entry.zh}卫生院", drugs, surnames, cum, _dx_tables())


def _check_tables(drugs: dict[str, dict[str, Any]]) -> None:
    """Every code the tables use exists in its code list (rule 4)."""
    used = set(RX) | set(CHRONIC) | set(INPATIENT_RX) | {i[0] for i in INSULINS}
    used |= {d for dx in DX for rx in dx.adult_rx + dx.child_rx for d in rx}
    used |= {d for _, _, _, d, _, _ in ALLERGENS if d}
    missing = sorted(d for d in used if d not in drugs)
    prescribed = {d for dx in DX for rx in dx.adult_rx + dx.child_rx for d in rx} | set(CHILD_SWAP.values())
    missing += sorted(f"{d} (no regimen)" for d in prescribed if d not in RX and d not in CHRONIC)
    icd = code_list("icd10")
    missing += sorted(
        c
        for c in [dx.icd for dx in DX]
        + list(DEATH_CAUSES)
        + [r[0] for r in REFERRALS]
        + [s[0] for s in STAYS]
        + [s[0] for s in SMD_DIAGNOSES]
        if c not in icd
    )
    missing += sorted(v for v, *_ in SCHEDULE if v not in code_list("vaccine"))
    for rx in list(RX.values()):
        if rx[1] not in code_list("route") or rx[2] not in code_list("frequency"):
            missing.append(f"{rx[1]}/{rx[2]}")
    if missing:
        raise RuntimeError(f"synthetic tables use codes missing from the code lists: {', '.join(missing)}")


def _dx_tables() -> dict[tuple[int, str, int], tuple[tuple[Dx, ...], tuple[float, ...]]]:
    """Cumulative weights of the (condition-free) outpatient diagnoses by age band, sex and month."""
    tables = {}
    for band in range(len(AGE_BANDS) - 1):
        lo, hi = AGE_BANDS[band], AGE_BANDS[band + 1] - 1
        for sex in ("1", "2"):
            fits = [
                d
                for d in DX
                if d.requires is None
                and d.ages[0] <= hi
                and d.ages[1] >= lo
                and (d.sex is None or d.sex == sex)
                and (d.child_rx if hi < 12 else d.adult_rx or d.child_rx)
            ]
            for month in range(12):
                cum = tuple(accumulate(d.weight * SEASONS[d.season][month] for d in fits))
                tables[band, sex, month] = (tuple(fits), cum)
    return tables
