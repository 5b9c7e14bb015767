"""Synthetic township populations: residents, families and years of care.

SYNTHETIC DATA ONLY: every name, number and visit is made up.

Rules:
1. Pure: no I/O beyond the shipped code lists, no clock reads, randomness only
   from ``random.Random(seed)``; ``today`` is passed in. The same arguments
   give the same items, in the same order, with the same contents.
2. Every item is valid for ``schemas.validate(type, data, today=today)`` once
   its refs are resolved; every date lies on or before ``today``.
3. Items come in dependency order, household by household: a ref (a dotted
   path inside ``data`` -> the key of an earlier item) never leaves its
   household, and every key starts with its household's key (``H12/...``), so
   a loader may forget a household's ids once the next household begins.
4. Codes come only from the code lists; the tables (``_tables``, ``_conditions``)
   are checked against them when a township is first loaded, so a renamed code
   fails loudly, not as bad data.

Behind this face: ``_engine`` (the order of things) drives ``_people`` and
``_residents`` (households and their resident records), then each member's
care: ``_visits``, ``_chronic``, ``_exams``, ``_hospital``, ``_maternal`` and
``_deaths``, which draw on ``_body``, ``_prescriptions`` and ``_lab_imaging``.
``_registrations`` registers the people of several townships again and again,
with clerks' errors and known truth, for measuring the master patient index.
``_core`` holds the shared state: one township over one period, with its one
``random.Random``. Draws happen in a fixed order, so moving or adding a draw
changes every item after it.
"""

from __future__ import annotations

from ._engine import generate
from ._items import SynthItem as SynthItem
from ._items import SynthRecord, SynthResident
from ._registrations import REGISTRATION_COLUMNS, LabelledRegistration, registrations
from ._town import COUNTY as COUNTY
from ._town import DEFAULT_TOWNSHIP as DEFAULT_TOWNSHIP
from ._town import township_codes

__all__ = [
    "REGISTRATION_COLUMNS",
    "LabelledRegistration",
    "SynthItem",
    "SynthRecord",
    "SynthResident",
    "generate",
    "registrations",
    "township_codes",
]
