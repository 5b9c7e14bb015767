"""The resident's consent to share sensitive records, as a FHIR ``Consent`` (privacy scope, opt-in or out)."""

from __future__ import annotations

from .._envelope import Status
from ._common import THO, coding, date_time, display_ref, loinc_concept, put, tho_concept
from ._resources import Mapper, RecordResources

__all__ = ["MAPPERS"]

# rhip decision -> (provision type, HL7 v3 ActCode policy, its display)
_DECISIONS = {"permit": ("permit", "OPTIN", "opt-in"), "deny": ("deny", "OPTOUT", "opt-out")}


def _consent(out: RecordResources) -> None:
    b = out.body
    provision, policy, display = _DECISIONS[b["decision"]]
    put(
        out.new("Consent"),
        status="entered-in-error" if out.env.status is Status.ENTERED_IN_ERROR else "active",
        scope={"coding": [coding(THO + "consentscope", "patient-privacy", "Privacy Consent")]},
        category=[loinc_concept("59284-0", "Patient Consent", "信息共享知情同意")],
        patient=out.patient,
        dateTime=date_time(b["given_on"]),
        performer=[display_ref(b["signed_by"])],
        policyRule=tho_concept("v3-ActCode", policy, display),
        provision={"type": provision, "purpose": [coding(THO + "v3-ActReason", "TREAT", "treatment")]},
    )


MAPPERS: dict[str, Mapper] = {"consent": _consent}
