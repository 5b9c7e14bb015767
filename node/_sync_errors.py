"""What can go wrong when a node syncs with its hub.

Errors::

    SyncError               base; ``reason`` is a short machine-readable code
    ├── NotEnrolled         no HOME/hub.json: run `rhip node enroll` first
    ├── HubUnreachable      no connection, a timeout, or the hub failing (5xx): try again later
    ├── HubRefused          the hub said no (revoked, unknown-node, fork, bad-signature …) with its reason
    ├── HubAnswerInvalid    the hub's answer does not verify (signature, feed, chain): nothing applied
    └── FeedBehindHub       the hub holds more of this node's feed than the node: restored from a backup

In every case nothing local is lost: the outbox and the sealed changesets stay
where they are until the hub acknowledges them. Library errors (httpx,
msgpack, the sync core) never escape the sync client; they are translated at
the boundary with the cause kept.
"""

from __future__ import annotations

__all__ = ["FeedBehindHub", "HubAnswerInvalid", "HubRefused", "HubUnreachable", "NotEnrolled", "SyncError"]


class SyncError(Exception):
    reason = "sync-error"


class NotEnrolled(SyncError):
    reason = "not-enrolled"


class HubUnreachable(SyncError):
    reason = "unreachable"


class HubRefused(SyncError):
    """The hub refused a request; ``reason`` is the hub's (``revoked``, ``fork`` …)."""

    def __init__(
        self, message: str, *, reason: str, status_code: int = 0, expected_seq: int | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code
        self.expected_seq = expected_seq


class HubAnswerInvalid(SyncError):
    reason = "invalid-answer"

    def __init__(self, message: str, *, reason: str = "invalid-answer") -> None:
        super().__init__(message)
        self.reason = reason


class FeedBehindHub(SyncError):
    reason = "feed-behind-hub"
