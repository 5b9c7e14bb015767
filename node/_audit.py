"""The access audit log: who read or changed which resident's record, when and why.

Every read of a resident's record is written here before the data leaves the
node. The log lives in the node's database (not in log files: it holds
personal references) and only the admin role can read it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ._db import Database

__all__ = ["audit_entries", "record_access"]


def record_access(
    db: Database,
    *,
    user: str,
    role: str,
    action: str,
    reason: str,
    resident_id: str | None = None,
    record_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    with db.write() as conn:
        conn.execute(
            "INSERT INTO audit (at, user, role, action, resident_id, record_id, reason, detail) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                at,
                user,
                role,
                action,
                resident_id,
                record_id,
                reason,
                json.dumps(detail, ensure_ascii=False) if detail else None,
            ),
        )


def audit_entries(
    db: Database,
    *,
    resident_id: str | None = None,
    user: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    sql = "SELECT id, at, user, role, action, resident_id, record_id, reason, detail FROM audit WHERE 1=1"
    args: list[Any] = []
    if resident_id:
        sql += " AND resident_id = ?"
        args.append(resident_id)
    if user:
        sql += " AND user = ?"
        args.append(user)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    keys = ("id", "at", "user", "role", "action", "resident_id", "record_id", "reason", "detail")
    out = []
    for row in db.reader().execute(sql, args):
        entry = dict(zip(keys, row, strict=True))
        entry["detail"] = json.loads(entry["detail"]) if entry["detail"] else None
        out.append(entry)
    return out
