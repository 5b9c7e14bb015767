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
    ├── IdentityRefused      an operator's master-index action refused (not-found, conflict,
    │                        malformed) with the ``field`` it is about
    ├── SharedRefused        a shared summary or break-glass refused (status, reason, field)
    └── Refused              any other refused request (status, reason)
    sync.PeerError           the node's fault in a frame, raised through ingest:
                             Malformed, BadSignature (400), ChainBroken, Fork (409)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import FRAME_MEDIA_TYPE, REQUEST_WINDOW_MS, Refused, create_app
    from ._cards import CARD_YEARS, CardIssueError, CardSubject, card_content, card_subject, issue_files
    from ._db import Database
    from ._enrol import TOKEN_TTL_MS, EnrolRefused, Revocation, enrol, issue_token, revoke_clinic
    from ._feeds import pull_frames
    from ._home import HomeError, HubHome, init_hub_home
    from ._identity import IdentityRefused
    from ._ingest import MAX_AHEAD_MS, BatchReceipt, Receipt, RetryReport, retry_held
    from ._operator import (
        decide_review,
        estimate_weights,
        link_resident,
        merge_masters,
        privacy_rules,
        review_queue,
        set_sensitive,
        show_master,
        unlink_resident,
        unmerge,
    )
    from ._privacy import PrivacyRules
    from ._shared import SharedRefused, break_glass, shared_summary
    from ._store import HeldRecord, HubError, HubStore, NodeInfo, NodeRefused, Quarantined, iso

# Every name is imported when first asked for: the record-check worker processes import
# this package for ingest only, and should carry neither the web server nor the master index.
_LAZY = {
    "BatchReceipt": "._ingest",
    "CARD_YEARS": "._cards",
    "CardIssueError": "._cards",
    "CardSubject": "._cards",
    "Database": "._db",
    "EnrolRefused": "._enrol",
    "FRAME_MEDIA_TYPE": "._app",
    "HeldRecord": "._store",
    "HomeError": "._home",
    "HubError": "._store",
    "HubHome": "._home",
    "HubStore": "._store",
    "IdentityRefused": "._identity",
    "MAX_AHEAD_MS": "._ingest",
    "NodeInfo": "._store",
    "NodeRefused": "._store",
    "PrivacyRules": "._privacy",
    "Quarantined": "._store",
    "REQUEST_WINDOW_MS": "._app",
    "Receipt": "._ingest",
    "Refused": "._app",
    "RetryReport": "._ingest",
    "Revocation": "._enrol",
    "SharedRefused": "._shared",
    "TOKEN_TTL_MS": "._enrol",
    "break_glass": "._shared",
    "card_content": "._cards",
    "card_subject": "._cards",
    "create_app": "._app",
    "decide_review": "._operator",
    "enrol": "._enrol",
    "estimate_weights": "._operator",
    "init_hub_home": "._home",
    "iso": "._store",
    "issue_files": "._cards",
    "issue_token": "._enrol",
    "link_resident": "._operator",
    "merge_masters": "._operator",
    "privacy_rules": "._operator",
    "pull_frames": "._feeds",
    "retry_held": "._ingest",
    "review_queue": "._operator",
    "revoke_clinic": "._enrol",
    "set_sensitive": "._operator",
    "shared_summary": "._shared",
    "show_master": "._operator",
    "unlink_resident": "._operator",
    "unmerge": "._operator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


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
    "IdentityRefused",
    "NodeInfo",
    "NodeRefused",
    "PrivacyRules",
    "Quarantined",
    "Receipt",
    "Refused",
    "RetryReport",
    "Revocation",
    "SharedRefused",
    "break_glass",
    "card_content",
    "card_subject",
    "create_app",
    "decide_review",
    "enrol",
    "estimate_weights",
    "init_hub_home",
    "iso",
    "issue_files",
    "issue_token",
    "link_resident",
    "merge_masters",
    "privacy_rules",
    "pull_frames",
    "retry_held",
    "review_queue",
    "revoke_clinic",
    "set_sensitive",
    "shared_summary",
    "show_master",
    "unlink_resident",
    "unmerge",
]
