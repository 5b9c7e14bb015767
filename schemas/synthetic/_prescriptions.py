"""Prescription lines: which drugs a diagnosis gets, and doses that fit the patient."""

from __future__ import annotations

import math
from typing import Any

from ._body import child_weight
from ._conditions import Dx
from ._core import Generator, Person
from ._tables import BETA_LACTAM_SWAP, BETA_LACTAMS, CHILD_SWAP, CHRONIC, FEVER_DRUGS, RX

__all__ = ["choose_rx", "rx_item"]

# Administrations per day of each frequency code ("prn": assume twice a day).
_TIMES = {
    "qd": 1,
    "bid": 2,
    "tid": 3,
    "qid": 4,
    "q6h": 4,
    "q8h": 3,
    "q12h": 2,
    "qn": 1,
    "qod": 0.5,
    "qw": 1 / 7,
    "biw": 2 / 7,
    "prn": 2,
    "st": 1,
}


def rx_item(gen: Generator, drug: str, p: Person, day: int, *, days: int | None = None) -> dict[str, Any]:
    """One prescription line with a dose that fits the patient (weight-based for children)."""
    info = gen.town.drugs[drug]
    if drug in CHRONIC:
        _, freq, dose, per = CHRONIC[drug]
        route, n_days = "po", 30
    else:
        dose, route, freq, n_days, per = RX[drug]
    age = p.age(day)
    if age < 12:
        w = child_weight(p, day)
        if drug == "paracetamol_oral_susp":
            dose, freq, per = _half(max(1.5, w * 12 / 32)), "prn", 0
        elif drug == "ibuprofen_oral_susp":
            dose, freq, per = _half(max(2.0, w * 7.5 / 20)), "prn", 0
        elif drug == "amoxicillin_125mg_granule":
            units = max(1, round(w * 15 / 125))
            dose, freq, per = _num(units * 0.125), "tid", units
        elif drug == "azithromycin_100mg_granule":
            units = max(1, round(w * 10 / 100))
            dose, freq, n_days, per = _num(units * 0.1), "qd", 3, units
        elif drug == "ambroxol_oral_solution":
            dose, freq, per = ("2.5" if age < 6 else "5"), "bid", 0
        elif drug == "montmorillonite_3g_powder":
            dose, freq, per = "1", ("qd" if age < 1 else "bid" if age < 2 else "tid"), 1
        elif drug == "xiaochaihu_granule":
            dose, per = ("0.5" if age < 6 else "1"), (0.5 if age < 6 else 1)
        elif drug == "shuanghuanglian_oral_liquid":
            dose, per = "10", 1
        elif drug == "bifidobacterium_triple_cap":
            dose, per = "1", 1
        elif drug == "pudilan_xiaoyan_tab":
            dose, per = "2", 2
        elif drug == "loratadine_10mg_tab" and w < 30:
            dose, per = "5", 0.5
    n_days = days or n_days
    if freq == "st":
        n_days = 1
    if per:
        count = per * _TIMES[freq] * n_days
        quantity = max(1, math.ceil(count / info["pack"]))
    else:
        quantity = 1
    return {
        "drug": drug,
        "dose": dose,
        "dose_unit": info["unit"],
        "route": route,
        "frequency": freq,
        "days": n_days,
        "quantity": quantity,
        "unit_price": info["price"],
    }


def choose_rx(gen: Generator, dx: Dx, p: Person, age: float, fever: bool) -> list[str]:
    """The drugs for ``dx``: children's preparations, no antipyretic without fever, no allergen."""
    child = age < 12
    options = dx.child_rx if child and dx.child_rx else dx.adult_rx or dx.child_rx
    drugs = list(gen.pick(options)) if options else []
    if child:
        drugs = [CHILD_SWAP.get(d, d) for d in drugs]
    if not fever and len(drugs) > 1:
        drugs = [d for d in drugs if d not in FEVER_DRUGS] or drugs[:1]
    if p.allergy is not None and p.allergy[1] in ("青霉素", "头孢类抗生素"):
        fallback = "azithromycin_100mg_granule" if child else "azithromycin_250mg_tab"
        drugs = [(BETA_LACTAM_SWAP.get(d, fallback) if d in BETA_LACTAMS else d) for d in drugs]
    if p.allergy is not None and p.allergy[1] == "阿司匹林":
        drugs = [d for d in drugs if d != "aspirin_ec_100mg_tab"] or ["isosorbide_mononitrate_20mg_tab"]
    return list(dict.fromkeys(drugs))


def _half(x: float) -> str:
    return _num(round(x * 2) / 2)


def _num(x: float) -> str:
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return text or "0"
