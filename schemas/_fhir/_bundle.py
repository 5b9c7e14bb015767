"""From records to FHIR: one record's resources, one record as a resource, many as a Bundle."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._envelope import RecordEnvelope, Status
from .._registry import validate
from . import _care, _consent, _desk, _diagnostics, _encounter, _patient, _public_health
from ._common import Json, date_time
from ._resources import Mapper, RecordResources

__all__ = ["fhir_bundle", "fhir_resources", "to_fhir"]

# record type -> the mapper that fills its resources
_MAPPERS: dict[str, Mapper] = {
    **_patient.MAPPERS,
    **_encounter.MAPPERS,
    **_diagnostics.MAPPERS,
    **_care.MAPPERS,
    **_consent.MAPPERS,
    **_public_health.MAPPERS,
    **_desk.MAPPERS,
}


def fhir_resources(envelope: RecordEnvelope) -> list[Json]:
    """Every FHIR resource one record maps to, the main one first; references are ``urn:uuid:``."""
    body = validate(envelope.type, envelope.data, version=envelope.v)  # upgrades old versions
    out = RecordResources(envelope, body)
    _MAPPERS.get(envelope.type, _public_health.document_only)(out)
    return out.resources


def _rewrite_refs(value: Any, local: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: (local.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite_refs(v, local))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_refs(v, local) for v in value]
    return value


def to_fhir(envelope: RecordEnvelope) -> Json:
    """One record as one FHIR R4 resource; the other resources it maps to are ``contained``.

    Contained resources keep no narrative and no ``meta.lastUpdated`` (dom-1, dom-4);
    references between them become ``#id``, references to the main resource ``#``.
    """
    main, *others = fhir_resources(envelope)
    if not others:
        return main
    local = {f"urn:uuid:{r['id']}": f"#{r['id']}" for r in others}
    local[f"urn:uuid:{main['id']}"] = "#"
    contained = []
    for r in others:
        inner = {k: v for k, v in r.items() if k != "text"}
        inner["meta"] = {k: v for k, v in r["meta"].items() if k != "lastUpdated"}
        contained.append(_rewrite_refs(inner, local))
    out: Json = _rewrite_refs(main, local)
    out["contained"] = contained
    return out


def fhir_bundle(envelopes: Iterable[RecordEnvelope]) -> Json:
    """Records as a FHIR ``collection`` Bundle: one entry per resource.

    A resident exports once, as its newest version (by HLC, then author); a resident
    with a death record in the bundle gets ``Patient.deceasedDateTime``.
    """
    records = list(envelopes)
    newest: dict[str, RecordEnvelope] = {}
    deaths: dict[str, str] = {}
    for env in records:
        if env.type == "resident":
            held = newest.get(env.resident_id)
            if held is None or (env.hlc, env.author) > (held.hlc, held.author):
                newest[env.resident_id] = env
        elif env.type == "death" and env.status is not Status.ENTERED_IN_ERROR:
            deaths[env.resident_id] = date_time(env.data["death_time"])
    entries: list[Json] = []
    seen: set[str] = set()
    for env in records:
        if env.type == "resident" and newest[env.resident_id] is not env:
            continue
        for resource in fhir_resources(env):
            url = f"urn:uuid:{resource['id']}"
            if url in seen:
                continue  # the same record given twice
            seen.add(url)
            if resource["resourceType"] == "Patient" and env.resident_id in deaths:
                resource["deceasedDateTime"] = deaths[env.resident_id]
            entries.append({"fullUrl": url, "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
