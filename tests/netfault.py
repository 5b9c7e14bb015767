"""A small fault-injecting TCP proxy for reliability tests (the kernel here has no netem).

It forwards 127.0.0.1:<port> to a target and can, at any moment:
add one-way latency, cap bandwidth, cut every connection after N bytes
upstream (client → server) or downstream, refuse new connections, or drop
all open ones. Faults are changed while it runs (``proxy.set(...)``).
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from dataclasses import dataclass, replace

__all__ = ["Faults", "FaultyProxy"]


@dataclass(frozen=True)
class Faults:
    latency_s: float = 0.0  # one-way delay of every byte (pipelined, like a real link)
    bytes_per_s: int | None = None  # bandwidth cap per direction per connection
    cut_up_after: int | None = None  # close a connection after this many client→server bytes
    cut_down_after: int | None = None  # … or server→client bytes
    refuse: bool = False  # accept and immediately close new connections


class FaultyProxy:
    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.faults = Faults()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port: int = self._server.getsockname()[1]
        self._stop = threading.Event()
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections = 0
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, **changes: object) -> None:
        with self._lock:
            self.faults = replace(self.faults, **changes)  # type: ignore[arg-type]

    def drop_all(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def close(self) -> None:
        self._stop.set()
        self.drop_all()
        self._thread.join(timeout=2)
        self._server.close()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.faults.refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)  # the 5 s was for connecting; a slow link may idle longer
            except OSError:
                client.close()
                continue
            self.connections += 1
            with self._lock:
                self._conns |= {client, upstream}
            budget = {"up": self.faults.cut_up_after, "down": self.faults.cut_down_after}
            for src, dst, direction in ((client, upstream, "up"), (upstream, client, "down")):
                threading.Thread(target=self._pipe, args=(src, dst, direction, budget), daemon=True).start()

    def _pipe(
        self, src: socket.socket, dst: socket.socket, direction: str, budget: dict[str, int | None]
    ) -> None:
        """Read ``src`` and hand each chunk to a writer that delivers it to ``dst`` when the link would.

        The link is modelled, not slept through chunk by chunk: a chunk goes on
        the wire when it arrives or when the previous one has left, whichever is
        later, takes ``len / bytes_per_s`` to cross, and arrives ``latency_s``
        after that. Chunks in flight overlap as on a real link, so latency is
        paid once per exchange, not once per chunk.
        """
        outbox: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
        writer = threading.Thread(target=self._deliver, args=(outbox, src, dst, direction), daemon=True)
        writer.start()
        wire_free = 0.0
        try:
            while not self._stop.is_set():
                try:
                    chunk = src.recv(16384)
                except OSError:
                    break
                if not chunk:
                    break
                f = self.faults
                left = budget[direction]
                if left is not None:
                    if left <= 0:
                        break
                    chunk = chunk[:left]
                    budget[direction] = left - len(chunk)
                now = time.monotonic()
                wire_free = max(now, wire_free) + (len(chunk) / f.bytes_per_s if f.bytes_per_s else 0.0)
                outbox.put((wire_free + f.latency_s, chunk))
                if budget[direction] == 0:
                    break
        finally:
            outbox.put(None)

    def _deliver(
        self,
        outbox: queue.Queue[tuple[float, bytes] | None],
        src: socket.socket,
        dst: socket.socket,
        direction: str,
    ) -> None:
        try:
            while (item := outbox.get()) is not None:
                due, chunk = item
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    dst.sendall(chunk)
                except OSError:
                    break
                if direction == "up":
                    self.bytes_up += len(chunk)
                else:
                    self.bytes_down += len(chunk)
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
                with self._lock:
                    self._conns.discard(s)
