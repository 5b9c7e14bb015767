"""Issuing resident health cards: what the hub knows of a resident, laid out and signed for a card.

Rules:
1. A card is issued for a master person, found by the resident identity
   number. Every registration linked to that person contributes: each
   demographic field takes the value with the latest stamp across them, and
   records from every clinic count.
2. Only current versions of clinical facts count: a version superseded by a
   correction, and a fact marked entered-in-error, are left out.
3. The card's emergency data and recent visits are drawn by
   ``cardreader.emergency_from`` / ``visit_from``, the same rules a node uses
   when it writes to the card after a visit.
4. Reads go through ``Reads`` (the store's queries); this module adds no SQL.
5. Keys, dates and the card number are passed in. Nothing is logged about the
   resident: log lines carry the card number's last four characters at most.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import schemas
from cardreader import EF, CardContent, Holder, Issuer, LayoutError, card_files, emergency_from, visit_from
from sync import decode

from ._store import HubError, Reads

__all__ = ["CARD_YEARS", "CardIssueError", "CardSubject", "card_content", "card_subject", "issue_files"]

CARD_YEARS = 10  # a card's validity from its issue date


class CardIssueError(HubError):
    """A card the hub cannot issue; the message names the field and the problem."""

    reason = "card-issue"


@dataclass(frozen=True)
class CardSubject:
    """Everything the hub holds about one master person that a card may show."""

    master_id: str
    resident: dict[str, Any]  # current demographic fields, merged across linked registrations
    records: list[tuple[str, dict[str, Any], str, str]]  # (type, data, record id, author node), current only

    def typed(self) -> list[tuple[str, dict[str, Any]]]:
        return [(t, d) for t, d, _, _ in self.records]


def _current(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    superseded = {e["supersedes"] for e in envelopes if e.get("supersedes")}
    retracted = {e["fact_id"] for e in envelopes if e.get("status") == str(schemas.Status.ENTERED_IN_ERROR)}
    return [
        e
        for e in envelopes
        if e["id"] not in superseded and e["fact_id"] not in retracted and e.get("type") != "resident"
    ]


def card_subject(reads: Reads, id_number: str) -> CardSubject:
    """The master person with ``id_number``, merged; CardIssueError if the hub has none."""
    try:
        number = schemas.parse_id_number(id_number)
    except schemas.IdNumberError as exc:
        raise CardIssueError(f"id-number: {exc}") from None
    masters = reads.masters_with("id_number", number)
    if not masters:
        raise CardIssueError(
            "id-number: the hub holds no resident with this identity number; "
            "register them at a clinic and let its node sync first"
        )
    if len(masters) > 1:
        raise CardIssueError(
            f"id-number: {len(masters)} master persons carry this identity number; "
            "decide them with `rhip hub mpi review` first"
        )
    master = masters[0]
    latest: dict[str, tuple[int, Any]] = {}
    envelopes: list[dict[str, Any]] = []
    for resident_id, _ in reads.master_members(master):
        for name, state in reads.demographics(resident_id)["fields"].items():
            if name not in latest or state["hlc"] > latest[name][0]:
                latest[name] = (state["hlc"], state["value"])
        envelopes += [decode(content) for _, _, _, content in reads.records_about(resident_id)]
    resident = {name: value for name, (_, value) in latest.items() if value is not None}
    if not resident.get("name") or not resident.get("birth_date"):
        raise CardIssueError(
            "id-number: the hub holds this person's number but not their name and birth date"
        )
    records = [(e["type"], e["data"], e["id"], e["author"]) for e in _current(envelopes)]
    return CardSubject(master, resident, records)


def _visits(subject: CardSubject, reads: Reads) -> list[Any]:
    encounters = [(d, rid, author) for t, d, rid, author in subject.records if t == "encounter"]
    encounters.sort(key=lambda x: str(x[0].get("visit_time", "")), reverse=True)
    visits = []
    for data, record_id, author in encounters[: EF.VISITS.records]:
        node = reads.node(author)
        prescriptions = [
            d for t, d, _, _ in subject.records if t == "prescription" and d.get("encounter_id") == record_id
        ]
        visits.append(
            visit_from(
                data,
                prescriptions,
                clinic=node.clinic if node else "unknown",
                clinic_name=node.name if node else "unknown clinic",
            )
        )
    return visits


def card_content(
    subject: CardSubject,
    reads: Reads,
    *,
    card_number: str,
    authority_code: str,
    authority_name: str,
    issued_on: dt.date,
    years: int = CARD_YEARS,
) -> CardContent:
    """What the card will hold: issuer data, identity, emergency data, insurance and recent visits."""
    r = subject.resident
    id_number = r.get("id_number")
    if not isinstance(id_number, str):
        raise CardIssueError("id-number: the resident's record holds no identity number")
    try:
        expires = issued_on.replace(year=issued_on.year + years)
    except ValueError:  # issued on 29 February
        expires = issued_on.replace(year=issued_on.year + years, day=28)
    return CardContent(
        issuer=Issuer(card_number, authority_code, authority_name, issued_on, expires),
        holder=Holder(
            str(r["name"]), str(r.get("sex", "0")), dt.date.fromisoformat(r["birth_date"]), id_number
        ),
        emergency=emergency_from(r, subject.typed()),
        insurance_number=r.get("insurance_number"),
        visits=tuple(_visits(subject, reads)),
    )


def issue_files(
    reads: Reads,
    id_number: str,
    *,
    issuer: tuple[Ed25519PrivateKey, bytes],
    authority_code: str,
    authority_name: str,
    issued_on: dt.date,
    new_card_number: Callable[[], str],
    card_number: str | None = None,
) -> tuple[CardContent, dict[int, bytes | list[bytes]]]:
    """The content and the signed EFs of a new card for ``id_number``.

    The card number is ``card_number``, else the resident's own, else a new
    one from ``new_card_number``.
    """
    subject = card_subject(reads, id_number)
    number = card_number or subject.resident.get("card_number") or new_card_number()
    try:
        content = card_content(
            subject,
            reads,
            card_number=str(number),
            authority_code=authority_code,
            authority_name=authority_name,
            issued_on=issued_on,
        )
        key, certificate = issuer
        return content, card_files(content, card_key=key, certificate=certificate)
    except LayoutError as exc:
        raise CardIssueError(f"the card cannot hold this resident's data: {exc}") from None
