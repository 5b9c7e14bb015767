"""The regional hub: enrols clinic nodes, takes their signed changesets, keeps every
record and its history, links residents to master persons, and serves each node
its own signed feed of what it should hold.

Nothing a node sends is trusted before it is verified against the key the node
enrolled. Storage goes through one class (``HubStore``) so that a PostgreSQL
backend can replace SQLite.

Errors::

    HubError                 the hub's own errors (``reason`` is sent to nodes)
    ├── HomeError            the hub home is missing, unsafe or already taken
    ├── NodeRefused          unknown-node, revoked (403)
    ├── EnrolRefused         token-unknown, token-used, revoked (403); malformed (400)
    ├── CardIssueError       a resident health card the hub cannot issue
    └── Refused              any other refused request (status, reason)
    sync.PeerError           the node's fault in a frame, raised through ingest:
                             Malformed, BadSignature (400), ChainBroken, Fork (409)
"""

from __future__ import annotations

from ._app import FRAME_MEDIA_TYPE, REQUEST_WINDOW_MS, Refused, create_app
from ._cards import CARD_YEARS, CardIssueError, CardSubject, card_content, card_subject, issue_files
from ._db import Database
from ._enrol import TOKEN_TTL_MS, EnrolRefused, Revocation, enrol, issue_token, revoke_clinic
from ._feeds import pull_frames
from ._home import HomeError, HubHome, init_hub_home
from ._ingest import MAX_AHEAD_MS, BatchReceipt, Receipt, RetryReport, receive, receive_batch, retry_held
from ._store import HeldRecord, HubError, HubStore, NodeInfo, NodeRefused, Quarantined, iso

__all__ = [
    "CARD_YEARS",
    "FRAME_MEDIA_TYPE",
    "MAX_AHEAD_MS",
    "REQUEST_WINDOW_MS",
    "TOKEN_TTL_MS",
    "BatchReceipt",
    "CardIssueError",
    "CardSubject",
    "Database",
    "EnrolRefused",
    "HeldRecord",
    "HomeError",
    "HubError",
    "HubHome",
    "HubStore",
    "NodeInfo",
    "NodeRefused",
    "Quarantined",
    "Receipt",
    "Refused",
    "RetryReport",
    "Revocation",
    "card_content",
    "card_subject",
    "create_app",
    "enrol",
    "init_hub_home",
    "iso",
    "issue_files",
    "issue_token",
    "pull_frames",
    "receive",
    "receive_batch",
    "retry_held",
    "revoke_clinic",
]
