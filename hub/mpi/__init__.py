"""The master patient index (MPI): every registration, from every node, linked to one master person.

Deterministic on a trusted resident identity number; otherwise Fellegi–Sunter
scoring over names (汉字, pinyin, homophones, surname readings, Latin
spellings), birth date (day/month swaps), sex, household (phone, address,
village), card numbers and mother's name, with weights estimated by EM and
value frequencies; guards keep twins, families and placeholder numbers apart.
Each registration ends in one of three outcomes: auto-link, review (a person
decides with the evidence side by side), or a new master person.

The core is pure and storage-agnostic (``_normal``, ``_names``, ``_compare``,
``_blocking``, ``_weights``, ``_decide``); on top of it sit the SQLite-backed
:class:`MasterIndex` (one registration against millions) and bulk linking of a
whole file (:func:`link_registrations`, ``rhip mpi link``). The rules of each
part are at the top of its module; ``docs/mpi.md`` explains the whole.

Errors::

    InputError   a file that cannot be linked at all (no header, no record_id column);
                 a bad value is never an error: it is dropped and counted
"""

from __future__ import annotations

from ._blocking import PASSES, Pass
from ._bulk import (
    CSV_COLUMNS,
    MAX_GROUP,
    InputError,
    LinkReport,
    LinkResult,
    ReviewPair,
    link_registrations,
    pair_quality,
    read_registrations,
)
from ._compare import FIELDS, FieldSpec
from ._decide import LINK_AT, REVIEW_AT, Candidate, Decision, FieldEvidence, Outcome
from ._index import MAX_CANDIDATES, MasterIndex, create_tables
from ._normal import Registration, trim_caches
from ._weights import DEFAULT_WEIGHTS, Weights

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_WEIGHTS",
    "FIELDS",
    "LINK_AT",
    "MAX_CANDIDATES",
    "MAX_GROUP",
    "PASSES",
    "REVIEW_AT",
    "Candidate",
    "Decision",
    "FieldEvidence",
    "FieldSpec",
    "InputError",
    "LinkReport",
    "LinkResult",
    "MasterIndex",
    "Outcome",
    "Pass",
    "Registration",
    "ReviewPair",
    "Weights",
    "create_tables",
    "link_registrations",
    "pair_quality",
    "read_registrations",
    "trim_caches",
]
