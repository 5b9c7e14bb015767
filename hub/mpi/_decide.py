"""Decisions: auto-link, review or new master person, with the evidence side by side.

Rules (in this order):

1. **Identity number.** A pair sharing a *trusted* identity number (valid
   check character; birth date and sex digit consistent with both
   registrations) links, whatever the score, unless the names disagree
   outright (not even the surname): then a person reviews it.
2. **Score.** Otherwise the pair's probability (:mod:`._weights`) decides:
   at least :data:`LINK_AT` links, at least :data:`REVIEW_AT` goes to review,
   below is a different person.
3. **Guards** turn a would-be auto-link into a review (never the other way):

   - ``distinct_ids``: both carry trusted identity numbers, and they differ;
   - ``twin``: the given names differ (``partial``, ``surname_only``,
     ``disagree``) and the birth dates do not disagree (equal, swapped, a
     digit apart, or missing): twins share a surname, a birthday, a
     household and a mother, and often a generation character, so a given
     name that differs is a twin as likely as a typo;
   - ``family``: the given names differ and the birth dates disagree
     (parents, children and siblings sharing a phone, an address, a
     household booklet, or a parent's identity number on a child's form);
   - ``sex``: the sexes differ and the names agree only loosely (below
     ``pinyin``) or the given names are written differently (homophones:
     a boy and a girl twin named 宇熙 and 宇易);
   - ``no_name``: one side has no name, and no identifier agrees.

4. In bulk linking the guards ``distinct_ids``, ``sex`` and ``family`` are
   also *cannot-link* constraints (:data:`HARD_GUARDS`): such a pair is never
   joined, even through a chain of other links. ``twin`` is not: a pair held
   back only because a given name differs (a typo, or twins) may still be
   joined through a third registration that links strongly to both, since
   no registration with a name links to both of two twins without a guard.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ._compare import BIRTH, FIELDS, HOUSE, ID, NAME, OTHER, SEX, Comparison
from ._normal import Profile, Registration

__all__ = [
    "HARD_GUARDS",
    "LINK_AT",
    "REVIEW_AT",
    "Candidate",
    "Decision",
    "FieldEvidence",
    "Outcome",
    "evidence",
    "judge",
    "label",
]

LINK_AT = 0.95
"""Probability from which a pair links without a person looking (rule 2)."""
REVIEW_AT = 0.10
"""Probability from which a pair goes to the review queue (rule 2)."""

HARD_GUARDS = frozenset({"distinct_ids", "sex", "family"})
"""Guards that bulk linking also keeps as cannot-link constraints (rule 4)."""

_LOOSE_NAMES = frozenset({"fuzzy", "given_only", "partial", "surname_only", "disagree"})
_GIVEN_DIFFERS = frozenset({"partial", "surname_only", "disagree"})


class Outcome(enum.StrEnum):
    LINK = "link"
    REVIEW = "review"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class FieldEvidence:
    """One field of a pair, side by side: the level reached, its weight in bits, both values as given."""

    field: str
    level: str | None  # None: missing on one side
    bits: float | None
    ours: str
    theirs: str

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "level": self.level,
            "bits": None if self.bits is None else round(self.bits, 2),
            "ours": self.ours,
            "theirs": self.theirs,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """A master person a registration may be, through its best-matching registration ``record_id``."""

    master_id: str
    record_id: str
    probability: float
    score: float  # log2-odds
    outcome: Outcome
    rule: str  # "id_number", "score", or the guard that held it back
    evidence: tuple[FieldEvidence, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "master_id": self.master_id,
            "record_id": self.record_id,
            "probability": round(self.probability, 6),
            "score": round(self.score, 2),
            "outcome": self.outcome.value,
            "rule": self.rule,
            "evidence": [e.as_json() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a registration: link to ``master_id``, ask a person, or mint a new master person.

    ``candidates`` are the best master persons, best first, each with its
    evidence (for a review, the reviewer's side-by-side view). ``reason``
    says in words why (no personal data).
    """

    outcome: Outcome
    master_id: str | None
    candidates: tuple[Candidate, ...]
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "master_id": self.master_id,
            "reason": self.reason,
            "candidates": [c.as_json() for c in self.candidates],
        }


def judge(c: Comparison, probability: float) -> tuple[Outcome, str]:
    """The outcome of one compared pair and the rule that gave it (module rules 1-3)."""
    name = c.level("name")
    if c.trusted_id:
        if name == "disagree":
            return Outcome.REVIEW, "id_number_names_differ"
        return Outcome.LINK, "id_number"
    outcome = (
        Outcome.LINK
        if probability >= LINK_AT
        else Outcome.REVIEW
        if probability >= REVIEW_AT
        else Outcome.NEW
    )
    guard = guard_of(c)
    if outcome is Outcome.LINK and guard is not None:
        return Outcome.REVIEW, guard
    return outcome, "score"


def guard_of(c: Comparison) -> str | None:
    """The guard (rule 3) that forbids auto-linking this pair, if any."""
    if c.trusted_id:
        return None
    name, birth = c.level("name"), c.level("birth_date")
    if c.distinct_ids:
        return "distinct_ids"
    if name in _GIVEN_DIFFERS:
        return "family" if birth == "disagree" else "twin"
    if c.level("sex") == "disagree" and (name is None or name in _LOOSE_NAMES or c.written_differs):
        return "sex"
    if (
        name is None
        and c.level("id_number") not in ("agree", "agree_weak")
        and c.level("other_id") != "agree"
    ):
        return "no_name"
    return None


def label(c: Comparison) -> int:
    """What a pair is known to be before any weighing (``_weights`` rule 2): 1 match, 0 not, -1 unknown."""
    guard = guard_of(c)
    if c.level("id_number") in ("agree", "agree_weak") and guard != "family":
        return 1
    if guard is not None and guard != "no_name":
        return 0
    return -1


def evidence(
    ours: Profile, theirs: Profile, c: Comparison, bits: list[float | None]
) -> tuple[FieldEvidence, ...]:
    """The pair field by field, for a reviewer: level, weight and both values as given."""
    return tuple(
        FieldEvidence(f.name, c.level(f.name), bits[i], _shown(ours, i), _shown(theirs, i))
        for i, f in enumerate(FIELDS)
    )


def _shown(p: Profile, field: int) -> str:
    r: Registration = p.source
    if field == ID:
        return r.id_number.strip()
    if field == OTHER:
        return r.other_id.strip()
    if field == NAME:
        return " ".join(x for x in (r.family_name.strip(), r.given_name.strip(), r.name_latin.strip()) if x)
    if field == BIRTH:
        if p.birth_from_id and p.birth:
            return f"{p.birth[:4]}-{p.birth[4:6]}-{p.birth[6:]} (from id_number)"
        return r.birth_date.strip()
    if field == SEX:
        return r.sex.strip()
    if field == HOUSE:
        return " · ".join(
            x for x in (r.phone.strip(), r.address.strip(), r.village.strip(), r.township.strip()) if x
        )
    return r.mother_name.strip()
