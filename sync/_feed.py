"""The receiving side of a feed: what to do with the next changeset offered, and signed heads.

Rules (the hub applies them to every node feed; a node to its hub feed):
1. Accept only ``seq == head.seq + 1`` with ``prev_hash == head.hash``.
2. A seq already held with the same hash is a duplicate: acknowledge again,
   store nothing.
3. A seq already held with a different hash, or the next seq whose
   ``prev_hash`` is not the head's hash, is a fork: refuse and quarantine.
4. A seq beyond ``head.seq + 1`` is a gap: refuse, naming the seq expected.
5. The receiver's head is the one checkpoint; it is signed so the sender can
   trust it (``SignedHead``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ._changeset import ZERO_HASH, SealedChangeset
from ._errors import ChainBroken, ClockSkew, Fork, Malformed
from ._hlc import Stamp
from ._keys import sign, verify
from ._wire import decode, encode

__all__ = [
    "FeedHead",
    "SignedHead",
    "Verdict",
    "check_clock",
    "decide",
    "open_head",
    "request_signature_payload",
    "seal_head",
    "sign_request",
    "verify_request",
]


@dataclass(frozen=True)
class FeedHead:
    feed: str
    seq: int = 0
    hash: bytes = ZERO_HASH

    def advance(self, sealed: SealedChangeset) -> FeedHead:
        return FeedHead(self.feed, sealed.changeset.seq, sealed.hash)


class Verdict(StrEnum):
    ACCEPT = "accept"
    DUPLICATE = "duplicate"


def decide(head: FeedHead, sealed: SealedChangeset, held_hash: Callable[[int], bytes | None]) -> Verdict:
    """What to do with ``sealed`` given the feed's head; raises Fork or ChainBroken to refuse it.

    ``held_hash(seq)`` returns the hash of the changeset already held at ``seq``.
    """
    cs = sealed.changeset
    if cs.feed != head.feed:
        raise Malformed(f"changeset of feed {cs.feed} offered to feed {head.feed}")
    if cs.seq <= head.seq:
        held = held_hash(cs.seq)
        if held == sealed.hash:
            return Verdict.DUPLICATE
        raise Fork(
            f"feed {cs.feed} already holds a different changeset at seq {cs.seq}: "
            "a restored backup or a cloned disk is writing to this feed",
            seq=cs.seq,
            held_hash=held or b"",
            offered_hash=sealed.hash,
        )
    if cs.seq > head.seq + 1:
        raise ChainBroken(
            f"feed {cs.feed} is at seq {head.seq}; changeset {cs.seq} leaves a gap, "
            f"send {head.seq + 1} first",
            expected_seq=head.seq + 1,
        )
    if cs.prev_hash != head.hash:
        raise Fork(
            f"changeset {cs.seq} of feed {cs.feed} does not follow the changeset held at seq {head.seq}",
            seq=head.seq,
            held_hash=head.hash,
            offered_hash=cs.prev_hash,
        )
    return Verdict.ACCEPT


def check_clock(sealed: SealedChangeset, wall_ms: int, max_ahead_ms: int) -> int:
    """How far (ms) the writer's newest stamp is ahead of ``wall_ms``; ClockSkew past ``max_ahead_ms``.

    The caller decides whether a skewed changeset is refused or stored with its
    skew reported (rhip stores it: records must not be stranded on a node
    with a wrong clock; merges clamp the stamps instead).
    """
    ahead = Stamp.unpack(sealed.changeset.hlc_max).wall_ms - wall_ms
    if ahead > max_ahead_ms:
        raise ClockSkew(
            f"feed {sealed.changeset.feed} writes stamps {ahead / 1000:.0f} s ahead of this clock",
            ahead_ms=ahead,
        )
    return ahead


@dataclass(frozen=True)
class SignedHead:
    """A receiver's head for one feed, with the receiver's clock, signed by the receiver."""

    head: FeedHead
    wall_ms: int
    body: bytes
    signature: bytes

    @property
    def frame(self) -> bytes:
        return encode([self.body, self.signature])


def seal_head(head: FeedHead, wall_ms: int, key: Ed25519PrivateKey) -> SignedHead:
    body = encode({"feed": head.feed, "seq": head.seq, "hash": head.hash, "wall_ms": wall_ms})
    return SignedHead(head, wall_ms, body, sign(key, body))


def open_head(frame: bytes, public_key: bytes) -> SignedHead:
    outer = decode(frame)
    if not (isinstance(outer, list) and len(outer) == 2 and all(isinstance(p, bytes) for p in outer)):
        raise Malformed("head frame must be [body bytes, signature bytes]")
    verify(public_key, outer[0], outer[1])
    b = decode(outer[0])
    if not (
        isinstance(b, dict)
        and isinstance(b.get("feed"), str)
        and isinstance(b.get("seq"), int)
        and isinstance(b.get("hash"), bytes)
        and isinstance(b.get("wall_ms"), int)
    ):
        raise Malformed("head body must hold feed, seq, hash and wall_ms")
    return SignedHead(FeedHead(b["feed"], b["seq"], b["hash"]), b["wall_ms"], outer[0], outer[1])


def request_signature_payload(method: str, path: str, node_id: str, wall_ms: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"rhip-request/1\n{method.upper()}\n{path}\n{node_id}\n{wall_ms}\n{digest}".encode()


def sign_request(
    key: Ed25519PrivateKey, *, method: str, path: str, node_id: str, wall_ms: int, body: bytes
) -> bytes:
    """A node's signature over one request, so the hub knows which enrolled node is asking."""
    return sign(key, request_signature_payload(method, path, node_id, wall_ms, body))


def verify_request(
    public_key: bytes,
    signature: bytes,
    *,
    method: str,
    path: str,
    node_id: str,
    wall_ms: int,
    body: bytes,
    now_ms: int,
    window_ms: int,
) -> None:
    """BadSignature unless signed by the node; Malformed if the stamp is outside ``window_ms`` of now.

    The window is generous (clinic clocks drift by days); it stops a captured
    request being replayed much later, while changesets defend themselves by seq.
    """
    if abs(now_ms - wall_ms) > window_ms:
        raise Malformed(f"request stamped {abs(now_ms - wall_ms) / 1000:.0f} s from the hub's clock")
    verify(public_key, request_signature_payload(method, path, node_id, wall_ms, body), signature)
