"""The township clinic's node: store, search, staff and access, audit, HTTP API, sync with the hub.

Errors::

    StoreError
    ├── NotFound
    ├── ReadOnlyRecord
    └── DeskConflict   (a desk step the visit's state forbids: unpaid, dispensed …)
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

from ._access import DEFAULT_PURPOSE, Permission, Role, allowed, readable_types, writable_types
from ._app import create_app
from ._audit import audit_entries, record_access
from ._auth import AuthError, Staff, add_user, authenticate, issue_token, list_users, resolve_token
from ._card_desk import DeskReader
from ._cards import CardMatch, CardWrites, card_writes, match_card
from ._db import Database
from ._desk import DeskResult, Holder, PresentedCard, desk_staff
from ._desk_read import DeskConflict, exam_worklist, queue_entry
from ._desk_services import Desk
from ._home import HomeError, NodeHome, init_home
from ._hub_client import HubConfig
from ._referrals import (
    CONSULTATION_STATUSES,
    DIRECTIONS,
    REFERRAL_STATUSES,
    Clinic,
    ReferralConflict,
    answer_consultation,
    close_referral,
    consultations,
    refer_back,
    refer_out,
    referrals,
    request_consultation,
    respond,
)
from ._scheduler import Backoff, SyncScheduler, sync_interval
from ._store import NodeStore, NotFound, ReadOnlyRecord, Registration, StoreError, Writer
from ._sync import PUSH_BYTES, RoundResult, SyncClient, enroll
from ._sync_errors import FeedBehindHub, HubAnswerInvalid, HubRefused, HubUnreachable, NotEnrolled, SyncError
from ._sync_state import sync_status
from ._tree import file_tree

__all__ = [
    "CONSULTATION_STATUSES",
    "DEFAULT_PURPOSE",
    "DIRECTIONS",
    "PUSH_BYTES",
    "REFERRAL_STATUSES",
    "AuthError",
    "Backoff",
    "CardMatch",
    "CardWrites",
    "Clinic",
    "Database",
    "Desk",
    "DeskConflict",
    "DeskReader",
    "DeskResult",
    "FeedBehindHub",
    "Holder",
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
    "PresentedCard",
    "ReadOnlyRecord",
    "ReferralConflict",
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
    "answer_consultation",
    "audit_entries",
    "authenticate",
    "card_writes",
    "close_referral",
    "consultations",
    "create_app",
    "desk_staff",
    "enroll",
    "exam_worklist",
    "file_tree",
    "init_home",
    "issue_token",
    "list_users",
    "match_card",
    "queue_entry",
    "readable_types",
    "record_access",
    "refer_back",
    "refer_out",
    "referrals",
    "request_consultation",
    "resolve_token",
    "respond",
    "sync_interval",
    "sync_status",
    "writable_types",
]
