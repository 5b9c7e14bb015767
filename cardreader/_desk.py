"""Reading and writing a resident health card at the desk, over any transmit function.

Rules:
1. Reading is two steps. ``read_files`` moves bytes: it selects the
   application and reads every EF and record exactly as stored, counting
   APDUs. ``open_card`` judges them, offline, with no card in sight: structure
   first (damaged → ``CardCorrupted``), then the hub's certificate of the
   issuing key and the card signature (altered or foreign → ``CardForged``),
   then the expiry date (``CardExpired``, which still carries the card so the
   desk can show the emergency data with a warning).
2. Clinic-written records (visits, emergency notes) are checked one by one: a
   damaged record is listed in ``damaged`` and left out; it never hides the rest.
3. Transparent EFs are read by SFI (no SELECT) in one READ BINARY when their
   template fits in 256 bytes; longer ones are selected and read on in chunks.
   Record files are read newest-first until the first blank record.
4. Status words map to desk errors here and only here: ``6A82`` on the
   application or an unknown instruction/class → ``NotAHealthCard``; ``6283``
   → ``CardBlocked``; anything else unexpected → ``CardUnresponsive``.
5. Writing: a visit is appended to the cyclic ring (APPEND RECORD); an
   emergency note goes to the next blank note record (UPDATE RECORD);
   personalising invalidates the signature first and writes it last, so a card
   pulled out mid-issue reads as damaged, never as a genuine half-card.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._apdu import (
    MAX_LC,
    MAX_LE,
    SW,
    Channel,
    Response,
    append_record,
    read_binary,
    read_record,
    select_aid,
    select_fid,
    update_binary,
    update_record,
)
from ._errors import CardBlocked, CardCorrupted, CardExpired, CardFull, CardUnresponsive, NotAHealthCard
from ._layout import (
    AID,
    CONDITIONS,
    EF,
    CardContent,
    EmergencyNote,
    FileKind,
    FileSpec,
    LayoutError,
    Visit,
    decode_emergency,
    decode_holder,
    decode_insurance,
    decode_issuer,
    decode_note,
    decode_visit,
    encode_note,
    encode_visit,
    is_blank,
)
from ._sign import check_card_signature, check_certificate, decode_certificate
from ._tlv import total_length

__all__ = [
    "TRANSPARENT_EFS",
    "CardFiles",
    "CardRead",
    "add_note",
    "append_visit",
    "open_card",
    "read_files",
    "write_card",
]

TRANSPARENT_EFS = (EF.ISSUER, EF.HOLDER, EF.EMERGENCY, EF.INSURANCE, EF.CERTIFICATE, EF.SIGNATURE)
_NOT_OURS = (SW.FILE_NOT_FOUND, SW.INS_NOT_SUPPORTED, SW.CLA_NOT_SUPPORTED, 0x6A86, SW.WRONG_P1P2)


@dataclass(frozen=True)
class CardFiles:
    """The bytes read from one card, exactly as stored, and the APDUs it took."""

    efs: dict[int, bytes]  # transparent EF → its template (padding not read)
    visits: tuple[bytes, ...] = ()  # ring records, newest first, up to the first blank one
    notes: tuple[bytes, ...] = ()  # emergency notes, oldest first, up to the first blank one
    apdus: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "efs": {f"{fid:04X}": data.hex() for fid, data in sorted(self.efs.items())},
            "visits": [r.hex() for r in self.visits],
            "notes": [r.hex() for r in self.notes],
            "apdus": self.apdus,
        }

    @classmethod
    def from_json(cls, data: Any) -> CardFiles:
        """ValueError naming the field when ``data`` is not what ``as_json`` gives."""
        if not isinstance(data, dict):
            raise ValueError("card: must be an object with efs, visits and notes")
        try:
            efs = {int(k, 16): bytes.fromhex(v) for k, v in dict(data["efs"]).items()}
            visits = tuple(bytes.fromhex(r) for r in data.get("visits", []))
            notes = tuple(bytes.fromhex(r) for r in data.get("notes", []))
            apdus = int(data.get("apdus", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"card: efs, visits and notes must hold hex strings ({exc})") from None
        missing = [f"{s.fid:04X}" for s in TRANSPARENT_EFS if s.fid not in efs]
        if missing:
            raise ValueError(f"card.efs: {', '.join(missing)} missing")
        if len(visits) > EF.VISITS.records or len(notes) > EF.NOTES.records:
            raise ValueError("card: more visit or note records than a card holds")
        return cls(efs, visits, notes, apdus)


@dataclass(frozen=True)
class CardRead:
    """A card that passed every check (or, inside ``CardExpired``, all but the date)."""

    content: CardContent
    damaged: tuple[str, ...] = ()
    apdus: int = 0
    expired: bool = False
    key_id: str = ""

    def as_json(self) -> dict[str, Any]:
        c = self.content
        e = c.emergency

        def allergy(a: Any) -> dict[str, Any]:
            return {"substance": a.substance, "reaction": a.reaction, "severity": a.severity}

        def condition(code: str) -> dict[str, str]:
            zh, en = CONDITIONS.get(code, (code, code))
            return {"code": code, "zh": zh, "en": en}

        return {
            "verified": True,
            "expired": self.expired,
            "card_number": c.issuer.card_number,
            "issuer": {
                "authority_code": c.issuer.authority_code,
                "authority_name": c.issuer.authority_name,
                "issued_on": c.issuer.issued_on.isoformat(),
                "expires_on": c.issuer.expires_on.isoformat(),
                "layout_version": c.issuer.version,
                "signing_key": self.key_id,
            },
            "holder": {
                "name": c.holder.name,
                "sex": c.holder.sex,
                "birth_date": c.holder.birth_date.isoformat(),
                "id_number": c.holder.id_number,
            },
            "emergency": {
                "blood": {"abo": e.blood.abo, "rh": e.blood.rh},
                "allergies": [allergy(a) for a in e.allergies],
                "conditions": [condition(x) for x in e.conditions],
                "contacts": [{"name": x.name, "relation": x.relation, "phone": x.phone} for x in e.contacts],
                "added_by_clinics": [
                    {
                        "on": n.on.isoformat(),
                        "clinic": n.clinic,
                        "allergy": allergy(n.allergy) if n.allergy else None,
                        "condition": condition(n.condition) if n.condition else None,
                        "blood": {"abo": n.blood.abo, "rh": n.blood.rh} if n.blood else None,
                    }
                    for n in c.notes
                ],
            },
            "insurance_number": c.insurance_number,
            "visits": [
                {
                    "on": v.on.isoformat(),
                    "clinic": v.clinic,
                    "clinic_name": v.clinic_name,
                    "diagnoses": list(v.diagnoses),
                    "prescriptions": list(v.prescriptions),
                }
                for v in c.visits
            ],
            "damaged": list(self.damaged),
            "apdus": self.apdus,
        }


# -- reading -------------------------------------------------------------------------------------


def _select_application(ch: Channel) -> None:
    r = ch.exchange(select_aid(AID))
    if r.sw == SW.FILE_INVALIDATED:
        raise CardBlocked(
            "this resident health card is blocked by its issuer: do not use it; "
            "identify the resident another way and send them to the hub's card office"
        )
    if r.sw in _NOT_OURS:
        raise NotAHealthCard(
            "this is not a resident health card (a card of another kind is in the reader); "
            "ask the resident for their health card"
        )
    _expect(r, "selecting the health application")


def _expect(r: Response, what: str) -> None:
    if r.sw not in (SW.OK, SW.END_OF_FILE):
        raise CardUnresponsive(
            f"the card refused {what} (status {r.sw:04X}); take it out and insert it again, "
            "or try another reader"
        )


def _read_transparent(ch: Channel, spec: FileSpec) -> bytes:
    first = ch.exchange(read_binary(0, min(spec.size, MAX_LE), sfi=spec.sfi))
    _expect(first, f"reading the {spec.name} file")
    data = first.data
    if not data or is_blank(data[:1]):
        return b""
    total = total_length(data)
    if total is None or total > spec.size:
        raise CardCorrupted(
            f"the card's {spec.name} file is damaged (its length is unreadable); "
            "the card must be replaced at the hub's card office"
        )
    if total > len(data):
        _expect(ch.exchange(select_fid(spec.fid)), f"selecting the {spec.name} file")
        while len(data) < total:
            r = ch.exchange(read_binary(len(data), min(MAX_LE, total - len(data))))
            _expect(r, f"reading the {spec.name} file")
            if not r.data:
                break
            data += r.data
    return data[:total]


def _read_records(ch: Channel, spec: FileSpec) -> tuple[bytes, ...]:
    out: list[bytes] = []
    for number in range(1, spec.records + 1):
        r = ch.exchange(read_record(number, spec.sfi, spec.size))
        if r.sw == SW.RECORD_NOT_FOUND:
            break
        _expect(r, f"reading {spec.name} record {number}")
        if is_blank(r.data):
            break
        out.append(r.data)
    return tuple(out)


def read_files(ch: Channel) -> CardFiles:
    """Every file of the card in the reader, as stored; desk errors for another kind or a blocked card."""
    start = ch.apdus
    _select_application(ch)
    efs = {spec.fid: _read_transparent(ch, spec) for spec in TRANSPARENT_EFS}
    if not efs[EF.ISSUER.fid]:
        raise NotAHealthCard(
            "this health card is blank (never issued): issue it at the hub with `rhip card issue`"
        )
    visits = _read_records(ch, EF.VISITS)
    notes = _read_records(ch, EF.NOTES)
    return CardFiles(efs, visits, notes, ch.apdus - start)


# -- judging ----------------------------------------------------------------------------------------


def _corrupted(exc: Exception) -> CardCorrupted:
    return CardCorrupted(
        f"the card's data is damaged ({exc}); it cannot be relied on: identify the resident "
        "another way and send the card to the hub's card office for replacement"
    )


def open_card(files: CardFiles, *, trust: bytes, today: dt.date) -> CardRead:
    """Check what was read against the hub key ``trust``; a CardRead, or the desk error that says why not."""
    efs = files.efs
    try:
        certificate = decode_certificate(efs[EF.CERTIFICATE.fid])
        issuer = decode_issuer(efs[EF.ISSUER.fid])
        holder = decode_holder(efs[EF.HOLDER.fid])
        emergency = decode_emergency(efs[EF.EMERGENCY.fid])
        insurance = decode_insurance(efs[EF.INSURANCE.fid])
    except (LayoutError, KeyError) as exc:
        raise _corrupted(exc) from None
    card_key = check_certificate(certificate, trust, issued_on=issuer.issued_on)
    try:
        check_card_signature(efs[EF.SIGNATURE.fid], efs, card_key)
    except LayoutError as exc:
        raise _corrupted(exc) from None
    damaged: list[str] = []
    visits: list[Visit] = []
    for i, raw in enumerate(files.visits, start=1):
        try:
            visits.append(decode_visit(raw, card_number=issuer.card_number))
        except LayoutError as exc:
            damaged.append(f"visit record {i}: {exc}")
    notes: list[EmergencyNote] = []
    for i, raw in enumerate(files.notes, start=1):
        try:
            notes.append(decode_note(raw, card_number=issuer.card_number))
        except LayoutError as exc:
            damaged.append(f"emergency note {i}: {exc}")
    content = CardContent(issuer, holder, emergency, insurance, tuple(visits), tuple(notes))
    expired = issuer.expires_on < today
    read = CardRead(content, tuple(damaged), files.apdus, expired, certificate.card_key.hex()[:16])
    if expired:
        raise CardExpired(
            f"this resident health card expired on {issuer.expires_on}: it is genuine, so its emergency "
            "data is shown, but the resident must renew it at the hub's card office",
            card=read,
        )
    return read


# -- writing ------------------------------------------------------------------------------------------


def append_visit(ch: Channel, visit: Visit, *, card_number: str) -> None:
    """Write a visit into the recent-visits ring (it becomes the newest; the oldest drops out)."""
    record = encode_visit(visit, card_number=card_number)
    _select_application(ch)
    _expect(ch.exchange(append_record(EF.VISITS.sfi, record)), "writing the visit")


def add_note(ch: Channel, note: EmergencyNote, *, card_number: str, written: int) -> None:
    """Write an emergency note after the ``written`` notes already on the card."""
    if written >= EF.NOTES.records:
        raise CardFull(
            f"the card's {EF.NOTES.records} emergency notes are all used: the new item is kept in the "
            "record; ask the hub's card office to re-issue the card"
        )
    record = encode_note(note, card_number=card_number)
    _select_application(ch)
    r = ch.exchange(update_record(written + 1, EF.NOTES.sfi, record))
    if r.sw == SW.NOT_ENOUGH_MEMORY:
        raise CardFull("the card has no room for another emergency note; ask for a re-issued card")
    _expect(r, "writing the emergency note")


def _write_binary(ch: Channel, spec: FileSpec, data: bytes) -> None:
    padded = data + bytes(spec.size - len(data))
    _expect(ch.exchange(select_fid(spec.fid)), f"selecting the {spec.name} file")
    for offset in range(0, len(padded), MAX_LC):
        _expect(ch.exchange(update_binary(offset, padded[offset : offset + MAX_LC])), f"writing {spec.name}")


def write_card(ch: Channel, files: Mapping[int, bytes | list[bytes]]) -> None:
    """Personalise the card in the reader with ``files`` (from ``card_files``): every EF, signature last."""
    _select_application(ch)
    specs = {s.fid: s for s in EF.ALL}
    _write_binary(ch, EF.SIGNATURE, b"")  # a card pulled out from here on reads as damaged
    for fid, data in files.items():
        spec = specs[fid]
        if fid == EF.SIGNATURE.fid:
            continue
        if spec.kind is FileKind.TRANSPARENT:
            assert isinstance(data, bytes)
            _write_binary(ch, spec, data)
        else:
            assert isinstance(data, list)
            for number, record in enumerate(data, start=1):
                r = ch.exchange(update_record(number, spec.sfi, record))
                _expect(r, f"writing {spec.name} record {number}")
    signature = files[EF.SIGNATURE.fid]
    assert isinstance(signature, bytes)
    _write_binary(ch, EF.SIGNATURE, signature)
