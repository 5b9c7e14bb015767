"""Staff accounts, passwords and tokens.

Rules:
1. Passwords are stored only as Argon2id hashes (a slow, memory-hard KDF).
2. Tokens are 256-bit random strings shown once; the database keeps their
   SHA-256 so a copied database yields no usable token.
3. Session tokens (browser logins) expire after ``SESSION_HOURS`` and after
   ``SESSION_IDLE_MINUTES`` without use; bearer tokens (scripts) last until revoked.
4. A deactivated account's tokens stop working at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ._access import Role
from ._db import Database

__all__ = [
    "SESSION_HOURS",
    "AuthError",
    "Staff",
    "add_user",
    "authenticate",
    "issue_token",
    "list_users",
    "resolve_token",
    "revoke_token",
    "set_active",
    "set_password",
]

SESSION_HOURS = 12
SESSION_IDLE_MINUTES = 60
MIN_PASSWORD_LENGTH = 8
_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")

_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)


class AuthError(Exception):
    """Bad credentials, an unknown or inactive account, or an unusable token."""


@dataclass(frozen=True)
class Staff:
    name: str
    role: Role
    display_name: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_username(name: str) -> str:
    name = name.strip().lower()
    if not (2 <= len(name) <= 40) or not set(name) <= _USERNAME_CHARS:
        raise AuthError(f"user: {name!r} must be 2-40 characters of a-z, 0-9, '.', '_' or '-'")
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")


def add_user(db: Database, name: str, role: str, password: str, *, display_name: str | None = None) -> Staff:
    name = _check_username(name)
    try:
        r = Role(role)
    except ValueError:
        raise AuthError(f"role: {role!r} is not a role (one of {', '.join(x.value for x in Role)})") from None
    _check_password(password)
    hashed = _hasher.hash(password)
    with db.write() as conn:
        try:
            conn.execute(
                "INSERT INTO users (name, role, password_hash, display_name, created_at) VALUES (?,?,?,?,?)",
                (name, r.value, hashed, display_name, _iso(_now())),
            )
        except sqlite3.IntegrityError:
            raise AuthError(f"user: {name!r} already exists") from None
    return Staff(name, r, display_name)


def set_password(db: Database, name: str, password: str) -> None:
    _check_password(password)
    hashed = _hasher.hash(password)
    with db.write() as conn:
        if conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (hashed, name)).rowcount != 1:
            raise AuthError(f"user: no account {name!r}")
        conn.execute("DELETE FROM tokens WHERE user = ? AND kind = 'session'", (name,))


def set_active(db: Database, name: str, active: bool) -> None:
    with db.write() as conn:
        if conn.execute("UPDATE users SET active = ? WHERE name = ?", (int(active), name)).rowcount != 1:
            raise AuthError(f"user: no account {name!r}")


def list_users(db: Database) -> list[dict[str, object]]:
    rows = (
        db.reader()
        .execute("SELECT name, role, display_name, active, created_at FROM users ORDER BY name")
        .fetchall()
    )
    return [
        {"name": n, "role": r, "display_name": d, "active": bool(a), "created_at": c}
        for n, r, d, a, c in rows
    ]


def authenticate(db: Database, name: str, password: str) -> Staff:
    """The account if the password is right; the same error whatever was wrong."""
    row = (
        db.reader()
        .execute(
            "SELECT name, role, password_hash, display_name, active FROM users WHERE name = ?",
            (name.strip().lower(),),
        )
        .fetchone()
    )
    if row is None:
        _hasher.hash(password)  # spend the same time as a real check: no user enumeration
        raise AuthError("wrong user name or password")
    try:
        _hasher.verify(row[2], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise AuthError("wrong user name or password") from None
    if not row[4]:
        raise AuthError("this account is deactivated; ask the clinic's administrator")
    if _hasher.check_needs_rehash(row[2]):
        with db.write() as conn:
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), row[0])
            )
    return Staff(row[0], Role(row[1]), row[3])


def issue_token(db: Database, name: str, *, kind: str, label: str | None = None) -> str:
    """A new token for ``name``: ``kind`` is 'session' (expires) or 'bearer' (until revoked)."""
    if kind not in ("session", "bearer"):
        raise ValueError(f"token kind {kind!r}")
    token = secrets.token_urlsafe(32)
    now = _now()
    expires = _iso(now + dt.timedelta(hours=SESSION_HOURS)) if kind == "session" else None
    with db.write() as conn:
        if conn.execute("SELECT 1 FROM users WHERE name = ? AND active = 1", (name,)).fetchone() is None:
            raise AuthError(f"user: no active account {name!r}")
        conn.execute(
            "INSERT INTO tokens (hash, user, kind, label, created_at, expires_at, last_used_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (_digest(token), name, kind, label, _iso(now), expires, _iso(now)),
        )
    return token


def resolve_token(db: Database, token: str, *, kind: str | None = None) -> Staff:
    """The account a token belongs to, or AuthError if it is unknown, expired or revoked."""
    row = (
        db.reader()
        .execute(
            "SELECT t.kind, t.expires_at, t.last_used_at, u.name, u.role, u.display_name, u.active "
            "FROM tokens t JOIN users u ON u.name = t.user WHERE t.hash = ?",
            (_digest(token),),
        )
        .fetchone()
    )
    if row is None or (kind is not None and row[0] != kind):
        raise AuthError("unknown or revoked token; log in again")
    tkind, expires, last_used, name, role, display, active = row
    now = _now()
    if not active:
        raise AuthError("this account is deactivated; ask the clinic's administrator")
    if tkind == "session":
        if expires and dt.datetime.fromisoformat(expires) < now:
            raise AuthError("session expired; log in again")
        idle = now - dt.datetime.fromisoformat(last_used)
        if idle > dt.timedelta(minutes=SESSION_IDLE_MINUTES):
            raise AuthError("session timed out after inactivity; log in again")
        if idle > dt.timedelta(minutes=1):  # touch at most once a minute: reads stay reads
            with db.write() as conn:
                conn.execute("UPDATE tokens SET last_used_at = ? WHERE hash = ?", (_iso(now), _digest(token)))
    return Staff(name, Role(role), display)


def revoke_token(db: Database, token: str) -> None:
    with db.write() as conn:
        conn.execute("DELETE FROM tokens WHERE hash = ?", (_digest(token),))
