"""The card reader at the registration desk, watched by the node server for the desk page.

Rules:
1. The server reads each card inserted into its desk reader once, byte for byte
   (``cardreader.read_files``), and keeps only the latest presentation, in
   memory: never on disk, never in the log. Withdrawing the card forgets it.
2. Presentations are numbered. A desk page remembers the number it has seen and
   asks for newer ones, so a card opens the resident once, at once, on the
   workstation that is watching, and a page loaded later offers to open it.
3. Nothing is judged here: the card is checked (certificate, signature, expiry)
   and matched when a staff member opens it, under their session, audited as
   ``read:card`` exactly like ``POST /api/v1/card/read`` (``_pages_card``).
4. The reader is named (``rhip node serve --card-reader``) or, with ``auto``,
   the first reader seen. No PC/SC stack (no pyscard, pcscd stopped) is a state
   the desk shows, not an error: the desk works by name search without a card.
5. Writing (the visit at its end, ``write``) goes to the card of a presentation
   still in the reader, inside one PC/SC transaction, and the card is read
   again in it: the desk then holds what the card now says.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Literal

from cardreader import (
    CardError,
    CardEvent,
    CardFiles,
    CardInserted,
    CardRemoved,
    CardWithdrawn,
    Channel,
    PcscUnavailable,
    ReaderAttached,
    ReaderDetached,
    ServiceLost,
    read_files,
)

__all__ = ["AUTO", "DeskReader", "Presented", "ReaderStatus"]

log = logging.getLogger("rhip.node.card")

AUTO = "auto"
ReadCard = Callable[[str], CardFiles]  # the bytes of the card in a reader
Connect = Callable[[str], AbstractContextManager[Channel]]  # a channel to the card in a reader
ReaderStatus = Literal["off", "unavailable", "no-reader", "ready", "present", "unreadable"]


@contextmanager
def pcsc_channel(reader: str) -> Iterator[Channel]:
    """The card in ``reader`` through PC/SC, inside one transaction."""
    try:
        from cardreader.pcsc import PcscCard
    except ImportError:
        raise PcscUnavailable("no PC/SC stack on this machine (pyscard is not installed)") from None
    with PcscCard(reader) as card:
        yield Channel(card.transmit)


@dataclass(frozen=True)
class Presented:
    """One card put into the desk reader: its bytes, or why they could not be read."""

    seq: int
    reader: str
    files: CardFiles | None
    error: CardError | None = None


class DeskReader:
    """The desk's reader as the pages see it: a status and the latest presentation.

    ``present``/``withdraw``/``set_status`` are what the PC/SC thread calls; tests
    and other transports may call them directly.
    """

    def __init__(self, reader: str | None = AUTO, *, connect: Connect = pcsc_channel) -> None:
        self.wanted = reader  # None: no reader (the desk works without cards)
        self._connect = connect
        self.reader: str | None = None if reader in (None, AUTO) else reader
        self._status: ReaderStatus = "off" if reader is None else "unavailable"
        self._latest: Presented | None = None
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the pages read -------------------------------------------------------------------------

    @property
    def status(self) -> ReaderStatus:
        with self._lock:
            return self._status

    @property
    def seq(self) -> int:
        """The number of the latest presentation (0: none yet)."""
        with self._lock:
            return self._seq

    def latest(self) -> Presented | None:
        """The card in the reader now, if any."""
        with self._lock:
            return self._latest

    def get(self, seq: int) -> Presented | None:
        """Presentation ``seq`` if that card is still in the reader (rule 1)."""
        with self._lock:
            return self._latest if self._latest is not None and self._latest.seq == seq else None

    # -- what the reader reports ---------------------------------------------------------------------

    def present(self, reader: str, files: CardFiles | None, error: CardError | None = None) -> Presented:
        with self._lock:
            self._seq += 1
            self._latest = Presented(self._seq, reader, files, error)
            self._status = "present" if error is None else "unreadable"
            return self._latest

    def withdraw(self) -> None:
        with self._lock:
            self._latest = None
            if self._status in ("present", "unreadable"):
                self._status = "ready"

    def set_status(self, status: ReaderStatus) -> None:
        with self._lock:
            self._status = status
            if status not in ("present", "unreadable"):
                self._latest = None

    def write(self, seq: int, write: Callable[[Channel], None]) -> None:
        """Run ``write`` on the card of presentation ``seq`` and read the card again (rule 5).

        CardRemoved when that card is no longer in the reader; any CardError of the write itself.
        A card that cannot be read again after the write was still written: the desk keeps what it
        read before.
        """
        presented = self.get(seq)
        if presented is None:
            raise CardRemoved("the card was taken out of the reader: the visit was not written to it")
        with self._connect(presented.reader) as ch:
            write(ch)
            try:
                files = read_files(ch)
            except CardError as exc:
                log.info("card in the desk reader written but not read again: %s", exc.reason)
                return
        with self._lock:
            if self._latest is not None and self._latest.seq == seq:
                self._latest = Presented(seq, presented.reader, files)

    # -- the PC/SC thread ----------------------------------------------------------------------------

    def start(self) -> None:
        """Watch the reader in a daemon thread (nothing to do when no reader is wanted)."""
        if self.wanted is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="rhip-desk-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _mine(self, reader: str) -> bool:
        if self.reader is None:  # auto: the first reader seen is the desk's
            self.reader = reader
        return reader == self.reader

    def handle(self, event: CardEvent, read: ReadCard) -> None:
        """One event of the reader service (``cardreader.pcsc.CardMonitor``)."""
        if isinstance(event, ServiceLost):
            self.set_status("unavailable")
        elif isinstance(event, ReaderAttached) and self._mine(event.reader):
            self.set_status("ready")
        elif isinstance(event, ReaderDetached) and event.reader == self.reader:
            self.set_status("no-reader")
        elif isinstance(event, CardInserted) and self._mine(event.reader):
            try:
                self.present(event.reader, read(event.reader))
            except CardError as exc:
                log.info("card in the desk reader could not be read: %s", exc.reason)
                self.present(event.reader, None, exc)
        elif isinstance(event, CardWithdrawn) and event.reader == self.reader:
            self.withdraw()

    def _run(self) -> None:
        try:
            from cardreader.pcsc import CardMonitor
        except ImportError:  # no pyscard: the desk works without cards
            self.set_status("unavailable")
            return

        def read(reader: str) -> CardFiles:
            with self._connect(reader) as ch:
                return read_files(ch)

        self.set_status("no-reader")
        with CardMonitor(poll_ms=500) as monitor:
            while not self._stop.is_set():
                event = monitor.next(0.5)
                if event is not None:
                    self.handle(event, read)
