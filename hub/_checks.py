"""Opening and checking pushed changesets in worker processes, so ingest uses every core.

Rules:
1. Verifying a frame's signature, decoding its records and checking each
   against its envelope rules and schema (``_ingest.open_and_check``) is pure
   and is most of ingest's CPU. The API hands it to workers, then applies the
   result under the write lock (``_ingest.apply_batch``); the lock is never
   held while records are decoded or checked, and the server process never
   decodes a record it only has to store.
2. One task per frame, so even one clinic's batch is spread over the
   workers; the batch stops at the first frame that was refused, as it would
   in one process.
3. A worker that dies does not lose a push: the batch is opened and checked
   in the server process instead, and a fresh pool is started for the next.
4. ``workers=0`` does the work in a thread of the calling process (tests,
   small hubs).
5. Workers are started with ``spawn``: no copy of the server's threads,
   sockets or database connections. A worker whose server process is gone
   (killed, so it never shut the pool down) exits within a second.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sync import PeerError, SealedChangeset, decode

from ._ingest import CheckedRecords, OpenedBatch, open_and_check

__all__ = ["CheckPool"]

log = logging.getLogger("rhip.hub.checks")


def _warm() -> None:
    """Import the record models before the first task, not during it."""
    import schemas

    schemas.record_type("resident")


def _start_worker(parent: int) -> None:
    """A worker's start: warm up, and leave when the server process is gone (even if it was killed)."""
    _warm()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="rhip-check-watchdog", daemon=True).start()


class CheckPool:
    """Opens and checks pushed frames in ``workers`` processes (0: in a thread of this one)."""

    def __init__(self, workers: int) -> None:
        if workers < 0:
            raise ValueError("workers must not be negative")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    def start(self) -> None:
        """Start the workers now (at server start-up) rather than on the first push."""
        if self.workers:
            pool = self._executor()
            for _ in range(self.workers):
                pool.submit(_warm)

    async def open_and_check(
        self, frames: list[bytes], *, public_key: bytes, node_id: str, now_ms: int
    ) -> OpenedBatch:
        """``_ingest.open_and_check`` of the frames, spread over the workers; raises as it does."""

        def inline() -> OpenedBatch:
            return open_and_check(frames, public_key=public_key, node_id=node_id, now_ms=now_ms)

        if not self.workers or len(frames) == 0:
            return await asyncio.to_thread(inline)
        loop = asyncio.get_running_loop()
        pool = self._executor()
        try:
            parts = await asyncio.gather(
                *(
                    loop.run_in_executor(pool, _open_one, frame, public_key, node_id, now_ms)
                    for frame in frames
                ),
                return_exceptions=True,
            )
        except BrokenProcessPool:
            parts = [BrokenProcessPool()]
        if any(isinstance(p, BrokenProcessPool) for p in parts):
            log.error("a record-check worker died; checking this push in the server process")
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(inline)
        opened: list[tuple[SealedChangeset, bytes, CheckedRecords]] = []
        for frame, part in zip(frames, parts, strict=True):
            if isinstance(part, PeerError):
                if not opened:
                    raise part
                return OpenedBatch(node_id, opened, part)
            if isinstance(part, BaseException):
                raise part
            ((sealed, _, checked),) = part.opened
            body = decode(frame)[0]  # the outer frame only: [body, signature]
            opened.append(
                (SealedChangeset(sealed.changeset, body, sealed.signature), frame, checked.attach(body))
            )
        return OpenedBatch(node_id, opened, None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _open_one(frame: bytes, public_key: bytes, node_id: str, now_ms: int) -> OpenedBatch:
    """A worker's task: one frame opened and checked, sent back without the bytes the server has."""
    batch = open_and_check([frame], public_key=public_key, node_id=node_id, now_ms=now_ms)
    return OpenedBatch(
        batch.node_id,
        [
            (SealedChangeset(sealed.changeset, b"", sealed.signature), b"", checked)
            for sealed, _, checked in batch.opened
        ],
        batch.stopped,
    )
