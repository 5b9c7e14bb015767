"""The resident health card's file system and the encoding of every elementary file.

Layout (FIDs hex; see docs/card.md)::

    MF 3F00
    └── DF  AID D15600000152484950 ("RHIP")        the resident health application
        ├── EF 0001  SFI 1  issuer          transparent   128 B   issuer-signed
        ├── EF 0002  SFI 2  holder          transparent   256 B   issuer-signed
        ├── EF 0003  SFI 3  emergency       transparent  1536 B   issuer-signed
        ├── EF 0004  SFI 4  insurance       transparent    64 B   issuer-signed
        ├── EF 0005  SFI 5  issuer key certificate (signed by the hub)   192 B
        ├── EF 0006  SFI 6  card signature (issuer key over EF 0001-0004) 96 B
        ├── EF 0007  SFI 7  recent visits   cyclic       10 × 240 B   clinic-written
        └── EF 0008  SFI 8  emergency notes linear       16 × 160 B   clinic-written

Rules:
1. Every transparent EF holds one BER-TLV template (E1…E6) followed by zero
   padding; readers read only the template's length. Every record holds one
   template (E7, E8) or is all zeros (never written).
2. The issuer-signed EFs are what identifies the resident and what matters in an
   emergency at issue time. Clinics cannot re-sign them, so what a clinic learns
   later (a new allergy) is written as an emergency note, and each visit as a
   ring record. Clinic-written records carry an 8-byte digest of their content
   bound to the card number: it catches a damaged or transplanted record, not a
   forger (that needs the issuer's key, which only the hub holds).
3. Text is UTF-8, dates are BCD ``YYYYMMDD``, codes are ASCII. Fields have
   fixed limits (``LIMITS``) checked when encoding, so a too-long value is the
   issuer's error at issue time, never a truncated card.
4. Decoding is strict about structure and required fields (``LayoutError``)
   and ignores tags it does not know inside a template (newer issuers may add).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import Enum

from ._tlv import Tlv, TlvError, decode_one, encode

__all__ = [
    "AID",
    "CONDITIONS",
    "DIGEST_BYTES",
    "EF",
    "LAYOUT_VERSION",
    "LIMITS",
    "MF",
    "SIGNED_EFS",
    "Allergy",
    "BloodGroup",
    "CardContent",
    "Contact",
    "Emergency",
    "EmergencyNote",
    "FileKind",
    "FileSpec",
    "Holder",
    "Issuer",
    "LayoutError",
    "Visit",
    "decode_emergency",
    "decode_holder",
    "decode_insurance",
    "decode_issuer",
    "decode_note",
    "decode_visit",
    "encode_emergency",
    "encode_holder",
    "encode_insurance",
    "encode_issuer",
    "encode_note",
    "encode_visit",
    "is_blank",
    "spec",
]

AID = bytes.fromhex("D15600000152484950")
MF = 0x3F00
LAYOUT_VERSION = 1
DIGEST_BYTES = 8


class LayoutError(ValueError):
    """Card bytes that do not hold what the layout says, or a value the layout cannot hold."""


class FileKind(Enum):
    TRANSPARENT = "transparent"
    CYCLIC = "cyclic"
    LINEAR = "linear"


@dataclass(frozen=True)
class FileSpec:
    fid: int
    sfi: int
    name: str
    kind: FileKind
    size: int  # transparent: bytes allocated; record files: bytes per record
    records: int = 0

    @property
    def allocated(self) -> int:
        return self.size * self.records if self.records else self.size


class EF:
    ISSUER = FileSpec(0x0001, 1, "issuer", FileKind.TRANSPARENT, 128)
    HOLDER = FileSpec(0x0002, 2, "holder", FileKind.TRANSPARENT, 256)
    EMERGENCY = FileSpec(0x0003, 3, "emergency", FileKind.TRANSPARENT, 1536)
    INSURANCE = FileSpec(0x0004, 4, "insurance", FileKind.TRANSPARENT, 64)
    CERTIFICATE = FileSpec(0x0005, 5, "certificate", FileKind.TRANSPARENT, 192)
    SIGNATURE = FileSpec(0x0006, 6, "signature", FileKind.TRANSPARENT, 96)
    VISITS = FileSpec(0x0007, 7, "visits", FileKind.CYCLIC, 240, records=10)
    NOTES = FileSpec(0x0008, 8, "emergency-notes", FileKind.LINEAR, 160, records=16)
    ALL = (ISSUER, HOLDER, EMERGENCY, INSURANCE, CERTIFICATE, SIGNATURE, VISITS, NOTES)


SIGNED_EFS = (EF.ISSUER, EF.HOLDER, EF.EMERGENCY, EF.INSURANCE)


def spec(fid: int) -> FileSpec:
    for s in EF.ALL:
        if s.fid == fid:
            return s
    raise LayoutError(f"no elementary file {fid:04X} in the layout")


# Serious conditions the emergency data names: code → (中文, English).
CONDITIONS: dict[str, tuple[str, str]] = {
    "asthma": ("哮喘", "asthma"),
    "heart-disease": ("心脏病", "heart disease"),
    "epilepsy": ("癫痫", "epilepsy"),
    "diabetes": ("糖尿病", "diabetes"),
    "hypertension": ("高血压", "hypertension"),
    "dialysis": ("透析", "on dialysis"),
    "pacemaker": ("心脏起搏器", "pacemaker"),
    "anticoagulant": ("抗凝治疗", "on anticoagulants"),
    "haemophilia": ("血友病", "haemophilia"),
    "severe-mental-disorder": ("严重精神障碍", "severe mental disorder"),
    "tuberculosis": ("结核病", "tuberculosis"),
    "transplant": ("器官移植", "organ transplant"),
}

# Longest value of each field, in characters; counts of repeated items.
LIMITS: dict[str, int] = {
    "card_number": 20,
    "authority_code": 12,
    "authority_name": 30,
    "name": 50,
    "id_number": 18,
    "insurance_number": 30,
    "substance": 30,
    "reaction": 60,
    "severity": 16,
    "contact_name": 30,
    "relation": 4,
    "phone": 20,
    "clinic": 20,
    "clinic_name": 12,
    "code": 10,
    "icd10": 8,
    "drug": 34,
    "condition": 24,
    "allergies": 12,
    "conditions": 12,
    "contacts": 3,
    "diagnoses": 4,
    "prescriptions": 3,
}


# -- values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Issuer:
    card_number: str
    authority_code: str  # the region's GB/T 2260 code
    authority_name: str
    issued_on: dt.date
    expires_on: dt.date
    version: int = LAYOUT_VERSION


@dataclass(frozen=True)
class Holder:
    name: str
    sex: str  # GB/T 2261.1 code
    birth_date: dt.date
    id_number: str


@dataclass(frozen=True)
class Allergy:
    substance: str
    reaction: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class Contact:
    name: str
    relation: str  # GB/T 4761 code
    phone: str


@dataclass(frozen=True)
class BloodGroup:
    abo: str = "unknown"  # A, B, O, AB, unknown
    rh: str = "unknown"  # positive, negative, unknown


@dataclass(frozen=True)
class Emergency:
    blood: BloodGroup = field(default_factory=BloodGroup)
    allergies: tuple[Allergy, ...] = ()
    conditions: tuple[str, ...] = ()  # CONDITIONS codes
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True)
class Visit:
    on: dt.date
    clinic: str
    clinic_name: str
    diagnoses: tuple[str, ...] = ()  # ICD-10 codes
    prescriptions: tuple[str, ...] = ()  # drug codes


@dataclass(frozen=True)
class EmergencyNote:
    """One thing a clinic learned after issue: a new allergy, a serious condition, or the blood group."""

    on: dt.date
    clinic: str
    allergy: Allergy | None = None
    condition: str | None = None
    blood: BloodGroup | None = None

    def __post_init__(self) -> None:
        given = sum(x is not None for x in (self.allergy, self.condition, self.blood))
        if given != 1:
            raise LayoutError("an emergency note holds exactly one of allergy, condition or blood group")


@dataclass(frozen=True)
class CardContent:
    """Everything a card holds, as the issuer writes it."""

    issuer: Issuer
    holder: Holder
    emergency: Emergency
    insurance_number: str | None = None
    visits: tuple[Visit, ...] = ()  # newest first
    notes: tuple[EmergencyNote, ...] = ()  # oldest first


# -- primitive fields ----------------------------------------------------------------------


def _text(tag: int, value: str, limit: str) -> bytes:
    if len(value) > LIMITS[limit]:
        raise LayoutError(f"{limit}: {len(value)} characters is over the card's {LIMITS[limit]}")
    if not value:
        raise LayoutError(f"{limit}: must not be empty")
    return encode(tag, value.encode("utf-8"))


def _ascii(tag: int, value: str, limit: str) -> bytes:
    if not value.isascii():
        raise LayoutError(f"{limit}: {value!r} must be ASCII")
    return _text(tag, value, limit)


def _date(tag: int, value: dt.date) -> bytes:
    return encode(tag, bytes.fromhex(value.strftime("%Y%m%d")))


def _count(values: tuple[object, ...], limit: str) -> None:
    if len(values) > LIMITS[limit]:
        raise LayoutError(f"{limit}: {len(values)} is more than the card holds ({LIMITS[limit]})")


class _Fields:
    """The children of one template, by tag, with typed getters that raise LayoutError."""

    def __init__(self, template: Tlv, what: str) -> None:
        self.what = what
        try:
            self.items = template.children()
        except TlvError as exc:
            raise LayoutError(f"{what}: {exc}") from None

    def all(self, tag: int) -> list[Tlv]:
        return [t for t in self.items if t.tag == tag]

    def raw(self, tag: int, *, required: bool = True) -> bytes | None:
        found = self.all(tag)
        if len(found) > 1:
            raise LayoutError(f"{self.what}: field {tag:02X} appears {len(found)} times")
        if not found:
            if required:
                raise LayoutError(f"{self.what}: field {tag:02X} is missing")
            return None
        return found[0].value

    def text(self, tag: int) -> str:
        raw = self.raw(tag)
        assert raw is not None
        return _utf8(raw, self.what)

    def opt_text(self, tag: int) -> str | None:
        raw = self.raw(tag, required=False)
        return None if raw is None else _utf8(raw, self.what)

    def date(self, tag: int) -> dt.date:
        raw = self.raw(tag)
        assert raw is not None
        return _bcd_date(raw, self.what)


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LayoutError(f"{what}: a text field is not UTF-8") from None


def _bcd_date(raw: bytes, what: str) -> dt.date:
    try:
        return dt.datetime.strptime(raw.hex(), "%Y%m%d").date()
    except ValueError:
        raise LayoutError(f"{what}: {raw.hex()} is not a date") from None


def _template(data: bytes, tag: int, what: str) -> Tlv:
    """The one template of an EF or record (padding after it ignored)."""
    if not data or data[0] in (0x00, 0xFF):
        raise LayoutError(f"{what}: the file is empty")
    try:
        tlv, used = decode_one(data)
    except TlvError as exc:
        raise LayoutError(f"{what}: {exc}") from None
    if tlv.tag != tag:
        raise LayoutError(f"{what}: starts with tag {tlv.tag:X}, not {tag:X}")
    if any(b not in (0x00, 0xFF) for b in data[used:]):
        raise LayoutError(f"{what}: bytes after its data that are not padding")
    return tlv


# -- issuer, holder, insurance ---------------------------------------------------------------


def encode_issuer(v: Issuer) -> bytes:
    return encode(
        0xE1,
        [
            _ascii(0x80, v.card_number, "card_number"),
            _ascii(0x81, v.authority_code, "authority_code"),
            _text(0x82, v.authority_name, "authority_name"),
            _date(0x83, v.issued_on),
            _date(0x84, v.expires_on),
            encode(0x85, bytes([v.version])),
        ],
    )


def decode_issuer(data: bytes) -> Issuer:
    f = _Fields(_template(data, 0xE1, "issuer"), "issuer")
    version = f.raw(0x85)
    assert version is not None
    if len(version) != 1:
        raise LayoutError("issuer: the layout version is not one byte")
    return Issuer(f.text(0x80), f.text(0x81), f.text(0x82), f.date(0x83), f.date(0x84), version[0])


def encode_holder(v: Holder) -> bytes:
    return encode(
        0xE2,
        [
            _text(0x80, v.name, "name"),
            _ascii(0x81, v.sex, "code"),
            _date(0x82, v.birth_date),
            _ascii(0x83, v.id_number, "id_number"),
        ],
    )


def decode_holder(data: bytes) -> Holder:
    f = _Fields(_template(data, 0xE2, "holder"), "holder")
    return Holder(f.text(0x80), f.text(0x81), f.date(0x82), f.text(0x83))


def encode_insurance(number: str | None) -> bytes:
    return encode(0xE4, [] if number is None else [_ascii(0x80, number, "insurance_number")])


def decode_insurance(data: bytes) -> str | None:
    return _Fields(_template(data, 0xE4, "insurance"), "insurance").opt_text(0x80)


# -- emergency data ----------------------------------------------------------------------------


def _encode_allergy(a: Allergy) -> bytes:
    parts = [_text(0x80, a.substance, "substance")]
    if a.reaction:
        parts.append(_text(0x81, a.reaction, "reaction"))
    if a.severity:
        parts.append(_ascii(0x82, a.severity, "severity"))
    return encode(0xA2, parts)


def _decode_allergy(t: Tlv, what: str) -> Allergy:
    f = _Fields(t, what)
    return Allergy(f.text(0x80), f.opt_text(0x81), f.opt_text(0x82))


def _encode_blood(b: BloodGroup) -> bytes:
    return encode(0xA5, [_ascii(0x80, b.abo, "code"), _ascii(0x81, b.rh, "code")])


def _decode_blood(t: Tlv, what: str) -> BloodGroup:
    f = _Fields(t, what)
    return BloodGroup(f.text(0x80), f.text(0x81))


def _check_condition(code: str) -> None:
    if code not in CONDITIONS:
        raise LayoutError(f"conditions: {code!r} is not one of {', '.join(CONDITIONS)}")


def encode_emergency(v: Emergency) -> bytes:
    _count(v.allergies, "allergies")
    _count(v.conditions, "conditions")
    _count(v.contacts, "contacts")
    parts = [_encode_blood(v.blood)]
    parts += [_encode_allergy(a) for a in v.allergies]
    for code in v.conditions:
        _check_condition(code)
        parts.append(_ascii(0x83, code, "condition"))
    for c in v.contacts:
        parts.append(
            encode(
                0xA4,
                [
                    _text(0x80, c.name, "contact_name"),
                    _ascii(0x81, c.relation, "relation"),
                    _ascii(0x82, c.phone, "phone"),
                ],
            )
        )
    out = encode(0xE3, parts)
    if len(out) > EF.EMERGENCY.size:
        raise LayoutError(f"emergency: {len(out)} bytes is over the card's {EF.EMERGENCY.size}")
    return out


def decode_emergency(data: bytes) -> Emergency:
    f = _Fields(_template(data, 0xE3, "emergency"), "emergency")
    blood = f.all(0xA5)
    if len(blood) != 1:
        raise LayoutError("emergency: the blood group must appear once")
    contacts = []
    for t in f.all(0xA4):
        c = _Fields(t, "emergency contact")
        contacts.append(Contact(c.text(0x80), c.text(0x81), c.text(0x82)))
    conditions = tuple(_utf8(t.value, "emergency") for t in f.all(0x83))
    return Emergency(
        blood=_decode_blood(blood[0], "emergency blood group"),
        allergies=tuple(_decode_allergy(t, "emergency allergy") for t in f.all(0xA2)),
        conditions=conditions,
        contacts=tuple(contacts),
    )


# -- clinic-written records --------------------------------------------------------------------


def _digest(card_number: str, fields: bytes) -> bytes:
    return hashlib.sha256(b"rhip-card-record/1\0" + card_number.encode() + b"\0" + fields).digest()[
        :DIGEST_BYTES
    ]


def _record(tag: int, fields: list[bytes], card_number: str, size: int, what: str) -> bytes:
    body = b"".join(fields)
    out = encode(tag, [body, encode(0x9E, _digest(card_number, body))])
    if len(out) > size:
        raise LayoutError(f"{what}: {len(out)} bytes is over the record size of {size}")
    return out + bytes(size - len(out))


def _open_record(data: bytes, tag: int, card_number: str, what: str) -> _Fields:
    template = _template(data, tag, what)
    f = _Fields(template, what)
    if not f.items or f.items[-1].tag != 0x9E:
        raise LayoutError(f"{what}: the digest is missing")
    digest = f.items[-1].value
    body = template.value[: len(template.value) - 2 - DIGEST_BYTES]
    if len(digest) != DIGEST_BYTES or digest != _digest(card_number, body):
        raise LayoutError(f"{what}: the digest does not match (damaged, or copied from another card)")
    return f


def encode_visit(v: Visit, *, card_number: str) -> bytes:
    _count(v.diagnoses, "diagnoses")
    _count(v.prescriptions, "prescriptions")
    fields = [_date(0x80, v.on), _ascii(0x81, v.clinic, "clinic"), _text(0x82, v.clinic_name, "clinic_name")]
    fields += [_ascii(0x83, d, "icd10") for d in v.diagnoses]
    fields += [_ascii(0x84, p, "drug") for p in v.prescriptions]
    return _record(0xE7, fields, card_number, EF.VISITS.size, "visit")


def decode_visit(data: bytes, *, card_number: str) -> Visit:
    f = _open_record(data, 0xE7, card_number, "visit")
    return Visit(
        on=f.date(0x80),
        clinic=f.text(0x81),
        clinic_name=f.text(0x82),
        diagnoses=tuple(_utf8(t.value, "visit") for t in f.all(0x83)),
        prescriptions=tuple(_utf8(t.value, "visit") for t in f.all(0x84)),
    )


def encode_note(n: EmergencyNote, *, card_number: str) -> bytes:
    fields = [_date(0x80, n.on), _ascii(0x81, n.clinic, "clinic")]
    if n.allergy is not None:
        fields.append(_encode_allergy(n.allergy))
    if n.condition is not None:
        _check_condition(n.condition)
        fields.append(_ascii(0x83, n.condition, "condition"))
    if n.blood is not None:
        fields.append(_encode_blood(n.blood))
    return _record(0xE8, fields, card_number, EF.NOTES.size, "emergency note")


def decode_note(data: bytes, *, card_number: str) -> EmergencyNote:
    f = _open_record(data, 0xE8, card_number, "emergency note")
    allergy = f.all(0xA2)
    blood = f.all(0xA5)
    condition = f.opt_text(0x83)
    return EmergencyNote(
        on=f.date(0x80),
        clinic=f.text(0x81),
        allergy=_decode_allergy(allergy[0], "emergency note") if allergy else None,
        condition=condition,
        blood=_decode_blood(blood[0], "emergency note") if blood else None,
    )


def is_blank(data: bytes) -> bool:
    """True for a record or EF never written (all zeros, or all FF as some cards ship)."""
    return all(b == 0 for b in data) or all(b == 0xFF for b in data)
