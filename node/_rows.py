"""Rows of the node's record table, and the store's errors: shared by the store and the sync side."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from schemas import RecordEnvelope, Status

__all__ = ["RECORD_COLUMNS", "NotFound", "ReadOnlyRecord", "StoreError", "dumps", "envelope_of"]


class StoreError(Exception):
    """Base of the store's errors."""


class NotFound(StoreError, LookupError):
    pass


class ReadOnlyRecord(StoreError):
    """A write that the record's state or origin forbids (superseded, written elsewhere)."""


def dumps(value: Any) -> str:
    """Compact JSON as stored in the database (UTF-8, no ASCII escapes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


RECORD_COLUMNS = (
    "id, fact_id, type, v, resident_id, author, hlc, effective, status, supersedes, "
    "recorded_by, reason, changed, data"
)


def envelope_of(row: sqlite3.Row | tuple[Any, ...]) -> RecordEnvelope:
    """The envelope of one ``SELECT RECORD_COLUMNS FROM records`` row."""
    (rid, fact, typ, v, res, author, hlc, eff, status, sup, by, reason, changed, data) = row
    return RecordEnvelope(
        id=rid,
        fact_id=fact,
        type=typ,
        v=v,
        resident_id=res,
        author=author,
        hlc=hlc,
        effective=eff,
        status=Status(status),
        supersedes=sup,
        recorded_by=by,
        reason=reason,
        changed=tuple(json.loads(changed)) if changed else None,
        data=json.loads(data),
    )
