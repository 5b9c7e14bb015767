"""PC/SC through pyscard: readers, a connection to the card in one, and a monitor thread.

Rules:
1. This is the only module that imports pyscard (import it as ``cardreader.pcsc``). Every PC/SC return code is
   translated here into a desk error (``CardRemoved``, ``ReaderGone``,
   ``PcscUnavailable`` …) with the cause kept; none escapes as a pyscard error.
2. ``CardMonitor`` runs one thread that blocks in SCardGetStatusChange on every
   reader plus the plug-and-play pseudo-reader, so cards inserted and removed
   and readers plugged and unplugged are all reported, as events on a queue,
   each stamped with the monotonic time PC/SC reported it. When pcscd goes
   away the monitor reports ``ServiceLost``, every reader detached, and keeps
   retrying; it never dies of a PC/SC error.
3. A read holds a PC/SC transaction (no other program interleaves APDUs) and a
   deadline: a card that stalls between APDUs ends in ``ReaderTimeout``.
4. A transmit that fails is classified by asking the reader afterwards: no
   card any more → ``CardRemoved``; the reader gone → ``ReaderGone``; else
   ``CardUnresponsive``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from smartcard import scard

from ._errors import (
    CardError,
    CardRemoved,
    CardUnresponsive,
    NoCard,
    NoReader,
    PcscUnavailable,
    ReaderGone,
    ReaderTimeout,
)
from ._events import CardEvent, CardInserted, ReaderState, ServiceLost, diff

__all__ = ["CardMonitor", "PcscCard", "list_readers", "wait_for_card"]

log = logging.getLogger("rhip.cardreader")
log.addHandler(logging.NullHandler())

PNP = "\\\\?PnP?\\Notification"
_GONE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_INVALID_HANDLE}
_READER_GONE = {scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE}
_NO_CARD = {scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD}
_REMOVAL_GRACE_S = 1.5


def _message(code: int) -> str:
    return f"{scard.SCardGetErrorMessage(code)} (0x{code & 0xFFFFFFFF:08X})"


def _unavailable(code: int) -> PcscUnavailable:
    return PcscUnavailable(
        f"the smart-card service (pcscd) is not running or not reachable: {_message(code)}; "
        "start it (installers/pcscd.sh) and try again"
    )


class _Context:
    """One PC/SC context; PcscUnavailable when pcscd cannot be reached."""

    def __init__(self) -> None:
        code, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if code != scard.SCARD_S_SUCCESS:
            raise _unavailable(code)

    def readers(self) -> list[str]:
        code, names = scard.SCardListReaders(self.handle, [])
        if code == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if code in _GONE:
            raise _unavailable(code)
        if code != scard.SCARD_S_SUCCESS:
            raise PcscUnavailable(f"cannot list the card readers: {_message(code)}")
        return sorted(str(n) for n in names)

    def close(self) -> None:
        scard.SCardReleaseContext(self.handle)


def list_readers() -> list[str]:
    """The names of the card readers PC/SC knows now (maybe none)."""
    ctx = _Context()
    try:
        return ctx.readers()
    finally:
        ctx.close()


def _snapshot(states: list[tuple[str, int, list[int]]]) -> dict[str, ReaderState]:
    out: dict[str, ReaderState] = {}
    for name, flags, atr in states:
        if name == PNP or flags & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
            continue
        present = bool(flags & scard.SCARD_STATE_PRESENT) and not flags & scard.SCARD_STATE_MUTE
        out[name] = ReaderState(present, bytes(atr) if present else b"")
    return out


class CardMonitor:
    """Reports readers plugged/unplugged and cards inserted/removed, as events on ``events``."""

    def __init__(self, *, poll_ms: int = 1000, retry_s: float = 0.5) -> None:
        self.events: queue.Queue[CardEvent] = queue.Queue()
        self.poll_ms = poll_ms
        self.retry_s = retry_s
        self.readers: dict[str, ReaderState] = {}
        self._stop = threading.Event()
        self._ctx: _Context | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rhip-card-monitor", daemon=True)

    def __enter__(self) -> CardMonitor:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._ctx is not None:
                scard.SCardCancel(self._ctx.handle)
        self._thread.join(timeout=5)

    def next(self, timeout_s: float) -> CardEvent | None:
        """The next event, or None after ``timeout_s``."""
        try:
            return self.events.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def wait_for(self, accept: Callable[[CardEvent], bool], timeout_s: float) -> CardEvent:
        """The first event ``accept`` takes within ``timeout_s`` (others dropped); else ReaderTimeout."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            event = self.next(left)
            if event is not None and accept(event):
                return event
        raise ReaderTimeout(f"nothing happened at the card readers for {timeout_s:g} s")

    # -- the thread --------------------------------------------------------------------------------

    def _publish(self, snapshot: dict[str, ReaderState], at: float) -> None:
        for event in diff(self.readers, snapshot, at=at):
            self.events.put(event)
        self.readers = snapshot

    def _lost(self, message: str) -> None:
        at = time.monotonic()
        self.events.put(ServiceLost(message, at))
        self._publish({}, at)
        with self._lock:
            if self._ctx is not None:
                self._ctx.close()
                self._ctx = None

    def _run(self) -> None:
        flags: dict[str, int] = {}
        lost = False
        while not self._stop.is_set():
            try:
                with self._lock:
                    if self._ctx is None:
                        self._ctx = _Context()
                ctx = self._ctx
                names = ctx.readers()
            except PcscUnavailable as exc:
                if not lost:
                    self._lost(str(exc))
                    lost = True
                self._stop.wait(self.retry_s)
                continue
            lost = False
            states = [(n, flags.get(n, scard.SCARD_STATE_UNAWARE)) for n in names]
            states.append((PNP, flags.get(PNP, scard.SCARD_STATE_UNAWARE)))
            code, new = scard.SCardGetStatusChange(ctx.handle, self.poll_ms, states)
            at = time.monotonic()
            if code in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                continue
            if code in _GONE:
                self._lost(_unavailable(code).args[0])
                lost = True
                flags.clear()
                continue
            if code != scard.SCARD_S_SUCCESS:
                # A reader unplugged while we waited on it: list the readers again.
                flags = {n: f for n, f in flags.items() if n in names}
                if code not in _READER_GONE:
                    log.warning("card monitor: %s", _message(code))
                    self._stop.wait(self.retry_s)
                continue
            flags = {name: state & ~scard.SCARD_STATE_CHANGED for name, state, _ in new}
            snapshot = _snapshot([(n, f, a) for n, f, a in new])
            self._publish(snapshot, at)


class PcscCard:
    """A connection to the card in ``reader``, holding a PC/SC transaction while open."""

    def __init__(self, reader: str, *, deadline_s: float = 10.0) -> None:
        self.reader = reader
        self.deadline_s = deadline_s
        self._ctx = _Context()
        self._card: Any = None
        try:
            code, card, protocol = scard.SCardConnect(
                self._ctx.handle,
                reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            if code != scard.SCARD_S_SUCCESS:
                raise self._connect_error(code)
            self._card, self._protocol = card, protocol
            code = scard.SCardBeginTransaction(card)
            if code != scard.SCARD_S_SUCCESS:
                raise self._transmit_error(code)
        except BaseException:
            self.close()
            raise
        self._deadline = time.monotonic() + deadline_s
        self.atr = self._status()[1]

    def _connect_error(self, code: int) -> CardError:
        if code in _NO_CARD:
            return NoCard(f"no card in reader {self.reader!r}: insert the resident's health card")
        if code in _READER_GONE:
            return ReaderGone(f"reader {self.reader!r} is not connected any more: plug it in again")
        if code in _GONE:
            return _unavailable(code)
        return CardUnresponsive(
            f"the card in {self.reader!r} does not answer ({_message(code)}): "
            "check it is the right way round and insert it again"
        )

    def _status(self) -> tuple[int, bytes]:
        code, _, _, _, atr = scard.SCardStatus(self._card)
        return code, bytes(atr or b"")

    def _transmit_error(self, code: int) -> CardError:
        if code in _GONE:
            return _unavailable(code)
        if code in _READER_GONE:
            return ReaderGone(f"reader {self.reader!r} was unplugged during the read: plug it in again")
        # pcscd notices a removed card at its next poll (~0.4 s): ask until it has had the chance.
        deadline = time.monotonic() + _REMOVAL_GRACE_S
        while True:
            status, _ = self._status()
            if code in _NO_CARD or status in _NO_CARD | {scard.SCARD_W_RESET_CARD}:
                return CardRemoved(
                    "the card was taken out before the read finished: insert it again and leave it in "
                    "until the desk says it is done"
                )
            if status in _READER_GONE:
                return ReaderGone(f"reader {self.reader!r} was unplugged during the read: plug it in again")
            if time.monotonic() > deadline:
                return CardUnresponsive(f"the card stopped answering ({_message(code)}): insert it again")
            time.sleep(0.05)

    def transmit(self, apdu: bytes) -> bytes:
        if time.monotonic() > self._deadline:
            raise ReaderTimeout(
                f"reading the card took longer than {self.deadline_s:g} s: take it out, insert it again "
                "and, if that fails too, try another reader"
            )
        code, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if code != scard.SCARD_S_SUCCESS:
            raise self._transmit_error(code)
        if len(response) < 2:  # vpcd answers an empty response when its card went away mid-command
            raise self._transmit_error(scard.SCARD_E_NOT_TRANSACTED)
        return bytes(response)

    def close(self) -> None:
        if self._card is not None:
            scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            self._card = None
        self._ctx.close()

    def __enter__(self) -> PcscCard:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def wait_for_card(*, reader: str | None = None, timeout_s: float = 30.0) -> CardInserted:
    """The first reader (or ``reader``) that holds a card within ``timeout_s``; NoReader or NoCard if none."""
    with CardMonitor(poll_ms=200) as monitor:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            event = monitor.next(left)
            if isinstance(event, CardInserted) and reader in (None, event.reader):
                return event
        if not monitor.readers:
            raise NoReader("no card reader is connected: plug one in (or start the emulator for training)")
        if reader is not None and reader not in monitor.readers:
            raise NoReader(f"no reader named {reader!r}; connected: {', '.join(sorted(monitor.readers))}")
        raise NoCard(f"no card was inserted within {timeout_s:g} s: insert the resident's health card")
