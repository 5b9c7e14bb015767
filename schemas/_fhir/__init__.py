"""FHIR R4 export of rhip records: what the hub sends to other health systems.

Rules:
1. Pure: no I/O, no clock reads. The body is upgraded to the current version of
   its type (``validate``) before it is mapped, so old records export like new ones.
2. Every registered record type maps. The core clinical types map to their own
   resources; the national public-health forms (follow-ups, checks, examinations)
   map to a ``DocumentReference`` holding the whole body as JSON, plus the coded
   resources that can be derived from them (vital signs and lab values with LOINC,
   diagnoses with ICD-10, medications).
3. Ids are stable: the record's main resource has the record id; resources derived
   from it have a UUIDv5 of the record id and their role; a ``Patient`` has the
   resident id. References are ``urn:uuid:<id>``, so a ``Bundle`` of several
   records links up by itself.
4. ``meta.source`` is the authoring node (``urn:uuid:<node id>``), ``meta.lastUpdated``
   the record's HLC wall time. Every main resource carries the record id as an
   ``urn:ietf:rfc:3986`` identifier.
5. Date-times without an offset are clinic wall-clock time, China Standard Time (+08:00).

``to_fhir`` gives one record's main resource with the others of that record
``contained``; ``fhir_resources`` gives them side by side; ``fhir_bundle`` lays the
resources of many records out as a ``collection`` Bundle (one ``Patient`` per
resident, its newest version, marked deceased when a death record is in the bundle).

Behind this face: ``_bundle`` (the face's functions) dispatches each record type to its
mapper: ``_patient`` (resident), ``_encounter`` (outpatient visits and inpatient stays),
``_diagnostics`` (lab and imaging), ``_care`` (allergy, immunisation, referral,
consultation, birth, death), ``_public_health`` (the forms, as documents) and ``_desk`` (a visit's
registration, steps, orders, payments, refunds and dispensing). They fill a
``_resources.RecordResources`` with the vocabulary of ``_common`` (code systems, codings,
quantities, times, references) and ``_medication`` (drugs, routes, dosages).
"""

from __future__ import annotations

from ._bundle import fhir_bundle, fhir_resources, to_fhir
from ._common import CANONICAL, ICD10_SYSTEM, LOINC_SYSTEM, RESIDENT_ID_SYSTEM, is_loinc

__all__ = [
    "CANONICAL",
    "ICD10_SYSTEM",
    "LOINC_SYSTEM",
    "RESIDENT_ID_SYSTEM",
    "fhir_bundle",
    "fhir_resources",
    "is_loinc",
    "to_fhir",
]
