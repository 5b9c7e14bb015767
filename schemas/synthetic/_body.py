"""What a person's body measures on a given day: growth, blood pressure, fasting glucose, weight."""

from __future__ import annotations

import datetime as dt

from ._core import Generator, Person
from ._tables import GROWTH

__all__ = ["blood_pressure", "child_weight", "fasting_glucose", "growth", "weight_at"]


def growth(sex: str, months: float) -> tuple[float, float, float]:
    """Median (weight kg, height cm, head cm) at an age in months, interpolated."""
    g = 0 if sex == "1" else 1
    rows = GROWTH
    for i in range(1, len(rows)):
        if months <= rows[i][0] or i == len(rows) - 1:
            a, b = rows[i - 1], rows[i]
            t = max(0.0, min(1.0, (months - a[0]) / (b[0] - a[0])))
            return (
                a[1 + g] + t * (b[1 + g] - a[1 + g]),
                a[3 + g] + t * (b[3 + g] - a[3 + g]),
                a[5 + g] + t * (b[5 + g] - a[5 + g]),
            )
    raise AssertionError("unreachable")  # pragma: no cover


def blood_pressure(gen: Generator, p: Person, day: int) -> tuple[int, int]:
    """Systolic and diastolic on ``day``; a treated hypertensive is controlled with chance ``p.control``."""
    rng = gen.rng
    if p.htn is not None and p.htn <= dt.date.fromordinal(day).year:
        if rng.random() < 0.02:
            return rng.randrange(180, 197), rng.randrange(104, 116)
        if rng.random() < p.control:
            return rng.randrange(118, 140), rng.randrange(68, 90)
        return rng.randrange(141, 179), rng.randrange(84, 106)
    age = p.age(day)
    s = int(max(92, min(139, 98 + 0.45 * age + rng.gauss(0, 8))))
    d = int(max(56, min(89, 60 + 0.22 * age + rng.gauss(0, 6))))
    return s, min(d, s - 20)


def fasting_glucose(gen: Generator, p: Person, day: int) -> float:
    """Fasting glucose (mmol/L) on ``day``; a diabetic is controlled with chance ``p.control``."""
    rng = gen.rng
    if p.dm is not None and p.dm <= dt.date.fromordinal(day).year:
        return round(rng.uniform(5.3, 6.9) if rng.random() < p.control else rng.uniform(7.1, 13.8), 1)
    return round(rng.uniform(6.1, 6.9) if rng.random() < 0.05 else rng.uniform(4.2, 6.0), 1)


def child_weight(p: Person, day: int) -> float:
    """A child's weight (kg) on ``day``: the growth median at the child's own percentile."""
    return round(growth(p.sex, p.age(day) * 12)[0] * (1 + 0.11 * p.z), 1)


def weight_at(gen: Generator, p: Person, day: int) -> float:
    """Weight (kg) on ``day``: a child's from the growth curve, an adult's around their own."""
    if p.age(day) < 18:
        return child_weight(p, day)
    return round(p.weight + gen.rng.uniform(-1.5, 1.5), 1)
