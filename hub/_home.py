"""The hub's home directory: configuration, keys and database.

Layout::

    HUB/config.json        hub id, region code, created (not secret)
    HUB/hub.db             the SQLite store (WAL)
    HUB/keys/hub.key       Ed25519 private key, PEM, mode 0600 (owner only): signs heads and feeds
    HUB/keys/hub.pub       the matching public key (nodes learn it at enrolment)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uuid6
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync import private_key_from_pem, public_bytes

from ._db import Database
from ._store import HubError, HubStore

__all__ = ["HomeError", "HubHome", "init_hub_home"]

_REGION_RE = re.compile(r"^[0-9A-Za-z-]{2,20}$")


class HomeError(HubError):
    """The hub home is missing, unsafe, or already holds a hub."""

    reason = "home"


@dataclass(frozen=True)
class HubHome:
    path: Path
    hub_id: str
    region: str

    @classmethod
    def open(cls, path: Path | str) -> HubHome:
        p = Path(path)
        cfg = p / "config.json"
        if not cfg.is_file():
            raise HomeError(f"{p} is not a hub home (no config.json); run `rhip hub init --home {p}` first")
        try:
            data = json.loads(cfg.read_text(encoding="utf-8"))
            hub_id, region = str(data["hub_id"]), str(data["region"])
        except (ValueError, KeyError, TypeError) as exc:
            raise HomeError(f"{cfg} is damaged ({exc}); restore it from the backup") from None
        key = p / "keys" / "hub.key"
        if not key.is_file():
            raise HomeError(f"{key} is missing; restore the hub's key from the backup")
        if stat.S_IMODE(key.stat().st_mode) & 0o077:
            raise HomeError(f"{key} is readable by other users; run `chmod 600 {key}`")
        return cls(p, hub_id, region)

    @property
    def db_path(self) -> Path:
        return self.path / "hub.db"

    @property
    def key_path(self) -> Path:
        return self.path / "keys" / "hub.key"

    def key(self) -> Ed25519PrivateKey:
        try:
            return private_key_from_pem(self.key_path.read_bytes())
        except ValueError as exc:
            raise HomeError(f"{self.key_path} is not an Ed25519 private key: {exc}") from None

    def public_key(self) -> bytes:
        return public_bytes(self.key())

    def database(self) -> Database:
        return Database(self.db_path)

    def store(self, db: Database | None = None, *, clock: Callable[[], int] | None = None) -> HubStore:
        database = db or self.database()
        return HubStore(database) if clock is None else HubStore(database, clock=clock)


def init_hub_home(path: Path | str, *, region: str) -> HubHome:
    """Create a hub home: config, a fresh Ed25519 key pair (0600) and the migrated database."""
    p = Path(path)
    if not _REGION_RE.match(region):
        raise HomeError(f"region: {region!r} must be 2-20 letters, digits or '-' (a GB/T 2260 code)")
    if (p / "config.json").exists():
        raise HomeError(f"{p} already holds a hub (config.json exists); refusing to overwrite it")
    p.mkdir(parents=True, exist_ok=True)
    keys = p / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    key_path = keys / "hub.key"
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise HomeError(f"{key_path} exists; refusing to overwrite a hub key") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    (keys / "hub.pub").write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    config = {
        "hub_id": str(uuid6.uuid7()),
        "region": region,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (p / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    home = HubHome(p, config["hub_id"], region)
    home.database().close()
    return home
