"""Ed25519 keys and signatures. Keys are passed in; nothing here reads a file."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._errors import BadSignature, Malformed

__all__ = ["KEY_BYTES", "SIGNATURE_BYTES", "key_id", "private_key_from_pem", "public_bytes", "sign", "verify"]

KEY_BYTES = 32
SIGNATURE_BYTES = 64


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key (of a private key's public half)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: bytes) -> str:
    """A short, stable name for a public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(public).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def verify(public: bytes, data: bytes, signature: bytes) -> None:
    """Raise BadSignature unless ``signature`` is ``public``'s signature of exactly ``data``."""
    if len(public) != KEY_BYTES:
        raise Malformed(f"public key must be {KEY_BYTES} bytes, not {len(public)}")
    if len(signature) != SIGNATURE_BYTES:
        raise BadSignature(f"signature must be {SIGNATURE_BYTES} bytes, not {len(signature)}")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except InvalidSignature:
        raise BadSignature(f"signature does not verify with key {key_id(public)}") from None
