"""Shared by the card tests: keys, sample card content, and the PC/SC stack taking turns.

SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cardreader as cr

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 11, 25)
LOCK = Path("/tmp/rhip-pcscd.lock")
OWNED = Path("/run/rhip-pcscd.pid")
READERS = {35963: "Virtual PCD 00 00", 35964: "Virtual PCD 00 01"}


@dataclass
class Issuer:
    """A hub key and a card-issuing key certified by it, as a hub holds them."""

    hub: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    card: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    valid_from: dt.date = dt.date(2026, 1, 1)

    @property
    def trust(self) -> bytes:
        return cr.public_bytes(self.hub)

    @property
    def certificate(self) -> bytes:
        return cr.certify_issuer(
            self.hub,
            cr.public_bytes(self.card),
            region="511321",
            valid_from=self.valid_from,
            valid_until=self.valid_from.replace(year=self.valid_from.year + 20),
        )

    def image(self, content: cr.CardContent) -> cr.CardImage:
        return cr.CardImage.personalise(content, card_key=self.card, certificate=self.certificate)


def sample(
    *, expires: dt.date = dt.date(2036, 3, 1), visits: int = 2, card_number: str = "SC1001000000001"
) -> cr.CardContent:
    return cr.CardContent(
        cr.Issuer(card_number, "511321", "南部县卫生健康局", dt.date(2026, 3, 1), expires),
        cr.Holder("张三", "1", dt.date(1970, 5, 12), "511321197005120012"),
        cr.Emergency(
            cr.BloodGroup("A", "positive"),
            (cr.Allergy("青霉素", "全身皮疹、呼吸困难", "severe"), cr.Allergy("花生")),
            ("asthma", "pacemaker"),
            (cr.Contact("李四", "10", "13900000000"),),
        ),
        "511321197005120012",
        tuple(
            cr.Visit(
                dt.date(2026, 3, 2) + dt.timedelta(days=30 * i),
                "511321100",
                "南隆镇卫生院",
                ("J06.9",),
                ("amoxicillin_250mg_cap",),
            )
            for i in range(visits)
        ),
    )


def read(image: cr.CardImage, trust: bytes, **card: bool | int) -> cr.CardRead:
    """Read and check a card image through the virtual card's APDU interface (no PC/SC)."""
    vc = cr.VirtualCard(image, **card)  # type: ignore[arg-type]
    return cr.open_card(cr.read_files(cr.Channel(vc.process)), trust=trust, today=TODAY)


# -- the PC/SC stack ---------------------------------------------------------------------


def pcscd_pid() -> int | None:
    out = subprocess.run(["pidof", "pcscd"], capture_output=True, text=True, check=False).stdout.split()
    return int(out[0]) if out else None


def ensure_pcscd() -> None:
    subprocess.run(["bash", str(ROOT / "installers" / "pcscd.sh")], check=True)
    from cardreader.pcsc import list_readers

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if set(READERS.values()) <= set(list_readers()):
                return
        except cr.PcscUnavailable:
            pass
        time.sleep(0.1)
    raise RuntimeError("pcscd runs but the vpcd readers did not appear")


def readers_empty(timeout_s: float = 10) -> None:
    """Wait until pcscd itself has seen every virtual reader empty (it polls ~0.4 s), so the next
    card inserted is a new insertion and not the last one's ghost."""
    from cardreader.pcsc import CardMonitor

    with CardMonitor(poll_ms=100) as monitor:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = [monitor.readers.get(name) for name in READERS.values()]
            if all(s is not None and not s.present for s in states):
                return
            monitor.next(0.1)
    raise RuntimeError("a virtual reader still holds a card after its emulator stopped")


@contextmanager
def pcscd_turn() -> Iterator[None]:
    """Hold the machine's one pcscd (and the vpcd ports) for one test, across processes."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        ensure_pcscd()
        readers_empty()
        yield
        readers_empty()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
