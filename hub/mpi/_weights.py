"""Fellegi–Sunter weights: m and u per field level; u from random pairs, m by EM on candidates.

For a pair of registrations, ``m`` is the chance of a level when they are one
person, ``u`` when they are two people picked at random; a level weighs
``log2(m/u)`` bits, a missing field nothing. A pair's score is the log2-odds
that it is one person: the prior log-odds (:func:`prior_log_odds`: one
registration is one person among ``n``, odds ``1/n``) plus the weights;
:func:`probability` turns it into a probability.

Rules:

1. ``u`` comes from *random* pairs of the same population (every pair of a
   small one): strangers agreeing by chance. ``m`` comes from EM over the
   *candidate pairs* blocking produced, with ``u`` held fixed.
2. Some candidate pairs are labelled, so EM is anchored in what is known:
   pairs sharing an identity-number body are matches (unless the names and
   birth dates are plainly two people); pairs a guard holds back
   (:func:`._decide.guard_of`: twins, families, distinct numbers) are not.
   Families are what blocking brings most, and their agreement on a phone
   and a surname must not teach EM that matches look like families.
3. Every m and u starts from :data:`DEFAULT_WEIGHTS` and keeps it as a prior
   worth :data:`PRIOR_PAIRS` pairs (a Dirichlet prior), so a file of twenty
   registrations gets sensible weights, and a level the data never shows
   keeps its default. Every m and u stays at or above :data:`FLOOR`.
4. Frequency: an agreement on a value (a name, a birth date, a phone, …) has
   its u scaled by how common the value is against the average value of its
   kind, ``f̂/f̄``, clamped to [1/16, 16]: agreeing on 李 means less than on 仇.
   ``f̂ = (count + K·f̄) / (N + K)`` with ``K`` = :data:`FREQUENCY_PSEUDO`
   pulls rare counts in small data toward the average.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._compare import FIELDS, MISSING, Comparison

__all__ = [
    "DEFAULT_WEIGHTS",
    "FLOOR",
    "PRIOR_PAIRS",
    "Frequencies",
    "Weights",
    "estimate",
    "estimate_u",
    "prior_log_odds",
    "probability",
    "score",
]

PRIOR_PAIRS = 40.0
FLOOR = 1e-7
RARE = 5
FEW_RANDOM_PAIRS = 10_000
FREQUENCY_PSEUDO = 50.0
_CLAMP = 16.0
KNOWN_MATCH = 1
KNOWN_NON_MATCH = 0
UNKNOWN = -1


@dataclass(frozen=True)
class Weights:
    """m and u per field level (in :data:`FIELDS` order)."""

    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    pairs: int = 0  # candidate pairs the estimate of m rests on; 0 for the defaults
    random_pairs: int = 0  # random pairs the estimate of u rests on

    def bits(self, field: int, level: int) -> float:
        return float(math.log2(self.m[field][level] / self.u[field][level]))

    def as_json(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "random_pairs": self.random_pairs,
            "fields": {
                f.name: {lv: [self.m[i][j], self.u[i][j]] for j, lv in enumerate(f.levels)}
                for i, f in enumerate(FIELDS)
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Weights:
        """Weights saved by :meth:`as_json`; a field or level it lacks keeps the default."""
        fields = data.get("fields", {})
        m: list[tuple[float, ...]] = []
        u: list[tuple[float, ...]] = []
        for i, f in enumerate(FIELDS):
            saved = fields.get(f.name, {})
            pairs = [
                saved.get(lv, (DEFAULT_WEIGHTS.m[i][j], DEFAULT_WEIGHTS.u[i][j]))
                for j, lv in enumerate(f.levels)
            ]
            m.append(_normalised([float(p[0]) for p in pairs]))
            u.append(_normalised([float(p[1]) for p in pairs]))
        return cls(tuple(m), tuple(u), int(data.get("pairs", 0)), int(data.get("random_pairs", 0)))


def _normalised(values: list[float]) -> tuple[float, ...]:
    floored = [max(v, FLOOR) for v in values]
    total = sum(floored)
    if abs(total - 1.0) < 1e-12:
        return tuple(floored)  # already a distribution: leave it bit for bit (JSON round trips)
    return tuple(v / total for v in floored)


# m: what clerks' errors make of one person; u: what chance makes of two (rule 3).
_DEFAULTS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "id_number": ((0.90, 0.05, 0.03, 0.02), (1e-6, 1e-6, 1e-5, 1.0)),
    "other_id": ((0.85, 0.15), (1e-5, 1.0)),
    "name": ((0.78, 0.09, 0.04, 0.02, 0.03, 0.02, 0.02), (1e-4, 5e-5, 2e-4, 2e-3, 3e-3, 0.03, 0.965)),
    "birth_date": ((0.90, 0.03, 0.05, 0.02), (4e-5, 2e-6, 4e-4, 1.0)),
    "sex": ((0.98, 0.02), (0.5, 0.5)),
    "household": ((0.35, 0.10, 0.08, 0.25, 0.10, 0.12), (1e-4, 2e-5, 1e-4, 0.02, 0.1, 0.88)),
    "mother": ((0.93, 0.07), (1e-3, 0.999)),
}
DEFAULT_WEIGHTS = Weights(
    m=tuple(_normalised(list(_DEFAULTS[f.name][0])) for f in FIELDS),
    u=tuple(_normalised(list(_DEFAULTS[f.name][1])) for f in FIELDS),
)


class Frequencies:
    """Value counts of one population (rule 4): counts per key, ``n`` registrations, mean per kind."""

    def __init__(self, counts: Mapping[str, int], n: int, mean: Mapping[str, float]) -> None:
        self.counts = counts
        self.n = n
        self.mean = mean

    def factor(self, key: str) -> float:
        """How much likelier than average an agreement on ``key`` is among strangers (clamped)."""
        kind = key[:2]
        avg = self.mean.get(kind)
        if not avg or self.n <= 0:
            return 1.0
        f = (self.counts.get(key, 0) + FREQUENCY_PSEUDO * avg) / (self.n + FREQUENCY_PSEUDO)
        return min(max(f / avg, 1 / _CLAMP), _CLAMP)

    @staticmethod
    def mean_of(counts: Mapping[str, int], n: int) -> dict[str, float]:
        """Per kind, the chance two registrations picked at random agree on the value: Σ (count/n)²."""
        out: dict[str, float] = {}
        if n <= 0:
            return out
        for key, c in counts.items():
            out[key[:2]] = out.get(key[:2], 0.0) + (c / n) ** 2
        return out


NO_FREQUENCIES = Frequencies({}, 0, {})


def prior_log_odds(n: int) -> float:
    """log2 of the prior odds that two registrations of a population of ``n`` are one person: 1/(n-1)."""
    return -math.log2(max(n - 1, 1))


def score(
    c: Comparison, w: Weights, prior: float, freq: Frequencies = NO_FREQUENCIES
) -> tuple[float, list[float | None]]:
    """(log2-odds that the pair is one person, bits per field (None: missing)); ``prior`` in log2-odds."""
    total = prior
    bits: list[float | None] = []
    for i, level in enumerate(c.levels):
        if level == MISSING:
            bits.append(None)
            continue
        b = w.bits(i, level)
        key = c.freq_keys[i]
        if key is not None:
            b -= math.log2(freq.factor(key))
        bits.append(b)
        total += b
    return total, bits


def probability(log_odds: float) -> float:
    """The probability of a log2-odds score."""
    if log_odds > 60:
        return 1.0
    if log_odds < -60:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -log_odds))


def estimate_u(randoms: Mapping[tuple[int, ...], int], *, start: Weights = DEFAULT_WEIGHTS) -> Weights:
    """u from the levels of random pairs (``randoms``: levels -> count), start's u as the prior (rules 1, 3).

    Fewer than :data:`FEW_RANDOM_PAIRS` random pairs (a small file, whose
    "random" pairs include its matches) teach little: start's u is worth that
    many pairs. With more, it is worth :data:`PRIOR_PAIRS`, and a level seen
    fewer than :data:`RARE` times among R pairs gets no less than
    ``(count + 1) / R`` (nor than start's u): chance agreement the sample
    cannot rule out is not taken for impossible.
    """
    acc = [[0.0] * len(row) for row in start.u]
    seen = [0] * len(start.u)
    for levels, n in randoms.items():
        for i, lv in enumerate(levels):
            if lv != MISSING:
                acc[i][lv] += n
                seen[i] += n
    u: list[tuple[float, ...]] = []
    for i, row in enumerate(start.u):
        r = seen[i]
        strength = PRIOR_PAIRS if r >= FEW_RANDOM_PAIRS else float(FEW_RANDOM_PAIRS)
        values = []
        for j, u0 in enumerate(row):
            count = acc[i][j]
            smoothed = (count + strength * u0) / (r + strength)
            if count < RARE and r >= FEW_RANDOM_PAIRS:
                smoothed = max(u0, (count + 1) / (r + strength))
            values.append(smoothed)
        u.append(_normalised(values))
    return Weights(start.m, tuple(u), start.pairs, sum(randoms.values()))


def estimate(
    observations: Mapping[tuple[tuple[int, ...], int], int],
    *,
    start: Weights = DEFAULT_WEIGHTS,
    iterations: int = 100,
    tolerance: float = 1e-5,
) -> Weights:
    """m by EM over candidate pairs, start's u held fixed (rules 1-3).

    ``observations`` maps (levels, label) to how many candidate pairs showed
    them; labels: 1 a known match, 0 a known non-match, -1 unknown.
    """
    items = [(levels, label, n) for (levels, label), n in observations.items() if n > 0]
    total = sum(n for _, _, n in items)
    if total == 0:
        return start
    log_u = [[math.log(p) for p in row] for row in start.u]
    m, lam = start.m, 0.5
    for _ in range(iterations):
        acc = [[PRIOR_PAIRS * p for p in row] for row in start.m]
        matched = 0.0
        log_m = [[math.log(p) for p in row] for row in m]
        log_odds0 = math.log(lam / (1 - lam))
        for levels, label, n in items:
            if label == KNOWN_MATCH:
                g = 1.0
            elif label == KNOWN_NON_MATCH:
                continue
            else:
                x = log_odds0
                for i, lv in enumerate(levels):
                    if lv != MISSING:
                        x += log_m[i][lv] - log_u[i][lv]
                g = 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
            matched += g * n
            for i, lv in enumerate(levels):
                if lv != MISSING:
                    acc[i][lv] += g * n
        new_m = tuple(_normalised(row) for row in acc)
        new_lam = min(max(matched / total, 1e-6), 1 - 1e-6)
        change = abs(new_lam - lam) + max(
            abs(a - b) for r1, r2 in zip(new_m, m, strict=True) for a, b in zip(r1, r2, strict=True)
        )
        m, lam = new_m, new_lam
        if change < tolerance:
            break
    return Weights(m, start.u, total, start.random_pairs)
