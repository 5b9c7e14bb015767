"""The township clinic's node: store, search, staff and access, audit, HTTP API.

Errors::

    StoreError
    ├── NotFound
    └── ReadOnlyRecord
    AuthError
    HomeError
    schemas.RecordInvalid  (validation, raised through the store)
"""

from __future__ import annotations

from ._access import Permission, Role, allowed, readable_types, writable_types
from ._app import create_app
from ._audit import audit_entries, record_access
from ._auth import AuthError, Staff, add_user, authenticate, issue_token, list_users, resolve_token
from ._db import Database
from ._home import HomeError, NodeHome, init_home
from ._store import NodeStore, NotFound, ReadOnlyRecord, Registration, StoreError, Writer
from ._tree import file_tree

__all__ = [
    "AuthError",
    "Database",
    "HomeError",
    "NodeHome",
    "NodeStore",
    "NotFound",
    "Permission",
    "ReadOnlyRecord",
    "Registration",
    "Role",
    "Staff",
    "StoreError",
    "Writer",
    "add_user",
    "allowed",
    "audit_entries",
    "authenticate",
    "create_app",
    "file_tree",
    "init_home",
    "issue_token",
    "list_users",
    "readable_types",
    "record_access",
    "resolve_token",
    "writable_types",
]
