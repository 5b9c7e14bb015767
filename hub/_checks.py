"""Record checks in worker processes, so the hub's ingest uses every core.

Rules:
1. Checking a record (its envelope and its schema: ``_ingest._verdict``) is
   pure and is most of ingest's CPU. The API verifies a push's frames, then
   checks their records here, then applies them under the write lock
   (``_ingest.apply_batch``); the lock is never held while records are checked.
2. Workers get the verified changeset bodies (bytes) and send back only
   verdicts: a problem, or the normalised body of a demographic record.
   One task per changeset, so even one clinic's batch is spread over the workers.
3. A worker that dies does not lose a push: the batch is checked in the
   API's own process instead, and a fresh pool is started for the next.
4. ``workers=0`` checks in the calling process (tests, small hubs).
5. Workers are started with ``spawn``: no copy of the server's threads,
   sockets or database connections.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ._ingest import Checked, OpenedBatch, check_batch, checked_from_verdicts, verdicts_of_bodies

__all__ = ["CheckPool"]

log = logging.getLogger("rhip.hub.checks")


def _warm() -> None:
    """Import the record models before the first task, not during it."""
    import schemas

    schemas.record_type("resident")


class CheckPool:
    """Checks the records of opened batches, in ``workers`` processes (0: in this one)."""

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
                initializer=_warm,
            )
        return self._pool

    def start(self) -> None:
        """Start the workers now (at server start-up) rather than on the first push."""
        if self.workers:
            pool = self._executor()
            for _ in range(self.workers):
                pool.submit(_warm)

    async def check(self, batch: OpenedBatch, *, now_ms: int) -> list[list[Checked]]:
        if not self.workers or not batch.opened:
            return await asyncio.to_thread(check_batch, batch, now_ms=now_ms)
        loop = asyncio.get_running_loop()
        pool = self._executor()
        try:
            parts = await asyncio.gather(
                *(
                    loop.run_in_executor(pool, verdicts_of_bodies, [sealed.body], batch.node_id, now_ms)
                    for sealed, _ in batch.opened
                )
            )
        except BrokenProcessPool:
            log.error("a record-check worker died; checking this batch in the server process")
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(check_batch, batch, now_ms=now_ms)
        return checked_from_verdicts(batch, [verdicts for part in parts for verdicts in part])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
