"""Enrolment: one-time tokens that let a clinic's node register its key, and revocation.

Rules:
1. A token is shown once, to the operator who issues it; the hub keeps only
   its SHA-256. It is bound to one clinic, expires after 7 days and works once.
2. A node whose enrolment answer was lost may send the same request again:
   the same token, node id and key get the same answer. Anything else with a
   used token is refused (``token-used``).
3. A node id keeps its key: enrolling a known node id with another key is
   refused (a re-imaged clinic starts a new node). A revoked node stays revoked.
4. Revoking a clinic revokes the keys of its nodes and its unused tokens; the
   operator's reason is what the node is told.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ._store import HubError, HubStore, NodeInfo, iso

__all__ = [
    "CLINIC_RE",
    "TOKEN_TTL_MS",
    "EnrolRefused",
    "Revocation",
    "enrol",
    "issue_token",
    "revoke_clinic",
    "token_hash",
]

TOKEN_TTL_MS = 7 * 24 * 3600 * 1000
CLINIC_RE = re.compile(r"^[0-9A-Za-z-]{3,20}$")
_MAX_NAME = 100


class EnrolRefused(HubError):
    """An enrolment the hub will not make: ``reason`` is token-unknown, token-used, revoked or malformed."""

    def __init__(self, message: str, *, reason: str, status_code: int = 403) -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code


@dataclass(frozen=True)
class Revocation:
    clinic: str
    nodes: list[str]
    tokens: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def issue_token(store: HubStore, clinic: str, *, new_token: Callable[[], str] = _new_token) -> str:
    """A fresh one-time enrolment token for ``clinic``; only its hash is stored."""
    if not CLINIC_RE.match(clinic):
        raise EnrolRefused(f"clinic: {clinic!r} must be 3-20 letters, digits or '-'", reason="malformed")
    token = new_token()
    with store.transaction() as tx:
        now = store.now_ms()
        tx.add_token(token_hash(token), clinic, now_ms=now, expires_ms=now + TOKEN_TTL_MS)
    return token


def _malformed(message: str) -> EnrolRefused:
    return EnrolRefused(message, reason="malformed", status_code=400)


def enrol(
    store: HubStore, *, token: str, node_id: str, clinic: str, name: str, public_key: bytes
) -> NodeInfo:
    """Register a node's key with a one-time token; EnrolRefused says why not."""
    try:
        canonical = str(uuid.UUID(node_id))
    except ValueError:
        canonical = ""
    if canonical != node_id:
        raise _malformed(f"node_id: {node_id!r} is not a UUID in canonical form")
    if not CLINIC_RE.match(clinic):
        raise _malformed(f"clinic: {clinic!r} must be 3-20 letters, digits or '-'")
    if not name.strip() or len(name) > _MAX_NAME:
        raise _malformed(f"name: must be 1-{_MAX_NAME} characters")
    if len(public_key) != 32:
        raise _malformed(f"public_key: must be 32 bytes (64 hex digits), not {len(public_key)}")
    digest = token_hash(token)
    with store.transaction() as tx:
        now = store.now_ms()
        issued = tx.token(digest)
        if issued is None or issued.revoked_ms is not None:
            raise EnrolRefused(
                "this enrolment token is not known here (mistyped, or revoked); ask the hub operator for one",
                reason="token-unknown",
            )
        if issued.clinic != clinic:
            raise _malformed(f"clinic: this token was issued for clinic {issued.clinic}, not {clinic}")
        existing = tx.node(node_id)
        if existing is not None and existing.revoked:
            raise EnrolRefused(
                f"node {node_id} was revoked: {existing.revoked_reason}; set up a new node", reason="revoked"
            )
        if existing is not None and existing.public_key != public_key:
            raise _malformed(f"node_id: node {node_id} is enrolled with another key; set up a new node")
        if issued.used_ms is not None:
            if issued.used_by == node_id and existing is not None:
                return existing  # the same node asking again after a lost answer
            raise EnrolRefused(
                f"this enrolment token was used at {iso(issued.used_ms)}; ask the hub operator for a new one",
                reason="token-used",
            )
        if issued.expires_ms < now:
            raise EnrolRefused(
                f"this enrolment token expired at {iso(issued.expires_ms)}; "
                "ask the hub operator for a new one",
                reason="token-unknown",
            )
        tx.use_token(digest, node_id, now)
        tx.enrol_node(node_id, clinic, name.strip(), public_key, now)
        node = tx.node(node_id)
    assert node is not None
    return node


def revoke_clinic(store: HubStore, clinic: str, *, reason: str) -> Revocation:
    """Revoke the keys of every node of ``clinic`` and its unused tokens."""
    with store.transaction() as tx:
        now = store.now_ms()
        nodes = [n.node_id for n in tx.nodes(clinic=clinic) if not n.revoked]
        for node_id in nodes:
            tx.revoke_node(node_id, reason, now)
        tokens = tx.revoke_tokens(clinic, now)
    return Revocation(clinic, nodes, tokens)
