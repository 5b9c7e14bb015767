"""Bulk linking: a whole file of registrations (a legacy system's residents) into master persons.

Rules:

1. Reading never aborts: a row's unreadable values are dropped and counted
   per field (:attr:`LinkReport.problems`); only a file without a
   ``record_id`` column is refused (:class:`InputError`).
2. Candidates come from the blocking passes (:mod:`._blocking`); unless
   weights are given, u is estimated from :data:`RANDOM_PAIRS` random pairs
   of the file and m by EM on the candidate pairs (:mod:`._weights`); value
   frequencies come from the file itself, the prior from its size. Random
   pairs are drawn with a fixed seed: the same file links the same way.
3. Each candidate pair is judged (:func:`._decide.judge`); auto-links are
   joined into master persons strongest first, but never across a
   *cannot-link*: a pair under a hard guard (:data:`._decide.HARD_GUARDS`:
   distinct identity numbers, sex, family), two different trusted identity
   numbers in the two groups, or a group that would exceed :data:`MAX_GROUP`
   registrations. So shared phones,
   shared cards or placeholder numbers cannot chain strangers into one giant
   master person. A join refused that way goes to review instead.
4. Review pairs are not joined; they are reported (:attr:`LinkResult.reviews`)
   for a person to decide. Master ids are ``{prefix}{n:07d}``, numbered in the
   order their first registration appears in the input.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from schemas import REGISTRATION_CSV_COLUMNS

from ._blocking import PASSES, blocking_keys
from ._compare import Comparison, compare, frequency_keys
from ._decide import HARD_GUARDS, Outcome, judge, label
from ._normal import Profile, Registration, read_profile
from ._weights import Frequencies, Weights, estimate, estimate_u, prior_log_odds, probability, score

__all__ = [
    "CSV_COLUMNS",
    "MAX_GROUP",
    "InputError",
    "LinkReport",
    "LinkResult",
    "ReviewPair",
    "link_registrations",
    "pair_quality",
    "read_registrations",
]

MAX_GROUP = 50
"""Most registrations bulk linking joins into one master person (rule 3)."""
RANDOM_PAIRS = 100_000
"""Random pairs compared to estimate u (every pair, when a file has fewer)."""
CSV_COLUMNS = REGISTRATION_CSV_COLUMNS
_MAX_FIELD = 1_000  # characters kept of one CSV value: a runaway quote must not eat the file


class InputError(ValueError):
    """The input cannot be linked at all (not one bad value: those are dropped and counted)."""


@dataclass(frozen=True, slots=True)
class ReviewPair:
    """Two registrations a person should look at: probability, and the rule that held them back."""

    record_a: str
    record_b: str
    probability: float
    rule: str


@dataclass
class LinkReport:
    """Counts only (never values): what was read and decided."""

    records: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    candidate_pairs: int = 0
    auto_links: int = 0
    refused_joins: int = 0
    masters: int = 0


@dataclass(frozen=True)
class LinkResult:
    """``master_ids[i]`` is the master person of the i-th registration given."""

    master_ids: list[str]
    reviews: list[ReviewPair]
    weights: Weights
    report: LinkReport


def read_registrations(lines: Iterable[str], report: LinkReport | None = None) -> Iterator[Registration]:
    """Registrations from CSV text (a header row naming :data:`CSV_COLUMNS`, any order, extras ignored).

    Raises :class:`InputError` when there is no header or no ``record_id`` column.
    """
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty: expected a header row with a record_id column") from None
    except csv.Error as exc:
        raise InputError(f"the header row is not CSV: {exc}") from None
    columns = [h.strip().lstrip("\ufeff").lower() for h in header]
    if "record_id" not in columns:
        raise InputError(f"no record_id column in the header (columns: {', '.join(columns) or 'none'})")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            if report is not None:
                report.problems["row"] += 1
            continue
        if not any(v.strip() for v in row):
            continue
        if report is not None and len(row) != len(columns):
            report.problems["columns"] += 1
        values = {c: v[:_MAX_FIELD] for c, v in zip(columns, row, strict=False)}
        yield Registration.from_row(values)


def link_registrations(
    registrations: Sequence[Registration],
    *,
    weights: Weights | None = None,
    prefix: str = "M",
    report: LinkReport | None = None,
) -> LinkResult:
    """Link registrations to master persons (module rules); weights estimated from them unless given."""
    report = report if report is not None else LinkReport()
    profiles = [read_profile(r) for r in registrations]
    report.records = len(profiles)
    for p in profiles:
        report.problems.update(p.problems)
    counts: Counter[str] = Counter()
    for p in profiles:
        counts.update(frequency_keys(p))
    freq = Frequencies(counts, len(profiles), Frequencies.mean_of(counts, len(profiles)))
    pairs = candidate_pairs(profiles)
    report.candidate_pairs = len(pairs)
    compared = [(i, j, compare(profiles[i], profiles[j])) for i, j in pairs]
    if weights is None:
        rng = random.Random(len(profiles))
        sampled = random_pairs(len(profiles), rng)
        randoms = Counter(compare(profiles[i], profiles[j]).levels for i, j in sampled)
        weights = estimate(observations(c for _, _, c in compared), start=estimate_u(randoms))
    prior = prior_log_odds(len(profiles))
    links: list[tuple[float, int, int]] = []
    reviews: list[ReviewPair] = []
    cannot: dict[int, set[int]] = {}
    for i, j, c in compared:
        s, _ = score(c, weights, prior, freq)
        prob = probability(s)
        outcome, rule = judge(c, prob)
        if outcome is Outcome.LINK:
            links.append((prob, i, j))
        elif outcome is Outcome.REVIEW:
            reviews.append(ReviewPair(profiles[i].record_id, profiles[j].record_id, prob, rule))
        if rule in HARD_GUARDS:
            cannot.setdefault(i, set()).add(j)
            cannot.setdefault(j, set()).add(i)
    groups = _Groups(profiles, cannot)
    links.sort(key=lambda t: (-t[0], t[1], t[2]))
    for prob, i, j in links:
        joined = groups.join(i, j)
        if joined:
            report.auto_links += 1
        elif joined is False:
            report.refused_joins += 1
            reviews.append(ReviewPair(profiles[i].record_id, profiles[j].record_id, prob, "cannot_link"))
    master_ids = groups.master_ids(prefix)
    report.masters = len(set(master_ids))
    return LinkResult(master_ids, reviews, weights, report)


def candidate_pairs(profiles: Sequence[Profile]) -> list[tuple[int, int]]:
    """Every pair sharing a blocking key, blocks above their pass's cap skipped, in a stable order."""
    blocks: dict[str, list[int]] = {}
    caps: dict[str, int] = {}
    for i, p in enumerate(profiles):
        for pass_index, key in blocking_keys(p):
            members = blocks.setdefault(key, [])
            if not members or members[-1] != i:
                members.append(i)
            caps[key] = PASSES[pass_index].cap
    seen: set[tuple[int, int]] = set()
    for key, members in blocks.items():
        if 1 < len(members) <= caps[key]:
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    seen.add((members[a], members[b]))
    return sorted(seen)


def observations(comparisons: Iterable[Comparison]) -> Counter[tuple[tuple[int, ...], int]]:
    """(levels, label) counts of candidate pairs for EM (labels: ``_decide.label``)."""
    return Counter((c.levels, label(c)) for c in comparisons)


def random_pairs(n: int, rng: random.Random, k: int = RANDOM_PAIRS) -> list[tuple[int, int]]:
    """k distinct random pairs of n items; every pair when there are no more than k."""
    if n * (n - 1) // 2 <= k:
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    out: set[tuple[int, int]] = set()
    while len(out) < k:
        i, j = rng.randrange(n), rng.randrange(n)
        if i != j:
            out.add((min(i, j), max(i, j)))
    return sorted(out)


class _Groups:
    """Union-find over registrations with cannot-link constraints (rule 3)."""

    def __init__(self, profiles: Sequence[Profile], cannot: dict[int, set[int]]) -> None:
        self.parent = list(range(len(profiles)))
        self.members: dict[int, list[int]] = {i: [i] for i in range(len(profiles))}
        self.ids: dict[int, set[str]] = {i: {t} for i, p in enumerate(profiles) if (t := p.trusted_id)}
        self.cannot = cannot

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def join(self, i: int, j: int) -> bool | None:
        """True: joined; None: already one group; False: refused (a cannot-link)."""
        a, b = self.find(i), self.find(j)
        if a == b:
            return None
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        if len(self.members[a]) + len(self.members[b]) > MAX_GROUP:
            return False
        ids_a, ids_b = self.ids.get(a, set()), self.ids.get(b, set())
        if ids_a and ids_b and ids_a != ids_b:
            return False
        for x in self.members[b]:
            if any(self.find(y) == a for y in self.cannot.get(x, ())):
                return False
        self.parent[b] = a
        self.members[a].extend(self.members.pop(b))
        if ids_b:
            self.ids[a] = ids_a | ids_b
            self.ids.pop(b, None)
        return True

    def master_ids(self, prefix: str) -> list[str]:
        names: dict[int, str] = {}
        out = []
        for i in range(len(self.parent)):
            root = self.find(i)
            if root not in names:
                names[root] = f"{prefix}{len(names) + 1:07d}"
            out.append(names[root])
        return out


def pair_quality(truth: Sequence[str], predicted: Sequence[str]) -> tuple[float, float, float]:
    """Pairwise (precision, recall, F1) of a clustering against the true one (same-person pairs)."""
    if len(truth) != len(predicted):
        raise ValueError(f"truth has {len(truth)} labels, predicted {len(predicted)}")

    def pairs(counter: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    both = pairs(Counter(zip(truth, predicted, strict=True)))
    true_pairs, predicted_pairs = pairs(Counter(truth)), pairs(Counter(predicted))
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
