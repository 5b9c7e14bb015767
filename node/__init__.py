"""The township clinic's node: store, search, staff and access, audit, HTTP API, sync with the hub.

Errors::

    StoreError
    ├── NotFound
    └── ReadOnlyRecord
    AuthError
    HomeError
    SyncError
    ├── NotEnrolled
    ├── HubUnreachable
    ├── HubRefused        (.reason: revoked, unknown-node, fork …)
    ├── HubAnswerInvalid
    └── FeedBehindHub     (restored from an old backup: re-enrol as a new node)
    schemas.RecordInvalid  (validation, raised through the store)
"""

from __future__ import annotations

from ._access import Permission, Role, allowed, readable_types, writable_types
from ._app import create_app
from ._audit import audit_entries, record_access
from ._auth import AuthError, Staff, add_user, authenticate, issue_token, list_users, resolve_token
from ._cards import CardMatch, CardWrites, card_writes, match_card
from ._db import Database
from ._home import HomeError, NodeHome, init_home
from ._hub_client import HubConfig
from ._scheduler import Backoff, SyncScheduler, sync_interval
from ._store import NodeStore, NotFound, ReadOnlyRecord, Registration, StoreError, Writer
from ._sync import PUSH_BYTES, RoundResult, SyncClient, enroll
from ._sync_errors import FeedBehindHub, HubAnswerInvalid, HubRefused, HubUnreachable, NotEnrolled, SyncError
from ._sync_state import sync_status
from ._tree import file_tree

__all__ = [
    "PUSH_BYTES",
    "AuthError",
    "Backoff",
    "CardMatch",
    "CardWrites",
    "Database",
    "FeedBehindHub",
    "HomeError",
    "HubAnswerInvalid",
    "HubConfig",
    "HubRefused",
    "HubUnreachable",
    "NodeHome",
    "NodeStore",
    "NotEnrolled",
    "NotFound",
    "Permission",
    "ReadOnlyRecord",
    "Registration",
    "Role",
    "RoundResult",
    "Staff",
    "StoreError",
    "SyncClient",
    "SyncError",
    "SyncScheduler",
    "Writer",
    "add_user",
    "allowed",
    "audit_entries",
    "authenticate",
    "card_writes",
    "create_app",
    "enroll",
    "file_tree",
    "init_home",
    "issue_token",
    "list_users",
    "match_card",
    "readable_types",
    "record_access",
    "resolve_token",
    "sync_interval",
    "sync_status",
    "writable_types",
]
