"""A node's home directory: configuration, keys and database.

Layout::

    HOME/config.json        node id, clinic code and name, sync_interval_s (not secret)
    HOME/node.db            the SQLite store (WAL)
    HOME/hub.json           after `rhip node enroll`: hub URL, hub id, region, hub public key, CA file
    HOME/keys/node.key      Ed25519 private key, PEM, mode 0600 (owner only)
    HOME/keys/node.pub      the matching public key

Resident health cards are checked against the hub public key in hub.json: the
hub certifies the region's card-issuing key on every card (cardreader._sign),
so an enrolled node, however old its enrolment, needs nothing more.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import uuid6
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardreader import UntrustedNode

from ._db import Database
from ._hub_client import HubConfig
from ._store import NodeStore
from ._sync_errors import SyncError

__all__ = ["HomeError", "NodeHome", "init_home"]

_CLINIC_RE = re.compile(r"^[0-9A-Za-z-]{3,20}$")


class HomeError(Exception):
    pass


@dataclass(frozen=True)
class NodeHome:
    path: Path
    node_id: str
    clinic: str
    name: str

    @classmethod
    def open(cls, path: Path | str) -> NodeHome:
        p = Path(path)
        cfg = p / "config.json"
        if not cfg.is_file():
            raise HomeError(f"{p} is not a node home (no config.json); run `rhip node init --home {p}` first")
        data = json.loads(cfg.read_text(encoding="utf-8"))
        key = p / "keys" / "node.key"
        if key.exists() and stat.S_IMODE(key.stat().st_mode) & 0o077:
            raise HomeError(f"{key} is readable by other users; run `chmod 600 {key}`")
        return cls(p, data["node_id"], data["clinic"], data["name"])

    @property
    def db_path(self) -> Path:
        return self.path / "node.db"

    def database(self) -> Database:
        return Database(self.db_path)

    def store(self, db: Database | None = None) -> NodeStore:
        return NodeStore(db or self.database(), node_id=self.node_id)

    def card_trust(self) -> bytes:
        """The hub key this node checks resident health cards against (UntrustedNode if it has none)."""
        try:
            return HubConfig.load(self.path).public_key
        except SyncError as exc:
            raise UntrustedNode(
                f"this node cannot tell a genuine health card from a forged one: {exc}"
            ) from None


def init_home(path: Path | str, *, clinic: str, name: str) -> NodeHome:
    """Create a node home: config, a fresh Ed25519 key pair (0600) and the migrated database."""
    p = Path(path)
    if not _CLINIC_RE.match(clinic):
        raise HomeError(f"clinic: {clinic!r} must be 3-20 letters, digits or '-'")
    if not name.strip():
        raise HomeError("name: must not be empty")
    if (p / "config.json").exists():
        raise HomeError(f"{p} already holds a node (config.json exists); refusing to overwrite it")
    p.mkdir(parents=True, exist_ok=True)
    keys = p / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    key_path = keys / "node.key"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    (keys / "node.pub").write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    config = {
        "node_id": str(uuid6.uuid7()),
        "clinic": clinic,
        "name": name.strip(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (p / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    home = NodeHome(p, config["node_id"], clinic, config["name"])
    home.database().close()
    return home
