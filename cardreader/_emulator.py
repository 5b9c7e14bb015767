"""The card emulator: a virtual resident health card in the vpcd virtual reader.

vpcd (vsmartcard-vpcd, a pcscd driver) makes a reader that waits for a card on
TCP (``127.0.0.1:35963`` for "Virtual PCD 00 00", ``35964`` for "… 00 01").
The emulator connects to it: connected is "card inserted", disconnected is
"card removed".

Protocol: each message is a 2-byte big-endian length and a payload. A 1-byte
payload is a control message: ``0`` power off, ``1`` power on, ``2`` reset,
``4`` "send the ATR" (answered with the ATR). Anything longer is a command
APDU, answered with the response APDU.

Rules:
1. The card's behaviour is ``VirtualCard``'s; this module only moves bytes.
2. With an image path, every update is saved to the file atomically, so a
   card written at the desk keeps what was written when the emulator stops.
3. ``pull_after`` (tests, training) drops the connection instead of answering
   the command after that many: the card pulled out in the middle of a read.
4. ``stop`` / leaving the context manager closes the connection: the card is
   taken out of the reader.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from pathlib import Path

from ._card import VirtualCard
from ._image import CardImage

__all__ = ["VPCD_HOST", "VPCD_PORT", "Emulator"]

log = logging.getLogger("rhip.cardreader.emulator")
log.addHandler(logging.NullHandler())

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963
_POWER_OFF, _POWER_ON, _RESET, _ATR = 0, 1, 2, 4


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
        # vpcd writes a length and then the payload: acknowledge at once, or the kernel's
        # delayed ACK meets Nagle on vpcd's side and every APDU waits ~40 ms.
        _quick_ack(sock)
    return out


def _quick_ack(sock: socket.socket) -> None:
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


class Emulator:
    """Serves one VirtualCard to a vpcd reader slot, in a background thread."""

    def __init__(
        self,
        card: VirtualCard,
        *,
        host: str = VPCD_HOST,
        port: int = VPCD_PORT,
        image_path: Path | None = None,
        pull_after: int | None = None,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.pull_after = pull_after
        self.apdus = 0
        if image_path is not None:
            self.card.on_change = lambda image: image.save(image_path)
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.disconnected = threading.Event()

    @classmethod
    def from_image(cls, path: Path, *, port: int = VPCD_PORT, get_response: bool = False) -> Emulator:
        """An emulator serving the image file at ``path`` and saving updates back to it."""
        card = VirtualCard(CardImage.load(path), get_response=get_response)
        return cls(card, port=port, image_path=path)

    def connect(self, *, timeout_s: float = 10.0) -> None:
        """Insert the card: connect to the vpcd reader, retrying while pcscd starts (OSError if never)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.disconnected.clear()

    def serve(self) -> None:
        """Answer the reader until it disconnects, ``pull_after`` is reached or ``stop`` is called."""
        sock = self._sock
        assert sock is not None, "connect first"
        try:
            while not self._stop.is_set():
                header = _recv_exact(sock, 2)
                if header is None:
                    break
                payload = _recv_exact(sock, int.from_bytes(header, "big"))
                if payload is None:
                    break
                if len(payload) == 1:
                    self._control(sock, payload[0])
                    continue
                if self.pull_after is not None and self.apdus >= self.pull_after:
                    break  # pulled out: the command is never answered
                self.apdus += 1
                answer = self.card.process(payload)
                sock.sendall(len(answer).to_bytes(2, "big") + answer)
        except OSError as exc:
            if not self._stop.is_set():
                log.info("virtual reader connection ended: %s", exc)
        finally:
            self._close()

    def _control(self, sock: socket.socket, code: int) -> None:
        if code == _ATR:
            atr = self.card.image.atr
            sock.sendall(len(atr).to_bytes(2, "big") + atr)
        elif code in (_POWER_OFF, _POWER_ON, _RESET):
            self.card.reset()

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.disconnected.set()

    def start(self, *, timeout_s: float = 10.0) -> Emulator:
        """Connect and serve in a background thread."""
        self._stop.clear()
        self.connect(timeout_s=timeout_s)
        self._thread = threading.Thread(target=self.serve, name=f"rhip-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take the card out of the reader."""
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
