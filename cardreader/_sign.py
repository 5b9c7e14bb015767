"""The card's signatures: the hub certifies the region's card-issuing key, that key signs the card.

Rules:
1. Trust starts at the hub's public key, which every node learned at enrolment.
   The hub signs an issuer certificate (EF 0005): region, the card-issuing
   public key, its validity, the id of the hub key. The card-issuing key signs
   the card (EF 0006). A node checks both offline; no other key is trusted.
2. Signatures cover exact bytes as stored on the card, never a re-encoding:
   the certificate's to-be-signed template as read, and for the card the
   issuer-signed EFs' templates (``SIGNED_EFS``, in that order), each preceded
   by its FID and length.
3. Each signed message starts with its own context string, so neither kind can
   be passed off as the other, nor as anything the hub signs for sync.
4. Keys are passed in; nothing here reads a file or the clock (dates are given).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._errors import CardForged
from ._layout import EF, SIGNED_EFS, LayoutError
from ._tlv import Tlv, TlvError, decode_one, encode

__all__ = [
    "CARD_CONTEXT",
    "CERT_CONTEXT",
    "IssuerCertificate",
    "certify_issuer",
    "check_card_signature",
    "check_certificate",
    "decode_certificate",
    "key_id",
    "public_bytes",
    "sign_card",
    "signed_message",
]

CERT_CONTEXT = b"rhip-card-issuer/1\0"
CARD_CONTEXT = b"rhip-card/1\0"
KEY_ID_BYTES = 8


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: bytes) -> bytes:
    """The first 8 bytes of the SHA-256 of a raw public key."""
    return hashlib.sha256(public).digest()[:KEY_ID_BYTES]


def _bcd(value: dt.date) -> bytes:
    return bytes.fromhex(value.strftime("%Y%m%d"))


def _verify(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class IssuerCertificate:
    region: str
    card_key: bytes
    valid_from: dt.date
    valid_until: dt.date
    hub_key_id: bytes
    tbs: bytes  # the to-be-signed template exactly as stored
    signature: bytes


def certify_issuer(
    hub_key: Ed25519PrivateKey,
    card_public: bytes,
    *,
    region: str,
    valid_from: dt.date,
    valid_until: dt.date,
) -> bytes:
    """EF 0005: the hub's certificate of the card-issuing public key."""
    if len(card_public) != 32:
        raise LayoutError(f"card key: {len(card_public)} bytes, not 32")
    if valid_until < valid_from:
        raise LayoutError(f"valid_until: {valid_until} is before valid_from {valid_from}")
    tbs = encode(
        0xA0,
        [
            encode(0x80, region.encode()),
            encode(0x81, card_public),
            encode(0x82, _bcd(valid_from)),
            encode(0x83, _bcd(valid_until)),
            encode(0x84, key_id(public_bytes(hub_key))),
        ],
    )
    out = encode(0xE5, [tbs, encode(0x8F, hub_key.sign(CERT_CONTEXT + tbs))])
    if len(out) > EF.CERTIFICATE.size:
        raise LayoutError(f"certificate: {len(out)} bytes is over the card's {EF.CERTIFICATE.size}")
    return out


def _children(t: Tlv, what: str) -> dict[int, bytes]:
    try:
        items = t.children()
    except TlvError as exc:
        raise LayoutError(f"{what}: {exc}") from None
    out: dict[int, bytes] = {}
    for item in items:
        if item.tag in out:
            raise LayoutError(f"{what}: field {item.tag:02X} appears twice")
        out[item.tag] = item.value
    return out


def _one(data: bytes, tag: int, what: str) -> Tlv:
    try:
        t, used = decode_one(data)
    except TlvError as exc:
        raise LayoutError(f"{what}: {exc}") from None
    if t.tag != tag or any(b not in (0, 0xFF) for b in data[used:]):
        raise LayoutError(f"{what}: not a {what} template")
    return t


def decode_certificate(data: bytes) -> IssuerCertificate:
    outer = _one(data, 0xE5, "certificate")
    try:
        tbs_tlv, used = decode_one(outer.value)
    except TlvError as exc:
        raise LayoutError(f"certificate: {exc}") from None
    if tbs_tlv.tag != 0xA0:
        raise LayoutError("certificate: the signed part is missing")
    rest = _children(Tlv(0xE5, outer.value[used:]), "certificate")
    fields = _children(tbs_tlv, "certificate")
    try:
        region = fields[0x80].decode("ascii")
        card_key, hub_id, signature = fields[0x81], fields[0x84], rest[0x8F]
        valid_from = dt.datetime.strptime(fields[0x82].hex(), "%Y%m%d").date()
        valid_until = dt.datetime.strptime(fields[0x83].hex(), "%Y%m%d").date()
    except (KeyError, ValueError) as exc:
        raise LayoutError(f"certificate: a field is missing or malformed ({exc})") from None
    if len(card_key) != 32 or len(signature) != 64 or len(hub_id) != KEY_ID_BYTES:
        raise LayoutError("certificate: a key, key id or signature has the wrong length")
    tbs = outer.value[:used]
    return IssuerCertificate(region, card_key, valid_from, valid_until, hub_id, tbs, signature)


def check_certificate(cert: IssuerCertificate, trust: bytes, *, issued_on: dt.date) -> bytes:
    """The card-issuing public key, if the hub key ``trust`` certified it for ``issued_on``."""
    if cert.hub_key_id != key_id(trust) or not _verify(trust, CERT_CONTEXT + cert.tbs, cert.signature):
        raise CardForged(
            "this card was not issued under this region's hub (its issuer certificate does not verify): "
            "treat it as forged, identify the resident another way and refer the card to the hub"
        )
    if not cert.valid_from <= issued_on <= cert.valid_until:
        raise CardForged(
            f"the card says it was issued on {issued_on}, outside its issuing key's validity "
            f"({cert.valid_from} to {cert.valid_until}): treat it as forged and refer it to the hub"
        )
    return cert.card_key


def signed_message(efs: Mapping[int, bytes]) -> bytes:
    """What the card signature covers: each issuer-signed EF's template, by FID, with its length."""
    parts = [CARD_CONTEXT]
    for s in SIGNED_EFS:
        data = efs[s.fid]
        parts.append(s.fid.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data)
    return b"".join(parts)


def sign_card(card_key: Ed25519PrivateKey, efs: Mapping[int, bytes]) -> bytes:
    """EF 0006: the card-issuing key's signature over the issuer-signed EFs."""
    signature = card_key.sign(signed_message(efs))
    return encode(0xE6, [encode(0x80, key_id(public_bytes(card_key))), encode(0x8F, signature)])


def check_card_signature(data: bytes, efs: Mapping[int, bytes], card_key: bytes) -> None:
    """CardForged unless EF 0006 is ``card_key``'s signature over exactly ``efs``."""
    fields = _children(_one(data, 0xE6, "signature"), "signature")
    if 0x80 not in fields or 0x8F not in fields:
        raise LayoutError("signature: the key id or the signature is missing")
    if fields[0x80] != key_id(card_key) or not _verify(card_key, signed_message(efs), fields[0x8F]):
        raise CardForged(
            "the card's data does not match the issuer's signature: it was altered or forged. "
            "Do not rely on it; identify the resident another way and refer the card to the hub"
        )
