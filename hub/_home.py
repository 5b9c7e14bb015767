"""The hub's home directory: configuration, keys and database.

Layout::

    HUB/config.json        hub id, region code, created (not secret)
    HUB/hub.db             the SQLite store (WAL)
    HUB/keys/hub.key       Ed25519 private key, PEM, mode 0600 (owner only): signs heads and feeds
    HUB/keys/hub.pub       the matching public key (nodes learn it at enrolment)
    HUB/keys/card.key      the region's card-issuing Ed25519 key, PEM, mode 0600: signs resident health cards
    HUB/keys/card.pub      its public key
    HUB/keys/card.cert     the hub key's certificate of card.pub (EF 0005 of every card it issues)

Nodes trust cards through the hub key they learned at enrolment: it certifies the
card-issuing key, which signs each card (see cardreader._sign). The card key is
made by ``init_hub_home``, and on first use for a home made before cards existed.
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

from cardreader import LayoutError, certify_issuer
from sync import private_key_from_pem, public_bytes

from ._db import Database
from ._store import HubError, HubStore

__all__ = ["HomeError", "HubHome", "init_hub_home"]

_REGION_RE = re.compile(r"^[0-9A-Za-z-]{2,20}$")
CARD_KEY_YEARS = 20  # how long the card-issuing key's certificate lets it issue cards


def _write_key(path: Path, private: Ed25519PrivateKey, what: str) -> None:
    """Write ``private`` (PEM, 0600) and its public half beside it; refuse to overwrite a key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise HomeError(f"{path} exists; refusing to overwrite {what}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    path.with_suffix(".pub").write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


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

    @property
    def card_key_path(self) -> Path:
        return self.path / "keys" / "card.key"

    def card_issuer(self, *, today: dt.date | None = None) -> tuple[Ed25519PrivateKey, bytes]:
        """The card-issuing key and the hub's certificate of it, made now if this home has none."""
        key_path, cert_path = self.card_key_path, self.path / "keys" / "card.cert"
        if not key_path.exists():
            _write_key(key_path, Ed25519PrivateKey.generate(), "the card-issuing key")
            cert_path.unlink(missing_ok=True)
        if stat.S_IMODE(key_path.stat().st_mode) & 0o077:
            raise HomeError(f"{key_path} is readable by other users; run `chmod 600 {key_path}`")
        try:
            card_key = private_key_from_pem(key_path.read_bytes())
        except ValueError as exc:
            raise HomeError(f"{key_path} is not an Ed25519 private key: {exc}") from None
        if not cert_path.exists():
            start = today or dt.datetime.now(dt.UTC).date()
            try:
                cert = certify_issuer(
                    self.key(),
                    public_bytes(card_key),
                    region=self.region,
                    valid_from=start,
                    valid_until=start.replace(year=start.year + CARD_KEY_YEARS),
                )
            except LayoutError as exc:
                raise HomeError(f"cannot certify the card-issuing key: {exc}") from None
            tmp = cert_path.with_suffix(".tmp")
            tmp.write_bytes(cert)
            os.replace(tmp, cert_path)
        return card_key, cert_path.read_bytes()

    def store(self, db: Database | None = None, *, clock: Callable[[], int] | None = None) -> HubStore:
        database = db or self.database()
        return HubStore(database) if clock is None else HubStore(database, clock=clock)


def init_hub_home(path: Path | str, *, region: str) -> HubHome:
    """Create a hub home: config, fresh Ed25519 hub and card-issuing keys (0600) and the migrated database."""
    p = Path(path)
    if not _REGION_RE.match(region):
        raise HomeError(f"region: {region!r} must be 2-20 letters, digits or '-' (a GB/T 2260 code)")
    if (p / "config.json").exists():
        raise HomeError(f"{p} already holds a hub (config.json exists); refusing to overwrite it")
    p.mkdir(parents=True, exist_ok=True)
    keys = p / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    _write_key(keys / "hub.key", Ed25519PrivateKey.generate(), "a hub key")
    config = {
        "hub_id": str(uuid6.uuid7()),
        "region": region,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (p / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    home = HubHome(p, config["hub_id"], region)
    home.database().close()
    home.card_issuer()
    return home
